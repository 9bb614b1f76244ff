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
//! c (nh)] — the ◆ HDF5 datasets /model/rbm/{W,b,c} concatenated — with views into
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
#include "zeta/models/detail/rbm_kernels.hpp"
#include "zeta/models/rbm_kind.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::models {

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
    detail::hidden_conditional(hidden_field(v), c_, beta, ph, false, 0, 0, 0);
  }
  //! h ~ p(h | v) with the uniforms of (seed, offset + chain, step).
  void sample_hidden(const Matrix<Space>& v, const PerChain<Space>& beta, const Matrix<Space>& h, std::uint32_t seed,
                     std::int64_t offset, std::int64_t step) {
    detail::hidden_conditional(hidden_field(v), c_, beta, h, true, seed, offset, step);
  }
  //! E[v | h]: σ(β(b + hWᵀ)) (Bernoulli: the probabilities) or b + hWᵀ (Gaussian).
  void visible_means(const Matrix<Space>& h, const PerChain<Space>& beta, const Matrix<Space>& mv) {
    detail::visible_conditional(visible_field(h), terms(), beta, mv, false, 0, 0, 0);
  }
  //! v ~ p(v | h): Bernoulli, or N(b + hWᵀ, σ²/β).
  void sample_visible(const Matrix<Space>& h, const PerChain<Space>& beta, const Matrix<Space>& v, std::uint32_t seed,
                      std::int64_t offset, std::int64_t step) {
    detail::visible_conditional(visible_field(h), terms(), beta, v, true, seed, offset, step);
    wrote(v);
  }
  //! Initial chain states from the visible biases alone (the model with W = 0, at β = 1):
  //! v_i ~ Bernoulli(σ(b_i)) or N(b_i, σ_i²), from Stream(seed, offset + chain, 0, kInit).
  void initialize_visible(const Matrix<Space>& v, std::uint32_t seed, std::int64_t offset) const {
    detail::visible_conditional(Matrix<Space>(), terms(), PerChain<Space>(1.0), v, true, seed, offset, 0, rng::kInit);
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
    detail::hidden_conditional(reuse_field ? held_field(v) : hidden_field(v), c_, beta, h, true, seed, offset, step);
    sample_visible(h, beta, v, seed, offset, step);
  }

  // ---- parts of the conditionals, for drivers of other paths (estimators::detail::RbmAis) ----

  //! The plain RBM (α = 0; `base` then defaults to b so that kernels read it unconditionally) or the
  //! AIS intermediate with base-rate biases `base` of weight α.
  detail::VisibleTerms<Space> terms(const Vector<Space>& base = Vector<Space>(), double alpha = 0) const {
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
    detail::joint_energy(v, h, hidden_field(v), c_, terms(), E);
  }

  //! F(v) = −(1/β) ln Σ_h e^{−βE(v,h)} per chain (β > 0), into a Real (Vector) or double (Accum) View.
  template <class Out>
  void free_energy(const Matrix<Space>& v, const PerChain<Space>& beta, const Out& F) {
    if (v.extent(0) == 0) return;
    detail::marginal_energy(v, hidden_field(v), c_, terms(), beta, true, 1.0, false, F);
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
    detail::weighted_hidden_probabilities(P, c_, weights, beta);
    const Matrix<Space> rows = static_cast<int>(a.extent(0)) == batch ? a : Matrix<Space>(a.data(), batch, nv_);
    linalg::gemm<Space>(true, false, Real(-1), rows, P, Real(1), Matrix<Space>(g.data(), nv_, nh_));
    detail::grad_biases(v, P, terms(), weights, g, b_offset(), c_offset());
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
      detail::hidden_conditional(Fd, c_, PerChain<Space>(1.0), h, true, seed, offset, step0);
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
  static constexpr bool kHost = kHostKernels<Space>;

  //! contrastive_gradient's end, from the hidden fields of all rows of x in all_: the
  //! weighted probabilities, ∇W (a sum of selected rows when x is 0/1 and `binary`, else a
  //! GEMM) and the biases.
  void finish_contrastive(const Matrix<Space>& x, int nd, double wpos, double wneg, const Vector<Space>& g,
                          bool binary) {
    const int total = static_cast<int>(x.extent(0)), nc = total - nd;
    const Matrix<Space> vd(x.data(), nd, nv_), vc(x.data() + std::size_t(nd) * nv_, nc, nv_);
    const Matrix<Space> F(all_.data(), total, nh_), Fd(all_.data(), nd, nh_),
        Fc(all_.data() + std::size_t(nd) * nh_, nc, nh_);
    detail::weighted_hidden_probabilities<Space>(Fd, c_, wpos, 1.0);
    detail::weighted_hidden_probabilities<Space>(Fc, c_, wneg, 1.0);
    if (binary && linalg::binary_pattern(x.data(), total, nv_, nv_, true, pattern_)) {
      Space().fence();
      linalg::binary_gemm(pattern_, nh_, Real(-1), F.data(), nh_, Real(1), g.data(), nh_);
    } else {
      linalg::gemm<Space>(true, false, Real(-1), x, F, Real(1), Matrix<Space>(g.data(), nv_, nh_));
    }
    detail::grad_biases<Space>(vd, Fd, terms(), wpos, g, b_offset(), c_offset());
    detail::grad_biases<Space>(vc, Fc, terms(), wneg, g, b_offset(), c_offset());
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
      detail::hidden_conditional(Fd, c_, PerChain<Space>(1.0), h, true, seed, offset, step0);
    }
    for (int sweep = 0; sweep < k; ++sweep) {
      if (sweep > 0 || !from_data) {
        ones(vc.data(), nc, nv_);
        hidden_of(Fc);
        detail::hidden_conditional(Fc, c_, PerChain<Space>(1.0), h, true, seed, offset, step0 + sweep);
      }
      ones(h.data(), nc, nh_);
      linalg::binary_gemm(pattern_, nv_, Real(1), wt_.data(), nv_, Real(0), V.data(), nv_);
      detail::visible_conditional(V, terms(), PerChain<Space>(1.0), vc, true, seed, offset, step0 + sweep);
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
      detail::scale_rows<Space>(a, inv_var_, p);
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
      linalg::kPackedGemm && kHostKernels<Space>;
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

}  // namespace zeta::models
