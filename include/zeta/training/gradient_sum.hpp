//! The flat parameter gradient of a training step and its sum over ranks
//! (deterministic: a pairwise tree over partitions, then Comm::tree_allreduce;
//! otherwise one SharedSum / MPI_Allreduce), with the clock of that reduction.
#pragma once
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "zeta/core/json.hpp"
#include "zeta/core/types.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/parallel/shared_sum.hpp"
#include "zeta/training/optimizer.hpp"

namespace zeta::training {

//! Rows [first, first + count) of a row-major matrix, as a view into it.
template <class Space>
Matrix<Space> row_block(const Matrix<Space>& m, std::int64_t first, std::int64_t count) {
  return Matrix<Space>(m.data() + std::size_t(first) * m.extent(1), count, m.extent(1));
}

template <class Space>
void copy_to_host(const Vector<Space>& d, std::vector<Real>& out) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  out.assign(h.data(), h.data() + h.size());
}

template <class Space>
void copy_to_device(const std::vector<Real>& in, const Vector<Space>& d) {
  const Kokkos::View<const Real*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(in.data(), in.size());
  Kokkos::deep_copy(d, h);
}

//! Global sums of m monitor values given per local partition (per_partition: nloc × m):
//! deterministic, summed partition by partition in order (the same bits on any rank
//! count); otherwise summed here and over ranks by one allreduce (collective).
inline std::vector<double> partition_sums(const parallel::Comm& comm, const parallel::Share& mine, bool deterministic,
                                          const std::vector<double>& per_partition, int m) {
  if (deterministic) return comm.ordered_sum(per_partition, m, mine);
  std::vector<double> out(std::size_t(m), 0.0);
  for (std::size_t k = 0; k < per_partition.size(); ++k) out[k % std::size_t(m)] += per_partition[k];
  comm.allreduce_sum(out);
  return out;
}

//! The wall seconds a rank spends summing the gradient over ranks, waiting for the
//! slower ranks included (the kernels before it are fenced outside the clock).
struct ReduceClock {
  double seconds = 0;
  template <class F>
  void time(F&& f) {
    Kokkos::fence();
    Kokkos::Timer t;
    f();
    seconds += t.seconds();
  }
};

//! The JSON figures of the gradient reduction (collective): allreduce_fraction, the
//! share of the step loop's `loop_s` spent in it, averaged over ranks, and
//! allreduce_fraction_min, the smallest share of any rank: the rank that waited least
//! for the others, so about the communication itself. Both are 0 on one rank.
inline void add_reduce_json(JsonSummary& j, const parallel::Comm& comm, const ReduceClock& clock, double loop_s) {
  const double mine = comm.size() > 1 && loop_s > 0 ? clock.seconds / loop_s : 0.0;
  std::vector<double> sum{mine};
  comm.allreduce_sum(sum);
  j.add("allreduce_fraction", sum[0] / comm.size());
  j.add("allreduce_fraction_min", -comm.max(-mine));
}

//! The flat gradient g of every objective and its sum over ranks, the trainer's one
//! reduction. Where Space reaches host memory, g is the SharedSum's buffer itself, so
//! the model writes its gradient where the ranks sum it; else it is a buffer of its
//! own, copied through the SharedSum's. Without `shared` (train.reduction = mpi)
//! the SharedSum is one MPI_Allreduce.
template <class Space>
class GradientSum {
 public:
  GradientSum(const parallel::Comm& comm, std::size_t n_params, bool shared)
      : comm_(comm), sum_(comm, n_params, 0, shared) {
    if constexpr (kHostKernels<Space>)
      g_ = Vector<Space>(sum_.data(), sum_.size());
    else
      g_ = Vector<Space>("zeta::training::grad_theta", n_params);
  }

  const Vector<Space>& g() const { return g_; }
  //! Seconds this rank spent summing gradients over ranks, waiting included.
  const ReduceClock& clock() const { return clock_; }

  //! g summed over ranks in place.
  void allreduce() {
    clock_.time([&] {
      if (g_.data() == sum_.data()) return sum_.sum();
      const Kokkos::View<Real*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> buf(sum_.data(),
                                                                                                sum_.size());
      Kokkos::deep_copy(buf, g_);
      sum_.sum();
      Kokkos::deep_copy(g_, buf);
    });
  }

  //! The global gradient into g: deterministic, leaf(l, g) adds partition l's gradient
  //! to a zeroed g for each of the `nloc` local partitions, the leaves are summed in the
  //! pairwise tree, then over ranks by Comm::tree_allreduce; otherwise all(g) adds the
  //! rank's gradient to a zeroed g and allreduce() sums the ranks.
  template <class Leaf, class All>
  void reduce(bool deterministic, std::int64_t nloc, Leaf&& leaf, All&& all) {
    if (deterministic) {
      leaves_.resize(nloc);
      for (std::int64_t l = 0; l < nloc; ++l) {
        Kokkos::deep_copy(g_, Real(0));
        leaf(l, g_);
        copy_to_host<Space>(g_, leaves_[l]);
      }
      parallel::tree_sum(leaves_, 0, leaves_.size());
      host_.swap(leaves_[0]);
      clock_.time([&] { comm_.tree_allreduce(host_); });
      copy_to_device<Space>(host_, g_);
    } else {
      Kokkos::deep_copy(g_, Real(0));
      all(g_);
      allreduce();
    }
  }

  //! ‖g‖ (the same on every rank, as g is), and whether it is finite: a NaN or ±Inf
  //! entry makes the sum of squares non-finite (so does a sum beyond the double
  //! range, 1e154 per entry, which is divergence too). update() reuses it.
  double norm(bool& finite) {
    const double sq = squared_norm<Space>(g_);
    finite = !comm_.any(!std::isfinite(sq));
    return norm_ = std::sqrt(sq);
  }

  //! Step s's update of θ by `opt` from g, with the ‖g‖ of norm() where that ran this
  //! step (else the update's pass computes it, and checks g with θ in one
  //! collective). Returns null, or what holds NaN or ±Inf: the gradient or the
  //! updated θ (the same verdict on every rank).
  const char* update(Optimizer<Space>& opt, const Vector<Space>& theta, std::int64_t s, std::int64_t steps) {
    opt.apply(theta, g_, s, steps, norm_);
    const char* bad = nullptr;
    if (comm_.any(!opt.finite())) {
      bool finite = true;
      norm(finite);
      bad = finite ? "the updated parameter vector" : "the parameter gradient";
    }
    norm_ = -1;
    return bad;
  }

 private:
  const parallel::Comm& comm_;
  parallel::SharedSum<Real> sum_;
  Vector<Space> g_;
  std::vector<Real> host_;                 //!< deterministic: the tree sum, summed over ranks
  std::vector<std::vector<Real>> leaves_;  //!< deterministic: one gradient per local partition
  ReduceClock clock_;
  double norm_ = -1;  //!< ‖g‖ from norm() this step, else -1
};

}  // namespace zeta::training
