//! What the training tests share: running `zeta train` in-process, reading a dataset
//! of its output, and checks of the figures of its JSON summary.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::test {

//! `zeta train` on `comm` from INI text and overrides (progress lines off).
inline apps::TrainResult run_train(const std::string& ini, std::vector<std::string> overrides,
                                   const parallel::Comm& comm) {
  Config cfg;
  apps::declare_train_app_keys(cfg);
  overrides.push_back("--run.progress_every=1000");
  cfg.parse_text(ini, overrides);
  return apps::train(cfg, comm);
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

}  // namespace zeta::test
