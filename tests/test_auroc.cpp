//! The exact AUROC of estimators/auroc.hpp (zeta eval's OOD score) against a
//! brute-force count over every pair, ties 1/2, on sets with many ties and on
//! continuous ones; the exactly known cases (separated sets 1 and 0, a set
//! against itself 1/2); and the errors. spread_of against a two-pass reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/estimators/auroc.hpp"
#include "zeta/estimators/energy_eval.hpp"

namespace zeta {
namespace {

double brute(const std::vector<double>& in, const std::vector<double>& out) {
  double c = 0;
  for (double o : out)
    for (double i : in) c += o > i ? 1.0 : o == i ? 0.5 : 0.0;
  return c / (double(in.size()) * double(out.size()));
}

TEST(Auroc, MatchesPairwiseCountWithTies) {
  std::mt19937_64 gen(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::uniform_int_distribution<int> size(1, 60), level(0, trial % 5 + 1);
    std::vector<double> in(size(gen)), out(size(gen));
    for (double& v : in) v = level(gen);  // few distinct values: many ties
    for (double& v : out) v = level(gen) + 0.5 * (trial % 2);
    EXPECT_EQ(estimators::auroc(in, out), brute(in, out)) << "trial " << trial;
  }
}

TEST(Auroc, MatchesPairwiseCountContinuous) {
  std::mt19937_64 gen(11);
  std::normal_distribution<double> z;
  std::vector<double> in(313), out(271);
  for (double& v : in) v = z(gen);
  for (double& v : out) v = 0.7 + z(gen);
  const double a = estimators::auroc(in, out);
  EXPECT_EQ(a, brute(in, out));
  EXPECT_GT(a, 0.6);  // the shifted set scores higher
}

TEST(Auroc, ExactlyKnownCases) {
  const std::vector<double> lo = {0, 1, 2, 3}, hi = {3.5, 4, 10};
  EXPECT_EQ(estimators::auroc(lo, hi), 1.0);
  EXPECT_EQ(estimators::auroc(hi, lo), 0.0);
  EXPECT_EQ(estimators::auroc(lo, lo), 0.5);
  EXPECT_EQ(estimators::auroc({1, 1, 1}, {1, 1}), 0.5);
  EXPECT_EQ(estimators::auroc({0, 2}, {1}), 0.5);
  EXPECT_EQ(estimators::auroc({0, 1}, {1}), 0.75);
}

TEST(Auroc, Refuses) {
  EXPECT_THROW(estimators::auroc({}, {1.0}), Error);
  EXPECT_THROW(estimators::auroc({1.0}, {}), Error);
  EXPECT_THROW(estimators::auroc({1.0, NAN}, {2.0}), Error);
}

TEST(Auroc, Spread) {
  const std::vector<double> v = {1, 2, 4, 8};
  const auto s = estimators::spread_of(v);
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 3.75);
  EXPECT_NEAR(s.sd, std::sqrt((2.75 * 2.75 + 1.75 * 1.75 + 0.25 * 0.25 + 4.25 * 4.25) / 3), 1e-15);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 8);
  EXPECT_EQ(estimators::spread_of({5}).sd, 0);
}

}  // namespace
}  // namespace zeta
