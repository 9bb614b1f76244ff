//! A tempering run's per-step all-gather: every rank's rows (row_len values per
//! local chain) and one more value per rank, its tail, on every rank. Where all
//! ranks share one node, each rank writes its values into memory that the ranks
//! share (an MPI-3 shared window) and raises a counter; the others spin on the
//! counters and copy. Two slots per rank, used in turn, let a rank that has left
//! call s write call s + 1 while others still read call s (no rank can start call
//! s + 2 before every rank has started call s + 1, and so finished reading call s).
//! Elsewhere (several nodes, no window) it is one MPI_Allgatherv.
//!
//! Why: after the last rank reaches MPI_Allgatherv, the call took Open MPI a
//! median 4.2 µs more per step on the Zen 3 class 2-vCPU machine (2 ranks bound
//! to the cores, 64 Ising replicas), where a spin on shared counters takes about
//! 0.3 µs (README, tempering section).
#pragma once
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "zeta/parallel/comm.hpp"
#include "zeta/parallel/node_window.hpp"

namespace zeta::parallel {

class RowGather {
 public:
  //! Collective: each rank passes its own range (Comm::chains). Without `window`
  //! (or where no rank could allocate one) gather() is MPI_Allgatherv.
  RowGather(const Comm& comm, std::int64_t row_len, const ChainRange& range, bool window = true);
  ~RowGather();
  RowGather(const RowGather&) = delete;
  RowGather& operator=(const RowGather&) = delete;

  //! Collective: `local` holds this rank's rows and then its tail
  //! (range.count · row_len + 1 values). After it, rows() holds every rank's rows in
  //! global chain order and tails() every rank's tail in rank order.
  void gather(const std::vector<double>& local);
  const std::vector<double>& rows() const { return rows_; }
  const std::vector<double>& tails() const { return tails_; }
  //! Whether gather() goes through the shared window.
  bool shared() const { return window_ != nullptr; }

 private:
  //! Rank q's slot for call s: a counter (on its own cache line), then its values.
  std::int64_t* counter(int q, std::int64_t s) const;
  double* values(int q, std::int64_t s) const { return reinterpret_cast<double*>(counter(q, s) + kLine); }

  static constexpr std::int64_t kLine = 64 / sizeof(std::int64_t);  //!< counter words per slot

  const Comm& comm_;
  std::vector<int> counts_, displs_;  //!< values per rank (rows and tail), offsets in out_
  std::vector<double> out_, rows_, tails_;
  MPI_Comm node_ = MPI_COMM_NULL;
  std::unique_ptr<NodeWindow> window_;  //!< every rank's two slots (null: MPI_Allgatherv)
  std::vector<std::int64_t> slot_;    //!< words per slot of rank q
  std::int64_t calls_ = 0;
};

}  // namespace zeta::parallel
