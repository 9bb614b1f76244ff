//! Cluster moves of the Ising model (sampler.type = swendsen_wang | wolff, issue 28):
//! the kernels against a site-by-site reference of their randomness contract
//! (models/detail/ising_clusters.hpp), ⟨E⟩ and ⟨|M|⟩ against enumeration at L = 4
//! (sample, and temper with a β per chain), and ln Z at L = 16, β_c against
//! Kaufman's exact value (ais and ais.method = smc); the heat-bath/cluster hybrid of
//! sampler.cluster_from against heat-bath and Swendsen–Wang bit for bit, and its SMC
//! ln Z against enumeration at L = 4. Rank independence: test_ranks
//! and test_smc; bad input: tests/cli/bad_input.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "exact.hpp"
#include "zeta/models/ising.hpp"
#include "zeta/samplers/lattice_system.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Model = models::Ising<Space>;
namespace md = models::detail;

const double kBetaC = 0.4406867935097715;

//! Swendsen–Wang on row-major spins by the contract, with none of the kernel's
//! machinery: every bond's word from its own Philox block, clusters by depth-first
//! search from the smallest unvisited site. Returns the flipped spins.
int reference_sw(std::vector<int>& s, int L, double J, double h, double beta, std::uint32_t seed, std::uint64_t r,
                 std::uint64_t step) {
  const int n = L * L;
  const rng::Stream st(seed, r, step, rng::kCluster);
  const std::uint32_t t = J == 0 ? 0u : md::prob_threshold(1.0 - std::exp(-2.0 * beta * std::fabs(J)));
  std::vector<std::vector<int>> adj(n);
  for (int i = 0; i < L; ++i)
    for (int j = 0; j < L; ++j) {
      const int k = i * L + j, nb[2] = {i * L + (j + 1) % L, ((i + 1) % L) * L + j};
      for (int e = 0; e < 2; ++e) {
        const int b = 2 * k + e;
        if (J * s[k] * s[nb[e]] > 0 && md::below(st.block(std::uint32_t(b / 4))[b % 4], t)) {
          adj[k].push_back(nb[e]);
          adj[nb[e]].push_back(k);
        }
      }
    }
  std::vector<int> root(n, -1);
  int flipped = 0;
  std::vector<int> members;
  for (int k = 0; k < n; ++k) {
    if (root[k] >= 0) continue;
    members.assign(1, k);
    root[k] = k;
    for (std::size_t q = 0; q < members.size(); ++q)
      for (int m : adj[members[q]])
        if (root[m] < 0) root[m] = k, members.push_back(m);
    double S = 0;
    for (int m : members) S += s[m];
    const double p = h == 0 ? 0.5 : 1.0 / (1.0 + std::exp(2.0 * beta * h * S));
    if (md::below(st.block(md::kFlipBlock + std::uint32_t(k / 4))[k % 4], md::prob_threshold(p))) {
      for (int m : members) s[m] = -s[m];
      flipped += int(members.size());
    }
  }
  return flipped;
}

//! `clusters` Wolff clusters by the contract, grown depth-first (the kernel goes
//! breadth-first: the cluster must not depend on the order).
int reference_wolff(std::vector<int>& s, int L, double J, double h, double beta, int clusters, std::uint32_t seed,
                    std::uint64_t r, std::uint64_t step) {
  const int n = L * L;
  const rng::Stream st(seed, r, step, rng::kCluster);
  const std::uint32_t t = J == 0 ? 0u : md::prob_threshold(1.0 - std::exp(-2.0 * beta * std::fabs(J)));
  int flipped = 0;
  for (int c = 0; c < clusters; ++c) {
    const auto ws = st.block(md::kWolffBlock + std::uint32_t(c));
    const int k0 = int((std::uint64_t(ws[0]) * std::uint64_t(n)) >> 32);
    std::vector<char> in(n, 0);
    std::vector<int> stack{k0}, members{k0};
    in[k0] = 1;
    while (!stack.empty()) {
      const int k = stack.back(), i = k / L, j = k % L;
      stack.pop_back();
      const int left = i * L + (j + L - 1) % L, up = ((i + L - 1) % L) * L + j;
      const int nb[4] = {i * L + (j + 1) % L, ((i + 1) % L) * L + j, left, up};
      const int bond[4] = {2 * k, 2 * k + 1, 2 * left, 2 * up + 1};
      for (int e = 0; e < 4; ++e) {
        if (in[nb[e]] || !(J * s[k] * s[nb[e]] > 0)) continue;
        const std::uint32_t blk = std::uint32_t(c) * std::uint32_t(n / 2) + std::uint32_t(bond[e] / 4);
        if (md::below(st.block(blk)[bond[e] % 4], t)) {
          in[nb[e]] = 1;
          stack.push_back(nb[e]);
          members.push_back(nb[e]);
        }
      }
    }
    double S = 0;
    for (int m : members) S += s[m];
    if (h != 0 && !md::below(ws[1], md::prob_threshold(std::exp(-2.0 * beta * h * S)))) continue;
    for (int m : members) s[m] = -s[m];
    flipped += int(members.size());
  }
  return flipped;
}

