//! The MLP's training side: the flat parameter buffer θ.
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

TEST(MlpParams, FlatLayoutAndRoundTrip) {
  const std::vector<int> layers{3, 5, 4, 1};
  const MlpParams p = Mlp<Space>::random_params(layers, 21);
  Mlp<Space> m(p, Activation::silu);
  ASSERT_EQ(m.n_params(), std::size_t(3 * 5 + 5 + 5 * 4 + 4 + 4 + 1));
  // θ = per layer W_l row-major [out][in], then b_l.
  const Host theta = m.params();
  ASSERT_EQ(theta, p.flat());
  for (int l = 0; l < m.nlayers(); ++l) {
    const int in = layers[l], out = layers[l + 1];
    EXPECT_EQ(m.b_offset(l), m.w_offset(l) + std::size_t(out) * in);
    const auto w = host_copy(m.weight(l));
    const auto b = host_copy(m.bias(l));
    for (int o = 0; o < out; ++o) {
      EXPECT_EQ(b[o], theta[m.b_offset(l) + o]);
      for (int i = 0; i < in; ++i) {
        EXPECT_EQ(w[std::size_t(o) * in + i], theta[m.w_offset(l) + std::size_t(o) * in + i]);
        EXPECT_EQ(w[std::size_t(o) * in + i], p.weight[l][std::size_t(o) * in + i]);
      }
    }
  }
  // set_params / params round trip, and back to per-layer arrays.
  Host q(m.n_params());
  for (std::size_t k = 0; k < q.size(); ++k) q[k] = 0.25 * double(k % 7) - 0.5;
  m.set_params(q);
  EXPECT_EQ(m.params(), q);
  const MlpParams back = m.mlp_params();
  EXPECT_EQ(back.layers, layers);
  EXPECT_EQ(back.flat(), q);
  EXPECT_THROW(m.set_params(Host(q.size() + 1)), Error);
  // weight(l) and bias(l) are views into θ: a change of θ shows through them.
  Kokkos::deep_copy(m.theta(), Real(2));
  for (double v : host_copy(m.weight(1))) EXPECT_EQ(v, 2.0);
  for (double v : host_copy(m.bias(2))) EXPECT_EQ(v, 2.0);
}

//! E(x) and ∇x E(x) of one point on the host, in double, from the per-layer arrays.
double host_energy_and_grad(const MlpParams& p, Activation act, const Host& x, Host& grad) {
  const int nl = static_cast<int>(p.layers.size()) - 1;
  std::vector<Host> a{x}, d;  // activations and act' per layer
  for (int l = 0; l + 1 < nl; ++l) {
    const int in = p.layers[l], out = p.layers[l + 1];
    Host h(out), dh(out);
    for (int o = 0; o < out; ++o) {
      double z = p.bias[l][o];
      for (int i = 0; i < in; ++i) z += p.weight[l][std::size_t(o) * in + i] * a[l][i];
      const double sg = 1 / (1 + std::exp(-z));
      if (act == Activation::silu) {
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
//! read the transposed W_0 of the small fan-in kernels: the same numbers as a model
//! built from them, and a host computation.
TEST(MlpParams, ParamsUpdatedKeepsSmallFanInPath) {
  for (const std::vector<int>& layers : {std::vector<int>{2, 16, 1}, {2, 16, 16, 1}, {8, 12, 1}}) {
    Mlp<Space> m(Mlp<Space>::random_params(layers, 1), Activation::silu);
    const MlpParams fresh = Mlp<Space>::random_params(layers, 2);
    Kokkos::deep_copy(m.theta(), to_device(fresh.flat()));
    m.params_updated();
    Mlp<Space> ref(fresh, Activation::silu);
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
        const double eh =
            host_energy_and_grad(fresh, Activation::silu, Host(xh.begin() + n * d, xh.begin() + (n + 1) * d), gh);
        EXPECT_NEAR(e[n], eh, tol * (1 + std::abs(eh)));
        for (int i = 0; i < d; ++i) EXPECT_NEAR(gd[std::size_t(n) * d + i], gh[i], tol * (1 + std::abs(gh[i])));
      }
    }
  }
}

}  // namespace
}  // namespace zeta
