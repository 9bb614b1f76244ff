#include "zeta/training/mlp_short_run.hpp"

namespace zeta::training {

void MlpShortRunCd::start_negatives(std::int64_t s) {
  fresh_rows(neg_.x, nloc_ * b_, fresh_, ts_.seed, neg_.range.offset, std::uint64_t(s));
}

}  // namespace zeta::training
