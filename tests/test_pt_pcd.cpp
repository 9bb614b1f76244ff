//! PCD with a tempered negative phase (train.objective = pt_pcd, training/rbm_tempered.hpp,
//! training/mlp_tempered.hpp):
//! on a two-mode RBM whose β = 1 Gibbs chains cannot cross between modes, the β = 1
//! replicas of PT-PCD have the exact model expectation of the visible units (the
//! negative phase of the bias gradient) within 4 standard errors, where plain PCD's
//! chains at the same cost stay where they started; an MLP trained by PT-PCD on two 2-D
//! Gaussians of weights 0.2 / 0.8 gets the weights, PCD at the same cost loses the small
//! mode; the adapted ladder (train.temper_adapt) equalises the swap acceptance that the
//! geometric one leaves uneven; the same bits on 1, 2 and 4 ranks and restart bit for bit
//! (RBM and MLP, with a fixed and an adapting ladder, restarted mid-adaptation); input
//! errors that name the key. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/training/rbm_tempered.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
constexpr int kVisible = 12;

using test::dataset;
using test::error_of;
using test::run_train;

//! A CSV of 1024 binary rows of 12 units from two modes, weights 0.2 (units on with
//! probability 0.9) and 0.8 (0.1), from Stream(21, row, 0, kInit); written by rank 0.
struct BimodalCsv {
  std::string path;
  const parallel::Comm& comm;
  BimodalCsv(const parallel::Comm& c, const std::string& name) : path(name + ".csv"), comm(c) {
    if (comm.root()) {
      std::ofstream f(path);
      for (int r = 0; r < 1024; ++r) {
        const rng::Stream st(21, std::uint64_t(r), 0, rng::kInit);
        const double on = st.uniform(0) < 0.2 ? 0.9 : 0.1;
        for (int i = 0; i < kVisible; ++i)
          f << (st.uniform(std::uint32_t(1 + i)) < on ? 1 : 0) << (i + 1 < kVisible ? "," : "\n");
      }
    }
    comm.barrier();
  }
  ~BimodalCsv() {
    comm.barrier();
    if (comm.root()) std::remove(path.c_str());
  }
};

const std::string kBase = R"(
[run]
seed = 3
steps = 40
[model]
type = rbm
hidden = 2
init_seed = 5
[data]
type = csv
partitions = 4
holdout = 0.125
[train]
chains = 12
batch = 16
k = 1
eval_every = 10
)";
const std::string kTempered = kBase + "objective = pt_pcd\ntemper_count = 5\ntemper_beta_min = 0.2\n";

// The two-mode RBM: 12 visible units, one hidden unit h with W = 6 on every unit, visible
// biases b = −3 and hidden bias c = −37.4. Given h = 0 the units are on with probability
// σ(−3) = 0.047, given h = 1 with σ(3) = 0.953, and c puts about 0.2 of the mass on h = 1.
// At β = 1 a chain leaves its mode only through a state with Σv = 6 (h then flips with
// probability σ(±1.4)), which either mode reaches with probability 924 · 0.047⁶ · 0.953⁶
// ≈ 8e-6 per sweep: a few crossings in the 64 · 40000 sweeps below. At β = 0.05 every
// conditional is within σ(±1.9).
constexpr double kW = 6, kB = -3, kC = -37.4;
std::vector<double> two_mode_theta() {
  std::vector<double> t(kVisible, kW);  // W [visible, hidden = 1]
  t.insert(t.end(), kVisible, kB);      // b
  t.push_back(kC);                      // c
  return t;
}

//! ⟨Σ_i v_i⟩ / 12 under p(v) ∝ exp(bᵀv + softplus(c + wᵀv)), by enumeration.
double exact_mean_unit() {
  double z = 0, m = 0;
  for (int v = 0; v < (1 << kVisible); ++v) {
    const int k = __builtin_popcount(unsigned(v));
    const double w = std::exp(kB * k + kmath::softplus(kC + kW * k));
    z += w;
    m += w * k / double(kVisible);
  }
  return m / z;
}

