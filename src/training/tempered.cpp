#include "zeta/training/tempered.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/io/checkpoint.hpp"

namespace zeta::training {

void declare_tempered_keys(Config& cfg) {
  cfg.declare("train.temper_count", "4",
              "pt_pcd: replicas per persistent chain, at the temperatures of a geometric ladder from "
              "train.temper_beta_min to beta = 1 (at least 2; the gradient takes the beta = 1 replicas)");
  cfg.declare("train.temper_beta_min", "0.3", "pt_pcd: the ladder's smallest inverse temperature, 0 < beta_min < 1");
  cfg.declare("train.temper_adapt", "none",
              "pt_pcd: none (the geometric ladder throughout) | acceptance (equal swap acceptance) | barrier "
              "(round-trip-optimal NRPT schedule, Syed et al. 2021), as temper.adapt: the inner betas move during "
              "the first train.temper_adapt_steps steps, beta_min and beta = 1 stay (needs temper_count >= 3)");
  cfg.declare("train.temper_adapt_steps", "0",
              "pt_pcd with train.temper_adapt: the first steps, in which the ladder adapts (>= 1); then it stays and "
              "the swap statistics restart (so run.steps should be well beyond it)");
  cfg.declare("train.temper_adapt_rounds", "6",
              "pt_pcd with train.temper_adapt: adaptation windows, of doubling length, in train.temper_adapt_steps "
              "(1 to 40)");
}

const std::vector<std::string>& tempered_signature_keys() {
  static const std::vector<std::string> keys = {"train.temper_count", "train.temper_beta_min", "train.temper_adapt",
                                                "train.temper_adapt_steps", "train.temper_adapt_rounds"};
  return keys;
}

void read_tempered_keys(const Config& cfg, TrainSpec& ts, bool mlp) {
  if (!ts.pt_pcd) {
    // Off their defaults (a resolved configuration, which lists every key, runs as it is).
    for (const std::string& key : tempered_signature_keys())
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
  const std::string adapt = cfg.get_choice("train.temper_adapt", {"none", "acceptance", "barrier"});
  ts.temper_adapt = adapt == "none"         ? tempering::LadderAdapt::none
                    : adapt == "acceptance" ? tempering::LadderAdapt::acceptance
                                            : tempering::LadderAdapt::barrier;
  if (ts.temper_adapt == tempering::LadderAdapt::none) {
    for (const char* key : {"train.temper_adapt_steps", "train.temper_adapt_rounds"})
      if (cfg.differs_from_default(key)) config_error(key, "applies with train.temper_adapt = acceptance or barrier");
  } else {
    if (K < 3)
      config_error("train.temper_adapt", "moves the inner temperatures of the ladder, and train.temper_count = " +
                                             std::to_string(K) + " has none (needs at least 3)");
    ts.temper_adapt_steps = cfg.get_int_at_least("train.temper_adapt_steps", 1);
    ts.temper_adapt_rounds = int(cfg.get_int_at_least("train.temper_adapt_rounds", 1));
    if (ts.temper_adapt_rounds > 40) config_error("train.temper_adapt_rounds", "must be <= 40");
  }
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

TemperedLadder::TemperedLadder(const TrainSpec& ts)
    : adapt_(ts.temper_adapt),
      betas_(ts.temper_betas),
      window_attempts_(ts.temper_betas.size() - 1, 0),
      window_prob_(ts.temper_betas.size() - 1, 0.0) {
  if (adapting()) window_end_ = tempering::adaptation_window_ends(ts.temper_adapt_rounds, ts.temper_adapt_steps);
}

bool TemperedLadder::after_round(std::int64_t s, tempering::ReplicaExchange& ex) {
  if (window_end_.empty() || s + 1 > window_end_.back()) return false;
  for (const std::int64_t e : window_end_)
    if (s + 1 == e) {
      const bool changed = tempering::adapt_betas(adapt_, ex, window_attempts_, window_prob_, betas_);
      if (e == window_end_.back()) {
        ex.reset_statistics();
        window_attempts_.assign(window_attempts_.size(), 0);
        window_prob_.assign(window_prob_.size(), 0.0);
      } else {
        window_attempts_ = ex.attempts();
        window_prob_ = ex.accept_prob_sum();
      }
      return changed;
    }
  return false;
}

void TemperedLadder::write(hid_t f) const {
  if (!adapting()) return;
  io::write_array(f, "/train/temper_betas", {hsize_t(betas_.size())}, betas_.data());
  io::write_array(f, "/train/temper_window_attempts", {hsize_t(window_attempts_.size())}, window_attempts_.data());
  io::write_array(f, "/train/temper_window_prob", {hsize_t(window_prob_.size())}, window_prob_.data());
}

void TemperedLadder::read(hid_t f, const std::string& file) {
  if (!adapting()) return;
  const hsize_t K = betas_.size();
  const auto b = io::read_array<double>(f, file, "/train/temper_betas", {K});
  // The ends are the keys' (β_1 = train.temper_beta_min, β_K = 1), the inner ones between.
  for (std::size_t k = 0; k < b.size(); ++k)
    if (!std::isfinite(b[k]) || (k > 0 && !(b[k] > b[k - 1])) || ((k == 0 || k + 1 == b.size()) && b[k] != betas_[k]))
      io::corrupt(file, "/train/temper_betas", "is not an increasing ladder from train.temper_beta_min to 1");
  betas_ = b;
  window_attempts_ = io::read_array<std::int64_t>(f, file, "/train/temper_window_attempts", {K - 1});
  window_prob_ = io::read_array<double>(f, file, "/train/temper_window_prob", {K - 1});
  for (std::size_t k = 0; k + 1 < K; ++k)
    if (window_attempts_[k] < 0 || !std::isfinite(window_prob_[k]) || window_prob_[k] < 0)
      io::corrupt(file, "/train/temper_window_attempts", "holds a negative or non-finite count");
}

void TemperedLadder::broadcast(const parallel::Comm& comm) {
  if (!adapting()) return;
  comm.broadcast(betas_);
  comm.broadcast(window_attempts_);
  comm.broadcast(window_prob_);
}

namespace {
std::vector<double> acceptance_of(const tempering::ReplicaExchange& ex) {
  std::vector<double> acc(ex.attempts().size(), 0.0);
  for (std::size_t k = 0; k < acc.size(); ++k)
    acc[k] = ex.attempts()[k] > 0 ? double(ex.accepts()[k]) / double(ex.attempts()[k]) : 0.0;
  return acc;
}
}  // namespace

void TemperedLadder::add_json(JsonSummary& j, const tempering::ReplicaExchange& ex) const {
  j.add("temper_betas", betas_);
  j.add("temper_acceptance", acceptance_of(ex));
  j.add("round_trips", ex.total_round_trips());
}

void TemperedLadder::write_output(io::OutputFile& out, const tempering::ReplicaExchange& ex) const {
  const auto acc = acceptance_of(ex);
  out.write_root_double("/train/temper_betas", {hsize_t(betas_.size())}, betas_.data());
  out.write_root_double("/train/temper_acceptance", {hsize_t(acc.size())}, acc.data());
  const auto& trips = ex.round_trips();
  out.write_root_int64("/train/temper_round_trips", {hsize_t(trips.size())}, trips.data());
}

}  // namespace zeta::training