// The kernels give the reference's spins and flip counts bit for bit: lattices whose
// site count is not a multiple of the kernels' 32- and 128-site chunks (L = 6, 70),
// and L a multiple of 32 (32, 64: Swendsen–Wang's 8-spins-a-word bond masks and its
// skipped down bonds), ferro- and antiferromagnetic couplings, with and without a
// field, β below, near and above β_c and β = 40 (every satisfied bond open) on four
// replicas, three steps in a row.
TEST(ClusterKernel, MovesMatchTheContractSiteBySite) {
  for (const auto move : {models::SpinMove::swendsen_wang, models::SpinMove::wolff})
    for (const int L : {6, 16, 32, 64, 70})
      for (const double J : {1.0, -0.7})
        for (const double h : {0.0, 0.3}) {
          const int R = 4, n = L * L, clusters = 3;
          const char* name = move == models::SpinMove::wolff ? "wolff" : "swendsen_wang";
          Model model(L, J, h);
          Model::Spins s("s", R, n);
          model.initialize(s, 5, 11);
          Model::Betas beta("beta", R);
          auto hb = Kokkos::create_mirror_view(beta);
          for (int r = 0; r < R; ++r) hb(r) = r + 1 < R ? 0.2 + 0.25 * r : 40.0;
          Kokkos::deep_copy(beta, hb);
          auto h0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s);
          std::vector<std::vector<int>> ref(R, std::vector<int>(n));
          for (int r = 0; r < R; ++r)
            for (int i = 0; i < L; ++i)
              for (int j = 0; j < L; ++j) ref[r][i * L + j] = h0(r, Model::index(i, j, L));
          Counts<Space> flips("flips", R);
          Model::Labels a("a", R, n), b("b", R, n);
          std::vector<std::int64_t> ref_flips(R, 0);
          for (std::int64_t step = 1; step <= 3; ++step) {
            model.cluster_sweep(s, beta, move, clusters, 9, 5, step, flips, a, b);
            for (int r = 0; r < R; ++r)
              ref_flips[r] += move == models::SpinMove::wolff
                                  ? reference_wolff(ref[r], L, J, h, hb(r), clusters, 9, 5 + r, step)
                                  : reference_sw(ref[r], L, J, h, hb(r), 9, 5 + r, step);
          }
          auto h1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s);
          auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flips);
          for (int r = 0; r < R; ++r) {
            EXPECT_EQ(hf(r), ref_flips[r]) << name << " L " << L << " J " << J << " h " << h << " replica " << r;
            EXPECT_GT(ref_flips[r], 0) << name << " L " << L << " replica " << r;
            int differ = 0;
            for (int i = 0; i < L; ++i)
              for (int j = 0; j < L; ++j) differ += h1(r, Model::index(i, j, L)) != ref[r][i * L + j];
            EXPECT_EQ(differ, 0) << name << " L " << L << " J " << J << " h " << h << " replica " << r;
          }
        }
}

// The hybrid of sampler.cluster_from (LatticeSystem): below the window's β a step
// at key t is hot_sweeps heat-bath sweeps at keys t·k … t·k + k − 1, bit for bit a
// heat-bath system's; from the window's β on it is the cluster move at key t, bit for
// bit a Swendsen–Wang system's; crossing the window back and forth keeps both.
TEST(ClusterHybrid, StepsAreHeatBathBelowAndClusterMovesFromTheWindow) {
  const int L = 10, k = 3;
  const parallel::ChainRange range{4, 0, 4};
  const Model model(L, 1.0, 0.0);
  models::SpinUpdate hyb(models::SpinMove::swendsen_wang);
  hyb.cluster_from = 0.3;
  hyb.hot_sweeps = k;
  samplers::LatticeSystem<Space> sys(model, hyb, range, 7);
  samplers::LatticeSystem<Space> hb(model, models::SpinMove::heatbath, range, 7);
  samplers::LatticeSystem<Space> sw(model, models::SpinMove::swendsen_wang, range, 7);
  auto same = [&](const samplers::LatticeSystem<Space>& ref, const std::string& what) {
    const auto a = sys.host_states();
    const auto b = ref.host_states();
    int differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i) differ += a.data()[i] != b.data()[i];
    EXPECT_EQ(differ, 0) << what;
    std::vector<double> ea, eb;
    sys.observe(ea);
    ref.observe(eb);
    EXPECT_EQ(ea, eb) << what;
  };
  std::vector<double> st, counts;
  for (const double beta : {0.1, 0.29, 0.3, 0.44, 0.2, 0.6}) {
    sys.set_beta(beta);
    for (std::int64_t t = 1; t <= 4; ++t) {
      sys.step(t);
      if (beta < 0.3) {
        hb.set_beta(beta);
        for (int j = 0; j < k; ++j) hb.step(t * k + j);
        same(hb, "heat-bath side, beta " + std::to_string(beta));
        sys.save(st, counts);
        sw.load(st.data(), counts.data());
      } else {
        sw.set_beta(beta);
        sw.step(t);
        same(sw, "cluster side, beta " + std::to_string(beta));
        sys.save(st, counts);
        hb.load(st.data(), counts.data());
      }
    }
  }
}

