//! Reduced potentials for `zeta free-energy` from any simulation (docs/free-energy.md):
//!   u_kn form:     /u_kn [K, N] (float32 or float64) and /N_k [K], pymbar's convention
//!                  (samples grouped by the state that drew them, N_k from each);
//!   energies form: /energy [N], /beta [K] and /N_k [K], from which u_kn = β_k E_n is
//!                  built block by block;
//!   u_kln form:    /u_kln [K, K, N_max] (pymbar's older interface: u_kln[k, l, n] is
//!                  state l's reduced potential of sample n < N_k[k] of state k) and /N_k,
//!                  read as the u_kn it stands for;
//!   extended:      the energies form with /couplings/NAME [K] for observables NAME:
//!                  u_k = β_k (E_n + Σ_NAME p_k,NAME A_NAME,n) (a field h conjugate to the
//!                  magnetisation M: /couplings/M = −h_k; a pressure: /couplings/V = p_k);
//!   any form:      /observables/NAME [N], state-independent observables whose
//!                  expectations ⟨A⟩_k are estimated at every state.
//! Each rank reads only its hyperslab of samples (columns): no rank holds all of u_kn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/parallel/comm.hpp"

namespace zeta::io {

struct MbarInput {
  std::string file, format;               //!< format: "u_kn", "u_kln" or "energies"
  int K = 0;                              //!< states
  std::int64_t N = 0;                     //!< samples
  std::vector<std::int64_t> N_k;          //!< samples drawn from each state, Σ N_k = N
  std::vector<double> beta;               //!< energies form: β_k
  std::vector<std::string> observables;   //!< names of the observables (the energies form's first is "energy")
  std::vector<std::string> datasets;      //!< the dataset of each observable
  std::vector<int> coupled;               //!< extended ensembles: the observables (index) with couplings
  std::vector<std::vector<double>> couplings;  //!< and each one's p_k (K values)
};

//! What `file` holds for free-energy: "temper" (a zeta temper output), "u_kn", "u_kln"
//! or "energies"; throws naming the file when it is none of them. One rank.
std::string detect_free_energy_format(const std::string& file);

//! Collective: the same, read by rank 0; the format or one Error on every rank.
std::string detect_free_energy_format(const std::string& file, const parallel::Comm& comm);

//! Collective: every rank reads and checks the small datasets (shapes, N_k, β);
//! one error, the same on every rank, names the file and dataset.
MbarInput read_mbar_input(const std::string& file, const std::string& format, const parallel::Comm& comm);

//! Collective: this rank's samples [share.offset, share.offset + share.count): the
//! reduced potentials as K rows of share.count (u[k count + i] = u_k(x_{offset+i}); the
//! u_kn and u_kln forms, empty for the energies form, whose /energy is observables[0]) and
//! each observable's values; a non-finite value is one error naming the dataset and
//! the first such element.
void read_mbar_samples(const MbarInput& in, const parallel::Share& share, const parallel::Comm& comm,
                       std::vector<double>& u, std::vector<std::vector<double>>& observables);

//! Collective: the same for a subset of the samples: this rank's samples are the global
//! samples `columns` (increasing), read a window of at most 65536 samples at a time
//! (values already checked by read_mbar_samples).
void read_mbar_columns(const MbarInput& in, const std::vector<std::int64_t>& columns, const parallel::Comm& comm,
                       std::vector<double>& u, std::vector<std::vector<double>>& observables);

}  // namespace zeta::io