//! The objective with access to its negative-phase rows (PCD's chain rows; PT-PCD copies its
//! β = 1 replicas there).
template <class Base>
struct Probe : Base {
  using Base::Base;
  std::vector<double> negatives() const { return host_copy(this->vneg_); }
};

//! Mean and batch-means standard error of the per-step means of Σv/8 over the negatives,
//! over `steps` steps after `burn_in`.
template <class Obj>
std::pair<double, double> negative_mean(Obj& obj, const parallel::Comm& comm, std::int64_t burn_in,
                                        std::int64_t steps) {
  training::GradientSum<Space> g(comm, obj.n_params(), true);
  std::vector<double> per_step;
  for (std::int64_t s = 0; s < burn_in + steps; ++s) {
    obj.gradient(s, g);
    if (s < burn_in) continue;
    const auto v = obj.negatives();
    double t = 0;
    for (double x : v) t += x;
    per_step.push_back(t / double(v.size()));
  }
  const std::size_t nb = 20, len = per_step.size() / nb;
  std::vector<double> block(nb, 0.0);
  double mean = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    for (std::size_t q = 0; q < len; ++q) block[b] += per_step[b * len + q] / double(len);
    mean += block[b] / double(nb);
  }
  double var = 0;
  for (double x : block) var += (x - mean) * (x - mean) / double(nb - 1);
  return {mean, std::sqrt(var / double(nb))};
}

TEST(PtPcd, NegativePhaseHasTheExactModelMeanWherePcdIsStuck) {
  parallel::Comm self(MPI_COMM_SELF);
  const BimodalCsv csv(self, "pt_pcd_exact");
  const auto build = [&](const std::string& ini) {
    Config cfg;
    apps::declare_train_app_keys(cfg);
    cfg.parse_text(ini, {"--data.path=" + csv.path, "--model.hidden=1", "--train.chains=64"});
    return training::read_train_setup(cfg, self);
  };
  const training::TrainSetup pt = build(kBase + "objective = pt_pcd\ntemper_count = 10\ntemper_beta_min = 0.05\n");
  const training::TrainSetup pcd = build(kBase + "objective = pcd\n");
  const data::Dataset d = data::load(pt.data, pt.train.seed, self);
  const std::vector<double> base(kVisible, 0.0);
  models::Rbm<Space> rbm_pt(models::RbmKind::bernoulli, kVisible, 1), rbm_pcd(models::RbmKind::bernoulli, kVisible, 1);
  rbm_pt.set_params(two_mode_theta());
  rbm_pcd.set_params(two_mode_theta());
  Probe<training::RbmTempered> t(pt.train, d, rbm_pt, base, self);
  Probe<training::RbmContrastive> p(pcd.train, d, rbm_pcd, base, self);
  t.start();
  p.start();
  // PT-PCD moves 10 replicas per chain: plain PCD gets 10 times the steps.
  const auto [mt, set] = negative_mean(t, self, 200, 4000);
  const auto [mp, sep] = negative_mean(p, self, 2000, 40000);
  const double exact = exact_mean_unit();
  std::printf("[ pt_pcd   ] <v> exact %.4f, pt_pcd %.4f +- %.4f (round trips %lld), pcd %.4f +- %.4f\n", exact, mt, set,
              static_cast<long long>(t.exchange().total_round_trips()), mp, sep);
  EXPECT_NEAR(mt, exact, 4 * set);
  EXPECT_LT(set, 0.01);
  EXPECT_GT(t.exchange().total_round_trips(), 100);
  // PCD keeps the split its chains started with (about all in the off-mode).
  EXPECT_GT(std::fabs(mp - exact), 0.05);
  EXPECT_GT(std::fabs(mp - exact), 10 * std::max(sep, set));
}

