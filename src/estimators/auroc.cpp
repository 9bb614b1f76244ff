#include "zeta/estimators/auroc.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "zeta/core/error.hpp"

namespace zeta::estimators {

double auroc(const std::vector<double>& in, const std::vector<double>& out) {
  if (in.empty() || out.empty()) throw Error("auroc: needs at least one score in each set");
  // (score, 1 for out / 0 for in), sorted by score; equal scores form one group.
  std::vector<std::pair<double, int>> all;
  all.reserve(in.size() + out.size());
  for (double s : in) all.emplace_back(s, 0);
  for (double s : out) all.emplace_back(s, 1);
  for (const auto& p : all)
    if (std::isnan(p.first)) throw Error("auroc: a score is NaN");
  std::sort(all.begin(), all.end());
  // twice the pair count: 2 per (in below out) pair, 1 per tied pair. n·m ≤ 2^62 for any
  // set that fits in memory, so unsigned 64 bits hold it (and its double).
  unsigned long long twice = 0, in_below = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    unsigned long long gin = 0, gout = 0;
    for (; j < all.size() && all[j].first == all[i].first; ++j) (all[j].second ? gout : gin) += 1;
    twice += gout * (2 * in_below + gin);
    in_below += gin;
    i = j;
  }
  return double(twice) / (2.0 * double(in.size()) * double(out.size()));
}

}  // namespace zeta::estimators
