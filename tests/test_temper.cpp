//! Parallel tempering: Ising kernels against direct computation, ⟨E⟩ and ⟨|M|⟩
//! per β against exact enumeration (L = 4), RBM joint energies per β against
//! enumeration, mode weights that plain sampling cannot recover, ladders and their
//! adaptation, and exact checkpoint restart (Ising and RBM).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "exact.hpp"
#include "rbm_fixture.hpp"
#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/ising.hpp"
#include "zeta/tempering/ladder.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;

apps::TemperResult run_temper(const std::string& ini, std::vector<std::string> overrides) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_temper_app_keys(cfg);
  overrides.push_back("--run.progress_every=1000");
  cfg.parse_text(ini, overrides);
  return apps::temper(cfg, self);
}

//! `zeta free-energy FILE` with the given options, on one rank.
apps::FreeEnergyResult run_free_energy(const std::string& file, const std::vector<std::string>& overrides = {}) {
  parallel::Comm self(MPI_COMM_SELF);
  Config opts;
  apps::declare_free_energy_keys(opts);
  opts.parse_text("", overrides);
  return apps::free_energy(file, opts, self);
}

//! A ladder of 6 β from 0.3 to 1 over an RBM (model.params given by the test).
const char* kRbmLadder = R"(
[run]
steps = 20000
burn_in = 500
[model]
type = rbm
[temper]
betas = 0.3, 0.44, 0.58, 0.72, 0.86, 1.0
)";

TEST(IsingKernel, EnergyAndFlipsMatchTheLattice) {
  const int L = 6;
  const double J = 0.7, h = 0.3;
  models::Ising<Space> model(L, J, h);
  models::Ising<Space>::Spins s("s", 3, L * L);
  model.initialize(s, 0, 42);
  Kokkos::View<double*, Space::memory_space> E("E", 3), M("M", 3);
  model.measure(s, E, M);
  auto hs = Kokkos::create_mirror(Kokkos::HostSpace(), s);  // a copy, even when s is on the host
  Kokkos::deep_copy(hs, s);
  auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E);
  auto hM = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), M);
  for (int r = 0; r < 3; ++r) {
    auto spin = [&](int i, int j) { return int(hs(r, models::Ising<Space>::index((i + L) % L, (j + L) % L, L))); };
    double e = 0, m = 0;
    for (int i = 0; i < L; ++i)
      for (int j = 0; j < L; ++j) {
        e += -J * spin(i, j) * (spin(i + 1, j) + spin(i, j + 1)) - h * spin(i, j);
        m += spin(i, j);
      }
    EXPECT_DOUBLE_EQ(hE(r), e);
    EXPECT_DOUBLE_EQ(hM(r), m);
  }
  // At β = 0 Metropolis accepts every flip: a sweep negates every spin.
  models::Ising<Space>::Betas beta("beta", 3);
  models::Ising<Space>::Table t("t", 3);
  Counts<Space> flips("flips", 3);
  model.thresholds(beta, models::SpinMove::metropolis, t);
  model.sweep(s, t, models::SpinMove::metropolis, 7, 0, 1, flips);
  auto after = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s);
  for (int r = 0; r < 3; ++r)
    for (int q = 0; q < L * L; ++q) ASSERT_EQ(after(r, q), -hs(r, q));
  auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flips);
  EXPECT_EQ(hf(0), L * L);
  // At very large β with h > 0 heat-bath sets every spin whose neighbours do not
  // outweigh the field to the field's sign; from all-up it stays all-up.
  Kokkos::deep_copy(s, std::int8_t(1));
  Kokkos::deep_copy(beta, 50.0);
  model.thresholds(beta, models::SpinMove::heatbath, t);
  model.sweep(s, t, models::SpinMove::heatbath, 7, 0, 2, flips);
  model.measure(s, E, M);
  Kokkos::deep_copy(hM, M);
  EXPECT_EQ(hM(0), L * L);
}

