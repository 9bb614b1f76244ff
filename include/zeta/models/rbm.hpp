//! Restricted Boltzmann machines, batched over chains (one row of a View per
//! chain), at per-chain inverse temperature β: every energy is multiplied by β.
//!
//! Kinds and conventions (W is visible × hidden, row-major):
//! - Bernoulli–Bernoulli, v ∈ {0,1}^nv, h ∈ {0,1}^nh:
//!     E(v, h) = −bᵀv − cᵀh − vᵀWh,
//!     p(h_j = 1 | v) = σ(β(c_j + (vW)_j)),  p(v_i = 1 | h) = σ(β(b_i + (Wh)_i)),
//!     F(v) = −bᵀv − (1/β) Σ_j softplus(β(c_j + (vW)_j)).
//! - Gaussian–Bernoulli with fixed σ_i (Cho, Raiko & Ilin 2011; σ_i = 1 is Hinton's
//!   unit-variance model), real v:
//!     E(v, h) = Σ_i (v_i − b_i)² / (2σ_i²) − cᵀh − Σ_ij (v_i / σ_i²) W_ij h_j,
//!     p(h_j = 1 | v) = σ(β(c_j + (v S W)_j)) with S = diag(1/σ²),
//!     p(v_i | h) = N(b_i + (Wh)_i, σ_i² / β),
//!     F(v) = Σ_i (v_i − b_i)² / (2σ_i²) − (1/β) Σ_j softplus(β(c_j + (v S W)_j)).
//! F is the marginal energy −(1/β) ln Σ_h e^{−βE(v,h)}, so p(v) ∝ e^{−βF(v)}.
//!
//! Parameters live in ONE flat device buffer θ = [W (nv·nh, row-major) | b (nv) |
//! c (nh)] — the ◆ HDF5 datasets /model/W, b, c concatenated — with views into
//! it, so a trainer allreduces one flat gradient and an optimizer updates one
//! vector. Copies of an Rbm share θ (Kokkos view semantics).
//!
//! Randomness: the draws of chain c at step t come from
//! Stream(seed, offset + c, t, kGibbs) — a pure function of the global chain id —
//! hidden unit j from word j mod 4 of block j/4, visible unit i from block
//! 2^31 + i/4 (Bernoulli, and Gaussian with float Real: four per block) or
//! 2^31 + i/2 (Gaussian with double Real: Box–Muller on 53-bit uniforms).
//!
//! GEMMs run over whole kRowTile row tiles (padded copies when needed): BLAS
//! computes a row differently depending on where it falls in its tiles, and
//! padding makes each chain's numbers independent of how many chains a rank holds.
//! β must be positive except where AIS says otherwise.
//!
//! Drivers (chains: v = Chains::x [local, nv] plus h [local, nh]; offset = ChainRange::offset):
//! - sample / temper: initialize_visible(v, seed, offset), then per step
//!   gibbs_step(v, h, ch.beta, seed, offset, step). (v, h) is a joint sample of
//!   e^{−βE}, so replica exchange can use energy(v, h, E) like any other model.
//!   These and ais call pack_weights() (W fixed for the run: packed_gemm, which is
//!   row-stable without padding), and pass reuse_field where the step's energy has
//!   just computed v's hidden field.
//! - ais: estimators/ais.hpp anneals from the base-rate model on the RBM's own
//!   fields and conditionals (terms, hidden_field, visible_field); the exact ln Z
//!   for small layers is estimators/rbm_exact.hpp.
//! - train (CD-k / PCD): grad_free_energy(v_data, +1/N, 1, g) and
//!   grad_free_energy(v_chains, −1/M, 1, g) into one flat g, one allreduce, and
//!   the optimizer updates theta() in place.
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

