//! What the training tests share: running `zeta train` in-process, reading a dataset
//! of its output, and checks of the figures of its JSON summary.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::test {

//! The ring of eight Gaussians (radius 2, σ = 0.25), small: an MLP 2-32-32-1 (silu),
//! 40 steps of 64 rows on 4 partitions, Adam; each test adds its objective.
inline const std::string kRing8Small = R"(
[run]
seed = 11
steps = 40
[model]
type = mlp
layers = 2,32,32,1
activation = silu
init_seed = 4
[data]
type = synthetic
shape = ring8
radius = 2
noise = 0.25
examples = 2048
heldout_examples = 512
partitions = 4
[train]
batch = 64
eval_every = 10
grid_points = 64
optimizer = adam
lr = 0.003
)";

//! The ring of eight for the ncsn tests: an MLP (layers `layers`, 16-16, silu), 30 steps of 32
//! rows on 4 partitions, a 4-level σ ladder 1 .. 0.1, Adam; `train_extra` (lines) joins [train].
inline std::string ring8_ncsn(const std::string& layers, const std::string& train_extra = "") {
  return R"(
[run]
seed = 7
steps = 30
[model]
type = mlp
layers = )" +
         layers + R"(
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
[sampler]
step_size = 0.0005
steps_per_level = 20
[train]
objective = ncsn
sigma = 1, 0.1
sigma_levels = 4
batch = 32
eval_every = 10
grid_points = 32
optimizer = adam
lr = 0.003
)" + train_extra;
}

//! The rows of step s's batch of a 2-D data set as the multi-σ DSM objectives draw them
//! (training/mlp_ncsn.hpp): for each row, in BatchPlan order, its σ (Stream(seed, example,
//! s, kDsmNoise), level from block 2^31), its noise z and x̃ = x + σ z (row-major, 2 a row).
struct NoisyRows {
  std::vector<double> xt, z, sigma;
};
inline NoisyRows ncsn_batch_rows(const training::TrainSpec& ts, const data::Dataset& d, std::int64_t s) {
  const data::BatchPlan plan(d.train, d.partitions, ts.batch, ts.seed);
  const std::int64_t K = std::int64_t(ts.sigma.size());
  NoisyRows b;
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
        b.xt.push_back(double(part.x[std::size_t(r) * 2 + i]) + sigma * zr[i]);
        b.z.push_back(zr[i]);
      }
      b.sigma.push_back(sigma);
    }
  }
  return b;
}

//! The ncsn loss from its definition, (1/B) Σ_n σ_n² ½ ‖s_n + z_n/σ_n‖² with the score
//! s_n = −∇x E/σ_n taken from the first two of the `stride` columns of row n of `grad`.
inline double ncsn_loss(const std::vector<double>& grad, int stride, const NoisyRows& b) {
  const int B = int(b.sigma.size());
  double L = 0;
  for (int n = 0; n < B; ++n) {
    double sq = 0;
    for (int i = 0; i < 2; ++i) {
      const double score = -grad[std::size_t(n) * std::size_t(stride) + std::size_t(i)] / b.sigma[std::size_t(n)];
      const double r = score + b.z[std::size_t(n) * 2 + std::size_t(i)] / b.sigma[std::size_t(n)];
      sq += r * r;
    }
    L += b.sigma[std::size_t(n)] * b.sigma[std::size_t(n)] * 0.5 * sq;
  }
  return L / B;
}

//! `zeta train` on `comm` from INI text and overrides (progress lines off).
inline apps::TrainResult run_train(const std::string& ini, std::vector<std::string> overrides,
                                   const parallel::Comm& comm) {
  Config cfg;
  apps::declare_train_app_keys(cfg);
  overrides.push_back("--run.progress_every=1000");
  cfg.parse_text(ini, overrides);
  return apps::train(cfg, comm);
}

//! `first` followed by `rest` (overrides in front of a test's own).
inline std::vector<std::string> prepend(const std::string& first, const std::vector<std::string>& rest) {
  std::vector<std::string> all;
  all.reserve(rest.size() + 1);
  all.push_back(first);
  all.insert(all.end(), rest.begin(), rest.end());
  return all;
}

//! The message of the error that run() throws, or "(no error)" if it runs through. The
//! error must be collective: every rank throws it, so the command exits != 0 everywhere.
template <class Run>
std::string error_of(const Run& run) {
  try {
    run();
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective()) << e.what();
    return e.what();
  }
  return "(no error)";
}

