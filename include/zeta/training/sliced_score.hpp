//! Sliced score matching's second-order pass over an MLP energy (Song et al. 2019),
//! for training/mlp_ssm.hpp. With the model's score s(x) = −∇x E(x) and a projection v,
//! the loss of one example is
//!   vᵀ∇x(vᵀ s) + ½ (vᵀ s)² = −vᵀHv + ½ (vᵀ∇x E)²      (H = ∇x² E),
//! and its variance-reduced form (SSM-VR, for E[v vᵀ] = I) −vᵀHv + ½ ‖∇x E‖².
//!
//! Ė = vᵀ∇x E and Ë = vᵀHv are E's first and second derivatives along v, which a
//! second-order forward (Taylor) pass carries through the network beside the primal
//! one, as DSM's first-order tangent pass does (models/mlp.hpp): with A_0 = x,
//! Ȧ_0 = v, Ä_0 = 0, each hidden layer l
//!   [Z; Ż; Z̈] = [A; Ȧ; Ä]_{l−1} W_{l−1}ᵀ (+ b on Z),
//!   A = f(Z), Ȧ = f'(Z) Ż, Ä = f''(Z) Ż² + f'(Z) Z̈,
//! and the output [Ė; Ë] = [Ȧ; Ä]_last w_oᵀ. Reverse mode through it with the seeds
//! ∂J/∂Ė and ∂J/∂Ë of each row gives, per hidden layer with adjoints [Ā; Ǡ; Ǟ],
//!   Z̄ = Ā f' + Ǡ f'' Ż + Ǟ (f''' Ż² + f'' Z̈),  Ż̄ = Ǡ f' + 2 Ǟ f'' Ż,  Z̈̄ = Ǟ f',
//! ∂W_{l−1} += [Z̄; Ż̄; Z̈̄]ᵀ [A; Ȧ; Ä]_{l−1}, ∂b_{l−1} += Σ_n Z̄_n, and the layer below's
//! [Ā; Ǡ] = [Z̄; Ż̄] W_{l−1}: the row blocks are stacked so that each is one GEMM. It
//! needs f''' (silu, softplus). Ë is linear in Ä_l through the energy's own Jacobian, so
//! Ǟ_l = ë G_l with G_l = ∂E/∂A_l from one backpropagation of E (n rows), not a GEMM
//! row block of its own.
//!
//! SSM-VR: ½‖∇x E‖² has the θ-gradient ⟨r, ∇θ∇x E⟩ at r = ∇x E, that of E's derivative
//! along r held fixed; so −Ë + Ė_r is −Ë' of the same Taylor pass started from
//! Ä_0 = −r, and one pass gives the whole gradient (Ë = Ë' + ‖r‖²). r comes from the
//! same backpropagation of E. Per row on d_0-d_1-d_2-1 that is 7 GEMM units of
//! d_0 d_1 and 9 of d_1 d_2 (a Taylor pass beside DSM's pass took 11 and 15); SSM's
//! Ä_0 = 0 skips its rows of the first layer's GEMMs. The primal pass keeps σ(Z), the
//! one exponential per entry that every elementwise pass after it shares.
#pragma once
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/core/vmath.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/models/activation.hpp"
#include "zeta/models/mlp.hpp"

