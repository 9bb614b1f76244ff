//! `zeta train` on RBMs: one CD-1 step against a gradient computed here from the
//! exact conditionals, bitwise-identical parameters on 1, 2 and 4 ranks
//! (train.deterministic), restart bit for bit (also on another rank count), a
//! diverging run that stops without touching the last checkpoint, and input
//! errors that name the key. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "train_support.hpp"
#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/estimators/rbm_exact.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/rbm.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using estimators::rbm_log_z_exact;
constexpr double kTol = sizeof(Real) == sizeof(double) ? 1e-12 : 1e-5;

std::string rank_tag(const parallel::Comm& c) {
  return "r" + std::to_string(c.rank()) + "of" + std::to_string(c.size());
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using test::dataset;
using test::run_train;
using test::train_error;

//! A CSV of n binary rows of width d with a little structure (two prototypes plus noise).
void write_binary_csv(const std::string& path, int n, int d, std::uint32_t seed) {
  std::ofstream out(path);
  for (int r = 0; r < n; ++r) {
    const rng::Stream st(seed, std::uint64_t(r), 0, rng::kInit);
    for (int i = 0; i < d; ++i) {
      const bool proto = (r % 2 == 0) ? (i < d / 2) : (i >= d / 2);
      const bool noise = st.uniform(std::uint32_t(i)) < 0.15;
      out << ((proto != noise) ? 1 : 0) << (i + 1 < d ? "," : "\n");
    }
  }
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// One CD-1 step with plain SGD (momentum 0) on nv = 4, nh = 3, batch 4, one partition:
//   θ' = θ − lr · g,  g = (1/B) Σ_n ∇F(v0_n) − (1/B) Σ_n ∇F(v1_n),
//   ∇_W F(v) = −v p(h|v)ᵀ, ∇_b F(v) = −v, ∇_c F(v) = −p(h|v),
// with p(h_j = 1 | v) = σ(c_j + Σ_i v_i W_ij) evaluated here on the host from its
// formula. v0 is global batch 0 (the data layer's BatchPlan with the run's seed);
// v1 is one Gibbs sweep from v0 with the draws the trainer must use: the model's own
// sample_hidden / sample_visible keyed by (run.seed, global chain id n, counter
// step s·k + sweep = 0). So the test checks the phases, weights, signs, the RNG
// keys and the optimizer step, but not the RBM's conditionals against themselves.
// Run with both reductions: per-partition leaves (train.deterministic) and the fused
// rank-local gradient (Rbm::contrastive_gradient) with one allreduce.
class TrainCd : public ::testing::TestWithParam<bool> {};

TEST_P(TrainCd, OneStepMatchesHandComputedUpdate) {
  const bool deterministic = GetParam();
  parallel::Comm world(MPI_COMM_WORLD);
  parallel::Comm self(MPI_COMM_SELF);
  const std::string tag = rank_tag(world), csv = "cd1_" + tag + ".csv", params = "cd1_" + tag + "_init.h5";
  {
    std::ofstream out(csv);
    out << "1,0,1,1\n0,1,1,0\n1,1,0,0\n0,0,1,1\n";
  }
  io::RbmParams p;
  p.kind = models::RbmKind::bernoulli;
  p.visible = 4;
  p.hidden = 3;
  p.W = {0.5, -0.3, 0.2, -0.4, 0.8, 0.1, 0.3, 0.05, -0.6, -0.2, 0.4, 0.7};
  p.b = {0.1, -0.2, 0.3, 0.0};
  p.c = {-0.1, 0.2, 0.05};
  io::write_rbm_params(params, p);
  const std::uint32_t seed = 17;
  const double lr = 0.25;
  const auto res = run_train("", {"--model.type=rbm", "--model.hidden=3", "--model.params=" + params,
                                  "--data.type=csv", "--data.path=" + csv, "--data.partitions=1",
                                  "--train.objective=cd", "--train.k=1", "--train.batch=4", "--train.optimizer=sgd",
                                  "--train.momentum=0", "--train.lr=0.25", "--train.eval_every=0", "--run.steps=1",
                                  "--run.seed=17", "--output.file=",
                                  std::string("--train.deterministic=") + (deterministic ? "true" : "false")},
                             self);
  ASSERT_EQ(res.steps_done, 1);

  // v0: global batch 0.
  data::DataSpec ds;
  ds.type = data::FileType::csv;
  ds.path = csv;
  ds.partitions = 1;
  const auto d = data::load(ds, seed, self);
  data::BatchPlan plan(d.train, 1, 4, seed);
  Matrix<Space> v0("v0", 4, 4), v1("v1", 4, 4), h("h", 4, 3);
  auto hv0 = Kokkos::create_mirror_view(v0);
  plan.copy_batch(0, d.train, hv0.data());
  Kokkos::deep_copy(v0, hv0);
  // v1: the model's own draws with the trainer's keys (chain n, step 0).
  models::Rbm<Space> rbm(models::RbmKind::bernoulli, 4, 3);
  rbm.set_params(p.flat());
  rbm.sample_hidden(v0, 1.0, h, seed, 0, 0);
  rbm.sample_visible(h, 1.0, v1, seed, 0, 0);
  auto hv1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v1);
  bool moved = false;
  for (int n = 0; n < 4; ++n)
    for (int i = 0; i < 4; ++i) moved |= hv0(n, i) != hv1(n, i);
  ASSERT_TRUE(moved) << "the negative phase should differ from the data for this test to mean something";

  std::vector<double> g(12 + 4 + 3, 0.0);
  auto accumulate = [&](const auto& v, double w) {
    for (int n = 0; n < 4; ++n) {
      double ph[3];
      for (int j = 0; j < 3; ++j) {
        double x = p.c[j];
        for (int i = 0; i < 4; ++i) x += double(v(n, i)) * p.W[i * 3 + j];
        ph[j] = sigmoid(x);
      }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) g[i * 3 + j] += w * -double(v(n, i)) * ph[j];
      for (int i = 0; i < 4; ++i) g[12 + i] += w * -double(v(n, i));
      for (int j = 0; j < 3; ++j) g[16 + j] += w * -ph[j];
    }
  };
  accumulate(hv0, 0.25);
  accumulate(hv1, -0.25);
  const auto theta0 = p.flat();
  ASSERT_EQ(res.params.size(), theta0.size());
  double change = 0;
  for (std::size_t q = 0; q < theta0.size(); ++q) {
    EXPECT_NEAR(res.params[q], theta0[q] - lr * g[q], kTol) << "parameter " << q;
    change += std::fabs(res.params[q] - theta0[q]);
  }
  EXPECT_GT(change, 1e-3);
  std::remove(csv.c_str());
  std::remove(params.c_str());
}

