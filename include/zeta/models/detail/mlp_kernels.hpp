//! The kernels behind models/mlp.hpp (the training passes as free functions).
//! Callers use the Mlp class; these are its implementation.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/core/vmath.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/linalg/packed.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/models/activation.hpp"

namespace zeta {

namespace mlp_detail {

// The training kernels, as free functions: nvcc refuses extended lambdas in private member functions.

//! The weight of row n: s_n for the caller's rows, 0 on the padding rows after them.
template <class Space>
struct RowWeight {
  PerChain<Space> s;
  int rows;
  KOKKOS_INLINE_FUNCTION Real operator()(int n) const { return n < rows ? s(n) : Real(0); }
};

//! f(n, j) for every entry of a rows × width matrix: a row per work item with
//! the columns in a loop on the host (contiguous, vectorizable), one entry per
//! work item on a GPU.
template <class Space, class F>
void for_entries(const char* name, int rows, int width, const F& f) {
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible) {
    Kokkos::parallel_for(
        name, RangePolicy<Space>(0, rows), KOKKOS_LAMBDA(const int n) {
          for (int j = 0; j < width; ++j) f(n, j);
        });
  } else {
    Kokkos::parallel_for(
        name, RangePolicy<Space>(0, std::int64_t(rows) * width),
        KOKKOS_LAMBDA(const std::int64_t k) { f(static_cast<int>(k / width), static_cast<int>(k % width)); });
  }
}

//! wt(i, o) = w(o, i).
template <class Space>
void transpose(const Matrix<Space>& w, const Matrix<Space>& wt) {
  const int in = static_cast<int>(w.extent(1));
  Kokkos::parallel_for(
      "zeta::Mlp::transpose_weight0", RangePolicy<Space>(0, std::int64_t(w.extent(0)) * in),
      KOKKOS_LAMBDA(const std::int64_t k) {
        const int o = static_cast<int>(k / in), i = static_cast<int>(k % in);
        wt(i, o) = w(o, i);
      });
}

//! A hidden layer of the training forward pass: A ← act(A + b) in place (A holds
//! the GEMM's product), D ← act'(·), and S ← act''(·) when S is given.
template <class Space>
void bias_activation(const Matrix<Space>& a, const Vector<Space>& b, Activation act, const Matrix<Space>& d,
                     const Matrix<Space>& s) {
  const bool second = s.data() != nullptr;
  const int rows = static_cast<int>(a.extent(0)), width = static_cast<int>(a.extent(1));
  if constexpr (std::is_same_v<Real, float>) {
    if (act == Activation::silu) {  // vectorized silu (vmath), without a store under a condition
      if (second)
        for_entries<Space>(
            "zeta::Mlp::train_activate", rows, width, KOKKOS_LAMBDA(const int n, const int j) {
              float f, df, d2f;
              vmath::silu2(a(n, j) + b(j), f, df, d2f);
              a(n, j) = f, d(n, j) = df, s(n, j) = d2f;
            });
      else
        for_entries<Space>(
            "zeta::Mlp::train_activate", rows, width, KOKKOS_LAMBDA(const int n, const int j) {
              float f, df;
              vmath::silu(a(n, j) + b(j), f, df);
              a(n, j) = f, d(n, j) = df;
            });
      return;
    }
  }
  for_entries<Space>(
      "zeta::Mlp::train_activate", rows, width, KOKKOS_LAMBDA(const int n, const int j) {
        Real f = 0, df = 0, d2f = 0;
        activate2(act, a(n, j) + b(j), f, df, d2f);
        a(n, j) = f;
        d(n, j) = df;
        if (second) s(n, j) = d2f;
      });
}

//! The tangent of a hidden layer: Ż (in A's place) → Ȧ = D ⊙ Ż, and S ← Ż ⊙ S.
template <class Space>
void tangent_activation(const Matrix<Space>& a, const Matrix<Space>& d, const Matrix<Space>& s) {
  const int rows = static_cast<int>(a.extent(0)), width = static_cast<int>(a.extent(1));
  for_entries<Space>(
      "zeta::Mlp::tangent_activate", rows, width, KOKKOS_LAMBDA(const int n, const int j) {
        const Real zdot = a(n, j);
        a(n, j) = d(n, j) * zdot;
        s(n, j) = s(n, j) * zdot;
      });
}

//! Adjoints at the last hidden layer's pre-activation (N = D's rows), from the
//! output weights w_o: rows n < N of Y get s_n w_o(j) D(n, j) (energy), or in DSM
//! (Y of 2N rows) s_n w_o(j) T(n, j) and rows N + n get s_n w_o(j) D(n, j).
template <class Space>
void output_adjoint(const Matrix<Space>& d, const Matrix<Space>& t, const Matrix<Space>& wo, const RowWeight<Space>& w,
                    const Matrix<Space>& y, bool dsm) {
  const int rows = static_cast<int>(d.extent(0)), width = static_cast<int>(d.extent(1));
  for_entries<Space>(
      "zeta::Mlp::output_adjoint", rows, width, KOKKOS_LAMBDA(const int n, const int j) {
        const Real c = w(n) * wo(0, j);
        if (dsm) {
          y(n, j) = c * t(n, j);
          y(rows + n, j) = c * d(n, j);
        } else {
          y(n, j) = c * d(n, j);
        }
      });
}

//! The energy's adjoint one hidden layer down: G = Q ⊙ D, from Q = Y W (in place
//! when G is Q; input_gradient keeps Q for DSM's tangent rows).
template <class Space>
void hidden_adjoint(const Matrix<Space>& q, const Matrix<Space>& d, const Matrix<Space>& g) {
  const int rows = static_cast<int>(d.extent(0)), width = static_cast<int>(d.extent(1));
  for_entries<Space>(
      "zeta::Mlp::hidden_adjoint", rows, width,
      KOKKOS_LAMBDA(const int n, const int j) { g(n, j) = q(n, j) * d(n, j); });
}

//! DSM's adjoints one hidden layer down: rows n < N of G hold ā = ζ W, and Q is
//! input_gradient's Y W, whose rows times s_n are the tangent adjoints q (the
//! tangent pass's adjoints are the energy's, weighted); rows n and N + n of G
//! become (ζ, p) = (q ⊙ T + ā ⊙ D, q ⊙ D).
template <class Space>
void dsm_hidden_adjoint(const Matrix<Space>& g, const Matrix<Space>& qe, const Matrix<Space>& d, const Matrix<Space>& t,
                        const RowWeight<Space>& w) {
  const int rows = static_cast<int>(d.extent(0)), width = static_cast<int>(d.extent(1));
  for_entries<Space>(
      "zeta::Mlp::dsm_hidden_adjoint", rows, width, KOKKOS_LAMBDA(const int n, const int j) {
        const Real abar = g(n, j), q = w(n) * qe(n, j);
        g(n, j) = q * t(n, j) + abar * d(n, j);
        g(rows + n, j) = q * d(n, j);
      });
}

//! g(off + j) += Σ_n s_n A(n, j) (weighted) or Σ_n A(n, j), in double, in row order.
//! A host work item sums a run of kRun columns down the rows (contiguous reads that
//! vectorize; a column at a time strode through the matrix); a GPU thread one column.
//! Each column adds its rows in the same order either way.
template <class Space>
void column_sums(const Matrix<Space>& a, const RowWeight<Space>& w, bool weighted, const Vector<Space>& g,
                 std::size_t off) {
  constexpr int kRun = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible ? 64 : 1;
  const int rows = static_cast<int>(a.extent(0)), cols = static_cast<int>(a.extent(1));
  Kokkos::parallel_for(
      "zeta::Mlp::column_sums", RangePolicy<Space>(0, (cols + kRun - 1) / kRun), KOKKOS_LAMBDA(const int k) {
        const int j0 = k * kRun, nj = cols - j0 < kRun ? cols - j0 : kRun;
        double s[kRun] = {};
        for (int n = 0; n < rows; ++n) {
          const double wn = weighted ? double(w(n)) : 1.0;
          const Real* KOKKOS_RESTRICT an = &a(n, j0);
          for (int q = 0; q < nj; ++q) s[q] += wn * double(an[q]);
        }
        for (int q = 0; q < nj; ++q) g(off + j0 + q) += Real(s[q]);
      });
}

//! g(off) += Σ_{n < rows} s_n (the output bias of Σ s E).
template <class Space>
void weight_sum(const RowWeight<Space>& w, const Vector<Space>& g, std::size_t off) {
  Kokkos::parallel_for(
      "zeta::Mlp::weight_sum", RangePolicy<Space>(0, 1), KOKKOS_LAMBDA(const int) {
        double s = 0;
        for (int n = 0; n < w.rows; ++n) s += double(w(n));
        g(off) += Real(s);
      });
}

//! Every row of R = w_o (∇x E of a linear model).
template <class Space>
void broadcast_row(const Matrix<Space>& wo, const Matrix<Space>& r) {
  const int width = static_cast<int>(r.extent(1));
  Kokkos::parallel_for(
      "zeta::Mlp::broadcast_row", RangePolicy<Space>(0, std::int64_t(r.extent(0)) * width),
      KOKKOS_LAMBDA(const std::int64_t k) { r(k / width, k % width) = wo(0, k % width); });
}

//! DSM residuals in place: R (holding ∇x E(x̃_n)) ← R + c_n for the caller's rows,
//! 0 on the padding rows; loss(n) = s_n ½ ‖r_n‖² in double, from kParts partial sums
//! (entry j in part j mod kParts, added in order at the end): one running sum would
//! make the row one chain of dependent adds, which does not vectorize.
template <class Space>
void residual(const Matrix<Space>& r, const Matrix<Space>& c, const RowWeight<Space>& w, const Accum<Space>& loss) {
  constexpr int kParts = 8;
  const int width = static_cast<int>(r.extent(1));
  Kokkos::parallel_for(
      "zeta::Mlp::dsm_residual", RangePolicy<Space>(0, static_cast<int>(r.extent(0))), KOKKOS_LAMBDA(const int n) {
        const bool live = n < w.rows;
        double part[kParts] = {};
        auto entry = [&](int j, int q) {
          const Real v = live ? r(n, j) + c(n, j) : Real(0);
          r(n, j) = v;
          part[q] += double(v) * double(v);
        };
        int j = 0;
        for (; j + kParts <= width; j += kParts)
          for (int q = 0; q < kParts; ++q) entry(j + q, q);
        for (int q = 0; j < width; ++j, ++q) entry(j, q);
        double sq = 0;
        for (int q = 0; q < kParts; ++q) sq += part[q];
        loss(n) = 0.5 * double(w(n)) * sq;
      });
}

//! The energies of the training forward pass and the rows' weights of the contrastive
//! loss: E_n = A_last(n) · w_o + b_o and s_n = c_n + 2 a E_n for the caller's rows.
template <class Space>
void contrastive_weights(const Matrix<Space>& a_last, const Matrix<Space>& wo, const Vector<Space>& bo,
                         const PerChain<Space>& c, Real a, int batch, const Vector<Space>& E, const Vector<Space>& s) {
  const int width = static_cast<int>(a_last.extent(1));
  Kokkos::parallel_for(
      "zeta::Mlp::contrastive_weights", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int n) {
        double e = double(bo(0));
        for (int j = 0; j < width; ++j) e += double(a_last(n, j)) * double(wo(0, j));
        E(n) = Real(e);
        s(n) = c(n) + Real(2) * a * Real(e);
      });
}

}  // namespace mlp_detail

}  // namespace zeta
