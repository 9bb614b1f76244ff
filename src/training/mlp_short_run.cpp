#include "zeta/training/mlp_short_run.hpp"

namespace zeta::training {

void MlpShortRunCd::start_negatives(std::int64_t s) {
  auto& neg = term_.neg();
  fresh_rows(neg.x, nloc_ * b_, term_.fresh(), ts_.seed, neg.range.offset, std::uint64_t(s));
}

}  // namespace zeta::training
