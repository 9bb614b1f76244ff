//! Noise-conditional DSM (train.objective = ncsn, training/mlp_ncsn.hpp) and annealed
//! Langevin dynamics (sampler.type = annealed_langevin, samplers/annealed_langevin.hpp):
//! the objective's gradient against central differences of its loss written from the
//! definition σ² ½‖s(x̃, σ) + z/σ‖² with s = −∇E/σ; the trained energy of a correlated
//! Gaussian data set gives back its covariance; the sampler's last level has the
//! moments of its Langevin chain on a Gaussian; the same bits on 1, 2 and 4 ranks; and
//! input errors that name the key. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/mlp_ncsn.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;

using test::dataset;
using test::error_of;
using test::run_train;

samplers::SampleResult run_sample(const std::string& ini, std::vector<std::string> overrides,
                                  const parallel::Comm& comm) {
  Config cfg;
  apps::declare_sample_keys(cfg);
  overrides.push_back("--run.progress_every=1000");
  cfg.parse_text(ini, overrides);
  return apps::sample(cfg, comm);
}

// ---------------------------------------------------------------- the sampler

// A 2-D Gaussian E = x²/(2·1²) + y²/(2·0.5²) and a 3-level ladder 1, 0.5, 0.25: level i
// targets e^{−E/σ_i}, the last N(0, σ_L s_k²) per axis. 300 annealing moves, then 400 at
// the last level before the averages (the slowest axis contracts by 1 − ε/(2v) = 0.92
// per move: 0.92^400 ≈ 1e-14 of the start is left).
const std::string kAnnealed = R"(
[run]
seed = 5
steps = 2700
burn_in = 700
save_every = 500
[model]
type = gaussian
dim = 2
sigma = 1, 0.5
[sampler]
type = annealed_langevin
chains = 37
step_size = 0.02
sigma = 1, 0.25
sigma_levels = 3
steps_per_level = 100
)";

// ULA on N(0, v) with step ε: x' = (1 − ε/(2v)) x + √ε z is a Gaussian AR(1) chain whose
// stationary variance is v / (1 − ε/(4v)) exactly; ⟨E⟩ = Σ_k var_k / (2 s_k²).
TEST(AnnealedLangevin, LastLevelHasTheUlaMomentsOfTheGaussian) {
  parallel::Comm world(MPI_COMM_WORLD);
  const auto r = run_sample(kAnnealed, {"--output.file="}, world);
  const double eps = 0.02, sigma_last = 0.25;
  double want = 0;
  for (double s : {1.0, 0.5}) {
    const double v = sigma_last * s * s;
    want += v / (1 - eps / (4 * v)) / (2 * s * s);
  }
  EXPECT_NEAR(r.mean_energy, want, 4 * r.mean_energy_stderr)
      << "stderr " << r.mean_energy_stderr << " (exact target without the ULA bias: " << sigma_last << ")";
  EXPECT_LT(r.mean_energy_stderr, 0.01);
  EXPECT_EQ(r.acceptance, 1.0);
  // Not the target of another level: e^{−E/σ_{L−1}} has ⟨E⟩ near σ_{L−1} = 0.5.
  EXPECT_GT(std::fabs(r.mean_energy - 0.5), 20 * r.mean_energy_stderr);
}

// The same chains on any rank count (37 chains: unequal blocks on 2 and 4 ranks).
TEST(AnnealedLangevin, SameBitsOnEveryRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string many = "annealed_world.h5", one = "annealed_self.h5";
  const auto rw = run_sample(kAnnealed, {"--output.file=" + many, "--run.steps=1200"}, world);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const auto rs = run_sample(kAnnealed, {"--output.file=" + one, "--run.steps=1200"}, self);
    EXPECT_EQ(rw.mean_energy, rs.mean_energy);
    EXPECT_EQ(rw.mean_energy_stderr, rs.mean_energy_stderr);
    for (const char* ds : {"/samples/x", "/samples/energy"}) {
      const auto a = dataset(many, ds), b = dataset(one, ds);
      EXPECT_FALSE(a.empty()) << ds;
      EXPECT_TRUE(a == b) << ds << " differs between " << world.size() << " ranks and 1";
    }
    std::remove(many.c_str());
    std::remove(one.c_str());
  }
  world.barrier();
}

