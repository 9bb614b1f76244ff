#include "zeta/estimators/grid.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace zeta::estimators {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kMaxCellsPerAxis = std::int64_t(1) << 20;
}  // namespace

Grid2d grid_around(const data::Dataset& d, const parallel::Comm& comm, std::int64_t n, double margin) {
  if (d.dim != 2) throw Error("grid: needs 2-D examples, these have " + std::to_string(d.dim) + " values");
  if (n < 1 || n > kMaxCellsPerAxis) throw Error("grid: cells per axis must be in [1, 2^20], got " + std::to_string(n));
  if (!(margin >= 0) || !std::isfinite(margin)) throw Error("grid: the margin must be a finite number >= 0");
  double lo[2] = {kInf, kInf}, hi[2] = {-kInf, -kInf};
  for (const data::Split* s : {&d.train, &d.heldout})
    for (const auto& p : s->local)
      for (std::int64_t i = 0; i < p.count; ++i)
        for (int k = 0; k < 2; ++k) {
          const double v = p.x[std::size_t(2 * i + k)];
          lo[k] = std::min(lo[k], v);
          hi[k] = std::max(hi[k], v);
        }
  for (int k = 0; k < 2; ++k) {
    lo[k] = -comm.max(-lo[k]);  // min and max are exact: any order gives the same bits
    hi[k] = comm.max(hi[k]);
    if (!(hi[k] > lo[k]) || !std::isfinite(hi[k] - lo[k]))
      throw Error(std::string("grid: the examples have no finite extent along ") + (k == 0 ? "x" : "y"));
  }
  Grid2d g;
  const double wx = hi[0] - lo[0], wy = hi[1] - lo[1];
  g.x_lo = lo[0] - margin * wx, g.x_hi = hi[0] + margin * wx;
  g.y_lo = lo[1] - margin * wy, g.y_hi = hi[1] + margin * wy;
  g.nx = g.ny = n;
  return g;
}

namespace detail {

GridPlan grid_plan(const Grid2d& g, const GridOptions& opt, const parallel::Comm& comm) {
  for (double v : {g.x_lo, g.x_hi, g.y_lo, g.y_hi})
    if (!std::isfinite(v)) throw Error("grid: the box must be finite");
  if (!(g.x_hi > g.x_lo) || !(g.y_hi > g.y_lo)) throw Error("grid: the box needs x_lo < x_hi and y_lo < y_hi");
  if (g.nx < 1 || g.ny < 1 || g.nx > kMaxCellsPerAxis || g.ny > kMaxCellsPerAxis)
    throw Error("grid: cells per axis must be in [1, 2^20], got " + std::to_string(g.nx) + " x " +
                std::to_string(g.ny));
  if (opt.batch_points < 1) throw Error("grid: batch_points must be >= 1");
  GridPlan p;
  p.rows_per_chunk = std::clamp<std::int64_t>(opt.batch_points / g.nx, 1, g.ny);
  p.chunks = (g.ny + p.rows_per_chunk - 1) / p.rows_per_chunk;
  p.mine = comm.share(p.chunks);
  return p;
}

GridLogZ grid_reduce(const Grid2d& g, const GridPlan& plan, const std::vector<double>& energy,
                     const parallel::Comm& comm, bool keep_energy) {
  // Per chunk: m = max(−E) and s = Σ e^{−E − m}, in cell order.
  std::vector<double> part(std::size_t(2 * plan.mine.count));
  std::string bad;
  std::size_t at = 0;
  for (std::int64_t q = 0; q < plan.mine.count; ++q) {
    const std::int64_t row0 = plan.first_row(plan.mine.offset + q);
    const std::int64_t n = std::min(plan.rows_per_chunk, g.ny - row0) * g.nx;
    if (at + std::size_t(n) > energy.size()) throw Error("internal: grid_reduce got too few energies", false);
    const double* e = energy.data() + at;
    double m = -kInf;
    for (std::int64_t i = 0; i < n; ++i) {
      if (std::isnan(e[i]) || e[i] == -kInf) {
        if (bad.empty()) {
          std::ostringstream os;
          os.precision(17);
          os << "grid: the energy is " << e[i] << " at the cell centre (" << g.x(i % g.nx) << ", "
             << g.y(row0 + i / g.nx) << "); ln Z is undefined";
          bad = os.str();
        }
        continue;
      }
      m = std::max(m, -e[i]);
    }
    double s = 0;
    if (m > -kInf)
      for (std::int64_t i = 0; i < n; ++i)
        if (!std::isnan(e[i])) s += std::exp(-e[i] - m);
    part[std::size_t(2 * q)] = m;
    part[std::size_t(2 * q + 1)] = s;
    at += std::size_t(n);
  }
  if (at != energy.size()) throw Error("internal: grid_reduce got too many energies", false);
  bad = comm.first_message(bad);
  if (!bad.empty()) throw Error(bad);

  // Chunks combined in chunk order, whichever rank formed them.
  const auto all = comm.allgather_chain_rows(part, 2, parallel::Share{plan.chunks, plan.mine.offset, plan.mine.count});
  double M = -kInf;
  for (std::int64_t c = 0; c < plan.chunks; ++c) M = std::max(M, all[std::size_t(2 * c)]);
  GridLogZ r;
  if (M == -kInf) {
    r.log_z = -kInf;
  } else {
    double S = 0;
    for (std::int64_t c = 0; c < plan.chunks; ++c)
      if (all[std::size_t(2 * c)] > -kInf) S += all[std::size_t(2 * c + 1)] * std::exp(all[std::size_t(2 * c)] - M);
    r.log_z = M + std::log(S) + std::log(g.dx() * g.dy());
  }
  if (keep_energy) r.energy = comm.gather_to_root(energy);  // ranks hold consecutive rows, in rank order
  return r;
}

}  // namespace detail

}  // namespace zeta::estimators
