//! Grid normalisation of a 2-D energy (the "landscape" evaluation): the log
//! partition function ln Z = ln ∫ e^{−E(x)} dx over a rectangle, and with it the
//! held-out negative log-likelihood (1/N) Σ_n [E(x_n) + ln Z] of a model whose
//! normaliser is otherwise unknown.
//!
//! Rule: the midpoint rule on nx × ny equal cells, Z ≈ ΔA Σ_cells e^{−E(centre)},
//! summed as a stable log-sum-exp in double. For a smooth density that has died
//! away at the box's edge the midpoint sum is the trapezoid sum of a shifted
//! lattice and its error falls faster than any power of the cell size
//! (Euler–Maclaurin); for a Gaussian of std σ it is about 2 exp(−2π²σ²/h²) per
//! axis, h the cell width. What the box leaves out is not counted: pick a box
//! (grid_around: the data's range plus a margin) where e^{−E} is negligible.
//!
//! Ranks: the grid rows are cut into fixed batches of whole rows (chunks of
//! GridOptions::batch_points cells, rounded down to whole rows) and the chunks
//! into contiguous blocks per rank (block_range). Every chunk is one energy
//! call, so a GEMM model sees the same batches on any rank count; each chunk's
//! (max, Σ e^{−E − max}) is formed in cell order and the chunks are combined in
//! chunk order, so 1, 2 or 4 ranks give the same bits.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

//! nx × ny cells covering [x_lo, x_hi] × [y_lo, y_hi]; cell (i, j) is centred at
//! (x(i), y(j)), and row j holds the nx cells of one y.
struct Grid2d {
  double x_lo = -3, x_hi = 3, y_lo = -3, y_hi = 3;
  std::int64_t nx = 256, ny = 256;

  double dx() const { return (x_hi - x_lo) / double(nx); }
  double dy() const { return (y_hi - y_lo) / double(ny); }
  double x(std::int64_t i) const { return x_lo + (double(i) + 0.5) * dx(); }
  double y(std::int64_t j) const { return y_lo + (double(j) + 0.5) * dy(); }
};

struct GridOptions {
  //! Cells per energy call (whole rows, at least one). Fixes the batches, so it is
  //! part of what makes the result independent of the rank count.
  std::int64_t batch_points = 8192;
  //! Also gather E at every cell centre on rank 0 (GridLogZ::energy).
  bool keep_energy = false;
};

struct GridLogZ {
  double log_z = 0;            //!< ln (ΔA Σ_cells e^{−E}); −∞ if e^{−E} is 0 on every cell
  std::vector<double> energy;  //!< keep_energy: E at the cell centres, [ny][nx], on rank 0 (empty elsewhere)
};

struct GridNll {
  double log_z = 0;       //!< the grid's ln Z
  double nll = 0;         //!< (1/N) Σ_n [E(x_n) + ln Z]
  double nll_stderr = 0;  //!< sd(E(x_n)) / √N: the sampling error; the grid's own error is not in it
  std::int64_t examples = 0;
  std::vector<double> energy;  //!< GridOptions::keep_energy: GridLogZ::energy
};

//! Collective: the box around both splits of a 2-D data set (every rank's rows),
//! each axis widened by `margin` times its width on either side, cut into n × n
//! cells. Throws for data that are not 2-D or have no extent along an axis.
Grid2d grid_around(const data::Dataset& d, const parallel::Comm& comm, std::int64_t n = 256, double margin = 0.25);

namespace detail {

//! The fixed chunks of whole rows and the block of them this rank evaluates.
struct GridPlan {
  std::int64_t rows_per_chunk = 1, chunks = 0;
  parallel::Share mine;  //!< chunks [offset, offset + count) of `chunks`
  std::int64_t first_row(std::int64_t c) const { return c * rows_per_chunk; }
};

//! Validates the grid (throws zeta::Error) and cuts it for this rank.
GridPlan grid_plan(const Grid2d& g, const GridOptions& opt, const parallel::Comm& comm);

//! Collective: ln Z from this rank's chunk energies (its chunks' cells, row-major,
//! in chunk order). A NaN or −∞ energy on any rank is one error on every rank.
GridLogZ grid_reduce(const Grid2d& g, const GridPlan& plan, const std::vector<double>& energy,
                     const parallel::Comm& comm, bool keep_energy);

//! x(p, :) = centre of cell p of the rows starting at row0, row-major.
template <class Space>
void fill_cells(const Matrix<Space>& x, const Grid2d& g, std::int64_t row0) {
  const double x_lo = g.x_lo, y_lo = g.y_lo, dx = g.dx(), dy = g.dy();
  const std::int64_t nx = g.nx;
  Kokkos::parallel_for(
      "zeta::grid::cells", RangePolicy<Space>(0, x.extent(0)), KOKKOS_LAMBDA(const std::int64_t p) {
        x(p, 0) = Real(x_lo + (double(p % nx) + 0.5) * dx);
        x(p, 1) = Real(y_lo + (double(row0 + p / nx) + 0.5) * dy);
      });
}

template <class Model>
void check_2d(const Model& model) {
  if (model.dim() != 2)
    throw Error("grid normalisation needs a 2-D model; this one has dimension " + std::to_string(model.dim()));
}

}  // namespace detail

