//! The same chains whatever the rank count: `zeta sample` and `zeta temper` on
//! all ranks of MPI_COMM_WORLD give bit-identical figures and datasets to the
//! same run on one rank. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "mbar_files.hpp"
#include "oscillators.hpp"
#include "rbm_fixture.hpp"
#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/io/params.hpp"
#include "zeta/parallel/row_gather.hpp"
#include "zeta/parallel/shared_sum.hpp"

namespace zeta {
namespace {

//! Runs a command on every rank of MPI_COMM_WORLD and again on rank 0 alone,
//! hands both results to `compare`, and checks that `datasets` are identical.
template <class Declare, class Run, class Compare>
void expect_same_on_one_rank(const std::string& name, const std::string& ini, Declare declare, Run run,
                             Compare compare, const std::vector<std::string>& datasets) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string many = "ranks_" + name + "_world.h5", one = "ranks_" + name + "_self.h5";
  Config cw, cs;
  declare(cw);
  declare(cs);
  cw.parse_text(ini, {"--output.file=" + many, "--run.progress_every=1000"});
  cs.parse_text(ini, {"--output.file=" + one, "--run.progress_every=1000"});
  const auto rw = run(cw, world);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    compare(rw, run(cs, self));
    for (const auto& ds : datasets) {
      std::vector<hsize_t> dw, dsz;
      const auto a = io::read_doubles(many, ds, dw);
      const auto b = io::read_doubles(one, ds, dsz);
      EXPECT_EQ(dw, dsz) << name << ds;
      EXPECT_TRUE(a == b) << name << ds << " differs between " << world.size() << " ranks and 1";
      EXPECT_FALSE(a.empty());
    }
    std::remove(many.c_str());
    std::remove(one.c_str());
  }
  world.barrier();
}

void expect_rank_independent(const std::string& name, const std::string& ini) {
  expect_same_on_one_rank(
      name, ini, apps::declare_sample_keys, apps::sample,
      [&](const apps::SampleResult& rw, const apps::SampleResult& rs) {
        EXPECT_EQ(rw.mean_energy, rs.mean_energy) << name;
        EXPECT_EQ(rw.mean_energy_stderr, rs.mean_energy_stderr) << name;
        EXPECT_EQ(rw.tau_int, rs.tau_int) << name;
        EXPECT_EQ(rw.acceptance, rs.acceptance) << name;
        EXPECT_GT(rw.acceptance, 0.0) << name;
      },
      {"/samples/x", "/samples/energy"});
}

// Chain counts that do not divide by 2 or 4, so ranks hold unequal blocks.
TEST(RankIndependence, MalaMixture) {
  expect_rank_independent("mala_gmm", R"(
[run]
steps = 300
burn_in = 50
save_every = 25
[model]
type = gmm
weights = 0.3, 0.7
means = -2, 0; 2, 0
[sampler]
type = mala
chains = 13
step_size = 0.5
)");
}

TEST(RankIndependence, HmcGaussian) {
  expect_rank_independent("hmc_gauss", R"(
[run]
steps = 100
burn_in = 10
save_every = 10
[model]
type = gaussian
dim = 7
sigma = 0.5, 1, 1.5, 2, 1, 1, 1
[sampler]
type = hmc
chains = 11
step_size = 0.2
leapfrog = 5
)");
}

TEST(RankIndependence, LangevinMlp) {
  expect_rank_independent("ula_mlp", R"(
[run]
steps = 60
burn_in = 10
save_every = 10
[model]
type = mlp
layers = 2, 32, 32, 1
activation = silu
[sampler]
type = langevin
chains = 9
step_size = 0.01
clip_grad = 5
clamp = -4, 4
)");
}

