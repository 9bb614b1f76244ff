#include "zeta/training/mlp_contrastive.hpp"

namespace zeta::training {

MlpContrastive::MlpContrastive(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d,
                               models::Mlp<Space>& mlp, const parallel::Comm& comm)
    : MlpObjective(ts, dspec, d, mlp, comm), term_(ts, d, mlp, comm) {}

void MlpContrastive::gradient(std::int64_t s, GradientSum<Space>& grad) {
  term_.data_rows(s);
  negatives(s, !hold_);
  term_.loss_gradient(grad);
}

void MlpContrastive::check(io::OutputFile* out) {
  term_.data_rows(ts_.steps);
  negatives(ts_.steps, false);
  eval_ = term_.check(out);
}

void MlpContrastive::negatives(std::int64_t s, bool keep) {
  start_negatives(s);
  term_.move_negatives(s);
  if (keep) term_.keep_negatives();
}

}  // namespace zeta::training
