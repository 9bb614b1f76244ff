//! Exact references for RBMs: ln Z of the base-rate model in closed form (the
//! start of AIS's path) and ln Z of a small RBM by enumerating one layer (ais.exact,
//! and the tests' reference for AIS and training).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/estimators/detail/rbm_exact.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

//! ln Z(β) of the base-rate model A (W = 0, c = 0, visible bias a) with `hidden`
//! hidden units: Bernoulli Σ_i softplus(β a_i) + nh ln 2; Gaussian
//! Σ_i ½ ln(2π σ_i² / β) + nh ln 2 (σ: empty = 1, one value, or one per visible).
inline double rbm_base_rate_log_z(models::RbmKind kind, const std::vector<double>& a, int hidden,
                                  const std::vector<double>& sigma = {}, double beta = 1) {
  double s = hidden * std::log(2.0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (kind == models::RbmKind::bernoulli) {
      s += kmath::softplus(beta * a[i]);
    } else {
      const double si = sigma.empty() ? 1.0 : (sigma.size() == 1 ? sigma[0] : sigma[i]);
      s += 0.5 * std::log(2 * M_PI * si * si / beta);
    }
  }
  return s;
}

//! Sums over at most 2^30 states.
constexpr int kRbmMaxExactBits = 30;

//! Exact ln Z(β) = ln Σ_{v,h} e^{−βE(v,h)} by summing over the 2^n states of one layer:
//!   Bernoulli (over h): ln Σ_h e^{β cᵀh} Π_i (1 + e^{β(b_i + (Wh)_i)}), or over v when
//!     nv < nh (the same with the layers' roles swapped);
//!   Gaussian (over h): Σ_i ½ ln(2πσ_i²/β) + ln Σ_h e^{β cᵀh + Σ_i β((b + Wh)_i² − b_i²)/(2σ_i²)}.
//! The states are split into 2^q chunks by their high bits, one team each: a chunk
//! walks its low bits in Gray-code order, so each state costs one row update of the
//! running field (b + Wh) and one fused vectorized softplus (or square) sum over the
//! other layer, and keeps an online log-sum-exp; the chunks' (max, sum) pairs are
//! combined on the host in chunk order, so the result is deterministic.
//! Refuses more than kRbmMaxExactBits summed units.
template <class Space>
double rbm_log_z_exact(const models::Rbm<Space>& rbm, double beta = 1) {
  using memory_space = typename Space::memory_space;
  using DMatrix = Kokkos::View<double**, Kokkos::LayoutRight, memory_space>;
  using DVector = Kokkos::View<double*, memory_space>;
  const bool gauss = rbm.kind() == models::RbmKind::gaussian;
  const int nv = rbm.visible(), nh = rbm.hidden();
  const bool over_visible = !gauss && nv < nh;
  const int ns = over_visible ? nv : nh, no = over_visible ? nh : nv;  // summed and other layer
  if (ns > kRbmMaxExactBits)
    throw Error("rbm: exact ln Z sums over 2^" + std::to_string(ns) + " states of the " +
                (over_visible ? "visible" : "hidden") + " layer; at most " + std::to_string(kRbmMaxExactBits) +
                " units are allowed (" + std::to_string(nv) + " visible, " + std::to_string(nh) + " hidden)");
  if (!(beta > 0)) throw Error("rbm: exact ln Z needs beta > 0");

  // M(j, ·): the change of the running field when unit j of the summed layer turns on;
  // lin(j): its linear term; base: the field with the summed layer all off.
  DMatrix M("zeta::rbm_log_z_exact::rows", ns, no);
  DVector lin("zeta::rbm_log_z_exact::linear", ns), base("zeta::rbm_log_z_exact::base", no),
      quad("zeta::rbm_log_z_exact::quadratic", no);
  const auto W = rbm.W();
  const auto b = rbm.b(), c = rbm.c(), iv = rbm.inv_var();
  // Bernoulli fields are pre-multiplied by β; Gaussian ones enter as β/(2σ²) x².
  const double fs = gauss ? 1.0 : beta;
  Kokkos::parallel_for(
      "zeta::rbm_log_z_exact::setup", RangePolicy<Space>(0, std::int64_t(ns) * no),
      KOKKOS_LAMBDA(const std::int64_t k) {
        const int j = static_cast<int>(k / no), i = static_cast<int>(k % no);
        M(j, i) = fs * double(over_visible ? W(j, i) : W(i, j));
      });
  Kokkos::parallel_for(
      "zeta::rbm_log_z_exact::setup_bias", RangePolicy<Space>(0, ns > no ? ns : no), KOKKOS_LAMBDA(const int k) {
        if (k < ns) lin(k) = beta * double(over_visible ? b(k) : c(k));
        if (k < no) {
          base(k) = fs * double(over_visible ? c(k) : b(k));
          quad(k) = gauss ? 0.5 * beta * double(iv(k)) : 0.0;
        }
      });

  // Chunks: a few per host thread (each costs a field set-up of up to ns·no), on a
  // GPU enough teams to fill it; at most 2^14, and running fields within 2^22 doubles.
  constexpr bool host = kHostKernels<Space>;
  const std::int64_t want = std::int64_t(Space().concurrency()) * (host ? 4 : 1);
  int q = 0;
  while (q < ns && q < 14 && (std::int64_t(1) << q) < want && (std::int64_t(no) << (q + 1)) <= (std::int64_t(1) << 22))
    ++q;
  const int low = ns - q;  // bits walked inside a chunk
  const int chunks = 1 << q;
  DMatrix acc("zeta::rbm_log_z_exact::field", chunks, no);
  Kokkos::View<double* [2], Kokkos::LayoutRight, memory_space> lse("zeta::rbm_log_z_exact::chunk_lse", chunks);
  if (gauss)
    detail::log_z_chunks<true, Space>(M, lin, base, quad, low, acc, lse);
  else
    detail::log_z_chunks<false, Space>(M, lin, base, quad, low, acc, lse);
  auto hl = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), lse);
  double mx = -std::numeric_limits<double>::infinity();
  for (int h = 0; h < chunks; ++h) mx = std::max(mx, hl(h, 0));
  double sum = 0;
  for (int h = 0; h < chunks; ++h) sum += hl(h, 1) * std::exp(hl(h, 0) - mx);
  double constant = 0;
  if (gauss) {
    auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
    for (int i = 0; i < nv; ++i) {
      const double s = rbm.sigma()[i];
      constant += 0.5 * std::log(2 * M_PI * s * s / beta) - 0.5 * beta * double(hb(i)) * double(hb(i)) / (s * s);
    }
  }
  return constant + mx + std::log(sum);
}

//! Collective rbm_log_z_exact: rank 0 sums, every rank gets its ln Z, or every rank
//! throws the same Error, "`what`: " and the reason.
template <class Space>
double rbm_log_z_exact(const models::Rbm<Space>& rbm, double beta, const parallel::Comm& comm,
                       const std::string& what) {
  double log_z = 0;
  std::string err;
  if (comm.root()) {
    try {
      log_z = rbm_log_z_exact(rbm, beta);
    } catch (const std::exception& e) {
      err = what + ": " + e.what();
    }
  }
  err = comm.first_message(err);
  if (!err.empty()) throw Error(err);
  comm.broadcast(log_z);
  return log_z;
}

}  // namespace zeta::estimators
