#include "zeta/parallel/shared_sum.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

namespace zeta::parallel {

namespace {

//! Slice i of n values over `parts` ranks: [first, last).
std::pair<std::size_t, std::size_t> slice(std::size_t n, int parts, int i) {
  const ChainRange r = block_range(std::int64_t(n), parts, i);
  return {std::size_t(r.offset), std::size_t(r.offset + r.count)};
}

}  // namespace

template <class T>
SharedSum<T>::SharedSum(const Comm& comm, std::size_t n, int ranks_per_node, bool window) : comm_(comm), n_(n) {
  if (comm.size() > 1 && window) {
    MPI_Comm shared = node_comm(comm);
    if (ranks_per_node > 0) {
      int r = 0;
      MPI_Comm_rank(shared, &r);
      MPI_Comm_split(shared, r / ranks_per_node, r, &node_);
      MPI_Comm_free(&shared);
    } else {
      node_ = shared;
    }
    MPI_Comm_rank(node_, &node_rank_);
    MPI_Comm_size(node_, &node_size_);
    // Every node is smaller than comm exactly when there are several nodes: the same on every rank.
    if (several_nodes()) MPI_Comm_split(comm.raw(), node_rank_ == 0 ? 0 : MPI_UNDEFINED, comm.rank(), &leaders_);
    window_ = std::make_unique<NodeWindow>(comm, node_, std::max<std::size_t>(n, 1) * sizeof(T));
    if (window_->ok())
      mine_ = static_cast<T*>(window_->segment(node_rank_));
    else
      window_.reset();  // MPI_Allreduce
  }
  if (!window_) {  // 64-byte aligned, as a Kokkos allocation (the GEMMs write here)
    own_.assign(n + 64 / sizeof(T), T(0));
    void* p = own_.data();
    std::size_t bytes = own_.size() * sizeof(T);
    mine_ = static_cast<T*>(std::align(64, n * sizeof(T), p, bytes));
  }
}

template <class T>
SharedSum<T>::~SharedSum() {
  // Freeing is collective: while an exception unwinds (on this rank alone, perhaps,
  // before MPI_Abort) the window and communicators are left to MPI_Finalize or MPI_Abort.
  if (std::uncaught_exceptions() > 0) return;
  if (window_) window_->release();
  if (leaders_ != MPI_COMM_NULL) MPI_Comm_free(&leaders_);
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
}

template <class T>
void SharedSum<T>::sum() {
  if (comm_.size() == 1) return;
  if (!window_) {
    MPI_Allreduce(MPI_IN_PLACE, mine_, static_cast<int>(n_), mpi_type<T>(), MPI_SUM, comm_.raw());
    return;
  }
  window_->sync();  // every rank's values written
  const auto [lo, hi] = slice(n_, node_size_, node_rank_);
  for (int q = 0; q < node_size_; ++q)
    if (q != node_rank_) {
      const T* other = peer(q);
      for (std::size_t i = lo; i < hi; ++i) mine_[i] += other[i];
    }
  window_->sync();  // every slice summed over the node
  // The slices that the node's other ranks summed, from their owners.
  auto copy_slices = [&] {
    for (int q = 0; q < node_size_; ++q)
      if (q != node_rank_) {
        const auto [a, b] = slice(n_, node_size_, q);
        std::copy(peer(q) + a, peer(q) + b, mine_ + a);
      }
  };
  if (!several_nodes()) {
    copy_slices();
  } else {
    if (node_rank_ == 0) {
      copy_slices();
      MPI_Allreduce(MPI_IN_PLACE, mine_, static_cast<int>(n_), mpi_type<T>(), MPI_SUM, leaders_);
    }
    window_->sync();  // the leader holds the sum over all nodes
    if (node_rank_ != 0) std::copy(peer(0), peer(0) + n_, mine_);
  }
  window_->sync();  // nobody still reads a buffer that its owner writes next
}

template class SharedSum<float>;
template class SharedSum<double>;

}  // namespace zeta::parallel
