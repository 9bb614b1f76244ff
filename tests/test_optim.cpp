//! The trainer's optimizers against a plain host re-implementation of their
//! published update rules, the learning-rate schedules at known steps, clipping
//! by global norm, bad [train] keys, and the fixed-order (pairwise tree) gradient
//! reduction that gives the same bits at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "zeta/core/error.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/optimizer.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using training::OptimizerSpec;

Vector<Space> to_device(const std::vector<double>& x) {
  Vector<Space> d("x", x.size());
  auto h = Kokkos::create_mirror_view(d);
  for (std::size_t i = 0; i < x.size(); ++i) h(i) = Real(x[i]);
  Kokkos::deep_copy(d, h);
  return d;
}
std::vector<double> to_host(const Vector<Space>& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

OptimizerSpec spec_from(const std::vector<std::string>& args) {
  Config cfg;
  training::declare_optimizer_keys(cfg);
  cfg.parse_text("", args);
  return training::read_optimizer_spec(cfg);
}

// A quadratic loss ½ Σ a_i θ_i² with gradient a_i θ_i, five steps of each optimizer
// against the update rules written out on the host.
TEST(Optimizer, MatchesReferenceUpdates) {
  const std::vector<double> a = {0.5, 2.0, -1.0, 3.0, 0.1};
  for (const char* kind : {"sgd", "adam"}) {
    const auto s = spec_from({std::string("--train.optimizer=") + kind, "--train.lr=0.1", "--train.momentum=0.8",
                              "--train.weight_decay=0.01", "--train.lr_schedule=step", "--train.lr_step_every=2",
                              "--train.lr_gamma=0.5"});
    std::vector<double> theta = {1.0, -0.5, 0.25, 2.0, -3.0}, m(5, 0.0), v(5, 0.0);
    auto p = to_device(theta);
    training::Optimizer<Space> opt(s, 5);
    for (int t = 0; t < 5; ++t) {
      std::vector<double> g(5);
      for (int i = 0; i < 5; ++i) g[i] = a[i] * theta[i];
      opt.apply(p, to_device(g), t, 5);
      const double lr = 0.1 * std::pow(0.5, t / 2);
      for (int i = 0; i < 5; ++i) {
        const double gi = g[i] + 0.01 * theta[i];
        if (std::string(kind) == "sgd") {
          m[i] = t == 0 ? gi : 0.8 * m[i] + gi;
          theta[i] -= lr * m[i];
        } else {
          m[i] = 0.9 * m[i] + 0.1 * gi;
          v[i] = 0.999 * v[i] + 0.001 * gi * gi;
          const double mh = m[i] / (1 - std::pow(0.9, t + 1)), vh = v[i] / (1 - std::pow(0.999, t + 1));
          theta[i] -= lr * mh / (std::sqrt(vh) + 1e-8);
        }
      }
      const auto got = to_host(p);
      for (int i = 0; i < 5; ++i)
        EXPECT_NEAR(got[i], theta[i], 1e-12 + 1e-5 * (sizeof(Real) == 4)) << kind << " t=" << t;
    }
    EXPECT_EQ(opt.steps(), 5);
  }
}

TEST(Optimizer, SchedulesAndClipping) {
  auto c = spec_from({"--train.lr=0.2", "--train.lr_schedule=cosine", "--train.lr_min=0.02"});
  EXPECT_DOUBLE_EQ(training::learning_rate(c, 0, 101), 0.2);
  EXPECT_NEAR(training::learning_rate(c, 50, 101), 0.11, 1e-15);
  EXPECT_NEAR(training::learning_rate(c, 100, 101), 0.02, 1e-15);
  EXPECT_DOUBLE_EQ(training::learning_rate(spec_from({"--train.lr=0.3"}), 77, 100), 0.3);
  // Plain SGD with the gradient clipped to norm 1: the step is lr times the unit direction.
  const auto s = spec_from({"--train.optimizer=sgd", "--train.momentum=0", "--train.lr=0.5", "--train.clip_norm=1"});
  auto p = to_device({0, 0, 0});
  training::Optimizer<Space> opt(s, 3);
  const double norm = opt.apply(p, to_device({3, 0, 4}), 0, 1);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  const auto got = to_host(p);
  EXPECT_NEAR(got[0], -0.5 * 0.6, 1e-7);
  EXPECT_NEAR(got[2], -0.5 * 0.8, 1e-7);
  // The state round-trips through save/load.
  std::vector<double> m, v;
  std::int64_t steps = 0;
  opt.save(m, v, steps);
  training::Optimizer<Space> other(s, 3);
  other.load(m, v, steps);
  EXPECT_EQ(other.steps(), 1);
}

// Without clipping the update's own pass gives ‖g‖, with squared_norm's bits (n = 9001:
// several blocks, runs of 8 and a partial run), and finite() says whether the
// gradient and the updated parameters are finite.
TEST(Optimizer, UpdatePassGivesTheNormAndFlagsNonFinite) {
  const std::size_t n = 9001;
  std::vector<double> g(n), zeros(n, 0.0);
  double sq = 0;
  for (std::size_t i = 0; i < n; ++i) {
    g[i] = std::sin(0.37 * double(i)) * (1 + double(i % 13));
    sq += double(Real(g[i])) * double(Real(g[i]));
  }
  for (const char* kind : {"sgd", "adam"}) {
    const auto s = spec_from({std::string("--train.optimizer=") + kind, "--train.lr=0.01"});
    training::Optimizer<Space> opt(s, n);
    auto p = to_device(zeros);
    const auto gd = to_device(g);
    const double norm = opt.apply(p, gd, 0, 10);
    EXPECT_NEAR(norm, std::sqrt(sq), 1e-12 * std::sqrt(sq)) << kind;
    EXPECT_EQ(norm, std::sqrt(training::squared_norm<Space>(gd))) << kind << ": squared_norm's bits";
    EXPECT_TRUE(opt.finite()) << kind;
    // A norm the caller passes comes back unchanged.
    EXPECT_EQ(opt.apply(p, to_device(g), 1, 10, 2.5), 2.5) << kind;
    // A NaN, then an infinite entry in the gradient (the last entry: the partial run).
    for (double bad : {std::nan(""), HUGE_VAL}) {
      auto gb = g;
      gb[n - 1] = bad;
      training::Optimizer<Space> o(s, n);
      auto q = to_device(zeros);
      EXPECT_FALSE(std::isfinite(o.apply(q, to_device(gb), 0, 10))) << kind;
      EXPECT_FALSE(o.finite()) << kind << " gradient entry " << bad;
    }
  }
  // A finite gradient whose step overflows a parameter (lr = the largest Real).
  char lr[64];
  std::snprintf(lr, sizeof lr, "--train.lr=%.17g", double(std::numeric_limits<Real>::max()));
  const auto s = spec_from({"--train.optimizer=sgd", "--train.momentum=0", lr});
  training::Optimizer<Space> opt(s, 3);
  auto p = to_device({1.0, 0.5 * double(std::numeric_limits<Real>::max()), 0.0});
  opt.apply(p, to_device({0.0, -1.0, 0.0}), 0, 1);
  EXPECT_FALSE(opt.finite()) << "a parameter overflowed to +Inf";
  auto q = to_device({1.0, 2.0, 0.0});
  opt.apply(q, to_device({0.0, 0.0, 0.0}), 1, 2);
  EXPECT_TRUE(opt.finite());
}

TEST(Optimizer, BadKeysNameTheKey) {
  auto expect_key = [](const std::string& arg, const std::string& key) {
    try {
      spec_from({arg});
      ADD_FAILURE() << arg << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  expect_key("--train.optimizer=rmsprop", "train.optimizer");
  expect_key("--train.lr=0", "train.lr");
  expect_key("--train.momentum=1", "train.momentum");
  expect_key("--train.adam_beta2=1.5", "train.adam_beta2");
  expect_key("--train.clip_norm=-1", "train.clip_norm");
  expect_key("--train.lr_schedule=linear", "train.lr_schedule");
}

// Pairwise-tree sum of the leaves [lo, lo + n) (n a power of two).
std::vector<Real> tree_sum(const std::vector<std::vector<Real>>& leaves, int lo, int n) {
  if (n == 1) return leaves[lo];
  auto a = tree_sum(leaves, lo, n / 2);
  const auto b = tree_sum(leaves, lo + n / 2, n / 2);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

// 8 partition gradients of widely different magnitudes, where the grouping of
// the sum changes the bits: each rank sums its aligned block, tree_allreduce
// combines the blocks, and every rank gets the one-process tree sum exactly.
TEST(TreeAllreduce, SameBitsOnAnyPowerOfTwoRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  ASSERT_TRUE(world.power_of_two());
  constexpr int D = 8, P = 1000;
  std::mt19937_64 gen(42);
  std::vector<std::vector<Real>> leaves(D, std::vector<Real>(P));
  for (int d = 0; d < D; ++d)
    for (auto& x : leaves[d]) x = Real(std::ldexp(std::uniform_real_distribution<double>(-1, 1)(gen), 3 * d - 12));
  const auto serial = tree_sum(leaves, 0, D);
  // A left fold gives other bits somewhere, so the test can tell groupings apart.
  std::vector<Real> fold = leaves[0];
  for (int d = 1; d < D; ++d)
    for (int i = 0; i < P; ++i) fold[i] += leaves[d][i];
  EXPECT_NE(fold, serial);
  const int per = D / world.size();
  auto mine = tree_sum(leaves, world.rank() * per, per);
  world.tree_allreduce(mine);
  EXPECT_EQ(mine, serial);
}

// The library's tree_sum (parallel/comm.hpp) groups the leaves as the pairwise tree
// above, in place into the first leaf.
TEST(TreeAllreduce, LibraryTreeSumIsThePairwiseTree) {
  constexpr int D = 8, P = 1000;
  std::mt19937_64 gen(43);
  std::vector<std::vector<Real>> leaves(D, std::vector<Real>(P));
  for (int d = 0; d < D; ++d)
    for (auto& x : leaves[d]) x = Real(std::ldexp(std::uniform_real_distribution<double>(-1, 1)(gen), 3 * d - 12));
  const auto serial = tree_sum(leaves, 0, D);
  zeta::parallel::tree_sum(leaves, 0, leaves.size());
  EXPECT_EQ(leaves[0], serial);
}

// Comm::ordered_sum: 8 blocks of 3 values of widely different magnitudes, spread over
// the ranks as the decomposition spreads them; every rank gets each sum added from 0
// in block order, the bits of one process adding them in that order.
TEST(OrderedSum, SameBitsOnAnyRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  constexpr int D = 8, m = 3;
  std::mt19937_64 gen(44);
  std::vector<double> all(D * m);
  for (int k = 0; k < D * m; ++k) all[k] = std::ldexp(std::uniform_real_distribution<double>(-1, 1)(gen), 5 * (k / m) - 20);
  std::vector<double> serial(m, 0.0), reverse(m, 0.0);
  for (int d = 0; d < D; ++d)
    for (int q = 0; q < m; ++q) serial[q] += all[d * m + q], reverse[q] += all[(D - 1 - d) * m + q];
  EXPECT_NE(reverse, serial);  // the order shows in the bits
  const parallel::ChainRange mine = world.chains(D);
  const std::vector<double> local(all.begin() + mine.offset * m, all.begin() + (mine.offset + mine.count) * m);
  EXPECT_EQ(world.ordered_sum(local, m, mine), serial);
}

}  // namespace
}  // namespace zeta