// One sweep of replica r by the contract in ising.hpp, one site at a time: the
// uniform of site k = ⌊j/2⌋ on row i of colour c is word q / 8 of Philox block
// (c·L + i)·nbr + 8⌊k/32⌋ + q mod 8 (q = k mod 32, nbr = 8⌈(L/2)/32⌉) of
// Stream(seed, r, step, kSweep); the threshold is threshold_row's entry.
int reference_sweep(std::vector<int>& spin, int L, double J, double h, double beta, bool metro, std::uint32_t seed,
                    std::uint64_t r, std::uint64_t step) {
  std::uint32_t th[10];
  models::Ising<Space>::threshold_row(beta, J, h, metro, th);
  const rng::Stream st(seed, r, step, rng::kSweep);
  const int nbr = 8 * ((L / 2 + 31) / 32);
  auto at = [&](int i, int j) -> int& { return spin[((i + L) % L) * L + (j + L) % L]; };
  int flips = 0;
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < L; ++i)
      for (int j = (i + c) & 1; j < L; j += 2) {
        const int k = j / 2, q = k % 32;
        const std::uint32_t u = st.block(std::uint32_t((c * L + i) * nbr + 8 * (k / 32) + q % 8))[q / 8];
        const int s = at(i, j), nb = at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1);
        const std::uint32_t t = th[(metro && s > 0 ? 5 : 0) + (nb + 4) / 2];
        const bool acc = u < t || t == 0xFFFFFFFFu;
        const int next = metro ? (acc ? -s : s) : (acc ? 1 : -1);
        flips += next != s;
        at(i, j) = next;
      }
  return flips;
}

// The batched kernels (vectorized lanes, AVX2 tables where built for them) give
// reference_sweep's spins and flip counts bit for bit: whole and partial 32-site
// chunks (L = 70: one of each per row, and L not a multiple of the rows per item);
// sweep_measure's energy and magnetisation are measure()'s.
TEST(IsingKernel, SweepsMatchTheSiteBySiteContract) {
  for (const int L : {6, 64, 70})
    for (const bool metro : {true, false})
      for (const double h : {0.25, 0.0}) {  // h = 0: the AVX2 Metropolis kernel's one-table path
        const double J = 0.8;
        const int R = 3;
        models::Ising<Space> model(L, J, h);
        models::Ising<Space>::Spins s("s", R, L * L);
        model.initialize(s, 5, 11);
        models::Ising<Space>::Betas beta("beta", R);
        auto hb = Kokkos::create_mirror_view(beta);
        for (int r = 0; r < R; ++r) hb(r) = 0.2 + 0.25 * r;  // below, near and above β_c
        Kokkos::deep_copy(beta, hb);
        models::Ising<Space>::Table t("t", R);
        model.thresholds(beta, metro ? models::SpinMove::metropolis : models::SpinMove::heatbath, t);
        auto h0 = Kokkos::create_mirror(Kokkos::HostSpace(), s);
        Kokkos::deep_copy(h0, s);
        std::vector<std::vector<int>> ref(R, std::vector<int>(L * L));
        for (int r = 0; r < R; ++r)
          for (int i = 0; i < L; ++i)
            for (int j = 0; j < L; ++j) ref[r][i * L + j] = h0(r, models::Ising<Space>::index(i, j, L));
        std::vector<std::int64_t> ref_flips(R, 0);
        Counts<Space> flips("flips", R);
        models::Ising<Space>::Sums sums("sums", R);
        Kokkos::View<double*, Space::memory_space> E("E", R), M("M", R), Em("Em", R), Mm("Mm", R);
        for (std::int64_t step = 1; step <= 3; ++step) {
          // sweep_measure (step 2) is sweep plus the energy and magnetisation measure() gives.
          const auto move = metro ? models::SpinMove::metropolis : models::SpinMove::heatbath;
          if (step == 2)
            model.sweep_measure(s, t, move, 9, 5, step, flips, sums, E, M);
          else
            model.sweep(s, t, move, 9, 5, step, flips);
          for (int r = 0; r < R; ++r) ref_flips[r] += reference_sweep(ref[r], L, J, h, hb(r), metro, 9, 5 + r, step);
          if (step == 2) {
            model.measure(s, Em, Mm);
            auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E);
            auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), M);
            auto am = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Em);
            auto bm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Mm);
            for (int r = 0; r < R; ++r) {
              EXPECT_EQ(a(r), am(r)) << "L " << L << " replica " << r;
              EXPECT_EQ(b(r), bm(r)) << "L " << L << " replica " << r;
            }
          }
        }
        auto h1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s);
        auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flips);
        for (int r = 0; r < R; ++r) {
          EXPECT_EQ(hf(r), ref_flips[r]) << "L " << L << (metro ? " metropolis" : " heat-bath") << " h " << h
                                         << " replica " << r;
          EXPECT_GT(ref_flips[r], 0);
          int differ = 0;
          for (int i = 0; i < L; ++i)
            for (int j = 0; j < L; ++j) differ += h1(r, models::Ising<Space>::index(i, j, L)) != ref[r][i * L + j];
          EXPECT_EQ(differ, 0) << "L " << L << (metro ? " metropolis" : " heat-bath") << " h " << h << " replica " << r;
        }
      }
}

