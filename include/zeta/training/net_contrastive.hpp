//! Contrastive training of a layer-stack energy (model.type = net, models/net.hpp) by
//! CD or PCD with short-run Langevin negatives, the recipe of the PyTorch EBM tutorial
//! and IGEBM, an Objective of the training loop: the MLP's steps on the same keys
//! (training/contrastive_term.hpp; train.clip_norm clips the gradient's global norm,
//! the tutorial's clip_grad_norm_), and
//!   sn layers   one power iteration between the negatives and the loss, as PyTorch's
//!               training-mode forward after the tutorial's eval-mode sampling (none
//!               while the state is held).
//! A checkpoint holds θ (/model/net/layer_i, with the sn layers' u and v), the
//! optimizer state, the step and (pcd) the replay buffer. A finished run ends with the
//! check of the trained model (output /eval): energies of a batch of data, of negatives
//! drawn as at step run.steps and of uniform noise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/contrastive_term.hpp"
#include "zeta/training/net_state.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class NetContrastive : public NetObjective {
 public:
  using Series = ContrastiveTerm<models::Net<Space>>::Series;

  NetContrastive(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net, const parallel::Comm& comm);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override { return term_.record(s, grad_norm); }
  TableRef monitor_table() override { return table_ref(term_.series()); }

  void check(io::OutputFile* out) override;
  void summarize(TrainResult& res) const override { term_.summarize(res); }
  const char* sampler_name() const override { return "langevin"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;

  //! The shared contrastive steps (training/contrastive_term.hpp).
  ContrastiveTerm<models::Net<Space>>& term() { return term_; }

 protected:
  void gather_extra() override { term_.gather_buffer(); }
  void write_extra(hid_t f) override { term_.write_buffer(f); }
  void read_extra(hid_t f, const std::string& file) override { term_.read_buffer(f, file); }
  void restore_extra() override { term_.scatter_buffer(); }

 private:
  ContrastiveTerm<models::Net<Space>> term_;
  EnergyCheck eval_;
};

}  // namespace zeta::training