//! error_of `zeta train` from INI text and overrides, writing no output file unless the
//! overrides name one.
inline std::string train_error(const std::string& ini, const std::vector<std::string>& overrides,
                               const parallel::Comm& comm) {
  const auto o = prepend("--output.file=", overrides);
  return error_of([&] { run_train(ini, o, comm); });
}

//! A dataset of an HDF5 file as doubles, flat; its shape into `dims` when given.
inline std::vector<double> dataset(const std::string& file, const std::string& name,
                                   std::vector<hsize_t>* dims = nullptr) {
  std::vector<hsize_t> d;
  auto v = io::read_doubles(file, name, d);
  if (dims) *dims = d;
  return v;
}

//! The number after "key": in a JSON summary (NaN if the key is missing).
inline double json_figure(const std::string& json, const std::string& key) {
  const std::string tag = "\"" + key + "\": ";
  const auto at = json.find(tag);
  return at == std::string::npos ? NAN : std::strtod(json.c_str() + at + tag.size(), nullptr);
}

//! The shares of the step loop spent summing gradients over ranks: 0 on one rank;
//! on several, the smallest rank's share is positive and at most the mean, below 1.
inline void expect_reduce_shares(const apps::TrainResult& r, int ranks, const std::string& what) {
  const double mean = json_figure(r.json.str(), "allreduce_fraction"),
               least = json_figure(r.json.str(), "allreduce_fraction_min");
  if (ranks == 1) {
    EXPECT_EQ(mean, 0.0) << what;
    EXPECT_EQ(least, 0.0) << what;
    return;
  }
  EXPECT_GT(least, 0.0) << what;
  EXPECT_LE(least, mean) << what;
  EXPECT_LT(mean, 1.0) << what;
}

//! The largest |a_q - b_q| (e.g. how far training moved the parameters).
inline double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (std::size_t q = 0; q < a.size() && q < b.size(); ++q) d = std::max(d, std::fabs(a[q] - b[q]));
  return d;
}

//! Fourth-order central differences (step h) of loss() in each parameter of `model` (set
//! through params / set_params, restored after) against the gradient `got`. Returns the
//! largest |got − fd| / max(|fd|, 1e-2 scale) and scale, the largest |fd|.
template <class Model, class Loss>
std::pair<double, double> fd_relative_error(Model& model, const Loss& loss, const std::vector<double>& got, double h) {
  const std::vector<double> theta = model.params();
  std::vector<double> t = theta, fd(theta.size());
  double scale = 0, worst = 0;
  for (std::size_t k = 0; k < theta.size(); ++k) {
    const auto at = [&](double dk) {
      t[k] = theta[k] + dk;
      model.set_params(t);
      t[k] = theta[k];
      return loss();
    };
    fd[k] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
    scale = std::max(scale, std::fabs(fd[k]));
  }
  model.set_params(theta);
  for (std::size_t k = 0; k < theta.size(); ++k)
    worst = std::max(worst, std::fabs(got[k] - fd[k]) / std::max(std::fabs(fd[k]), 1e-2 * scale));
  return {worst, scale};
}

//! The ncsn objectives' check at step s: obj.gradient(s, g) against fourth-order central
//! differences of loss() in the parameters of `model` (step 1e-4, float 1e-2), within 1e-6
//! (float 2e-2) of the largest; and the monitor's loss of step s is loss(). Returns the
//! gradient and the largest |fd|.
template <class Objective, class Gradient, class Model, class Loss>
std::pair<std::vector<double>, double> expect_gradient_of_loss(Objective& obj, Gradient& g, Model& model,
                                                               const Loss& loss, std::int64_t s,
                                                               const std::string& what) {
  constexpr bool kDouble = sizeof(Real) == 8;
  obj.gradient(s, g);
  const auto got = host_copy(g.g());
  const auto [worst, scale] = fd_relative_error(model, loss, got, kDouble ? 1e-4 : 1e-2);
  std::printf("[ fd       ] %s step %lld: loss %.6g, |grad| max %.3g, max relative error %.3g\n", what.c_str(),
              static_cast<long long>(s), loss(), scale, worst);
  EXPECT_LT(worst, kDouble ? 1e-6 : 2e-2) << what << " step " << s;
  EXPECT_GT(scale, 1e-3) << what;
  EXPECT_EQ(obj.record(s, 0.0), nullptr) << what;
  EXPECT_NEAR(obj.monitor_table().columns[1]->back(), loss(), (kDouble ? 1e-12 : 1e-5) * loss()) << what;
  return {got, scale};
}

