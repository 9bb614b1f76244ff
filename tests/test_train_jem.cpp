//! train.objective = jem (training/jem.hpp): the JEM gradient (cross-entropy plus the
//! PCD term on E(x) = −logsumexp f(x)) against central finite differences of its loss
//! in double, and ∇x E likewise; a run on Fashion-MNIST with its labels that gives the
//! same bits on 1 and 2 ranks (parameters, monitors, held-out accuracy and ECE), that
//! restarts from a checkpoint bit for bit, and input errors that name the key; the
//! same for an mlp of K outputs (model.layers = 784,…,K, which Net runs as linear
//! layers: models::mlp_as_net), whose layout matches Mlp's; and `zeta sample` of a
//! trained classifier (net or mlp), whose energy is −logsumexp f(x).
//! Registered at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <tuple>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/net_params.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/models/net.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/jem.hpp"

namespace zeta {
namespace {

using test::dataset;
using test::expect_restart_bit_for_bit;
using test::json_figure;
using test::run_train;
using test::train_error;
using Space = training::Objective::Space;

const std::string kImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

// A small conv classifier of Fashion-MNIST's 10 classes on 512 labelled images, 512
// held-out ones, PCD on its energy with a replay buffer.
const std::string kJem = R"(
[run]
seed = 5
steps = 12
[model]
type = net
net = conv(4,4,2,1) lrelu(0.2) flatten sn_linear(16) lrelu(0.2) linear(10)
input = 1,28,28
init_seed = 2
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
labels = /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz
heldout_path = /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
heldout_labels = /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
limit = 512
partitions = 4
[train]
objective = jem
batch = 16
k = 4
buffer_size = 128
reinit_prob = 0.05
energy_reg = 0.1
clip_norm = 1
eval_every = 4
optimizer = adam
lr = 1e-3
[sampler]
step_size = 2
noise_scale = 0.007
clamp = 0,1
)";

// The same run with an mlp 784-16-10 in place of the net (ModelSpec::mlp_logits).
std::string mlp_ini() {
  std::string t = kJem;
  const auto at = t.find("[model]"), end = t.find("[data]");
  return t.substr(0, at) + "[model]\ntype = mlp\nlayers = 784,16,10\nactivation = softplus\ninit_seed = 2\n" +
         t.substr(end);
}
const std::string kJemMlp = mlp_ini();

void remove_files(const std::vector<std::string>& files) {
  for (const auto& f : files)
    for (const std::string sfx : {"", ".prev"}) std::remove((f + sfx).c_str());
}

//! Equal bit for bit (NaN marks an empty reliability bin).
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

Matrix<Space> rows(std::int64_t n, int dim, std::uint64_t key) {
  Matrix<Space> x("x", n, dim);
  auto h = Kokkos::create_mirror_view(x);
  const rng::Stream s(11, key, 0, rng::kInit);
  for (std::int64_t i = 0; i < n; ++i)
    for (int k = 0; k < dim; ++k) h(i, k) = Real(2 * s.uniform(std::uint32_t(i * dim + k)) - 1);
  Kokkos::deep_copy(x, h);
  return x;
}

//! max over the rows of x and their coordinates of |central difference of E − g|, E of
//! one row by energy(x1, e1) (x1: 1 × dim, e1: 1).
template <class EnergyOfRow>
double worst_x_gradient(const EnergyOfRow& energy, const Matrix<Space>& x, const std::vector<double>& g) {
  const int n = int(x.extent(0)), dim = int(x.extent(1));
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  Matrix<Space> xq("xq", 1, dim);
  auto hq = Kokkos::create_mirror_view(xq);
  Vector<Space> e1("e1", 1);
  const double h = 1e-6;
  double worst = 0;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < dim; ++k) {
      double side[2];
      for (int sgn = 0; sgn < 2; ++sgn) {
        for (int j = 0; j < dim; ++j) hq(0, j) = hx(i, j);
        hq(0, k) += sgn == 0 ? h : -h;
        Kokkos::deep_copy(xq, hq);
        energy(xq, e1);
        side[sgn] = host_copy(e1)[0];
      }
      worst = std::max(worst, std::fabs((side[0] - side[1]) / (2 * h) - g[std::size_t(i * dim + k)]));
    }
  return worst;
}