const char* kIsing4 = R"(
[run]
steps = 40000
burn_in = 2000
save_every = 0
[model]
type = ising
L = 4
[temper]
beta_min = 0.2
beta_max = 0.8
count = 8
copies = 8
[output]
file =
)";

// β from 0.2 to 0.8 spans β_c = ln(1 + √2)/2 ≈ 0.4407 on both sides.
void expect_exact_ising(const std::string& move) {
  const auto r = run_temper(kIsing4, {"--sampler.type=" + move});
  ASSERT_EQ(r.status, "ok");
  ASSERT_LT(r.betas.front(), 0.4407);
  ASSERT_GT(r.betas.back(), 0.4407);
  for (std::size_t k = 0; k < r.betas.size(); ++k) {
    const auto ex = test::ising_enumerate(4, r.betas[k]);
    EXPECT_LT(std::fabs(r.mean_energy[k] - ex.mean_energy), 4 * r.mean_energy_stderr[k])
        << move << " beta " << r.betas[k] << ": " << r.mean_energy[k] << " +- " << r.mean_energy_stderr[k]
        << " exact " << ex.mean_energy;
    EXPECT_LT(std::fabs(r.mean_abs_magnetization[k] - ex.mean_abs_m), 4 * r.mean_abs_magnetization_stderr[k])
        << move << " beta " << r.betas[k];
    EXPECT_GT(r.mean_energy_stderr[k], 0.0);
  }
  for (double a : r.acceptance) EXPECT_GT(a, 0.2);
  EXPECT_GT(r.total_round_trips, 100);
}

TEST(TemperIsing, HeatBathMatchesEnumeration) { expect_exact_ising("heatbath"); }
TEST(TemperIsing, MetropolisMatchesEnumeration) { expect_exact_ising("metropolis"); }

// The exact finite-lattice ln Z that AIS and MBAR are checked against, itself
// checked against enumeration of all 2^16 states at L = 4.
TEST(IsingExact, KaufmanMatchesEnumeration) {
  for (double beta : {0.05, 0.2, 0.4, 0.4406868, 0.5, 0.8, 1.5}) {
    const double e = test::ising_enumerate(4, beta).log_z;
    EXPECT_NEAR(test::ising_kaufman_log_z(4, beta), e, 1e-10 * std::fabs(e)) << "beta " << beta;
  }
  // High temperature limit: ln Z → N ln 2.
  EXPECT_NEAR(test::ising_kaufman_log_z(16, 1e-9), 256 * std::log(2.0), 1e-6);
}

// zeta temper's own ln Z per β (BAR between neighbours on the saved energies):
// absolute for Ising from β_0 = 0 against enumeration, relative for a Gaussian
// against ln Z(β) − ln Z(β_0) = −(d/2) ln(β/β_0).
TEST(TemperLogZ, BarMatchesExactValues) {
  const auto r = run_temper(kIsing4, {"--sampler.type=heatbath", "--temper.beta_min=0", "--temper.spacing=linear",
                                      "--run.steps=20000", "--run.save_every=5", "--temper.copies=4"});
  ASSERT_TRUE(r.log_z_absolute);
  ASSERT_EQ(r.log_z_bar.size(), r.betas.size());
  EXPECT_DOUBLE_EQ(r.log_z_bar[0], 16 * std::log(2.0));
  for (std::size_t k = 1; k < r.betas.size(); ++k) {
    const double exact = test::ising_enumerate(4, r.betas[k]).log_z;
    EXPECT_LT(std::fabs(r.log_z_bar[k] - exact), 4 * r.log_z_bar_stderr[k])
        << "beta " << r.betas[k] << ": " << r.log_z_bar[k] << " +- " << r.log_z_bar_stderr[k] << " exact " << exact;
    EXPECT_GT(r.log_z_bar_stderr[k], 0.0);
  }
  const auto g = run_temper("", {"--model.type=gaussian", "--model.dim=3", "--model.sigma=0.5,1,2",
                                 "--sampler.type=hmc", "--sampler.step_size=0.2", "--sampler.leapfrog=5",
                                 "--temper.beta_min=0.1", "--temper.count=6", "--temper.copies=4",
                                 "--run.steps=6000", "--run.burn_in=500", "--run.save_every=5", "--output.file="});
  ASSERT_FALSE(g.log_z_absolute);
  for (std::size_t k = 1; k < g.betas.size(); ++k) {
    const double exact = -1.5 * std::log(g.betas[k] / g.betas[0]);
    EXPECT_LT(std::fabs(g.log_z_bar[k] - exact), 4 * g.log_z_bar_stderr[k])
        << "beta " << g.betas[k] << ": " << g.log_z_bar[k] << " +- " << g.log_z_bar_stderr[k] << " exact " << exact;
  }
}

