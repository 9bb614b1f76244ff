//! What `zeta free-energy` reports of an MBAR solution: the checks a user must
//! hear about (convergence, states without samples or overlap, poor overlap), the
//! JSON figures and the HDF5 arrays (docs/free-energy.md has the layout).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/json.hpp"
#include "zeta/estimators/free_energy_input.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::estimators {

struct MbarReport {
  std::vector<std::int64_t> N_k;
  std::vector<double> beta;                 //!< the states' β when the input has them (else empty)
  std::vector<std::string> coupling_names;  //!< extended ensembles: the coupled observables
  std::vector<std::vector<double>> couplings;  //!< and their p_k per state
  MbarResult result;
  MbarAnalysis analysis;
  std::vector<std::string> observables;     //!< names, one per expectation
  std::vector<MbarExpectation> expectations;
  std::vector<double> equilibration_t0;     //!< free_energy.equilibrate: per state, samples discarded
  std::vector<double> statistical_inefficiency;  //!< and the statistical inefficiency g of the rest
  std::string pmf_observable;               //!< the PMF's observable ("" : no PMF)
  MbarPmf pmf;
  MbarExpectation heat_capacity;            //!< free_energy.heat_capacity: C_k and its error (empty: none)
};

//! Thresholds of the checks (free_energy.* keys).
struct MbarChecks {
  bool allow_unconverged = false;     //!< free_energy.allow_unconverged
  double min_effective_samples = 2;   //!< free_energy.min_effective_samples
  double overlap_warning = 0.03;      //!< free_energy.overlap_warning
  double tol = 1e-12;                 //!< free_energy.tol (for the message)
};

//! What to estimate beyond f_k, Δf, the overlap and ⟨A⟩_k of every observable (free_energy.* keys).
struct MbarReportOptions {
  MbarOptions mbar;
  MbarChecks checks;
  bool heat_capacity = false;  //!< free_energy.heat_capacity (states given by β)
  std::string pmf;             //!< free_energy.pmf: the observable of a PMF ("": none)
  int pmf_bins = 20;
  std::int64_t pmf_state = 0;
};

//! Collective: MBAR on `in` (its states, target states appended, and samples), checked
//! (check_mbar_report), with the analyses `opt` asks for; errors name the free_energy.* key.
MbarReport mbar_report(const FreeEnergyInput& in, const MbarReportOptions& opt, const parallel::Comm& comm);

//! Collective (the same on every rank): throws one Error when MBAR did not converge
//! (unless allowed) or a state without samples has fewer effective samples than
//! the threshold (no overlap with the sampled states), naming the states; rank 0
//! prints one warning naming the states whose largest overlap with another state
//! is below checks.overlap_warning. `source` names the input (file and dataset).
void check_mbar_report(const MbarReport& r, const MbarChecks& checks, const std::string& source, bool root);

//! The JSON figures of the report: f_k, df_k, overlap and expectations (not the K×K arrays).
void add_mbar_json(JsonSummary& j, const MbarReport& r);

//! Collective: every array of the report under /free_energy, described (units, meaning,
//! axes), written from rank 0's report (`root`: this is rank 0).
void write_mbar_output(io::OutputFile& out, const MbarReport& r, bool root);

}  // namespace zeta::estimators