// `zeta temper` with 8 temperatures: the same exchanges, statistics and time
// series on every rank count (replicas spread unevenly: 8 or 24 over 1, 2, 4).
void expect_temper_rank_independent(const std::string& name, const std::string& ini,
                                    const std::vector<std::string>& datasets) {
  expect_same_on_one_rank(
      name, ini, apps::declare_temper_app_keys, apps::temper,
      [&](const apps::TemperResult& rw, const apps::TemperResult& rs) {
        EXPECT_EQ(rw.betas, rs.betas) << name;
        EXPECT_EQ(rw.mean_energy, rs.mean_energy) << name;
        EXPECT_EQ(rw.mean_energy_stderr, rs.mean_energy_stderr) << name;
        EXPECT_EQ(rw.round_trips, rs.round_trips) << name;
        EXPECT_EQ(rw.move_acceptance, rs.move_acceptance) << name;
        for (std::size_t k = 0; k < rw.acceptance.size(); ++k)
          EXPECT_EQ(rw.acceptance[k], rs.acceptance[k]) << name;
        EXPECT_GT(rw.total_round_trips, 0) << name;
        // Waiting for the slower ranks is part of the time outside the moves, and
        // there is none on one rank.
        EXPECT_GE(rw.sync_wait_fraction, 0.0) << name;
        EXPECT_LE(rw.sync_wait_fraction, rw.exchange_fraction) << name;
        EXPECT_EQ(rs.sync_wait_fraction, 0.0) << name;
      },
      datasets);
}

TEST(RankIndependence, TemperIsingAdaptive) {
  expect_temper_rank_independent("temper_ising", R"(
[run]
steps = 400
burn_in = 100
save_every = 10
[model]
type = ising
L = 8
[sampler]
type = heatbath
[temper]
beta_min = 0.1
beta_max = 0.8
count = 8
adapt = barrier
scheme = random
)",
                                 {"/temper/energy", "/temper/replica", "/temper/magnetization", "/temper/betas"});
}

// Cluster moves (issue 28): Swendsen–Wang in `zeta sample` (13 chains, a field) and
// Wolff (2 clusters per step) in `zeta temper`, whose chains change β by exchanges.
TEST(RankIndependence, IsingClusterMoves) {
  expect_rank_independent("sample_sw", R"(
[run]
steps = 200
burn_in = 20
save_every = 20
[model]
type = ising
L = 6
h = 0.1
[sampler]
type = swendsen_wang
chains = 13
beta = 0.44
)");
  expect_temper_rank_independent("temper_wolff", R"(
[run]
steps = 300
burn_in = 50
save_every = 10
[model]
type = ising
L = 8
[sampler]
type = wolff
clusters = 2
[temper]
beta_min = 0.2
beta_max = 0.7
count = 8
)",
                                 {"/temper/energy", "/temper/replica", "/temper/magnetization", "/temper/betas"});
}

TEST(RankIndependence, TemperMixtureCopies) {
  expect_temper_rank_independent("temper_gmm", R"(
[run]
steps = 300
burn_in = 50
save_every = 10
[model]
type = gmm
weights = 0.2, 0.8
means = -4; 4
variances = 0.25
[sampler]
type = mala
step_size = 0.1
[temper]
beta_min = 0.01
count = 8
copies = 3
)",
                                 {"/temper/energy", "/temper/replica", "/temper/x"});
}

// RBMs (block Gibbs, model.params): `zeta sample` with 13 chains and `zeta temper`
// with 8 temperatures × 3 copies, the same on every rank count.
TEST(RankIndependence, RbmSampleAndTemper) {
  parallel::Comm world(MPI_COMM_WORLD);
  if (world.root()) io::write_rbm_params("ranks_rbm_gibbs.h5", test::tiny_rbm(5, 21, 9));
  world.barrier();
  expect_rank_independent("rbm_sample", R"(
[run]
steps = 200
burn_in = 20
save_every = 10
[model]
type = rbm
params = ranks_rbm_gibbs.h5
[sampler]
chains = 13
beta = 0.8
)");
  expect_temper_rank_independent("temper_rbm", R"(
[run]
steps = 300
burn_in = 50
save_every = 10
[model]
type = rbm
params = ranks_rbm_gibbs.h5
[sampler]
type = gibbs
[temper]
beta_min = 0.2
count = 8
copies = 3
adapt = barrier
)",
                                 {"/temper/energy", "/temper/replica", "/temper/x", "/temper/betas"});
  world.barrier();
  if (world.root()) std::remove("ranks_rbm_gibbs.h5");
}

