//! What the tempered negative phases (train.objective = pt_pcd: training/rbm_tempered.hpp,
//! training/mlp_tempered.hpp) share: their keys and their JSON figures.
#pragma once
#include "zeta/core/config.hpp"
#include "zeta/core/json.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! train.temper_count, train.temper_beta_min.
void declare_tempered_keys(Config& cfg);
//! With train.objective = pt_pcd: the ladder into ts.temper_betas (errors name the key);
//! otherwise an explicit key of it is an error. `mlp`: train.chains is one chain per
//! batch row (train.batch when not given).
void read_tempered_keys(const Config& cfg, TrainSpec& ts, bool mlp);
//! temper_betas, temper_acceptance (per neighbour pair) and round_trips.
void add_tempering_json(JsonSummary& j, const TrainSpec& ts, const tempering::ReplicaExchange& ex);

}  // namespace zeta::training