namespace zeta {

enum class RbmKind { bernoulli, gaussian };

inline RbmKind parse_rbm_kind(const std::string& s) {
  if (s == "bernoulli") return RbmKind::bernoulli;
  if (s == "gaussian") return RbmKind::gaussian;
  throw Error("rbm kind must be 'bernoulli' or 'gaussian', got '" + s + "'");
}
inline const char* rbm_kind_name(RbmKind k) {
  return k == RbmKind::bernoulli ? "bernoulli" : "gaussian";
}

namespace rbm_detail {

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
  return Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible ? 2048 : 32;
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

}  // namespace rbm_detail

namespace rbm_detail {

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
  return Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible ? 8 : 1;
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
  constexpr bool kDoubleNormals = sizeof(Real) == sizeof(double);
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
          if constexpr (Gauss)
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
          if constexpr (Gauss)
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

}  // namespace rbm_detail

template <class Space>
class Rbm {
 public:
  using space = Space;
  using memory_space = typename Space::memory_space;
  //! Rows per GEMM tile that batches are padded to (see the header comment).
  static constexpr int kRowTile = 16;

  //! Zero parameters. `sigma` (Gaussian only): empty (all 1), one value, or one per visible unit.
  Rbm(RbmKind kind, int visible, int hidden, const std::vector<double>& sigma = {})
      : kind_(kind), nv_(visible), nh_(hidden) {
    if (visible < 1 || hidden < 1) throw Error("rbm: visible and hidden must be >= 1");
    if (kind == RbmKind::bernoulli && !sigma.empty()) throw Error("rbm: sigma only applies to Gaussian visibles");
    if (!sigma.empty() && sigma.size() != 1 && static_cast<int>(sigma.size()) != visible)
      throw Error("rbm: sigma must hold 1 or " + std::to_string(visible) + " values");
    sigma_.assign(visible, 1.0);
    for (int i = 0; i < visible && !sigma.empty(); ++i) sigma_[i] = sigma.size() == 1 ? sigma[0] : sigma[i];
    for (double s : sigma_) {
      if (!(s > 0) || !std::isfinite(s)) throw Error("rbm: sigma must be positive and finite");
      if (s != 1.0) unit_sigma_ = false;
    }
    theta_ = Vector<Space>("zeta::Rbm::theta", n_params());
    W_ = Matrix<Space>(theta_.data(), nv_, nh_);
    b_ = Vector<Space>(theta_.data() + b_offset(), nv_);
    c_ = Vector<Space>(theta_.data() + c_offset(), nh_);
    inv_var_ = Vector<Space>("zeta::Rbm::inv_var", nv_);
    auto hv = Kokkos::create_mirror_view(inv_var_);
    for (int i = 0; i < nv_; ++i) hv(i) = Real(1.0 / (sigma_[i] * sigma_[i]));
    Kokkos::deep_copy(inv_var_, hv);
  }

  const char* name() const { return "rbm"; }
  RbmKind kind() const { return kind_; }
  int visible() const { return nv_; }
  int hidden() const { return nh_; }
  int dim() const { return nv_; }
  //! σ_i of the visible units (all 1 for Bernoulli).
  const std::vector<double>& sigma() const { return sigma_; }

  // ---- parameters: θ = [W | b | c] ----------------------------------------
  std::size_t n_params() const { return std::size_t(nv_) * nh_ + nv_ + nh_; }
  static constexpr std::size_t w_offset() { return 0; }
  std::size_t b_offset() const { return std::size_t(nv_) * nh_; }
  std::size_t c_offset() const { return std::size_t(nv_) * nh_ + nv_; }
  //! The flat parameter buffer (an optimizer may update it in place).
  const Vector<Space>& theta() const { return theta_; }
  const Matrix<Space>& W() const { return W_; }
  const Vector<Space>& b() const { return b_; }
  const Vector<Space>& c() const { return c_; }
  const Vector<Space>& inv_var() const { return inv_var_; }

