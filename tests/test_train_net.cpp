//! `zeta train --model.type=net`: a small conv energy on Fashion-MNIST trained by PCD
//! (replay buffer, Langevin negatives, energy regulariser, gradient clipping; also with
//! spectral normalisation) and CD:
//! bitwise-identical parameters, monitors and after-training energies on 1, 2 and 4
//! ranks (train.deterministic), close ones with one allreduce, restart bit for bit
//! with the replay buffer, the output's layout (PyTorch shapes), `zeta sample` on the
//! trained net with the same bits on any rank count, and input errors that name the
//! key. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/net_params.hpp"
#include "zeta/models/net_arch.hpp"

namespace zeta {
namespace {

using test::dataset;
using test::expect_restart_bit_for_bit;
using test::run_train;
using test::train_error;

const std::string kImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

// A small conv energy of the tutorial's shape on 512 Fashion-MNIST images.
const std::string kNet = R"(
[run]
seed = 3
steps = 12
[model]
type = net
net = conv(4,4,2,1) lrelu(0.2) conv(8,4,2,1) lrelu(0.2) flatten linear(16) lrelu(0.2) linear(1)
input = 1,28,28
init_seed = 2
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
limit = 512
partitions = 4
[train]
objective = pcd
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
step_size = 10
clip_grad = 0.01
clamp = 0,1
)";

// The same with spectral normalisation on every weighted layer but the last.
const std::string kSnNet =
    "--model.net=sn_conv(4,4,2,1) lrelu(0.2) sn_conv(8,4,2,1) lrelu(0.2) flatten sn_linear(16) lrelu(0.2) linear(1)";

void remove_files(const std::vector<std::string>& files) {
  for (const auto& f : files)
    for (const std::string sfx : {"", ".prev"}) std::remove((f + sfx).c_str());
}

// 1, 2, 4 ranks against one rank, PCD and CD: bitwise-identical parameters, monitors
// and after-training energies (train.deterministic); close with one allreduce.
TEST(TrainNetRanks, DeterministicIsBitwiseAndAllreduceIsClose) {
  ASSERT_TRUE(std::ifstream(kImages).good()) << kImages << " is missing";
  parallel::Comm world(MPI_COMM_WORLD);
  for (const std::string obj : {"pcd", "cd", "sn"}) {
    // sn: pcd with spectral normalisation.
    const std::string o = obj == "sn" ? kSnNet : "--train.objective=" + obj;
    const auto run = [&](const std::vector<std::string>& a, const parallel::Comm& c) {
      return run_train(kNet, test::prepend(o, a), c);
    };
    const auto nw = run({"--train.deterministic=false", "--output.file="}, world);
    const auto more = [&](const apps::TrainResult&, const apps::TrainResult& rs, const std::string& one) {
      parallel::Comm self(MPI_COMM_SELF);
      if (obj == "sn") {
        // u is a unit vector; the last layer has none.
        double uu = 0;
        for (double v : dataset(one, "/model/net/layer_2/weight_u")) uu += v * v;
        EXPECT_NEAR(uu, 1.0, 1e-6);
        std::vector<hsize_t> dv;
        dataset(one, "/model/net/layer_2/weight_v", &dv);
        EXPECT_EQ(dv, (std::vector<hsize_t>{64}));
        EXPECT_THROW(dataset(one, "/model/net/layer_7/weight_u"), Error);
      }
      EXPECT_EQ(dataset(one, "/train/step"), (std::vector<double>{0, 4, 8, 12}));
      // PyTorch's shapes: Conv2d [out, in, kh, kw], Linear [out, in].
      std::vector<hsize_t> dims;
      dataset(one, "/model/net/layer_2/weight", &dims);
      EXPECT_EQ(dims, (std::vector<hsize_t>{8, 4, 4, 4}));
      dataset(one, "/model/net/layer_5/weight", &dims);
      EXPECT_EQ(dims, (std::vector<hsize_t>{16, 392}));
      EXPECT_EQ(dataset(one, "/eval/samples").size(), 16u * 784);
      EXPECT_NE(rs.json.str().find("\"model\": \"net\""), std::string::npos) << rs.json.str();
      // The monitors add up: loss = <E+> - <E-> + alpha (<E+^2> + <E-^2>) >= <E+> - <E->.
      const auto loss = dataset(one, "/train/loss"), ed = dataset(one, "/train/energy_data"),
                 em = dataset(one, "/train/energy_model");
      for (std::size_t q = 0; q < loss.size(); ++q) EXPECT_GE(loss[q], ed[q] - em[q] - 1e-12) << obj;
      // Training moved the parameters; clip_norm = 1 bounds each Adam step's input, not θ.
      EXPECT_GT(test::max_abs_difference(rs.params, run({"--run.steps=1", "--output.file="}, self).params), 1e-3)
          << obj;
      // One allreduce: the same numbers up to the summation order.
      const auto ns = run({"--train.deterministic=false", "--output.file="}, self);
      double scale = 0;
      for (double v : ns.params) scale = std::max(scale, std::fabs(v));
      const double tol = sizeof(Real) == sizeof(double) ? 1e-8 : 0.05;
      EXPECT_LE(test::max_abs_difference(nw.params, ns.params), tol * scale) << obj;
      EXPECT_LE(test::max_abs_difference(rs.params, ns.params), tol * scale) << obj;
    };
    std::vector<std::string> sets = {"/train/step",
                                     "/train/loss",
                                     "/train/energy_data",
                                     "/train/energy_model",
                                     "/train/grad_norm",
                                     "/eval/energy_data",
                                     "/eval/energy_model",
                                     "/eval/energy_noise",
                                     "/eval/samples",
                                     "/model/net/layer_0/weight",
                                     "/model/net/layer_2/bias",
                                     "/model/net/layer_7/weight"};
    if (obj == "sn")
      for (const std::string ds :
           {"/model/net/layer_0/weight_u", "/model/net/layer_2/weight_v", "/model/net/layer_5/weight_u"})
        sets.push_back(ds);
    test::expect_same_bits_as_one_rank(run, "net_n" + std::to_string(world.size()) + "_" + obj, sets, world, more);
  }
}

// A ResNet-style energy (a res( … ) block with GroupNorm): the same parameter bits on
// 1 rank and on 2 or 4 (train.deterministic), training moved GroupNorm's scale and
// shift, and the output holds them as PyTorch's GroupNorm weight and bias [C], read
// back by model.params to the same θ (the save / load round trip).
TEST(TrainNetRanks, ResidualGroupNormIsBitwise) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string net =
      "--model.net=conv(4,4,2,1) res( groupnorm(2) silu conv(4,3,1,1) groupnorm(2) silu conv(4,3,1,1) ) "
      "conv(8,4,2,1) lrelu(0.2) flatten linear(16) lrelu(0.2) linear(1)";
  const std::string tag = "net_res_n" + std::to_string(world.size());
  const std::string many = tag + "_world.h5", one = tag + "_self.h5";
  const auto rw = run_train(kNet, {net, "--run.steps=6", "--output.file=" + many}, world);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const auto rs = run_train(kNet, {net, "--run.steps=6", "--output.file=" + one}, self);
    ASSERT_EQ(rs.status, "ok");
    EXPECT_TRUE(rw.params == rs.params) << "parameters differ between " << world.size() << " ranks and 1";
    EXPECT_EQ(rw.loss, rs.loss);
    for (const std::string ds : {"/train/loss", "/eval/energy_data", "/eval/samples", "/model/net/layer_2/weight",
                                 "/model/net/layer_5/bias", "/model/net/layer_12/weight", "/model/net/layer_14/bias"})
      EXPECT_TRUE(dataset(many, ds) == dataset(one, ds)) << ds;
    std::vector<hsize_t> dims;
    const auto gamma = dataset(one, "/model/net/layer_2/weight", &dims);
    EXPECT_EQ(dims, (std::vector<hsize_t>{4}));
    const auto beta = dataset(one, "/model/net/layer_5/bias", &dims);
    EXPECT_EQ(dims, (std::vector<hsize_t>{4}));
    double moved = 0;
    for (double v : gamma) moved = std::max(moved, std::fabs(v - 1));
    for (double v : beta) moved = std::max(moved, std::fabs(v));
    EXPECT_GT(moved, 1e-4) << "training left GroupNorm's scale and shift at PyTorch's 1 and 0";
    EXPECT_THROW(dataset(one, "/model/net/layer_1/weight"), Error);  // 'res(' holds nothing
    // model.params' reader gives θ back bit for bit.
    const auto arch = models::parse_net(net.substr(net.find('=') + 1), {1, 28, 28});
    EXPECT_TRUE(io::read_net_params(one, arch) == rs.params) << "the groupnorm layers did not round-trip";
    remove_files({many, one});
  }
  world.barrier();
}

