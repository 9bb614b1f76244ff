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
//! and the output [E; Ė; Ë] = [A; Ȧ; Ä]_last w_oᵀ (+ b_o on E): the three row blocks are
//! stacked so that each layer is one GEMM. Reverse mode through it with the seeds
//! ∂J/∂Ė and ∂J/∂Ë of each row gives, per hidden layer with adjoints [Ā; Ǡ; Ǟ],
//!   Z̄ = Ā f' + Ǡ f'' Ż + Ǟ (f''' Ż² + f'' Z̈),  Ż̄ = Ǡ f' + 2 Ǟ f'' Ż,  Z̈̄ = Ǟ f',
//! ∂W_{l−1} += [Z̄; Ż̄; Z̈̄]ᵀ [A; Ȧ; Ä]_{l−1}, ∂b_{l−1} += Σ_n Z̄_n, and the layer below's
//! adjoints [Z̄; Ż̄; Z̈̄] W_{l−1}: one GEMM each again. It needs f''' (silu, softplus).
//! SSM-VR's ½‖∇x E‖² is DSM's loss with a zero offset: Mlp::dsm_loss_and_grad.
#pragma once
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/models/activation.hpp"
#include "zeta/models/mlp.hpp"

namespace zeta::training {

namespace detail {

//! f', f'' and f''' of a smooth activation at z (silu, softplus).
KOKKOS_INLINE_FUNCTION void activation_derivatives(models::Activation a, Real z, Real& d1, Real& d2, Real& d3) {
  const Real s = kmath::sigmoid(z), s1 = s * (Real(1) - s), t = Real(1) - Real(2) * s;
  if (a == models::Activation::silu) {
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

//! The three row blocks [Z; Ż; Z̈] (n rows each) of a hidden layer into [A; Ȧ; Ä] in
//! `out`, the bias added to Z in place first.
template <class Space>
void taylor_activation(const Matrix<Space>& z, const Vector<Space>& b, models::Activation act, int n,
                       const Matrix<Space>& out) {
  const int w = static_cast<int>(z.extent(1));
  Kokkos::parallel_for(
      "zeta::ssm::taylor_activation", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {n, w}),
      KOKKOS_LAMBDA(const int r, const int k) {
        const Real zz = z(r, k) + b(k);
        z(r, k) = zz;
        const Real zd = z(n + r, k), zdd = z(2 * n + r, k);
        Real f = 0, d1 = 0, d2 = 0, d3 = 0;
        models::activate(act, zz, f, d1);
        activation_derivatives(act, zz, d1, d2, d3);
        out(r, k) = f;
        out(n + r, k) = d1 * zd;
        out(2 * n + r, k) = d2 * zd * zd + d1 * zdd;
      });
}

//! The adjoints [Ā; Ǡ; Ǟ] in y into [Z̄; Ż̄; Z̈̄] in place, from the layer's [Z; Ż; Z̈].
template <class Space>
void taylor_adjoint(const Matrix<Space>& y, const Matrix<Space>& z, models::Activation act, int n) {
  const int w = static_cast<int>(z.extent(1));
  Kokkos::parallel_for(
      "zeta::ssm::taylor_adjoint", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {n, w}),
      KOKKOS_LAMBDA(const int r, const int k) {
        const Real zd = z(n + r, k), zdd = z(2 * n + r, k);
        Real d1, d2, d3;
        activation_derivatives(act, z(r, k), d1, d2, d3);
        const Real a = y(r, k), ad = y(n + r, k), add = y(2 * n + r, k);
        y(r, k) = a * d1 + ad * d2 * zd + add * (d3 * zd * zd + d2 * zdd);
        y(n + r, k) = ad * d1 + Real(2) * add * d2 * zd;
        y(2 * n + r, k) = add * d1;
      });
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
    double loss = 0;
    if (vr) {
      if (zero_.extent(0) != x.extent(0) || zero_.extent(1) != x.extent(1))
        zero_ = Matrix<Space>("zeta::ssm::zero_offset", x.extent(0), x.extent(1));
      loss += m.dsm_loss_and_grad(x, zero_, PerChain<Space>(w), g);
    }
    ensure(m, n);
    forward(m, x, v, n);
    loss += seeds(m, n, w, vr);
    backward(m, n, g);
    return loss;
  }

  //! Ė = vᵀ∇x E and Ë = vᵀHv of the rows of the last call (host, for tests).
  std::vector<double> directional(int order) const {
    const auto h = host_copy(out_);
    const int n = rows_;
    return std::vector<double>(h.begin() + order * n, h.begin() + (order + 1) * n);
  }

  // Public for CUDA's lambdas (STYLE 15); the steps of loss_and_grad.
  void ensure(const models::Mlp<Space>& m, int n) {
    if (rows_ == n && t_.size() == std::size_t(m.nlayers())) return;
    rows_ = n;
    const auto& sizes = m.layers();
    t_.clear();
    z_.clear();
    int widest = 1;
    for (int l = 0; l < m.nlayers(); ++l) {
      t_.emplace_back("zeta::ssm::taylor_rows", 3 * n, sizes[l]);
      z_.emplace_back("zeta::ssm::pre_activations", l == 0 ? 0 : 3 * n, sizes[l]);
      widest = std::max(widest, sizes[l]);
    }
    y_[0] = Matrix<Space>("zeta::ssm::adjoint0", 3 * n, widest);
    y_[1] = Matrix<Space>("zeta::ssm::adjoint1", 3 * n, widest);
    out_ = Vector<Space>("zeta::ssm::outputs", 3 * n);
    seed_ = Vector<Space>("zeta::ssm::seeds", 2 * n);
  }