INSTANTIATE_TEST_SUITE_P(Reductions, TrainCd, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Deterministic" : "Fused"; });

const char* kSmall = R"(
[run]
seed = 5
steps = 24
[model]
type = rbm
hidden = 5
init_seed = 3
[data]
type = csv
partitions = 4
holdout = 0.25
[train]
k = 2
batch = 8
chains = 12
eval_every = 4
ais_every = 8
ais_steps = 200
ais_chains = 13
optimizer = adam
lr = 0.05
)";

struct Files {
  std::string csv;
  Files(const parallel::Comm& world, const std::string& name) : csv("train_" + name + ".csv") {
    if (world.root()) write_binary_csv(csv, 64, 10, 99);
    world.barrier();
  }
};

const std::vector<std::string> kCheckpointData = {"/model/rbm/W",   "/model/rbm/b",       "/model/rbm/c",
                                                  "/optimizer/m",   "/train/step",        "/train/recon_error",
                                                  "/train/pseudo_loglik", "/train/free_energy_data",
                                                  "/train/free_energy_model", "/train/grad_norm",
                                                  "/train/ais_step", "/train/log_z", "/train/log_z_stderr",
                                                  "/train/heldout_loglik", "/train/heldout_loglik_stderr"};

// 1, 2, 4 ranks against one rank: bitwise-identical parameters and monitors with
// train.deterministic = true; close (1e-10 relative) with one MPI_Allreduce.
TEST(TrainRanks, DeterministicIsBitwiseAndAllreduceIsClose) {
  parallel::Comm world(MPI_COMM_WORLD);
  Files f(world, "ranks");
  for (const std::string obj : {"cd", "pcd"}) {
    const std::string many = "ranks_" + obj + "_world.h5", one = "ranks_" + obj + "_self.h5";
    const auto rw = run_train(kSmall, {"--data.path=" + f.csv, "--train.objective=" + obj, "--output.file=" + many},
                              world);
    test::expect_reduce_shares(rw, world.size(), obj);
    if (world.root()) {
      parallel::Comm self(MPI_COMM_SELF);
      const auto rs = run_train(kSmall, {"--data.path=" + f.csv, "--train.objective=" + obj, "--output.file=" + one},
                                self);
      EXPECT_TRUE(rw.params == rs.params) << obj << ": parameters differ between " << world.size() << " ranks and 1";
      EXPECT_EQ(rw.recon_error, rs.recon_error) << obj;
      EXPECT_EQ(rw.pseudo_loglik, rs.pseudo_loglik) << obj;
      EXPECT_EQ(rw.free_energy_model, rs.free_energy_model) << obj;
      for (const auto& ds : kCheckpointData) {
        if (ds.rfind("/optimizer", 0) == 0) continue;
        EXPECT_TRUE(dataset(many, ds) == dataset(one, ds)) << obj << " " << ds;
      }
      // The AIS evaluations (steps 8, 16 and the end, 24): the last ln Z against
      // the exact one of the final parameters, within 4 of its standard errors.
      const auto ais_steps = dataset(one, "/train/ais_step"), log_z = dataset(one, "/train/log_z"),
                 log_z_se = dataset(one, "/train/log_z_stderr"), ll = dataset(one, "/train/heldout_loglik");
      EXPECT_EQ(ais_steps, (std::vector<double>{8, 16, 24})) << obj;
      models::Rbm<Space> final_rbm(models::RbmKind::bernoulli, 10, 5);
      final_rbm.set_params(rs.params);
      const double exact = estimators::rbm_log_z_exact(final_rbm);
      EXPECT_LT(std::fabs(log_z.back() - exact), 4 * log_z_se.back())
          << obj << ": AIS " << log_z.back() << " +- " << log_z_se.back() << ", exact " << exact;
      EXPECT_LT(ll.back(), 0.0) << obj;
      // Training moved the parameters and the monitors are sane.
      EXPECT_EQ(rw.evaluated_at, 24);  // the monitors at run.steps too (eval_every = 4 stops at 20)
      EXPECT_EQ(dataset(one, "/train/step"), (std::vector<double>{0, 4, 8, 12, 16, 20, 24})) << obj;
      EXPECT_GT(rw.recon_error, 0.0);
      EXPECT_LT(rw.recon_error, 0.5);
      EXPECT_LT(rw.pseudo_loglik, 0.0);
      std::remove(many.c_str());
      std::remove(one.c_str());
    }
    world.barrier();
    // Non-deterministic reduction: one sum over the ranks per step, through shared
    // memory (train.reduction = shared) or MPI_Allreduce (mpi); close to the one-rank run.
    const auto nw = run_train(kSmall, {"--data.path=" + f.csv, "--train.objective=" + obj,
                                       "--train.deterministic=false", "--output.file="},
                              world);
    test::expect_reduce_shares(nw, world.size(), obj);
    const auto mw = run_train(kSmall,
                              {"--data.path=" + f.csv, "--train.objective=" + obj, "--train.deterministic=false",
                               "--train.reduction=mpi", "--output.file="},
                              world);
    test::expect_reduce_shares(mw, world.size(), obj);
    if (world.root()) {
      parallel::Comm self(MPI_COMM_SELF);
      const auto ns = run_train(kSmall, {"--data.path=" + f.csv, "--train.objective=" + obj,
                                         "--train.deterministic=false", "--output.file="},
                                self);
      test::expect_reduce_shares(ns, 1, obj);
      ASSERT_EQ(nw.params.size(), ns.params.size());
      double scale = 0, diff = 0;
      for (std::size_t q = 0; q < ns.params.size(); ++q) {
        scale = std::max(scale, std::fabs(ns.params[q]));
        diff = std::max(diff, std::fabs(nw.params[q] - ns.params[q]));
      }
      // Float PCD: a rounding difference in the gradient (another summation order) can
      // flip one Bernoulli draw of a persistent chain, and the flip persists: the runs
      // then agree only as two samples of the same training (a few percent of |θ|).
      const double tol = sizeof(Real) == sizeof(double) ? 1e-9 : (obj == "pcd" ? 0.05 : 1e-4);
      EXPECT_LE(diff, tol * scale) << obj;
      std::printf("[ train    ] %s: max |theta(allreduce, %d ranks) - theta(1 rank)| = %.3g of max |theta| = %.3g\n",
                  obj.c_str(), world.size(), diff, scale);
      double dm = 0;
      for (std::size_t q = 0; q < ns.params.size(); ++q) dm = std::max(dm, std::fabs(mw.params[q] - ns.params[q]));
      EXPECT_LE(dm, tol * scale) << obj << ", train.reduction = mpi";
      // The one-rank allreduce run is the whole-batch gradient: close to the tree too
      // (Adam's division by sqrt(v) amplifies rounding: 24 steps give ~2e-10 relative).
      double dt = 0;
      for (std::size_t q = 0; q < ns.params.size(); ++q) dt = std::max(dt, std::fabs(rw.params[q] - ns.params[q]));
      EXPECT_LE(dt, tol * scale) << obj;
    }
    world.barrier();
  }
  if (world.root()) std::remove(f.csv.c_str());
}