  std::vector<double> params() const { return host_copy(theta_); }
  void set_params(const std::vector<double>& flat) {
    if (flat.size() != n_params())
      throw Error("rbm: " + std::to_string(flat.size()) + " parameters given, the model has " +
                  std::to_string(n_params()));
    auto h = Kokkos::create_mirror_view(theta_);
    for (std::size_t k = 0; k < flat.size(); ++k) h(k) = Real(flat[k]);
    Kokkos::deep_copy(theta_, h);
    params_updated();
  }
  //! θ changed in place (an optimizer's step): drops the packed weights, if any.
  void params_updated() {
    if (packs_)
      for (auto& p : *packs_) p.stale();
    held_->v = nullptr;
  }
  //! For runs that keep θ fixed for many sweeps (sample, temper, ais): from now on the
  //! products with W and Wᵀ of the conditionals and energies take W packed once
  //! (linalg/packed.hpp; OpenBLAS packs it again on every call), re-packed when
  //! first needed after a parameter change. Host builds with the AVX2 kernel only
  //! (elsewhere nothing changes); copies made after the call share the packs.
  //! packed_gemm is row-stable, so a chain's numbers still do not depend on how
  //! many chains its rank holds. Training leaves it off: W changes every step.
  void pack_weights() {
    if constexpr (kPacked)
      if (!packs_) packs_ = std::make_shared<std::array<linalg::PackedWeight, 2>>();
  }
  bool packs_weights() const { return packs_ != nullptr; }
  //! A zeroed flat buffer laid out like θ, for grad_free_energy.
  Vector<Space> gradient_buffer() const { return Vector<Space>("zeta::Rbm::grad_theta", n_params()); }

  //! Initial visible biases from the data mean: Bernoulli b_i = ln(p_i / (1 − p_i))
  //! with p_i clamped to [eps, 1 − eps] (Hinton's practical guide, §8); Gaussian b_i = mean_i.
  static std::vector<double> visible_bias_from_mean(RbmKind kind, const std::vector<double>& mean, double eps = 1e-3) {
    std::vector<double> b(mean.size());
    for (std::size_t i = 0; i < mean.size(); ++i) {
      if (kind == RbmKind::gaussian) {
        b[i] = mean[i];
        continue;
      }
      const double p = std::min(std::max(mean[i], eps), 1 - eps);
      b[i] = std::log(p / (1 - p));
    }
    return b;
  }

  //! Flat initial θ: W_ij ~ N(0, w_scale²) with row i from Stream(seed, i, 0, kInit)
  //! (the same on every rank), b from the data mean (zero when none is given), c = 0.
  static std::vector<double> initial_params(RbmKind kind, int visible, int hidden, std::uint32_t seed,
                                            const std::vector<double>& data_mean = {}, double w_scale = 0.01) {
    if (!data_mean.empty() && static_cast<int>(data_mean.size()) != visible)
      throw Error("rbm: the data mean has " + std::to_string(data_mean.size()) + " values, the model " +
                  std::to_string(visible) + " visible units");
    std::vector<double> p(std::size_t(visible) * hidden + visible + hidden, 0.0);
    for (int i = 0; i < visible; ++i) {
      const rng::Stream st(seed, std::uint64_t(i), 0, rng::kInit);
      st.normals(hidden, [&](int j, Real z) { p[std::size_t(i) * hidden + j] = w_scale * double(z); });
    }
    if (!data_mean.empty()) {
      const auto b = visible_bias_from_mean(kind, data_mean);
      std::copy(b.begin(), b.end(), p.begin() + std::size_t(visible) * hidden);
    }
    return p;
  }

  // ---- conditionals and block Gibbs (β: per chain or one number) ------------

