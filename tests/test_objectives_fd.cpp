//! The gradients of the NCE and sliced score matching losses against finite
//! differences of the losses (double; float rounding swamps the third derivatives
//! SSM's gradient carries), and SSM's directional derivatives Ė = vᵀ∇x E and
//! Ë = vᵀHv against central differences of ∇x E along v.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unistd.h>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/gradient_sum.hpp"
#include "zeta/training/mlp_nce.hpp"
#include "zeta/training/mlp_ssm.hpp"
#include "zeta/training/sliced_score.hpp"
#include "zeta/training/spec.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Host = std::vector<double>;

constexpr bool kDouble = sizeof(Real) == 8;

Matrix<Space> to_device(const Host& v, int rows, int cols) {
  Matrix<Space> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (int n = 0; n < rows; ++n)
    for (int i = 0; i < cols; ++i) h(n, i) = Real(v[std::size_t(n) * cols + i]);
  Kokkos::deep_copy(m, h);
  return m;
}

//! rows × cols normals times `scale` from Stream(seed, row, 0, kInit), row-major.
Host normals(int rows, int cols, std::uint32_t seed, double scale) {
  Host v(std::size_t(rows) * cols);
  for (int n = 0; n < rows; ++n) {
    const rng::Stream st(seed, std::uint64_t(n), 0, rng::kInit);
    st.normals(cols, [&](int i, Real z) { v[std::size_t(n) * cols + i] = scale * double(z); });
  }
  return v;
}

//! Fourth-order central differences of f over every component of θ, set through `set`.
template <class Set, class F>
Host fd_gradient(const Host& theta, const Set& set, const F& f, double h) {
  Host fd(theta.size()), t = theta;
  const auto at = [&](std::size_t k, double dk) {
    t[k] = theta[k] + dk;
    set(t);
    t[k] = theta[k];
    return f();
  };
  for (std::size_t k = 0; k < theta.size(); ++k) {
    const double d1 = at(k, h) - at(k, -h), d2 = at(k, 2 * h) - at(k, -2 * h);
    fd[k] = (8 * d1 - d2) / (12 * h);
  }
  set(theta);
  return fd;
}

//! max_k |got_k − fd_k| / max(|fd_k|, 10⁻² ‖fd‖_∞).
double max_relative_error(const Host& got, const Host& fd) {
  double scale = 0;
  for (double v : fd) scale = std::max(scale, std::abs(v));
  double worst = 0;
  for (std::size_t k = 0; k < fd.size(); ++k)
    worst = std::max(worst, std::abs(got[k] - fd[k]) / std::max(std::abs(fd[k]), 1e-2 * scale));
  return worst;
}

struct SsmCase {
  std::vector<int> layers;
  int batch;
};
//! Two and three hidden layers, a 2-D input (the ring's), one hidden layer, and the
//! linear model (H = 0).
const std::vector<SsmCase> kSsmCases = {{{3, 7, 5, 1}, 5}, {{4, 6, 5, 3, 1}, 9}, {{2, 16, 16, 1}, 16},
                                        {{2, 9, 1}, 4},    {{3, 1}, 3}};

class SlicedScoreGradient : public ::testing::TestWithParam<const char*> {};

TEST_P(SlicedScoreGradient, DirectionalDerivativesAndGradientMatchFiniteDifferences) {
  if (!kDouble) GTEST_SKIP() << "SSM's gradient is checked in double (third derivatives of the activation)";
  const models::Activation act = models::parse_activation(GetParam());
  for (const SsmCase& c : kSsmCases)
    for (const bool vr : {false, true}) {
      models::Mlp<Space> m(models::Mlp<Space>::random_params(c.layers, 13), act);
      const int d = m.dim(), B = c.batch;
      const Host xh = normals(B, d, 4, 1.0), vh = normals(B, d, 5, 1.0);
      const auto x = to_device(xh, B, d), v = to_device(vh, B, d);
      const double w = 0.37;
      training::SlicedScore<Space> sliced;
      auto g = m.gradient_buffer();
      const double loss = sliced.loss_and_grad(m, x, v, w, vr, g);
      // Ė and Ë against ∇x E at x and at x ± h v.
      const Host ed = sliced.directional(1), edd = sliced.directional(2);
      const auto grad_x = [&](double h) {
        Host xs(xh);
        for (std::size_t k = 0; k < xs.size(); ++k) xs[k] += h * vh[k];
        Vector<Space> E("E", B);
        Matrix<Space> gx("gx", B, d);
        m.energy_and_grad(to_device(xs, B, d), E, gx);
        return host_copy(gx);
      };
      const double h = 1e-4;
      const Host g0 = grad_x(0), gp = grad_x(h), gm = grad_x(-h);
      double want_loss = 0;
      for (int n = 0; n < B; ++n) {
        double e1 = 0, e2 = 0, sq = 0;
        for (int i = 0; i < d; ++i) {
          const std::size_t k = std::size_t(n) * d + i;
          e1 += vh[k] * g0[k];
          e2 += vh[k] * (gp[k] - gm[k]) / (2 * h);
          sq += g0[k] * g0[k];
        }
        EXPECT_NEAR(ed[n], e1, 1e-10 * (1 + std::abs(e1))) << c.layers.size() << " row " << n;
        EXPECT_NEAR(edd[n], e2, 1e-6 * (1 + std::abs(e2))) << c.layers.size() << " row " << n;
        want_loss += w * (-e2 + 0.5 * (vr ? sq : e1 * e1));
      }
      EXPECT_NEAR(loss, want_loss, 1e-6 * (1 + std::abs(want_loss)));
      const Host fd = fd_gradient(
          m.params(), [&](const Host& t) { m.set_params(t); },
          [&] {
            auto scratch = m.gradient_buffer();
            return sliced.loss_and_grad(m, x, v, w, vr, scratch);
          },
          2e-4);
      const double err = max_relative_error(host_copy(g), fd);
      std::printf("[ fd       ] sliced score %s%s, %zu layers, batch %d: loss %.6g, max relative error %.3g\n",
                  GetParam(), vr ? " (vr)" : "", c.layers.size() - 1, B, loss, err);
      EXPECT_LT(err, 1e-6) << GetParam() << (vr ? " vr " : " ") << c.layers.size();
    }
}