TEST(AnnealedLangevin, BadInputNamesTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const auto sample_error = [&](std::vector<std::string> o) {
    o.push_back("--output.file=");
    return error_of([&] { run_sample(kAnnealed, o, world); });
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--sampler.sigma="}, "sampler.sigma"},                                    // no ladder
      {{"--sampler.sigma_levels=0", "--sampler.sigma=0.25,1"}, "sampler.sigma"},  // increasing
      {{"--sampler.sigma=1,-0.5"}, "sampler.sigma"},
      {{"--sampler.sigma_levels=1"}, "sampler.sigma_levels"},
      {{"--sampler.sigma=1,0.5,0.25"}, "sampler.sigma"},  // three values with sigma_levels = 3: ends only
      {{"--sampler.steps_per_level=0"}, "sampler.steps_per_level"},
      {{"--sampler.type=mala"}, "sampler.sigma"},  // its keys with another sampler
  };
  for (const auto& [o, key] : cases) {
    const std::string e = sample_error(o);
    EXPECT_NE(e.find(key), std::string::npos) << o.front() << ": " << e;
  }
  // zeta temper sets the chains' temperatures itself.
  Config cfg;
  apps::declare_temper_app_keys(cfg);
  cfg.parse_text("[model]\ntype = gaussian\ndim = 1\n[sampler]\ntype = annealed_langevin\nsigma = 1, 0.5\n",
                 {"--output.file=", "--temper.betas=0.5,1"});
  const std::string e = error_of([&] { apps::temper(cfg, world); });
  EXPECT_NE(e.find("sampler.type"), std::string::npos) << e;
}

// ---------------------------------------------------------------- the objective

const std::string kRing = test::ring8_ncsn("2,16,16,1");

// The objective's gradient of step s against fourth-order central differences of
// L(θ) = (1/B) Σ_n σ_n² ½ ‖s(x̃_n, σ_n) + z_n/σ_n‖², s(x, σ) = −∇x E(x)/σ, with the
// batch rows, σ_n and z_n drawn here as the header documents (BatchPlan, Stream(seed,
// example, s, kDsmNoise), σ from block 2^31).
TEST(Ncsn, GradientMatchesFiniteDifferencesOfItsLoss) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_train_app_keys(cfg);
  cfg.parse_text(kRing, {"--data.partitions=2", "--train.batch=8", "--model.layers=2,6,5,1"});
  const training::TrainSetup setup = training::read_train_setup(cfg, self);
  const training::TrainSpec& ts = setup.train;
  const data::Dataset d = data::load(setup.data, ts.seed, self);
  models::Mlp<Space> mlp(models::Mlp<Space>::random_params({2, 6, 5, 1}, 4), models::Activation::silu);
  training::MlpNcsn obj(ts, setup.data, d, mlp, self);
  training::GradientSum<Space> g(self, obj.n_params(), true);
  for (std::int64_t s : {0, 3}) {
    const test::NoisyRows rows = test::ncsn_batch_rows(ts, d, s);
    const int B = int(rows.sigma.size());
    ASSERT_EQ(B, ts.batch);
    Matrix<Space> x("x", B, 2), gx("gx", B, 2);
    Vector<Space> E("E", B);
    auto hx = Kokkos::create_mirror_view(x);
    for (int n = 0; n < B; ++n)
      for (int i = 0; i < 2; ++i) hx(n, i) = Real(rows.xt[std::size_t(n) * 2 + i]);
    Kokkos::deep_copy(x, hx);
    const auto loss = [&] {
      mlp.energy_and_grad(x, E, gx);
      return test::ncsn_loss(host_copy(gx), 2, rows);
    };
    test::expect_gradient_of_loss(obj, g, mlp, loss, s, "ncsn");
  }
}