// N steps straight == N/2, checkpoint, restart, N/2: byte-identical parameters,
// optimizer state, PCD chains and monitor series, restarting on the same rank
// count and (deterministic mode) on one rank; also when the first part is
// stopped by run.max_hours (StopControl) instead of run.steps.
TEST(TrainCheckpoint, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  Files f(world, "restart");
  const std::string tag = "restart_n" + std::to_string(world.size());
  const std::string straight = tag + "_straight.ckpt", half = tag + "_half.ckpt";
  auto args = [&](std::vector<std::string> extra) {
    extra.push_back("--data.path=" + f.csv);
    extra.push_back("--output.file=");
    return extra;
  };
  const auto a = run_train(kSmall, args({"--checkpoint.file=" + straight}), world);
  ASSERT_EQ(a.status, "ok");
  const auto h1 = run_train(kSmall, args({"--run.steps=12", "--checkpoint.file=" + half}), world);
  ASSERT_EQ(h1.steps_done, 12);
  std::vector<std::string> sets = kCheckpointData;
  sets.push_back("/train/chains");
  sets.push_back("/optimizer/v");
  if (world.root()) {
    const std::string copy = tag + "_half_copy.ckpt";
    {
      std::ofstream(copy, std::ios::binary) << bytes_of(half);
    }
    parallel::Comm self(MPI_COMM_SELF);
    // Resume on one rank.
    const auto b = run_train(kSmall, args({"--checkpoint.file=" + copy, "--checkpoint.restart=true"}), self);
    EXPECT_EQ(b.steps_done, 24);
    EXPECT_TRUE(b.params == a.params);
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(copy, ds)) << ds << " (restart on 1 rank)";
    std::remove(copy.c_str());
    std::remove((copy + ".prev").c_str());
  }
  world.barrier();
  // Resume on the same ranks.
  const auto c = run_train(kSmall, args({"--checkpoint.file=" + half, "--checkpoint.restart=true"}), world);
  EXPECT_TRUE(c.params == a.params);
  if (world.root()) {
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(half, ds)) << ds << " (restart)";
  }
  world.barrier();
  // Stopped by the time limit after its first step, then resumed.
  const std::string stopped = tag + "_stopped.ckpt";
  const auto s1 = run_train(kSmall, args({"--run.max_hours=1e-12", "--checkpoint.file=" + stopped}), world);
  EXPECT_EQ(s1.status, "interrupted");
  EXPECT_LT(s1.steps_done, 24);
  const auto s2 = run_train(kSmall, args({"--checkpoint.file=" + stopped, "--checkpoint.restart=true"}), world);
  EXPECT_EQ(s2.status, "ok");
  EXPECT_TRUE(s2.params == a.params);
  if (world.root()) {
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(stopped, ds)) << ds << " (max_hours)";
  }
  // A shorter run that ends off the train.eval_every grid (10 of 4) has its final
  // monitors at step 10; continued to 24 it drops them and ends as the straight run.
  const std::string short_run = tag + "_short.ckpt";
  run_train(kSmall, args({"--run.steps=10", "--checkpoint.file=" + short_run}), world);
  if (world.root()) {
    EXPECT_EQ(dataset(short_run, "/train/step"), (std::vector<double>{0, 4, 8, 10}));
    EXPECT_EQ(dataset(short_run, "/train/ais_step"), (std::vector<double>{8, 10}));  // AIS at run.steps too
  }
  world.barrier();
  const auto e2 = run_train(kSmall, args({"--checkpoint.file=" + short_run, "--checkpoint.restart=true"}), world);
  EXPECT_TRUE(e2.params == a.params);
  if (world.root()) {
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(short_run, ds)) << ds << " (continued)";
  }
  world.barrier();
  // A restart at run.steps exactly makes no step and adds no row.
  const auto again = run_train(kSmall, args({"--checkpoint.file=" + straight, "--checkpoint.restart=true"}), world);
  EXPECT_EQ(again.evaluated_at, 24);
  if (world.root()) {
    EXPECT_EQ(dataset(straight, "/train/step"), (std::vector<double>{0, 4, 8, 12, 16, 20, 24}));
    EXPECT_EQ(dataset(straight, "/train/ais_step"), (std::vector<double>{8, 16, 24}));
  }
  world.barrier();
  // A checkpoint of another model or objective is refused by name.
  try {
    run_train(kSmall, args({"--model.hidden=6", "--run.steps=30", "--checkpoint.file=" + straight,
                            "--checkpoint.restart=true"}),
              world);
    ADD_FAILURE() << "a checkpoint of 5 hidden units was accepted for 6";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.hidden"), std::string::npos) << e.what();
  }
  try {
    run_train(kSmall, args({"--train.objective=cd", "--run.steps=30", "--checkpoint.file=" + straight,
                            "--checkpoint.restart=true"}),
              world);
    ADD_FAILURE() << "a pcd checkpoint was accepted for cd";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.objective"), std::string::npos) << e.what();
  }
  // The checkpoint is a valid model.params file for a new run.
  const auto fresh = run_train(kSmall, args({"--model.params=" + straight, "--run.steps=1"}), world);
  EXPECT_EQ(fresh.steps_done, 1);
  world.barrier();
  if (world.root())
    for (const auto& p : {straight, half, stopped, short_run})
      for (const std::string sfx : {"", ".prev"}) std::remove((p + sfx).c_str());
  world.barrier();
  if (world.root()) std::remove(f.csv.c_str());
}