  //! ph = p(h = 1 | v) = σ(β(c + v S W)).
  void hidden_probabilities(const Matrix<Space>& v, const PerChain<Space>& beta, const Matrix<Space>& ph) {
    rbm_detail::hidden_conditional(hidden_field(v), c_, beta, ph, false, 0, 0, 0);
  }
  //! h ~ p(h | v) with the uniforms of (seed, offset + chain, step).
  void sample_hidden(const Matrix<Space>& v, const PerChain<Space>& beta, const Matrix<Space>& h, std::uint32_t seed,
                     std::int64_t offset, std::int64_t step) {
    rbm_detail::hidden_conditional(hidden_field(v), c_, beta, h, true, seed, offset, step);
  }
  //! E[v | h]: σ(β(b + hWᵀ)) (Bernoulli: the probabilities) or b + hWᵀ (Gaussian).
  void visible_means(const Matrix<Space>& h, const PerChain<Space>& beta, const Matrix<Space>& mv) {
    rbm_detail::visible_conditional(visible_field(h), terms(), beta, mv, false, 0, 0, 0);
  }
  //! v ~ p(v | h): Bernoulli, or N(b + hWᵀ, σ²/β).
  void sample_visible(const Matrix<Space>& h, const PerChain<Space>& beta, const Matrix<Space>& v, std::uint32_t seed,
                      std::int64_t offset, std::int64_t step) {
    rbm_detail::visible_conditional(visible_field(h), terms(), beta, v, true, seed, offset, step);
    wrote(v);
  }
  //! Initial chain states from the visible biases alone (the model with W = 0, at β = 1):
  //! v_i ~ Bernoulli(σ(b_i)) or N(b_i, σ_i²), from Stream(seed, offset + chain, 0, kInit).
  void initialize_visible(const Matrix<Space>& v, std::uint32_t seed, std::int64_t offset) const {
    rbm_detail::visible_conditional(Matrix<Space>(), terms(), PerChain<Space>(1.0), v, true, seed, offset, 0,
                                    rng::kInit);
    wrote(v);
  }
  //! v was written (a checkpoint loaded into it, say): no workspace holds its field any more.
  void wrote(const Matrix<Space>& v) const {
    if (held_->v == v.data()) held_->v = nullptr;
  }
  //! One block Gibbs sweep of every chain: h ~ p(h | v), then v ~ p(v | h), at β per chain.
  //! The pair (v', h) it leaves is a joint sample of e^{−βE(v,h)} once the chain is stationary.
  //! `reuse_field`: the caller's last energy, free_energy or hidden_probabilities call on
  //! this Rbm was for this v, and v has not been written from outside since: h then comes
  //! from the field (v S) W that call computed, one GEMM of the sweep's two fewer (the
  //! same numbers; where this Rbm holds another field, it computes v's).
  void gibbs_step(const Matrix<Space>& v, const Matrix<Space>& h, const PerChain<Space>& beta, std::uint32_t seed,
                  std::int64_t offset, std::int64_t step, bool reuse_field = false) {
    rbm_detail::hidden_conditional(reuse_field ? held_field(v) : hidden_field(v), c_, beta, h, true, seed, offset,
                                   step);
    sample_visible(h, beta, v, seed, offset, step);
  }

  // ---- parts of the conditionals, for drivers of other paths (estimators::detail::RbmAis) ----

  //! The plain RBM (α = 0; `base` then defaults to b so that kernels read it unconditionally) or the
  //! AIS intermediate with base-rate biases `base` of weight α.
  rbm_detail::VisibleTerms<Space> terms(const Vector<Space>& base = Vector<Space>(), double alpha = 0) const {
    return {b_, inv_var_, base.data() ? base : b_, Real(alpha), kind_ == RbmKind::gaussian};
  }

  //! (v S) W for the batch, in the hidden workspace.
  Matrix<Space> hidden_field(const Matrix<Space>& v) {
    const int batch = static_cast<int>(v.extent(0));
    const Matrix<Space> a = gemm_rows(v, vpad_, scale_visible(), packs_ == nullptr);
    ensure(hid_, static_cast<int>(a.extent(0)), nh_, "zeta::Rbm::hidden_field");
    times_w(false, a, hid_);
    *held_ = Held{v.data(), hid_.data(), batch};
    return Matrix<Space>(hid_.data(), batch, nh_);
  }

