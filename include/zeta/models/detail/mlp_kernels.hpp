//! The kernels behind models/mlp.hpp (the forward and backward passes of the energy
//! and its gradient, and the training passes, as free functions).
//! Callers use the Mlp class; these are its implementation.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
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

namespace zeta::models {

namespace detail {

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
  if constexpr (kHostKernels<Space>) {
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
  constexpr int kRun = kHostKernels<Space> ? 64 : 1;
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
//! make the row one chain of dependent adds, which does not vectorize. c may have fewer
//! columns than R: the inputs beyond them (a noise-conditional network's ln σ) are held
//! fixed, their entries of R set to 0 and left out of the loss.
template <class Space>
void residual(const Matrix<Space>& r, const Matrix<Space>& c, const RowWeight<Space>& w, const Accum<Space>& loss) {
  constexpr int kParts = 8;
  const int width = static_cast<int>(c.extent(1)), inputs = static_cast<int>(r.extent(1));
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
        for (; j < inputs; ++j) r(n, j) = Real(0);
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

//! The energies of the training forward pass: E_n = A_last(n) · w_o + b_o for the
//! caller's rows, in double from kParts partial sums (entry j in part j mod kParts,
//! added in order at the end), so that the row's dot product vectorizes.
template <class Space>
void output_energy(const Matrix<Space>& a_last, const Matrix<Space>& wo, const Vector<Space>& bo, int batch,
                   const Vector<Space>& E) {
  constexpr int kParts = 8;
  const int width = static_cast<int>(a_last.extent(1));
  Kokkos::parallel_for(
      "zeta::Mlp::output_energy", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int n) {
        double part[kParts] = {};
        const int whole = width / kParts * kParts;
        for (int j0 = 0; j0 < whole; j0 += kParts)
          for (int q = 0; q < kParts; ++q) part[q] += double(a_last(n, j0 + q)) * double(wo(0, j0 + q));
        for (int j = whole; j < width; ++j) part[j - whole] += double(a_last(n, j)) * double(wo(0, j));
        double e = double(bo(0));
        for (int q = 0; q < kParts; ++q) e += part[q];
        E(n) = Real(e);
      });
}

// The forward and backward passes of energy() and energy_and_grad(), as free functions
// for the same reason.

//! float builds: silu through vmath::silu (float, vectorizable) in the fused passes.
constexpr bool kFast = std::is_same_v<Real, float>;

//! A hidden layer's H = act(Z + b) in place (Z already in h), D = act'(·) when `keep`;
//! `direct`: a small fan-in first layer, whose Z = x Wᵀ is formed here (from wt = W_0ᵀ
//! on the fast path, from w = W_0 otherwise).
template <class Space>
void hidden_activation(int batch, int width, int fan_in, const Matrix<Space>& in, const Matrix<Space>& h,
                       const Matrix<Space>& d, const Vector<Space>& b, const Matrix<Space>& w, const Matrix<Space>& wt,
                       Activation act, bool direct, bool keep) {
  if constexpr (kFast) {
    if (act == Activation::silu) {
      Kokkos::parallel_for(
          "zeta::Mlp::activate", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
            Real* KOKKOS_RESTRICT hr = &h(c, 0);
            Real* KOKKOS_RESTRICT dr = &d(c, 0);
            const Real* KOKKOS_RESTRICT br = &b(0);
            if (direct) {
              // Z = x Wᵀ with fan_in ≤ kSmallFanIn: accumulate column by column.
              for (int j = 0; j < width; ++j) hr[j] = br[j];
              for (int k = 0; k < fan_in; ++k) {
                const Real xk = in(c, k);
                const Real* KOKKOS_RESTRICT wk = &wt(k, 0);
                for (int j = 0; j < width; ++j) hr[j] += xk * wk[j];
              }
              for (int j = 0; j < width; ++j) {
                float f, df;
                vmath::silu(hr[j], f, df);
                hr[j] = f;
                dr[j] = df;
              }
            } else if (keep) {
              for (int j = 0; j < width; ++j) {
                float f, df;
                vmath::silu(hr[j] + br[j], f, df);
                hr[j] = f;
                dr[j] = df;
              }
            } else {
              for (int j = 0; j < width; ++j) {
                float f, df;
                vmath::silu(hr[j] + br[j], f, df);
                hr[j] = f;
              }
            }
          });
      return;
    }
  }
  Kokkos::parallel_for(
      "zeta::Mlp::activate", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        if (direct)
          for (int j = 0; j < width; ++j) {
            Real z = b(j);
            for (int k = 0; k < fan_in; ++k) z += in(c, k) * w(j, k);
            h(c, j) = z;
          }
        for (int j = 0; j < width; ++j) {
          Real f = 0, df = 0;
          activate(act, h(c, j) + (direct ? Real(0) : b(j)), f, df);
          h(c, j) = f;
          if (keep) d(c, j) = df;
        }
      });
}

//! The last hidden layer fused with the output layer:
//!   E = b_out + Σ_j w_out(j) act(z_j);  T0 = w_out ⊙ act'(z)  (when keep).
template <class Space>
void last_hidden_output(int batch, int width, const Matrix<Space>& zin, const Vector<Space>& b, const Matrix<Space>& wo,
                        const Vector<Space>& bo, Activation act, const Matrix<Space>& t, const Vector<Space>& E,
                        bool keep) {
  if constexpr (kFast) {
    if (act == Activation::silu) {
      // keep: E and T0; !keep: E only. Separate loops so each vectorizes.
      Kokkos::parallel_for(
          "zeta::Mlp::last_hidden_output", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
            const Real* KOKKOS_RESTRICT zr = &zin(c, 0);
            Real* KOKKOS_RESTRICT tr = &t(c, 0);
            const Real* KOKKOS_RESTRICT br = &b(0);
            const Real* KOKKOS_RESTRICT wr = &wo(0, 0);
            constexpr int V = 16;  // independent partial sums: vectorizable, fixed order
            Real acc[V] = {};
            int j = 0;
            if (keep) {
              for (; j + V <= width; j += V)
                for (int q = 0; q < V; ++q) {
                  float f, df;
                  vmath::silu(zr[j + q] + br[j + q], f, df);
                  acc[q] += wr[j + q] * f;
                  tr[j + q] = wr[j + q] * df;
                }
            } else {
              for (; j + V <= width; j += V)
                for (int q = 0; q < V; ++q) {
                  float f, df;
                  vmath::silu(zr[j + q] + br[j + q], f, df);
                  acc[q] += wr[j + q] * f;
                }
            }
            for (int q = 0; j < width; ++j, ++q) {
              float f, df;
              vmath::silu(zr[j] + br[j], f, df);
              acc[q] += wr[j] * f;
              if (keep) tr[j] = wr[j] * df;
            }
            Real e = 0;
            for (int q = 0; q < V; ++q) e += acc[q];
            E(c) = bo(0) + e;
          });
      return;
    }
  }
  Kokkos::parallel_for(
      "zeta::Mlp::last_hidden_output", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        Real e = bo(0);
        for (int j = 0; j < width; ++j) {
          Real f = 0, df = 0;
          activate(act, zin(c, j) + b(j), f, df);
          e += wo(0, j) * f;
          if (keep) t(c, j) = wo(0, j) * df;
        }
        E(c) = e;
      });
}

