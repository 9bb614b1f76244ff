//! The only layer that calls MPI: communicator ownership, decomposition of
//! global chains over ranks, deterministic reductions, and stop requests.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace zeta::parallel {

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return MPI_UINT64_T;
  else if constexpr (std::is_same_v<T, int>) return MPI_INT;
  else if constexpr (std::is_same_v<T, std::int8_t>) return MPI_INT8_T;
  else if constexpr (std::is_same_v<T, char>) return MPI_CHAR;
  else static_assert(sizeof(T) == 0, "mpi_type: unsupported type");
}

//! The slice [offset, offset + count) of `global` items that one rank holds: chains,
//! data partitions, MBAR sample blocks, grid chunks.
struct Share {
  std::int64_t global = 0;
  std::int64_t offset = 0;
  std::int64_t count = 0;
};
//! A Share of the global chains (the name the samplers and their drivers use).
using ChainRange = Share;

//! Block `i` of `parts` contiguous blocks of `global` items, the first
//! `global % parts` blocks one larger. The one decomposition rule: chains over
//! ranks (Comm::chains_of), examples over data partitions, partitions over ranks.
ChainRange block_range(std::int64_t global, std::int64_t parts, std::int64_t i);

//! Owns a duplicate of the user's communicator (freed on destruction).
class Comm {
 public:
  explicit Comm(MPI_Comm parent);
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  MPI_Comm raw() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }

  //! Contiguous blocks of chains, the first `global % size` ranks one larger.
  ChainRange chains(std::int64_t global) const { return chains_of(rank_, global); }
  //! This rank's share of `global` items of any kind (data partitions, MBAR blocks,
  //! grid chunks) by the same rule as chains().
  Share share(std::int64_t global) const { return chains_of(rank_, global); }
  //! The block that `rank` holds.
  ChainRange chains_of(int rank, std::int64_t global) const;

  //! Gathers each rank's rows (row_len values per chain, in chain order) to rank 0
  //! in global chain order. Rank 0 gets global*row_len values; others get none.
  std::vector<double> gather_chain_rows(const std::vector<double>& local, std::int64_t row_len,
                                        const ChainRange& range) const;

  //! The same in global chain order on every rank (each rank's count follows from chains()).
  std::vector<double> allgather_chain_rows(const std::vector<double>& local, std::int64_t row_len,
                                           const ChainRange& range) const;

  //! Every rank's values concatenated in rank order on rank 0 (others get none).
  std::vector<double> gather_to_root(const std::vector<double>& local) const;

  std::int64_t sum(std::int64_t local) const;
  double max(double local) const;
  //! True on every rank if `local` is true on any rank.
  bool any(bool local) const;
  void broadcast(std::string& s) const;
  void broadcast(double& v) const;
  //! Collective: the non-empty `local` of the lowest rank that has one, on every
  //! rank ("" if every rank passes ""). Turns a rank-local failure (say, a shard
  //! that only one rank reads) into the same error on every rank.
  std::string first_message(const std::string& local) const;
  //! Rank 0's vector (size and contents) on every rank.
  template <class T>
  void broadcast(std::vector<T>& v) const {
    std::int64_t n = static_cast<std::int64_t>(v.size());
    MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm_);
    v.resize(static_cast<std::size_t>(n));
    if (n > 0) MPI_Bcast(v.data(), static_cast<int>(n), mpi_type<T>(), 0, comm_);
  }
  void barrier() const;

  //! In-place sum over ranks in a fixed pairwise tree (recursive doubling; the
  //! rank count must be a power of two): when each rank holds the pairwise-tree
  //! sum of its aligned block of 2^j leaves, every rank gets the pairwise-tree
  //! sum of all leaves with the bits one rank computing it alone would get
  //! (a + b = b + a exactly; only the grouping matters, and it is fixed).
  template <class T>
  void tree_allreduce(std::vector<T>& v) const {
    std::vector<T> other(v.size());
    for (int bit = 1; bit < size_; bit <<= 1) {
      const int partner = rank_ ^ bit;
      MPI_Sendrecv(v.data(), static_cast<int>(v.size()), mpi_type<T>(), partner, 77, other.data(),
                   static_cast<int>(other.size()), mpi_type<T>(), partner, 77, comm_, MPI_STATUS_IGNORE);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] += other[i];
    }
  }
  //! The determinism primitive: sums of m values over `blocks.global` fixed blocks
  //! (data partitions, grid chunks), `local` holding m values for each of this rank's
  //! blocks.count blocks in block order. The blocks are all-gathered and each of the
  //! m sums is added from 0 in block order, so the bits do not depend on how the
  //! blocks are spread over ranks (collective; every rank gets the m sums).
  std::vector<double> ordered_sum(const std::vector<double>& local, std::int64_t m, const Share& blocks) const;
  //! In-place sum over ranks by one MPI_Allreduce (the order of the additions is MPI's:
  //! the result may differ in the last bits between rank counts).
  template <class T>
  void allreduce_sum(std::vector<T>& v) const {
    MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), mpi_type<T>(), MPI_SUM, comm_);
  }
  //! Whether tree_allreduce applies (the rank count is a power of two).
  bool power_of_two() const { return (size_ & (size_ - 1)) == 0; }
  //! Per-rank counts (row_len values per chain, plus `extra`) and displacements, for
  //! the gathers of chain rows: they follow from the decomposition (no exchange).
  void chain_row_counts(std::int64_t row_len, std::int64_t global, int extra, std::vector<int>& counts,
                        std::vector<int>& displs) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

//! Pairwise sum of leaves [lo, hi) into leaves[lo]: halves while the count is even,
//! in order when odd. With a power-of-two rank count R dividing the leaf count, R
//! ranks holding aligned blocks and combining them by Comm::tree_allreduce give the
//! same bits.
template <class T>
void tree_sum(std::vector<std::vector<T>>& leaves, std::size_t lo, std::size_t hi) {
  const std::size_t n = hi - lo;
  if (n <= 1) return;
  if (n % 2 == 0) {
    tree_sum(leaves, lo, lo + n / 2);
    tree_sum(leaves, lo + n / 2, hi);
    auto& a = leaves[lo];
    const auto& b = leaves[lo + n / 2];
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  } else {
    auto& a = leaves[lo];
    for (std::size_t l = lo + 1; l < hi; ++l)
      for (std::size_t i = 0; i < a.size(); ++i) a[i] += leaves[l][i];
  }
}

//! Collective over `world` for the ranks that call it: true when every rank of `world`
//! called it within `seconds` (a non-blocking barrier, polled), false on a rank that
//! waited that long alone. For the error paths, where a rank cannot know whether the
//! others failed too.
bool all_ranks_arrive(MPI_Comm world, double seconds);

//! SIGTERM / SIGUSR1 (Slurm's --signal=B:USR1@300), a first SIGINT (Ctrl-C; a
//! second one ends the process at once) and run.max_hours ask the run to stop at
//! its next safe point; the decision is collective.
class StopControl {
 public:
  StopControl(const Comm& comm, double max_hours);
  ~StopControl();
  //! Collective: true on every rank once any rank saw a signal or the time limit.
  bool should_stop() const;

 private:
  const Comm& comm_;
  double deadline_s_;
  double start_s_;
};

}  // namespace zeta::parallel
