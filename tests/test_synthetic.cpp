//! Synthetic 2-D data sets and grid normalisation at 1, 2 and 4 ranks: the
//! points are the documented function of (seed, split, index) whatever the rank
//! count, their sample moments match the distributions they claim, the exact
//! log densities are normalised and agree with the Gmm energy, the grid's ln Z
//! matches closed forms (and, on a coarse grid, the lattice sum the midpoint
//! rule must give), the grid NLL of the true energy is the true NLL, every
//! result has the bits of a one-rank run, and bad settings name their key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <type_traits>

#include "zeta/core/error.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/data/synthetic.hpp"
#include "zeta/estimators/grid.hpp"
#include "zeta/models/gaussian.hpp"
#include "zeta/models/gmm.hpp"
#include "zeta/models/mlp.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
constexpr bool kFloat = std::is_same_v<Real, float>;
constexpr double kPi = 3.14159265358979323846;
constexpr std::uint32_t kSeed = 7;

const parallel::Comm& world() {
  static const parallel::Comm c(MPI_COMM_WORLD);
  return c;
}
const parallel::Comm& self() {
  static const parallel::Comm c(MPI_COMM_SELF);
  return c;
}

//! The spec of data.type = synthetic with these overrides.
data::DataSpec synthetic(const std::vector<std::string>& overrides) {
  Config cfg;
  data::declare_data_keys(cfg);
  std::vector<std::string> all = {"--data.type=synthetic"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  cfg.parse_text("", all);
  return data::read_data_spec(cfg);
}

data::Dataset load(const data::DataSpec& spec, const parallel::Comm& comm = world()) {
  return data::load(spec, kSeed, comm);
}

//! This rank's rows of a split, partition after partition.
std::vector<double> rows(const data::Split& s) {
  std::vector<double> out;
  for (const auto& p : s.local) out.insert(out.end(), p.x.begin(), p.x.end());
  return out;
}

//! Every rank's rows of a split in global order, on rank 0.
std::vector<double> gather(const data::Split& s) {
  return world().gather_to_root(rows(s));
}

#define EXPECT_MENTIONS(text, part) \
  EXPECT_NE((text).find(part), std::string::npos) << "'" << (text) << "' lacks " << (part)

//! The message of read_data_spec's error.
std::string spec_error(const std::vector<std::string>& overrides) {
  try {
    synthetic(overrides);
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective());
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

//! The message of load's error, which every rank must raise alike.
std::string load_error(const std::vector<std::string>& overrides) {
  std::string msg;
  try {
    load(synthetic(overrides));
    ADD_FAILURE() << "rank " << world().rank() << " did not fail";
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective());
    msg = e.what();
  }
  std::string root_msg = msg;
  world().broadcast(root_msg);
  EXPECT_EQ(msg, root_msg) << "rank " << world().rank() << " raised a different error";
  return msg;
}

//! A sample mean of f over the rows and its standard error.
struct Moment {
  double mean = 0, se = 0;
};
Moment moment(const std::vector<double>& xy, const std::function<double(double, double)>& f) {
  const std::size_t n = xy.size() / 2;
  double m = 0, ss = 0;
  for (std::size_t i = 0; i < n; ++i) m += f(xy[2 * i], xy[2 * i + 1]);
  m /= double(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double d = f(xy[2 * i], xy[2 * i + 1]) - m;
    ss += d * d;
  }
  return {m, std::sqrt(ss / double(n - 1) / double(n))};
}

//! |sample − exact| within k standard errors (k = 4: the fixed seed makes this a
//! deterministic check that a wrong parameterisation fails by many σ).
#define EXPECT_MOMENT(m, exact) \
  EXPECT_LE(std::fabs((m).mean - (exact)), 4 * (m).se) << #m ": " << (m).mean << " ± " << (m).se << " vs " << (exact)

//! |count − n p| within 4 binomial standard deviations.
#define EXPECT_COUNT(count, n, p) \
  EXPECT_LE(std::fabs(double(count) - (n) * (p)), 4 * std::sqrt((n) * (p) * (1 - (p)))) << #count << " = " << (count)

//! The ring of eight Gaussians as a normalised Gmm: E = −ln p.
models::Gmm<Space> ring8_gmm(double r, double s) {
  std::vector<std::vector<double>> mu, var;
  for (int k = 0; k < 8; ++k) {
    mu.push_back({r * std::cos(kPi / 4 * k), r * std::sin(kPi / 4 * k)});
    var.push_back({s * s, s * s});
  }
  return models::make_gmm<Space>(std::vector<double>(8, 1.0), mu, var);
}

const std::vector<std::string> kShapes = {"ring8", "moons", "checkerboard", "rings"};

TEST(Synthetic, RowsAreTheirIndexsPointOnAnyRankCount) {
  for (const auto& shape : kShapes) {
    const auto spec = synthetic({"--data.shape=" + shape, "--data.examples=999", "--data.heldout_examples=201"});
    const auto dw = load(spec), ds = load(spec, self());
    EXPECT_EQ(dw.dim, 2);
    EXPECT_EQ(dw.partitions, 4);
    EXPECT_EQ(dw.train.n, 999);
    EXPECT_EQ(dw.heldout.n, 201);
    const parallel::ChainRange mine = data::partitions_of(world().rank(), world().size(), 4);
    ASSERT_EQ(std::int64_t(dw.train.local.size()), mine.count);
    for (std::int64_t q = 0; q < mine.count; ++q) {
      const parallel::ChainRange r = parallel::block_range(999, 4, mine.offset + q);
      EXPECT_EQ(dw.train.local[q].begin, r.offset);
      EXPECT_EQ(std::int64_t(dw.train.local[q].x.size()), 2 * r.count);
    }
    const auto tr = gather(dw.train), ho = gather(dw.heldout);
    if (!world().root()) continue;
    EXPECT_EQ(tr, rows(ds.train)) << shape;  // bit for bit the one-rank rows
    EXPECT_EQ(ho, rows(ds.heldout)) << shape;
    ASSERT_EQ(tr.size(), 2u * 999u);
    ASSERT_EQ(ho.size(), 2u * 201u);
    for (int split = 0; split < 2; ++split) {
      const auto& got = split == 0 ? tr : ho;
      for (std::size_t i = 0; i < got.size() / 2; ++i) {
        double xy[2];
        data::synthetic_point(spec.synthetic, kSeed, split, std::int64_t(i), xy);
        ASSERT_EQ(got[2 * i], double(Real(xy[0]))) << shape << " split " << split << " row " << i;
        ASSERT_EQ(got[2 * i + 1], double(Real(xy[1]))) << shape << " split " << split << " row " << i;
      }
    }
    EXPECT_NE(tr[0], ho[0]) << "the held-out points must not repeat the training points";
    std::vector<double> other(2);
    data::synthetic_point(spec.synthetic, kSeed + 1, 0, 0, other.data());
    EXPECT_NE(other[0], tr[0]) << "the seed must change the points";
  }
}

TEST(Synthetic, LimitTakesTheFirstExamplesOfEachSplit) {
  const auto full = load(synthetic({"--data.examples=500", "--data.heldout_examples=300"}));
  const auto cut = load(synthetic({"--data.examples=500", "--data.heldout_examples=300", "--data.limit=120"}));
  EXPECT_EQ(cut.train.n, 120);
  EXPECT_EQ(cut.heldout.n, 120);
  const auto a = gather(full.train), b = gather(cut.train), c = gather(full.heldout), d = gather(cut.heldout);
  if (world().root()) {
    EXPECT_EQ(b, std::vector<double>(a.begin(), a.begin() + 240));
    EXPECT_EQ(d, std::vector<double>(c.begin(), c.begin() + 240));
  }
  const auto none = load(synthetic({"--data.heldout_examples=0"}));
  EXPECT_EQ(none.heldout.n, 0);
  EXPECT_EQ(none.heldout.local_count(), 0);
}

TEST(Synthetic, StandardizeAndBatchesAsForFiles) {
  const auto spec = synthetic({"--data.shape=moons", "--data.standardize=true"});
  const auto dw = load(spec), ds = load(spec, self());
  ASSERT_EQ(dw.mean.size(), 2u);
  EXPECT_EQ(dw.mean, ds.mean);
  EXPECT_EQ(dw.scale, ds.scale);
  const auto tr = gather(dw.train), ho = gather(dw.heldout);
  if (world().root()) {
    EXPECT_EQ(tr, rows(ds.train));
    EXPECT_EQ(ho, rows(ds.heldout));
    for (int k = 0; k < 2; ++k) {
      const auto m = moment(tr, [k](double x, double y) { return k == 0 ? x : y; });
      const auto v = moment(tr, [k](double x, double y) { return (k == 0 ? x : y) * (k == 0 ? x : y); });
      EXPECT_NEAR(m.mean, 0, kFloat ? 1e-6 : 1e-12);
      EXPECT_NEAR(v.mean, 1, kFloat ? 1e-5 : 1e-12);
    }
  }
  // The global mini-batches do not depend on the rank count.
  const data::BatchPlan pw(dw.train, 4, 64, 11), ps(ds.train, 4, 64, 11);
  std::vector<Real> bw(std::size_t(pw.per_partition()) * dw.train.local.size() * 2), bs(64 * 2);
  for (std::int64_t step : {0, 1, 156, 157, 400}) {
    pw.copy_batch(step, dw.train, bw.data());
    ps.copy_batch(step, ds.train, bs.data());
    const auto all = world().gather_to_root(std::vector<double>(bw.begin(), bw.end()));
    if (world().root()) {
      EXPECT_EQ(all, std::vector<double>(bs.begin(), bs.end())) << "step " << step;
    }
  }
}

TEST(Synthetic, Ring8MomentsMatchTheMixture) {
  for (const auto& [r, s] : {std::pair<double, double>{2, 0.1}, {1.5, 0.25}}) {
    const auto spec =
        synthetic({"--data.radius=" + std::to_string(r), "--data.noise=" + std::to_string(s), "--data.examples=20000"});
    const auto xy = gather(load(spec).train);
    if (!world().root()) continue;
    const double r2 = r * r, s2 = s * s, n = 20000;
    EXPECT_MOMENT(moment(xy, [](double x, double) { return x; }), 0);
    EXPECT_MOMENT(moment(xy, [](double, double y) { return y; }), 0);
    EXPECT_MOMENT(moment(xy, [](double x, double) { return x * x; }), r2 / 2 + s2);
    EXPECT_MOMENT(moment(xy, [](double, double y) { return y * y; }), r2 / 2 + s2);
    EXPECT_MOMENT(moment(xy, [](double x, double y) { return x * y; }), 0);
    // Fourth moments tell eight modes from four: mean cos⁴ over 8 angles is 3/8, over 4 it is 1/2.
    EXPECT_MOMENT(moment(xy, [](double x, double) { return x * x * x * x; }),
                  3 * r2 * r2 / 8 + 3 * r2 * s2 + 3 * s2 * s2);
    EXPECT_MOMENT(moment(xy, [](double x, double y) { return x * x * y * y; }), r2 * r2 / 8 + r2 * s2 + s2 * s2);
    // Equal weights, and each Gaussian's spread: E|x − μ_k|² = 2σ² about the nearest centre.
    std::vector<double> count(8, 0.0), d2(xy.size() / 2);
    for (std::size_t i = 0; i < d2.size(); ++i) {
      const double phi = std::atan2(xy[2 * i + 1], xy[2 * i]);
      const int k = (int(std::lround(phi / (kPi / 4))) + 8) % 8;
      count[k] += 1;
      const double dx = xy[2 * i] - r * std::cos(kPi / 4 * k), dy = xy[2 * i + 1] - r * std::sin(kPi / 4 * k);
      d2[i] = dx * dx + dy * dy;
    }
    for (int k = 0; k < 8; ++k) EXPECT_COUNT(count[k], n, 1.0 / 8);
    double m = 0, ss = 0;
    for (double v : d2) m += v;
    m /= n;
    for (double v : d2) ss += (v - m) * (v - m);
    EXPECT_MOMENT((Moment{m, std::sqrt(ss / (n - 1) / n)}), 2 * s2);
  }
}

TEST(Synthetic, OtherShapesFollowTheirParameterisation) {
  const double r = 2, s = 0.1, n = 10000;
  // moons: centred; E(cos t − ½)² = 3/4 and E(sin t − ¼)² = 9/16 − 1/π for t ~ U(0, π).
  auto xy = gather(load(synthetic({"--data.shape=moons"})).train);
  if (world().root()) {
    EXPECT_MOMENT(moment(xy, [](double x, double) { return x; }), 0);
    EXPECT_MOMENT(moment(xy, [](double, double y) { return y; }), 0);
    EXPECT_MOMENT(moment(xy, [](double x, double) { return x * x; }), r * r * 0.75 + s * s);
    EXPECT_MOMENT(moment(xy, [](double, double y) { return y * y; }), r * r * (9.0 / 16 - 1 / kPi) + s * s);
  }
  // rings: four equally likely radii r/4 … r, uniform angle.
  xy = gather(load(synthetic({"--data.shape=rings"})).train);
  if (world().root()) {
    std::vector<double> count(4, 0.0);
    for (std::size_t i = 0; i < xy.size() / 2; ++i) {
      const double rho = std::hypot(xy[2 * i], xy[2 * i + 1]);  // the nearest ring (2.5σ apart at the defaults)
      ASSERT_LT(rho, r + 8 * s);
      const int k = std::clamp(int(std::lround(rho / (r / 4))) - 1, 0, 3);
      count[k] += 1;
    }
    for (int k = 0; k < 4; ++k) EXPECT_COUNT(count[k], n, 0.25);
    EXPECT_MOMENT(moment(xy, [](double x, double y) { return std::cos(std::atan2(y, x)); }), 0);
    EXPECT_MOMENT(moment(xy, [](double x, double y) { return std::sin(std::atan2(y, x)); }), 0);
  }
  // checkerboard: only the 8 squares with i + j even of the 4 × 4 board on [−r, r)², equally.
  xy = gather(load(synthetic({"--data.shape=checkerboard"})).train);
  if (world().root()) {
    std::vector<double> count(16, 0.0);
    for (std::size_t i = 0; i < xy.size() / 2; ++i) {
      const int a = int(std::floor(xy[2 * i] / (r / 2))) + 2, b = int(std::floor(xy[2 * i + 1] / (r / 2))) + 2;
      ASSERT_TRUE(a >= 0 && a < 4 && b >= 0 && b < 4) << xy[2 * i] << ", " << xy[2 * i + 1];
      count[b * 4 + a] += 1;
    }
    for (int b = 0; b < 4; ++b)
      for (int a = 0; a < 4; ++a) {
        if ((a + b) % 2 == 0)
          EXPECT_COUNT(count[b * 4 + a], n, 1.0 / 8);
        else
          EXPECT_EQ(count[b * 4 + a], 0) << "square " << a << ", " << b;
      }
  }
}

TEST(Synthetic, Ring8LogDensityIsTheGmmEnergy) {
  const auto spec = synthetic({"--data.radius=1.7", "--data.noise=0.3"});
  auto gmm = ring8_gmm(1.7, 0.3);
  const int n = 50;
  Matrix<Space> x("x", n, 2);
  Vector<Space> E("E", n);
  auto hx = Kokkos::create_mirror_view(x);
  for (int i = 0; i < n; ++i) hx(i, 0) = Real(-2.5 + 0.1 * i), hx(i, 1) = Real(1.9 - 0.07 * i);
  Kokkos::deep_copy(x, hx);
  gmm.energy(x, E);
  const auto e = host_copy(E);
  for (int i = 0; i < n; ++i) {
    const double lp = data::synthetic_log_density(spec.synthetic, double(hx(i, 0)), double(hx(i, 1)));
    EXPECT_NEAR(-lp, e[i], kFloat ? 1e-5 * (1 + std::fabs(lp)) : 1e-12 * (1 + std::fabs(lp))) << "point " << i;
  }
}

//! |Δ ln Z| allowed by the midpoint rule for N(μ, σ²) on n cells of [lo, hi]: the mass
//! outside the box plus the aliasing terms 2 Σ_m exp(−2π²m²σ²/h²).
double grid_error_bound(double lo, double hi, std::int64_t n, double mu, double sigma) {
  const double h = (hi - lo) / double(n);
  const double tail =
      0.5 * std::erfc((hi - mu) / (sigma * std::sqrt(2.0))) + 0.5 * std::erfc((mu - lo) / (sigma * std::sqrt(2.0)));
  const double q = std::exp(-2 * kPi * kPi * sigma * sigma / (h * h));
  return tail + 2 * q / (1 - q);
}

//! The midpoint sum of a 1-D Gaussian exp(−(x − μ)²/2σ²) over an infinite lattice of
//! spacing h through a (Poisson summation): √(2π)σ [1 + 2 Σ_m e^{−2π²m²σ²/h²} cos(2πm(a − μ)/h)].
double lattice_sum(double a, double h, double mu, double sigma) {
  double s = 1;
  for (int m = 1; m < 40; ++m)
    s += 2 * std::exp(-2 * kPi * kPi * m * m * sigma * sigma / (h * h)) * std::cos(2 * kPi * m * (a - mu) / h);
  return std::sqrt(2 * kPi) * sigma * s;
}

TEST(Grid, GaussianLogZMatchesTheClosedForm) {
  const std::vector<double> mu = {0.3, -0.2}, sigma = {0.7, 1.3};
  auto gauss = models::make_gaussian<Space>(2, mu, sigma);
  const double exact = std::log(2 * kPi * sigma[0] * sigma[1]);
  estimators::Grid2d g;
  g.x_lo = -9, g.x_hi = 9, g.y_lo = -10, g.y_hi = 10, g.nx = 96, g.ny = 90;
  const double bound = grid_error_bound(g.x_lo, g.x_hi, g.nx, mu[0], sigma[0]) +
                       grid_error_bound(g.y_lo, g.y_hi, g.ny, mu[1], sigma[1]) + (kFloat ? 2e-5 : 1e-12);
  EXPECT_LT(bound, kFloat ? 1e-4 : 1e-10);
  EXPECT_NEAR(estimators::grid_log_z(gauss, g, world()).log_z, exact, bound);

  // A normalised Gmm: ln Z = 0.
  auto gmm =
      models::make_gmm<Space>({1, 2, 0.5}, {{-1, 0.5}, {1.2, -0.4}, {0, 2}}, {{0.3, 0.5}, {0.6, 0.2}, {0.4, 0.4}});
  estimators::Grid2d h;
  h.x_lo = -9, h.x_hi = 9, h.y_lo = -7, h.y_hi = 9, h.nx = h.ny = 200;  // every component ≥ 9σ inside
  EXPECT_NEAR(estimators::grid_log_z(gmm, h, world()).log_z, 0, kFloat ? 2e-5 : 1e-10);
}

TEST(Grid, CoarseGridIsTheMidpointLatticeSum) {
  // Cells of 3 × 2 against σ = 0.7 × 1.3: ln Z is off by 0.79, exactly as the
  // lattice of cell centres predicts; a grid of cell corners, or cells shifted by
  // half a cell, would be off by a different amount.
  const std::vector<double> mu = {0.3, -0.2}, sigma = {0.7, 1.3};
  auto gauss = models::make_gaussian<Space>(2, mu, sigma);
  estimators::Grid2d g;
  g.x_lo = -9, g.x_hi = 9, g.nx = 6, g.y_lo = -10, g.y_hi = 10, g.ny = 10;
  const double predicted =
      std::log(lattice_sum(g.x(0), g.dx(), mu[0], sigma[0])) + std::log(lattice_sum(g.y(0), g.dy(), mu[1], sigma[1]));
  const double exact = std::log(2 * kPi * sigma[0] * sigma[1]);
  const double got = estimators::grid_log_z(gauss, g, world()).log_z;
  EXPECT_NEAR(got, predicted, kFloat ? 1e-5 : 1e-12);
  EXPECT_GT(std::fabs(got - exact), 0.5);
  const double corners =
      std::log(lattice_sum(g.x_lo, g.dx(), mu[0], sigma[0])) + std::log(lattice_sum(g.y_lo, g.dy(), mu[1], sigma[1]));
  EXPECT_GT(std::fabs(got - corners), 0.1);
}

TEST(Grid, ExactDensitiesIntegrateToOne) {
  // ln Z of E = −ln p is 0: the formulas of synthetic_log_density are normalised.
  for (const auto& shape : {"ring8", "rings"}) {
    const auto spec = synthetic({std::string("--data.shape=") + shape, "--data.examples=2000"});
    const auto d = load(spec);
    auto e =
        estimators::host_energy([&](double x, double y) { return -data::synthetic_log_density(spec.synthetic, x, y); });
    const estimators::Grid2d g = estimators::grid_around(d, world(), 320);
    EXPECT_NEAR(estimators::grid_log_z(e, g, world()).log_z, 0, kFloat ? 2e-5 : 1e-9) << shape;
  }
  // checkerboard: a grid whose cell edges fall on the squares' edges is exact.
  const auto spec = synthetic({"--data.shape=checkerboard", "--data.radius=1.5"});
  auto e =
      estimators::host_energy([&](double x, double y) { return -data::synthetic_log_density(spec.synthetic, x, y); });
  estimators::Grid2d g;
  g.x_lo = g.y_lo = -2.25, g.x_hi = g.y_hi = 2.25, g.nx = g.ny = 48;  // squares of 0.75 = 8 cells
  EXPECT_NEAR(estimators::grid_log_z(e, g, world()).log_z, 0, kFloat ? 1e-6 : 1e-12);
  EXPECT_EQ(data::synthetic_log_density(spec.synthetic, 0.1, 0.1), -std::log(2 * 1.5 * 1.5));
  EXPECT_EQ(data::synthetic_log_density(spec.synthetic, 0.1, -0.1), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(data::synthetic_log_density(spec.synthetic, 1.6, 0.1), -std::numeric_limits<double>::infinity());
}

TEST(Grid, Ring8NllOfTheTrueEnergyIsTheTrueNll) {
  const auto spec = synthetic({});  // ring8, r = 2, σ = 0.1, 10000 + 2000 examples
  const auto d = load(spec);
  auto gmm = ring8_gmm(2, 0.1);
  const estimators::Grid2d g = estimators::grid_around(d, world(), 256);
  const estimators::GridNll r = estimators::grid_nll(gmm, g, d.heldout, d.partitions, world());
  const data::SplitMean truth = data::synthetic_nll(spec, d, world());
  EXPECT_EQ(r.examples, 2000);
  EXPECT_EQ(truth.n, 2000);
  EXPECT_NEAR(r.log_z, 0, kFloat ? 2e-5 : 1e-9);
  EXPECT_NEAR(r.nll, truth.mean, 1e-3);
  EXPECT_NEAR(r.nll, truth.mean, kFloat ? 5e-5 : 1e-9);  // in fact to rounding
  EXPECT_NEAR(r.nll_stderr, truth.se, 1e-4 * truth.se);
  // −ln(8 · 2πσ²) − 1 is the NLL at the centres' density with E|x − μ|² = 2σ²: held-out within a few se.
  EXPECT_NEAR(truth.mean, std::log(8 * 2 * kPi * 0.01) + 1, 5 * truth.se);
  // A model of the wrong width has a clearly larger NLL (KL = 0.64 nats for σ = 0.2).
  auto wide = ring8_gmm(2, 0.2);
  const estimators::GridNll w = estimators::grid_nll(wide, g, d.heldout, d.partitions, world());
  EXPECT_GT(w.nll - truth.mean, 10 * truth.se);

  // With data.standardize the exact NLL is that of the standardized points.
  const auto sspec = synthetic({"--data.standardize=true"});
  const auto sd = load(sspec);
  const data::SplitMean st = data::synthetic_nll(sspec, sd, world());
  const double log_jacobian = std::log(sd.scale[0]) + std::log(sd.scale[1]);
  EXPECT_NEAR(st.mean, truth.mean - log_jacobian, kFloat ? 1e-5 : 1e-10);
  EXPECT_NEAR(st.se, truth.se, kFloat ? 1e-5 : 1e-10);
}

TEST(Grid, SameBitsOnAnyRankCount) {
  const auto spec = synthetic({"--data.shape=rings"});
  const auto dw = load(spec), ds = load(spec, self());
  const estimators::Grid2d g = estimators::grid_around(dw, world(), 200);
  const estimators::Grid2d gs = estimators::grid_around(ds, self(), 200);
  EXPECT_EQ(g.x_lo, gs.x_lo);
  EXPECT_EQ(g.y_hi, gs.y_hi);
  auto gmm = ring8_gmm(2, 0.1);
  auto mlp = models::Mlp<Space>(models::Mlp<Space>::random_params({2, 24, 24, 1}, 5), models::Activation::softplus);
  for (std::int64_t batch : {std::int64_t(8192), std::int64_t(250), std::int64_t(1000)}) {
    estimators::GridOptions opt;
    opt.batch_points = batch;
    opt.keep_energy = true;
    const estimators::GridLogZ a = estimators::grid_log_z(gmm, g, world(), opt),
                               b = estimators::grid_log_z(gmm, g, self(), opt);
    EXPECT_EQ(a.log_z, b.log_z) << "batch " << batch;
    const estimators::GridNll na = estimators::grid_nll(mlp, g, dw.heldout, dw.partitions, world(), opt);
    const estimators::GridNll nb = estimators::grid_nll(mlp, g, ds.heldout, ds.partitions, self(), opt);
    EXPECT_EQ(na.log_z, nb.log_z) << "batch " << batch;
    EXPECT_EQ(na.nll, nb.nll) << "batch " << batch;
    EXPECT_EQ(na.nll_stderr, nb.nll_stderr) << "batch " << batch;
    EXPECT_TRUE(std::isfinite(na.nll));
    // Every rank holds the same numbers.
    const auto all = world().gather_to_root({a.log_z, na.log_z, na.nll, na.nll_stderr});
    if (world().root()) {
      ASSERT_EQ(b.energy.size(), std::size_t(200 * 200));
      EXPECT_EQ(a.energy, b.energy);
      for (int r = 1; r < world().size(); ++r)
        for (int k = 0; k < 4; ++k) EXPECT_EQ(all[4 * r + k], all[k]) << "rank " << r;
    } else {
      EXPECT_TRUE(a.energy.empty());
    }
  }
  // keep_energy holds E at the cell centres, row j = y(j).
  estimators::GridOptions opt;
  opt.keep_energy = true;
  const estimators::GridLogZ a = estimators::grid_log_z(gmm, g, world(), opt);
  if (world().root()) {
    const data::SyntheticSpec ring8 = synthetic({}).synthetic;
    for (std::int64_t j : {0, 77, 199})
      for (std::int64_t i : {0, 120, 199})
        EXPECT_NEAR(a.energy[std::size_t(j * 200 + i)], -data::synthetic_log_density(ring8, g.x(i), g.y(j)),
                    kFloat ? 1e-3 : 1e-9);
  }
}

TEST(SyntheticErrors, BadSettingsNameTheKey) {
  EXPECT_NO_THROW(synthetic({}));  // data.path is not required
  EXPECT_MENTIONS(spec_error({"--data.shape=spiral"}), "data.shape");
  EXPECT_MENTIONS(spec_error({"--data.examples=0"}), "data.examples");
  EXPECT_MENTIONS(spec_error({"--data.examples=-3"}), "data.examples");
  EXPECT_MENTIONS(spec_error({"--data.heldout_examples=-1"}), "data.heldout_examples");
  EXPECT_MENTIONS(spec_error({"--data.noise=0"}), "data.noise");
  EXPECT_MENTIONS(spec_error({"--data.noise=-0.1"}), "data.noise");
  EXPECT_MENTIONS(spec_error({"--data.radius=0"}), "data.radius");
  EXPECT_MENTIONS(spec_error({"--data.path=train.csv"}), "data.path");
  EXPECT_MENTIONS(spec_error({"--data.heldout_path=test.csv"}), "data.heldout_path");
  EXPECT_MENTIONS(spec_error({"--data.holdout=0.2"}), "data.holdout");
  EXPECT_MENTIONS(spec_error({"--data.holdout=0.2"}), "data.heldout_examples");
  EXPECT_MENTIONS(spec_error({"--data.binarize=threshold"}), "data.binarize");
  EXPECT_MENTIONS(load_error({"--data.examples=3"}), "data.examples");
  EXPECT_MENTIONS(load_error({"--data.heldout_examples=2"}), "data.heldout_examples");
  EXPECT_MENTIONS(load_error({"--data.limit=3"}), "data.limit");
  if (world().size() > 1) {
    EXPECT_MENTIONS(load_error({"--data.partitions=1"}), "data.partitions");
  }

  // The exact NLL where there is none.
  const auto moons = synthetic({"--data.shape=moons"});
  const auto dm = load(moons);
  try {
    data::synthetic_nll(moons, dm, world());
    ADD_FAILURE() << "moons has no exact NLL";
  } catch (const Error& e) {
    EXPECT_MENTIONS(std::string(e.what()), "data.shape");
  }
  EXPECT_THROW(data::synthetic_log_density(moons.synthetic, 0, 0), Error);
  const auto none = synthetic({"--data.heldout_examples=0"});
  try {
    data::synthetic_nll(none, load(none), world());
    ADD_FAILURE() << "no held-out split";
  } catch (const Error& e) {
    EXPECT_MENTIONS(std::string(e.what()), "data.heldout_examples");
  }
}

TEST(SyntheticErrors, GridRefusesWhatItCannotNormalise) {
  auto gauss3 = models::make_gaussian<Space>(3, {0.0}, {1.0});
  EXPECT_THROW(estimators::grid_log_z(gauss3, estimators::Grid2d{}, world()), Error);
  auto gauss = models::make_gaussian<Space>(2, {0.0}, {1.0});
  estimators::Grid2d g;
  g.x_hi = g.x_lo;
  EXPECT_THROW(estimators::grid_log_z(gauss, g, world()), Error);
  g = estimators::Grid2d{};
  g.ny = 0;
  EXPECT_THROW(estimators::grid_log_z(gauss, g, world()), Error);
  // A NaN energy on one rank's rows is the same error on every rank.
  g = estimators::Grid2d{};
  g.nx = g.ny = 16;
  auto nan_corner =
      estimators::host_energy([](double x, double y) { return x > 2.5 && y > 2.5 ? std::nan("") : x * x + y * y; });
  std::string msg;
  try {
    estimators::grid_log_z(nan_corner, g, world(), estimators::GridOptions{16, false});
  } catch (const Error& e) {
    msg = e.what();
  }
  std::string root_msg = msg;
  world().broadcast(root_msg);
  EXPECT_EQ(msg, root_msg);
  EXPECT_MENTIONS(msg, "nan");
}

}  // namespace
}  // namespace zeta