  //! [A; Ȧ; Ä] per layer, and [E; Ė; Ë] (without b_o) in out_.
  void forward(const models::Mlp<Space>& m, const Matrix<Space>& x, const Matrix<Space>& v, int n) {
    const auto t0 = t_[0];
    Kokkos::deep_copy(Kokkos::subview(t0, std::make_pair(0, n), Kokkos::ALL), x);
    Kokkos::deep_copy(Kokkos::subview(t0, std::make_pair(n, 2 * n), Kokkos::ALL), v);
    Kokkos::deep_copy(Kokkos::subview(t0, std::make_pair(2 * n, 3 * n), Kokkos::ALL), Real(0));
    const int last = m.nlayers() - 1;
    for (int l = 1; l <= last; ++l) {
      linalg::gemm<Space>(false, true, Real(1), t_[l - 1], m.weight(l - 1), Real(0), z_[l]);
      detail::taylor_activation<Space>(z_[l], m.bias(l - 1), m.activation(), n, t_[l]);
    }
    const Matrix<Space> out(out_.data(), 3 * n, 1);
    linalg::gemm<Space>(false, true, Real(1), t_[last], m.weight(last), Real(0), out);
  }

  //! ∂J/∂Ė and ∂J/∂Ë per row into seed_ (Ė w for SSM, 0 for SSM-VR; −w); returns
  //! the Taylor part of J.
  double seeds(const models::Mlp<Space>& m, int n, double w, bool vr) {
    (void)m;
    const auto out = out_;
    const auto seed = seed_;
    const Real wr = Real(w);
    double loss = 0;
    Kokkos::parallel_reduce(
        "zeta::ssm::seeds", RangePolicy<Space>(0, n),
        KOKKOS_LAMBDA(const int r, double& sum) {
          const Real ed = out(n + r), edd = out(2 * n + r);
          seed(r) = vr ? Real(0) : wr * ed;
          seed(n + r) = -wr;
          sum += double(wr) * (-double(edd) + (vr ? 0.0 : 0.5 * double(ed) * double(ed)));
        },
        loss);
    return loss;
  }

  //! Reverse mode from the seeds down to the first layer's weights.
  void backward(const models::Mlp<Space>& m, int n, const Vector<Space>& g) {
    const int last = m.nlayers() - 1;
    const int dl = m.layers()[last];
    // Output layer: ∂w_o += Σ_n (ė_n Ȧ_n + ë_n Ä_n); ∂b_o += 0 (E has no seed).
    {
      const Matrix<Space> seeds_col(seed_.data(), 2 * n, 1);
      const Matrix<Space> upper(t_[last].data() + std::size_t(n) * dl, 2 * n, dl);
      const Matrix<Space> gw(g.data() + m.w_offset(last), 1, dl);
      linalg::gemm<Space>(true, false, Real(1), seeds_col, upper, Real(1), gw);
    }
    if (last == 0) return;
    // [Ā; Ǡ; Ǟ] of the last hidden layer: 0, ė w_o, ë w_o.
    int cur = 0;
    {
      const Matrix<Space> y(y_[cur].data(), 3 * n, dl);
      const auto seed = seed_;
      const auto wo = m.weight(last);
      Kokkos::parallel_for(
          "zeta::ssm::output_adjoint", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {n, dl}),
          KOKKOS_LAMBDA(const int r, const int k) {
            y(r, k) = 0;
            y(n + r, k) = seed(r) * wo(0, k);
            y(2 * n + r, k) = seed(n + r) * wo(0, k);
          });
    }
    for (int l = last; l >= 1; --l) {
      const int width = m.layers()[l], below = m.layers()[l - 1];
      const Matrix<Space> y(y_[cur].data(), 3 * n, width);
      detail::taylor_adjoint<Space>(y, z_[l], m.activation(), n);
      const Matrix<Space> gw(g.data() + m.w_offset(l - 1), width, below);
      linalg::gemm<Space>(true, false, Real(1), y, t_[l - 1], Real(1), gw);
      const Matrix<Space> zbar(y_[cur].data(), n, width);
      const Matrix<Space> ones(ones_of(n).data(), n, 1);
      const Matrix<Space> gb(g.data() + m.b_offset(l - 1), 1, width);
      linalg::gemm<Space>(true, false, Real(1), ones, zbar, Real(1), gb);
      if (l == 1) break;
      const Matrix<Space> next(y_[1 - cur].data(), 3 * n, below);
      linalg::gemm<Space>(false, false, Real(1), y, m.weight(l - 1), Real(0), next);
      cur = 1 - cur;
    }
  }

 private:
  const Vector<Space>& ones_of(int n) {
    if (static_cast<int>(ones_.extent(0)) != n) {
      ones_ = Vector<Space>("zeta::ssm::ones", n);
      Kokkos::deep_copy(ones_, Real(1));
    }
    return ones_;
  }

  int rows_ = -1;
  std::vector<Matrix<Space>> t_, z_;  //!< per layer [A; Ȧ; Ä] (its input) and [Z; Ż; Z̈] (hidden layers)
  Matrix<Space> y_[2];                //!< adjoints, ping-pong
  Vector<Space> out_, seed_, ones_;
  Matrix<Space> zero_;  //!< SSM-VR's zero DSM offset
};

}  // namespace zeta::training
