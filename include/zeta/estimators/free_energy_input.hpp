//! The samples of `zeta free-energy` on this rank, from any of its input forms
//! (docs/free-energy.md): a `zeta temper` output (rank 0 reads the ladder's energies,
//! thins each level by its τ_int, estimates ln Z by BAR and TI along the ladder and
//! broadcasts them), or a u_kn / u_kln / energies file, of which each rank reads only
//! its own hyperslab of samples (io/mbar_input.hpp), optionally cut to its equilibrated,
//! uncorrelated samples per state (pymbar's timeseries recipe).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "zeta/estimators/mbar.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

//! What a temper run's configuration says that free-energy needs.
struct TemperRunFacts {
  std::int64_t save_every = 1;  //!< run.save_every: sweeps between saved rows
  double lattice_sites = 0;     //!< sites of a lattice model (0: not a lattice): ln Z(0) = sites ln 2
};

//! Reads TemperRunFacts from a temper output's resolved INI (the command's keys live in apps/);
//! `file` names the output in messages.
using TemperRunReader = std::function<TemperRunFacts(const std::string& config, const std::string& file)>;

struct FreeEnergyInputOptions {
  std::string format = "auto";       //!< free_energy.format: auto, temper, u_kn, u_kln or energies
  std::int64_t fixed_thin = 0;       //!< temper: a fixed stride over the saved rows (0: by τ_int)
  bool equilibrate = false;          //!< u_kn, u_kln and energies: detect equilibration and subsample
  std::int64_t equilibrate_skip = 1; //!< detectEquilibration's nskip
};

//! This rank's share of the samples (mbar_samples()) and what every rank knows of all of them.
struct FreeEnergyInput {
  std::string format;                       //!< temper, u_kn, u_kln or energies
  std::string source;                       //!< the file and dataset, for messages
  std::vector<std::int64_t> N_k;            //!< samples per state (after equilibration)
  std::vector<double> beta;                 //!< the states' β (energies and temper forms)
  std::vector<std::string> observables;     //!< names of the observables (energies forms: "energy" first)
  std::vector<double> u;                    //!< stored forms: K rows of this rank's reduced potentials
  std::vector<std::vector<double>> values;  //!< this rank's samples of each observable
  std::vector<int> coupled;                 //!< extended ensembles: observables (index) with couplings
  std::vector<std::vector<double>> couplings;  //!< and their p_k: u_k = β_k (E + Σ p_k A)
  std::vector<double> equilibration_t0, statistical_inefficiency;  //!< per state (equilibrate)
  double offset = 0;                        //!< temper: N ln 2 for a lattice ladder from β_0 = 0
  std::vector<double> log_z_bar, log_z_bar_stderr, log_z_ti, log_z_ti_stderr;  //!< temper: along the ladder

  //! The reduced potentials: stored (u) or built from the energies (values[0]), beta and couplings.
  bool stored() const { return format == "u_kn" || format == "u_kln"; }
  MbarSamples samples() const;
  //! The names of the coupled observables.
  std::vector<std::string> coupling_names() const;
};

//! Appends target states without samples (N_k = 0) at inverse temperatures `betas`
//! (free_energy.target_betas): states given by β (energies form, temper outputs); with
//! /couplings, `fields` holds one list per coupled observable, in coupling_names() order,
//! of the targets' couplings p (free_energy.target_fields). Errors name those keys.
void add_target_states(FreeEnergyInput& in, const std::vector<double>& betas,
                       const std::vector<std::vector<double>>& fields);

//! Collective: reads `file` as opts.format says (auto: from its datasets); every error is one
//! Error, the same on every rank, naming the file and dataset. `temper_run` reads a temper
//! output's configuration.
FreeEnergyInput read_free_energy_input(const std::string& file, const FreeEnergyInputOptions& opts,
                                       const TemperRunReader& temper_run, const parallel::Comm& comm);

}  // namespace zeta::estimators
