//! A layer-stack net's part of a checkpoint and an output (/model/net/layer_i with the
//! sn layers' u and v), shared by the objectives that train a net (net_contrastive.hpp,
//! net_dsm.hpp, jem.hpp): held at gather_state, written, read back (checked), spread to
//! every rank. An mlp that Net runs (K >= 2 outputs, ModelSpec::mlp_logits) keeps the
//! mlp's layout, /model/layer_l/{weight,bias}, so that its outputs are an mlp's
//! model.params. NetObjective is what those objectives share on top of it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class NetState {
 public:
  using Space = Objective::Space;
  //! `mlp_layers`: the mlp's model.layers when Net runs an mlp (its files' layout), else empty.
  explicit NetState(models::Net<Space>& net, std::vector<int> mlp_layers = {})
      : net_(net), mlp_layers_(std::move(mlp_layers)) {}

  //! What a checkpoint of a net's objective must agree with: the model, the data, and
  //! what shapes the batches, the noise, the buffer and the optimizer state.
  static const std::vector<std::string>& signature_keys();
  //! θ and u, v now, for write().
  void gather();
  void write(hid_t f) const;
  //! θ (returned) and u, v of a checkpoint; refuses one without the sn vectors.
  std::vector<double> read(hid_t f, const std::string& file);
  //! Collective: u, v read on one rank and θ set on every rank.
  void restore(const parallel::Comm& comm, const std::vector<double>& theta);
  //! The current θ, u and v into an output file.
  void write_output(io::OutputFile& out) const;
  //! model.layers of the mlp that Net runs, or empty for a net.
  const std::vector<int>& mlp_layers() const { return mlp_layers_; }

 private:
  models::Net<Space>& net_;
  std::vector<int> mlp_layers_;
  std::vector<double> theta_, spectral_;
};

//! The part of an Objective that trains a layer-stack net (NetContrastive, NetDsm,
//! JemObjective) that is the same in each: the parameters are the net's; a checkpoint
//! holds its NetState, the monitor table (monitor_table()) and the objective's own state
//! (the *_extra hooks, as MlpObjective's: pcd's replay buffer), an output the first two;
//! hold_state() sets hold_, under which
//! the objective makes no sn power iteration. Each objective keeps its gradient, its
//! monitors, its check and its JSON.
class NetObjective : public Objective {
 public:
  std::size_t n_params() const override { return net_.n_params(); }
  const Vector<Space>& theta() const override { return net_.theta(); }
  void params_updated() override { net_.params_updated(); }
  std::vector<double> params() const override { return net_.params(); }

  const char* monitor(std::int64_t, bool) override { return nullptr; }
  std::vector<MonitorTable> monitor_tables() override { return {{monitor_table(), ts_.eval_every}}; }
  void hold_state(bool on) override { hold_ = on; }
  const char* finish(std::int64_t, bool) override { return nullptr; }

  const std::vector<std::string>& signature_keys() const override { return NetState::signature_keys(); }
  void gather_state() override;
  void write_state(hid_t f) override;
  std::vector<double> read_state(hid_t f, const std::string& file) override;
  void restore(const std::vector<double>& theta) override;
  void write_output(io::OutputFile& out, std::int64_t step) override;
  const char* model_name() const override { return state_.mlp_layers().empty() ? "net" : "mlp"; }

 protected:
  //! `mlp_layers`: model.layers when `net` runs an mlp (NetState), else empty.
  NetObjective(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net, const parallel::Comm& comm,
               std::vector<int> mlp_layers = {})
      : ts_(ts), data_(d), net_(net), comm_(comm), state_(net, std::move(mlp_layers)) {}
  // The objective's own checkpoint state (the replay buffer): gather (collective),
  // write, read (checked), and spread to every rank (collective).
  virtual void gather_extra() {}
  virtual void write_extra(hid_t) {}
  virtual void read_extra(hid_t, const std::string&) {}
  virtual void restore_extra() {}

  const TrainSpec& ts_;
  const data::Dataset& data_;
  models::Net<Space>& net_;
  const parallel::Comm& comm_;
  NetState state_;  //!< θ and the sn vectors in checkpoints and outputs
  bool hold_ = false;
};

}  // namespace zeta::training
