//! Command-line front end: `zeta COMMAND [CONFIG.ini] [--section.key=value ...]`.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/linalg/gemm.hpp"

namespace zeta::apps {

namespace {

const char* kUsage =
    "usage: zeta COMMAND [CONFIG.ini] [--section.key=value ...]\n"
    "       mpirun -np N zeta COMMAND ...\n"
    "commands:\n"
    "  sample   sample a model with Langevin, MALA, HMC or Metropolis chains\n"
    "  temper   parallel tempering (replica exchange) over MPI ranks, with restart\n"
    "  ais      annealed importance sampling: ln Z with its standard error\n"
    "  train    data-parallel training of RBM or MLP energies by CD-k, PCD or DSM, with restart\n"
    "  eval     energies of a data set under a trained model, |grad E|, OOD AUROC against a second set\n"
    "           (also: evaluate)\n"
    "  free-energy FILE.h5   MBAR free energies, overlap, expectations of u_kn / energies or a temper output\n"
    "  info     print build facts (Kokkos backend, precision, MPI, HDF5, BLAS)\n"
    "  version  print the version, git commit, precision and Kokkos backend (also --version)\n"
    "`zeta COMMAND --help` lists the command's keys with defaults.\n";

//! The resolved configuration on stderr as the run starts (rank 0), like LAMMPS and
//! GROMACS: one INI block, every key with the value this run uses, between two '#'
//! lines, so that it can be run again as it is. run.progress_every = 0 (no progress
//! lines) keeps stderr quiet: no block either. stdout keeps the one JSON line.
void echo_configuration(const std::string& command, const Config& cfg, const parallel::Comm& comm) {
  if (!comm.root()) return;
  if (cfg.declared("run.progress_every")) {
    try {
      if (cfg.get_double("run.progress_every") == 0) return;
    } catch (const Error&) {  // the command names the bad value
    }
  }
  std::fprintf(stderr, "# zeta %s: resolved configuration (zeta %s, git %s, %d rank%s)\n%s# end of configuration\n",
               command.c_str(), ZETA_VERSION, ZETA_GIT_COMMIT, comm.size(), comm.size() == 1 ? "" : "s",
               cfg.resolved_ini().c_str());
  std::fflush(stderr);
}

int run_command(int argc, char** argv, const parallel::Comm& comm) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    if (comm.root()) std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "--version" || command == "version") {
    if (comm.root()) std::fputs(version_text().c_str(), stdout);
    return 0;
  }
  std::string ini;
  std::vector<std::string> overrides;
  bool help = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") help = true;
    else if (a.rfind("--kokkos", 0) == 0) continue;  // consumed by Kokkos::initialize
    else if (a.rfind("--", 0) == 0) overrides.push_back(a);
    else if (ini.empty()) ini = a;
    else throw Error("unexpected argument '" + a + "' (one configuration file at most)");
  }
  if (command == "info") {
    const auto j = build_info(comm);
    if (comm.root()) std::printf("%s\n", j.str().c_str());
    return 0;
  }
  if (command == "free-energy") {
    Config opts;
    declare_free_energy_keys(opts);
    if (help) {
      if (comm.root())
        std::printf("zeta free-energy FILE.h5 (a zeta temper output, /u_kn + /N_k, or /energy + /beta + /N_k) [--key=value]; keys:\n%s", opts.help_text().c_str());
      return 0;
    }
    if (ini.empty()) throw Error("free-energy needs an input file: zeta free-energy FILE.h5 (docs/free-energy.md)");
    opts.parse("", overrides);
    echo_configuration(command, opts, comm);
    const auto r = free_energy(ini, opts, comm);
    if (comm.root()) {
      std::printf("%s\n", r.json.str().c_str());
      std::fflush(stdout);
    }
    return 0;
  }
  const bool eval = command == "eval" || command == "evaluate";
  if (command == "sample" || command == "temper" || command == "ais" || command == "train" || eval) {
    Config cfg;
    if (command == "sample") declare_sample_keys(cfg);
    else if (eval)
      declare_eval_app_keys(cfg);
    else if (command == "temper") declare_temper_app_keys(cfg);
    else if (command == "train") declare_train_app_keys(cfg);
    else declare_ais_app_keys(cfg);
    if (help) {
      if (comm.root())
        std::printf("zeta %s keys (INI [section] key = value, or --section.key=value):\n%s", command.c_str(),
                    cfg.help_text().c_str());
      return 0;
    }
    cfg.parse(ini, overrides);
    echo_configuration(eval ? "eval" : command, cfg, comm);
    const JsonSummary j = command == "sample"   ? sample(cfg, comm).json
                          : command == "temper" ? temper(cfg, comm).json
                          : command == "train"  ? train(cfg, comm).json
                          : eval                ? evaluate(cfg, comm).json
                                                : ais(cfg, comm).json;
    if (comm.root()) {
      std::printf("%s\n", j.str().c_str());
      std::fflush(stdout);
    }
    return 0;
  }
  throw Error("unknown command '" + command + "' (try: zeta --help)");
}

//! Whether `e` is a failed allocation: std::bad_alloc, or Kokkos' runtime error for a View.
bool out_of_memory(const std::exception& e) {
  return dynamic_cast<const std::bad_alloc*>(&e) || std::strstr(e.what(), "failed to allocate memory");
}

//! This rank ran out of memory. Chains are spread evenly, so usually every rank does,
//! at the same allocation: then they all meet in this barrier, rank 0 says it once and
//! every rank exits non-zero. A rank left alone (the others are still computing, or
//! wait in a collective it will never join) aborts the job after a few seconds rather
//! than let it hang.
int out_of_memory_exit(const parallel::Comm& comm, MPI_Comm world, const std::exception& e) {
  const char* what =
      "out of memory: the run needs more than this node has; use fewer chains (sampler.chains, ais.chains, "
      "temper.copies, train.chains) or a smaller train.batch or model, or more nodes";
  // Kokkos' message runs over several lines: its first says which View.
  std::string why = e.what();
  why = why.substr(0, why.find('\n'));
  why = why.substr(0, why.find("  Allocation using"));
  if (parallel::all_ranks_arrive(world, 10.0)) {
    if (comm.root()) std::fprintf(stderr, "zeta: error: %s (%s)\n", what, why.c_str());
    return 1;
  }
  std::fprintf(stderr, "zeta: error (rank %d): %s (%s)\n", comm.rank(), what, why.c_str());
  MPI_Abort(world, 1);
  return 1;
}

}  // namespace

int run_cli(int argc, char** argv, MPI_Comm world) {
  linalg::init_blas_threads();
  parallel::Comm comm(world);
  try {
    return run_command(argc, argv, comm);
  } catch (const Error& e) {
    if (e.collective()) {
      if (comm.root()) std::fprintf(stderr, "zeta: error: %s\n", e.what());
      return 1;
    }
    std::fprintf(stderr, "zeta: error (rank %d): %s\n", comm.rank(), e.what());
    MPI_Abort(world, 1);
  } catch (const std::exception& e) {
    if (out_of_memory(e)) return out_of_memory_exit(comm, world, e);
    std::fprintf(stderr, "zeta: error (rank %d): %s\n", comm.rank(), e.what());
    MPI_Abort(world, 1);
  }
  return 1;
}

}  // namespace zeta::apps
