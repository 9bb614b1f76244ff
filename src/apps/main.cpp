//! The thin `zeta` executable: MPI and Kokkos lifetimes around apps::run_cli.
#include <mpi.h>

#include <Kokkos_Core.hpp>

#include "zeta/apps/apps.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rc = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    rc = zeta::apps::run_cli(argc, argv, MPI_COMM_WORLD);
  }
  MPI_Finalize();
  return rc;
}
