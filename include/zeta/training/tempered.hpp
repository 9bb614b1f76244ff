//! What the tempered negative phases (train.objective = pt_pcd: training/rbm_tempered.hpp,
//! training/mlp_tempered.hpp) share: their keys, their ladder with its adaptation, and
//! their JSON figures and output datasets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/json.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! train.temper_count, train.temper_beta_min, train.temper_adapt, train.temper_adapt_steps,
//! train.temper_adapt_rounds.
void declare_tempered_keys(Config& cfg);
//! With train.objective = pt_pcd: the ladder into ts.temper_betas and its adaptation
//! (errors name the key); otherwise an explicit key of it is an error. `mlp`:
//! train.chains is one chain per batch row (train.batch when not given).
void read_tempered_keys(const Config& cfg, TrainSpec& ts, bool mlp);
//! The keys a pt_pcd checkpoint's signature adds (the ladder and its adaptation).
const std::vector<std::string>& tempered_signature_keys();

//! The β ladder of a tempered negative phase (every rank holds the same). Fixed, or,
//! with train.temper_adapt, adapted as `zeta temper` adapts its ladder (temper.adapt):
//! at the end of each of train.temper_adapt_rounds windows of doubling length over the
//! first train.temper_adapt_steps steps, tempering::adapt_betas on the window's swap
//! acceptance (β_1 and β_K = 1 fixed). At the last window's end the exchange statistics
//! restart, so that the acceptance and round trips reported describe the final ladder.
class TemperedLadder {
 public:
  explicit TemperedLadder(const TrainSpec& ts);

  const std::vector<double>& betas() const { return betas_; }
  bool adapting() const { return adapt_ != tempering::LadderAdapt::none; }
  //! After exchange round s + 1 of `ex` (step s done): true when the ladder changed.
  bool after_round(std::int64_t s, tempering::ReplicaExchange& ex);

  //! The checkpoint's /train/temper_betas and the window's start counts (adapting only:
  //! a fixed ladder's checkpoint is as before); read() checks them against the keys.
  void write(hid_t f) const;
  void read(hid_t f, const std::string& file);
  void broadcast(const parallel::Comm& comm);

  //! JSON: temper_betas, temper_acceptance (per neighbour pair), round_trips.
  void add_json(JsonSummary& j, const tempering::ReplicaExchange& ex) const;
  //! Output: /train/temper_betas [level], /train/temper_acceptance [pair],
  //! /train/temper_round_trips [replica] (int64).
  void write_output(io::OutputFile& out, const tempering::ReplicaExchange& ex) const;

 private:
  tempering::LadderAdapt adapt_;
  std::vector<std::int64_t> window_end_;
  std::vector<double> betas_;
  std::vector<std::int64_t> window_attempts_;  //!< the exchange counts at the window's start
  std::vector<double> window_prob_;
};

}  // namespace zeta::training