namespace zeta::training {

namespace detail {

//! f', f'' and f''' of a smooth activation at z from s = σ(z) (silu when Silu, else
//! softplus): plain arithmetic, so the loops below vectorize.
template <bool Silu>
KOKKOS_INLINE_FUNCTION void activation_derivatives(Real z, Real s, Real& d1, Real& d2, Real& d3) {
  const Real s1 = s * (Real(1) - s), t = Real(1) - Real(2) * s;
  if constexpr (Silu) {
    // f = z s: f' = s + z s1, f'' = s1 (2 + z t), f''' = 3 s1 t + z (s1 t² − 2 s1²).
    d1 = s + z * s1;
    d2 = s1 * (Real(2) + z * t);
    d3 = Real(3) * s1 * t + z * (s1 * t * t - Real(2) * s1 * s1);
  } else {  // softplus: f' = s, f'' = s1, f''' = s1 t
    d1 = s;
    d2 = s1;
    d3 = s1 * t;
  }
}

//! Calls body(std::true_type) for silu, body(std::false_type) for softplus.
template <class Body>
void with_activation(models::Activation a, const Body& body) {
  if (a == models::Activation::silu)
    body(std::true_type{});
  else
    body(std::false_type{});
}

//! The primal rows of a hidden layer: Z += b in place (row block 0 of z), S = σ(Z)
//! into sg, and A = f(Z) into row block 0 of out; the one exponential per entry that
//! the passes below share.
template <bool Silu, class Space>
void primal_activation_as(const Matrix<Space>& z, const Vector<Space>& b, int n, const Matrix<Space>& sg,
                          const Matrix<Space>& out) {
  const int w = static_cast<int>(z.extent(1));
  models::detail::for_entries<Space>(
      "zeta::ssm::primal_activation", n, w, KOKKOS_LAMBDA(const int r, const int k) {
        const Real zz = z(r, k) + b(k);
        z(r, k) = zz;
        Real s = 0, f = 0;
        if constexpr (Silu) {
          if constexpr (std::is_same_v<Real, float>)
            s = vmath::sigmoid(zz);
          else
            s = kmath::sigmoid(zz);
          f = zz * s;
        } else {
          models::activate(models::Activation::softplus, zz, f, s);
        }
        sg(r, k) = s;
        out(r, k) = f;
      });
}
template <class Space>
void primal_activation(const Matrix<Space>& z, const Vector<Space>& b, models::Activation act, int n,
                       const Matrix<Space>& sg, const Matrix<Space>& out) {
  with_activation(act, [&](auto silu) { primal_activation_as<decltype(silu)::value, Space>(z, b, n, sg, out); });
}

//! The tangent rows [Ż; Z̈] (row blocks 1 and 2 of z) of a hidden layer into [Ȧ; Ä]
//! (row blocks 1 and 2 of out): Ȧ = f' Ż, Ä = f'' Ż² + f' Z̈.
template <bool Silu, class Space>
void taylor_activation_as(const Matrix<Space>& z, const Matrix<Space>& sg, int n, const Matrix<Space>& out) {
  const int w = static_cast<int>(z.extent(1));
  models::detail::for_entries<Space>(
      "zeta::ssm::taylor_activation", n, w, KOKKOS_LAMBDA(const int r, const int k) {
        const Real zd = z(n + r, k), zdd = z(2 * n + r, k);
        Real d1, d2, d3;
        activation_derivatives<Silu>(z(r, k), sg(r, k), d1, d2, d3);
        out(n + r, k) = d1 * zd;
        out(2 * n + r, k) = d2 * zd * zd + d1 * zdd;
      });
}
template <class Space>
void taylor_activation(const Matrix<Space>& z, const Matrix<Space>& sg, models::Activation act, int n,
                       const Matrix<Space>& out) {
  with_activation(act, [&](auto silu) { taylor_activation_as<decltype(silu)::value, Space>(z, sg, n, out); });
}

//! One step of the energy's backpropagation: Δ = G ⊙ f'(Z) (n rows, Z row block 0).
template <bool Silu, class Space>
void energy_adjoint_as(const Matrix<Space>& gl, const Matrix<Space>& z, const Matrix<Space>& sg, int n,
                       const Matrix<Space>& delta) {
  const int w = static_cast<int>(z.extent(1));
  models::detail::for_entries<Space>(
      "zeta::ssm::energy_adjoint", n, w, KOKKOS_LAMBDA(const int r, const int k) {
        Real d1, d2, d3;
        activation_derivatives<Silu>(z(r, k), sg(r, k), d1, d2, d3);
        delta(r, k) = gl(r, k) * d1;
      });
}
template <class Space>
void energy_adjoint(const Matrix<Space>& gl, const Matrix<Space>& z, const Matrix<Space>& sg, models::Activation act,
                    int n, const Matrix<Space>& delta) {
  with_activation(act, [&](auto silu) { energy_adjoint_as<decltype(silu)::value, Space>(gl, z, sg, n, delta); });
}

//! The adjoints [Ā; Ǡ] (row blocks 0 and 1 of y) and Ǟ = ë G (ë the uniform seed of
//! Ë, G = ∂E/∂A of the layer) into [Z̄; Ż̄; Z̈̄] in y, from the layer's [Z; Ż; Z̈]:
//!   Z̄ = Ā f' + Ǡ f'' Ż + Ǟ (f''' Ż² + f'' Z̈),  Ż̄ = Ǡ f' + 2 Ǟ f'' Ż,  Z̈̄ = Ǟ f'.
template <bool Silu, class Space>
void taylor_adjoint_as(const Matrix<Space>& y, const Matrix<Space>& z, const Matrix<Space>& sg, const Matrix<Space>& gl,
                       Real seed2, int n) {
  const int w = static_cast<int>(z.extent(1));
  models::detail::for_entries<Space>(
      "zeta::ssm::taylor_adjoint", n, w, KOKKOS_LAMBDA(const int r, const int k) {
        const Real zd = z(n + r, k), zdd = z(2 * n + r, k);
        Real d1, d2, d3;
        activation_derivatives<Silu>(z(r, k), sg(r, k), d1, d2, d3);
        const Real a = y(r, k), ad = y(n + r, k), add = seed2 * gl(r, k);
        y(r, k) = a * d1 + ad * d2 * zd + add * (d3 * zd * zd + d2 * zdd);
        y(n + r, k) = ad * d1 + Real(2) * add * d2 * zd;
        y(2 * n + r, k) = add * d1;
      });
}
template <class Space>
void taylor_adjoint(const Matrix<Space>& y, const Matrix<Space>& z, const Matrix<Space>& sg, const Matrix<Space>& gl,
                    Real seed2, models::Activation act, int n) {
  with_activation(act, [&](auto silu) { taylor_adjoint_as<decltype(silu)::value, Space>(y, z, sg, gl, seed2, n); });
}

}  // namespace detail

template <class Space>
class SlicedScore {
 public:
  //! Adds to g (laid out as the Mlp's θ) the gradient of
  //!   J = w Σ_n (−v_nᵀ H v_n + ½ (v_nᵀ∇x E(x_n))²)   (vr = false)
  //!   J = w Σ_n (−v_nᵀ H v_n + ½ ‖∇x E(x_n)‖²)        (vr = true)
  //! over the rows of x and v, and returns J (host).
  double loss_and_grad(models::Mlp<Space>& m, const Matrix<Space>& x, const Matrix<Space>& v, double w, bool vr,
                       const Vector<Space>& g) {
    models::require_smooth_activation(m.activation());
    const int n = static_cast<int>(x.extent(0));
    if (v.extent(0) != x.extent(0) || v.extent(1) != x.extent(1) || static_cast<int>(x.extent(1)) != m.dim() ||
        g.extent(0) != m.n_params())
      throw Error("internal: sliced score matching arguments differ in shape", false);
    if (n == 0) return 0;
    ensure(m, n);
    primal(m, x, v, n);
    energy_backprop(m, n, vr);
    tangent(m, n, vr);
    const double loss = seeds(m, n, w, vr);
    backward(m, n, w, vr, g);
    return loss;
  }

