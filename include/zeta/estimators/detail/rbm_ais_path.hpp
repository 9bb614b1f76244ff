//! The base-rate AIS path of an RBM (Salakhutdinov & Murray 2008): RbmAis, the
//! intermediate distributions with their weight increments and Gibbs moves, and
//! RbmPath, the annealable system estimators::run_ais drives with it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/estimators/rbm_exact.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::estimators::detail {

//! Annealed importance sampling from the base-rate model to an RBM (Salakhutdinov
//! & Murray 2008, §4): the intermediate distributions, a ∈ [0, 1],
//!   f_a(v) = e^{−(1−a) E_A(v)} Σ_h e^{−a β_T E(v, h)} = e^{−G_a(v)},
//! with E_A(v) = −a_Aᵀv (Bernoulli) or Σ_i (v_i − a_A,i)²/(2σ_i²) (Gaussian, the
//! target's σ), the base-rate model of visible bias a_A (W = 0, c = 0), and the
//! target at inverse temperature β_T (ais.beta). Then
//!   Bernoulli  G_a(v) = −(1−a) a_Aᵀv − aβ_T bᵀv − Σ_j softplus(aβ_T (c_j + (vW)_j)),
//!   Gaussian   G_a(v) = ½ Σ_i [(1−a)(v_i − a_A,i)² + aβ_T (v_i − b_i)²]/σ_i² − Σ_j softplus(aβ_T(c_j + (vSW)_j)),
//! Z_0 = Z_A · 2^nh (rbm_base_rate_log_z) and Z_1 = Z(β_T). The Gibbs move samples
//! h ~ p(h | v) = σ(aβ_T (c + vSW)) and v from the visible conditional of
//! e^{−(1−a)E_A(v) − aβ_T E(v,h)} (detail::visible_conditional), which leaves f_a invariant.
//! ln Z(β_T) = ln Z_0 + ln mean_chains exp(Σ_k [G_{a_{k−1}}(v_{k−1}) − G_{a_k}(v_{k−1})]).
template <class Space>
class RbmAis {
 public:
  //! Keeps a shallow copy of `target` (it shares θ). `base_bias`: the base rates a_A
  //! (Rbm::visible_bias_from_mean of the data mean).
  RbmAis(const models::Rbm<Space>& target, const std::vector<double>& base_bias, double beta_target = 1)
      : rbm_(target), base_host_(base_bias), beta_(beta_target) {
    if (static_cast<int>(base_bias.size()) != target.visible())
      throw Error("rbm ais: the base model has " + std::to_string(base_bias.size()) + " visible biases, the target " +
                  std::to_string(target.visible()) + " visible units");
    if (!(beta_target > 0)) throw Error("rbm ais: the target beta must be positive");
    base_ = Vector<Space>("zeta::RbmAis::base_bias", base_bias.size());
    auto h = Kokkos::create_mirror_view(base_);
    for (std::size_t i = 0; i < base_bias.size(); ++i) h(i) = Real(base_bias[i]);
    Kokkos::deep_copy(base_, h);
  }

  const models::Rbm<Space>& target() const { return rbm_; }
  double beta_target() const { return beta_; }
  const std::vector<double>& base_bias() const { return base_host_; }

  //! ln Z_0 = ln Σ_v f_0(v) = ln Z_A + nh ln 2.
  double base_log_z() const { return rbm_base_rate_log_z(rbm_.kind(), base_host_, rbm_.hidden(), rbm_.sigma()); }

  //! Exact draws from f_0 (independent visibles of the base-rate model).
  void sample_base(const Matrix<Space>& v, std::uint32_t seed, std::int64_t offset, std::int64_t step) {
    models::detail::visible_conditional(Matrix<Space>(), rbm_.terms(base_, 1.0), PerChain<Space>(0.0), v, true, seed,
                                        offset, step);
    rbm_.wrote(v);
  }

  //! out = G_a(v) = −ln f_a(v).
  template <class Out>
  void intermediate_free_energy(const Matrix<Space>& v, double a, const Out& out) {
    if (v.extent(0) == 0) return;
    models::detail::marginal_energy(v, rbm_.hidden_field(v), rbm_.c(), rbm_.terms(base_, 1 - a),
                                    PerChain<Space>(a * beta_), false, 1.0, false, out);
  }

  //! w += ln f_to(v) − ln f_from(v) = G_from(v) − G_to(v), from one GEMM, or none
  //! when the hidden field of v is still held (SMC's bisection evaluates many `a_to`
  //! on the same states: one GEMM per step, not one per trial).
  template <class Out>
  void log_weight_increment(const Matrix<Space>& v, double a_from, double a_to, const Out& w) {
    if (v.extent(0) == 0) return;
    const auto pre = rbm_.held_field(v);
    models::detail::marginal_energy(v, pre, rbm_.c(), rbm_.terms(base_, 1 - a_from), PerChain<Space>(a_from * beta_),
                                    false, 1.0, true, w);
    models::detail::marginal_energy(v, pre, rbm_.c(), rbm_.terms(base_, 1 - a_to), PerChain<Space>(a_to * beta_), false,
                                    -1.0, true, w);
  }

