//! Parallel tempering over MPI ranks, the loop `zeta temper` runs. Each step
//! every replica makes one move at its own β (a sweep, or one sampler step); the
//! observables are all-gathered, and every `exchange_every` steps an exchange
//! round permutes the β labels, the same decision on every rank. States never
//! leave their rank. The loop owns restart, checkpoints, stop control, progress,
//! the statistics and the output file:
//!
//!   Tempering<System> pt(system, setup, range, comm);
//!   pt.restore();           // checkpoint.restart: resume; opens output.file
//!   while (pt.step()) {}    // false at run.steps or after a stop (signal, run.max_hours)
//!   TemperResult r = pt.finish(summarize);
//!
//! `System` is any chain system (samplers/system.hpp); `summarize` (the command's)
//! fills r.json from the final figures, which the output gets in /summary.
#pragma once
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zeta/core/fault.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/core/run.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/parallel/row_gather.hpp"
#include "zeta/samplers/divergence.hpp"
#include "zeta/samplers/system.hpp"
#include "zeta/tempering/detail/tempering_state.hpp"
#include "zeta/tempering/ladder.hpp"

namespace zeta::tempering {

struct TemperResult {
  std::string status = "ok";  //!< ok | interrupted
  std::int64_t steps_done = 0;
  std::string output;  //!< the output file's name as published (empty: none)
  std::vector<double> betas, acceptance, flow, mean_energy, mean_energy_stderr, tau_int;
  std::vector<double> mean_abs_magnetization, mean_abs_magnetization_stderr;  //!< lattice models, per site
  std::vector<std::int64_t> round_trips;                                      //!< per replica
  std::int64_t total_round_trips = 0;
  double barrier = 0;              //!< global communication barrier Λ = Σ_k r_k
  double move_acceptance = 0;      //!< of the sweeps / sampler moves
  //! BAR between neighbours on the saved energies: ln Z(β_k) − ln Z(β_0), or the
  //! absolute ln Z for lattice models when β_0 = 0 (then ln Z(0) = N ln 2).
  std::vector<double> log_z_bar, log_z_bar_stderr;
  bool log_z_absolute = false;
  double wall_s = 0, sweeps_per_s = 0, exchange_fraction = 0;
  double sync_wait_fraction = 0;  //!< part of exchange_fraction: waiting for the slower ranks' sweeps
  double round_trip_rate = 0;     //!< round trips per step after burn-in, per ladder copy
  JsonSummary json;               //!< filled by the command's io::Summarize
};

//! What a tempering run is asked for, validated by the command.
struct TemperingSetup {
  RunSpec run;
  TemperSpec ts;
  io::CheckpointSpec ck;
  std::string output_file;  //!< empty: no output
  std::string config;       //!< the resolved INI: root attribute, and the checkpoint's signature
  std::string defaults;     //!< every key at its default (Config::defaults_ini): keys newer than a checkpoint
};

template <class Sys>
class Tempering {
 public:
  Tempering(Sys& sys, const TemperingSetup& setup, const parallel::ChainRange& range, const parallel::Comm& comm)
      : sys_(sys),
        s_(setup),
        range_(range),
        comm_(comm),
        K_(setup.ts.levels()),
        copies_(setup.ts.copies),
        R_(range.global),
        nobs_(sys.observables()),
        dim_(sys.state_size()),
        ex_(K_, copies_) {
    st_.betas = s_.ts.betas;
    st_.window_attempts.assign(K_ - 1, 0);
    st_.window_prob.assign(K_ - 1, 0.0);
    st_.energy = estimators::BlockSeries(K_);
    if (Sys::lattice) st_.abs_m = estimators::BlockSeries(K_);
  }

  //! Resumes from checkpoint.file with checkpoint.restart (an error naming run.steps
  //! when it holds more steps; one that holds them all makes no step, and finish()
  //! writes the output and figures again from it: a run killed after its final
  //! checkpoint ends as it would have), sets every replica's β, opens output.file.
  void restore() {
    io::check_checkpoint_target(comm_, s_.ck, "temper", s_.config, detail::kSignatureKeys, s_.defaults);
    if (s_.ck.restart) {
      detail::read_checkpoint(comm_, s_.ck, s_.run, s_.ts, s_.config, s_.defaults, st_, ex_, sys_, range_);
      if (st_.step > s_.run.steps)
        config_error("run.steps", "is " + std::to_string(s_.run.steps) + " but checkpoint '" + s_.ck.file +
                                      "' is already at step " + std::to_string(st_.step));
    }
    local_betas_.resize(range_.count);
    set_local_betas();
    saves_ = s_.run.save_every > 0 ? (s_.run.steps - s_.run.burn_in) / s_.run.save_every : 0;
    if (!s_.output_file.empty()) {
      out_ = std::make_unique<io::OutputFile>(comm_, s_.output_file);
      io::write_root_attributes(*out_, "temper", s_.config, comm_);
    }
    window_end_ = detail::adaptation_window_ends(s_.ts, s_.run.burn_in);
    // A restart's lines count from its step to run.steps, as train's do.
    progress_ = std::make_unique<Progress>("zeta temper", s_.run.steps, double(R_) * sys_.moves_per_step(),
                                           Sys::lattice ? "spin-updates" : "replica-steps", comm_.root(),
                                           s_.run.progress_every, st_.step);
    stop_ = std::make_unique<parallel::StopControl>(comm_, s_.run.max_hours);
    check_diverged_ = std::make_unique<samplers::DivergenceCheck>(comm_, st_.step);
    energy_.resize(R_);
    e_row_.resize(K_);
    m_row_.resize(K_);
    gathered_ = std::make_unique<parallel::RowGather>(comm_, nobs_, range_);
    first_ = t_ = st_.step;
  }