// An absurd learning rate with weight decay makes |θ| grow by ~1e30 per step until
// it overflows: one clear error on every rank, and the checkpoint and output
// files of the last good run are left byte for byte as they were.
TEST(TrainDivergence, NanStopsWithoutTouchingTheCheckpoint) {
  parallel::Comm world(MPI_COMM_WORLD);
  Files f(world, "nan");
  const std::string ck = "nan_n" + std::to_string(world.size()) + ".ckpt",
                    out = "nan_n" + std::to_string(world.size()) + ".h5";
  // The same configuration (sgd), so that the diverging run may replace its checkpoint.
  run_train(kSmall,
            {"--data.path=" + f.csv, "--run.steps=4", "--train.optimizer=sgd", "--checkpoint.file=" + ck,
             "--output.file=" + out},
            world);
  std::string before_ck, before_out;
  if (world.root()) before_ck = bytes_of(ck), before_out = bytes_of(out);
  world.barrier();
  try {
    run_train(kSmall, {"--data.path=" + f.csv, "--run.steps=200", "--train.optimizer=sgd", "--train.lr=1e30",
                       "--train.weight_decay=1", "--checkpoint.file=" + ck, "--output.file=" + out},
              world);
    ADD_FAILURE() << "a diverging run finished";
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("train.lr"), std::string::npos) << e.what();
  }
  world.barrier();
  if (world.root()) {
    EXPECT_EQ(bytes_of(ck), before_ck) << "the last good checkpoint was modified";
    EXPECT_EQ(bytes_of(out), before_out) << "the output of the last good run was modified";
    std::ifstream prev(ck + ".prev");
    EXPECT_FALSE(prev.good()) << "a checkpoint was rotated";
    std::ifstream partial(out + ".partial");
    EXPECT_FALSE(partial.good()) << "a partial output was left";
    std::remove(ck.c_str());
    std::remove(out.c_str());
    std::remove(f.csv.c_str());
  }
  world.barrier();
}

