#include "zeta/training/net_contrastive.hpp"

#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

NetContrastive::NetContrastive(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net,
                               const parallel::Comm& comm)
    : NetObjective(ts, d, net, comm), term_(ts, d, net, comm) {
  if (d.dim != net.dim())
    config_error("model.input", "gives " + std::to_string(net.dim()) + " inputs per row but the data have " +
                                    std::to_string(d.dim) + " features");
}

void NetContrastive::gradient(std::int64_t s, GradientSum<Space>& grad) {
  term_.data_rows(s);
  term_.negatives(s, !hold_);
  if (!hold_) net_.power_iteration();
  term_.loss_gradient(grad);
}

void NetContrastive::add_json(JsonSummary& j, const TrainResult& res) const {
  j.add("objective", ts_.pcd ? "pcd" : "cd");
  j.add("net", net_.arch().text);
  j.add("params_count", std::int64_t(net_.n_params()));
  term_.add_settings_json(j);
  j.add("examples", data_.train.n);
  j.add("batch", ts_.batch);
  j.add("partitions", data_.partitions);
  j.add("deterministic", ts_.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  term_.add_energy_json(j);
  add_check_json(j, eval_);
}

void NetContrastive::check(io::OutputFile* out) {
  term_.data_rows(ts_.steps);
  term_.negatives(ts_.steps, false);
  eval_ = term_.check(out);
}

}  // namespace zeta::training
