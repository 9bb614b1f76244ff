//! The area under the ROC curve of a score that should be larger on one set than on
//! another, computed exactly: the fraction of all (in, out) pairs with
//! score_out > score_in, pairs of equal scores counted 1/2 (the Mann–Whitney U
//! statistic over n_in · n_out). `zeta eval` uses it for the out-of-distribution
//! AUROC of the energy (lower energy = in-distribution).
#pragma once
#include <vector>

namespace zeta::estimators {

//! Exact AUROC of `out` against `in` (score higher on `out`) by one sort of both
//! sets: O((n + m) log(n + m)), the pair count kept as an integer (twice the
//! count, so that the ties' halves stay exact) and divided once. Throws
//! zeta::Error on an empty set or a NaN score.
double auroc(const std::vector<double>& in, const std::vector<double>& out);

}  // namespace zeta::estimators