// A Gaussian RBM has no pseudo-log-likelihood (its conditional density has no closed
// form): no all-NaN column and no JSON figure. Tables whose monitor never ran (AIS
// here) are not written; the step column is int64 and ends at run.steps.
TEST(TrainGaussian, WritesOnlyTheMonitorsItComputes) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string csv = "gauss_n" + std::to_string(world.size()) + ".csv",
                    out = "gauss_n" + std::to_string(world.size()) + ".h5";
  if (world.root()) {
    std::ofstream o(csv);
    for (int r = 0; r < 64; ++r) {
      const rng::Stream st(7, std::uint64_t(r), 0, rng::kInit);
      for (int i = 0; i < 6; ++i) o << (st.uniform(std::uint32_t(i)) - 0.5) * 2 << (i + 1 < 6 ? "," : "\n");
    }
  }
  world.barrier();
  const auto r = run_train(
      "",
      {"--model.type=rbm", "--model.visible=gaussian", "--model.hidden=3", "--data.type=csv", "--data.path=" + csv,
       "--train.batch=8", "--train.chains=8", "--run.steps=13", "--train.eval_every=5", "--output.file=" + out},
      world);
  EXPECT_EQ(r.evaluated_at, 13);
  const std::string json = r.json.str();
  EXPECT_EQ(json.find("pseudo_loglik"), std::string::npos) << json;
  EXPECT_TRUE(std::isfinite(r.recon_error));
  if (world.root()) {
    io::Handle f = io::open_read(out);
    EXPECT_FALSE(io::exists(f.id(), "/train/pseudo_loglik"));
    EXPECT_FALSE(io::exists(f.id(), "/train/ais_step"));
    EXPECT_FALSE(io::exists(f.id(), "/train/log_z"));
    EXPECT_TRUE(io::exists(f.id(), "/train/recon_error"));
    EXPECT_EQ(io::read_array<std::int64_t>(f.id(), out, "/train/step", {}), (std::vector<std::int64_t>{0, 5, 10, 13}));
    io::Handle d(H5Dopen2(f.id(), "/train/step", H5P_DEFAULT), H5Dclose);
    io::Handle t(H5Dget_type(d.id()), H5Tclose);
    EXPECT_EQ(H5Tget_class(t.id()), H5T_INTEGER);
    f.reset();
    std::remove(out.c_str());
    std::remove(csv.c_str());
  }
  world.barrier();
}

