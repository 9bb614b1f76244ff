//! The thin `zeta` executable: MPI and Kokkos lifetimes around apps::run_cli.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstring>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/io/hdf5.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  // Kokkos sees only its own --kokkos-* arguments (it would answer zeta's --help itself).
  std::vector<char*> kargv{argv[0]};
  for (int i = 1; i < argc; ++i)
    if (!std::strncmp(argv[i], "--kokkos", 8)) kargv.push_back(argv[i]);
  int kargc = static_cast<int>(kargv.size());
  kargv.push_back(nullptr);
  int rc = 0;
  {
    Kokkos::ScopeGuard kokkos(kargc, kargv.data());
    rc = zeta::apps::run_cli(argc, argv, MPI_COMM_WORLD);
  }
  // HDF5 shuts down here, while MPI is up: its own atexit handler (off) would run
  // after MPI_Finalize and crash on a file left open by a failed write.
  zeta::io::shutdown();
  MPI_Finalize();
  return rc;
}
