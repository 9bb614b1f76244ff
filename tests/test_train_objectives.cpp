//! `zeta train` by short-run CD from noise, NCE and sliced score matching on MLP
//! energies: bitwise-identical parameters and monitors on 1, 2 and 4 ranks
//! (train.deterministic), restart bit for bit, input errors that name the key, NCE's
//! learnt ln Z against the grid's ln Z of the learnt energy, and SSM's model
//! covariance on Gaussian data. Registered at 1, 2 and 4 ranks (the two trainings on
//! one rank only: ONE_RANK in tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "train_support.hpp"
#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta {
namespace {

using test::dataset;
using test::run_train;
using test::train_error;

void remove_output(const std::string& h5) {
  std::remove(h5.c_str());
  std::remove(io::landscape_xmf_path(h5).c_str());
}

// The ring of eight Gaussians, small: 40 steps of 64 on 4 partitions.
const std::string kRing = test::kRing8Small;

//! An objective's overrides and the /train columns it writes besides step and grad_norm.
struct Objective {
  std::string name;
  std::vector<std::string> args;
  std::vector<std::string> columns;
};
const std::vector<Objective> kObjectives = {
    {"short_run_cd",
     {"--train.objective=short_run_cd", "--train.k=5", "--sampler.step_size=0.01", "--sampler.clamp=-4,4"},
     {"/train/loss", "/train/energy_model", "/eval/samples", "/eval/energy_model"}},
    {"nce", {"--train.objective=nce", "--train.nce_ratio=3"}, {"/train/nce_loss", "/train/nce_log_z", "/nce/log_z"}},
    {"nce_uniform",
     {"--train.objective=nce", "--train.nce_noise=uniform"},
     {"/train/nce_loss", "/train/nce_accuracy", "/nce/noise_lo"}},
    {"ssm", {"--train.objective=ssm"}, {"/train/ssm_loss"}},
    {"ssm_vr", {"--train.objective=ssm_vr", "--train.projection=rademacher"}, {"/train/ssm_loss"}},
    {"ssm_m3", {"--train.objective=ssm", "--train.projections=3"}, {"/train/ssm_loss"}},
};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// 1, 2, 4 ranks against one rank: the same parameters, monitors and outputs bit for bit.
TEST(TrainObjectivesRanks, DeterministicIsBitwise) {
  parallel::Comm world(MPI_COMM_WORLD);
  for (const Objective& o : kObjectives) {
    const std::string tag = "objectives_n" + std::to_string(world.size()) + "_" + o.name;
    const std::string many = tag + "_world.h5", one = tag + "_self.h5";
    const auto rw = run_train(kRing, with(o.args, {"--output.file=" + many}), world);
    ASSERT_EQ(rw.status, "ok") << o.name;
    if (world.root()) {
      parallel::Comm self(MPI_COMM_SELF);
      const auto rs = run_train(kRing, with(o.args, {"--output.file=" + one}), self);
      EXPECT_TRUE(rw.params == rs.params) << o.name << ": parameters differ between " << world.size() << " ranks and 1";
      EXPECT_EQ(rw.loss, rs.loss) << o.name;
      EXPECT_EQ(rw.heldout_nll, rs.heldout_nll) << o.name;
      EXPECT_EQ(rw.json.str().find("\"objective\": \"" + o.args[0].substr(18) + "\"") == std::string::npos, false)
          << rw.json.str();
      for (const std::string& ds : with({"/train/step", "/train/grad_norm", "/train/heldout_nll", "/model/layer_0/weight",
                                         "/model/layer_2/bias"},
                                        o.columns))
        EXPECT_TRUE(dataset(many, ds) == dataset(one, ds)) << o.name << " " << ds;
      EXPECT_EQ(dataset(one, "/train/step"), (std::vector<double>{0, 10, 20, 30, 40})) << o.name;
      // Training moved the parameters.
      const auto r1 = run_train(kRing, with(o.args, {"--run.steps=1", "--output.file="}), self);
      double moved = 0;
      for (std::size_t q = 0; q < rs.params.size(); ++q)
        moved = std::max(moved, std::fabs(rs.params[q] - r1.params[q]));
      EXPECT_GT(moved, 1e-3) << o.name;
      remove_output(many);
      remove_output(one);
    }
    world.barrier();
  }
}

// 40 steps straight == 20, checkpoint, restart, 20: the same parameters (NCE's ln Z
// among them), optimizer state and monitors bit for bit.
TEST(TrainObjectivesCheckpoint, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  for (const Objective& o : kObjectives) {
    const std::string tag = "objectives_restart_n" + std::to_string(world.size()) + "_" + o.name;
    const std::string straight = tag + "_straight.ckpt", half = tag + "_half.ckpt";
    const auto a = run_train(kRing, with(o.args, {"--checkpoint.file=" + straight, "--output.file="}), world);
    ASSERT_EQ(a.status, "ok");
    const auto h =
        run_train(kRing, with(o.args, {"--run.steps=20", "--checkpoint.file=" + half, "--output.file="}), world);
    ASSERT_EQ(h.steps_done, 20);
    const auto c = run_train(
        kRing, with(o.args, {"--checkpoint.file=" + half, "--checkpoint.restart=true", "--output.file="}), world);
    EXPECT_EQ(c.steps_done, 40);
    EXPECT_TRUE(c.params == a.params) << o.name;
    EXPECT_EQ(c.loss, a.loss) << o.name;
    EXPECT_EQ(c.heldout_nll, a.heldout_nll) << o.name;
    if (world.root()) {
      std::vector<std::string> sets = {"/model/layer_0/weight", "/model/layer_2/bias", "/optimizer/m", "/optimizer/v",
                                       "/train/step",           "/train/grad_norm",    "/train/heldout_nll"};
      if (o.name.rfind("nce", 0) == 0) sets.insert(sets.end(), {"/nce/log_z", "/train/nce_log_z", "/train/nce_loss"});
      for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(half, ds)) << o.name << " " << ds;
      if (o.name.rfind("nce", 0) == 0) {
        EXPECT_NE(dataset(half, "/nce/log_z")[0], 0.0) << "c was learnt";
      }
    }
    world.barrier();
    if (world.root())
      for (const auto& p : {straight, half})
        for (const std::string sfx : {"", ".prev"}) std::remove((p + sfx).c_str());
    world.barrier();
  }
}

