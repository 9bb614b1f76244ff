//! The noise-conditional energy E(x, σ) of noise-conditional DSM (train.ncsn_energy =
//! conditional; models/noise_conditional_mlp.hpp, training/mlp_ncsn.hpp): ∇x E of the
//! model against finite differences of its energy; the objective's gradient against
//! central differences of its loss written from the definition σ² ½‖s(x̃, σ) + z/σ‖² with
//! s = −∇x E(x̃, σ)/σ and E the MLP on [x̃, ln σ]; the same bits on 1, 2 and 4 ranks;
//! restart bit for bit; input errors that name the key. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/models/noise_conditional_mlp.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/mlp_ncsn.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
constexpr bool kDouble = sizeof(Real) == 8;

using test::dataset;
using test::run_train;
using test::train_error;

const std::string kRing = R"(
[run]
seed = 7
steps = 30
[model]
type = mlp
layers = 3,16,16,1
activation = silu
init_seed = 3
[data]
type = synthetic
shape = ring8
radius = 2
noise = 0.25
examples = 512
heldout_examples = 128
partitions = 4
[train]
objective = ncsn
ncsn_energy = conditional
sigma = 1, 0.1
sigma_levels = 4
batch = 32
eval_every = 10
grid_points = 32
optimizer = adam
lr = 0.003
eval_samples = 40
[sampler]
step_size = 0.0005
steps_per_level = 20
)";

// ∇x E(x, σ) of the view against central differences of its energy in x, at two levels;
// and its energy is the Mlp's on [x, ln σ].
TEST(NoiseConditionalMlp, GradientMatchesFiniteDifferencesOfItsEnergy) {
  models::Mlp<Space> mlp(models::Mlp<Space>::random_params({3, 7, 5, 1}, 9), models::Activation::silu);
  models::NoiseConditionalMlp<Space> m(mlp, 0.3);
  ASSERT_EQ(m.dim(), 2);
  const int B = 5;
  Matrix<Space> x("x", B, 2), g("g", B, 2), xa("xa", B, 3);
  Vector<Space> E("E", B), Ea("Ea", B);
  auto hx = Kokkos::create_mirror_view(x);
  for (int n = 0; n < B; ++n)
    for (int i = 0; i < 2; ++i) hx(n, i) = Real(0.7 * std::sin(1.3 * n + 2.1 * i) + 0.2 * i);
  Kokkos::deep_copy(x, hx);
  for (double sigma : {0.3, 1.7}) {
    m.set_sigma(sigma);
    m.energy_and_grad(x, E, g);
    const auto e = host_copy(E), gx = host_copy(g);
    auto ha = Kokkos::create_mirror_view(xa);
    for (int n = 0; n < B; ++n) {
      for (int i = 0; i < 2; ++i) ha(n, i) = hx(n, i);
      ha(n, 2) = Real(std::log(sigma));
    }
    Kokkos::deep_copy(xa, ha);
    mlp.energy(xa, Ea);
    const auto ea = host_copy(Ea);
    const double h = kDouble ? 1e-5 : 1e-2;
    for (int n = 0; n < B; ++n) {
      EXPECT_EQ(e[std::size_t(n)], ea[std::size_t(n)]) << "row " << n;
      for (int i = 0; i < 2; ++i) {
        auto at = [&](double dx) {
          Matrix<Space> xp("xp", B, 2);
          auto hp = Kokkos::create_mirror_view(xp);
          for (int r = 0; r < B; ++r)
            for (int j = 0; j < 2; ++j) hp(r, j) = hx(r, j);
          hp(n, i) = Real(double(hx(n, i)) + dx);
          Kokkos::deep_copy(xp, hp);
          Vector<Space> Ep("Ep", B);
          m.energy(xp, Ep);
          return host_copy(Ep)[std::size_t(n)];
        };
        const double fd = (at(h) - at(-h)) / (2 * h);
        EXPECT_NEAR(gx[std::size_t(n) * 2 + i], fd, (kDouble ? 1e-7 : 2e-2) * std::max(1.0, std::fabs(fd)))
            << "row " << n << " axis " << i << " sigma " << sigma;
      }
    }
  }
}

