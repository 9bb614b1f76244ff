#include "zeta/parallel/shared_sum.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

namespace zeta {

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
    MPI_Comm shared;
    MPI_Comm_split_type(comm.raw(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &shared);
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
    // A window that cannot be had (a small /dev/shm, say) leaves MPI_Allreduce.
    MPI_Comm_set_errhandler(node_, MPI_ERRORS_RETURN);
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each rank's buffer on its own pages
    const int rc = MPI_Win_allocate_shared(MPI_Aint(std::max<std::size_t>(n, 1) * sizeof(T)), sizeof(T), info, node_,
                                           &mine_, &win_);
    MPI_Info_free(&info);
    if (comm.any(rc != MPI_SUCCESS)) {
      win_ = MPI_WIN_NULL;  // left to MPI_Finalize where it was made
    } else {
      MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
      peers_.resize(std::size_t(node_size_));
      for (int q = 0; q < node_size_; ++q) {
        MPI_Aint bytes = 0;
        int unit = 0;
        MPI_Win_shared_query(win_, q, &bytes, &unit, &peers_[std::size_t(q)]);
      }
    }
  }
  if (win_ == MPI_WIN_NULL) {  // 64-byte aligned, as a Kokkos allocation (the GEMMs write here)
    own_.assign(n + 64 / sizeof(T), T(0));
    void* p = own_.data();
    std::size_t bytes = own_.size() * sizeof(T);
    mine_ = static_cast<T*>(std::align(64, n * sizeof(T), p, bytes));
  }
}

template <class T>
SharedSum<T>::~SharedSum() {
  // Freeing is collective: while an exception unwinds (on this rank alone, perhaps,
  // before MPI_Abort) the window is left to MPI_Finalize or MPI_Abort.
  if (std::uncaught_exceptions() > 0) return;
  if (win_ != MPI_WIN_NULL) {
    MPI_Win_unlock_all(win_);
    MPI_Win_free(&win_);
  }
  if (leaders_ != MPI_COMM_NULL) MPI_Comm_free(&leaders_);
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
}

template <class T>
void SharedSum<T>::node_sync() const {
  MPI_Win_sync(win_);
  MPI_Barrier(node_);
  MPI_Win_sync(win_);
}

template <class T>
void SharedSum<T>::sum() {
  if (comm_.size() == 1) return;
  if (win_ == MPI_WIN_NULL) {
    MPI_Allreduce(MPI_IN_PLACE, mine_, static_cast<int>(n_), mpi_type<T>(), MPI_SUM, comm_.raw());
    return;
  }
  node_sync();  // every rank's values written
  const auto [lo, hi] = slice(n_, node_size_, node_rank_);
  for (int q = 0; q < node_size_; ++q)
    if (q != node_rank_) {
      const T* other = peers_[std::size_t(q)];
      for (std::size_t i = lo; i < hi; ++i) mine_[i] += other[i];
    }
  node_sync();  // every slice summed over the node
  // The slices that the node's other ranks summed, from their owners.
  auto copy_slices = [&] {
    for (int q = 0; q < node_size_; ++q)
      if (q != node_rank_) {
        const auto [a, b] = slice(n_, node_size_, q);
        std::copy(peers_[std::size_t(q)] + a, peers_[std::size_t(q)] + b, mine_ + a);
      }
  };
  if (!several_nodes()) {
    copy_slices();
  } else {
    if (node_rank_ == 0) {
      copy_slices();
      MPI_Allreduce(MPI_IN_PLACE, mine_, static_cast<int>(n_), mpi_type<T>(), MPI_SUM, leaders_);
    }
    node_sync();  // the leader holds the sum over all nodes
    if (node_rank_ != 0) std::copy(peers_[0], peers_[0] + n_, mine_);
  }
  node_sync();  // nobody still reads a buffer that its owner writes next
}

template class SharedSum<float>;
template class SharedSum<double>;

}  // namespace zeta