//! Rows of N(0, Σ), Σ = L Lᵀ with L = [[1, 0], [0.4, √0.44]] (Σ = [[1, 0.4], [0.4, 0.6]]),
//! from Stream(11, row, 0, kInit).
std::vector<double> gaussian_rows(int n) {
  std::vector<double> x(std::size_t(n) * 2);
  for (int r = 0; r < n; ++r) {
    double z[2];
    rng::host_normals(11, std::uint64_t(r), 0, rng::kInit, 2, [&](int i, Real v) { z[i] = double(v); });
    x[std::size_t(r) * 2] = z[0];
    x[std::size_t(r) * 2 + 1] = 0.4 * z[0] + std::sqrt(0.44) * z[1];
  }
  return x;
}

//! Σ_n (a_n − ā)(b_n − b̄)ᵀ of row-major n × 2 arrays.
std::array<double, 4> cross(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = a.size() / 2;
  double ma[2] = {0, 0}, mb[2] = {0, 0};
  for (std::size_t r = 0; r < n; ++r)
    for (int i = 0; i < 2; ++i) ma[i] += a[2 * r + i] / double(n), mb[i] += b[2 * r + i] / double(n);
  std::array<double, 4> c{0, 0, 0, 0};
  for (std::size_t r = 0; r < n; ++r)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) c[2 * i + j] += (a[2 * r + i] - ma[i]) * (b[2 * r + j] - mb[j]);
  return c;
}

std::array<double, 4> inverse(const std::array<double, 4>& m) {
  const double det = m[0] * m[3] - m[1] * m[2];
  return {m[3] / det, -m[1] / det, -m[2] / det, m[0] / det};
}

std::array<double, 4> times(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  return {a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]};
}

// Within quadratic energies E = ½ xᵀ A x, the ncsn loss Σ_k E ½‖A(x + σ_k z) − z‖² is least
// at A (K Σ + Σ_k σ_k² I) = (Σ_k σ_k) I, so the trained energy gives back the covariance as
//   Σ̂ = ((Σ_k σ_k) A⁻¹ − (Σ_k σ_k²) I) / K,
// A the symmetric part of the least-squares fit ∇E(x) ≈ A x + b over the data. The loss's
// minimiser over all energies is not quadratic, but on this ladder (σ ≤ 0.2 against
// eigenvalues 1.25 and 0.35 of Σ) its fit gives Σ̂ within 0.1% of Σ (numpy, 4e5
// points: 1.0008, 0.4001, 0.6007), so the tolerance is the training's error. Σ is the
// sample covariance of the 4096 training rows. Over seeds 1-6 (run.seed = init_seed) the
// largest error of an entry was 0.038, 0.008, 0.009, 0.033, 0.011, 0.004 (rms 0.022:
// Adam's last iterate; 0.025 at most with batch 1024, at three times the cost); the test
// allows 0.07, about 3 rms. A wrong weighting fails by far: plain DSM's c = −z/σ with
// weight σ² would learn A ≈ ⟨(Σ + σ²)⁻¹⟩ and give Σ̂ ≈ Σ/9.
TEST(Ncsn, TrainedEnergyGivesBackTheGaussianCovariance) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string csv = "ncsn_gaussian.csv";
  const int n = 4096;
  const std::vector<double> x = gaussian_rows(n);
  if (world.root()) {
    std::ofstream f(csv);
    char line[64];
    for (int r = 0; r < n; ++r) {
      std::snprintf(line, sizeof line, "%.17g,%.17g\n", x[2 * r], x[2 * r + 1]);
      f << line;
    }
  }
  world.barrier();
  const std::string ini = R"(
