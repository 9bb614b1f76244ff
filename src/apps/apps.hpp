//! Commands of the `zeta` executable, callable in-process (tests call them directly).
#pragma once
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/run.hpp"
#include "zeta/estimators/ais.hpp"
#include "zeta/estimators/energy_eval.hpp"
#include "zeta/estimators/smc.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/sampling.hpp"
#include "zeta/tempering/tempering.hpp"
#include "zeta/training/result.hpp"

namespace zeta::apps {

//! Parses `zeta COMMAND [CONFIG.ini] [--section.key=value ...]` and runs it.
//! Returns the process exit status; errors print "zeta: error: ..." once.
int run_cli(int argc, char** argv, MPI_Comm world);

using zeta::samplers::SampleResult;  //!< samplers/sampling.hpp

void declare_sample_keys(Config& cfg);
//! Runs `zeta sample` on `comm`; writes output.file if set.
samplers::SampleResult sample(const Config& cfg, const parallel::Comm& comm);

using zeta::tempering::TemperResult;  //!< tempering/tempering.hpp

void declare_temper_app_keys(Config& cfg);
//! Runs `zeta temper` on `comm`; writes output.file and checkpoints if set.
tempering::TemperResult temper(const Config& cfg, const parallel::Comm& comm);

//! The library's estimate (estimators/ais.hpp) and what the command adds to it.
struct AisResult : estimators::AisEstimate {
  std::string method = "ais";  //!< ais.method
  estimators::SmcEstimate smc;  //!< ais.method = smc: the replicates' estimate and counts
  std::int64_t moves = 0;       //!< counter steps per chain (over all replicates)
  double base_log_z = 0;
  double log_z_exact = NAN;  //!< ais.exact (rbm): the exact ln Z
  double wall_s = 0, chain_steps_per_s = 0;
  std::string output;  //!< the output file's name as published (empty: none)
  JsonSummary json;
};

void declare_ais_app_keys(Config& cfg);
//! Runs `zeta ais` on `comm`: ln Z of the model at ais.beta with its standard error.
AisResult ais(const Config& cfg, const parallel::Comm& comm);

using training::TrainResult;  //!< training/result.hpp

void declare_train_app_keys(Config& cfg);
//! Runs `zeta train` on `comm`: data-parallel CD-k / PCD training of an RBM or DSM of an MLP;
//! writes output.file and checkpoints if set.
TrainResult train(const Config& cfg, const parallel::Comm& comm);

//! The library's evaluation (estimators/energy_eval.hpp) and what the command adds to it.
struct EvalResult : estimators::EvalResult {
  double wall_s = 0;
  std::string output;  //!< the output file's name as published (empty: none)
  JsonSummary json;
};

void declare_eval_app_keys(Config& cfg);
//! Runs `zeta eval` (alias `evaluate`) on `comm`: energies of every row of [data] under the
//! trained model, with eval.other the OOD AUROC; writes output.file if set.
EvalResult evaluate(const Config& cfg, const parallel::Comm& comm);

struct FreeEnergyResult {
  std::vector<double> betas, log_z, log_z_stderr, log_z_bar, log_z_bar_stderr, log_z_ti, log_z_ti_stderr;
  std::vector<double> log_z_bootstrap_stderr;  //!< MBAR's bootstrap error (free_energy.bootstrap > 0)
  std::vector<double> log_z_target, log_z_target_stderr;  //!< MBAR at free_energy.target_betas
  bool absolute = false;  //!< lattice ladder from β_0 = 0: absolute ln Z
  std::int64_t samples_used = 0;
  int iterations = 0;
  double wall_s = 0;
  std::string output;  //!< the output file's name as published (empty: none)
  JsonSummary json;
};

void declare_free_energy_keys(Config& cfg);
//! `zeta free-energy FILE.h5`: MBAR with pymbar's analyses on a u_kn or energies file, or
//! on a temper output (with BAR and TI ln Z per β); writes output.file unless empty.
FreeEnergyResult free_energy(const std::string& file, const Config& opts, const parallel::Comm& comm);

//! `zeta --version`: version, git commit, precision and Kokkos backend, one per line.
std::string version_text();

//! Build facts (`zeta info`) as a JSON line.
JsonSummary build_info(const parallel::Comm& comm);
}  // namespace zeta::apps