INSTANTIATE_TEST_SUITE_P(Activations, SlicedScoreGradient, ::testing::Values("silu", "softplus"));

// NCE's gradient in θ and in c (the last parameter) against finite differences of its
// loss on one batch of the ring (fixed data and noise rows: a function of the step),
// with Gaussian and with uniform noise.
TEST(NceGradient, MatchesFiniteDifferencesOfLoss) {
  if (!kDouble) GTEST_SKIP() << "checked in double";
  parallel::Comm self(MPI_COMM_SELF);
  for (const std::string noise : {"gaussian", "uniform"}) {
    Config cfg;
    training::declare_train_keys(cfg);
    cfg.parse_text("", {"--model.type=mlp", "--model.layers=2,8,8,1", "--train.objective=nce",
                        "--train.nce_noise=" + noise, "--train.nce_ratio=3", "--train.batch=8", "--data.type=synthetic",
                        "--data.shape=ring8", "--data.examples=64", "--data.heldout_examples=0", "--data.partitions=2"});
    const training::TrainSetup setup = training::read_train_setup(cfg, self);
    const data::Dataset d = data::load(setup.data, setup.train.seed, self);
    models::Mlp<Space> mlp(models::Mlp<Space>::random_params({2, 8, 8, 1}, 3), models::Activation::softplus);
    training::MlpNce nce(setup.train, setup.data, d, mlp, self);
    training::GradientSum<Space> g(self, nce.n_params(), false);
    // c away from 0, so that its gradient is not the only thing that moves.
    Host theta = nce.params();
    theta.back() = 0.7;
    const auto set = [&](const Host& t) {
      auto h = Kokkos::create_mirror_view(nce.theta());
      for (std::size_t k = 0; k < t.size(); ++k) h(k) = Real(t[k]);
      Kokkos::deep_copy(nce.theta(), h);
      nce.params_updated();
    };
    set(theta);
    EXPECT_EQ(nce.log_z(), 0.7);
    const std::int64_t step = 5;
    nce.gradient(step, g);
    const Host got = host_copy(g.g());
    const double loss = nce.batch_loss();
    EXPECT_TRUE(std::isfinite(loss) && loss > 0);
    const Host fd = fd_gradient(
        theta, set,
        [&] {
          nce.gradient(step, g);
          return nce.batch_loss();
        },
        1e-4);
    const double err = max_relative_error(got, fd);
    std::printf("[ fd       ] nce (%s noise): loss %.6g, dJ/dc %.6g (fd %.6g), max relative error %.3g\n",
                noise.c_str(), loss, got.back(), fd.back(), err);
    EXPECT_LT(err, 1e-7) << noise;
    EXPECT_NEAR(got.back(), fd.back(), 1e-8) << noise;
    EXPECT_GT(std::abs(got.back()), 1e-3) << noise;  // c matters
  }
}