// L(θ) = Σ_n w CE_n(x₊) + Σ_n (c E(x₊_n) + a E²) + Σ_n (−c E(x₋_n) + a E²): the
// gradient of JemEnergy (cross_entropy_grad + contrastive_grad, through σ of an sn
// layer) against central differences of L, and ∇x E against differences in x.
void expect_jem_gradient(const models::NetArch& arch, const std::vector<double>& theta0,
                         const std::vector<double>& spectral) {
  models::Net<Space> net(arch, theta0, spectral);
  training::JemEnergy head(net);
  ASSERT_EQ(head.classes(), 3);
  const std::int64_t n = 5;
  const auto xp = rows(n, 4, 1), xn = rows(n, 4, 2);
  training::JemEnergy::Labels y("y", n);
  auto hy = Kokkos::create_mirror_view(y);
  for (int i = 0; i < n; ++i) hy(i) = (i * 2) % 3;
  Kokkos::deep_copy(y, hy);
  const double w = 0.3, c = 0.2, a = 0.05;
  Vector<Space> ce("ce", n), E("E", n);
  const auto loss_and_grad = [&](const Vector<Space>& g) {
    head.cross_entropy_grad(xp, y, w, g, ce);
    double L = 0;
    for (double v : host_copy(ce)) L += w * v;
    head.contrastive_grad(xp, c, a, g, E);
    for (double e : host_copy(E)) L += c * e + a * e * e;
    head.contrastive_grad(xn, -c, a, g, E);
    for (double e : host_copy(E)) L += -c * e + a * e * e;
    return L;
  };
  Vector<Space> g = net.gradient_buffer();
  loss_and_grad(g);
  const auto grad = host_copy(g);
  const double h = 1e-6;
  double worst = 0, scale = 0;
  for (std::size_t q = 0; q < theta0.size(); ++q) {
    auto t = theta0;
    t[q] += h;
    net.set_params(t);
    Vector<Space> scratch = net.gradient_buffer();
    const double up = loss_and_grad(scratch);
    t[q] -= 2 * h;
    net.set_params(t);
    const double down = loss_and_grad(scratch);
    const double fd = (up - down) / (2 * h);
    worst = std::max(worst, std::fabs(fd - grad[q]));
    scale = std::max(scale, std::fabs(fd));
  }
  net.set_params(theta0);
  EXPECT_GT(scale, 1e-2);
  EXPECT_LT(worst, 1e-7 * std::max(1.0, scale)) << "worst |FD - grad| over " << theta0.size() << " parameters";

  // ∇x E(x) = −J_xᵀ softmax f(x).
  Matrix<Space> gx("gx", n, 4);
  head.energy_and_grad(xp, E, gx);
  const auto gxh = host_copy(gx);
  const double worst_x = worst_x_gradient([&](const auto& x1, const auto& e1) { head.energy(x1, e1); }, xp, gxh);
  EXPECT_LT(worst_x, 1e-7);
  // E = −logsumexp of the logits, the probabilities sum to one.
  Matrix<Space> p("p", n, 3);
  head.probabilities(xp, p);
  head.energy(xp, E);
  const auto ph = host_copy(p), eh = host_copy(E);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(ph[3 * i] + ph[3 * i + 1] + ph[3 * i + 2], 1.0, 1e-12);
  Matrix<Space> f("f", n, 3);
  net.outputs(xp, f);
  const auto fh = host_copy(f);
  for (int i = 0; i < n; ++i) {
    double z = 0;
    for (int k = 0; k < 3; ++k) z += std::exp(fh[3 * i + k]);
    EXPECT_NEAR(eh[i], -std::log(z), 1e-12);
  }
}

TEST(JemGradient, MatchesFiniteDifferencesOfTheLoss) {
  if (sizeof(Real) != sizeof(double)) GTEST_SKIP() << "finite differences need the double build";
  const auto arch = models::parse_net("linear(6) silu sn_linear(5) softplus linear(3)", {4}, models::NetOutputs::logits);
  expect_jem_gradient(arch, models::Net<Space>::random_params(arch, 3), models::Net<Space>::random_spectral(arch, 3));
}

