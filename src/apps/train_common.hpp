//! What the per-model trainers of `zeta train` share (private to src/apps):
//! the validated [train] settings, the pairwise tree sum of per-partition
//! gradients, and the divergence error. train.cpp reads the keys and hands an
//! MLP over to train_mlp (train_mlp.cpp); the RBM trainer stays in train.cpp.
#pragma once
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/parallel/shared_sum.hpp"
#include "zeta/samplers/samplers.hpp"
#include "zeta/training/optimizer.hpp"

namespace zeta::apps::train_detail {

struct TrainSpec {
  std::uint32_t seed = 1;
  std::int64_t steps = 0;
  double max_hours = 0, progress_every = 5;
  bool pcd = true;
  bool dsm = false;
  int k = 1;
  std::int64_t batch = 0, chains = 0, eval_every = 0;
  std::int64_t ais_every = 0, ais_steps = 0, ais_chains = 0;
  bool deterministic = true;
  bool shared_reduction = true;  //!< train.reduction = shared (else mpi)
  //! dsm: the noise scales (one, or several for multi-σ DSM) and the grid of the NLL monitor.
  std::vector<double> sigma;
  std::int64_t grid_points = 0;
  //! mlp cd / pcd: the Langevin negatives (step size, clip, clamp, fresh-state scale),
  //! the replay buffer over all ranks, its re-initialisation probability, and the
  //! energy regulariser α.
  SamplerSpec langevin;
  std::int64_t buffer_size = 0;
  double reinit_prob = 0.05, energy_reg = 0;
  training::OptimizerSpec opt;
  std::string file;
};

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
inline void add_reduce_json(JsonSummary& j, const Comm& comm, const ReduceClock& clock, double loop_s) {
  const double mine = comm.size() > 1 && loop_s > 0 ? clock.seconds / loop_s : 0.0;
  std::vector<double> sum{mine};
  comm.allreduce_sum(sum);
  j.add("allreduce_fraction", sum[0] / comm.size());
  j.add("allreduce_fraction_min", -comm.max(-mine));
}

//! Pairwise sum of leaves [lo, hi): halves while the count is even, in order when odd.
//! With a power-of-two rank count R dividing the leaf count, R ranks holding
//! aligned blocks and combining them by Comm::tree_allreduce give the same bits.
inline void tree_sum(std::vector<std::vector<Real>>& leaves, std::size_t lo, std::size_t hi) {
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

//! A trainer's flat gradient g and its sum over ranks, the one reduction of both
//! trainers. Where Space reaches host memory, g is the SharedSum's buffer itself, so
//! the model writes its gradient where the ranks sum it; else it is the model's own
//! buffer, copied through the SharedSum's. Without `shared` (train.reduction = mpi)
//! the SharedSum is one MPI_Allreduce.
template <class Space>
class GradientSum {
 public:
  template <class Model>
  GradientSum(const Comm& comm, const Model& model, bool shared)
      : comm_(comm), sum_(comm, model.n_params(), 0, shared) {
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible)
      g_ = Vector<Space>(sum_.data(), sum_.size());
    else
      g_ = model.gradient_buffer();
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
      tree_sum(leaves_, 0, leaves_.size());
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
    const double sq = training::squared_norm<Space>(g_);
    finite = !comm_.any(!std::isfinite(sq));
    return norm_ = std::sqrt(sq);
  }

  //! Step s's update of θ by `opt` from g, with the ‖g‖ of norm() where that ran this
  //! step (else the update's pass computes it, and checks g with θ in one
  //! collective). Returns null, or what holds NaN or ±Inf: the gradient or the
  //! updated θ (the same verdict on every rank).
  const char* update(training::Optimizer<Space>& opt, const Vector<Space>& theta, std::int64_t s, std::int64_t steps) {
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
  const Comm& comm_;
  SharedSum<Real> sum_;
  Vector<Space> g_;
  std::vector<Real> host_;                 //!< deterministic: the tree sum, summed over ranks
  std::vector<std::vector<Real>> leaves_;  //!< deterministic: one gradient per local partition
  ReduceClock clock_;
  double norm_ = -1;  //!< ‖g‖ from norm() this step, else -1
};

// ---- the checkpoint parts both trainers share -----------------------------------------
// A monitor table S has `std::vector<std::vector<double>*> all()` and the matching
// `static names()`; its columns are the checkpoint's /train/NAME datasets.

template <class S>
void write_series(hid_t f, S s) {  // a copy: all() hands out non-const pointers
  const auto cols = s.all();
  for (std::size_t q = 0; q < cols.size(); ++q)
    io::write_array(f, "/train/" + S::names()[q], {cols[q]->size()}, cols[q]->data());
}

//! The same columns in an output file (collective; rank 0's values are written).
template <class S>
void write_series(io::OutputFile& out, S s) {
  const auto cols = s.all();
  for (std::size_t q = 0; q < cols.size(); ++q)
    out.write_root_double("/train/" + S::names()[q], {cols[q]->size()}, cols[q]->data());
}

//! Reads the columns of `s`; columns of different lengths are corruption (`what`: the table's name).
template <class S>
void read_series(hid_t f, const std::string& file, S& s, const std::string& what) {
  const auto cols = s.all();
  for (std::size_t q = 0; q < cols.size(); ++q) *cols[q] = io::read_array<double>(f, file, "/train/" + S::names()[q], {});
  for (std::size_t q = 1; q < cols.size(); ++q)
    if (cols[q]->size() != cols[0]->size()) throw Error("checkpoint " + what + " series differ in length (corrupt)", false);
}

template <class S>
void broadcast_series(const Comm& comm, S& s) {
  for (auto* col : s.all()) comm.broadcast(*col);
}

//! The step and the optimizer's state: /run/step, /optimizer/{m, v, steps}.
struct TrainState {
  std::vector<std::int64_t> head{0, 0};  //!< step, optimizer steps
  std::vector<double> m, v;
};

template <class Space>
void write_train_state(hid_t f, std::int64_t step, const training::Optimizer<Space>& opt) {
  std::vector<double> m, v;
  std::int64_t opt_steps = 0;
  opt.save(m, v, opt_steps);
  io::write_array(f, "/run/step", {1}, &step);
  io::write_array(f, "/optimizer/m", {m.size()}, m.data());
  io::write_array(f, "/optimizer/v", {v.size()}, v.data());
  io::write_array(f, "/optimizer/steps", {1}, &opt_steps);
}

//! Reads the state of a model with `n_params` parameters (v is empty unless `adam`).
inline TrainState read_train_state(hid_t f, const std::string& file, std::size_t n_params, bool adam) {
  TrainState st;
  st.head[0] = io::read_array<std::int64_t>(f, file, "/run/step", {1})[0];
  st.head[1] = io::read_array<std::int64_t>(f, file, "/optimizer/steps", {1})[0];
  st.m = io::read_array<double>(f, file, "/optimizer/m", {hsize_t(n_params)});
  st.v = io::read_array<double>(f, file, "/optimizer/v", {hsize_t(adam ? n_params : 0)});
  return st;
}

//! Corruption checks of a read state with its parameters θ.
inline void check_train_state(const TrainState& st, const std::vector<double>& theta, const std::string& file) {
  if (st.head[0] < 0 || st.head[1] != st.head[0])
    throw Error("checkpoint step and optimizer step count disagree (corrupt)", false);
  for (double x : theta)
    if (!std::isfinite(x)) throw Error("checkpoint '" + file + "' holds non-finite parameters (corrupt)", false);
}

inline void broadcast_train_state(const Comm& comm, TrainState& st) {
  comm.broadcast(st.head);
  comm.broadcast(st.m);
  comm.broadcast(st.v);
}

//! A restart that is already at run.steps has nothing to do.
inline void require_steps_left(const TrainSpec& ts, const io::CheckpointSpec& ck, std::int64_t step) {
  if (step >= ts.steps)
    config_error("run.steps", "is " + std::to_string(ts.steps) + " but checkpoint '" + ck.file +
                                  "' is already at step " + std::to_string(step) + ": nothing to do");
}

[[noreturn]] void diverged(std::int64_t step, const std::string& what, const TrainSpec& ts,
                           const io::CheckpointSpec& ck);

//! Trains model.type = mlp by denoising score matching (train_mlp.cpp); `ts`,
//! `ms`, `dspec` and `ck` are validated by train(), `timer` started there.
TrainResult train_mlp(const Config& cfg, const Comm& comm, const TrainSpec& ts, const ModelSpec& ms,
                      const data::DataSpec& dspec, const io::CheckpointSpec& ck, Kokkos::Timer& timer);

}  // namespace zeta::apps::train_detail