  //! One Gibbs sweep that leaves f_a invariant: h ~ p_a(h | v), then v ~ p_a(v | h).
  //! `reuse_field`: right after log_weight_increment(v, …), whose field it reuses (as
  //! Rbm::gibbs_step's).
  void gibbs_step(const Matrix<Space>& v, const Matrix<Space>& h, double a, std::uint32_t seed, std::int64_t offset,
                  std::int64_t step, bool reuse_field = false) {
    const PerChain<Space> g(a * beta_);
    models::detail::hidden_conditional(reuse_field ? rbm_.held_field(v) : rbm_.hidden_field(v), rbm_.c(), g, h, true,
                                       seed, offset, step);
    models::detail::visible_conditional(rbm_.visible_field(h), rbm_.terms(base_, 1 - a), g, v, true, seed, offset,
                                        step);
    rbm_.wrote(v);
  }

 private:
  models::Rbm<Space> rbm_;
  Vector<Space> base_;
  std::vector<double> base_host_;
  double beta_;
};

//! RbmAis as an annealable system (estimators/ais.hpp): v, h of this rank's chains;
//! every draw keyed by (seed, global chain id, step).
template <class Space>
class RbmPath {
 public:
  using space = Space;
  RbmPath(const models::Rbm<Space>& rbm, const std::vector<double>& base_bias, double beta, std::uint32_t seed,
          const parallel::ChainRange& range)
      : path_(rbm, base_bias, beta),
        v_("zeta::rbm_ais::v", range.count, rbm.visible()),
        h_("zeta::rbm_ais::h", range.count, rbm.hidden()),
        seed_(seed),
        offset_(range.offset) {}

  std::int64_t local() const { return std::int64_t(v_.extent(0)); }
  double base_log_z() const { return path_.base_log_z(); }
  //! Exact draws from the base (one step of the counter).
  void start(std::int64_t& step) { path_.sample_base(v_, seed_, offset_, ++step); }
  //! Fresh base draws equilibrated at the target by `burn_in` Gibbs sweeps.
  void start_reverse(std::int64_t& step, std::int64_t burn_in) {
    path_.sample_base(v_, seed_, offset_, ++step);
    for (std::int64_t j = 0; j < burn_in; ++j) path_.gibbs_step(v_, h_, 1.0, seed_, offset_, ++step);
  }
  //! w += ln f_to(v) − ln f_from(v); `to` becomes the distribution the moves leave invariant.
  void advance(double from, double to, const Accum<Space>& w) {
    path_.log_weight_increment(v_, from, to, w);
    a_ = to;
  }
  //! One Gibbs sweep at the current a; the first after advance reuses its hidden field.
  void move(std::int64_t step, bool first) {
    path_.gibbs_step(v_, h_, a_, seed_, offset_, step, first);
    ++sweeps_;
  }
  bool diverged() const { return false; }  //!< binary units, Gibbs sweeps

  // The particle interface of SMC (estimators/smc.hpp).
  //! G_a is not linear in a: increments() evaluates ln f_to − ln f_from per local chain.
  static constexpr bool linear = false;
  void increments(double from, double to, std::vector<double>& dw) {
    if (!dw_.extent(0) && local()) dw_ = Accum<Space>("zeta::rbm_smc::dw", local());
    Kokkos::deep_copy(dw_, 0.0);
    path_.log_weight_increment(v_, from, to, dw_);
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dw_);
    dw.assign(h.data(), h.data() + h.size());
  }
  int state_width() const { return int(v_.extent(1)); }
  void save_states(std::vector<double>& rows) const {
    const auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v_);
    rows.resize(v.extent(0) * v.extent(1));
    for (std::size_t c = 0; c < v.extent(0); ++c)
      for (std::size_t i = 0; i < v.extent(1); ++i) rows[c * v.extent(1) + i] = double(v(c, i));
  }
  //! New visible states (the hidden ones are drawn afresh by the next Gibbs sweep).
  void load_states(const std::vector<double>& rows) {
    auto v = Kokkos::create_mirror_view(v_);
    for (std::size_t c = 0; c < v.extent(0); ++c)
      for (std::size_t i = 0; i < v.extent(1); ++i) v(c, i) = Real(rows[c * v.extent(1) + i]);
    Kokkos::deep_copy(v_, v);
    path_.target().wrote(v_);
  }
  //! Gibbs sweeps always move: one accepted move per chain and sweep.
  double accepted() const { return double(sweeps_) * double(local()); }
  double moves_per_sweep() const { return 1.0; }

 private:
  RbmAis<Space> path_;
  Matrix<Space> v_, h_;
  std::uint32_t seed_;
  std::int64_t offset_;
  double a_ = 0;
  std::int64_t sweeps_ = 0;
  Accum<Space> dw_;
};

}  // namespace zeta::estimators::detail