  //! hidden_field(v) as the hidden workspace holds it when the last product into it was v's.
  Matrix<Space> held_field(const Matrix<Space>& v) {
    const int batch = static_cast<int>(v.extent(0));
    if (held_->v != v.data() || held_->in != hid_.data() || held_->rows != batch) return hidden_field(v);
    return Matrix<Space>(hid_.data(), batch, nh_);
  }

  //! h Wᵀ for the batch, in the visible workspace.
  Matrix<Space> visible_field(const Matrix<Space>& h) {
    const int batch = static_cast<int>(h.extent(0));
    const Matrix<Space> a = gemm_rows(h, hpad_, false, packs_ == nullptr);
    ensure(vis_, static_cast<int>(a.extent(0)), nv_, "zeta::Rbm::visible_field");
    times_w(true, a, vis_);
    return Matrix<Space>(vis_.data(), batch, nv_);
  }

  // ---- energies ------------------------------------------------------------

  //! E(v, h) (no β).
  void energy(const Matrix<Space>& v, const Matrix<Space>& h, const Vector<Space>& E) {
    if (v.extent(0) == 0) return;
    rbm_detail::joint_energy(v, h, hidden_field(v), c_, terms(), E);
  }

  //! F(v) = −(1/β) ln Σ_h e^{−βE(v,h)} per chain (β > 0), into a Real (Vector) or double (Accum) View.
  template <class Out>
  void free_energy(const Matrix<Space>& v, const PerChain<Space>& beta, const Out& F) {
    if (v.extent(0) == 0) return;
    rbm_detail::marginal_energy(v, hidden_field(v), c_, terms(), beta, true, 1.0, false, F);
  }

  //! g += Σ_n s_n ∇θ F(v_n) at β_n, laid out like θ:
  //!   ∇W = −(v S)ᵀ P,  ∇c = −Σ_n P_n,  ∇b = −Σ_n s_n v_n (Bernoulli) or −Σ_n s_n S (v_n − b) (Gaussian),
  //! with P_nj = s_n σ(β_n (c_j + (v_n S W)_j)). CD / PCD: s = +1/N on data, −1/N on chains.
  void grad_free_energy(const Matrix<Space>& v, const PerChain<Space>& weights, const PerChain<Space>& beta,
                        const Vector<Space>& g) {
    if (g.extent(0) != n_params()) throw Error("internal: rbm gradient buffer has the wrong length", false);
    const int batch = static_cast<int>(v.extent(0));
    if (batch == 0) return;
    const Matrix<Space> a = gemm_rows(v, vpad_, scale_visible());
    ensure(hid_, static_cast<int>(a.extent(0)), nh_, "zeta::Rbm::hidden_field");
    held_->v = nullptr;
    linalg::gemm<Space>(false, false, Real(1), a, W_, Real(0), Matrix<Space>(hid_.data(), a.extent(0), nh_));
    const Matrix<Space> P(hid_.data(), batch, nh_);
    rbm_detail::weighted_hidden_probabilities(P, c_, weights, beta);
    const Matrix<Space> rows = static_cast<int>(a.extent(0)) == batch ? a : Matrix<Space>(a.data(), batch, nv_);
    linalg::gemm<Space>(true, false, Real(-1), rows, P, Real(1), Matrix<Space>(g.data(), nv_, nh_));
    rbm_detail::grad_biases(v, P, terms(), weights, g, b_offset(), c_offset());
  }

  //! Whether contrastive_gradient applies (it skips the 1/σ² scaling of a Gaussian RBM's visibles).
  bool fused_contrastive() const { return !scale_visible(); }
  //! Host, Bernoulli: contrastive_gradient's products as sums of selected rows
  //! (linalg/binary.hpp) or as GEMMs; the same draws, the gradient to rounding.
  void set_binary_products(bool on) { binary_products_ = on; }

