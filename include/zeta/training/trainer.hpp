//! The one training loop: data-parallel steps of any Objective (training/objective.hpp)
//! with the optimizer, restart from a checkpoint, periodic and final checkpoints,
//! SIGTERM / SIGUSR1 and run.max_hours, divergence checks, monitors and progress.
//!
//! Every rank holds its data partitions and the same θ; step s is
//!   gradient    the objective's gradient of θ on global batch s, summed over ranks
//!               (GradientSum: deterministic, a pairwise tree over partitions then
//!               Comm::tree_allreduce, bitwise the same on 1, 2, 4 ranks; otherwise one
//!               SharedSum / MPI_Allreduce);
//!   monitors    at the train.eval_every steps ‖g‖ and the objective's record(), then
//!               its other monitors, on θ before the update (and once more at run.steps
//!               on the final θ and batch run.steps, without an update: the curves end
//!               where the run ends);
//!   update      training::Optimizer on θ in place (schedule, clipping, weight decay),
//!               one collective verdict on NaN / Inf.
//! Everything random is a function of (seed, example or chain, step), so a checkpoint
//! holds θ, the optimizer state, s and the objective's state.
#pragma once
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>

#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/gradient_sum.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/optimizer.hpp"
#include "zeta/training/result.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class Trainer {
 public:
  using Space = Objective::Space;
  //! The run's settings (`setup.model` and `setup.data` are not read: the objective holds them).
  Trainer(const TrainSetup& setup, const parallel::Comm& comm, Objective& obj);

  //! Trains to run.steps (from the checkpoint with checkpoint.restart), writes
  //! output.file and the checkpoints; `timer` started with the command. The result's
  //! JSON is the command's `summarize` (the objective's add_json and add_reduce_json),
  //! called before the output is published with it in /summary.
  TrainResult run(const Kokkos::Timer& timer, const io::Summarize<TrainResult>& summarize = {});

  //! Seconds of run()'s step loop (the rates' time base).
  double loop_s() const { return loop_s_; }
  //! Seconds this rank spent summing gradients over ranks, waiting included.
  const ReduceClock& reduce_clock() const { return grad_.clock(); }

  //! Step s: gradient, monitors, update.
  void step(std::int64_t s);
  //! Restores checkpoint.file, or starts the objective; returns the first step.
  std::int64_t restore();
  void write_checkpoint(std::int64_t step);

 private:
  [[noreturn]] void diverged(std::int64_t step, const std::string& what) const;
  //! ‖g‖ and the objective's record() of the gradient of step s.
  void record(std::int64_t s);
  //! The train.eval_every monitors at run.steps (`step`), once: on the final θ, the
  //! objective's state held (Objective::hold_state).
  void record_final(std::int64_t step);
  void finish(TrainResult& res, std::int64_t first, io::OutputFile* out, const Kokkos::Timer& timer,
              const io::Summarize<TrainResult>& summarize);

  const parallel::Comm& comm_;
  const TrainSpec& ts_;
  const io::CheckpointSpec& ck_;
  const std::string& config_;    //!< the resolved INI
  const std::string& defaults_;  //!< every key at its default (keys newer than a checkpoint)
  bool checkpointed_ = false;    //!< checkpoint.file holds a state of this run (restored or written)
  Objective& obj_;
  Optimizer<Space> opt_;
  GradientSum<Space> grad_;
  double loop_s_ = 0;
};

}  // namespace zeta::training
