//! Checks both trainers' tests share: the figures of a `zeta train` JSON summary.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "apps/apps.hpp"

namespace zeta::test {

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
