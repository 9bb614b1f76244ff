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
#include "zeta/io/hdf5.hpp"

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

//! The rank check of the trainers: run(o, comm) trains with overrides o. On `world` into
//! TAG_world.h5 and, on the root, on one rank into TAG_self.h5: the same parameters, loss
//! and datasets `sets`. `more(world_run, self_run, self_file)` then makes the caller's
//! further checks on the root; both files are removed after it.
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
    for (const auto& ds : sets) EXPECT_TRUE(dataset(many, ds) == dataset(one, ds)) << tag << " " << ds;
    if (more) more(rw, rs, one);
    for (const auto& f : {many, one})
      for (const std::string sfx : {"", ".prev"}) std::remove((f + sfx).c_str());
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

}  // namespace zeta::test