// An mlp of K outputs: its layers as a net (each activation), with the mlp's draws.
TEST(JemGradient, MlpMatchesFiniteDifferencesOfTheLoss) {
  if (sizeof(Real) != sizeof(double)) GTEST_SKIP() << "finite differences need the double build";
  for (auto act : {models::Activation::silu, models::Activation::softplus, models::Activation::leaky_relu}) {
    SCOPED_TRACE(models::activation_name(act));
    const std::vector<int> layers = {4, 6, 5, 3};
    expect_jem_gradient(models::mlp_as_net(layers, act),
                        models::Mlp<Space>::random_params(layers, 3).flat(), {});
  }
}

// mlp_as_net is the mlp: with one output, Net on the mlp's θ gives Mlp's energies and ∇x E.
TEST(JemMlp, NetOfAnMlpIsTheMlp) {
  const double tol = sizeof(Real) == sizeof(double) ? 1e-12 : 1e-4;
  for (auto act : {models::Activation::silu, models::Activation::softplus, models::Activation::leaky_relu}) {
    SCOPED_TRACE(models::activation_name(act));
    const std::vector<int> layers = {4, 7, 5, 1};
    const auto p = models::Mlp<Space>::random_params(layers, 4);
    models::Mlp<Space> mlp(p, act);
    models::Net<Space> net(models::mlp_as_net(layers, act), p.flat());
    ASSERT_EQ(net.n_params(), mlp.n_params());
    const auto x = rows(16, 4, 3);
    Vector<Space> e1("e1", 16), e2("e2", 16);
    Matrix<Space> g1("g1", 16, 4), g2("g2", 16, 4);
    mlp.energy_and_grad(x, e1, g1);
    net.energy_and_grad(x, e2, g2);
    const auto a = host_copy(e1), b = host_copy(e2), ga = host_copy(g1), gb = host_copy(g2);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol * (1 + std::fabs(a[i])));
    for (std::size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], tol * (1 + std::fabs(ga[i])));
  }
}

//! The rank check (train_support.hpp) of `ini`; /eval/reliability (NaN in an empty bin)
//! compared bit for bit here, then more(one-rank run, its file).
void expect_ranks_bitwise(const std::string& ini, const std::string& tag, const std::vector<std::string>& sets,
                          const std::function<void(const apps::TrainResult&, const std::string&)>& more) {
  ASSERT_TRUE(std::ifstream(kImages).good()) << kImages << " is missing";
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string t = tag + "_n" + std::to_string(world.size());
  const auto run = [&](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(ini, o, c); };
  test::expect_same_bits_as_one_rank(
      run, t, sets, world, [&](const apps::TrainResult&, const apps::TrainResult& rs, const std::string& one) {
        EXPECT_TRUE(same_bits(dataset(t + "_world.h5", "/eval/reliability"), dataset(one, "/eval/reliability")));
        more(rs, one);
      });
}