apps::SampleResult run_sample(const std::vector<std::string>& args) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_sample_keys(cfg);
  std::vector<std::string> all = {
      "--model.type=ising", "--model.L=4",         "--run.steps=8000", "--run.burn_in=100",
      "--run.save_every=0", "--sampler.chains=32", "--output.file=",   "--run.progress_every=1000"};
  all.insert(all.end(), args.begin(), args.end());
  cfg.parse_text("", all);
  return apps::sample(cfg, self);
}

// `zeta sample` at L = 4, β = 0.4: ⟨E⟩ against the enumeration of all 2^16 states
// within 4 batch-means standard errors, for both moves, with a field, and with an
// antiferromagnetic coupling (clusters of anti-aligned spins) in a field.
TEST(ClusterIsing, SampleMatchesEnumeration) {
  struct Case {
    double J, h;
  };
  for (const char* move : {"swendsen_wang", "wolff"})
    for (const Case c : {Case{1, 0}, Case{1, 0.3}, Case{-0.7, 0.2}}) {
      const auto ex = test::ising_enumerate(4, 0.4, c.J, c.h);
      const auto r = run_sample({std::string("--sampler.type=") + move, "--sampler.beta=0.4",
                                 "--model.J=" + std::to_string(c.J), "--model.h=" + std::to_string(c.h)});
      const std::string what = std::string(move) + " J " + std::to_string(c.J) + " h " + std::to_string(c.h);
      EXPECT_EQ(r.status, "ok");
      EXPECT_GT(r.mean_energy_stderr, 0.0) << what;
      EXPECT_LT(r.mean_energy_stderr, 0.02 * std::fabs(ex.mean_energy)) << what << ": too few samples";
      EXPECT_NEAR(r.mean_energy, ex.mean_energy, 4 * r.mean_energy_stderr)
          << what << ": <E> = " << r.mean_energy << " +- " << r.mean_energy_stderr << ", exact " << ex.mean_energy;
      EXPECT_GT(r.acceptance, 0.0) << what;  // flipped spins per site and step
      EXPECT_LE(r.acceptance, 1.0) << what;
      std::printf("%s: <E> = %.4f +- %.4f, exact %.4f (%.2f SE), tau_int %.2f\n", what.c_str(), r.mean_energy,
                  r.mean_energy_stderr, ex.mean_energy, (r.mean_energy - ex.mean_energy) / r.mean_energy_stderr,
                  r.tau_int);
    }
}

// `zeta temper` at L = 4 from β = 0.2 to 0.8 (β_c inside): the cluster kernels take
// each chain's own β, which exchanges permute; ⟨E⟩ and ⟨|M|⟩ per β within 4 SE.
TEST(ClusterIsing, TemperMatchesEnumerationAtEveryBeta) {
  for (const char* move : {"swendsen_wang", "wolff"}) {
    parallel::Comm self(MPI_COMM_SELF);
    Config cfg;
    apps::declare_temper_app_keys(cfg);
    cfg.parse_text(
        "[run]\nsteps = 8000\nburn_in = 200\nsave_every = 0\n[model]\ntype = ising\nL = 4\n"
        "[temper]\nbeta_min = 0.2\nbeta_max = 0.8\ncount = 8\ncopies = 4\n[output]\nfile =\n",
        {std::string("--sampler.type=") + move, "--run.progress_every=1000"});
    const auto r = apps::temper(cfg, self);
    ASSERT_EQ(r.status, "ok");
    for (std::size_t k = 0; k < r.betas.size(); ++k) {
      const auto ex = test::ising_enumerate(4, r.betas[k]);
      EXPECT_LT(std::fabs(r.mean_energy[k] - ex.mean_energy), 4 * r.mean_energy_stderr[k])
          << move << " beta " << r.betas[k] << ": " << r.mean_energy[k] << " +- " << r.mean_energy_stderr[k]
          << " exact " << ex.mean_energy;
      EXPECT_LT(std::fabs(r.mean_abs_magnetization[k] - ex.mean_abs_m), 4 * r.mean_abs_magnetization_stderr[k])
          << move << " beta " << r.betas[k] << ": <|M|>/N " << r.mean_abs_magnetization[k] << " +- "
          << r.mean_abs_magnetization_stderr[k] << " exact " << ex.mean_abs_m;
      EXPECT_GT(r.mean_energy_stderr[k], 0.0);
    }
  }
}