// zeta free-energy on a temper output: MBAR's absolute ln Z per β (ladder from
// β = 0) against enumeration, within 4 of its asymptotic standard errors.
TEST(FreeEnergy, MbarOnTemperOutputMatchesEnumeration) {
  run_temper(kIsing4, {"--sampler.type=heatbath", "--temper.beta_min=0", "--temper.spacing=linear",
                       "--run.steps=20000", "--run.save_every=5", "--temper.copies=4", "--output.file=fe.h5"});
  const auto r = run_free_energy("fe.h5");
  ASSERT_TRUE(r.absolute);
  for (std::size_t k = 1; k < r.betas.size(); ++k) {
    const double exact = test::ising_enumerate(4, r.betas[k]).log_z;
    EXPECT_LT(std::fabs(r.log_z[k] - exact), 4 * r.log_z_stderr[k])
        << "MBAR beta " << r.betas[k] << ": " << r.log_z[k] << " +- " << r.log_z_stderr[k] << " exact " << exact;
    EXPECT_LT(std::fabs(r.log_z_bar[k] - exact), 4 * r.log_z_bar_stderr[k]) << "BAR beta " << r.betas[k];
    EXPECT_GT(r.log_z_stderr[k], 0.0);
  }
  std::remove("fe.h5");
}

// MBAR at L = 16 from β = 0 to β_c against Kaufman's exact finite-lattice ln Z:
// within 4 standard errors at every β and within 0.05 nats at β_c; the
// bootstrap error agrees with the asymptotic one.
TEST(FreeEnergy, MbarAtL16CriticalPointMatchesKaufman) {
  const double beta_c = 0.5 * std::log(1 + std::sqrt(2.0));
  run_temper("", {"--model.type=ising", "--model.L=16", "--sampler.type=heatbath", "--temper.beta_min=0",
                  "--temper.beta_max=" + std::to_string(beta_c), "--temper.spacing=linear", "--temper.count=24",
                  "--temper.copies=2", "--run.steps=40000", "--run.burn_in=1000", "--run.save_every=1",
                  "--output.file=fe16.h5"});
  const auto r = run_free_energy("fe16.h5", {"--free_energy.bootstrap=20"});
  ASSERT_TRUE(r.absolute);
  for (std::size_t k = 1; k < r.betas.size(); ++k) {
    const double exact = test::ising_kaufman_log_z(16, r.betas[k]);
    EXPECT_LT(std::fabs(r.log_z[k] - exact), 4 * r.log_z_stderr[k])
        << "MBAR beta " << r.betas[k] << ": " << r.log_z[k] << " +- " << r.log_z_stderr[k] << " exact " << exact;
    // 20 resamples estimate a standard deviation to ≈ 16%: within a factor 1.75 of the asymptotic one.
    EXPECT_LT(r.log_z_bootstrap_stderr[k], 1.75 * r.log_z_stderr[k]) << k;
    EXPECT_GT(r.log_z_bootstrap_stderr[k], r.log_z_stderr[k] / 1.75) << k;
  }
  const double exact_c = test::ising_kaufman_log_z(16, r.betas.back());
  EXPECT_LT(std::fabs(r.log_z.back() - exact_c), 0.05) << r.log_z.back() << " +- " << r.log_z_stderr.back();
  std::printf("MBAR L = 16, beta_c: ln Z = %.4f +- %.4f (bootstrap %.4f), Kaufman %.4f, %lld samples\n",
              r.log_z.back(), r.log_z_stderr.back(), r.log_z_bootstrap_stderr.back(), exact_c,
              static_cast<long long>(r.samples_used));
  std::remove("fe16.h5");
}

TEST(Ladder, SpacingAndBarrierSchedule) {
  const auto g = tempering::make_ladder(0.1, 1.0, 5, "geometric");
  EXPECT_DOUBLE_EQ(g.front(), 0.1);
  EXPECT_DOUBLE_EQ(g.back(), 1.0);
  EXPECT_NEAR(g[2] / g[1], g[1] / g[0], 1e-12);
  const auto l = tempering::make_ladder(0.0, 1.0, 5, "linear");
  EXPECT_NEAR(l[1], 0.25, 1e-15);
  // Rejection concentrated in the first gap: the new schedule crowds there, and
  // Λ(β) becomes equal steps (here Λ = 0.9 t on [0, .25], then 0.1 more up to 1).
  const std::vector<double> b = {0, 0.25, 1.0};
  const auto s = tempering::barrier_schedule(b, {0.9, 0.1});
  EXPECT_DOUBLE_EQ(s.front(), 0.0);
  EXPECT_DOUBLE_EQ(s.back(), 1.0);
  EXPECT_NEAR(s[1], 0.25 * 0.5 / 0.9, 1e-12);
  const auto e = tempering::equalize_acceptance({0, 0.5, 1.0}, {0.9, 0.1}, 1.0);
  EXPECT_GT(e[1], 0.5);  // the well-accepting gap widens
  EXPECT_DOUBLE_EQ(e.back(), 1.0);
}