//! Swap acceptance per neighbour pair over steps [from, to) of a tempered objective's
//! exchange (the counts then, less those at `from`), with the attempts of the least tried pair.
struct PairAcceptance {
  std::vector<double> rate;
  std::int64_t min_attempts = 0;
  double spread() const {
    return *std::max_element(rate.begin(), rate.end()) - *std::min_element(rate.begin(), rate.end());
  }
};
PairAcceptance acceptance_between(training::RbmTempered& t, const parallel::Comm& comm, std::int64_t from,
                                  std::int64_t to) {
  training::GradientSum<Space> g(comm, t.n_params(), true);
  std::vector<std::int64_t> att0, acc0;
  for (std::int64_t s = 0; s < to; ++s) {
    if (s == from) att0 = t.exchange().attempts(), acc0 = t.exchange().accepts();
    t.gradient(s, g);
  }
  PairAcceptance p;
  p.min_attempts = std::numeric_limits<std::int64_t>::max();
  for (std::size_t k = 0; k < att0.size(); ++k) {
    // The adapted ladder's statistics restart at the end of its adaptation (= `from` here).
    const bool reset = t.exchange().attempts()[k] < att0[k];
    const std::int64_t n = t.exchange().attempts()[k] - (reset ? 0 : att0[k]);
    p.rate.push_back(double(t.exchange().accepts()[k] - (reset ? 0 : acc0[k])) / double(n));
    p.min_attempts = std::min(p.min_attempts, n);
  }
  return p;
}

// train.temper_adapt on the two-mode RBM (fixed parameters): the geometric ladder from
// β = 0.05 accepts unevenly (0.92 for the hottest pair, 0.50 for the coldest); after 600
// steps of adaptation (6 windows) the acceptance over the next 1200 steps is flat: the
// spread (max − min over the 7 pairs) within 10 binomial standard errors sqrt(1/4 / n),
// n the least tried pair's attempts (about 4.6 here, against the geometric's 160), for
// acceptance and for barrier. Here: geometric 0.423, acceptance 0.012, barrier 0.011, se 0.0026.
TEST(PtPcd, AdaptedLadderEqualisesSwapAcceptance) {
  parallel::Comm self(MPI_COMM_SELF);
  const BimodalCsv csv(self, "pt_pcd_adapt");
  const auto build = [&](const std::string& extra) {
    Config cfg;
    apps::declare_train_app_keys(cfg);
    cfg.parse_text(kBase + "objective = pt_pcd\ntemper_count = 8\ntemper_beta_min = 0.05\n" + extra,
                   {"--data.path=" + csv.path, "--model.hidden=1", "--train.chains=64"});
    return training::read_train_setup(cfg, self);
  };
  const training::TrainSetup geo = build("");
  const training::TrainSetup ada = build("temper_adapt = acceptance\ntemper_adapt_steps = 600\n");
  const training::TrainSetup bar = build("temper_adapt = barrier\ntemper_adapt_steps = 600\n");
  const data::Dataset d = data::load(geo.data, geo.train.seed, self);
  const std::vector<double> base(kVisible, 0.0);
  const auto measure = [&](const training::TrainSetup& ts, std::vector<double>& betas) {
    models::Rbm<Space> rbm(models::RbmKind::bernoulli, kVisible, 1);
    rbm.set_params(two_mode_theta());
    training::RbmTempered t(ts.train, d, rbm, base, self);
    t.start();
    const PairAcceptance p = acceptance_between(t, self, 600, 1800);
    betas = t.betas();
    return p;
  };
  std::vector<double> bg, ba, bb;
  const PairAcceptance g = measure(geo, bg), a = measure(ada, ba), b = measure(bar, bb);
  const auto line = [](const char* what, const std::vector<double>& v) {
    std::printf("[ pt_pcd   ] %s", what);
    for (double x : v) std::printf(" %.3f", x);
    std::printf("\n");
  };
  line("geometric betas     ", bg);
  line("geometric acceptance", g.rate);
  line("adapted betas       ", ba);
  line("adapted acceptance  ", a.rate);
  line("barrier betas       ", bb);
  line("barrier acceptance  ", b.rate);
  const double se = std::sqrt(0.25 / double(a.min_attempts));
  std::printf("[ pt_pcd   ] spread geometric %.3f, acceptance %.3f, barrier %.3f (se %.4f)\n", g.spread(), a.spread(),
              b.spread(), se);
  EXPECT_LT(a.spread(), 10 * se);
  EXPECT_LT(b.spread(), 10 * se);
  EXPECT_GT(g.spread(), 40 * se);
  // The ends stay: beta_min and the target's 1.
  for (const auto* v : {&ba, &bb}) {
    EXPECT_EQ(v->front(), bg.front());
    EXPECT_EQ(v->back(), 1.0);
    for (std::size_t k = 1; k < v->size(); ++k) EXPECT_GT((*v)[k], (*v)[k - 1]);
  }
  EXPECT_NE(ba, bg);
}

