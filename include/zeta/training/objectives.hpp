//! Which objective trains which model: the one place `zeta train` (and any other
//! driver) turns a validated setup into its Objective. One table per model kind
//! (mlp, net, rbm), each entry the TrainSpec flag that train.objective set and the
//! builder of its type; the first entry whose flag is set wins, and a table's last
//! entry (no flag) is the kind's default, its cd / pcd. A new objective is a new type
//! in training/ and one line in its table (src/training/objectives.cpp).
#pragma once
#include <functional>

#include "zeta/data/dataset.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/result.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! Builds the model of `setup` from `params` (the loaded or initial θ) and the objective
//! that trains it on `d`, and returns run(objective); both live for run's duration.
TrainResult with_objective(const TrainSetup& setup, const data::Dataset& d, const models::ModelParams& params,
                           const parallel::Comm& comm, const std::function<TrainResult(Objective&)>& run);

}  // namespace zeta::training