// Every model with every move that applies: a short ladder runs, swaps, and
// reports finite statistics at every β (the exactness checks are above).
TEST(TemperModels, EveryModelAndMove) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"--model.type=gaussian --model.dim=3", {"langevin", "mala", "hmc", "metropolis"}},
      {"--model.type=gmm --model.weights=0.5,0.5 --model.means=-1;1", {"mala", "metropolis"}},
      {"--model.type=double_well --model.dim=2", {"hmc", "langevin"}},
      {"--model.type=mlp --model.layers=2,8,8,1 --model.activation=softplus", {"langevin", "mala"}},
      {"--model.type=ising --model.L=6 --temper.beta_max=0.5", {"metropolis", "heatbath"}},
  };
  for (const auto& [model, moves] : cases)
    for (const auto& move : moves) {
      std::vector<std::string> args;
      for (const auto& a : split(model, ' ')) args.push_back(a);
      args.insert(args.end(), {"--sampler.type=" + move, "--sampler.step_size=0.05", "--temper.count=4",
                               "--temper.beta_min=0.2", "--run.steps=300", "--run.burn_in=50",
                               "--output.file="});
      const auto r = run_temper("", args);
      EXPECT_EQ(r.status, "ok") << model << " " << move;
      EXPECT_GT(r.move_acceptance, 0.0) << model << " " << move;
      EXPECT_GT(r.total_round_trips, 0) << model << " " << move;
      for (std::size_t k = 0; k < r.mean_energy.size(); ++k)
        EXPECT_TRUE(std::isfinite(r.mean_energy[k]) && r.mean_energy_stderr[k] > 0) << model << " " << move;
    }
}

//! Left unset, sampler.type is metropolis for ising (its default, mala, is for
//! continuous models), the same run as metropolis set explicitly; mala set explicitly
//! is still refused.
TEST(TemperModels, IsingSamplerDefaultsToMetropolis) {
  const std::vector<std::string> args = {"--model.type=ising", "--model.L=4",      "--temper.count=3",
                                         "--run.steps=50",     "--run.burn_in=10", "--output.file="};
  const auto unset = run_temper("", args);
  auto explicit_args = args;
  explicit_args.push_back("--sampler.type=metropolis");
  const auto set = run_temper("", explicit_args);
  EXPECT_NE(unset.json.str().find("\"sampler\": \"metropolis\""), std::string::npos) << unset.json.str();
  EXPECT_EQ(unset.mean_energy, set.mean_energy);
  explicit_args.back() = "--sampler.type=mala";
  try {
    run_temper("", explicit_args);
    ADD_FAILURE() << "mala on ising was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sampler.type"), std::string::npos) << e.what();
  }
}

double spread(const std::vector<double>& a) {
  double lo = 1, hi = 0;
  for (double v : a) lo = std::min(lo, v), hi = std::max(hi, v);
  return hi - lo;
}

TEST(TemperIsing, AdaptedLaddersEqualizeAcceptance) {
  const std::string ini = R"(
[run]
steps = 24000
burn_in = 12000
[model]
type = ising
L = 8
[sampler]
type = heatbath
[temper]
beta_min = 0.05
beta_max = 0.7
count = 10
spacing = linear
copies = 4
[output]
file =
)";
  const auto fixed = run_temper(ini, {});
  const auto barrier = run_temper(ini, {"--temper.adapt=barrier"});
  const auto accept = run_temper(ini, {"--temper.adapt=acceptance"});
  // Linear spacing crowds the hot end, so acceptance falls towards β_c; adapting evens it out.
  EXPECT_GT(spread(fixed.acceptance), 0.3);
  EXPECT_LT(spread(barrier.acceptance), 0.5 * spread(fixed.acceptance));
  EXPECT_LT(spread(accept.acceptance), 0.5 * spread(fixed.acceptance));
  EXPECT_DOUBLE_EQ(barrier.betas.front(), 0.05);
  EXPECT_DOUBLE_EQ(barrier.betas.back(), 0.7);
  for (std::size_t k = 1; k < barrier.betas.size(); ++k) EXPECT_GT(barrier.betas[k], barrier.betas[k - 1]);
  // Λ is a property of the model, not of the ladder: both estimates agree.
  EXPECT_NEAR(barrier.barrier, fixed.barrier, 0.15 * fixed.barrier);
  EXPECT_GT(barrier.total_round_trips, fixed.total_round_trips);
}