// 1 and 2 ranks against one rank: the same parameters, monitors, held-out accuracy and
// ECE, bit for bit (train.deterministic).
TEST(JemRanks, DeterministicIsBitwise) {
  const std::vector<std::string> sets = {
      "/train/step",        "/train/loss",       "/train/cross_entropy", "/train/generative_loss",
      "/train/energy_data", "/train/energy_model", "/train/grad_norm",   "/eval/energy_data",
      "/eval/samples",      "/eval/accuracy",    "/eval/ece",            "/eval/heldout_nll",
      "/model/net/layer_3/weight_u"};
  expect_ranks_bitwise(kJem, "jem", sets, [](const apps::TrainResult& rs, const std::string& one) {
    const std::string j = rs.json.str();
    const double acc = json_figure(j, "accuracy"), ece = json_figure(j, "ece");
    EXPECT_EQ(acc, dataset(one, "/eval/accuracy")[0]);
    EXPECT_EQ(ece, dataset(one, "/eval/ece")[0]);
    EXPECT_EQ(json_figure(j, "heldout_examples"), 512);
    EXPECT_EQ(json_figure(j, "classes"), 10);
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
    EXPECT_GE(ece, 0.0);
    EXPECT_LE(ece, 1.0);
    // The reliability table adds up to the held-out examples and, with the bins'
    // accuracies, to the accuracy; |acc − conf| weighted by the bins is the ECE.
    const auto rel = dataset(one, "/eval/reliability");
    ASSERT_EQ(rel.size(), 45u);
    double n = 0, hits = 0, e = 0;
    for (int b = 0; b < 15; ++b) {
      if (rel[3 * b] == 0) continue;
      n += rel[3 * b];
      hits += rel[3 * b] * rel[3 * b + 1];
      e += rel[3 * b] * std::fabs(rel[3 * b + 1] - rel[3 * b + 2]);
    }
    EXPECT_EQ(n, 512);
    EXPECT_NEAR(hits / n, acc, 1e-12);
    EXPECT_NEAR(e / n, ece, 1e-12);
    // loss = CE + the generative term.
    const auto L = dataset(one, "/train/loss"), ce = dataset(one, "/train/cross_entropy"),
               gen = dataset(one, "/train/generative_loss");
    for (std::size_t q = 0; q < L.size(); ++q) EXPECT_NEAR(L[q], ce[q] + gen[q], 1e-12 * (1 + std::fabs(L[q])));
    // 12 steps of training lower the cross-entropy from ln 10 at the start.
    EXPECT_LT(ce.back(), ce.front());
  });
}

// The mlp's JEM on 1 and 2 ranks against one rank, bit for bit; its output is an mlp's
// model.params (/model/layer_l).
TEST(JemMlpRanks, DeterministicIsBitwise) {
  const std::vector<std::string> sets = {"/train/loss",    "/train/cross_entropy", "/train/energy_model",
                                         "/eval/samples",  "/eval/accuracy",       "/eval/ece",
                                         "/model/layer_1/weight"};
  expect_ranks_bitwise(kJemMlp, "jem_mlp", sets, [](const apps::TrainResult& rs, const std::string& one) {
    std::vector<hsize_t> dims;
    dataset(one, "/model/layer_1/weight", &dims);
    EXPECT_EQ(dims, (std::vector<hsize_t>{10, 16}));
    EXPECT_EQ(io::read_mlp_params(one, {784, 16, 10}).flat(), rs.params);
    const std::string j = rs.json.str();
    EXPECT_EQ(json_figure(j, "classes"), 10);
    EXPECT_NE(j.find("\"model\": \"mlp\""), std::string::npos) << j;
    const auto ce = dataset(one, "/train/cross_entropy");
    EXPECT_LT(ce.back(), ce.front());
  });
}

// The mlp's restart: 12 steps straight == 6, checkpoint (its /model/layer_l, the
// optimizer state and the replay buffer), restart, 6; on the same ranks and on one.
TEST(JemMlpCheckpoint, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string tag = "jem_mlp_restart_n" + std::to_string(world.size());
  const std::vector<std::string> sets = {"/model/layer_0/weight", "/model/layer_1/bias", "/optimizer/m",
                                         "/train/replay_buffer", "/train/cross_entropy"};
  const auto run = [](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(kJemMlp, o, c); };
  const auto [a, c] = expect_restart_bit_for_bit(run, tag, 12, 6, sets, world);
  EXPECT_EQ(json_figure(c.json.str(), "accuracy"), json_figure(a.json.str(), "accuracy"));
  if (world.root()) remove_files({tag + "_straight.ckpt", tag + "_half.ckpt", tag + "_half.ckpt.copy"});
  world.barrier();
}

// 12 steps straight == 6, checkpoint (with the replay buffer and the sn vectors),
// restart, 6: the same parameters, optimizer state, buffer, monitors and held-out
// figures, on the same rank count and on one rank.
TEST(JemCheckpoint, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string tag = "jem_restart_n" + std::to_string(world.size());
  const std::vector<std::string> sets = {"/model/net/layer_0/weight",   "/model/net/layer_3/weight",
                                         "/model/net/layer_3/weight_u", "/optimizer/m",
                                         "/train/replay_buffer",        "/train/cross_entropy"};
  const auto run = [](const std::vector<std::string>& o, const parallel::Comm& c) { return run_train(kJem, o, c); };
  const auto [a, c] = expect_restart_bit_for_bit(run, tag, 12, 6, sets, world);
  EXPECT_EQ(json_figure(c.json.str(), "accuracy"), json_figure(a.json.str(), "accuracy"));
  EXPECT_EQ(json_figure(c.json.str(), "ece"), json_figure(a.json.str(), "ece"));
  if (world.root()) remove_files({tag + "_straight.ckpt", tag + "_half.ckpt", tag + "_half.ckpt.copy"});
  world.barrier();
}