// `zeta ais`: the same log-weights and ln Z on every rank count (13 chains).
TEST(RankIndependence, AisIsingAndGaussian) {
  const auto compare = [](const apps::AisResult& rw, const apps::AisResult& rs) {
    EXPECT_EQ(rw.log_z, rs.log_z);
    EXPECT_EQ(rw.log_z_stderr, rs.log_z_stderr);
    EXPECT_EQ(rw.ess, rs.ess);
  };
  expect_same_on_one_rank("ais_ising", "[model]\ntype = ising\nL = 8\n[sampler]\ntype = metropolis\n"
                                       "[ais]\nbeta = 0.44\nsteps = 50\nchains = 13\n",
                          apps::declare_ais_app_keys, apps::ais, compare, {"/ais/log_weights", "/ais/betas"});
  expect_same_on_one_rank("ais_ising_sw", "[model]\ntype = ising\nL = 8\n[sampler]\ntype = swendsen_wang\n"
                                          "[ais]\nbeta = 0.44\nsteps = 50\nchains = 13\n",
                          apps::declare_ais_app_keys, apps::ais, compare, {"/ais/log_weights", "/ais/betas"});
  expect_same_on_one_rank("ais_gauss", "[model]\ntype = gaussian\ndim = 3\n[sampler]\ntype = mala\n"
                                       "step_size = 0.2\n[ais]\nsteps = 40\nchains = 13\nschedule = geometric\n",
                          apps::declare_ais_app_keys, apps::ais, compare, {"/ais/log_weights"});
  // An RBM (Gibbs on the base-rate path, with the reverse chains) from a parameter file.
  parallel::Comm world(MPI_COMM_WORLD);
  if (world.root()) {
    io::RbmParams p;
    p.visible = 20, p.hidden = 7;
    std::mt19937_64 gen(3);
    std::normal_distribution<double> nd(0.0, 0.5);
    for (int i = 0; i < 20 * 7; ++i) p.W.push_back(nd(gen));
    for (int i = 0; i < 20; ++i) p.b.push_back(nd(gen)), p.base_bias.push_back(nd(gen));
    for (int j = 0; j < 7; ++j) p.c.push_back(nd(gen));
    io::write_rbm_params("ranks_rbm_params.h5", p);
  }
  world.barrier();
  expect_same_on_one_rank("ais_rbm", "[model]\ntype = rbm\nparams = ranks_rbm_params.h5\n"
                                     "[ais]\nsteps = 60\nchains = 13\nreverse = true\nreverse_burn_in = 20\n",
                          apps::declare_ais_app_keys, apps::ais, compare,
                          {"/ais/log_weights", "/ais/reverse_log_weights"});
  world.barrier();
  if (world.root()) std::remove("ranks_rbm_params.h5");
}

// MBAR with its samples spread over the ranks (whole blocks each, as
// mbar_samples() says): f, the asymptotic errors and the bootstrap of one
// process holding them all, bit for bit; a share of the wrong size is refused
// on every rank.
TEST(RankIndependence, MbarSamplesSpreadOverRanks) {
  parallel::Comm world(MPI_COMM_WORLD);
  test::Oscillators o;
  const int K = static_cast<int>(o.kappa.size());
  const std::int64_t N = std::int64_t(o.x.size());
  const parallel::ChainRange mine = estimators::mbar_samples(N, world);
  std::vector<double> u_local;
  for (int k = 0; k < K; ++k)
    for (std::int64_t i = 0; i < mine.count; ++i) u_local.push_back(o.u[k * N + mine.offset + i]);
  estimators::MbarOptions opt;
  opt.bootstrap = 50;
  opt.seed = 7;
  const auto rw = estimators::mbar(u_local, o.N_k, world, opt);
  const auto rs = estimators::mbar(o.u, o.N_k, opt);
  EXPECT_EQ(rw.f, rs.f);
  EXPECT_EQ(rw.df_stderr, rs.df_stderr);
  EXPECT_EQ(rw.df_bootstrap_stderr, rs.df_bootstrap_stderr);
  std::vector<double> wrong(u_local.begin(), u_local.end() - (world.rank() == 0 ? 1 : 0));
  EXPECT_THROW(estimators::mbar(wrong, o.N_k, world), Error);
}

