//! PCD of an MLP energy with a tempered negative phase (train.objective = pt_pcd for
//! model.type = mlp), an Objective of the training loop: MlpContrastive's loss and
//! gradient, with negatives from persistent chains instead of a replay buffer. Each of
//! the train.chains = train.batch chains (chains / D with each partition, one per batch
//! row) is a ladder of train.temper_count replicas at β_1 < … < β_K = 1 (geometric from
//! train.temper_beta_min; train.temper_adapt moves the inner ones in the first
//! train.temper_adapt_steps steps, TemperedLadder). Step s:
//!   moves      train.k Langevin moves x ← clamp(x − (ε/2) β clip(∇x E) + √ε z) of every
//!              replica at its β (samplers::langevin_move, noise keyed by the replica
//!              r = chain·K + j and s·k + t), ∇x E partition by partition;
//!   exchange   round s + 1 of DEO swaps on the replicas' energies (tempering::ReplicaExchange,
//!              gathered over ranks, the same decisions everywhere): a forward pass after
//!              the last move, of the replicas at the levels the round pairs only;
//!   negatives  the β = 1 replica of chain p·b + j is batch row p·b + j's negative.
//! Initial replicas are fresh noise (U(sampler.clamp) or N(0, sampler.init_scale²)). A
//! checkpoint holds /train/replicas [chains·K, dim] and the exchange state besides θ and
//! the optimizer (and, adapting, the ladder and its window); the seed's check after
//! training draws its negatives from a copy.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/samplers/chains.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/training/mlp_contrastive.hpp"
#include "zeta/training/tempered.hpp"

namespace zeta::training {

class MlpTempered : public MlpContrastive {
 public:
  MlpTempered(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
              const parallel::Comm& comm);

  void start() override;
  void negatives(std::int64_t s, bool keep) override;
  const std::vector<std::string>& signature_keys() const override;
  const char* sampler_name() const override { return "langevin_tempered"; }
  const tempering::ReplicaExchange& exchange() const { return ex_; }
  //! The current ladder (train.temper_adapt moves it in the first steps).
  const std::vector<double>& betas() const { return ladder_.betas(); }
  void write_output(io::OutputFile& out, std::int64_t step) override;

 protected:
  void add_objective_json(JsonSummary& j) const override;
  void gather_extra() override;
  void write_extra(hid_t f) override;
  void read_extra(hid_t f, const std::string& file) override;
  void restore_extra() override;

 private:
  std::int64_t replica_offset() const { return mine_.offset * b_ * K_; }
  //! E and ∇x E of the replicas, a partition's replicas at a time.
  void replica_gradients();
  //! E of the replicas that exchange round n compares (after the last move): a forward
  //! pass, of all replicas, or of those at the levels the round pairs gathered into one
  //! block (a partition's chains together); the other rows of rep_.E are stale.
  void replica_energies(std::int64_t n);
  //! The replicas' β from the ladder levels, and the rows of the β = 1 replicas.
  void relabel();

  int K_ = 0;
  samplers::Chains<Space> rep_;                //!< local replicas, row (l·b + j)·K + k
  Kokkos::View<std::int64_t*, Space> target_;  //!< per local chain: the row of its β = 1 replica
  Kokkos::View<std::int64_t*, Space> pick_;    //!< replica_energies: the rows compared
  Matrix<Space> pick_x_;
  Vector<Space> pick_e_;
  tempering::ReplicaExchange ex_;
  TemperedLadder ladder_;
  std::vector<double> replicas_all_;
  std::vector<std::int64_t> ex_state_;
  std::vector<double> ex_prob_;
};

}  // namespace zeta::training