// Defaults per model kind: zeta train defaults to an RBM (which it trains), with the
// RBM's optimizer settings; model.type = mlp takes the MLP's; a value given wins.
TEST(TrainInput, DefaultsPerModelKind) {
  const auto resolved = [](std::vector<std::string> overrides) {
    Config cfg;
    apps::declare_train_app_keys(cfg);
    cfg.parse_text("", overrides);
    return cfg;
  };
  const Config rbm = resolved({});
  EXPECT_EQ(rbm.get_string("model.type"), "rbm");
  EXPECT_EQ(rbm.get_string("train.optimizer"), "sgd");
  EXPECT_EQ(rbm.get_double("train.lr"), 0.1);
  EXPECT_EQ(rbm.get_double("train.momentum"), 0.5);
  EXPECT_NE(rbm.resolved_ini().find("optimizer = sgd\n"), std::string::npos);
  const Config mlp = resolved({"--model.type=mlp"});
  EXPECT_EQ(mlp.get_string("train.optimizer"), "adam");
  EXPECT_EQ(mlp.get_double("train.lr"), 1e-3);
  const Config given = resolved({"--train.optimizer=adam", "--train.lr=0.003"});
  EXPECT_EQ(given.get_string("train.optimizer"), "adam");
  EXPECT_EQ(given.get_double("train.lr"), 0.003);
  const Config net = resolved({"--model.type=net"});
  EXPECT_EQ(net.get_string("train.optimizer"), "adam");
  EXPECT_EQ(net.get_double("train.lr"), 1e-3);
  EXPECT_NE(rbm.help_text().find("train.optimizer = rbm: sgd, mlp: adam, net: adam\n"), std::string::npos);
}

