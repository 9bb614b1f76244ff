//! The thin `zeta` executable: MPI and Kokkos lifetimes around apps::run_cli.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/io/hdf5.hpp"

namespace {

//! Device builds: the GPU of this rank, round robin over the node's visible GPUs by the
//! rank's place on its node (MPI_COMM_TYPE_SHARED, whatever the launcher), as
//! "--kokkos-device-id=N"; empty on host builds, or where the user chose a device
//! (--kokkos-device-id, --kokkos-map-device-id-by or their KOKKOS_* variables).
std::string device_id_argument(int argc, char** argv) {
#if (defined(KOKKOS_ENABLE_CUDA) || defined(KOKKOS_ENABLE_HIP) || defined(KOKKOS_ENABLE_SYCL)) && \
    KOKKOS_VERSION >= 40100
  for (int i = 1; i < argc; ++i)
    if (!std::strncmp(argv[i], "--kokkos-device-id", 18) || !std::strncmp(argv[i], "--kokkos-map-device-id-by", 25))
      return {};
  if (std::getenv("KOKKOS_DEVICE_ID") || std::getenv("KOKKOS_MAP_DEVICE_ID_BY")) return {};
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 0;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  const int devices = Kokkos::num_devices();
  return devices > 0 ? "--kokkos-device-id=" + std::to_string(local % devices) : std::string();
#else
  (void)argc;
  (void)argv;
  return {};
#endif
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  // Kokkos sees only its own --kokkos-* arguments (it would answer zeta's --help itself).
  std::vector<char*> kargv{argv[0]};
  for (int i = 1; i < argc; ++i)
    if (!std::strncmp(argv[i], "--kokkos", 8)) kargv.push_back(argv[i]);
  std::string device = device_id_argument(argc, argv);
  if (!device.empty()) kargv.push_back(device.data());
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