// Two modes 8 σ apart, weights 0.2 / 0.8: PT finds the weights; plain MALA at
// β = 1 with as many energy evaluations keeps each chain in its first basin.
TEST(TemperModes, RecoversWeightsWherePlainSamplingCannot) {
  const std::string model = R"(
[model]
type = gmm
weights = 0.2, 0.8
means = -4; 4
variances = 0.25
[sampler]
type = mala
step_size = 0.1
init_scale = 1
)";
  const std::string run = "[run]\nsteps = 6000\nburn_in = 1000\nsave_every = 5\n";
  const int K = 10, copies = 16;
  run_temper(run + model + "[temper]\nbeta_min = 0.01\nbeta_max = 1\ncount = 10\ncopies = 16\n",
             {"--output.file=modes_pt.h5"});
  std::vector<hsize_t> dims;
  const auto x = io::read_doubles("modes_pt.h5", "/temper/x", dims);
  ASSERT_EQ(dims, (std::vector<hsize_t>{1000, hsize_t(copies), 1}));
  std::vector<double> frac(copies, 0.0);
  for (std::size_t s = 0; s < dims[0]; ++s)
    for (int c = 0; c < copies; ++c) frac[c] += x[s * copies + c] > 0 ? 1.0 / double(dims[0]) : 0.0;
  auto mean_se = [](const std::vector<double>& v, double& m, double& se) {
    m = 0;
    for (double f : v) m += f;
    m /= double(v.size());
    double ss = 0;
    for (double f : v) ss += (f - m) * (f - m);
    se = std::sqrt(ss / double(v.size() - 1) / double(v.size()));
  };
  double m, se;
  mean_se(frac, m, se);
  EXPECT_LT(std::fabs(m - 0.8), 4 * se) << "PT weight of the right mode " << m << " +- " << se;
  EXPECT_GT(se, 0.0);

  // Plain sampling: K·copies chains at β = 1 for the same number of steps.
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_sample_keys(cfg);
  cfg.parse_text(run + model, {"--sampler.chains=" + std::to_string(K * copies), "--output.file=modes_plain.h5",
                               "--run.progress_every=1000"});
  apps::sample(cfg, self);
  const auto y = io::read_doubles("modes_plain.h5", "/samples/x", dims);
  const std::size_t chains = dims[1];
  std::vector<double> pf(chains, 0.0);
  for (std::size_t s = 0; s < dims[0]; ++s)
    for (std::size_t c = 0; c < chains; ++c) pf[c] += y[s * chains + c] > 0 ? 1.0 / double(dims[0]) : 0.0;
  double pm, pse;
  mean_se(pf, pm, pse);
  EXPECT_GT(std::fabs(pm - 0.8), 4 * pse) << "plain sampling unexpectedly found the weights: " << pm << " +- " << pse;
  std::remove("modes_pt.h5");
  std::remove("modes_plain.h5");
}

const char* kRestart = R"(
[run]
burn_in = 100
save_every = 10
[model]
type = ising
L = 8
[sampler]
type = metropolis
[temper]
beta_min = 0.2
beta_max = 0.6
count = 6
copies = 2
adapt = barrier
adapt_rounds = 3
)";

void expect_same(const apps::TemperResult& a, const apps::TemperResult& b) {
  EXPECT_EQ(a.steps_done, b.steps_done);
  EXPECT_EQ(a.betas, b.betas);
  EXPECT_EQ(a.mean_energy, b.mean_energy);
  EXPECT_EQ(a.mean_energy_stderr, b.mean_energy_stderr);
  EXPECT_EQ(a.mean_abs_magnetization, b.mean_abs_magnetization);
  EXPECT_EQ(a.round_trips, b.round_trips);
  EXPECT_EQ(a.move_acceptance, b.move_acceptance);
  EXPECT_EQ(a.barrier, b.barrier);
  for (std::size_t k = 0; k < a.acceptance.size(); ++k) EXPECT_EQ(a.acceptance[k], b.acceptance[k]);
  for (std::size_t k = 0; k < a.flow.size(); ++k) EXPECT_EQ(a.flow[k], b.flow[k]);
}