  //! One CD-k or PCD-k gradient on stacked rows x = [data (the first nd rows); chains (the rest)]:
  //! k block-Gibbs sweeps of the chain rows at β = 1, with hidden states in h (one row per chain)
  //! and the draws of chain n keyed by (seed, offset + n, step0 + sweep); then
  //!   g += wpos Σ_data ∇θF(v) + wneg Σ_chains ∇θF(v),
  //! with ∇W as one GEMM over all rows. `from_data` (CD): the chains first take the data rows,
  //! and the first hidden draw reuses the data rows' hidden field. The same draws and (up to
  //! GEMM rounding) the same gradient as gibbs_step + two grad_free_energy calls, in fewer
  //! GEMMs; the rows are not padded to row tiles, so the bits of a row may depend on the
  //! number of rows (the non-deterministic training mode allows it).
  void contrastive_gradient(const Matrix<Space>& x, int nd, const Matrix<Space>& h, int k, bool from_data,
                            double wpos, double wneg, std::uint32_t seed, std::int64_t offset, std::int64_t step0,
                            const Vector<Space>& g) {
    if (g.extent(0) != n_params()) throw Error("internal: rbm gradient buffer has the wrong length", false);
    if (!fused_contrastive()) throw Error("internal: contrastive_gradient needs unit visible variances", false);
    const int total = static_cast<int>(x.extent(0)), nc = total - nd;
    if (nd < 0 || nc < 0 || static_cast<int>(h.extent(0)) != nc || (from_data && nc != nd) || (from_data && k < 1))
      throw Error("internal: contrastive_gradient row counts do not match", false);
    const Matrix<Space> vd(x.data(), nd, nv_), vc(x.data() + std::size_t(nd) * nv_, nc, nv_);
    ensure(all_, total, nh_, "zeta::Rbm::contrastive_hidden");
    const Matrix<Space> F(all_.data(), total, nh_), Fd(all_.data(), nd, nh_),
        Fc(all_.data() + std::size_t(nd) * nh_, nc, nh_);
    if constexpr (kHost) {
      if (kind_ == RbmKind::bernoulli && binary_products_ &&
          binary_contrastive(x, nd, h, k, from_data, seed, offset, step0)) {
        finish_contrastive(x, nd, wpos, wneg, g, true);
        return;
      }
    }
    int sweep = 0;
    if (from_data) {
      linalg::gemm<Space>(false, false, Real(1), vd, W_, Real(0), Fd);
      rbm_detail::hidden_conditional(Fd, c_, PerChain<Space>(1.0), h, true, seed, offset, step0);
      sample_visible(h, 1.0, vc, seed, offset, step0);
      sweep = 1;
    }
    for (; sweep < k; ++sweep) gibbs_step(vc, h, 1.0, seed, offset, step0 + sweep);
    if (from_data) {
      linalg::gemm<Space>(false, false, Real(1), vc, W_, Real(0), Fc);
    } else {
      linalg::gemm<Space>(false, false, Real(1), x, W_, Real(0), F);
    }
    finish_contrastive(x, nd, wpos, wneg, g, false);
  }

 private:
  static constexpr bool kHost = Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible;

