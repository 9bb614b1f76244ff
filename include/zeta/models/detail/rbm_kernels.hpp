//! The kernels behind models/rbm.hpp: conditionals and their draws, free and
//! joint energies, the gradient's bias terms, and the lane / team sums they use.
//! Callers use the Rbm class; these are its implementation.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/core/vmath.hpp"
#include "zeta/linalg/binary.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/linalg/packed.hpp"
#include "zeta/rng/philox.hpp"

#include "zeta/models/rbm_kind.hpp"

namespace zeta::models {

namespace detail {

using vmath::as_double;
using vmath::as_u64;
using vmath::exp_neg;

//! σ(x) = 1 / (1 + e^{−x}) through exp_neg, branch-free (a bit select on the sign).
KOKKOS_INLINE_FUNCTION double sigmoid(double x) {
  const double e = exp_neg(-kmath::fabs(x));
  const double r = 1.0 / (1.0 + e);
  const std::uint64_t neg = 0 - static_cast<std::uint64_t>(x < 0);
  return as_double((as_u64(r) & ~neg) | (as_u64(e * r) & neg));
}

//! σ in float: float builds' Bernoulli draws and hidden probabilities (8 lanes on
//! AVX2, where the double σ above runs 4 and costs twice the operations).
using vmath::sigmoid;

//! A uniform in (0, 1) from one 32-bit word.
KOKKOS_INLINE_FUNCTION double u32(std::uint32_t w) {
  return (double(w) + 0.5) * 2.3283064365386963e-10;
}
//! A uniform in (0, 1) from the top 24 bits of a word, exact in float.
KOKKOS_INLINE_FUNCTION float u24(std::uint32_t w) {
  return (float(w >> 8) + 0.5f) * 5.9604644775390625e-8f;
}
//! The uniform of a Bernoulli draw in Real precision.
KOKKOS_INLINE_FUNCTION Real draw_uniform(std::uint32_t w) {
  if constexpr (sizeof(Real) == sizeof(float))
    return u24(w);
  else
    return u32(w);
}
using rng::u53;

//! Independent partial sums: vectorizable on a host core, a fixed order everywhere.
constexpr int kLanes = 8;

//! Σ_{i ∈ [lo, hi)} f(i).
template <class F>
KOKKOS_INLINE_FUNCTION double lane_sum(int lo, int hi, const F& f) {
  double acc[kLanes] = {};
  int i = lo;
  for (; i + kLanes <= hi; i += kLanes)
    for (int q = 0; q < kLanes; ++q) acc[q] += f(i + q);
  for (int q = 0; q < kLanes && i + q < hi; ++q) acc[q] += f(i + q);
  double s = 0;
  for (int q = 0; q < kLanes; ++q) s += acc[q];
  return s;
}

//! Σ_{i ∈ [lo, hi)} softplus(x(i)) = Σ max(x, 0) + Σ_lanes ln Π (1 + e^{−|x|}): one
//! vectorizable exp per term and a log per lane. Every factor lies in (1, 2], so a
//! lane's product stays finite for up to 1000 terms: hi − lo ≤ 8000.
template <class F>
KOKKOS_INLINE_FUNCTION double lane_softplus_sum(int lo, int hi, const F& x_of) {
  double pos[kLanes] = {}, prod[kLanes];
  for (int q = 0; q < kLanes; ++q) prod[q] = 1;
  int i = lo;
  for (; i + kLanes <= hi; i += kLanes)
    for (int q = 0; q < kLanes; ++q) {
      const double x = x_of(i + q);
      const double ax = kmath::fabs(x);
      pos[q] += 0.5 * (x + ax);
      prod[q] *= 1.0 + exp_neg(-ax);
    }
  for (int q = 0; q < kLanes && i + q < hi; ++q) {
    const double x = x_of(i + q);
    const double ax = kmath::fabs(x);
    pos[q] += 0.5 * (x + ax);
    prod[q] *= 1.0 + exp_neg(-ax);
  }
  double s = 0;
  for (int q = 0; q < kLanes; ++q) s += pos[q] + kmath::log(prod[q]);
  return s;
}

//! Terms per team-thread work unit: one long vectorized run on a host core, a warp-sized slice on a GPU.
template <class Space>
constexpr int block_size() {
  return kHostKernels<Space> ? 2048 : 32;
}

//! Σ_{i < n} f(i) over a team: threads take blocks, lanes inside a block.
template <int Block, class Member, class F>
KOKKOS_INLINE_FUNCTION double team_sum(const Member& m, int n, const F& f) {
  double total = 0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(m, (n + Block - 1) / Block),
      [&](const int blk, double& acc) {
        const int lo = blk * Block, hi = n < lo + Block ? n : lo + Block;
        acc += lane_sum(lo, hi, f);
      },
      total);
  return total;
}

//! Σ_{i < n} softplus(x(i)) over a team.
template <int Block, class Member, class F>
KOKKOS_INLINE_FUNCTION double team_softplus_sum(const Member& m, int n, const F& x_of) {
  static_assert(Block <= 8000, "lane products would overflow");
  double total = 0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(m, (n + Block - 1) / Block),
      [&](const int blk, double& acc) {
        const int lo = blk * Block, hi = n < lo + Block ? n : lo + Block;
        acc += lane_softplus_sum(lo, hi, x_of);
      },
      total);
  return total;
}

}  // namespace detail

