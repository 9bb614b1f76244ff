//! The benchmarks' main(): MPI and Kokkos lifetimes around run(argc, argv),
//! Kokkos seeing only its own --kokkos-* arguments and run() only the others.
#pragma once
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

namespace zeta::bench {

template <class Run, class Setup>
int bench_main(int argc, char** argv, const char* name, Run run, Setup setup) {
  MPI_Init(&argc, &argv);
  int rc = 0;
  {
    std::vector<char*> kargv{argv[0]}, args{argv[0]};
    for (int i = 1; i < argc; ++i) (std::strncmp(argv[i], "--kokkos", 8) ? args : kargv).push_back(argv[i]);
    int kargc = static_cast<int>(kargv.size());
    kargv.push_back(nullptr);
    Kokkos::ScopeGuard kokkos(kargc, kargv.data());
    setup();
    try {
      rc = run(static_cast<int>(args.size()), args.data());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", name, e.what());
      rc = 1;
    }
  }
  MPI_Finalize();
  return rc;
}

}  // namespace zeta::bench
