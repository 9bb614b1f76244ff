# Finds Zeta's dependencies (all Debian 12 packages) and wraps them in targets.
find_package(MPI REQUIRED COMPONENTS C CXX)

find_package(Kokkos REQUIRED)
# Debian's Trilinos 13.2 Kokkos config carries the non-existent /usr/lib/include.
if(Kokkos_INCLUDE_DIRS)
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIRS}")
endif()

include(ZetaKokkosKernels)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "Zeta needs parallel HDF5 (Debian: libhdf5-openmpi-dev); found a serial one")
endif()
add_library(zeta_hdf5 INTERFACE)
target_include_directories(zeta_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(zeta_hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
if(HDF5_C_DEFINITIONS)
  target_compile_definitions(zeta_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

# zlib (Debian: zlib1g-dev): IDX data files are read through gzopen, .gz or raw.
find_package(ZLIB REQUIRED)

# OpenBLAS's cblas (Debian: libopenblas-dev). Prefer it explicitly over netlib's libblas.
find_path(ZETA_CBLAS_INCLUDE NAMES cblas.h PATH_SUFFIXES openblas-pthread openblas x86_64-linux-gnu/openblas-pthread
  HINTS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas)
find_library(ZETA_OPENBLAS_LIB NAMES openblas
  HINTS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/x86_64-linux-gnu)
if(NOT ZETA_OPENBLAS_LIB OR NOT ZETA_CBLAS_INCLUDE)
  message(FATAL_ERROR "OpenBLAS not found (Debian: libopenblas-dev)")
endif()
add_library(zeta_blas INTERFACE)
target_include_directories(zeta_blas INTERFACE ${ZETA_CBLAS_INCLUDE})
target_link_libraries(zeta_blas INTERFACE ${ZETA_OPENBLAS_LIB})

find_path(ZETA_RANDOM123_INCLUDE NAMES Random123/philox.h)
if(NOT ZETA_RANDOM123_INCLUDE)
  message(FATAL_ERROR "Random123 not found (Debian: librandom123-dev)")
endif()
add_library(zeta_random123 INTERFACE)
target_include_directories(zeta_random123 INTERFACE ${ZETA_RANDOM123_INCLUDE})