//! A linear model's energy E = b + x wᵀ.
template <class Space>
void linear_energy(int batch, int width, const Matrix<Space>& x, const Matrix<Space>& w, const Vector<Space>& b,
                   const Vector<Space>& E) {
  Kokkos::parallel_for(
      "zeta::Mlp::output", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        Real e = b(0);
        for (int j = 0; j < width; ++j) e += x(c, j) * w(0, j);
        E(c) = e;
      });
}

//! Z = x W_0ᵀ for a small fan-in first layer (wt = W_0ᵀ), column by column.
template <class Space>
void small_fan_in(int batch, int width, int fan_in, const Matrix<Space>& x, const Matrix<Space>& wt,
                  const Matrix<Space>& z) {
  Kokkos::parallel_for(
      "zeta::Mlp::small_fan_in", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        Real* KOKKOS_RESTRICT zr = &z(c, 0);
        for (int j = 0; j < width; ++j) zr[j] = 0;
        for (int k = 0; k < fan_in; ++k) {
          const Real xk = x(c, k);
          const Real* KOKKOS_RESTRICT wk = &wt(k, 0);
          for (int j = 0; j < width; ++j) zr[j] += xk * wk[j];
        }
      });
}

//! A linear model's ∇x E = w on every row.
template <class Space>
void grad_linear(int batch, int width, const Matrix<Space>& w, const Matrix<Space>& g) {
  Kokkos::parallel_for(
      "zeta::Mlp::grad_linear", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        for (int j = 0; j < width; ++j) g(c, j) = w(0, j);
      });
}

//! g = (next ⊙ D_0) W_0 with W_0 of d0 ≤ kSmallFanIn columns (w0 = W_0ᵀ) and `in`
//! entries per row of next: the last backprop product fused with the small fan-in layer.
template <class Space>
void backprop_small_fan_in(int batch, int in, int d0, const Matrix<Space>& next, const Matrix<Space>& d,
                           const Matrix<Space>& w0, const Matrix<Space>& g) {
  Kokkos::parallel_for(
      "zeta::Mlp::backprop_small_fan_in", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        const Real* KOKKOS_RESTRICT nr = &next(c, 0);
        const Real* KOKKOS_RESTRICT dr = &d(c, 0);
        for (int k = 0; k < d0; ++k) {
          const Real* KOKKOS_RESTRICT wk = &w0(k, 0);
          constexpr int V = 16;
          Real acc[V] = {};
          int j = 0;
          for (; j + V <= in; j += V)
            for (int q = 0; q < V; ++q) acc[q] += nr[j + q] * dr[j + q] * wk[j + q];
          for (int q = 0; j < in; ++j, ++q) acc[q] += nr[j] * dr[j] * wk[j];
          Real s = 0;
          for (int q = 0; q < V; ++q) s += acc[q];
          g(c, k) = s;
        }
      });
}

//! next ⊙= D over its first `in` columns: a hidden layer's backprop product.
template <class Space>
void backprop_hidden(int batch, int in, const Matrix<Space>& next, const Matrix<Space>& d) {
  Kokkos::parallel_for(
      "zeta::Mlp::backprop_hidden", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
        Real* KOKKOS_RESTRICT nr = &next(c, 0);
        const Real* KOKKOS_RESTRICT dr = &d(c, 0);
        for (int j = 0; j < in; ++j) nr[j] *= dr[j];
      });
}

}  // namespace detail

}  // namespace zeta::models