apps::AisResult run_ais(std::vector<std::string> args) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_ais_app_keys(cfg);
  args.insert(args.end(), {"--model.type=ising", "--model.L=16", "--ais.beta=" + std::to_string(kBetaC),
                           "--run.progress_every=1000", "--output.file="});
  cfg.parse_text("", args);
  return apps::ais(cfg, self);
}

// ln Z at L = 16, β_c against Kaufman's exact finite-lattice value: AIS and SMC
// (4 replicates, the error from their spread) with Swendsen–Wang moves, and SMC with the
// hybrid (heat-bath below β = 0.35, 8 replicates, ln of their mean Z), each within
// 4 of its standard errors. (Wolff is no move for a path from β = 0: there its
// clusters are single sites, and SMC with one per step had an SE of 2 nats here.)
TEST(ClusterIsing, LogZMatchesKaufmanAtL16CriticalPoint) {
  const double exact = test::ising_kaufman_log_z(16, std::stod(std::to_string(kBetaC)));
  auto check = [&](const apps::AisResult& r, const std::string& what, double se_max) {
    std::printf("%s: ln Z %.4f +- %.4f, Kaufman %.4f (%+.2f SE)\n", what.c_str(), r.log_z, r.log_z_stderr, exact,
                (r.log_z - exact) / r.log_z_stderr);
    EXPECT_GT(r.log_z_stderr, 0.0) << what;
    EXPECT_LT(r.log_z_stderr, se_max) << what << ": too imprecise for a meaningful check";
    EXPECT_LT(std::fabs(r.log_z - exact), 4 * r.log_z_stderr)
        << what << ": ln Z " << r.log_z << " +- " << r.log_z_stderr << ", exact " << exact;
  };
  check(run_ais({"--sampler.type=swendsen_wang", "--ais.steps=1000", "--ais.chains=64", "--ais.schedule=linear"}),
        "AIS swendsen_wang", 0.15);
  check(run_ais({"--sampler.type=swendsen_wang", "--ais.method=smc", "--ais.chains=64", "--ais.replicates=4",
                 "--ais.target_ess=0.99"}),
        "SMC swendsen_wang", 0.15);
  check(run_ais({"--sampler.type=swendsen_wang", "--sampler.cluster_from=0.35", "--sampler.hot_sweeps=2",
                 "--ais.method=smc", "--ais.chains=64", "--ais.replicates=8", "--ais.target_ess=0.99",
                 "--ais.replicate_mean=z"}),
        "SMC hybrid (heat-bath below 0.35, swendsen_wang from it), ln of the mean Z", 0.15);
}

// The hybrid on a path that crosses its window, at L = 4 against the enumeration of all
// 2^16 states: SMC (128 particles, 16 replicates) with the window at 0.25 of a path to β = 0.6, within 4 SE.
TEST(ClusterHybrid, SmcLogZMatchesEnumerationAtL4) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_ais_app_keys(cfg);
  cfg.parse_text("", {"--model.type=ising", "--model.L=4", "--ais.beta=0.6", "--ais.method=smc", "--ais.chains=128",
                      "--ais.target_ess=0.999", "--ais.replicates=16", "--sampler.type=swendsen_wang",
                      "--sampler.cluster_from=0.25", "--run.progress_every=1000", "--output.file="});
  const auto r = apps::ais(cfg, self);
  const auto ex = test::ising_enumerate(4, 0.6);
  std::printf("hybrid SMC L = 4: ln Z %.4f +- %.4f, exact %.4f (%+.2f SE)\n", r.log_z, r.log_z_stderr, ex.log_z,
              (r.log_z - ex.log_z) / r.log_z_stderr);
  EXPECT_GT(r.log_z_stderr, 0.0);
  EXPECT_LT(r.log_z_stderr, 0.05);
  EXPECT_LT(std::fabs(r.log_z - ex.log_z), 4 * r.log_z_stderr);
}

}  // namespace
}  // namespace zeta
