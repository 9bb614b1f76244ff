#include "zeta/training/net_state.hpp"

#include "zeta/io/net_params.hpp"
#include "zeta/io/params.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

const std::vector<std::string>& NetState::signature_keys() {
  static const std::vector<std::string> keys = {
      "model.", "data.", "train.objective", "train.batch", "train.optimizer", "train.buffer_size", "run.seed"};
  return keys;
}

void NetState::gather() {
  theta_ = net_.params();
  spectral_ = net_.spectral_state();
}

void NetState::write(hid_t f) const {
  if (!mlp_layers_.empty()) return io::write_mlp_params(f, io::MlpParams::from_flat(mlp_layers_, theta_));
  io::write_net_params(f, net_.arch(), theta_, spectral_);
}

std::vector<double> NetState::read(hid_t f, const std::string& file) {
  if (!mlp_layers_.empty()) {
    spectral_.clear();  // an mlp has no sn layers
    return io::read_mlp_theta(f, file, mlp_layers_);
  }
  std::vector<double> theta = io::read_net_theta(f, file, net_.arch());
  spectral_ = io::read_net_spectral(f, file, net_.arch());
  if (spectral_.size() != std::size_t(net_.arch().n_spectral))
    throw Error(
        "checkpoint '" + file + "' lacks the spectral-norm vectors (weight_u, weight_v) of model.net's sn layers",
        false);
  return theta;
}

void NetState::restore(const parallel::Comm& comm, const std::vector<double>& theta) {
  comm.broadcast(spectral_);
  net_.set_spectral_state(spectral_);
  net_.set_params(theta);
}

void NetState::write_output(io::OutputFile& out) const {
  if (!mlp_layers_.empty()) return io::write_mlp_params(out, io::MlpParams::from_flat(mlp_layers_, net_.params()));
  io::write_net_params(out, net_.arch(), net_.params(), net_.spectral_state());
}

void NetObjective::gather_state() {
  state_.gather();
  gather_extra();
}

void NetObjective::write_state(hid_t f) {
  state_.write(f);
  write_series(f, monitor_table());
  write_extra(f);
}

std::vector<double> NetObjective::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = state_.read(f, file);
  TableRef table = monitor_table();
  read_series(f, file, table, "monitor");
  read_extra(f, file);
  return theta;
}

void NetObjective::restore(const std::vector<double>& theta) {
  TableRef table = monitor_table();
  broadcast_series(comm_, table);
  restore_extra();
  state_.restore(comm_, theta);
}

void NetObjective::write_output(io::OutputFile& out, std::int64_t) {
  state_.write_output(out);
  write_series(out, monitor_table());
}

}  // namespace zeta::training
