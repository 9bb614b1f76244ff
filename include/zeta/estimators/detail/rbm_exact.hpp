//! The kernel of estimators::rbm_log_z_exact: one team per chunk of the summed
//! layer's states, walked in Gray-code order with an online log-sum-exp.
#pragma once
#include <cstdint>

#include "zeta/core/math.hpp"
#include "zeta/models/rbm.hpp"

namespace zeta::estimators::detail {

//! Index of the lowest set bit of t > 0.
KOKKOS_INLINE_FUNCTION int lowest_bit(std::int64_t t) {
  int j = 0;
  while (!((t >> j) & 1)) ++j;
  return j;
}

//! The chunk kernel of rbm_log_z_exact (Gauss: the sum over the other layer is
//! Σ quad_i f_i², else Σ softplus(f_i); a compile-time choice keeps the loops simple
//! enough to vectorize). Chunk h holds the states whose high bits are h; it walks the
//! `low` low bits in Gray-code order and writes its (max, Σ e^{term − max}) to lse(h, ·).
template <bool Gauss, class Space, class DMatrix, class DVector, class Lse>
void log_z_chunks(const DMatrix& M, const DVector& lin, const DVector& base, const DVector& quad, int low,
                  const DMatrix& acc, const Lse& lse) {
  const int ns = static_cast<int>(M.extent(0)), no = static_cast<int>(M.extent(1));
  const int chunks = static_cast<int>(acc.extent(0));
  constexpr int B = models::detail::block_size<Space>();
  using Team = typename Kokkos::TeamPolicy<Space>::member_type;
  Kokkos::parallel_for(
      "zeta::rbm_log_z_exact::chunks", Kokkos::TeamPolicy<Space>(chunks, Kokkos::AUTO), KOKKOS_LAMBDA(const Team& m) {
        const int h = m.league_rank();
        double* KOKKOS_RESTRICT f = &acc(h, 0);
        double lin_term = 0;
        for (int j = low; j < ns; ++j)
          if ((h >> (j - low)) & 1) lin_term += lin(j);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, no), [&](const int i) {
          double s = base(i);
          for (int j = low; j < ns; ++j)
            if ((h >> (j - low)) & 1) s += M(j, i);
          f[i] = s;
        });
        m.team_barrier();
        double mx = -1.7976931348623157e308, sum = 0;  // −DBL_MAX: e^{mx − term} = 0 at the first state
        const std::int64_t states = std::int64_t(1) << low;
        for (std::int64_t t = 0; t < states; ++t) {
          if (t > 0) {
            // Gray code: unit j flips; the running field moves by ±row j. Each thread
            // updates the blocks of f that it then sums, so no barrier is needed.
            const int j = lowest_bit(t);
            const double sgn = (((t ^ (t >> 1)) >> j) & 1) ? 1.0 : -1.0;
            lin_term += sgn * lin(j);
            const double* KOKKOS_RESTRICT row = &M(j, 0);
            Kokkos::parallel_for(Kokkos::TeamThreadRange(m, (no + B - 1) / B), [&](const int blk) {
              const int lo = blk * B, hi = no < lo + B ? no : lo + B;
              for (int i = lo; i < hi; ++i) f[i] += sgn * row[i];
            });
          }
          double other;
          if (Gauss)  // not if constexpr: nvcc refuses a first capture (quad) there; Gauss folds anyway
            other = models::detail::team_sum<B>(m, no, [&](int i) { return quad(i) * f[i] * f[i]; });
          else
            other = models::detail::team_softplus_sum<B>(m, no, [&](int i) { return f[i]; });
          const double term = lin_term + other;
          if (term > mx) {
            sum = sum * kmath::exp(mx - term) + 1.0;
            mx = term;
          } else {
            sum += kmath::exp(term - mx);
          }
        }
        Kokkos::single(Kokkos::PerTeam(m), [&]() {
          lse(h, 0) = mx;
          lse(h, 1) = sum;
        });
      });
}

}  // namespace zeta::estimators::detail