TEST(TrainObjectivesInput, ErrorsNameTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--train.objective=nce", "--train.nce_ratio=0"}, "train.nce_ratio"},
      {{"--train.objective=nce", "--train.nce_noise=laplace"}, "train.nce_noise"},
      {{"--train.objective=nce", "--train.nce_noise=uniform", "--train.nce_box=1"}, "train.nce_box"},
      {{"--train.objective=nce", "--train.nce_noise=uniform", "--train.nce_box=2,-2"}, "train.nce_box"},
      // The ring spans about [-3, 3]^2: a box that misses part of it.
      {{"--train.objective=nce", "--train.nce_noise=uniform", "--train.nce_box=-1,1"}, "train.nce_box"},
      {{"--train.objective=nce", "--train.nce_box=-5,5"}, "train.nce_box"},  // gaussian noise takes no box
      {{"--train.objective=dsm", "--train.nce_ratio=2"}, "train.nce_ratio"},
      {{"--train.objective=nce", "--train.projection=rademacher"}, "train.projection"},
      {{"--train.objective=nce", "--sampler.step_size=0.1"}, "sampler.step_size"},
      {{"--train.objective=ssm", "--model.activation=leaky_relu"}, "model.activation"},
      {{"--train.objective=ssm_vr", "--model.activation=leaky_relu"}, "model.activation"},
      {{"--train.objective=ssm", "--train.projection=sphere"}, "train.projection"},
      {{"--train.objective=ssm", "--train.sigma=0.2"}, "train.sigma"},
      {{"--train.objective=short_run_cd", "--train.buffer_size=128"}, "train.buffer_size"},
      {{"--train.objective=short_run_cd", "--train.reinit_prob=0.5"}, "train.reinit_prob"},
      {{"--train.objective=nce", "--model.type=rbm", "--model.visible=gaussian", "--model.hidden=3"},
       "train.objective"},
  };
  for (const auto& [args, key] : cases) {
    const auto e = train_error(kRing, args, world);
    EXPECT_NE(e.find(key), std::string::npos) << args.back() << ": " << e;
  }
  EXPECT_NE(train_error(kRing, {"--train.objective=nce", "--train.nce_noise=uniform", "--train.nce_box=-1,1"}, world)
                .find("misses training data"),
            std::string::npos);
}