// The same parameters, monitors and checkpoint on every rank count; a restart, on the
// same ranks or on one, ends as the straight run. `ini`: with a fixed or an adapting ladder.
void expect_same_bits_and_restart(const std::string& ini, const std::string& name, std::vector<std::string> sets) {
  const std::string& kTempered = ini;
  parallel::Comm world(MPI_COMM_WORLD);
  const BimodalCsv csv(world, name);
  const std::string tag = name + "_n" + std::to_string(world.size());
  const std::string straight = tag + "_straight.ckpt", half = tag + "_half.ckpt";
  const auto args = [&](std::vector<std::string> extra) {
    extra.push_back("--data.path=" + csv.path);
    extra.push_back("--output.file=");
    return extra;
  };
  const auto a = run_train(kTempered, args({"--checkpoint.file=" + straight}), world);
  ASSERT_EQ(a.status, "ok");
  EXPECT_NE(a.json.str().find("\"objective\": \"pt_pcd\""), std::string::npos) << a.json.str();
  EXPECT_GT(test::json_figure(a.json.str(), "round_trips"), 0) << a.json.str();
  for (const char* ds : {"/train/replicas", "/train/exchange", "/train/exchange_prob", "/train/chains",
                         "/train/free_energy_model", "/model/rbm/W"})
    sets.push_back(ds);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const std::string one = tag + "_one.ckpt";
    const auto b = run_train(kTempered, args({"--checkpoint.file=" + one}), self);
    EXPECT_TRUE(b.params == a.params) << world.size() << " ranks and 1";
    EXPECT_EQ(test::json_figure(a.json.str(), "round_trips"), test::json_figure(b.json.str(), "round_trips"));
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(one, ds)) << ds << " (1 rank)";
    std::remove(one.c_str());
    std::remove((one + ".prev").c_str());
  }
  world.barrier();
  const auto h = run_train(kTempered, args({"--run.steps=17", "--checkpoint.file=" + half}), world);
  ASSERT_EQ(h.steps_done, 17);
  const auto c = run_train(kTempered, args({"--checkpoint.file=" + half, "--checkpoint.restart=true"}), world);
  EXPECT_EQ(c.steps_done, 40);
  EXPECT_TRUE(c.params == a.params) << "restart";
  if (world.root()) {
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(half, ds)) << ds << " (restart)";
    for (const std::string& f : {straight, half}) {
      std::remove(f.c_str());
      std::remove((f + ".prev").c_str());
    }
  }
  world.barrier();
}

TEST(PtPcd, SameBitsOnEveryRankCountAndRestart) {
  expect_same_bits_and_restart(kTempered, "pt_pcd_ranks", {});
}

// Adapting: windows end at steps 2, 6, 14 and 30 of 40, the restart at 17 is mid-adaptation;
// the checkpoint holds the ladder of the moment.
TEST(PtPcd, AdaptingLadderSameBitsOnEveryRankCountAndRestart) {
  expect_same_bits_and_restart(
      kTempered + "temper_adapt = acceptance\ntemper_adapt_steps = 30\ntemper_adapt_rounds = 4\n", "pt_pcd_adapt_ranks",
      {"/train/temper_betas", "/train/temper_window_attempts", "/train/temper_window_prob"});
}

