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

// The ncsn ring with the ln σ input: E(x, σ) is the MLP on [x, ln σ].
const std::string kRing = test::ring8_ncsn("3,16,16,1", "ncsn_energy = conditional\neval_samples = 40\n");

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
  for (std::int64_t s : {0, 3}) {
    const test::NoisyRows rows = test::ncsn_batch_rows(ts, d, s);
    const int B = int(rows.sigma.size());
    ASSERT_EQ(B, ts.batch);
    // [x̃, ln σ] rows: the MLP's ∇ in its first two columns is ∇x E(x̃, σ).
    Matrix<Space> x("x", B, 3), gx("gx", B, 3);
    Vector<Space> E("E", B);
    auto hx = Kokkos::create_mirror_view(x);
    for (int n = 0; n < B; ++n) {
      for (int i = 0; i < 2; ++i) hx(n, i) = Real(rows.xt[std::size_t(n) * 2 + i]);
      hx(n, 2) = Real(std::log(rows.sigma[std::size_t(n)]));
    }
    Kokkos::deep_copy(x, hx);
    const auto loss = [&] {
      mlp.energy_and_grad(x, E, gx);
      return test::ncsn_loss(host_copy(gx), 3, rows);
    };
    const auto [got, scale] = test::expect_gradient_of_loss(obj, g, mlp, loss, s, "conditional ncsn");
    // The W_0 column of the ln σ input gets a gradient (the level reaches the network).
    double col = 0;
    for (int o = 0; o < 6; ++o) col = std::max(col, std::fabs(got[std::size_t(o) * 3 + 2]));
    EXPECT_GT(col, 1e-3 * scale);
  }
}

// Bitwise-identical parameters, eval samples and NLL on every rank count.
TEST(NcsnConditional, SameBitsOnEveryRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  const auto run = [](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(kRing, o, c); };
  test::expect_same_bits_as_one_rank(
      run, "ncsn_cond",
      {"/eval/samples", "/eval/energy_model", "/eval/energy_data", "/train/dsm_loss", "/train/heldout_nll",
       "/landscape/energy"},
      world, [](const apps::TrainResult& rw, const apps::TrainResult&, const std::string& one) {
        EXPECT_EQ(dataset(one, "/eval/samples").size(), 40u * 2u);  // train.eval_samples
        EXPECT_NE(rw.json.str().find("\"ncsn_energy\": \"conditional\""), std::string::npos) << rw.json.str();
      });
}

TEST(NcsnConditional, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  const auto run = [](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(kRing, o, c); };
  test::expect_restart_bit_for_bit(run, "ncsn_cond", 30, 13, {"/train/dsm_loss", "/train/heldout_nll"}, world);
  test::remove_restart_files("ncsn_cond", world);
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
