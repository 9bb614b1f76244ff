#include <hdf5.h>

#include <Kokkos_Core.hpp>

#include "apps/apps.hpp"
#include "zeta/config.hpp"
#include "zeta/core/types.hpp"
#include "zeta/linalg/blas_threads.hpp"

extern "C" char* openblas_get_config(void);

namespace zeta::apps {

JsonSummary build_info(const parallel::Comm& comm) {
  JsonSummary j;
  j.add("command", "info");
  j.add("status", "ok");
  j.add("zeta_version", ZETA_VERSION);
  j.add("git_commit", ZETA_GIT_COMMIT);
  j.add("precision", ZETA_PRECISION_NAME);
  j.add("kokkos_backend", Kokkos::DefaultExecutionSpace::name());
  j.add("kokkos_version", std::to_string(KOKKOS_VERSION));
  j.add("host_kernels", bool(ZETA_HOST_KERNELS));
#if defined(ZETA_HAVE_KOKKOSKERNELS)
  j.add("kokkoskernels", true);
#else
  j.add("kokkoskernels", false);
#endif
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi, &len);
  std::string mpis(mpi, len);
  while (!mpis.empty() && (mpis.back() == '\n' || mpis.back() == '\0')) mpis.pop_back();
  j.add("mpi", mpis.substr(0, mpis.find(',')));
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  j.add("hdf5", std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel));
  j.add("blas", openblas_get_config());
  j.add("blas_threads", linalg::blas_threads());
  j.add("ranks", comm.size());
  return j;
}

std::string version_text() {
  return std::string("zeta ") + ZETA_VERSION + " (git " + ZETA_GIT_COMMIT + ")\nprecision: " + ZETA_PRECISION_NAME +
         "\nkokkos backend: " + Kokkos::DefaultExecutionSpace::name() + " (Kokkos " + std::to_string(KOKKOS_VERSION / 10000) + "." +
         std::to_string(KOKKOS_VERSION / 100 % 100) + "." + std::to_string(KOKKOS_VERSION % 100) + ")\n" +
         (ZETA_HOST_KERNELS ? "" : "kernels: generic (ZETA_HOST_KERNELS=OFF)\n");
}

}  // namespace zeta::apps