// `zeta free-energy` on a temper output written by all ranks: the same MBAR,
// BAR and TI estimates on every rank count as on one rank.
TEST(RankIndependence, FreeEnergyOnTemperOutput) {
  parallel::Comm world(MPI_COMM_WORLD);
  Config t;
  apps::declare_temper_app_keys(t);
  t.parse_text("[run]\nsteps = 600\nburn_in = 100\nsave_every = 2\n[model]\ntype = ising\nL = 4\n"
               "[sampler]\ntype = heatbath\n[temper]\nbeta_min = 0\nspacing = linear\ncount = 5\n",
               {"--output.file=ranks_fe.h5", "--run.progress_every=1000"});
  apps::temper(t, world);
  if (world.root()) std::remove("ranks_fe_world.h5");
  const std::vector<std::string> hc = {"--free_energy.heat_capacity=true", "--free_energy.target_betas=0.33",
                                       "--free_energy.bootstrap=3"};
  const auto rw = test::run_free_energy("ranks_fe.h5", "ranks_fe_world.h5", world, hc);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    std::remove("ranks_fe_self.h5");
    const auto rs = test::run_free_energy("ranks_fe.h5", "ranks_fe_self.h5", self, hc);
    EXPECT_EQ(rw.log_z, rs.log_z);
    EXPECT_EQ(rw.log_z_stderr, rs.log_z_stderr);
    EXPECT_EQ(rw.log_z_bar, rs.log_z_bar);
    EXPECT_EQ(rw.log_z_ti, rs.log_z_ti);
    EXPECT_EQ(rw.log_z.size(), 5u);
    for (const char* ds : {"/free_energy/log_z", "/free_energy/overlap", "/free_energy/expectations/energy/sigma",
                           "/free_energy/heat_capacity/C", "/free_energy/heat_capacity/dC",
                           "/free_energy/heat_capacity/dC_bootstrap", "/free_energy/expectations/energy/sigma_bootstrap"}) {
      std::vector<hsize_t> dw, dsz;
      EXPECT_EQ(io::read_doubles("ranks_fe_world.h5", ds, dw), io::read_doubles("ranks_fe_self.h5", ds, dsz)) << ds;
    }
    for (const char* n : {"ranks_fe.h5", "ranks_fe_world.h5", "ranks_fe_self.h5"}) std::remove(n);
  }
  world.barrier();
}

// u_kn = β_k E_n built a block at a time from the energies gives the same bits as
// the same products stored (the solver, covariance and expectations), on any rank count.
TEST(RankIndependence, MbarOnTheFlyEnergiesSameBitsAsStoredUkn) {
  parallel::Comm world(MPI_COMM_WORLD);
  const test::Oscillators o({1.0, 1.6, 2.5, 0.7, 6.5}, {400, 300, 500, 0, 450});
  const parallel::Share mine = estimators::mbar_samples(std::int64_t(o.x.size()), world);
  const int K = int(o.kappa.size());
  std::vector<double> E(mine.count), u(std::size_t(K) * mine.count);
  for (std::int64_t i = 0; i < mine.count; ++i) E[i] = 0.5 * o.x[mine.offset + i] * o.x[mine.offset + i];
  for (int k = 0; k < K; ++k)
    for (std::int64_t i = 0; i < mine.count; ++i) u[k * mine.count + i] = o.kappa[k] * E[i];
  const auto fly = estimators::MbarSamples::of_energies(o.kappa, E);
  const auto stored = estimators::MbarSamples::potentials(u);
  const auto a = estimators::mbar(fly, o.N_k, world), b = estimators::mbar(stored, o.N_k, world);
  EXPECT_EQ(a.f, b.f);
  EXPECT_EQ(a.theta, b.theta);
  EXPECT_EQ(a.iterations, b.iterations);
  const std::vector<std::vector<double>> obs = {E};
  const auto ea = estimators::mbar_expectations(fly, o.N_k, a, obs, world);
  const auto eb = estimators::mbar_expectations(stored, o.N_k, b, obs, world);
  EXPECT_EQ(ea[0].mu, eb[0].mu);
  EXPECT_EQ(ea[0].sigma, eb[0].sigma);
}