TEST(JemInput, ErrorsNameTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  // (ini, overrides, what the error must say); the mlp's cases name model.layers.
  const std::vector<std::tuple<const std::string*, std::vector<std::string>, std::string>> cases = {
      {&kJem, {"--data.labels=/nonexistent/labels.gz"}, "data.labels: '/nonexistent/labels.gz'"},
      {&kJem, {"--data.labels=" + dir + "t10k-labels-idx1-ubyte.gz"},
       "data.labels: '" + dir + "t10k-labels-idx1-ubyte.gz' has 10000 labels but"},
      {&kJem, {"--data.labels=", "--data.heldout_labels="}, "data.labels: is required by train.objective = jem"},
      {&kJem, {"--data.heldout_labels="}, "data.heldout_labels: is required"},
      {&kJem, {"--data.heldout_labels=" + dir + "train-labels-idx1-ubyte.gz"}, "data.heldout_labels: '"},
      // Fashion-MNIST has 10 classes: 5 logits leave labels 5 .. 9 without one.
      {&kJem, {"--model.net=conv(4,4,2,1) lrelu(0.2) flatten linear(16) lrelu(0.2) linear(5)"}, "data.labels: example"},
      {&kJem, {"--model.net=conv(4,4,2,1) lrelu(0.2) flatten linear(16) lrelu(0.2) linear(1)"}, "model.net: ends with"},
      {&kJem, {"--model.type=mlp"}, "model.layers: ends in 1; train.objective = jem needs K >= 2"},
      {&kJemMlp, {"--data.labels=", "--data.heldout_labels="}, "data.labels: is required by train.objective = jem"},
      {&kJemMlp, {"--model.layers=784,16,5"}, "data.labels: example"},
      {&kJemMlp, {"--model.layers=784,16,5"}, "model.layers' last size gives K = 5"},
      {&kJemMlp, {"--model.layers=784,16,1"}, "model.layers: ends in 1; train.objective = jem needs K >= 2"},
      {&kJemMlp, {"--model.layers=100,16,10"}, "model.layers: gives 100 inputs"},
      {&kJemMlp, {"--train.objective=pcd"}, "model.layers: must list at least two sizes and end in 1"},
  };
  for (const auto& [ini, args, key] : cases) {
    const auto e = train_error(*ini, args, world);
    EXPECT_NE(e.find(key), std::string::npos) << args[0] << ": " << e;
  }
}

// The logits f(x) of an mlp 4-6-3 (silu) in double, from its layers: the hand
// computation of E(x) = −logsumexp f(x).
double hand_energy(const io::MlpParams& p, const double* x) {
  std::vector<double> a(x, x + p.layers[0]);
  for (std::size_t l = 0; l + 1 < p.layers.size(); ++l) {
    const int in = p.layers[l], out = p.layers[l + 1];
    std::vector<double> z(std::size_t(out), 0.0);
    for (int o = 0; o < out; ++o) {
      z[o] = p.bias[l][o];
      for (int i = 0; i < in; ++i) z[o] += p.weight[l][std::size_t(o) * in + i] * a[i];
      if (l + 2 < p.layers.size()) z[o] = z[o] / (1 + std::exp(-z[o]));
    }
    a = z;
  }
  double m = a[0], s = 0;
  for (double v : a) m = std::max(m, v);
  for (double v : a) s += std::exp(v - m);
  return -(m + std::log(s));
}

