//! AIS on a continuous model as an annealable system (estimators/ais.hpp): the
//! intermediate distributions f_t = exp(−(1 − a_t) E_0 − a_t β E) from the Gaussian
//! base E_0 = |x − μ|² / (2 s²), ln Z_0 = (d/2) ln(2π s²), moved by the configured
//! Langevin / MALA / HMC step on the intermediate energy (AnnealedModel).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/chains.hpp"
#include "zeta/samplers/divergence.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::estimators::detail {

//! The intermediate energy (1 − a) E_0 + a β E of a continuous model, for the samplers.
template <class Model>
class AnnealedModel {
 public:
  using space = typename Model::space;
  AnnealedModel(Model& m, double mean, double scale, double beta) : m_(m), mean_(mean), scale_(scale), beta_(beta) {}
  int dim() const { return m_.dim(); }
  const char* name() const { return m_.name(); }
  void set_a(double a) { a_ = a; }

  //! One model evaluation at x gives both E_0(x), E(x) (for the weight increment)
  //! and the energy and gradient of the intermediate at a_next, which becomes current.
  void advance(const Matrix<space>& x, double a_next, const Vector<space>& e0, const Vector<space>& em,
               const Vector<space>& E, const Matrix<space>& g) {
    m_.energy_and_grad(x, em, g);
    a_ = a_next;
    const Real mu = Real(mean_), inv = Real(1 / (scale_ * scale_)), a = Real(a_), ab = Real(a_ * beta_);
    const int d = dim();
    Kokkos::parallel_for(
        "zeta::Ais::advance", RangePolicy<space>(0, x.extent(0)), KOKKOS_LAMBDA(const int c) {
          Real s = 0;
          for (int i = 0; i < d; ++i) {
            const Real dx = x(c, i) - mu;
            s += dx * dx;
            g(c, i) = (Real(1) - a) * inv * dx + ab * g(c, i);
          }
          e0(c) = Real(0.5) * inv * s;
          E(c) = (Real(1) - a) * e0(c) + ab * em(c);
        });
  }
  //! The current intermediate's energy and gradient (what the samplers call).
  void energy_and_grad(const Matrix<space>& x, const Vector<space>& E, const Matrix<space>& g) {
    if (e0_.extent(0) != x.extent(0)) {
      e0_ = Vector<space>("zeta::Ais::e0", x.extent(0));
      em_ = Vector<space>("zeta::Ais::em", x.extent(0));
    }
    advance(x, a_, e0_, em_, E, g);
  }

 private:
  Model& m_;
  double mean_, scale_, beta_, a_ = 0;
  Vector<space> e0_, em_;
};

template <class Model>
class ContinuousPath {
 public:
  using space = typename Model::space;
  ContinuousPath(Model& m, const samplers::SamplerSpec& smp, double base_mean, double base_scale, double beta,
                 std::uint32_t seed, const parallel::ChainRange& range)
      : path_(m, base_mean, base_scale, beta),
        ch_(range, m.dim(), 1.0),
        smp_(smp),
        mean_(base_mean),
        scale_(base_scale),
        beta_(beta),
        seed_(seed),
        e0_("zeta::Ais::e0", range.count),
        em_("zeta::Ais::em", range.count) {}

  std::int64_t local() const { return ch_.range.count; }
  double base_log_z() const { return 0.5 * ch_.dim() * std::log(2 * M_PI * scale_ * scale_); }
  //! Exact base samples x ~ N(μ, s²): initialize draws N(0, s²), then shift.
  void start(std::int64_t&) {
    a_ = 0.0;
    path_.set_a(0.0);
    ch_.initialize(path_, seed_, scale_);
    const auto x = ch_.x;
    const Real mu = Real(mean_);
    const int d = ch_.dim();
    Kokkos::parallel_for(
        "zeta::Ais::shift", RangePolicy<space>(0, ch_.local()), KOKKOS_LAMBDA(const int c) {
          for (int i = 0; i < d; ++i) x(c, i) += mu;
        });
    path_.energy_and_grad(ch_.x, ch_.E, ch_.g);
  }
  //! The same chains, equilibrated further at the target by `burn_in` moves.
  void start_reverse(std::int64_t& step, std::int64_t burn_in) {
    a_ = 1.0;
    path_.set_a(1.0);
    path_.energy_and_grad(ch_.x, ch_.E, ch_.g);
    for (std::int64_t j = 0; j < burn_in; ++j) samplers::sampler_step(path_, ch_, smp_, seed_, ++step);
  }
  //! w += log f_to(x) − log f_from(x) = (a_to − a_from)(E_0(x) − β E(x)), from the one model
  //! evaluation that also gives the new intermediate's energy and gradient.
  void advance(double from, double to, const Accum<space>& w) {
    path_.advance(ch_.x, to, e0_, em_, ch_.E, ch_.g);
    a_ = to;
    const double da = to - from, beta = beta_;
    const auto e0 = e0_, em = em_;
    Kokkos::parallel_for(
        "zeta::Ais::weight", RangePolicy<space>(0, w.extent(0)),
        KOKKOS_LAMBDA(const int c) { w(c) += da * (double(e0(c)) - beta * double(em(c))); });
  }
  void move(std::int64_t step, bool) { samplers::sampler_step(path_, ch_, smp_, seed_, step); }
  //! Local: a state or intermediate energy left the finite range (samplers/divergence.hpp).
  bool diverged() const { return samplers::chains_diverged<space>(ch_.x, ch_.E); }

  // The particle interface of SMC (estimators/smc.hpp).
  //! ln f_a(x) = −(1 − a) E_0(x) − a β E(x) is linear in a: d ln f / da = E_0(x) − β E(x),
  //! from one model evaluation at the current a (which leaves E and ∇E as they were).
  static constexpr bool linear = true;
  void slopes(std::vector<double>& u) {
    path_.advance(ch_.x, a_, e0_, em_, ch_.E, ch_.g);
    const auto e0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e0_);
    const auto em = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), em_);
    u.resize(e0.extent(0));
    for (std::size_t c = 0; c < u.size(); ++c) u[c] = double(e0(c)) - beta_ * double(em(c));
  }
  int state_width() const { return ch_.dim(); }
  void save_states(std::vector<double>& rows) const {
    const auto x = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.x);
    rows.resize(x.extent(0) * x.extent(1));
    for (std::size_t c = 0; c < x.extent(0); ++c)
      for (std::size_t i = 0; i < x.extent(1); ++i) rows[c * x.extent(1) + i] = double(x(c, i));
  }
  //! New states (exactly: Real → double → Real), their intermediate energy and gradient.
  void load_states(const std::vector<double>& rows) {
    auto x = Kokkos::create_mirror_view(ch_.x);
    for (std::size_t c = 0; c < x.extent(0); ++c)
      for (std::size_t i = 0; i < x.extent(1); ++i) x(c, i) = Real(rows[c * x.extent(1) + i]);
    Kokkos::deep_copy(ch_.x, x);
    path_.energy_and_grad(ch_.x, ch_.E, ch_.g);
  }
  double accepted() const {
    const auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.accepted);
    double s = 0;
    for (std::size_t c = 0; c < f.extent(0); ++c) s += double(f(c));
    return s;
  }
  double moves_per_sweep() const { return 1.0; }

 private:
  AnnealedModel<Model> path_;
  samplers::Chains<space> ch_;
  samplers::SamplerSpec smp_;
  double mean_, scale_, beta_;
  std::uint32_t seed_;
  Vector<space> e0_, em_;
  double a_ = 0;  //!< the current intermediate
};

}  // namespace zeta::estimators::detail