// PCD: 12 steps straight == 6, checkpoint (with the replay buffer), restart, 6:
// identical parameters, optimizer state, buffer and monitors, on the same rank count
// and on one rank.
TEST(TrainNetCheckpoint, RestartWithTheBufferIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  for (const bool sn : {false, true}) {
  const std::string tag = "net_restart_n" + std::to_string(world.size()) + (sn ? "_sn" : "");
  const auto run = [&](std::vector<std::string> o, const parallel::Comm& c) {
    if (sn) o.push_back(kSnNet);
    return run_train(kNet, o, c);
  };
  std::vector<std::string> sets = {"/model/net/layer_0/weight", "/model/net/layer_5/weight",
                                   "/model/net/layer_7/bias",   "/optimizer/m",
                                   "/optimizer/v",              "/train/replay_buffer",
                                   "/train/loss",               "/train/energy_model"};
  if (sn) sets.insert(sets.end(), {"/model/net/layer_0/weight_u", "/model/net/layer_2/weight_v"});
  expect_restart_bit_for_bit(run, tag, 12, 6, sets, world, [](const std::string& half, const std::string& straight) {
    const auto b6 = dataset(half, "/train/replay_buffer"), b12 = dataset(straight, "/train/replay_buffer");
    ASSERT_EQ(b6.size(), 128u * 784);
    EXPECT_NE(b6, b12);
  });
  const std::string straight = tag + "_straight.ckpt", half = tag + "_half.ckpt", copy = half + ".copy";
  // A checkpoint of another architecture is refused by name.
  try {
    run_train(kNet,
              {"--model.net=conv(4,4,2,1) lrelu(0.2) conv(8,4,2,1) lrelu(0.2) flatten linear(32) lrelu(0.2) linear(1)",
               "--run.steps=20", "--checkpoint.file=" + straight, "--checkpoint.restart=true", "--output.file="},
              world);
    ADD_FAILURE() << "a checkpoint of another model.net was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.net"), std::string::npos) << e.what();
  }
  world.barrier();
  if (world.root()) remove_files({straight, half, copy});
  world.barrier();
  }
}