  //! contrastive_gradient's end, from the hidden fields of all rows of x in all_: the
  //! weighted probabilities, ∇W (a sum of selected rows when x is 0/1 and `binary`, else a
  //! GEMM) and the biases.
  void finish_contrastive(const Matrix<Space>& x, int nd, double wpos, double wneg, const Vector<Space>& g,
                          bool binary) {
    const int total = static_cast<int>(x.extent(0)), nc = total - nd;
    const Matrix<Space> vd(x.data(), nd, nv_), vc(x.data() + std::size_t(nd) * nv_, nc, nv_);
    const Matrix<Space> F(all_.data(), total, nh_), Fd(all_.data(), nd, nh_),
        Fc(all_.data() + std::size_t(nd) * nh_, nc, nh_);
    rbm_detail::weighted_hidden_probabilities<Space>(Fd, c_, wpos, 1.0);
    rbm_detail::weighted_hidden_probabilities<Space>(Fc, c_, wneg, 1.0);
    if (binary && linalg::binary_pattern(x.data(), total, nv_, nv_, true, pattern_)) {
      Space().fence();
      linalg::binary_gemm(pattern_, nh_, Real(-1), F.data(), nh_, Real(1), g.data(), nh_);
    } else {
      linalg::gemm<Space>(true, false, Real(-1), x, F, Real(1), Matrix<Space>(g.data(), nv_, nh_));
    }
    rbm_detail::grad_biases<Space>(vd, Fd, terms(), wpos, g, b_offset(), c_offset());
    rbm_detail::grad_biases<Space>(vc, Fc, terms(), wneg, g, b_offset(), c_offset());
  }

  //! Host, Bernoulli: contrastive_gradient's sweeps and hidden fields with every product
  //! taken as a sum of selected rows of W or Wᵀ (linalg/binary.hpp); the same draws as the
  //! GEMM path. False (nothing changed) when the data rows are not all 0/1.
  bool binary_contrastive(const Matrix<Space>& x, int nd, const Matrix<Space>& h, int k, bool from_data,
                          std::uint32_t seed, std::int64_t offset, std::int64_t step0) {
    const int total = static_cast<int>(x.extent(0)), nc = total - nd;
    Space().fence();
    if (!linalg::binary_pattern(x.data(), nd, nv_, nv_, false, pattern_)) return false;
    const Matrix<Space> vc(x.data() + std::size_t(nd) * nv_, nc, nv_);
    const Matrix<Space> Fd(all_.data(), nd, nh_), Fc(all_.data() + std::size_t(nd) * nh_, nc, nh_);
    ensure(wt_, nh_, nv_, "zeta::Rbm::W_transposed");
    ensure(vis_, nc, nv_, "zeta::Rbm::visible_field");
    const Matrix<Space> V(vis_.data(), nc, nv_);
    linalg::transpose(W_.data(), nv_, nh_, wt_.data());
    // The ones of a row block of draws (always 0/1), and the hidden fields of the 0/1
    // rows in pattern_: Σ of the rows of W where v = 1.
    auto ones = [&](const Real* rows, int n, int cols) {
      Space().fence();
      if (!linalg::binary_pattern(rows, n, cols, cols, false, pattern_))
        throw Error("internal: an RBM chain state is not 0/1", false);
    };
    auto hidden_of = [&](const Matrix<Space>& out) {
      linalg::binary_gemm(pattern_, nh_, Real(1), W_.data(), nh_, Real(0), out.data(), nh_);
    };
    if (from_data) {  // the data rows' field (pattern_ holds their ones) gives the first hidden draw
      hidden_of(Fd);
      rbm_detail::hidden_conditional(Fd, c_, PerChain<Space>(1.0), h, true, seed, offset, step0);
    }
    for (int sweep = 0; sweep < k; ++sweep) {
      if (sweep > 0 || !from_data) {
        ones(vc.data(), nc, nv_);
        hidden_of(Fc);
        rbm_detail::hidden_conditional(Fc, c_, PerChain<Space>(1.0), h, true, seed, offset, step0 + sweep);
      }
      ones(h.data(), nc, nh_);
      linalg::binary_gemm(pattern_, nv_, Real(1), wt_.data(), nv_, Real(0), V.data(), nv_);
      rbm_detail::visible_conditional(V, terms(), PerChain<Space>(1.0), vc, true, seed, offset, step0 + sweep);
    }
    // The hidden fields after the sweeps: the chain rows (CD), or all rows (PCD).
    if (from_data) {
      ones(vc.data(), nc, nv_);
      hidden_of(Fc);
    } else {
      ones(x.data(), total, nv_);
      hidden_of(Matrix<Space>(all_.data(), total, nh_));
    }
    return true;
  }

