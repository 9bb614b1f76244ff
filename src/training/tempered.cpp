#include "zeta/training/tempered.hpp"

#include <string>
#include <vector>

#include "zeta/core/error.hpp"

namespace zeta::training {

void declare_tempered_keys(Config& cfg) {
  cfg.declare("train.temper_count", "4",
              "pt_pcd: replicas per persistent chain, at the temperatures of a geometric ladder from "
              "train.temper_beta_min to beta = 1 (at least 2; the gradient takes the beta = 1 replicas)");
  cfg.declare("train.temper_beta_min", "0.3", "pt_pcd: the ladder's smallest inverse temperature, 0 < beta_min < 1");
}

void read_tempered_keys(const Config& cfg, TrainSpec& ts, bool mlp) {
  if (!ts.pt_pcd) {
    // Off their defaults (a resolved configuration, which lists every key, runs as it is).
    for (const char* key : {"train.temper_count", "train.temper_beta_min"})
      if (cfg.differs_from_default(key)) config_error(key, "applies to train.objective = pt_pcd only");
    return;
  }
  const std::int64_t K = cfg.get_int_at_least("train.temper_count", 1);
  if (K < 2)
    config_error("train.temper_count", "a tempered negative phase needs at least 2 temperatures (got " +
                                           std::to_string(K) + "; train.objective = pcd has one)");
  if (K > 1000) config_error("train.temper_count", "is impossibly large");
  const double b0 = cfg.get_positive("train.temper_beta_min");
  if (!(b0 < 1))
    config_error("train.temper_beta_min", "must be below 1, the target's beta (got " + json_number(b0) + ")");
  ts.temper_betas = tempering::make_ladder(b0, 1.0, int(K), "geometric");
  ts.temper_betas.back() = 1.0;
  if (mlp) {
    for (const char* key : {"train.buffer_size", "train.reinit_prob"})
      if (cfg.differs_from_default(key))
        config_error(key, "is the replay buffer of mlp pcd; pt_pcd's chains are persistent replicas");
    // One chain per batch row: train.chains at its default or equal to train.batch.
    if (ts.chains != ts.batch && cfg.differs_from_default("train.chains"))
      config_error("train.chains", "mlp pt_pcd: one persistent chain per batch row, train.chains = train.batch = " +
                                       std::to_string(ts.batch) + " (got " + std::to_string(ts.chains) + ")");
    ts.chains = ts.batch;
  }
}

void add_tempering_json(JsonSummary& j, const TrainSpec& ts, const tempering::ReplicaExchange& ex) {
  j.add("temper_betas", ts.temper_betas);
  std::vector<double> acc(ts.temper_betas.size() - 1, 0.0);
  for (std::size_t k = 0; k < acc.size(); ++k)
    acc[k] = ex.attempts()[k] > 0 ? double(ex.accepts()[k]) / double(ex.attempts()[k]) : 0.0;
  j.add("temper_acceptance", acc);
  j.add("round_trips", ex.total_round_trips());
}

}  // namespace zeta::training