// A checkpoint whose ladder is not one (β_2 above β_3, edited by hand with the checksums
// removed, as an earlier zeta's checkpoint has none) is refused naming the dataset, on
// every rank.
TEST(PtPcd, CheckpointWithABrokenLadderIsRefused) {
  parallel::Comm world(MPI_COMM_WORLD);
  const BimodalCsv csv(world, "pt_pcd_bad_ladder");
  const std::string ckpt = "pt_pcd_bad_ladder_n" + std::to_string(world.size()) + ".ckpt";
  const std::string ini = kTempered + "temper_adapt = acceptance\ntemper_adapt_steps = 30\n";
  const std::vector<std::string> args = {"--data.path=" + csv.path, "--output.file=", "--checkpoint.file=" + ckpt};
  std::vector<std::string> first = args;
  first.push_back("--run.steps=17");
  run_train(ini, first, world);
  if (world.root()) {
    const hid_t f = H5Fopen(ckpt.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    EXPECT_GE(H5Adelete(f, "zeta_crc32"), 0);
    const hid_t d = H5Dopen2(f, "/train/temper_betas", H5P_DEFAULT);
    std::vector<double> b(5);
    EXPECT_GE(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data()), 0);
    EXPECT_LT(b[1], b[2]);
    std::swap(b[1], b[2]);
    EXPECT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data()), 0);
    H5Dclose(d);
    H5Fclose(f);
  }
  world.barrier();
  std::vector<std::string> again = args;
  again.push_back("--checkpoint.restart=true");
  const std::string e = error_of([&] { run_train(ini, again, world); });
  EXPECT_NE(e.find("/train/temper_betas"), std::string::npos) << e;
  world.barrier();
  if (world.root())
    for (const std::string& f : {ckpt, ckpt + ".prev"}) std::remove(f.c_str());
  world.barrier();
}

// An MLP energy's tempered negative phase: the same bits on every rank count, restart
// bit for bit, the exchange working (swaps accepted, round trips).
const std::string kMlp = R"(
[run]
seed = 4
steps = 30
[model]
type = mlp
layers = 2,16,16,1
activation = silu
init_seed = 2
[data]
type = synthetic
shape = ring8
examples = 512
heldout_examples = 128
partitions = 4
[train]
objective = pt_pcd
temper_count = 4
temper_beta_min = 0.1
batch = 32
k = 5
eval_every = 10
grid_points = 32
optimizer = adam
lr = 0.003
[sampler]
step_size = 0.01
clamp = -4, 4
)";

void expect_mlp_same_bits_and_restart(const std::string& kMlp, const std::string& name, std::vector<std::string> sets) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string tag = name + "_n" + std::to_string(world.size());
  const std::string straight = tag + "_straight.ckpt", half = tag + "_half.ckpt";
  const auto a = run_train(kMlp, {"--checkpoint.file=" + straight, "--output.file="}, world);
  ASSERT_EQ(a.status, "ok");
  const std::string json = a.json.str();
  EXPECT_NE(json.find("\"objective\": \"pt_pcd\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"sampler\": \"langevin_tempered\""), std::string::npos) << json;
  EXPECT_GT(test::json_figure(json, "round_trips"), 0) << json;
  for (const char* ds : {"/train/replicas", "/train/exchange", "/train/loss", "/train/heldout_nll"}) sets.push_back(ds);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const std::string one = tag + "_one.ckpt";
    const auto b = run_train(kMlp, {"--checkpoint.file=" + one, "--output.file="}, self);
    EXPECT_TRUE(b.params == a.params) << world.size() << " ranks and 1";
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(one, ds)) << ds << " (1 rank)";
    std::remove(one.c_str());
    std::remove((one + ".prev").c_str());
  }
  world.barrier();
  run_train(kMlp, {"--run.steps=13", "--checkpoint.file=" + half, "--output.file="}, world);
  const auto c = run_train(kMlp, {"--checkpoint.file=" + half, "--checkpoint.restart=true", "--output.file="}, world);
  EXPECT_EQ(c.steps_done, 30);
  EXPECT_TRUE(c.params == a.params) << "restart";
  if (world.root()) {
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(half, ds)) << ds << " (restart)";
    for (const std::string& f : {straight, half}) {
      std::remove(f.c_str());
      std::remove((f + ".prev").c_str());
    }
  }
  world.barrier();
}

