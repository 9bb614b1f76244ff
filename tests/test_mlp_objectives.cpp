//! The MLP's training side: the flat parameter buffer θ, ∇θ E (grad_energy_params)
//! and the denoising score matching gradient against central finite differences of
//! energy() / energy_and_grad(), the DSM loss against a host recomputation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "zeta/models/mlp.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Host = std::vector<double>;

constexpr bool kDouble = sizeof(Real) == 8;
const double kStep = kDouble ? 2e-4 : 1e-2;  // finite-difference step in θ
//! The step for an activation: float needs h ~ 1e-2 against rounding (ε_float |E| / h),
//! but a kinked leaky_relu is then crossed by some stencils; it is piecewise linear,
//! so a smaller step has no truncation error and only the rounding one.
double fd_step(models::Activation a) {
  return !kDouble && a == models::Activation::leaky_relu ? 1e-3 : kStep;
}

//! Values as the model stores them (Real): the identity in a double build.
std::vector<double> as_real(std::vector<double> v) {
  for (double& x : v) x = double(Real(x));
  return v;
}
const double kTol = kDouble ? 1e-6 : 2e-2;  // float: the worst case seen is 0.0087 (leaky_relu)

Matrix<Space> to_device(const Host& v, int rows, int cols) {
  Matrix<Space> m("m", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (int n = 0; n < rows; ++n)
    for (int i = 0; i < cols; ++i) h(n, i) = Real(v[std::size_t(n) * cols + i]);
  Kokkos::deep_copy(m, h);
  return m;
}

Vector<Space> to_device(const Host& v) {
  Vector<Space> d("v", v.size());
  auto h = Kokkos::create_mirror_view(d);
  for (std::size_t k = 0; k < v.size(); ++k) h(k) = Real(v[k]);
  Kokkos::deep_copy(d, h);
  return d;
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

//! A test case: the layer sizes, the batch, and per-row weights or one weight for all.
struct Case {
  std::vector<int> layers;
  int batch;
  bool per_row;
  std::string label() const {
    std::string s;
    for (int l : layers) s += (s.empty() ? "" : "-") + std::to_string(l);
    return s + " batch " + std::to_string(batch) + (per_row ? " per-row weights" : " one weight");
  }
};

//! 3-7-5-1 at a batch that is no multiple of the row tile; 2-16-16-1 and 2-16-1 take
//! the small fan-in kernels in energy(); a deeper net; the linear model.
const std::vector<Case> kCases = {
    {{3, 7, 5, 1}, 5, true},      {{2, 16, 16, 1}, 16, false}, {{2, 16, 1}, 21, true},
    {{4, 6, 5, 3, 1}, 20, false}, {{3, 1}, 7, true},
};

//! Row weights of a case: mixed signs per row (CD's ±1/N), or one number.
Host row_weights(const Case& c) {
  Host s(c.batch);
  for (int n = 0; n < c.batch; ++n) s[n] = c.per_row ? (n % 3 == 0 ? -0.7 : 0.3 + 0.1 * n) : -0.35;
  return s;
}
PerChain<Space> device_weights(const Case& c, const Host& s) {
  return c.per_row ? PerChain<Space>(to_device(s)) : PerChain<Space>(s[0]);
}

//! Σ_n s_n E(x_n) through energy().
double weighted_energy(models::Mlp<Space>& m, const Matrix<Space>& x, const Host& s) {
  Vector<Space> E("E", x.extent(0));
  m.energy(x, E);
  const auto e = host_copy(E);
  double t = 0;
  for (std::size_t n = 0; n < e.size(); ++n) t += s[n] * e[n];
  return t;
}

//! L = Σ_n s_n ½ ‖∇x E(x̃_n) + c_n‖² through energy_and_grad().
double dsm_loss_reference(models::Mlp<Space>& m, const Matrix<Space>& xt, const Host& c, const Host& s) {
  const int rows = static_cast<int>(xt.extent(0)), d = m.dim();
  Vector<Space> E("E", rows);
  Matrix<Space> g("g", rows, d);
  m.energy_and_grad(xt, E, g);
  const auto gh = host_copy(g);
  double L = 0;
  for (int n = 0; n < rows; ++n) {
    double sq = 0;
    for (int i = 0; i < d; ++i) {
      const double r = gh[std::size_t(n) * d + i] + c[std::size_t(n) * d + i];
      sq += r * r;
    }
    L += 0.5 * s[n] * sq;
  }
  return L;
}

//! Fourth-order central differences of f over every component of θ (set through
//! set_params): (8 (f(θ + h) − f(θ − h)) − (f(θ + 2h) − f(θ − 2h))) / 12h, truncation O(h⁴).
template <class F>
Host fd_gradient(models::Mlp<Space>& m, const F& f, double h = kStep) {
  const Host theta = m.params();
  Host fd(theta.size()), t = theta;
  const auto at = [&](std::size_t k, double dk) {
    t[k] = theta[k] + dk;
    m.set_params(t);
    t[k] = theta[k];
    return f();
  };
  for (std::size_t k = 0; k < theta.size(); ++k) {
    const double d1 = at(k, h) - at(k, -h), d2 = at(k, 2 * h) - at(k, -2 * h);
    fd[k] = (8 * d1 - d2) / (12 * h);
  }
  m.set_params(theta);
  return fd;
}

//! max_k |got_k − fd_k| / max(|fd_k|, 10⁻² ‖fd‖_∞): relative, with a floor for the
//! components that are tiny next to the rest.
double max_relative_error(const Host& got, const Host& fd) {
  double scale = 0;
  for (double v : fd) scale = std::max(scale, std::abs(v));
  double worst = 0;
  for (std::size_t k = 0; k < fd.size(); ++k)
    worst = std::max(worst, std::abs(got[k] - fd[k]) / std::max(std::abs(fd[k]), 1e-2 * scale));
  return worst;
}

//! A gradient buffer holding `base` everywhere: the functions add to g.
Vector<Space> filled_buffer(const models::Mlp<Space>& m, double base) {
  auto g = m.gradient_buffer();
  Kokkos::deep_copy(g, Real(base));
  return g;
}

Host minus(const Host& a, double b) {
  Host r(a);
  for (double& v : r) v -= b;
  return r;
}

class MlpParamGradient : public ::testing::TestWithParam<const char*> {};

TEST_P(MlpParamGradient, MatchesFiniteDifferencesOfEnergy) {
  const models::Activation act = models::parse_activation(GetParam());
  for (const Case& c : kCases) {
    models::Mlp<Space> m(models::Mlp<Space>::random_params(c.layers, 5), act);
    const auto x = to_device(normals(c.batch, m.dim(), 3, 1.0), c.batch, m.dim());
    const Host s = row_weights(c);
    auto g = filled_buffer(m, 0.5);
    m.grad_energy_params(x, device_weights(c, s), g);
    const Host fd = fd_gradient(m, [&] { return weighted_energy(m, x, s); }, fd_step(act));
    ASSERT_EQ(fd.size(), m.n_params());
    const double err = max_relative_error(minus(host_copy(g), 0.5), fd);
    std::printf("[ fd       ] grad_energy_params %s %s: max relative error %.3g\n", GetParam(), c.label().c_str(), err);
    EXPECT_LT(err, kTol) << GetParam() << " " << c.label();
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, MlpParamGradient, ::testing::Values("silu", "softplus", "leaky_relu"));

class MlpContrastiveGradient : public ::testing::TestWithParam<const char*> {};

//! PCD's loss with the energy regulariser, Σ_n (c_n E_n + a E_n²): the energies it
//! returns against energy(), its gradient against finite differences of the loss.
TEST_P(MlpContrastiveGradient, MatchesFiniteDifferencesOfRegularisedLoss) {
  const models::Activation act = models::parse_activation(GetParam());
  for (const Case& c : kCases) {
    models::Mlp<Space> m(models::Mlp<Space>::random_params(c.layers, 11), act);
    const auto x = to_device(normals(c.batch, m.dim(), 3, 1.0), c.batch, m.dim());
    const Host s = row_weights(c);
    const double a = 0.3;
    const auto loss = [&] {
      Vector<Space> E("E", c.batch);
      m.energy(x, E);
      const auto e = host_copy(E);
      double t = 0;
      for (int n = 0; n < c.batch; ++n) t += s[n] * e[n] + a * e[n] * e[n];
      return t;
    };
    auto g = filled_buffer(m, 0.125);
    Vector<Space> E("E", c.batch);
    m.contrastive_grad(x, device_weights(c, s), a, g, E);
    Vector<Space> want("want", c.batch);
    m.energy(x, want);
    const Host eh = host_copy(E), wh = host_copy(want);
    for (int n = 0; n < c.batch; ++n) EXPECT_NEAR(eh[n], wh[n], (kDouble ? 1e-12 : 1e-5) * (1 + std::abs(wh[n])));
    const Host fd = fd_gradient(m, loss, fd_step(act));
    const double err = max_relative_error(minus(host_copy(g), 0.125), fd);
    std::printf("[ fd       ] contrastive_grad %s %s: max relative error %.3g\n", GetParam(), c.label().c_str(), err);
    EXPECT_LT(err, kTol) << GetParam() << " " << c.label();
  }
}

// In float the difference steps that rounding allows cross leaky_relu's kink (errors
// of 0.02-0.15 seen): it is checked in double; MlpParamGradient checks the same
// backward pass for leaky_relu in float.
const std::vector<const char*> kContrastiveActivations =
    kDouble ? std::vector<const char*>{"silu", "softplus", "leaky_relu"} : std::vector<const char*>{"silu", "softplus"};
INSTANTIATE_TEST_SUITE_P(Activations, MlpContrastiveGradient, ::testing::ValuesIn(kContrastiveActivations));

class MlpDsmGradient : public ::testing::TestWithParam<const char*> {};

TEST_P(MlpDsmGradient, MatchesFiniteDifferencesOfLoss) {
  const models::Activation act = models::parse_activation(GetParam());
  for (const Case& c : kCases) {
    models::Mlp<Space> m(models::Mlp<Space>::random_params(c.layers, 9), act);
    const int d = m.dim();
    // x̃ = x + σ_n z, c_n = (x̃ − x)/σ_n² = z/σ_n; per-row σ with the weights σ_n² s_n
    // of multi-scale DSM, or one σ and one weight.
    const Host x = normals(c.batch, d, 4, 1.0), z = normals(c.batch, d, 6, 1.0);
    Host xt(x.size()), off(x.size()), s = row_weights(c);
    for (int n = 0; n < c.batch; ++n) {
      const double sigma = c.per_row ? 0.2 + 0.15 * (n % 4) : 0.5;
      if (c.per_row) s[n] *= sigma * sigma;
      for (int i = 0; i < d; ++i) {
        const std::size_t k = std::size_t(n) * d + i;
        xt[k] = x[k] + sigma * z[k];
        off[k] = (xt[k] - x[k]) / (sigma * sigma);
      }
    }
    const auto xt_d = to_device(xt, c.batch, d), off_d = to_device(off, c.batch, d);
    auto g = filled_buffer(m, -0.25);
    const double loss = m.dsm_loss_and_grad(xt_d, off_d, device_weights(c, s), g);
    const double want = dsm_loss_reference(m, xt_d, off, s);
    EXPECT_NEAR(loss, want, (kDouble ? 1e-12 : 1e-5) * std::abs(want)) << GetParam() << " " << c.label();
    const Host fd = fd_gradient(m, [&] { return dsm_loss_reference(m, xt_d, off, s); });
    const double err = max_relative_error(minus(host_copy(g), -0.25), fd);
    std::printf("[ fd       ] dsm_loss_and_grad %s %s: loss %.6g, max relative error %.3g\n", GetParam(),
                c.label().c_str(), loss, err);
    EXPECT_LT(err, kTol) << GetParam() << " " << c.label();
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, MlpDsmGradient, ::testing::Values("silu", "softplus"));

//! The training products reuse the packed weights that the Langevin products leave
//! fresh (Mlp::times_weight; AVX2 builds), and otherwise take OpenBLAS: the contrastive
//! and DSM gradients and energies after an energy_and_grad on the same θ must equal, to
//! rounding, those of a model that has not packed (widths on and off the 16-column
//! panel, 13 rows: whole 6-row tiles and a rest).
TEST(MlpPacked, TrainingAfterLangevinMatchesTheUnpackedPath) {
  const double tol = kDouble ? 1e-12 : 2e-5;
  auto close = [&](const Host& got, const Host& want, const char* what) {
    ASSERT_EQ(got.size(), want.size());
    double scale = 0;
    for (double v : want) scale = std::max(scale, std::abs(v));
    for (std::size_t k = 0; k < got.size(); ++k) ASSERT_NEAR(got[k], want[k], tol * (1 + scale)) << what << " " << k;
  };
  for (const std::vector<int>& layers : {std::vector<int>{20, 24, 40, 1}, {33, 64, 17, 1}}) {
    const io::MlpParams p = models::Mlp<Space>::random_params(layers, 5);
    const int batch = 13, d = layers[0];
    const auto x = to_device(normals(batch, d, 21, 1.0), batch, d);
    const auto off = to_device(normals(batch, d, 22, 2.0), batch, d);
    std::vector<Host> grads[2];
    for (int warm = 0; warm < 2; ++warm) {
      models::Mlp<Space> m(p, models::Activation::silu);
      if (warm) {  // the Langevin products pack every hidden weight both ways
        Vector<Space> E0("E0", batch);
        Matrix<Space> g0("g0", batch, d);
        m.energy_and_grad(x, E0, g0);
      }
      auto gc = filled_buffer(m, 0.0), gd = filled_buffer(m, 0.0);
      Vector<Space> E("E", batch);
      m.contrastive_grad(x, PerChain<Space>(0.5), 0.2, gc, E);
      m.dsm_loss_and_grad(x, off, PerChain<Space>(0.75), gd);
      grads[warm] = {host_copy(gc), host_copy(gd), host_copy(E)};
    }
    close(grads[1][0], grads[0][0], "contrastive gradient");
    close(grads[1][1], grads[0][1], "dsm gradient");
    close(grads[1][2], grads[0][2], "energies");
  }
}

TEST(MlpDsm, RefusesLeakyRelu) {
  const std::string want = "model.activation = leaky_relu is not smooth: DSM needs silu or softplus";
  EXPECT_NO_THROW(models::require_smooth_activation(models::Activation::silu));
  EXPECT_NO_THROW(models::require_smooth_activation(models::Activation::softplus));
  try {
    models::require_smooth_activation(models::Activation::leaky_relu);
    ADD_FAILURE() << "require_smooth_activation accepted leaky_relu";
  } catch (const Error& e) {
    EXPECT_EQ(e.what(), want);
  }
  models::Mlp<Space> m(models::Mlp<Space>::random_params({2, 4, 1}, 1), models::Activation::leaky_relu);
  Matrix<Space> x("x", 3, 2), off("off", 3, 2);
  auto g = m.gradient_buffer();
  try {
    m.dsm_loss_and_grad(x, off, 1.0, g);
    ADD_FAILURE() << "dsm_loss_and_grad accepted leaky_relu";
  } catch (const Error& e) {
    EXPECT_EQ(e.what(), want);
  }
}

TEST(MlpParams, FlatLayoutAndRoundTrip) {
  const std::vector<int> layers{3, 5, 4, 1};
  const io::MlpParams p = models::Mlp<Space>::random_params(layers, 21);
  models::Mlp<Space> m(p, models::Activation::silu);
  ASSERT_EQ(m.n_params(), std::size_t(3 * 5 + 5 + 5 * 4 + 4 + 4 + 1));
  // θ = per layer W_l row-major [out][in], then b_l.
  const Host theta = m.params();
  ASSERT_EQ(theta, as_real(p.flat()));
  for (int l = 0; l < m.nlayers(); ++l) {
    const int in = layers[l], out = layers[l + 1];
    EXPECT_EQ(m.b_offset(l), m.w_offset(l) + std::size_t(out) * in);
    const auto w = host_copy(m.weight(l));
    const auto b = host_copy(m.bias(l));
    for (int o = 0; o < out; ++o) {
      EXPECT_EQ(b[o], theta[m.b_offset(l) + o]);
      for (int i = 0; i < in; ++i) {
        EXPECT_EQ(w[std::size_t(o) * in + i], theta[m.w_offset(l) + std::size_t(o) * in + i]);
        EXPECT_EQ(w[std::size_t(o) * in + i], double(Real(p.weight[l][std::size_t(o) * in + i])));
      }
    }
  }
  // set_params / params round trip, and back to per-layer arrays.
  Host q(m.n_params());
  for (std::size_t k = 0; k < q.size(); ++k) q[k] = 0.25 * double(k % 7) - 0.5;
  m.set_params(q);
  EXPECT_EQ(m.params(), q);
  const io::MlpParams back = m.mlp_params();
  EXPECT_EQ(back.layers, layers);
  EXPECT_EQ(back.flat(), q);
  EXPECT_THROW(m.set_params(Host(q.size() + 1)), Error);
  // weight(l) and bias(l) are views into θ: a change of θ shows through them.
  Kokkos::deep_copy(m.theta(), Real(2));
  for (double v : host_copy(m.weight(1))) EXPECT_EQ(v, 2.0);
  for (double v : host_copy(m.bias(2))) EXPECT_EQ(v, 2.0);
}

//! E(x) and ∇x E(x) of one point on the host, in double, from the per-layer arrays.
double host_energy_and_grad(const io::MlpParams& p, models::Activation act, const Host& x, Host& grad) {
  const int nl = static_cast<int>(p.layers.size()) - 1;
  std::vector<Host> a{x}, d;  // activations and act' per layer
  for (int l = 0; l + 1 < nl; ++l) {
    const int in = p.layers[l], out = p.layers[l + 1];
    Host h(out), dh(out);
    for (int o = 0; o < out; ++o) {
      double z = p.bias[l][o];
      for (int i = 0; i < in; ++i) z += p.weight[l][std::size_t(o) * in + i] * a[l][i];
      const double sg = 1 / (1 + std::exp(-z));
      if (act == models::Activation::silu) {
        h[o] = z * sg;
        dh[o] = sg + z * sg * (1 - sg);
      } else {
        h[o] = std::log1p(std::exp(z));
        dh[o] = sg;
      }
    }
    a.push_back(h);
    d.push_back(dh);
  }
  const int last = p.layers[nl - 1];
  double E = p.bias[nl - 1][0];
  for (int j = 0; j < last; ++j) E += p.weight[nl - 1][j] * a[nl - 1][j];
  Host u(p.weight[nl - 1].begin(), p.weight[nl - 1].end());  // ∂E/∂a_last
  for (int l = nl - 2; l >= 0; --l) {
    const int in = p.layers[l], out = p.layers[l + 1];
    Host down(in, 0.0);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) down[i] += u[o] * d[l][o] * p.weight[l][std::size_t(o) * in + i];
    u = down;
  }
  grad = u;
  return E;
}

//! θ changed in place (as an optimizer does) plus params_updated() gives the energies
//! and gradients of the new parameters, on nets whose energy() and energy_and_grad()
//! read the transposed W_0 of the small fan-in kernels, and (on AVX2 builds) the packed
//! hidden weights: the same numbers as a model built from them, and a host computation.
TEST(MlpParams, ParamsUpdatedKeepsSmallFanInPath) {
  for (const std::vector<int>& layers : {std::vector<int>{2, 16, 1}, {2, 16, 16, 1}, {8, 12, 1}, {20, 24, 40, 1}}) {
    models::Mlp<Space> m(models::Mlp<Space>::random_params(layers, 1), models::Activation::silu);
    {  // derive from the first θ whatever its kernels derive (W_0ᵀ, packed weights) before θ changes
      Vector<Space> E0("E0", 3);
      Matrix<Space> g0("g0", 3, layers[0]);
      m.energy_and_grad(to_device(normals(3, layers[0], 7, 1.0), 3, layers[0]), E0, g0);
    }
    const io::MlpParams fresh = models::Mlp<Space>::random_params(layers, 2);
    Kokkos::deep_copy(m.theta(), to_device(fresh.flat()));
    m.params_updated();
    models::Mlp<Space> ref(fresh, models::Activation::silu);
    for (int batch : {5, 16}) {
      const int d = layers[0];
      const Host xh = normals(batch, d, 8, 1.5);
      const auto x = to_device(xh, batch, d);
      Vector<Space> E("E", batch), Er("Er", batch), E2("E2", batch), Er2("Er2", batch);
      Matrix<Space> g("g", batch, d), gr("gr", batch, d);
      m.energy(x, E);
      ref.energy(x, Er);
      m.energy_and_grad(x, E2, g);
      ref.energy_and_grad(x, Er2, gr);
      EXPECT_EQ(host_copy(E), host_copy(Er));
      EXPECT_EQ(host_copy(E2), host_copy(Er2));
      EXPECT_EQ(host_copy(g), host_copy(gr));
      const Host e = host_copy(E), gd = host_copy(g);
      const double tol = kDouble ? 1e-12 : 1e-5;
      for (int n = 0; n < batch; ++n) {
        Host gh;
        const double eh = host_energy_and_grad(fresh, models::Activation::silu,
                                               Host(xh.begin() + n * d, xh.begin() + (n + 1) * d), gh);
        EXPECT_NEAR(e[n], eh, tol * (1 + std::abs(eh)));
        for (int i = 0; i < d; ++i) EXPECT_NEAR(gd[std::size_t(n) * d + i], gh[i], tol * (1 + std::abs(gh[i])));
      }
    }
  }
}

}  // namespace
}  // namespace zeta
