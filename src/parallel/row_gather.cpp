#include "zeta/parallel/row_gather.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "zeta/core/error.hpp"

namespace zeta::parallel {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

//! Spins until *counter ≥ s. After 50 µs it yields between looks, so that ranks
//! that outnumber the cores let the rank they wait for run.
void wait_for(const std::int64_t* counter, std::int64_t s) {
  if (__atomic_load_n(counter, __ATOMIC_ACQUIRE) >= s) return;
  const auto start = std::chrono::steady_clock::now();
  bool patient = false;
  for (unsigned i = 1;; ++i) {
    if (__atomic_load_n(counter, __ATOMIC_ACQUIRE) >= s) return;
    if (patient) {
      sched_yield();
    } else {
      cpu_relax();
      if (i % 64 == 0) patient = std::chrono::steady_clock::now() - start > std::chrono::microseconds(50);
    }
  }
}

}  // namespace

RowGather::RowGather(const Comm& comm, std::int64_t row_len, const ChainRange& range, bool window) : comm_(comm) {
  const int P = comm.size();
  comm.chain_row_counts(row_len, range.global, 1, counts_, displs_);
  const int total = displs_.back() + counts_.back();
  rows_.resize(std::size_t(total - P));
  tails_.resize(std::size_t(P));
  out_.resize(std::size_t(total));  // MPI_Allgatherv's buffer, where it is the path
  if (P == 1 || !window) return;
  node_ = node_comm(comm);
  int node_size = 0;
  MPI_Comm_size(node_, &node_size);
  if (node_size < P) return;  // several nodes (the same answer on every rank): MPI_Allgatherv
  // Ranks of one node in comm's order, so node rank q is comm rank q.
  slot_.resize(P);
  for (int q = 0; q < P; ++q) slot_[q] = kLine + (std::int64_t(counts_[q]) + kLine - 1) / kLine * kLine;
  window_ = std::make_unique<NodeWindow>(comm, node_, 2 * slot_[comm.rank()] * sizeof(std::int64_t));
  if (!window_->ok()) {
    window_.reset();
    return;
  }
  std::int64_t* mine = static_cast<std::int64_t*>(window_->segment(comm.rank()));
  mine[0] = mine[slot_[comm.rank()]] = 0;  // both counters: no call yet
  window_->sync();
}

RowGather::~RowGather() {
  // As SharedSum's: freeing is collective, so not while an exception unwinds.
  if (std::uncaught_exceptions() > 0) return;
  if (window_) window_->release();
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
}

std::int64_t* RowGather::counter(int q, std::int64_t s) const {
  return static_cast<std::int64_t*>(window_->segment(q)) + (s & 1) * slot_[q];
}

void RowGather::gather(const std::vector<double>& local) {
  const int P = comm_.size(), me = comm_.rank();
  if (static_cast<int>(local.size()) != counts_[me]) throw Error("internal: RowGather::gather size mismatch", false);
  const std::int64_t s = ++calls_;
  // Rank q's values [rows…, tail] to their places in rows_ and tails_.
  auto place = [&](int q, const double* v) {
    std::copy(v, v + counts_[q] - 1, rows_.begin() + (displs_[q] - q));
    tails_[q] = v[counts_[q] - 1];
  };
  if (shared()) {
    std::copy(local.begin(), local.end(), values(me, s));
    __atomic_store_n(counter(me, s), s, __ATOMIC_RELEASE);
    for (int q = 0; q < P; ++q) {
      if (q == me) {
        place(q, local.data());
      } else {
        wait_for(counter(q, s), s);
        place(q, values(q, s));
      }
    }
    return;
  }
  MPI_Allgatherv(local.data(), counts_[me], MPI_DOUBLE, out_.data(), counts_.data(), displs_.data(), MPI_DOUBLE,
                 comm_.raw());
  for (int q = 0; q < P; ++q) place(q, out_.data() + displs_[q]);
}

}  // namespace zeta::parallel