// `zeta sample` on a trained net (the training output as model.params, spectral
// vectors included): the same samples and energies, bit for bit, on 1 and on 2 or 4
// ranks (Net::fix_chunk; in float, where sgemm is not row-stable, to rounding).
TEST(TrainNetSample, TrainedNetSamplesTheSameBitsOnAnyRankCount) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::string tag = "net_sample_n" + std::to_string(world.size());
  const std::string trained = tag + "_trained.h5", many = tag + "_world.h5", one = tag + "_self.h5";
  const auto t = run_train(kNet, {kSnNet, "--run.steps=4", "--output.file=" + trained}, world);
  ASSERT_EQ(t.status, "ok");
  const auto sample = [&](const std::string& out, const parallel::Comm& c) {
    Config cfg;
    apps::declare_sample_keys(cfg);
    cfg.parse_text("", {"--model.type=net", kSnNet, "--model.input=1,28,28", "--model.params=" + trained,
                        "--sampler.type=langevin", "--sampler.step_size=1e-4", "--sampler.chains=37",
                        "--sampler.init_scale=0.3", "--run.steps=6", "--run.burn_in=0", "--run.save_every=3",
                        "--run.progress_every=1000", "--output.file=" + out});
    return apps::sample(cfg, c);
  };
  const auto rw = sample(many, world);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const auto rs = sample(one, self);
    const bool exact = sizeof(Real) == sizeof(double);
    if (exact) {
      EXPECT_EQ(rw.mean_energy, rs.mean_energy);
    }
    EXPECT_NEAR(rw.mean_energy, rs.mean_energy, 1e-4 * (1 + std::fabs(rs.mean_energy)));
    for (const std::string ds : {"/samples/x", "/samples/energy"}) {
      const auto a = dataset(many, ds), b = dataset(one, ds);
      ASSERT_EQ(a.size(), b.size()) << ds;
      if (exact) {
        EXPECT_TRUE(a == b) << ds;
      }
      double worst = 0;
      for (std::size_t q = 0; q < a.size(); ++q) worst = std::max(worst, std::fabs(a[q] - b[q]));
      EXPECT_LT(worst, 1e-4) << ds;
    }
    EXPECT_EQ(dataset(one, "/samples/energy").size(), 2u * 37);
    EXPECT_NE(rs.json.str().find("\"model\": \"net\""), std::string::npos) << rs.json.str();
    remove_files({trained, many, one});
  }
  world.barrier();
}

TEST(TrainNetInput, ErrorsNameTheKey) {
  parallel::Comm world(MPI_COMM_WORLD);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--model.net=conv(4,4,2,1) lrelu(0.2) linear(1)", "model.net: layer 2"},
      {"--model.net=conv(4,40) flatten linear(1)", "model.net: layer 0"},
      {"--model.net=conv(4,4,2,1) flatten lnear(1)", "model.net: layer 2"},
      {"--model.input=1,28,27", "model.input"},  // 756 inputs, the data have 784
      {"--model.input=1,28", "model.input"},
      {"--train.objective=dsm", "model.net: layer 1 'lrelu(0.2)'"},
      {"--train.objective=ssm", "train.objective"},
      {"--model.activation=softplus", "model.activation"},  // not the default: silu
      {"--train.energy_reg=-1", "train.energy_reg"},
      {"--train.buffer_size=8", "train.buffer_size"},
      {"--model.params=/nonexistent/net.h5", "model.params"},
      {"--model.net=sn_conv(4,4,2,1) sn_lrelu(0.2) flatten linear(1)", "model.net: layer 1"},
      {"--sampler.noise_scale=0", "sampler.noise_scale"},
  };
  for (const auto& [arg, key] : cases) {
    const auto e = train_error(kNet, {arg}, world);
    EXPECT_NE(e.find(key), std::string::npos) << arg << ": " << e;
  }
}

}  // namespace
}  // namespace zeta