namespace detail {

// The kernels, as free functions: nvcc refuses extended lambdas in private member functions.

//! p(n, i) = a(n, i) / σ_i² for the first rows of p.
template <class Space>
void scale_rows(const Matrix<Space>& a, const Vector<Space>& iv, const Matrix<Space>& p) {
  const int k = static_cast<int>(a.extent(1));
  Kokkos::parallel_for(
      "zeta::Rbm::scale_rows", RangePolicy<Space>(0, std::int64_t(a.extent(0)) * k),
      KOKKOS_LAMBDA(const std::int64_t q) {
        const int n = static_cast<int>(q / k), i = static_cast<int>(q % k);
        p(n, i) = a(n, i) * iv(i);
      });
}

//! Philox blocks per work item of the sampling kernels: a host core draws 8 at
//! once in vectorized lanes (rng::philox_lanes), a GPU thread one.
template <class Space>
constexpr int draw_lanes() {
  return kHostKernels<Space> ? 8 : 1;
}

//! out(n, j) = [u_nj < σ(x_nj)] for j < units, u_nj from word j mod 4 of block
//! first + j/4 of Stream(seed, offset + n, step, purpose) (draw_uniform: 32 bits in
//! double builds, 24 in float ones, which evaluate x and σ in float too); the Field
//! fills the natural fields x_nj of a run of units. Each loop of a work item is
//! simple enough to vectorize on a host core.
template <class Space, class Field>
void bernoulli_draws(const char* label, const Field& field, const Matrix<Space>& out, std::uint32_t seed,
                     std::int64_t offset, std::int64_t step, rng::Purpose purpose, std::uint32_t first) {
  constexpr int L = draw_lanes<Space>(), U = 4 * L;
  const int batch = static_cast<int>(out.extent(0)), units = static_cast<int>(out.extent(1));
  const int groups = ((units + 3) / 4 + L - 1) / L;
  Kokkos::parallel_for(
      label, RangePolicy<Space>(0, std::int64_t(batch) * groups), KOKKOS_LAMBDA(const std::int64_t k) {
        const int n = static_cast<int>(k / groups), g0 = static_cast<int>(k % groups) * L;
        std::uint64_t chain[L];
        std::uint32_t blk[L], w[4][L];
        for (int l = 0; l < L; ++l) chain[l] = std::uint64_t(offset + n), blk[l] = first + std::uint32_t(g0 + l);
        rng::philox_lanes<L>(seed, std::uint64_t(step), purpose, chain, blk, w);
        const int j0 = 4 * g0, cnt = units - j0 < U ? units - j0 : U;
        Real x[U], u[U];
        for (int q = 0; q < U; ++q) x[q] = 0;
        field.fill(n, j0, cnt, x);
        for (int l = 0; l < L; ++l)
          for (int q = 0; q < 4; ++q) u[4 * l + q] = draw_uniform(w[q][l]);
        for (int q = 0; q < U; ++q) x[q] = u[q] < sigmoid(x[q]) ? Real(1) : Real(0);
        Real* KOKKOS_RESTRICT o = &out(n, j0);
        for (int q = 0; q < cnt; ++q) o[q] = x[q];
      });
}

//! γ_n (c_j + pre(n, j)): the hidden units' natural field.
template <class Space>
struct HiddenField {
  Matrix<Space> pre;
  Vector<Space> c;
  PerChain<Space> gamma;
  KOKKOS_INLINE_FUNCTION double operator()(int n, int j) const {
    return double(gamma(n)) * (double(c(j)) + double(pre(n, j)));
  }
  //! x[q] = the field of unit j0 + q, in Real precision.
  KOKKOS_INLINE_FUNCTION void fill(int n, int j0, int cnt, Real* KOKKOS_RESTRICT x) const {
    const Real g = gamma(n);
    const Real* KOKKOS_RESTRICT p = &pre(n, j0);
    const Real* KOKKOS_RESTRICT cc = &c(j0);
    for (int q = 0; q < cnt; ++q) x[q] = g * (cc[q] + p[q]);
  }
};

//! h = σ(γ (c + pre)), or a Bernoulli draw with that probability (hidden unit j
//! from word j mod 4 of block j/4 of Stream(seed, offset + n, step, kGibbs)).
template <class Space>
void hidden_conditional(const Matrix<Space>& pre, const Vector<Space>& c, const PerChain<Space>& gamma,
                        const Matrix<Space>& h, bool sample, std::uint32_t seed, std::int64_t offset,
                        std::int64_t step) {
  const HiddenField<Space> x{pre, c, gamma};
  if (sample) return bernoulli_draws<Space>("zeta::Rbm::sample_hidden", x, h, seed, offset, step, rng::kGibbs, 0);
  const int nh = static_cast<int>(pre.extent(1));
  Kokkos::parallel_for(
      "zeta::Rbm::hidden_probabilities", RangePolicy<Space>(0, std::int64_t(pre.extent(0)) * nh),
      KOKKOS_LAMBDA(const std::int64_t k) {
        const int n = static_cast<int>(k / nh), j = static_cast<int>(k % nh);
        h(n, j) = Real(sigmoid(x(n, j)));
      });
}

//! What the visible kernels need: the RBM's b and 1/σ², and the base-rate model's
//! visible bias `base` with its weight α (α = 0: the plain RBM at β = γ; `base`
//! must still be a valid view, e.g. b).
template <class Space>
struct VisibleTerms {
  Vector<Space> b, inv_var, base;
  Real alpha = 0;
  bool gauss = false;
};

//! α a_i + γ_n (b_i + m(n, i)): the visible units' natural field (m empty: γ = 0).
template <class Space>
struct VisibleField {
  Matrix<Space> m;
  VisibleTerms<Space> t;
  PerChain<Space> gamma;
  bool has_m;
  KOKKOS_INLINE_FUNCTION double operator()(int n, int i) const {
    return double(t.alpha) * double(t.base(i)) + double(gamma(n)) * (double(t.b(i)) + (has_m ? double(m(n, i)) : 0.0));
  }
  //! x[q] = the field of unit i0 + q, in Real precision.
  KOKKOS_INLINE_FUNCTION void fill(int n, int i0, int cnt, Real* KOKKOS_RESTRICT x) const {
    const Real g = gamma(n), a = t.alpha;
    const Real* KOKKOS_RESTRICT bb = &t.b(i0);
    const Real* KOKKOS_RESTRICT ab = &t.base(i0);
    if (has_m) {
      const Real* KOKKOS_RESTRICT mm = &m(n, i0);
      for (int q = 0; q < cnt; ++q) x[q] = a * ab[q] + g * (bb[q] + mm[q]);
    } else {
      for (int q = 0; q < cnt; ++q) x[q] = a * ab[q] + g * bb[q];
    }
  }
};

//! Gaussian draws: Box–Muller in double (2 normals a Philox block) in double builds, 4 in float.
//! A namespace constant, not a local: nvcc refuses a kernel that first captures a local in if constexpr.
inline constexpr bool kDoubleNormals = sizeof(Real) == sizeof(double);

//! The visible conditional of e^{−α E_A(v) − γ E(v, h)} with m = h Wᵀ (empty when γ = 0):
//!   Bernoulli  p(v_i = 1 | h) = σ(α a_i + γ (b_i + m_i)),
//!   Gaussian   v_i | h ~ N((α a_i + γ (b_i + m_i)) / (α + γ), σ_i² / (α + γ)).
//! Writes the means, or draws from Stream(seed, offset + n, step, purpose), blocks
//! from 2^31 up: four uniforms (Bernoulli) or four float normals per block, or two
//! double normals (Box–Muller on 53-bit uniforms).
template <class Space>
void visible_conditional(const Matrix<Space>& m, const VisibleTerms<Space>& t, const PerChain<Space>& gamma,
                         const Matrix<Space>& v, bool sample, std::uint32_t seed, std::int64_t offset,
                         std::int64_t step, rng::Purpose purpose = rng::kGibbs) {
  constexpr std::uint32_t first = 0x80000000u;
  const VisibleField<Space> x{m, t, gamma, m.data() != nullptr};
  if (sample && !t.gauss)
    return bernoulli_draws<Space>("zeta::Rbm::sample_visible", x, v, seed, offset, step, purpose, first);
  const int batch = static_cast<int>(v.extent(0)), nv = static_cast<int>(v.extent(1));
  const auto iv = t.inv_var;
  const double alpha = double(t.alpha);
  const bool gauss = t.gauss;
  if (!sample) {
    Kokkos::parallel_for(
        "zeta::Rbm::visible_means", RangePolicy<Space>(0, std::int64_t(batch) * nv),
        KOKKOS_LAMBDA(const std::int64_t k) {
          const int n = static_cast<int>(k / nv), i = static_cast<int>(k % nv);
          const double f = x(n, i);
          v(n, i) = Real(gauss ? f / (alpha + double(gamma(n))) : sigmoid(f));
        });
    return;
  }
  constexpr int L = draw_lanes<Space>(), per = kDoubleNormals ? 2 : 4, U = per * L;
  const int groups = ((nv + per - 1) / per + L - 1) / L;
  Kokkos::parallel_for(
      "zeta::Rbm::sample_visible", RangePolicy<Space>(0, std::int64_t(batch) * groups),
      KOKKOS_LAMBDA(const std::int64_t k) {
        const int n = static_cast<int>(k / groups), g0 = static_cast<int>(k % groups) * L;
        std::uint64_t chain[L];
        std::uint32_t blk[L], w[4][L];
        for (int l = 0; l < L; ++l) chain[l] = std::uint64_t(offset + n), blk[l] = first + std::uint32_t(g0 + l);
        rng::philox_lanes<L>(seed, std::uint64_t(step), purpose, chain, blk, w);
        Real z[U];  // normal u of the item: normal u mod per of block g0 + u / per
        for (int l = 0; l < L; ++l) {
          if constexpr (kDoubleNormals) {
            const double rad = kmath::sqrt(-2.0 * kmath::log(u53(w[0][l], w[1][l])));
            const double ang = 6.283185307179586 * u53(w[2][l], w[3][l]);
            z[2 * l] = Real(rad * kmath::cos(ang));
            z[2 * l + 1] = Real(rad * kmath::sin(ang));
          } else {
            float f[4];
            rng::box_muller4(w[0][l], w[1][l], w[2][l], w[3][l], f[0], f[1], f[2], f[3]);
            for (int q = 0; q < 4; ++q) z[4 * l + q] = Real(f[q]);
          }
        }
        const double lam = alpha + double(gamma(n));
        const int i0 = per * g0, cnt = nv - i0 < U ? nv - i0 : U;
        for (int u = 0; u < cnt; ++u) {
          const int i = i0 + u;
          v(n, i) = Real(x(n, i) / lam + kmath::sqrt(1.0 / (lam * double(iv(i)))) * double(z[u]));
        }
      });
}

//! out = sign · G (or out += sign · G), the marginal energy of e^{−α E_A(v) − γ E(v, h)}:
//!   G(v) = −ln Σ_h e^{−α E_A − γ E} = V(v) − Σ_j softplus(γ (c_j + pre_j)),
//!   V = −Σ_i (α a_i + γ b_i) v_i  (Bernoulli),  ½ Σ_i [α (v_i − a_i)² + γ (v_i − b_i)²] / σ_i²  (Gaussian),
//! divided by γ when `per_beta` (G/γ is F at β = γ). The kind is a template
//! argument so that the per-term loops carry no branch and vectorize.
template <bool Gauss, class Space, class Out>
void marginal_energy_kind(const Matrix<Space>& v, const Matrix<Space>& pre, const Vector<Space>& c,
                          const VisibleTerms<Space>& t, const PerChain<Space>& gamma, bool per_beta, double sign,
                          bool add, const Out& out) {
  using T = typename Out::value_type;
  const int batch = static_cast<int>(v.extent(0)), nv = static_cast<int>(v.extent(1));
  const int nh = static_cast<int>(pre.extent(1));
  const auto b = t.b, iv = t.inv_var, base = t.base;
  const double alpha = double(t.alpha);
  constexpr int B = block_size<Space>();
  using Team = typename Kokkos::TeamPolicy<Space>::member_type;
  Kokkos::parallel_for(
      "zeta::Rbm::free_energy", Kokkos::TeamPolicy<Space>(batch, Kokkos::AUTO), KOKKOS_LAMBDA(const Team& mb) {
        const int n = mb.league_rank();
        const double g = double(gamma(n));
        const double vis = team_sum<B>(mb, nv, [&](int i) {
          const double x = double(v(n, i)), bi = double(b(i)), ai = double(base(i));
          if (Gauss)  // not if constexpr: nvcc refuses a first capture (iv, alpha) there; Gauss folds anyway
            return 0.5 * double(iv(i)) * (alpha * (x - ai) * (x - ai) + g * (x - bi) * (x - bi));
          else
            return -(alpha * ai + g * bi) * x;
        });
        const double sp = team_softplus_sum<B>(mb, nh, [&](int j) { return g * (double(c(j)) + double(pre(n, j))); });
        Kokkos::single(Kokkos::PerTeam(mb), [&]() {
          const double G = (vis - sp) / (per_beta ? g : 1.0);
          out(n) = T(add ? double(out(n)) + sign * G : sign * G);
        });
      });
}

template <class Space, class Out>
void marginal_energy(const Matrix<Space>& v, const Matrix<Space>& pre, const Vector<Space>& c,
                     const VisibleTerms<Space>& t, const PerChain<Space>& gamma, bool per_beta, double sign, bool add,
                     const Out& out) {
  if (t.gauss)
    marginal_energy_kind<true>(v, pre, c, t, gamma, per_beta, sign, add, out);
  else
    marginal_energy_kind<false>(v, pre, c, t, gamma, per_beta, sign, add, out);
}

//! E(n) = E(v_n, h_n) with pre = v S W.
template <bool Gauss, class Space>
void joint_energy_kind(const Matrix<Space>& v, const Matrix<Space>& h, const Matrix<Space>& pre, const Vector<Space>& c,
                       const VisibleTerms<Space>& t, const Vector<Space>& E) {
  const int batch = static_cast<int>(v.extent(0)), nv = static_cast<int>(v.extent(1));
  const int nh = static_cast<int>(h.extent(1));
  const auto b = t.b, iv = t.inv_var;
  constexpr int B = block_size<Space>();
  using Team = typename Kokkos::TeamPolicy<Space>::member_type;
  Kokkos::parallel_for(
      "zeta::Rbm::energy", Kokkos::TeamPolicy<Space>(batch, Kokkos::AUTO), KOKKOS_LAMBDA(const Team& mb) {
        const int n = mb.league_rank();
        const double ev = team_sum<B>(mb, nv, [&](int i) {
          const double x = double(v(n, i)), bi = double(b(i));
          if (Gauss)  // not if constexpr: nvcc refuses a first capture (iv) there; Gauss folds anyway
            return 0.5 * double(iv(i)) * (x - bi) * (x - bi);
          else
            return -bi * x;
        });
        const double eh =
            team_sum<B>(mb, nh, [&](int j) { return double(h(n, j)) * (double(c(j)) + double(pre(n, j))); });
        Kokkos::single(Kokkos::PerTeam(mb), [&]() { E(n) = Real(ev - eh); });
      });
}

template <class Space>
void joint_energy(const Matrix<Space>& v, const Matrix<Space>& h, const Matrix<Space>& pre, const Vector<Space>& c,
                  const VisibleTerms<Space>& t, const Vector<Space>& E) {
  if (t.gauss)
    joint_energy_kind<true>(v, h, pre, c, t, E);
  else
    joint_energy_kind<false>(v, h, pre, c, t, E);
}

//! P(n, j) ← s_n σ(β_n (c_j + P(n, j))) in place. A work item is a run of up to
//! kUnitRun units of one row: a vectorizable loop on a host core, enough items for a GPU.
template <class Space>
void weighted_hidden_probabilities(const Matrix<Space>& P, const Vector<Space>& c, const PerChain<Space>& weights,
                                   const PerChain<Space>& beta) {
  constexpr int kUnitRun = 64;
  const int nh = static_cast<int>(P.extent(1));
  const int runs = (nh + kUnitRun - 1) / kUnitRun;
  Kokkos::parallel_for(
      "zeta::Rbm::grad_hidden", RangePolicy<Space>(0, std::int64_t(P.extent(0)) * runs),
      KOKKOS_LAMBDA(const std::int64_t k) {
        const int n = static_cast<int>(k / runs), j0 = static_cast<int>(k % runs) * kUnitRun;
        const int j1 = nh < j0 + kUnitRun ? nh : j0 + kUnitRun;
        const Real bn = Real(beta(n)), wn = weights(n);
        Real* KOKKOS_RESTRICT pr = &P(n, 0);
        const Real* KOKKOS_RESTRICT cr = &c(0);
        for (int j = j0; j < j1; ++j) pr[j] = wn * sigmoid(bn * (cr[j] + pr[j]));
      });
}

//! The bias parts of the gradient: g_b −= Σ_n s_n v_n (Bernoulli) or Σ_n s_n S (v_n − b)
//! (Gaussian), g_c −= Σ_n P_n. A work item sums a run of kColumnRun columns over the
//! rows in row order (contiguous, vectorizable reads; each column's order is fixed).
template <class Space>
void grad_biases(const Matrix<Space>& v, const Matrix<Space>& P, const VisibleTerms<Space>& t,
                 const PerChain<Space>& weights, const Vector<Space>& g, std::size_t bo, std::size_t co) {
  constexpr int kColumnRun = 64;
  const int batch = static_cast<int>(v.extent(0)), nv = static_cast<int>(v.extent(1));
  const int nh = static_cast<int>(P.extent(1));
  const int vruns = (nv + kColumnRun - 1) / kColumnRun, hruns = (nh + kColumnRun - 1) / kColumnRun;
  const auto b = t.b, iv = t.inv_var;
  const bool gauss = t.gauss;
  Kokkos::parallel_for(
      "zeta::Rbm::grad_biases", RangePolicy<Space>(0, vruns + hruns), KOKKOS_LAMBDA(const int k) {
        const bool vis = k < vruns;
        const int i0 = (vis ? k : k - vruns) * kColumnRun, width = vis ? nv : nh;
        const int cnt = width - i0 < kColumnRun ? width - i0 : kColumnRun;
        double s[kColumnRun] = {};
        for (int n = 0; n < batch; ++n) {
          if (vis) {
            const double wn = double(weights(n));
            const Real* KOKKOS_RESTRICT vr = &v(n, i0);
            const Real* KOKKOS_RESTRICT br = &b(i0);
            for (int q = 0; q < cnt; ++q) s[q] += wn * (gauss ? double(vr[q]) - double(br[q]) : double(vr[q]));
          } else {
            const Real* KOKKOS_RESTRICT pr = &P(n, i0);
            for (int q = 0; q < cnt; ++q) s[q] += double(pr[q]);
          }
        }
        for (int q = 0; q < cnt; ++q)
          if (vis)
            g(bo + i0 + q) -= Real(gauss ? s[q] * double(iv(i0 + q)) : s[q]);
          else
            g(co + i0 + q) -= Real(s[q]);
      });
}

}  // namespace detail

}  // namespace zeta::models