TEST(PtPcdMlp, SameBitsOnEveryRankCountAndRestart) {
  parallel::Comm world(MPI_COMM_WORLD);
  expect_mlp_same_bits_and_restart(kMlp, "pt_pcd_mlp", {});
  // train.chains is one chain per batch row; no replay buffer.
  // (No structured binding: a lambda capturing one is C++20, a warning for nvcc.)
  for (const auto& arg_key : std::vector<std::pair<std::string, std::string>>{
           {"--train.chains=48", "train.chains"}, {"--train.buffer_size=100", "train.buffer_size"}}) {
    const std::string e = error_of([&] { run_train(kMlp, {arg_key.first, "--output.file="}, world); });
    EXPECT_NE(e.find(arg_key.second), std::string::npos) << e;
  }
}

// Adapting (barrier): windows end at steps 2, 8 and 20 of 30, the restart at 13 is
// mid-adaptation.
TEST(PtPcdMlp, AdaptingLadderSameBitsOnEveryRankCountAndRestart) {
  expect_mlp_same_bits_and_restart(
      kMlp + "[train]\ntemper_adapt = barrier\ntemper_adapt_steps = 20\ntemper_adapt_rounds = 3\n", "pt_pcd_mlp_adapt",
      {"/train/temper_betas", "/train/temper_window_prob"});
}

// The exchange round of step s compares the replicas' energies after the step's last
// Langevin move at the step's parameters, of the levels it pairs only (all four in even
// rounds, levels 1 and 2 in odd ones): replaying round s + 1 from the checkpoint of the
// step before (its θ and exchange state) on the energies of the checkpointed replicas
// (the swaps move labels, not states) gives the run's labels, counts and Σ min(1, α).
// A wide ladder (β from 0.005) so that many pairs have α < 1, some are refused, and
// energies from elsewhere (before the last move, or another step's θ) would show.
TEST(PtPcdMlp, SwapsUseTheEnergiesAfterTheLastMove) {
  parallel::Comm world(MPI_COMM_WORLD);
  const int K = 4, chains = 32;
  const std::string ck = "pt_pcd_mlp_swaps_n" + std::to_string(world.size()) + ".ckpt", prev = ck + ".prev";
  for (const int steps : {15, 16}) {  // rounds 15 (odd) and 16 (even)
    run_train(kMlp,
              {"--run.steps=" + std::to_string(steps), "--train.temper_beta_min=0.005", "--checkpoint.file=" + ck,
               "--checkpoint.every_steps=1", "--output.file="},
              world);
    if (world.root()) {
      ASSERT_EQ(dataset(prev, "/run/step"), std::vector<double>{double(steps - 1)});
      models::Mlp<Space> mlp(io::read_mlp_params(prev, {2, 16, 16, 1}), models::Activation::silu);
      const auto xs = dataset(ck, "/train/replicas");
      const std::int64_t R = std::int64_t(K) * chains;
      ASSERT_EQ(xs.size(), std::size_t(2 * R));
      Matrix<Space> x("x", R, 2);
      Vector<Space> E("E", R);
      auto hx = Kokkos::create_mirror_view(x);
      for (std::int64_t r = 0; r < R; ++r)
        for (int i = 0; i < 2; ++i) hx(r, i) = Real(xs[std::size_t(2 * r + i)]);
      Kokkos::deep_copy(x, hx);
      mlp.energy(x, E);
      const auto state = [](const std::string& f) {
        const auto v = dataset(f, "/train/exchange");
        return std::vector<std::int64_t>(v.begin(), v.end());
      };
      tempering::ReplicaExchange replay(K, chains), run(K, chains);
      replay.load_state(state(prev), dataset(prev, "/train/exchange_prob"));
      run.load_state(state(ck), dataset(ck, "/train/exchange_prob"));
      std::vector<double> betas = tempering::make_ladder(0.005, 1.0, K, "geometric");
      betas.back() = 1.0;
      const auto before = replay.accepts();
      const auto tried_before = replay.attempts();
      const auto prob_before = replay.accept_prob_sum();
      replay.round(steps, tempering::SwapScheme::deo, betas, host_copy(E), 4, true);
      EXPECT_EQ(replay.save_state(), run.save_state()) << "round " << steps;
      std::int64_t tried = 0, taken = 0;
      double below_one = 0;  // Σ (1 − min(1, α)) over the round's pairs
      for (int k = 0; k + 1 < K; ++k) {
        EXPECT_NEAR(replay.accept_prob_sum()[k], run.accept_prob_sum()[k], 1e-9) << "round " << steps << " pair " << k;
        tried += replay.attempts()[k] - tried_before[k];
        taken += replay.accepts()[k] - before[k];
        below_one += double(replay.attempts()[k] - tried_before[k]) - (replay.accept_prob_sum()[k] - prob_before[k]);
        // Odd rounds pair levels 1 and 2 only (K = 4), even ones 0-1 and 2-3.
        EXPECT_EQ(replay.attempts()[k] - tried_before[k], (k % 2 == steps % 2) ? chains : 0) << k;
      }
      std::printf("[ pt_pcd   ] round %d: %lld of %lld swaps taken, sum of 1 - min(1, alpha) %.2f\n", steps,
                  static_cast<long long>(taken), static_cast<long long>(tried), below_one);
      EXPECT_LT(taken, tried);
      EXPECT_GT(below_one, 0.25);
    }
    world.barrier();
  }
  if (world.root())
    for (const std::string& f : {ck, prev}) std::remove(f.c_str());
  world.barrier();
}