//! Collective: ln Z of `model` on the grid. Model is any energy with
//! `space`, `dim()` and `energy(const Matrix<space>& x, const Vector<space>& E)`
//! (Gaussian, Gmm, Mlp, HostEnergy), called once per chunk.
template <class Model>
GridLogZ grid_log_z(Model& model, const Grid2d& g, const parallel::Comm& comm, const GridOptions& opt = {}) {
  using Space = typename std::remove_const_t<Model>::space;
  detail::check_2d(model);
  const detail::GridPlan plan = detail::grid_plan(g, opt, comm);
  std::vector<double> energy;
  Matrix<Space> x;
  Vector<Space> E;
  for (std::int64_t c = plan.mine.offset; c < plan.mine.offset + plan.mine.count; ++c) {
    const std::int64_t row0 = plan.first_row(c);
    const std::int64_t n = std::min(plan.rows_per_chunk, g.ny - row0) * g.nx;
    if (std::int64_t(x.extent(0)) != n) {
      x = Matrix<Space>("zeta::grid::cells", n, 2);
      E = Vector<Space>("zeta::grid::energy", n);
    }
    detail::fill_cells<Space>(x, g, row0);
    model.energy(x, E);
    const auto h = host_copy(E);
    energy.insert(energy.end(), h.begin(), h.end());
  }
  return detail::grid_reduce(g, plan, energy, comm, opt.keep_energy);
}

//! E at every example this rank holds, in the order of split.local, in batches of
//! at most `batch_points` rows that start at each partition's first row (so the
//! batches, too, do not depend on the rank count).
template <class Model>
std::vector<double> split_energies(Model& model, const data::Split& split, std::int64_t batch_points = 8192) {
  using Space = typename std::remove_const_t<Model>::space;
  if (split.n > 0 && split.dim != model.dim())
    throw Error("the examples have " + std::to_string(split.dim) + " values, the model's dimension is " +
                std::to_string(model.dim()));
  const std::int64_t batch = std::max<std::int64_t>(1, batch_points);
  std::vector<double> out;
  out.reserve(std::size_t(split.local_count()));
  Matrix<Space> x;
  Vector<Space> E;
  for (const auto& p : split.local)
    for (std::int64_t b = 0; b < p.count; b += batch) {
      const std::int64_t n = std::min(batch, p.count - b);
      if (std::int64_t(x.extent(0)) != n) {
        x = Matrix<Space>("zeta::grid::examples", n, split.dim);
        E = Vector<Space>("zeta::grid::example_energy", n);
      }
      auto hx = Kokkos::create_mirror_view(x);
      for (std::int64_t i = 0; i < n; ++i)
        for (int k = 0; k < split.dim; ++k) hx(i, k) = p.x[std::size_t((b + i) * split.dim + k)];
      Kokkos::deep_copy(x, hx);
      model.energy(x, E);
      const auto h = host_copy(E);
      out.insert(out.end(), h.begin(), h.end());
    }
  return out;
}

//! Collective: the NLL of the examples of `points` (a split cut into `partitions`,
//! normally a data set's held-out split) under e^{−E}/Z with the grid's Z. The NLL
//! is in the coordinates the model sees (after data.standardize, if on).
template <class Model>
GridNll grid_nll(Model& model, const Grid2d& g, const data::Split& points, int partitions, const parallel::Comm& comm,
                 const GridOptions& opt = {}) {
  if (points.n < 1) throw Error("grid NLL: the split has no examples (is there a held-out split?)");
  GridLogZ z = grid_log_z(model, g, comm, opt);
  const data::SplitMean e = data::split_mean(points, partitions, split_energies(model, points, opt.batch_points), comm);
  GridNll r;
  r.log_z = z.log_z;
  r.nll = e.mean + z.log_z;
  r.nll_stderr = e.se;
  r.examples = e.n;
  r.energy = std::move(z.energy);
  return r;
}

//! A host function E(x, y) as a model for grid_log_z and grid_nll, e.g. the exact
//! −ln p of a synthetic data set.
template <class F>
class HostEnergy {
 public:
  using space = Kokkos::DefaultHostExecutionSpace;
  explicit HostEnergy(F f) : f_(std::move(f)) {}
  int dim() const { return 2; }
  void energy(const Matrix<space>& x, const Vector<space>& E) const {
    for (std::size_t c = 0; c < x.extent(0); ++c) E(c) = Real(f_(double(x(c, 0)), double(x(c, 1))));
  }

 private:
  F f_;
};

template <class F>
HostEnergy<F> host_energy(F f) {
  return HostEnergy<F>(std::move(f));
}

}  // namespace zeta::estimators