TEST(TrainInput, ErrorsNameTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  Files f(world, "input");
  const std::string data = "--data.path=" + f.csv;
  EXPECT_NE(train_error(kSmall, {data, "--train.chains=10"}, world).find("train.chains"), std::string::npos);
  EXPECT_NE(train_error(kSmall, {data, "--train.batch=10"}, world).find("train.batch"), std::string::npos);
  EXPECT_NE(train_error(kSmall, {data, "--model.type=gaussian"}, world).find("model.type"), std::string::npos);
  EXPECT_NE(train_error(kSmall, {data, "--train.reduction=ring", "--train.deterministic=false"}, world)
                .find("train.reduction"),
            std::string::npos);
  // The deterministic mode sums in its fixed tree: a reduction choice is refused there.
  EXPECT_NE(
      train_error(kSmall, {data, "--train.reduction=mpi", "--train.deterministic=true"}, world).find("train.reduction"),
      std::string::npos);
  // model.params whose W does not fit the data's 10 features: names both.
  const std::string params = "input_params_n" + std::to_string(world.size()) + ".h5";
  if (world.root()) {
    io::RbmParams p;
    p.visible = 7;
    p.hidden = 5;
    p.W.assign(35, 0.0);
    p.b.assign(7, 0.0);
    p.c.assign(5, 0.0);
    io::write_rbm_params(params, p);
  }
  world.barrier();
  const auto e = train_error(kSmall, {data, "--model.params=" + params}, world);
  EXPECT_NE(e.find("model.params"), std::string::npos) << e;
  EXPECT_NE(e.find("10 features"), std::string::npos) << e;
  EXPECT_NE(e.find(f.csv), std::string::npos) << e;
  // Deterministic mode needs a power-of-two rank count dividing the partitions.
  if (world.size() > 1) {
    const auto e3 = train_error(kSmall,
                                {data, "--data.partitions=" + std::to_string(world.size() + 1),
                                 "--train.batch=" + std::to_string(world.size() + 1),
                                 "--train.chains=" + std::to_string(4 * (world.size() + 1))},
                                world);
    EXPECT_NE(e3.find("train.deterministic"), std::string::npos) << e3;
  }
  world.barrier();
  if (world.root()) {
    std::remove(params.c_str());
    std::remove(f.csv.c_str());
  }
}

}  // namespace
}  // namespace zeta