// The issue's bimodal case: a mixture of two 2-D Gaussians (std 0.4) at (−2, 0) and
// (2, 0) with weights 0.2 / 0.8. The trained model's weight of the left mode, from its
// energy on the NLL grid (/landscape), is within 0.05 of the training data's with
// PT-PCD (5 replicas, β from 0.05, k = 5: 30 energy gradients per chain and step), and
// far off with PCD at the same cost (k = 29), whose chains and fresh restarts settle in
// the basins they start in and do not cross the barrier (about 12 nats at β = 1).
// Here: 0.185 against the data's 0.192, PCD 0.003 (held-out NLL 1.514 against 2.271);
// on numpy draws of the same mixture, seeds 1-3 gave PT-PCD 0.209 (3000 steps), 0.231,
// 0.183 and PCD 0.000 (data 0.208).
TEST(PtPcdMlp, TwoModesGetTheirWeightsWherePcdLosesOne) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string csv = "pt_pcd_bimodal.csv";
  const int n = 6000, train_rows = 4800;  // data.holdout = 0.2 takes the last rows
  double left = 0;
  if (world.root()) {
    std::ofstream f(csv);
    char line[64];
    for (int r = 0; r < n; ++r) {
      const rng::Stream st(31, std::uint64_t(r), 0, rng::kInit);
      double z[2];
      rng::host_normals(31, std::uint64_t(r), 1, rng::kInit, 2, [&](int i, Real v) { z[i] = double(v); });
      const bool l = st.uniform(0) < 0.2;
      if (l && r < train_rows) left += 1.0 / train_rows;
      std::snprintf(line, sizeof line, "%.6f,%.6f\n", (l ? -2.0 : 2.0) + 0.4 * z[0], 0.4 * z[1]);
      f << line;
    }
  }
  world.broadcast(left);
  const std::string base = R"(