[run]
seed = 1
steps = 5000
[model]
type = mlp
layers = 2,32,32,1
activation = softplus
init_seed = 1
[data]
type = csv
path = ncsn_gaussian.csv
partitions = 4
[train]
objective = ncsn
sigma = 0.2, 0.05
sigma_levels = 3
batch = 256
eval_every = 0
optimizer = adam
lr = 0.01
lr_schedule = cosine
[sampler]
steps_per_level = 10
[output]
file =
)";
  const auto r = run_train(ini, {}, world);
  ASSERT_EQ(r.status, "ok");
  models::Mlp<Space> mlp(models::Mlp<Space>::random_params({2, 32, 32, 1}, 1), models::Activation::softplus);
  mlp.set_params(r.params);
  Matrix<Space> xd("x", n, 2), g("g", n, 2);
  Vector<Space> E("E", n);
  auto hx = Kokkos::create_mirror_view(xd);
  for (int q = 0; q < 2 * n; ++q) hx.data()[q] = Real(x[std::size_t(q)]);
  Kokkos::deep_copy(xd, hx);
  mlp.energy_and_grad(xd, E, g);
  const std::vector<double> gh = host_copy(g);
  const auto cxx = cross(x, x), cgx = cross(gh, x);
  auto A = times(cgx, inverse(cxx));
  A[1] = A[2] = 0.5 * (A[1] + A[2]);
  const std::array<double, 3> sig = {0.2, 0.1, 0.05};
  double s1 = 0, s2 = 0;
  for (double s : sig) s1 += s, s2 += s * s;
  const auto Ai = inverse(A);
  double worst = 0;
  for (int q = 0; q < 4; ++q) {
    const double sh = (s1 * Ai[q] - (q == 0 || q == 3 ? s2 : 0.0)) / 3.0;
    const double se = cxx[q] / double(n - 1);
    worst = std::max(worst, std::fabs(sh - se));
    if (world.root()) std::printf("[ ncsn     ] Sigma[%d]: data %.4f, from the energy %.4f\n", q, se, sh);
  }
  EXPECT_LT(worst, 0.07);
  if (world.root()) std::remove(csv.c_str());
}

// Bitwise-identical parameters and eval samples on every rank count.
TEST(Ncsn, SameBitsOnEveryRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  const auto run = [](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(kRing, o, c); };
  test::expect_same_bits_as_one_rank(
      run, "ncsn", {"/eval/samples", "/eval/energy_model", "/train/dsm_loss", "/train/heldout_nll"}, world,
      [](const apps::TrainResult& rw, const apps::TrainResult&, const std::string&) {
        EXPECT_NE(rw.json.str().find("\"objective\": \"ncsn\""), std::string::npos) << rw.json.str();
      });
}

// The resolved configuration (the echo, the output's config attribute), which lists every
// key at its value, runs as it is: zeta sample with the annealed keys at their defaults.
// (zeta train's resolved configuration does not rerun on main either: its checks of
// train.reduction, train.sigma, train.chains ask whether a key was given.)
TEST(AnnealedLangevin, ResolvedConfigurationOfAnotherSamplerRunsAsItIs) {
  parallel::Comm world(MPI_COMM_WORLD);
  Config cfg;
  apps::declare_sample_keys(cfg);
  cfg.parse_text(kAnnealed, {"--output.file=", "--run.steps=30", "--run.burn_in=10", "--sampler.type=mala",
                             "--sampler.sigma=", "--sampler.sigma_levels=0"});
  EXPECT_GT(run_sample(cfg.resolved_ini(), {}, world).acceptance, 0.0);
}

TEST(Ncsn, BadInputNamesTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--train.sigma_levels=0", "--train.sigma=0.5"}, "train.sigma"},  // one level
      {{"--train.sigma_levels=0", "--train.sigma=0.1,0.5"}, "train.sigma"},
      {{"--train.sigma_levels=1"}, "train.sigma_levels"},
      {{"--train.sigma=1,0"}, "train.sigma"},
      {{"--model.activation=leaky_relu"}, "model.activation"},
      {{"--sampler.type=mala"}, "sampler.type"},
      {{"--sampler.steps_per_level=0"}, "sampler.steps_per_level"},
      {{"--train.objective=dsm"}, "train.sigma_levels"},  // an ncsn key with dsm
  };
  for (const auto& [o, key] : cases) {
    const std::string e = test::train_error(kRing, o, world);
    EXPECT_NE(e.find(key), std::string::npos) << o.front() << ": " << e;
  }
  const std::string e = error_of([&] {
    run_train("[model]\ntype = rbm\nhidden = 2\n[data]\ntype = synthetic\n[train]\nobjective = ncsn\n",
              {"--output.file="}, world);
  });
  EXPECT_NE(e.find("train.objective"), std::string::npos) << e;
}

}  // namespace
}  // namespace zeta