  //! One step of every replica, the statistics, an exchange round when due, and a
  //! checkpoint when due; false when the run is over (run.steps, or a stop).
  bool step() {
    sys_.step(t_ + 1);  // counter step 0 is the initial state
    Kokkos::fence();
    Kokkos::Timer xt;
    gather();
    check_diverged_->energies(energy_, t_ + 1);  // all-gathered: the same decision on every rank
    const bool post = t_ >= s_.run.burn_in;
    if (post) accumulate();
    if ((t_ + 1) % s_.ts.exchange_every == 0) exchange(post);
    if (t_ + 1 == s_.run.burn_in) {
      ex_.reset_statistics();
      st_.window_attempts.assign(K_ - 1, 0);
      st_.window_prob.assign(K_ - 1, 0.0);
    }
    exchange_s_ += xt.seconds();
    st_.step = t_ + 1;
    progress_->update(t_ + 1);
    const auto& ck = s_.ck;
    const bool checkpoint = !ck.file.empty() && ck.every > 0 && (t_ + 1) % ck.every == 0 && t_ + 1 < s_.run.steps;
    // Never a diverged state in a checkpoint: the previous one stays.
    if (checkpoint || (t_ + 1) % 16 == 0) (*check_diverged_)(sys_, t_ + 1);
    if (checkpoint) detail::write_checkpoint(comm_, ck, s_.config, st_, ex_, sys_, range_);
    ++t_;
    if (t_ % 16 == 0 && t_ < s_.run.steps && stop_->should_stop()) {
      res_.status = "interrupted";
      return false;
    }
    return t_ < s_.run.steps;
  }

  //! The results (acceptance, round trips, ⟨E⟩ with batch-means errors and τ_int,
  //! BAR ln Z) and rates, the JSON line by `summarize`, the output file with it in
  //! /summary, and the final checkpoint.
  TemperResult finish(const io::Summarize<TemperResult>& summarize = {}) {
    wait_s_ += in_gather_ + comm_.max(-in_gather_);  // the last step's
    Kokkos::fence();
    res_.steps_done = t_;
    (*check_diverged_)(sys_, t_);  // before the output and the final checkpoint
    detail::exchange_results(ex_, K_, res_);
    detail::level_statistics(st_, K_, Sys::lattice, res_);
    const double moves = double(R_) * double(std::max<std::int64_t>(1, res_.steps_done)) * sys_.moves_per_step();
    res_.move_acceptance = double(comm_.sum(samplers::sum_counts<Space>(sys_.accepted()))) / moves;
    detail::bar_results(st_, s_.run.save_every, copies_, K_, Sys::lattice, dim_, comm_, res_);
    if (out_)
      detail::write_output(*out_, st_, res_, copies_, K_, saves_, R_, Sys::lattice, dim_,
                           samplers::saved_row_words(sys_), comm_);
    res_.wall_s = timer_.seconds();
    res_.sweeps_per_s = double(res_.steps_done - first_) / res_.wall_s;
    res_.exchange_fraction = exchange_s_ / res_.wall_s;
    res_.sync_wait_fraction = wait_s_ / res_.wall_s;
    res_.round_trip_rate = double(res_.total_round_trips) /
                           double(std::max<std::int64_t>(1, res_.steps_done - s_.run.burn_in)) / double(copies_);
    if (summarize) summarize(res_);
    // The output is published before the final checkpoint: a run stopped between the
    // two resumes from the previous checkpoint and publishes it again (the first copy
    // is kept as a backup); the other order would leave a checkpoint at run.steps
    // and no output until a restart wrote it from the checkpoint.
    if (out_) res_.output = io::publish(*out_, res_.json, comm_);
    fault_point("before_final_checkpoint");
    if (!s_.ck.file.empty()) detail::write_checkpoint(comm_, s_.ck, s_.config, st_, ex_, sys_, range_);
    return res_;
  }

  //! restore(), step() until done, finish(summarize).
  TemperResult run(const io::Summarize<TemperResult>& summarize = {}) {
    restore();
    while (t_ < s_.run.steps && step()) {
    }
    return finish(summarize);
  }