TEST(TemperCheckpoint, RestartIsBitForBit) {
  for (const char* f : {"straight.h5", "half.h5", "resumed.h5", "ck.h5", "ck.h5.prev"}) std::remove(f);
  const auto straight = run_temper(kRestart, {"--run.steps=600", "--output.file=straight.h5"});
  // The first leg hits run.max_hours at its first stop check (step 16), inside the
  // burn-in's adaptation, mid-window; it checkpoints and reports "interrupted".
  const auto first = run_temper(kRestart, {"--run.steps=600", "--run.max_hours=1e-12", "--checkpoint.file=ck.h5",
                                           "--output.file=half.h5"});
  EXPECT_EQ(first.status, "interrupted");
  EXPECT_EQ(first.steps_done, 16);
  run_temper(kRestart, {"--run.steps=300", "--checkpoint.file=ck.h5", "--checkpoint.restart=true",
                        "--checkpoint.every_steps=70", "--output.file=half.h5"});
  const auto resumed = run_temper(kRestart, {"--run.steps=600", "--checkpoint.file=ck.h5",
                                             "--checkpoint.restart=true", "--output.file=resumed.h5"});
  expect_same(straight, resumed);
  for (const char* ds : {"/temper/energy", "/temper/replica", "/temper/magnetization", "/temper/betas"}) {
    std::vector<hsize_t> da, db;
    const auto a = io::read_doubles("straight.h5", ds, da);
    const auto b = io::read_doubles("resumed.h5", ds, db);
    EXPECT_EQ(da, db) << ds;
    EXPECT_TRUE(a == b) << ds << " differs after restart";
  }
  // The previous checkpoint is kept beside the newest.
  std::vector<hsize_t> d;
  EXPECT_EQ(io::read_doubles("ck.h5.prev", "/run/step", d).size(), 1u);

  // A checkpoint of another model or ladder is refused by name and left alone.
  try {
    run_temper(kRestart, {"--run.steps=900", "--model.L=16", "--checkpoint.file=ck.h5",
                          "--checkpoint.restart=true", "--output.file="});
    ADD_FAILURE() << "a checkpoint of L = 8 was accepted for L = 16";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.L"), std::string::npos) << e.what();
  }
  try {
    run_temper(kRestart, {"--run.steps=900", "--temper.count=7", "--checkpoint.file=ck.h5",
                          "--checkpoint.restart=true", "--output.file="});
    ADD_FAILURE() << "a checkpoint of 6 temperatures was accepted for 7";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("temper.count"), std::string::npos) << e.what();
  }
  EXPECT_EQ(io::read_doubles("ck.h5", "/run/step", d)[0], 600.0);
  for (const char* f : {"straight.h5", "half.h5", "half.h5.~1~", "resumed.h5", "ck.h5", "ck.h5.prev"})
    std::remove(f);
}

// RBM replicas (block Gibbs, exchanges on the joint energy E(v, h)): ⟨E(v,h)⟩_β per
// level against the enumeration of all 2^10 joint states, within 4 standard errors.
TEST(TemperRbm, JointEnergyMatchesEnumeration) {
  const auto p = test::tiny_rbm();
  io::write_rbm_params("temper_rbm_params.h5", p);
  const std::vector<double> betas = {0.3, 0.44, 0.58, 0.72, 0.86, 1.0};
  const auto r = run_temper(kRbmLadder, {"--model.params=temper_rbm_params.h5", "--run.save_every=0",
                                         "--temper.copies=4", "--output.file="});
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.move_acceptance, 1.0);  // Gibbs sweeps are never rejected
  EXPECT_GT(r.total_round_trips, 0);
  ASSERT_EQ(r.mean_energy.size(), betas.size());
  for (std::size_t k = 0; k < betas.size(); ++k) {
    const auto ex = test::rbm_enumerate(p.W, p.b, p.c, betas[k]);
    const double m = r.mean_energy[k], se = r.mean_energy_stderr[k];
    EXPECT_GT(se, 0.0) << "beta " << betas[k];
    EXPECT_LT(se, 0.02) << "beta " << betas[k];
    EXPECT_NEAR(m, ex.mean_energy, 4 * se) << "beta " << betas[k] << ": <E(v,h)> = " << m << " +- " << se
                                           << ", exact " << ex.mean_energy << " (<F> = " << ex.mean_free_energy
                                           << ")";
    std::printf("beta %.2f: <E(v,h)> = %.5f +- %.5f, exact %.5f (%.2f SE)\n", betas[k], m, se, ex.mean_energy,
                (m - ex.mean_energy) / se);
  }
  std::remove("temper_rbm_params.h5");
}

