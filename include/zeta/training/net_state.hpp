//! A layer-stack net's part of a checkpoint and an output (/model/net/layer_i with the
//! sn layers' u and v), shared by the objectives that train a net (net_contrastive.hpp,
//! jem.hpp): held at gather_state, written, read back (checked), spread to every rank.
//! An mlp that Net runs (K >= 2 outputs, ModelSpec::mlp_logits) keeps the mlp's layout,
//! /model/layer_l/{weight,bias}, so that its outputs are an mlp's model.params.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/objective.hpp"

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

 private:
  models::Net<Space>& net_;
  std::vector<int> mlp_layers_;
  std::vector<double> theta_, spectral_;
};

}  // namespace zeta::training