  //! Ė = vᵀ∇x E (order 1) and Ë = vᵀHv (order 2) of the rows of the last call (host, for tests).
  std::vector<double> directional(int order) const {
    const auto h = host_copy(out_);
    const int n = rows_;
    return std::vector<double>(h.begin() + (order - 1) * n, h.begin() + order * n);
  }

  // Public for CUDA's lambdas (STYLE 15); the steps of loss_and_grad.
  void ensure(const models::Mlp<Space>& m, int n) {
    if (rows_ == n && t_.size() == std::size_t(m.nlayers())) return;
    rows_ = n;
    const auto& sizes = m.layers();
    t_.clear();
    z_.clear();
    g_.clear();
    s_.clear();
    int widest = 1;
    for (int l = 0; l < m.nlayers(); ++l) {
      t_.emplace_back("zeta::ssm::taylor_rows", 3 * n, sizes[l]);
      z_.emplace_back("zeta::ssm::pre_activations", l == 0 ? 0 : 3 * n, sizes[l]);
      g_.emplace_back("zeta::ssm::energy_adjoints", l == 0 ? 0 : n, sizes[l]);
      s_.emplace_back("zeta::ssm::sigmoids", l == 0 ? 0 : n, sizes[l]);
      widest = std::max(widest, sizes[l]);
    }
    y_[0] = Matrix<Space>("zeta::ssm::adjoint0", 3 * n, widest);
    y_[1] = Matrix<Space>("zeta::ssm::adjoint1", 3 * n, widest);
    out_ = Vector<Space>("zeta::ssm::outputs", 2 * n);
    seed_ = Vector<Space>("zeta::ssm::seeds", 2 * n);
  }