[run]
seed = 1
steps = 2000
[model]
type = mlp
layers = 2,32,32,1
activation = silu
init_seed = 1
[data]
type = csv
path = pt_pcd_bimodal.csv
holdout = 0.2
partitions = 4
[sampler]
step_size = 0.04
clamp = -4, 4
[train]
batch = 32
eval_every = 1000
grid_points = 64
optimizer = adam
lr = 0.01
lr_schedule = cosine
)";
  const auto weight_left = [&](const std::string& h5) {
    std::vector<hsize_t> dims;
    const auto E = io::read_doubles(h5, "/landscape/energy", dims);
    const auto xs = dataset(h5, "/landscape/x");
    double emin = INFINITY, z = 0, l = 0;
    for (double e : E) emin = std::min(emin, e);
    for (std::size_t q = 0; q < E.size(); ++q) {
      const double p = std::exp(-(E[q] - emin));
      z += p;
      if (xs[q % xs.size()] < 0) l += p;
    }
    return l / z;
  };
  const auto pt = run_train(base + "objective = pt_pcd\ntemper_count = 5\ntemper_beta_min = 0.05\nk = 5\n",
                            {"--output.file=pt_pcd_bimodal_pt.h5"}, world);
  const auto pcd = run_train(base + "objective = pcd\nk = 29\n", {"--output.file=pt_pcd_bimodal_pcd.h5"}, world);
  ASSERT_EQ(pt.status, "ok");
  ASSERT_EQ(pcd.status, "ok");
  if (world.root()) {
    const double wpt = weight_left("pt_pcd_bimodal_pt.h5"), wpcd = weight_left("pt_pcd_bimodal_pcd.h5");
    std::printf("[ pt_pcd   ] left mode weight: data %.3f, pt_pcd %.3f (NLL %.3f), pcd %.3f (NLL %.3f)\n", left, wpt,
                pt.heldout_nll, wpcd, pcd.heldout_nll);
    EXPECT_NEAR(wpt, left, 0.05);
    EXPECT_GT(std::fabs(wpcd - left), 0.1);
    EXPECT_LT(pt.heldout_nll, pcd.heldout_nll);
    for (const char* f : {"pt_pcd_bimodal_pt.h5", "pt_pcd_bimodal_pcd.h5", csv.c_str()}) {
      std::remove(f);
      std::remove(io::landscape_xmf_path(f).c_str());
    }
  }
  world.barrier();
}

TEST(PtPcd, BadInputNamesTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const BimodalCsv csv(world, "pt_pcd_input");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--train.temper_count=1"}, "train.temper_count"},  // one temperature
      {{"--train.temper_count=0"}, "train.temper_count"},
      {{"--train.temper_beta_min=1"}, "train.temper_beta_min"},
      {{"--train.temper_beta_min=0"}, "train.temper_beta_min"},
      {{"--train.objective=pcd"}, "train.temper_count"},  // its keys with plain pcd
      // The ladder's adaptation: nothing to move with 2 levels, a step count, a rule.
      {{"--train.temper_adapt=acceptance", "--train.temper_adapt_steps=10", "--train.temper_count=2"},
       "train.temper_adapt"},
      {{"--train.temper_adapt=acceptance", "--train.temper_adapt_steps=10", "--train.temper_count=1"},
       "train.temper_count"},
      {{"--train.temper_adapt=acceptance"}, "train.temper_adapt_steps"},
      {{"--train.temper_adapt=barrier", "--train.temper_adapt_steps=-3"}, "train.temper_adapt_steps"},
      {{"--train.temper_adapt=fast", "--train.temper_adapt_steps=10"}, "train.temper_adapt"},
      {{"--train.temper_adapt=acceptance", "--train.temper_adapt_steps=10", "--train.temper_adapt_rounds=41"},
       "train.temper_adapt_rounds"},
      {{"--train.temper_adapt=acceptance", "--train.temper_adapt_steps=10", "--train.temper_adapt_rounds=0"},
       "train.temper_adapt_rounds"},
      {{"--train.temper_adapt_steps=10"}, "train.temper_adapt_steps"},  // without train.temper_adapt
  };
  for (const auto& [o, key] : cases) {
    std::vector<std::string> args = o;
    args.push_back("--data.path=" + csv.path);
    args.push_back("--output.file=");
    const std::string e = error_of([&] { run_train(kTempered, args, world); });
    EXPECT_NE(e.find(key), std::string::npos) << o.front() << ": " << e;
  }
}

}  // namespace
}  // namespace zeta