// The objective's gradient of step s against fourth-order central differences of
// L(θ) = (1/B) Σ_n σ_n² ½ ‖s(x̃_n, σ_n) + z_n/σ_n‖², s(x, σ) = −∇x E(x, σ)/σ, E the MLP on
// [x, ln σ], the rows, σ_n and z_n drawn as training/dsm.hpp documents.
TEST(NcsnConditional, GradientMatchesFiniteDifferencesOfItsLoss) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_train_app_keys(cfg);
  cfg.parse_text(kRing, {"--data.partitions=2", "--train.batch=8", "--model.layers=3,6,5,1"});
  const training::TrainSetup setup = training::read_train_setup(cfg, self);
  const training::TrainSpec& ts = setup.train;
  ASSERT_TRUE(ts.sigma_input);
  const data::Dataset d = data::load(setup.data, ts.seed, self);
  models::Mlp<Space> mlp(models::Mlp<Space>::random_params({3, 6, 5, 1}, 4), models::Activation::silu);
  training::MlpNcsn obj(ts, setup.data, d, mlp, self);
  training::GradientSum<Space> g(self, obj.n_params(), true);
  const data::BatchPlan plan(d.train, d.partitions, ts.batch, ts.seed);
  const std::int64_t K = std::int64_t(ts.sigma.size());
  for (std::int64_t s : {0, 3}) {
    std::vector<double> xt, z, sig;
    std::vector<std::int64_t> ids;
    for (const auto& part : d.train.local) {
      plan.rows(s, part, ids);
      for (std::int64_t r : ids) {
        const std::uint64_t id = std::uint64_t(part.begin + r);
        const rng::Stream st(ts.seed, id, std::uint64_t(s), rng::kDsmNoise);
        const double sigma =
            ts.sigma[std::size_t(std::min<std::int64_t>(K - 1, std::int64_t(st.uniform(0x80000000u) * K)))];
        std::vector<double> zr(2);
        rng::host_normals(ts.seed, id, std::uint64_t(s), rng::kDsmNoise, 2, [&](int i, Real v) { zr[i] = v; });
        for (int i = 0; i < 2; ++i) {
          xt.push_back(double(part.x[std::size_t(r) * 2 + i]) + sigma * zr[i]);
          z.push_back(zr[i]);
        }
        sig.push_back(sigma);
      }
    }
    const int B = int(sig.size());
    ASSERT_EQ(B, ts.batch);
    // [x̃, ln σ] rows: the MLP's ∇ in its first two columns is ∇x E(x̃, σ).
    Matrix<Space> x("x", B, 3), gx("gx", B, 3);
    Vector<Space> E("E", B);
    auto hx = Kokkos::create_mirror_view(x);
    for (int n = 0; n < B; ++n) {
      for (int i = 0; i < 2; ++i) hx(n, i) = Real(xt[std::size_t(n) * 2 + i]);
      hx(n, 2) = Real(std::log(sig[std::size_t(n)]));
    }
    Kokkos::deep_copy(x, hx);
    const auto loss = [&] {
      mlp.energy_and_grad(x, E, gx);
      const auto h = host_copy(gx);
      double L = 0;
      for (int n = 0; n < B; ++n) {
        double sq = 0;
        for (int i = 0; i < 2; ++i) {
          const double score = -h[std::size_t(n) * 3 + i] / sig[n];
          const double r = score + z[std::size_t(n) * 2 + i] / sig[n];
          sq += r * r;
        }
        L += sig[n] * sig[n] * 0.5 * sq;
      }
      return L / B;
    };
    obj.gradient(s, g);
    const auto got = host_copy(g.g());
    const auto [worst, scale] = test::fd_relative_error(mlp, loss, got, kDouble ? 1e-4 : 1e-2);
    std::printf("[ fd       ] conditional ncsn step %lld: loss %.6g, |grad| max %.3g, max relative error %.3g\n",
                static_cast<long long>(s), loss(), scale, worst);
    EXPECT_LT(worst, kDouble ? 1e-6 : 2e-2) << "step " << s;
    EXPECT_GT(scale, 1e-3);
    // The W_0 column of the ln σ input gets a gradient (the level reaches the network).
    double col = 0;
    for (int o = 0; o < 6; ++o) col = std::max(col, std::fabs(got[std::size_t(o) * 3 + 2]));
    EXPECT_GT(col, 1e-3 * scale);
    ASSERT_EQ(obj.record(s, 0.0), nullptr);
    EXPECT_NEAR(obj.monitor_table().columns[1]->back(), loss(), (kDouble ? 1e-12 : 1e-5) * loss());
  }
}

// Bitwise-identical parameters, eval samples and NLL on every rank count.
TEST(NcsnConditional, SameBitsOnEveryRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string many = "ncsn_cond_world.h5", one = "ncsn_cond_self.h5";
  const auto rw = run_train(kRing, {"--output.file=" + many}, world);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const auto rs = run_train(kRing, {"--output.file=" + one}, self);
    EXPECT_TRUE(rw.params == rs.params) << world.size() << " ranks and 1";
    for (const char* ds : {"/eval/samples", "/eval/energy_model", "/eval/energy_data", "/train/dsm_loss",
                           "/train/heldout_nll", "/landscape/energy"}) {
      const auto a = dataset(many, ds), b = dataset(one, ds);
      EXPECT_FALSE(a.empty()) << ds;
      EXPECT_TRUE(a == b) << ds << " differs between " << world.size() << " ranks and 1";
    }
    EXPECT_EQ(dataset(many, "/eval/samples").size(), 40u * 2u);  // train.eval_samples
    EXPECT_NE(rw.json.str().find("\"ncsn_energy\": \"conditional\""), std::string::npos) << rw.json.str();
    for (const std::string& f : {many, one}) {
      std::remove(f.c_str());
      std::remove(io::landscape_xmf_path(f).c_str());
    }
  }
  world.barrier();
}

TEST(NcsnConditional, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  const auto run = [](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(kRing, o, c); };
  test::expect_restart_bit_for_bit(run, "ncsn_cond", 30, 13, {"/train/dsm_loss", "/train/heldout_nll"}, world);
  if (world.root())
    for (const char* f : {"ncsn_cond_straight.ckpt", "ncsn_cond_half.ckpt", "ncsn_cond_half.ckpt.copy"}) std::remove(f);
  world.barrier();
}

TEST(NcsnConditional, BadInputNamesTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--model.layers=2,16,1"}, "model.layers"},  // no ln σ input
      {{"--train.ncsn_energy=tempered"}, "train.ncsn_energy"},
      {{"--train.objective=dsm", "--train.sigma_levels=0", "--train.sigma=0.5"}, "train.ncsn_energy"},
      {{"--train.eval_samples=42"}, "train.eval_samples"},  // not a multiple of 4 partitions
      {{"--train.eval_samples=-4"}, "train.eval_samples"},
  };
  for (const auto& [o, key] : cases) {
    const std::string e = train_error(kRing, o, world);
    EXPECT_NE(e.find(key), std::string::npos) << o.front() << ": " << e;
  }
}

}  // namespace
}  // namespace zeta
