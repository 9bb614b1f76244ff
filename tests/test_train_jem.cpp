//! train.objective = jem (training/jem.hpp): the JEM gradient (cross-entropy plus the
//! PCD term on E(x) = −logsumexp f(x)) against central finite differences of its loss
//! in double, and ∇x E likewise; a run on Fashion-MNIST with its labels that gives the
//! same bits on 1 and 2 ranks (parameters, monitors, held-out accuracy and ECE), that
//! restarts from a checkpoint bit for bit, and input errors that name the key.
//! Registered at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
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

// L(θ) = Σ_n w CE_n(x₊) + Σ_n (c E(x₊_n) + a E²) + Σ_n (−c E(x₋_n) + a E²): the
// gradient of JemEnergy (cross_entropy_grad + contrastive_grad, through σ of an sn
// layer) against central differences of L, and ∇x E against differences in x.
TEST(JemGradient, MatchesFiniteDifferencesOfTheLoss) {
  if (sizeof(Real) != sizeof(double)) GTEST_SKIP() << "finite differences need the double build";
  const auto arch = models::parse_net("linear(6) silu sn_linear(5) softplus linear(3)", {4}, true);
  const auto theta0 = models::Net<Space>::random_params(arch, 3);
  models::Net<Space> net(arch, theta0, models::Net<Space>::random_spectral(arch, 3));
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
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), xp);
  double worst_x = 0;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 4; ++k) {
      Matrix<Space> xq("xq", 1, 4);
      auto hq = Kokkos::create_mirror_view(xq);
      Vector<Space> e1("e1", 1);
      double side[2];
      for (int sgn = 0; sgn < 2; ++sgn) {
        for (int j = 0; j < 4; ++j) hq(0, j) = hx(i, j);
        hq(0, k) += sgn == 0 ? h : -h;
        Kokkos::deep_copy(xq, hq);
        head.energy(xq, e1);
        side[sgn] = host_copy(e1)[0];
      }
      worst_x = std::max(worst_x, std::fabs((side[0] - side[1]) / (2 * h) - gxh[i * 4 + k]));
    }
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

// 1 and 2 ranks against one rank: the same parameters, monitors, held-out accuracy and
// ECE, bit for bit (train.deterministic).
TEST(JemRanks, DeterministicIsBitwise) {
  ASSERT_TRUE(std::ifstream(kImages).good()) << kImages << " is missing";
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string tag = "jem_n" + std::to_string(world.size());
  const std::string many = tag + "_world.h5", one = tag + "_self.h5";
  const auto rw = run_train(kJem, {"--output.file=" + many}, world);
  ASSERT_EQ(rw.status, "ok");
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const auto rs = run_train(kJem, {"--output.file=" + one}, self);
    EXPECT_TRUE(rw.params == rs.params) << "parameters differ between " << world.size() << " ranks and 1";
    for (const std::string ds :
         {"/train/step", "/train/loss", "/train/cross_entropy", "/train/generative_loss", "/train/energy_data",
          "/train/energy_model", "/train/grad_norm", "/eval/energy_data", "/eval/samples", "/eval/accuracy",
          "/eval/ece", "/eval/heldout_nll", "/eval/reliability", "/model/net/layer_3/weight_u"})
      EXPECT_TRUE(same_bits(dataset(many, ds), dataset(one, ds))) << ds;
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
    remove_files({many, one});
  }
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
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--data.labels=/nonexistent/labels.gz"}, "data.labels: '/nonexistent/labels.gz'"},
      {{"--data.labels=" + dir + "t10k-labels-idx1-ubyte.gz"},
       "data.labels: '" + dir + "t10k-labels-idx1-ubyte.gz' has 10000 labels but"},
      {{"--data.labels=", "--data.heldout_labels="}, "data.labels: is required by train.objective = jem"},
      {{"--data.heldout_labels="}, "data.heldout_labels: is required"},
      {{"--data.heldout_labels=" + dir + "train-labels-idx1-ubyte.gz"}, "data.heldout_labels: '"},
      // Fashion-MNIST has 10 classes: 5 logits leave labels 5 .. 9 without one.
      {{"--model.net=conv(4,4,2,1) lrelu(0.2) flatten linear(16) lrelu(0.2) linear(5)"}, "data.labels: example"},
      {{"--model.net=conv(4,4,2,1) lrelu(0.2) flatten linear(16) lrelu(0.2) linear(1)"}, "model.net: ends with"},
      {{"--model.type=mlp"}, "train.objective: jem trains model.type = net"},
  };
  for (const auto& [args, key] : cases) {
    const auto e = train_error(kJem, args, world);
    EXPECT_NE(e.find(key), std::string::npos) << args[0] << ": " << e;
  }
}

}  // namespace
}  // namespace zeta