//! The rank check of the trainers: run(o, comm) trains with overrides o. On `world` into
//! TAG_world.h5 and, on the root, on one rank into TAG_self.h5: the same parameters, loss
//! and non-empty datasets `sets`. `more(world_run, self_run, self_file)` then makes the
//! caller's further checks on the root; both files (and a landscape's .xmf) are removed after it.
template <class Run>
void expect_same_bits_as_one_rank(
    const Run& run, const std::string& tag, const std::vector<std::string>& sets, const parallel::Comm& world,
    const std::function<void(const apps::TrainResult&, const apps::TrainResult&, const std::string&)>& more = {}) {
  const std::string many = tag + "_world.h5", one = tag + "_self.h5";
  const auto rw = run({"--output.file=" + many}, world);
  if (world.root()) {
    parallel::Comm self(MPI_COMM_SELF);
    const auto rs = run({"--output.file=" + one}, self);
    EXPECT_EQ(rs.status, "ok") << tag;
    EXPECT_TRUE(rw.params == rs.params) << tag << ": parameters differ between " << world.size() << " ranks and 1";
    EXPECT_EQ(rw.loss, rs.loss) << tag;
    for (const auto& ds : sets) {
      const auto a = dataset(many, ds);
      EXPECT_FALSE(a.empty()) << tag << " " << ds;
      EXPECT_TRUE(a == dataset(one, ds)) << tag << " " << ds;
    }
    if (more) more(rw, rs, one);
    for (const auto& f : {many, one}) {
      for (const std::string sfx : {"", ".prev"}) std::remove((f + sfx).c_str());
      std::remove(io::landscape_xmf_path(f).c_str());
    }
  }
  world.barrier();
}

//! The restart check of the net trainers: run(o, comm) trains with overrides o; `total`
//! steps straight into TAG_straight.ckpt, `half` steps into TAG_half.ckpt and a restart
//! from it to the end give the same parameters, loss and datasets `sets`, on `world` and
//! (from a copy of the half checkpoint) on one rank. `at_half(half, straight)` runs on
//! the root before the restart. Returns the straight run and the restart; the three
//! files are left for the caller's further checks (their names: TAG_straight.ckpt,
//! TAG_half.ckpt, TAG_half.ckpt.copy).
template <class Run>
std::pair<apps::TrainResult, apps::TrainResult> expect_restart_bit_for_bit(
    const Run& run, const std::string& tag, std::int64_t total, std::int64_t half, const std::vector<std::string>& sets,
    const parallel::Comm& world, const std::function<void(const std::string&, const std::string&)>& at_half = {}) {
  const std::string straight = tag + "_straight.ckpt", halfway = tag + "_half.ckpt", copy = halfway + ".copy";
  const auto a = run({"--checkpoint.file=" + straight, "--output.file="}, world);
  EXPECT_EQ(a.status, "ok");
  const auto h = run({"--run.steps=" + std::to_string(half), "--checkpoint.file=" + halfway, "--output.file="}, world);
  EXPECT_EQ(h.steps_done, half);
  if (world.root()) {
    if (at_half) at_half(halfway, straight);
    std::ifstream in(halfway, std::ios::binary);
    std::ofstream(copy, std::ios::binary) << in.rdbuf();
  }
  world.barrier();
  const auto c = run({"--checkpoint.file=" + halfway, "--checkpoint.restart=true", "--output.file="}, world);
  EXPECT_EQ(c.steps_done, total);
  EXPECT_TRUE(c.params == a.params) << tag << ": restart";
  EXPECT_EQ(c.loss, a.loss) << tag;
  if (world.root()) {
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(halfway, ds)) << ds << " (restart)";
    parallel::Comm self(MPI_COMM_SELF);
    const auto b = run({"--checkpoint.file=" + copy, "--checkpoint.restart=true", "--output.file="}, self);
    EXPECT_TRUE(b.params == a.params) << tag << ": restart on 1 rank";
    for (const auto& ds : sets) EXPECT_TRUE(dataset(straight, ds) == dataset(copy, ds)) << ds << " (1 rank)";
  }
  world.barrier();
  return {a, c};
}

//! Removes the files expect_restart_bit_for_bit leaves for TAG, and their .prev (on the
//! root; all ranks wait).
inline void remove_restart_files(const std::string& tag, const parallel::Comm& world) {
  if (world.root())
    for (const std::string f : {"_straight.ckpt", "_half.ckpt", "_half.ckpt.copy"})
      for (const std::string sfx : {"", ".prev"}) std::remove((tag + f + sfx).c_str());
  world.barrier();
}

}  // namespace zeta::test
