//! ∇x E of every model and activation against central finite differences.
#include <gtest/gtest.h>

#include "zeta/models/factory.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;

//! Compares the batched gradient with central differences at a few random points.
template <class Model>
void check_gradient(Model& model, double scale, double rel_tol) {
  const int n = 5, d = model.dim();
  Matrix<Space> x("x", n, d), g("g", n, d), xp("xp", n, d);
  Vector<Space> E("E", n), Ep("Ep", n), Em("Em", n);
  auto hx = Kokkos::create_mirror_view(x);
  for (int c = 0; c < n; ++c) {
    const rng::Stream st(7, c, 0, rng::kInit);
    st.normals(d, [&](int i, Real z) { hx(c, i) = Real(scale * z); });
  }
  Kokkos::deep_copy(x, hx);
  model.energy_and_grad(x, E, g);
  auto hg = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
  // The energy from energy() must equal the one from energy_and_grad().
  Vector<Space> E2("E2", n);
  model.energy(x, E2);
  auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E);
  auto hE2 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E2);
  // Same sums, possibly contracted / vectorized differently: a few ulp in float.
  const double same_tol = sizeof(Real) == 4 ? 1e-6 : 1e-12;
  for (int c = 0; c < n; ++c) EXPECT_NEAR(hE(c), hE2(c), same_tol * (1 + std::abs(hE(c))));
  const double h = sizeof(Real) == 8 ? 1e-5 : 1e-2;
  auto hxp = Kokkos::create_mirror_view(xp);
  for (int i = 0; i < d; ++i) {
    Kokkos::deep_copy(hxp, hx);
    for (int c = 0; c < n; ++c) hxp(c, i) += Real(h);
    Kokkos::deep_copy(xp, hxp);
    model.energy(xp, Ep);
    for (int c = 0; c < n; ++c) hxp(c, i) -= Real(2 * h);
    Kokkos::deep_copy(xp, hxp);
    model.energy(xp, Em);
    auto hp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Ep);
    auto hm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Em);
    for (int c = 0; c < n; ++c) {
      const double fd = (double(hp(c)) - double(hm(c))) / (2 * h);
      EXPECT_NEAR(hg(c, i), fd, rel_tol * (1 + std::abs(fd))) << model.name() << " chain " << c << " coord " << i;
    }
  }
}

const double kTol = sizeof(Real) == 8 ? 1e-6 : 2e-2;

TEST(Gradient, GaussianPerDimensionSigma) {
  auto m = models::make_gaussian<Space>(4, {0.5, -1, 0, 2}, {0.5, 1, 2, 3});
  check_gradient(m, 1.0, kTol);
}

TEST(Gradient, GaussianMixture2D) {
  auto m = models::make_gmm<Space>({0.3, 0.7}, {{-1, 0}, {1.5, 0.5}}, {{1, 0.5}, {0.7, 2}});
  check_gradient(m, 1.5, kTol);
}

TEST(Gradient, GaussianMixtureFarFromModes) {
  // Far tails exercise the log-sum-exp shift.
  auto m = models::make_gmm<Space>({0.5, 0.5}, {{-1}, {1}}, {{0.1}, {0.1}});
  check_gradient(m, 20.0, kTol);
}

TEST(Gradient, DoubleWell) {
  auto m = models::make_double_well<Space>(3, 2.5);
  check_gradient(m, 1.0, kTol);
}

// A registered model (models/registry.hpp), built from [model] keys as the commands build it.
TEST(Gradient, BananaFromTheRegistry) {
  Config cfg;
  models::declare_model_keys(cfg);
  cfg.parse_text("[model]\ntype = banana\nbanana_a = 1.3\nbanana_b = 0.8\nbanana_s = 0.6\n", {});
  auto model = models::make_model<Space>(models::read_model_spec(cfg));
  std::visit([](auto& m) { check_gradient(m, 1.5, kTol); }, model);
}

class MlpGradient : public ::testing::TestWithParam<const char*> {};

TEST_P(MlpGradient, MatchesFiniteDifferences) {
  const models::Activation a = models::parse_activation(GetParam());
  for (const std::vector<int>& layers : {std::vector<int>{3, 1}, {3, 8, 1}, {5, 16, 12, 1}}) {
    models::Mlp<Space> m(models::Mlp<Space>::random_params(layers, 11), a);
    check_gradient(m, 1.0, kTol);
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, MlpGradient, ::testing::Values("silu", "softplus", "leaky_relu"));

TEST(Mlp, ForwardMatchesHandComputation) {
  // 2-2-1 softplus network with known weights.
  io::MlpParams p;
  p.layers = {2, 2, 1};
  p.weight = {{1, 2, -1, 0.5}, {0.3, -0.7}};
  p.bias = {{0.1, -0.2}, {0.05}};
  models::Mlp<Space> m(p, models::Activation::softplus);
  Matrix<Space> x("x", 1, 2);
  Vector<Space> E("E", 1);
  auto hx = Kokkos::create_mirror_view(x);
  hx(0, 0) = 0.4;
  hx(0, 1) = -0.3;
  Kokkos::deep_copy(x, hx);
  m.energy(x, E);
  auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E);
  const double z0 = 1 * 0.4 + 2 * -0.3 + 0.1, z1 = -1 * 0.4 + 0.5 * -0.3 - 0.2;
  const double want = 0.3 * std::log1p(std::exp(z0)) - 0.7 * std::log1p(std::exp(z1)) + 0.05;
  EXPECT_NEAR(hE(0), want, sizeof(Real) == 8 ? 1e-12 : 1e-6);
}

}  // namespace
}  // namespace zeta
