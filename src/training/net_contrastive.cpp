#include "zeta/training/net_contrastive.hpp"

#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

NetContrastive::NetContrastive(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net,
                               const parallel::Comm& comm)
    : ts_(ts), data_(d), net_(net), comm_(comm), term_(ts, d, net, comm), state_(net) {
  if (d.dim != net.dim())
    config_error("model.input", "gives " + std::to_string(net.dim()) + " inputs per row but the data have " +
                                    std::to_string(d.dim) + " features");
}

const std::vector<std::string>& NetContrastive::signature_keys() const {
  return NetState::signature_keys();
}

void NetContrastive::gradient(std::int64_t s, GradientSum<Space>& grad) {
  term_.data_rows(s);
  term_.negatives(s, !hold_);
  if (!hold_) net_.power_iteration();
  term_.loss_gradient(grad);
}

void NetContrastive::gather_state() {
  state_.gather();
  term_.gather_buffer();
}

void NetContrastive::write_state(hid_t f) {
  state_.write(f);
  write_series(f, term_.series());
  term_.write_buffer(f);
}

std::vector<double> NetContrastive::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = state_.read(f, file);
  read_series(f, file, term_.series(), "monitor");
  term_.read_buffer(f, file);
  return theta;
}

void NetContrastive::restore(const std::vector<double>& theta) {
  broadcast_series(comm_, term_.series());
  term_.scatter_buffer();
  state_.restore(comm_, theta);
}

void NetContrastive::write_output(io::OutputFile& out, std::int64_t) {
  state_.write_output(out);
  write_series(out, term_.series());
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
