//! `zeta train --model.type=net --train.objective=dsm`: a small silu conv energy on
//! Fashion-MNIST trained by denoising score matching (also with spectral
//! normalisation and a list of noise scales): bitwise-identical parameters, monitors
//! and after-training energies on 1, 2 and 4 ranks (train.deterministic), restart bit
//! for bit, and the refusal of a kinked activation (lrelu) naming model.net and the
//! layer. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "apps/apps.hpp"
#include "train_support.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta {
namespace {

using test::dataset;
using test::expect_restart_bit_for_bit;
using test::run_train;

const std::string kImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

// A small conv energy (conv, avgpool, flatten, linear; silu and softplus) on 512 images.
const std::string kNet = R"(
[run]
seed = 3
steps = 10
[model]
type = net
net = conv(4,4,2,1) silu conv(8,3,1,1) softplus avgpool(2) flatten linear(16) silu linear(1)
input = 1,28,28
init_seed = 2
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
limit = 512
partitions = 4
[train]
objective = dsm
sigma = 0.3
batch = 16
eval_every = 5
optimizer = adam
lr = 1e-3
)";

const std::string kSn =
    "--model.net=sn_conv(4,4,2,1) silu conv(8,3,1,1) softplus avgpool(2) flatten sn_linear(16) silu linear(1)";

void remove_files(const std::vector<std::string>& files) {
  for (const auto& f : files)
    for (const std::string sfx : {"", ".prev"}) std::remove((f + sfx).c_str());
}

// A residual block with GroupNorm (layer 8 is linear(16), as kNet's linear(1)).
const std::string kRes =
    "--model.net=conv(4,4,2,1) silu res( groupnorm(2) silu conv(4,3,1,1) ) flatten linear(16) silu linear(1)";

// 1, 2, 4 ranks against one rank (plain, spectral norm, two noise scales, a residual
// GroupNorm block): the same bits.
TEST(TrainNetDsm, DeterministicIsBitwiseOnAnyRankCount) {
  ASSERT_TRUE(std::ifstream(kImages).good()) << kImages << " is missing";
  parallel::Comm world(MPI_COMM_WORLD);
  for (const std::string variant : {"plain", "sn", "sigmas", "res"}) {
    const std::string o = variant == "sn"       ? kSn
                          : variant == "sigmas" ? "--train.sigma=0.1,0.5"
                          : variant == "res"    ? kRes
                                                : "--run.seed=3";
    const auto run = [&](const std::vector<std::string>& a, const parallel::Comm& c) {
      return run_train(kNet, test::prepend(o, a), c);
    };
    const auto more = [&](const apps::TrainResult&, const apps::TrainResult& rs, const std::string& one) {
      EXPECT_EQ(dataset(one, "/train/step"), (std::vector<double>{0, 5, 10}));
      const auto loss = dataset(one, "/train/dsm_loss");
      for (double l : loss) EXPECT_TRUE(std::isfinite(l) && l > 0) << variant << " loss " << l;
      const std::string j = rs.json.str();
      EXPECT_NE(j.find("\"model\": \"net\""), std::string::npos) << j;
      EXPECT_NE(j.find("\"objective\": \"dsm\""), std::string::npos) << j;
      EXPECT_TRUE(std::isfinite(test::json_figure(j, "eval_energy_noise"))) << j;
      // Training moved the parameters.
      parallel::Comm self(MPI_COMM_SELF);
      EXPECT_GT(test::max_abs_difference(rs.params, run({"--run.steps=1", "--output.file="}, self).params), 1e-3)
          << variant;
    };
    std::vector<std::string> sets = {
        "/train/step",        "/train/dsm_loss",    "/train/grad_norm",          "/eval/energy_data",
        "/eval/energy_noisy", "/eval/energy_noise", "/model/net/layer_0/weight", "/model/net/layer_8/bias"};
    if (variant == "sn") sets.push_back("/model/net/layer_0/weight_u");
    if (variant == "res") sets.push_back("/model/net/layer_3/weight");  // the GroupNorm's scale
    test::expect_same_bits_as_one_rank(run, "netdsm_n" + std::to_string(world.size()) + "_" + variant, sets, world,
                                       more);
  }
}

// 10 steps straight == 4, checkpoint, restart, 6: identical parameters, optimizer
// state and monitors, on the same rank count and on one rank (with sn: its u, v too).
TEST(TrainNetDsm, RestartIsBitForBit) {
  parallel::Comm world(MPI_COMM_WORLD);
  for (const bool sn : {false, true}) {
    const std::string tag = "netdsm_restart_n" + std::to_string(world.size()) + (sn ? "_sn" : "");
    const auto run = [&](std::vector<std::string> o, const parallel::Comm& c) {
      if (sn) o.push_back(kSn);
      return run_train(kNet, o, c);
    };
    std::vector<std::string> sets = {"/model/net/layer_0/weight",
                                     "/model/net/layer_6/weight",
                                     "/model/net/layer_8/bias",
                                     "/optimizer/m",
                                     "/optimizer/v",
                                     "/train/dsm_loss"};
    if (sn) sets.insert(sets.end(), {"/model/net/layer_0/weight_u", "/model/net/layer_6/weight_v"});
    expect_restart_bit_for_bit(run, tag, 10, 4, sets, world);
    if (world.root()) remove_files({tag + "_straight.ckpt", tag + "_half.ckpt", tag + "_half.ckpt.copy"});
    world.barrier();
  }
}

// A kinked activation with DSM: one collective error naming model.net and the layer.
TEST(TrainNetDsm, LeakyReluIsRefusedNamingTheLayer) {
  parallel::Comm world(MPI_COMM_WORLD);
  for (const auto& [net, what] : std::vector<std::pair<std::string, std::string>>{
           {"--model.net=conv(4,4,2,1) silu flatten linear(16) lrelu(0.2) linear(1)",
            "model.net: layer 4 'lrelu(0.2)'"},
           {"--model.net=conv(4,4,2,1) relu flatten linear(1)", "model.net: layer 1 'relu'"}}) {
    try {
      run_train(kNet, {net, "--output.file="}, world);
      ADD_FAILURE() << net << " accepted with dsm";
    } catch (const Error& e) {
      EXPECT_TRUE(e.collective()) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind(what, 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace zeta