  bool scale_visible() const { return kind_ == RbmKind::gaussian && !unit_sigma_; }

  static int padded_rows(int batch) { return (batch + kRowTile - 1) / kRowTile * kRowTile; }
  //! Row padding buys rank-independent bits in double only (OpenBLAS sgemm is not
  //! row-stable even on whole tiles), so float builds skip the copy.
  static constexpr bool kPadRows = !std::is_same_v<Real, float>;

  static void ensure(Matrix<Space>& ws, int rows, int cols, const char* label) {
    if (static_cast<int>(ws.extent(0)) < rows || static_cast<int>(ws.extent(1)) != cols)
      ws = Matrix<Space>(std::string(label), rows, cols);
  }

  //! The GEMM input for rows `a`: `a` itself when it fills whole row tiles (or `pad_rows`
  //! is false) and needs no scaling, else a copy, padded when `pad_rows`, times 1/σ²
  //! per column when `scale`.
  Matrix<Space> gemm_rows(const Matrix<Space>& a, Matrix<Space>& pad, bool scale, bool pad_rows = true) {
    const int batch = static_cast<int>(a.extent(0)), k = static_cast<int>(a.extent(1));
    const int padded = pad_rows ? padded_rows(batch) : batch;
    if (!scale && (padded == batch || !kPadRows)) return a;
    ensure(pad, padded, k, "zeta::Rbm::padded_rows");
    const Matrix<Space> p(pad.data(), padded, k);
    if (scale)
      rbm_detail::scale_rows<Space>(a, inv_var_, p);
    else
      Kokkos::deep_copy(Kokkos::subview(p, std::make_pair(0, batch), Kokkos::ALL), a);
    return p;
  }

  //! The first a.extent(0) rows of `out` = A W, or A Wᵀ (`transposed`): packed_gemm
  //! after pack_weights(), else linalg::gemm.
  void times_w(bool transposed, const Matrix<Space>& a, const Matrix<Space>& out) {
    const int m = static_cast<int>(a.extent(0)), n = transposed ? nv_ : nh_, k = transposed ? nh_ : nv_;
    if constexpr (kPacked) {
      if (packs_) {
        Space().fence();
        linalg::packed_gemm(m, n, k, a.data(), static_cast<int>(a.stride(0)),
                            (*packs_)[transposed].get(W_.data(), nh_, transposed, k, n), out.data(), n);
        return;
      }
    }
    linalg::gemm<Space>(false, transposed, Real(1), a, W_, Real(0), Matrix<Space>(out.data(), m, n));
  }

  static constexpr bool kPacked =
      linalg::kPackedGemm && Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible;
  //! Which rows' hidden field is in which workspace: copies of an Rbm share their
  //! workspaces until one grows its own, so they share this record too.
  struct Held {
    const Real* v = nullptr;   //!< the rows …
    const Real* in = nullptr;  //!< … whose field this buffer holds …
    int rows = 0;              //!< … and how many
  };

  RbmKind kind_;
  int nv_, nh_;
  std::vector<double> sigma_;
  bool unit_sigma_ = true;
  Vector<Space> theta_, b_, c_, inv_var_;
  Matrix<Space> W_;
  Matrix<Space> vpad_, hpad_, hid_, vis_, all_, wt_;  //!< workspaces, grown on demand
  linalg::BinaryPattern pattern_;                     //!< host: the ones of a 0/1 operand
  //! After pack_weights() (kPacked builds): W (0) and Wᵀ (1) as packed operands.
  std::shared_ptr<std::array<linalg::PackedWeight, 2>> packs_;
  std::shared_ptr<Held> held_ = std::make_shared<Held>();    //!< for gibbs_step's reuse_field
  bool binary_products_ = linalg::kBinaryProductsByDefault;  //!< host: contrastive_gradient by row sums
};

}  // namespace zeta