// The issue's NCE check on the ring (one rank: the bits do not depend on the rank
// count, above): the learnt ln Z c within 0.05 (the issue's bound) of the grid's ln Z
// of the learnt energy. The grid's quadrature error is far below that (64 x 64 cells
// of 0.1 across modes of std 0.25), so the gap is NCE's own: c is ln Z only where the
// model holds the data density, and the trained net misses it by the held-out NLL's
// gap. Gaussian noise, nu = 4, 2000 steps of 256, Adam at 0.01 (cosine): ln Z gaps
// 0.023, 0.020, 0.026 for run.seed 1-3 (uniform noise: 0.001, 0.019), held-out NLL
// 0.015, 0.074, 0.21 nats above the true density's (seed 3 settles with the modes'
// weights off, as PCD does from some starts): the NLL is held to 0.3 only, against
// the untrained net's > 1.
TEST(TrainNce, Ring8LearntLogZMatchesTheGrid) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::vector<std::string> args = {"--train.objective=nce", "--run.seed=1",          "--train.batch=256",
                                         "--train.eval_every=0",  "--train.lr=0.01",       "--train.lr_schedule=cosine",
                                         "--output.file="};
  const auto r = run_train(kRing, with(args, {"--run.steps=2000"}), world);
  ASSERT_EQ(r.status, "ok");
  const double c = test::json_figure(r.json.str(), "nce_log_z");
  std::printf("[ nce      ] ring8: learnt ln Z %.4f, grid ln Z %.4f (diff %.4f); held-out NLL %.4f +- %.4f, true %.4f\n",
              c, r.grid_log_z, c - r.grid_log_z, r.heldout_nll, r.heldout_nll_stderr, r.true_nll);
  EXPECT_EQ(r.nll_at, 2000);
  EXPECT_LT(std::fabs(c - r.grid_log_z), 0.05);
  EXPECT_LT(r.heldout_nll - r.true_nll, 0.3);
  const auto r0 = run_train(kRing, with(args, {"--run.steps=1"}), world);
  EXPECT_GT(r0.heldout_nll - r0.true_nll, 1.0);
}