// `zeta sample` of a classifier's parameters (an mlp's file and a net's): the saved
// energies are −logsumexp f of the saved states, by hand; the same bits on 1 and 2 ranks;
// ∇x E of the sampling passes (fixed chunks) against finite differences.
TEST(JemSample, SamplesTheLogsumexpEnergy) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string tag = "jem_sample_n" + std::to_string(world.size());
  const std::vector<int> layers = {4, 6, 3};
  const auto p = models::Mlp<Space>::random_params(layers, 9);
  const std::string mlp_file = tag + "_mlp.h5", net_file = tag + "_net.h5";
  const auto arch = models::parse_net("linear(6) silu linear(3)", {4}, models::NetOutputs::either);
  if (world.root()) {
    io::write_mlp_params(mlp_file, p);
    io::Handle f = io::create_serial(net_file);
    io::write_net_params(f.id(), arch, p.flat(), {});
  }
  world.barrier();
  const double tol = sizeof(Real) == sizeof(double) ? 1e-10 : 1e-4;
  for (const bool net : {false, true}) {
    SCOPED_TRACE(net ? "net" : "mlp");
    const auto run = [&](const parallel::Comm& c, const std::string& out) {
      Config cfg;
      apps::declare_sample_keys(cfg);
      std::vector<std::string> o = {"--sampler.type=langevin", "--sampler.chains=8", "--sampler.step_size=0.01",
                                    "--run.steps=40", "--run.burn_in=10", "--run.save_every=10", "--run.seed=4",
                                    "--run.progress_every=1000", "--output.file=" + out};
      if (net) o.insert(o.end(), {"--model.type=net", "--model.net=linear(6) silu linear(3)", "--model.input=4",
                                  "--model.params=" + net_file});
      else o.insert(o.end(), {"--model.type=mlp", "--model.layers=4,6,3", "--model.params=" + mlp_file});
      cfg.parse_text("", o);
      return apps::sample(cfg, c);
    };
    const std::string many = tag + "_world.h5", one = tag + "_self.h5";
    const auto rw = run(world, many);
    EXPECT_EQ(rw.steps_done, 40);
    // The summary names the model.type given, not the Net that runs an mlp's logits.
    const std::string model = std::string("\"model\": \"") + (net ? "net" : "mlp") + "\"";
    EXPECT_NE(rw.json.str().find(model), std::string::npos) << rw.json.str();
    if (world.root()) {
      parallel::Comm self(MPI_COMM_SELF);
      run(self, one);
      std::vector<hsize_t> dims;
      const auto x = dataset(many, "/samples/x", &dims), e = dataset(many, "/samples/energy");
      ASSERT_EQ(dims.back(), 4u);
      ASSERT_EQ(x.size(), 4 * e.size());
      ASSERT_GE(e.size(), 8u * 3);
      double spread = 0;
      for (std::size_t r = 0; r < e.size(); ++r) {
        const double want = hand_energy(p, x.data() + 4 * r);
        EXPECT_NEAR(e[r], want, tol * (1 + std::fabs(want))) << "saved state " << r;
        spread = std::max(spread, std::fabs(e[r] - e[0]));
      }
      EXPECT_GT(spread, 1e-3);  // the chains moved
      if (sizeof(Real) == sizeof(double)) {
        EXPECT_TRUE(same_bits(x, dataset(one, "/samples/x")));
        EXPECT_TRUE(same_bits(e, dataset(one, "/samples/energy")));
      }
      remove_files({many, one});
    }
    world.barrier();
  }
  if (world.root()) remove_files({mlp_file, net_file});
  if (sizeof(Real) != sizeof(double)) return;
  // ∇x E(x) = −J_xᵀ softmax f(x) of the sampling passes (fix_chunk) of a 3-logit net.
  models::Net<Space> net(arch, p.flat());
  net.fix_chunk(16);
  const auto x = rows(5, 4, 7);
  Vector<Space> E("E", 5);
  Matrix<Space> g("g", 5, 4);
  net.energy_and_grad(x, E, g);
  const auto gh = host_copy(g), eh = host_copy(E);
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  for (int i = 0; i < 5; ++i) {
    const double xi[4] = {hx(i, 0), hx(i, 1), hx(i, 2), hx(i, 3)};
    EXPECT_NEAR(eh[i], hand_energy(p, xi), 1e-12);
  }
  EXPECT_LT(worst_x_gradient([&](const auto& x1, const auto& e1) { net.energy(x1, e1); }, x, gh), 1e-7);
}

}  // namespace
}  // namespace zeta