// zeta free-energy on an RBM temper output (joint energies E(v, h)): MBAR's ln Z(β_k) −
// ln Z(β_0) against the enumeration of all 2^10 joint states, within 4 of its standard
// errors. free-energy once refused every RBM output (it re-read [model] from the
// resolved INI, where model.sigma looked given).
TEST(FreeEnergy, MbarOnRbmTemperOutputMatchesEnumeration) {
  const auto p = test::tiny_rbm();
  io::write_rbm_params("fe_rbm_params.h5", p);
  const auto t = run_temper(kRbmLadder, {"--model.params=fe_rbm_params.h5", "--run.save_every=5",
                                         "--temper.copies=2", "--output.file=fe_rbm.h5"});
  ASSERT_EQ(t.status, "ok");
  const auto r = run_free_energy("fe_rbm.h5");
  ASSERT_FALSE(r.absolute);
  const double lz0 = test::rbm_enumerate(p.W, p.b, p.c, r.betas[0]).log_z;
  for (std::size_t k = 1; k < r.betas.size(); ++k) {
    const double exact = test::rbm_enumerate(p.W, p.b, p.c, r.betas[k]).log_z - lz0;
    EXPECT_GT(r.log_z_stderr[k], 0.0);
    EXPECT_LT(std::fabs(r.log_z[k] - exact), 4 * r.log_z_stderr[k])
        << "MBAR beta " << r.betas[k] << ": " << r.log_z[k] << " +- " << r.log_z_stderr[k] << " exact " << exact;
    std::printf("beta %.2f: ln Z - ln Z(0.3) = %.5f +- %.5f, exact %.5f\n", r.betas[k], r.log_z[k], r.log_z_stderr[k],
                exact);
  }
  std::remove("fe_rbm.h5");
  std::remove("fe_rbm_params.h5");
}

const char* kRbmRestart = R"(
[run]
burn_in = 100
save_every = 10
[model]
type = rbm
params = restart_rbm_params.h5
[temper]
beta_min = 0.2
beta_max = 1
count = 6
copies = 2
adapt = barrier
adapt_rounds = 3
)";

// An RBM run stopped and resumed twice gives the run that never stopped, bit for
// bit: v, h and E are in the checkpoint.
TEST(TemperCheckpoint, RbmRestartIsBitForBit) {
  for (const char* f : {"rstraight.h5", "rhalf.h5", "rhalf.h5.~1~", "rresumed.h5", "rck.h5", "rck.h5.prev"})
    std::remove(f);
  io::write_rbm_params("restart_rbm_params.h5", test::tiny_rbm(11, 9, 5));
  const auto straight = run_temper(kRbmRestart, {"--run.steps=600", "--output.file=rstraight.h5"});
  const auto first = run_temper(kRbmRestart, {"--run.steps=600", "--run.max_hours=1e-12",
                                              "--checkpoint.file=rck.h5", "--output.file=rhalf.h5"});
  EXPECT_EQ(first.status, "interrupted");
  EXPECT_EQ(first.steps_done, 16);
  run_temper(kRbmRestart, {"--run.steps=300", "--checkpoint.file=rck.h5", "--checkpoint.restart=true",
                           "--checkpoint.every_steps=70", "--output.file=rhalf.h5"});
  const auto resumed = run_temper(kRbmRestart, {"--run.steps=600", "--checkpoint.file=rck.h5",
                                                "--checkpoint.restart=true", "--output.file=rresumed.h5"});
  expect_same(straight, resumed);
  EXPECT_EQ(straight.move_acceptance, 1.0);
  for (const char* ds : {"/temper/energy", "/temper/replica", "/temper/x", "/temper/betas"}) {
    std::vector<hsize_t> da, db;
    const auto a = io::read_doubles("rstraight.h5", ds, da);
    const auto b = io::read_doubles("rresumed.h5", ds, db);
    EXPECT_EQ(da, db) << ds;
    EXPECT_FALSE(a.empty()) << ds;
    EXPECT_TRUE(a == b) << ds << " differs after restart";
  }
  // The visible states at the target β are 0/1.
  std::vector<hsize_t> d;
  for (double x : io::read_doubles("rstraight.h5", "/temper/x", d)) ASSERT_TRUE(x == 0.0 || x == 1.0) << x;
  EXPECT_EQ(d, (std::vector<hsize_t>{50, 2, 9}));
  for (const char* f : {"rstraight.h5", "rhalf.h5", "rhalf.h5.~1~", "rresumed.h5", "rck.h5", "rck.h5.prev",
                        "restart_rbm_params.h5"})
    std::remove(f);
}

}  // namespace
}  // namespace zeta
