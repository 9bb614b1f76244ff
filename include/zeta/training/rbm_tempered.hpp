//! PCD with a tempered negative phase (train.objective = pt_pcd; parallel tempering
//! PCD, Desjardins et al. 2010), an Objective of the training loop for RBMs: each of the
//! train.chains persistent chains is a ladder of train.temper_count replicas at
//! β_1 < … < β_K = 1 (geometric from train.temper_beta_min; train.temper_adapt moves the
//! inner ones in the first train.temper_adapt_steps steps, TemperedLadder), which exchange β labels
//! with their neighbours as `zeta temper` does (tempering::ReplicaExchange, DEO rounds,
//! round trips). Step s:
//!   sweeps     train.k block Gibbs sweeps of every replica at its β (counter s·k + t;
//!              replica r = chain·K + j of the ladder, the RNG's global id);
//!   exchange   round s + 1 on the joint energies E(v, h) the sweeps leave (gathered
//!              over ranks; every rank makes the same decisions);
//!   gradient   as PCD (RbmContrastive), the negative phase the replica at β = 1 of each
//!              chain (−1/M each), copied into the PCD chain rows, so the monitors see them.
//! A checkpoint adds every replica's v (/train/replicas [chains·K, visible]) and the
//! exchange state (/train/exchange, /train/exchange_prob) to PCD's, and when adapting the
//! ladder (/train/temper_betas) and its window. The JSON and the output add the ladder,
//! the swap acceptance per neighbour pair and the round trips.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/training/rbm_contrastive.hpp"
#include "zeta/training/tempered.hpp"

namespace zeta::training {

class RbmTempered : public RbmContrastive {
 public:
  RbmTempered(const TrainSpec& ts, const data::Dataset& d, models::Rbm<Space>& rbm, std::vector<double> base_bias,
              const parallel::Comm& comm);

  void start() override;
  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  void hold_state(bool on) override;
  const std::vector<std::string>& signature_keys() const override;
  void gather_state() override;
  void write_state(hid_t f) override;
  std::vector<double> read_state(hid_t f, const std::string& file) override;
  void restore(const std::vector<double>& theta) override;
  const char* sampler_name() const override { return "gibbs_tempered"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;
  void write_output(io::OutputFile& out, std::int64_t step) override;

  //! The exchange bookkeeping (every rank holds the same).
  const tempering::ReplicaExchange& exchange() const { return ex_; }
  //! The current ladder (train.temper_adapt moves it in the first steps).
  const std::vector<double>& betas() const { return ladder_.betas(); }
  //! This rank's β = 1 replicas after the last gradient(), one row per chain (host).
  std::vector<double> target_states() const { return host_copy(vneg_); }

 private:
  //! The replicas' β from the ladder levels, and the rows of the β = 1 replicas.
  void relabel();
  std::int64_t replica_offset() const { return chain_offset() * K_; }

  int K_ = 0;
  Matrix<Space> vrep_, hrep_;                  //!< local replicas, row (l·cp + j)·K + k
  Vector<Space> beta_, E_;                     //!< per local replica
  Kokkos::View<std::int64_t*, Space> target_;  //!< per local chain: the row of its β = 1 replica
  tempering::ReplicaExchange ex_;
  tempering::ReplicaExchange held_ex_;
  TemperedLadder ladder_, held_ladder_;
  Matrix<Space> held_v_;
  std::vector<double> energy_all_;
  std::vector<double> replicas_all_;  //!< between gather / read and write / restore
  std::vector<std::int64_t> ex_state_;
  std::vector<double> ex_prob_;
};

}  // namespace zeta::training