// `zeta free-energy` on u_kn (float64 and float32) and energies files, each rank
// reading its own hyperslab of samples: every result array (with a PMF, and after
// free_energy.equilibrate) bit for bit the same as on one rank (1, 2 and 4 ranks),
// with a state without samples.
TEST(RankIndependence, FreeEnergyOnUknAndEnergiesFiles) {
  parallel::Comm world(MPI_COMM_WORLD);
  const test::Oscillators o({1.0, 1.6, 2.5, 4.0, 6.5}, {400, 300, 0, 350, 450});
  const char* arrays[] = {"/free_energy/f_k", "/free_energy/Delta_f", "/free_energy/dDelta_f", "/free_energy/overlap",
                          "/free_energy/effective_samples", "/free_energy/expectations/x/mu",
                          "/free_energy/expectations/x/sigma", "/free_energy/expectations/x2/sigma",
                          "/free_energy/pmf/f", "/free_energy/pmf/df", "/free_energy/pmf/df_bootstrap",
                          "/free_energy/expectations/x/sigma_bootstrap", "/free_energy/expectations/x2/sigma_bootstrap"};
  // u_kn, float32 u_kn, energies, energies equilibrated, u_kln, extended (couplings), extended equilibrated
  for (int form = 0; form < 7; ++form) {
    if (world.root()) {
      const std::vector<double> p = form >= 5 ? std::vector<double>{0.0, 0.2, -0.1, 0.1, -0.2} : std::vector<double>{};
      test::write_mbar_input("ranks_fe_in.h5", o, form == 2 || form == 3 || form >= 5, form == 1, form == 4, p);
      std::remove("ranks_fe_world.h5");
    }
    world.barrier();
    std::vector<std::string> keys = {"--free_energy.bootstrap=5", "--free_energy.pmf=x", "--free_energy.pmf_bins=8"};
    if (form == 3 || form == 6) keys.push_back("--free_energy.equilibrate=true");
    const auto rw = test::run_free_energy("ranks_fe_in.h5", "ranks_fe_world.h5", world, keys);
    if (world.root()) {
      parallel::Comm self(MPI_COMM_SELF);
      std::remove("ranks_fe_self.h5");
      const auto rs = test::run_free_energy("ranks_fe_in.h5", "ranks_fe_self.h5", self, keys);
      EXPECT_EQ(rw.log_z_stderr, rs.log_z_stderr) << form;
      EXPECT_EQ(rw.log_z_bootstrap_stderr, rs.log_z_bootstrap_stderr) << form;
      for (const char* ds : arrays) {
        std::vector<hsize_t> dw, dsz;
        EXPECT_EQ(io::read_doubles("ranks_fe_world.h5", ds, dw), io::read_doubles("ranks_fe_self.h5", ds, dsz))
            << ds << " form " << form;
      }
      for (const char* n : {"ranks_fe_world.h5", "ranks_fe_self.h5"}) std::remove(n);
    }
    world.barrier();
  }
  if (world.root()) std::remove("ranks_fe_in.h5");
}

//! SharedSum: every rank gets the exact sum of every rank's buffer (integers, exact in
//! float), on one node, and with the ranks split into nodes of 1 and 2 (the several-node
//! path: node sums, the leaders' allreduce, the copy from the leader); sizes below the
//! rank count leave some slices empty; the second sum checks that the buffers are reusable.
//! Without a window, the MPI_Allreduce that stands in where none can be allocated.
template <class T>
void expect_shared_sum(int ranks_per_node, bool window = true) {
  parallel::Comm world(MPI_COMM_WORLD);
  const int P = world.size(), me = world.rank();
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(3), std::size_t(1001)}) {
    parallel::SharedSum<T> sum(world, n, ranks_per_node, window);
    ASSERT_EQ(sum.size(), n);
    for (int round = 1; round <= 2; ++round) {
      auto value = [&](int rank, std::size_t i) { return T(round * (rank + 1) * int(i % 13) + rank); };
      for (std::size_t i = 0; i < n; ++i) sum.data()[i] = value(me, i);
      sum.sum();
      for (std::size_t i = 0; i < n; ++i) {
        T want = 0;
        for (int r = 0; r < P; ++r) want += value(r, i);
        ASSERT_EQ(sum.data()[i], want) << "rank " << me << " of " << P << ", " << ranks_per_node
                                       << " ranks per node, n " << n << ", round " << round << ", i " << i
                                       << (window ? "" : ", no window");
      }
    }
  }
}

TEST(SharedSum, EveryRankGetsTheSum) {
  for (int per_node : {0, 1, 2}) {
    expect_shared_sum<float>(per_node);
    expect_shared_sum<double>(per_node);
  }
  expect_shared_sum<float>(0, false);
}

