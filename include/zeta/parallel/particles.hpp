//! Moving particles (chain states) between ranks after an SMC resampling step.
#pragma once
#include <cstdint>
#include <vector>

#include "zeta/parallel/comm.hpp"

namespace zeta::parallel {

//! Collective: global particle j takes the state of global particle ancestors[j] (every
//! rank passes the same `ancestors`, of range.global entries). `rows` holds this rank's
//! range.count states of row_len values in chain order; the result holds the new ones.
//! A state travels only where its ancestor lives on another rank (one MPI_Alltoallv of
//! just those rows); the rest are copied on the rank. `moved` (optional): the number of
//! rows that crossed ranks, over all ranks.
std::vector<double> resample_rows(const Comm& comm, const ChainRange& range, const std::vector<std::int64_t>& ancestors,
                                  const std::vector<double>& rows, std::int64_t row_len,
                                  std::int64_t* moved = nullptr);

}  // namespace zeta::parallel