 private:
  using Space = typename Sys::space;

  void set_local_betas() {
    for (std::int64_t c = 0; c < range_.count; ++c) local_betas_[c] = st_.betas[ex_.level_of(range_.offset + c)];
    sys_.set_betas(local_betas_);
  }

  //! rows: every replica's observables; tails: each rank's seconds inside the
  //! previous step's all-gather, riding along. The rank that entered it last spent
  //! the least: the communication itself; what a rank spent beyond that minimum, it
  //! waited for the slower ranks' sweeps.
  void gather() {
    sys_.observe(local_);
    local_.push_back(in_gather_);
    Kokkos::Timer gt;
    gathered_->gather(local_);
    const auto& tails = gathered_->tails();
    wait_s_ += in_gather_ - *std::min_element(tails.begin(), tails.end());  // the previous step's
    in_gather_ = gt.seconds();
    const std::vector<double>& all = gathered_->rows();
    for (std::int64_t c = 0; c < R_; ++c) energy_[c] = all[c * nobs_];
  }

  //! Copy-averaged observables per level into the series, and the saved rows when due.
  void accumulate() {
    const std::vector<double>& all = gathered_->rows();
    for (int k = 0; k < K_; ++k) {
      double e = 0, m = 0;
      for (int copy = 0; copy < copies_; ++copy) {
        const std::int64_t c = ex_.chain_at(copy, k);
        e += all[c * nobs_];
        if (Sys::lattice) m += std::fabs(all[c * nobs_ + 1]) / double(dim_);
      }
      e_row_[k] = e / copies_;
      m_row_[k] = m / copies_;
    }
    st_.energy.add(e_row_.data());
    if (Sys::lattice) st_.abs_m.add(m_row_.data());
    if (saves_ > 0 && (t_ - s_.run.burn_in + 1) % s_.run.save_every == 0 && st_.saved < saves_) save_rows(all);
  }

  void save_rows(const std::vector<double>& all) {
    if constexpr (!Sys::lattice) {
      // The states at the target β: rank 0 collects (copy, x) rows from their owners.
      std::vector<double> xrows;
      const auto hx = sys_.host_states();
      for (int copy = 0; copy < copies_; ++copy) {
        const std::int64_t c = ex_.chain_at(copy, K_ - 1) - range_.offset;
        if (c >= 0 && c < range_.count) {
          xrows.push_back(double(copy));
          for (int i = 0; i < dim_; ++i) xrows.push_back(double(hx(c, i)));
        }
      }
      const auto got = comm_.gather_to_root(xrows);
      if (comm_.root()) {
        std::vector<double> ordered(std::size_t(copies_) * dim_);
        for (std::size_t at = 0; at < got.size(); at += dim_ + 1)
          std::copy(got.begin() + at + 1, got.begin() + at + 1 + dim_, ordered.begin() + std::size_t(got[at]) * dim_);
        st_.rows_x.insert(st_.rows_x.end(), ordered.begin(), ordered.end());
      }
    }
    if (comm_.root())
      for (int copy = 0; copy < copies_; ++copy)
        for (int k = 0; k < K_; ++k) {
          const std::int64_t c = ex_.chain_at(copy, k);
          st_.rows_energy.push_back(all[c * nobs_]);
          if (Sys::lattice) st_.rows_m.push_back(all[c * nobs_ + 1]);
          st_.rows_replica.push_back(c);
        }
    ++st_.saved;
  }

  //! An exchange round, the ladder's adaptation at the end of each window, the new β.
  void exchange(bool post) {
    ex_.round((t_ + 1) / s_.ts.exchange_every, s_.ts.scheme, st_.betas, energy_, s_.run.seed, post);
    for (const auto e : window_end_)
      if (t_ + 1 == e) {
        detail::adapt_ladder(s_.ts, ex_, st_);
        st_.window_attempts = ex_.attempts();
        st_.window_prob = ex_.accept_prob_sum();
      }
    set_local_betas();
  }

  Sys& sys_;
  TemperingSetup s_;
  parallel::ChainRange range_;
  const parallel::Comm& comm_;
  Kokkos::Timer timer_;
  int K_, copies_;
  std::int64_t R_;
  int nobs_, dim_;
  ReplicaExchange ex_;
  detail::RunState st_;
  std::vector<double> local_betas_;
  std::int64_t saves_ = 0;
  std::unique_ptr<io::OutputFile> out_;
  std::vector<std::int64_t> window_end_;
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<parallel::StopControl> stop_;
  std::unique_ptr<samplers::DivergenceCheck> check_diverged_;
  std::unique_ptr<parallel::RowGather> gathered_;
  std::vector<double> local_, energy_, e_row_, m_row_;
  double exchange_s_ = 0, wait_s_ = 0;
  double in_gather_ = 0;  //!< this rank's seconds inside its last all-gather
  std::int64_t first_ = 0, t_ = 0;
  TemperResult res_;
};

}  // namespace zeta::tempering