  //! Row blocks 0 and 1 of [A; Ȧ; Ä]_0 (x, v), and the primal rows A_l, Z_l of every layer.
  void primal(const models::Mlp<Space>& m, const Matrix<Space>& x, const Matrix<Space>& v, int n) {
    const auto t0 = t_[0];
    Kokkos::deep_copy(Kokkos::subview(t0, std::make_pair(0, n), Kokkos::ALL), x);
    Kokkos::deep_copy(Kokkos::subview(t0, std::make_pair(n, 2 * n), Kokkos::ALL), v);
    for (int l = 1; l < m.nlayers(); ++l) {
      linalg::gemm<Space>(false, true, Real(1), block(t_[l - 1], 0, 1), m.weight(l - 1), Real(0), block(z_[l], 0, 1));
      detail::primal_activation<Space>(z_[l], m.bias(l - 1), m.activation(), n, s_[l], t_[l]);
    }
  }

  //! G_l = ∂E/∂A_l of every hidden layer (g_), and for SSM-VR Ä_0 = −∇x E (row block 2
  //! of t_[0]): SSM-VR's ½‖∇x E‖² has the gradient ⟨r, ∇θ ∇x E⟩ at r = ∇x E, i.e. that
  //! of Ė along r held fixed, and −Ë along v plus Ė along r is −(Ë along v from Ä_0 = −r):
  //! the Taylor pass with Ä_0 = −r carries both terms at once (Ë' = Ë − ‖r‖² below).
  //! SSM has Ä_0 = 0.
  void energy_backprop(const models::Mlp<Space>& m, int n, bool vr) {
    const int last = m.nlayers() - 1;
    const auto t0 = t_[0];
    const Matrix<Space> minus_r = block(t0, 2, 1);
    const auto wo = m.weight(last);
    if (last == 0) {
      Kokkos::parallel_for(
          "zeta::ssm::linear_gradient", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {n, m.dim()}),
          KOKKOS_LAMBDA(const int r, const int k) { minus_r(r, k) = vr ? -wo(0, k) : Real(0); });
      return;
    }
    const auto gl = g_[last];
    Kokkos::parallel_for(
        "zeta::ssm::output_energy_adjoint",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {n, m.layers()[last]}),
        KOKKOS_LAMBDA(const int r, const int k) { gl(r, k) = wo(0, k); });
    for (int l = last; l >= 1; --l) {
      if (l == 1 && !vr) break;
      const Matrix<Space> delta(y_[0].data(), n, m.layers()[l]);
      detail::energy_adjoint<Space>(g_[l], z_[l], s_[l], m.activation(), n, delta);
      linalg::gemm<Space>(false, false, l == 1 ? Real(-1) : Real(1), delta, m.weight(l - 1), Real(0),
                          l == 1 ? minus_r : g_[l - 1]);
    }
    if (!vr) Kokkos::deep_copy(minus_r, Real(0));
  }

  //! The tangent rows [Ȧ; Ä] of every layer, and [Ė; Ë] = [Ȧ; Ä]_last w_oᵀ in out_.
  //! Layer 0's Ä_0 is zero for SSM: its rows skip the first GEMM.
  void tangent(const models::Mlp<Space>& m, int n, bool vr) {
    const int last = m.nlayers() - 1;
    for (int l = 1; l <= last; ++l) {
      if (l == 1 && !vr) {
        linalg::gemm<Space>(false, true, Real(1), block(t_[0], 1, 1), m.weight(0), Real(0), block(z_[1], 1, 1));
        Kokkos::deep_copy(block(z_[1], 2, 1), Real(0));
      } else {
        linalg::gemm<Space>(false, true, Real(1), block(t_[l - 1], 1, 2), m.weight(l - 1), Real(0), block(z_[l], 1, 2));
      }
      detail::taylor_activation<Space>(z_[l], s_[l], m.activation(), n, t_[l]);
    }
    const Matrix<Space> out(out_.data(), 2 * n, 1);
    linalg::gemm<Space>(false, true, Real(1), block(t_[last], 1, 2), m.weight(last), Real(0), out);
  }

  //! ∂J/∂Ė and ∂J/∂Ë per row into seed_ (Ė w for SSM, 0 for SSM-VR; −w); returns J.
  //! For SSM-VR out_'s Ë is Ë' = Ë − ‖r‖² (r = −Ä_0) until here, where ‖r‖² is added back.
  double seeds(const models::Mlp<Space>& m, int n, double w, bool vr) {
    const auto out = out_;
    const auto seed = seed_;
    const Matrix<Space> minus_r = block(t_[0], 2, 1);
    const int d = m.dim();
    const Real wr = Real(w);
    double loss = 0;
    Kokkos::parallel_reduce(
        "zeta::ssm::seeds", RangePolicy<Space>(0, n),
        KOKKOS_LAMBDA(const int r, double& sum) {
          double rr = 0;
          if (vr)
            for (int i = 0; i < d; ++i) rr += double(minus_r(r, i)) * double(minus_r(r, i));
          const Real ed = out(r);
          const double edd = double(out(n + r)) + rr;
          out(n + r) = Real(edd);
          seed(r) = vr ? Real(0) : wr * ed;
          seed(n + r) = -wr;
          sum += double(wr) * (-edd + 0.5 * (vr ? rr : double(ed) * double(ed)));
        },
        loss);
    return loss;
  }

  //! Reverse mode from the seeds down to the first layer's weights. The adjoint of Ä_l is
  //! ë G_l (Ë is linear in Ä_l through the energy's own Jacobian), so only the rows
  //! [Z̄; Ż̄] go down a layer by GEMM.
  void backward(const models::Mlp<Space>& m, int n, double w, bool vr, const Vector<Space>& g) {
    const int last = m.nlayers() - 1;
    const int dl = m.layers()[last];
    // Output layer: ∂w_o += Σ_n (ė_n Ȧ_n + ë_n Ä_n); ∂b_o += 0 (E has no seed).
    {
      const Matrix<Space> gw(g.data() + m.w_offset(last), 1, dl);
      const int blocks = last == 0 && !vr ? 1 : 2;
      const Matrix<Space> sc(seed_.data(), blocks * n, 1);
      linalg::gemm<Space>(true, false, Real(1), sc, block(t_[last], 1, blocks), Real(1), gw);
    }
    if (last == 0) return;
    // [Ā; Ǡ] of the last hidden layer: 0, ė w_o.
    int cur = 0;
    {
      const Matrix<Space> y(y_[cur].data(), 2 * n, dl);
      const auto seed = seed_;
      const auto wo = m.weight(last);
      Kokkos::parallel_for(
          "zeta::ssm::output_adjoint", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {n, dl}),
          KOKKOS_LAMBDA(const int r, const int k) {
            y(r, k) = 0;
            y(n + r, k) = seed(r) * wo(0, k);
          });
    }
    for (int l = last; l >= 1; --l) {
      const int width = m.layers()[l], below = m.layers()[l - 1];
      const Matrix<Space> y(y_[cur].data(), 3 * n, width);
      detail::taylor_adjoint<Space>(y, z_[l], s_[l], g_[l], Real(-w), m.activation(), n);
      const Matrix<Space> gw(g.data() + m.w_offset(l - 1), width, below);
      const int blocks = l == 1 && !vr ? 2 : 3;  // SSM's Ä_0 = 0
      linalg::gemm<Space>(true, false, Real(1), block(y, 0, blocks), block(t_[l - 1], 0, blocks), Real(1), gw);
      const Matrix<Space> ones(ones_of(n).data(), n, 1);
      const Matrix<Space> gb(g.data() + m.b_offset(l - 1), 1, width);
      linalg::gemm<Space>(true, false, Real(1), ones, block(y, 0, 1), Real(1), gb);
      if (l == 1) break;
      const Matrix<Space> next(y_[1 - cur].data(), 2 * n, below);
      linalg::gemm<Space>(false, false, Real(1), block(y, 0, 2), m.weight(l - 1), Real(0), next);
      cur = 1 - cur;
    }
  }

 private:
  //! Row blocks [first, first + count) of n = rows_ rows each of a stacked matrix.
  Matrix<Space> block(const Matrix<Space>& a, int first, int count) const {
    return Matrix<Space>(a.data() + std::size_t(first) * rows_ * a.extent(1), std::size_t(count) * rows_, a.extent(1));
  }

  const Vector<Space>& ones_of(int n) {
    if (static_cast<int>(ones_.extent(0)) != n) {
      ones_ = Vector<Space>("zeta::ssm::ones", n);
      Kokkos::deep_copy(ones_, Real(1));
    }
    return ones_;
  }

  int rows_ = -1;
  std::vector<Matrix<Space>> t_, z_;  //!< per layer [A; Ȧ; Ä] (its input) and [Z; Ż; Z̈] (hidden layers)
  std::vector<Matrix<Space>> g_;      //!< per hidden layer G = ∂E/∂A (n rows)
  std::vector<Matrix<Space>> s_;      //!< per hidden layer σ(Z) (n rows; f' for softplus, the same)
  Matrix<Space> y_[2];                //!< adjoints, ping-pong
  Vector<Space> out_, seed_, ones_;
};

}  // namespace zeta::training