// The uniform noise rows of a block (NceNoise::draw_rows, Philox blocks in vectorized
// lanes) are bit for bit draw()'s point by point (Stream::uniform), for a dimension of
// a whole lane group and a part of one (37 = 32 + 5), and lie in the box with ln q its
// −Σ ln(hi − lo).
TEST(NceNoise, UniformRowsAreTheDrawsOfTheirPoints) {
  parallel::Comm self(MPI_COMM_SELF);
  constexpr int kDim = 37, kRows = 6;
  const std::string path = "nce_noise_rows_" + std::to_string(::getpid()) + ".csv";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (int r = 0; r < 4; ++r)
      for (int i = 0; i < kDim; ++i) std::fprintf(f, "%g%c", 0.25 * ((r + i) % 4), i + 1 < kDim ? ',' : '\n');
    std::fclose(f);
  }
  Config cfg;
  training::declare_train_keys(cfg);
  cfg.parse_text("", {"--model.type=mlp", "--model.layers=37,4,1", "--train.objective=nce", "--train.nce_noise=uniform",
                      "--train.nce_box=-0.5,2", "--train.batch=2", "--data.type=csv", "--data.path=" + path,
                      "--data.partitions=1"});
  const training::TrainSetup setup = training::read_train_setup(cfg, self);
  const data::Dataset d = data::load(setup.data, setup.train.seed, self);
  std::remove(path.c_str());
  ASSERT_EQ(d.dim, kDim);
  training::NceNoise noise(setup.train, d, self);
  Matrix<Space> y("y", kRows, kDim);
  std::vector<double> lnq(kRows);
  noise.draw_rows(7, 100, 3, y, lnq.data());
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
  std::vector<Real> one(kDim);
  const double log_q = -kDim * std::log(2.5);
  for (int r = 0; r < kRows; ++r) {
    EXPECT_NEAR(noise.draw(7, 100 + r, 3, one.data()), log_q, 1e-12);
    EXPECT_NEAR(lnq[r], log_q, 1e-12);
    for (int i = 0; i < kDim; ++i) {
      EXPECT_EQ(h(r, i), one[i]) << "row " << r << " coordinate " << i;
      EXPECT_TRUE(h(r, i) >= Real(-0.5) && h(r, i) <= Real(2)) << h(r, i);
    }
  }
  EXPECT_NE(h(0, 0), h(1, 0));  // the rows are different points
}

// Sliced score matching with train.projections = 3 (the loss the mean over three
// independent v per example), as the objective computes it on one batch of the ring:
// its gradient against finite differences of its loss, for ssm and ssm_vr, Gaussian
// and Rademacher v; and the three projections really differ (the loss is not M = 1's).
TEST(SsmProjectionsGradient, MatchesFiniteDifferencesOfLoss) {
  if (!kDouble) GTEST_SKIP() << "checked in double";
  parallel::Comm self(MPI_COMM_SELF);
  for (const std::string obj : {"ssm", "ssm_vr"})
    for (const std::string proj : {"gaussian", "rademacher"}) {
      const auto setup_of = [&](int M) {
        Config cfg;
        training::declare_train_keys(cfg);
        cfg.parse_text(
            "", {"--model.type=mlp", "--model.layers=2,8,8,1", "--model.activation=softplus",
                 "--train.objective=" + obj, "--train.projection=" + proj, "--train.projections=" + std::to_string(M),
                 "--train.batch=8", "--data.type=synthetic", "--data.shape=ring8", "--data.examples=64",
                 "--data.heldout_examples=0", "--data.partitions=2"});
        return training::read_train_setup(cfg, self);
      };
      const training::TrainSetup setup = setup_of(3), setup1 = setup_of(1);
      ASSERT_EQ(setup.train.projections, 3);
      const data::Dataset d = data::load(setup.data, setup.train.seed, self);
      models::Mlp<Space> mlp(models::Mlp<Space>::random_params({2, 8, 8, 1}, 3), models::Activation::softplus);
      training::MlpSsm ssm(setup.train, setup.data, d, mlp, self);
      training::GradientSum<Space> g(self, ssm.n_params(), false);
      const Host theta = ssm.params();
      const auto set = [&](const Host& t) {
        auto h = Kokkos::create_mirror_view(ssm.theta());
        for (std::size_t k = 0; k < t.size(); ++k) h(k) = Real(t[k]);
        Kokkos::deep_copy(ssm.theta(), h);
        ssm.params_updated();
      };
      const std::int64_t step = 5;
      ssm.gradient(step, g);
      const Host got = host_copy(g.g());
      const double loss = ssm.batch_loss();
      const Host fd = fd_gradient(
          theta, set,
          [&] {
            ssm.gradient(step, g);
            return ssm.batch_loss();
          },
          1e-4);
      const double err = max_relative_error(got, fd);
      // The same model with one projection: projection 0 of the three, so a different loss.
      models::Mlp<Space> mlp1(models::Mlp<Space>::random_params({2, 8, 8, 1}, 3), models::Activation::softplus);
      training::MlpSsm ssm1(setup1.train, setup1.data, d, mlp1, self);
      training::GradientSum<Space> g1(self, ssm1.n_params(), false);
      ssm1.gradient(step, g1);
      std::printf("[ fd       ] %s (%s v), 3 projections: loss %.6g (1 projection: %.6g), max relative error %.3g\n",
                  obj.c_str(), proj.c_str(), loss, ssm1.batch_loss(), err);
      EXPECT_TRUE(std::isfinite(loss));
      EXPECT_LT(err, 1e-7) << obj << " " << proj;
      EXPECT_GT(std::abs(loss - ssm1.batch_loss()), 1e-6 * std::abs(loss)) << obj << " " << proj;
    }
}

}  // namespace
}  // namespace zeta
