#include "zeta/training/mlp_dsm.hpp"

namespace zeta::training {

MlpDsm::MlpDsm(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
               const parallel::Comm& comm, bool conditional)
    : MlpObjective(ts, dspec, d, mlp, comm), batch_(ts, nloc_, b_, dim_, conditional) {}

void MlpDsm::gradient(std::int64_t s, GradientSum<Space>& g) {
  noisy_batch(s);
  batch_.gradient(mlp_, g);
}

const char* MlpDsm::record(std::int64_t s, double grad_norm) {
  return batch_.record(series_, s, reduce_sums(batch_.local_loss(), 1)[0], grad_norm);
}

void MlpDsm::noisy_batch(std::int64_t s) {
  batch_.noisy(s, [&](std::int64_t step, auto&& f) { for_batch_rows(step, f); });
}

void MlpDsm::summarize_monitors(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.dsm_loss = res.loss;
  res.grad_norm = series_.gnorm.back();
}

}  // namespace zeta::training