// SSM and SSM-VR on Gaussian data: N = 4000 training points from N(mu, Sigma), mu =
// (0.5, -1), Sigma = [[1, 0.6], [0.6, 0.5]] (Philox normals, a CSV file; 1000 more held
// out, which the grid monitor needs). The trained energy's density, normalised on the
// /landscape grid, has mean and covariance within 4 standard errors of mu and Sigma,
// the standard errors of the sample mean and covariance of N points:
// se(mu_i) = sqrt(S_ii / N), se(S_ij) = sqrt((S_ii S_jj + S_ij^2) / N) (a Gaussian's
// sample covariance). Seen: within 1.5 se (ssm), 0.9 se (ssm_vr). One rank.
TEST(TrainSsm, GaussianMeanAndCovarianceWithinFourStandardErrors) {
  parallel::Comm world(MPI_COMM_WORLD);
  const double mu[2] = {0.5, -1}, S[2][2] = {{1, 0.6}, {0.6, 0.5}};
  const int N = 4000, n_all = 5000;
  const std::string csv = "objectives_ssm_gauss_n" + std::to_string(world.size()) + ".csv";
  if (world.root()) {
    // x = mu + L z, L L^T = Sigma.
    const double l11 = std::sqrt(S[0][0]), l21 = S[1][0] / l11, l22 = std::sqrt(S[1][1] - l21 * l21);
    std::ofstream f(csv);
    f.precision(17);
    for (int n = 0; n < n_all; ++n) {
      double z[2];
      rng::Stream(7, std::uint64_t(n), 0, rng::kInit).normals(2, [&](int i, Real v) { z[i] = double(v); });
      f << mu[0] + l11 * z[0] << "," << mu[1] + l21 * z[0] + l22 * z[1] << "\n";
    }
  }
  world.barrier();
  const std::string ini = R"(
[run]
seed = 3
steps = 1500
[model]
type = mlp
layers = 2,32,32,1
activation = softplus
init_seed = 2
[data]
type = csv
holdout = 0.2
partitions = 4
[train]
batch = 128
eval_every = 0
grid_points = 96
optimizer = adam
lr = 0.003
lr_schedule = cosine
)";
  for (const std::string obj : {"ssm", "ssm_vr"}) {
    const std::string out = "objectives_ssm_gauss_" + obj + ".h5";
    const auto r =
        run_train(ini, {"--data.path=" + csv, "--train.objective=" + obj, "--output.file=" + out}, world);
    ASSERT_EQ(r.status, "ok");
    if (world.root()) {
      const auto E = dataset(out, "/landscape/energy"), xs = dataset(out, "/landscape/x"),
                 ys = dataset(out, "/landscape/y");
      const std::size_t nx = xs.size(), ny = ys.size();
      ASSERT_EQ(E.size(), nx * ny);
      double emin = E[0];
      for (double e : E) emin = std::min(emin, e);
      double w = 0, m[2] = {0, 0}, c[3] = {0, 0, 0};
      for (std::size_t j = 0; j < ny; ++j)
        for (std::size_t i = 0; i < nx; ++i) {
          const double p = std::exp(-(E[j * nx + i] - emin));
          w += p;
          m[0] += p * xs[i];
          m[1] += p * ys[j];
        }
      m[0] /= w;
      m[1] /= w;
      for (std::size_t j = 0; j < ny; ++j)
        for (std::size_t i = 0; i < nx; ++i) {
          const double p = std::exp(-(E[j * nx + i] - emin)) / w, dx = xs[i] - m[0], dy = ys[j] - m[1];
          c[0] += p * dx * dx;
          c[1] += p * dx * dy;
          c[2] += p * dy * dy;
        }
      const double want[3] = {S[0][0], S[0][1], S[1][1]};
      const double se[3] = {std::sqrt(2 * S[0][0] * S[0][0] / N), std::sqrt((S[0][0] * S[1][1] + S[0][1] * S[0][1]) / N),
                            std::sqrt(2 * S[1][1] * S[1][1] / N)};
      std::printf("[ %-8s ] gaussian: mean (%.4f, %.4f), covariance %.4f %.4f %.4f: (%.2f, %.2f, %.2f) se from "
                  "the true\n",
                  obj.c_str(), m[0], m[1], c[0], c[1], c[2], (c[0] - want[0]) / se[0], (c[1] - want[1]) / se[1],
                  (c[2] - want[2]) / se[2]);
      for (int i = 0; i < 2; ++i) EXPECT_LT(std::fabs(m[i] - mu[i]), 4 * std::sqrt(S[i][i] / N)) << obj << " mean " << i;
      for (int k = 0; k < 3; ++k) EXPECT_LT(std::fabs(c[k] - want[k]), 4 * se[k]) << obj << " covariance " << k;
      remove_output(out);
    }
    world.barrier();
  }
  if (world.root()) std::remove(csv.c_str());
}

}  // namespace
}  // namespace zeta