//! RowGather: every rank gets every rank's rows in global chain order and every
//! rank's tail, for uneven chain counts, 1–3 values per row, and 7 calls in a row
//! (the shared window's two slots taken in turn) with ranks arriving at different
//! times; through the shared window on one node, and through MPI_Allgatherv.
void expect_row_gather(bool window) {
  parallel::Comm world(MPI_COMM_WORLD);
  const int P = world.size(), me = world.rank();
  for (std::int64_t global : {std::int64_t(5), std::int64_t(64)})
    for (std::int64_t row_len : {1, 3}) {
      const parallel::ChainRange range = world.chains(global);
      parallel::RowGather g(world, row_len, range, window);
      ASSERT_EQ(g.shared(), window && P > 1);  // the test runs on one node
      auto value = [&](int call, std::int64_t chain, std::int64_t j) { return 1000.0 * call + 10.0 * chain + j; };
      for (int call = 1; call <= 7; ++call) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(40 * ((me + call) % 3));
        while (std::chrono::steady_clock::now() < until) {
        }
        std::vector<double> local;
        for (std::int64_t c = 0; c < range.count; ++c)
          for (std::int64_t j = 0; j < row_len; ++j) local.push_back(value(call, range.offset + c, j));
        local.push_back(-call - 0.5 * me);
        g.gather(local);
        ASSERT_EQ(g.rows().size(), std::size_t(global * row_len));
        for (std::int64_t c = 0; c < global; ++c)
          for (std::int64_t j = 0; j < row_len; ++j)
            ASSERT_EQ(g.rows()[c * row_len + j], value(call, c, j))
                << "rank " << me << " of " << P << ", call " << call << ", chain " << c << (window ? "" : ", MPI");
        ASSERT_EQ(g.tails().size(), std::size_t(P));
        for (int q = 0; q < P; ++q) ASSERT_EQ(g.tails()[q], -call - 0.5 * q) << "rank " << me << ", call " << call;
      }
    }
}

TEST(RowGather, EveryRankGetsEveryRowAndTail) {
  expect_row_gather(true);
  expect_row_gather(false);
}

//! io::publish: the ranks' figures may differ (timings); /summary and every rank's
//! JSON line hold rank 0's, then "output", the published name, which /summary lacks.
//! Fields that differ between ranks are an error on every rank, and nothing is published.
TEST(Publish, SummaryHoldsRankZerosFigures) {
  parallel::Comm world(MPI_COMM_WORLD);
  const int me = world.rank();
  const std::string file = "ranks_publish.h5";
  if (world.root()) std::remove(file.c_str());
  world.barrier();
  JsonSummary j;
  j.add("command", me == 0 ? "test" : "other");
  j.add("wall_s", 1.5 + me);
  j.add("steps", std::int64_t(10 + me));
  j.add("ok", me == 0);
  j.add("betas", std::vector<double>{0.5, double(me)});
  {
    io::OutputFile out(world, file);
    EXPECT_EQ(io::publish(out, j, world), file);
  }
  EXPECT_EQ(j.str(), "{\"command\": \"test\", \"wall_s\": 1.5, \"steps\": 10, \"ok\": true, \"betas\": [0.5, 0], "
                     "\"output\": \"ranks_publish.h5\"}");
  if (world.root()) {
    const io::Handle f = io::open_read(file);
    double wall = 0;
    std::int64_t steps = 0;
    const hid_t a = H5Aopen_by_name(f.id(), "/summary", "wall_s", H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Aread(a, H5T_NATIVE_DOUBLE, &wall), 0);
    H5Aclose(a);
    const hid_t s = H5Aopen_by_name(f.id(), "/summary", "steps", H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Aread(s, H5T_NATIVE_INT64, &steps), 0);
    H5Aclose(s);
    EXPECT_EQ(wall, 1.5);
    EXPECT_EQ(steps, 10);
    EXPECT_EQ(H5Aexists_by_name(f.id(), "/summary", "output", H5P_DEFAULT), 0);
    std::remove(file.c_str());
  }
  world.barrier();
  if (world.size() > 1) {
    JsonSummary uneven;
    uneven.add("command", "test");
    if (me == 1) uneven.add("extra", 1.0);
    io::OutputFile out(world, file);
    EXPECT_THROW(io::publish(out, uneven, world), Error);
  }
  world.barrier();
  if (world.root()) {
    EXPECT_FALSE(std::filesystem::exists(file)) << "published after an error";
  }
}

}  // namespace
}  // namespace zeta
