//! A training objective: what one model and one loss add to the trainer's loop
//! (training/trainer.hpp). It gives the gradient of the model's one flat parameter
//! vector θ for step s, keeps its monitors, and saves and restores what a checkpoint
//! needs beyond θ and the optimizer (chains, a replay buffer, the monitor tables).
//! Host-side virtual functions, chosen once per run (the kernels behind them are
//! templates on the execution space, as everywhere).
#pragma once
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/json.hpp"
#include "zeta/core/types.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/training/gradient_sum.hpp"
#include "zeta/training/result.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

class Objective {
 public:
  using Space = Kokkos::DefaultExecutionSpace;
  virtual ~Objective() = default;

  // ---- θ, the model's flat parameters, which the optimizer updates in place
  virtual std::size_t n_params() const = 0;
  virtual const Vector<Space>& theta() const = 0;
  //! Tells the model θ changed.
  virtual void params_updated() = 0;
  //! θ on the host (every rank).
  virtual std::vector<double> params() const = 0;

  // ---- the steps
  //! A run that does not restart from a checkpoint: the initial chain states.
  virtual void start() {}
  //! Step s's gradient, summed over ranks, into g.g().
  virtual void gradient(std::int64_t s, GradientSum<Space>& g) = 0;
  //! The train.eval_every monitors of the last gradient() (collective), with ‖g‖;
  //! null, or what holds NaN or ±Inf.
  virtual const char* record(std::int64_t s, double grad_norm) = 0;
  //! The other monitors before step s's update (collective; `eval_step`: record() ran);
  //! null, or what holds NaN or ±Inf.
  virtual const char* monitor(std::int64_t s, bool eval_step) = 0;
  //! record()'s table (its columns the /train datasets; column 0 the step of each row).
  virtual TableRef monitor_table() = 0;
  //! The train.eval_every monitors run once more at run.steps, after the last update:
  //! between hold_state(true) and hold_state(false), gradient() must leave what a later
  //! step reads (PCD's persistent chains, a replay buffer) as it was, so that a run
  //! continued from the final checkpoint takes the steps a straight run takes. record()
  //! still sees that gradient's negatives.
  virtual void hold_state(bool on) = 0;
  //! After the loop, `step` steps done (collective): the evaluations of the final θ
  //! (`to_output`: an output file follows); null, or what holds NaN or ±Inf.
  virtual const char* finish(std::int64_t step, bool to_output) = 0;
  //! Every monitor table with the step grid it is evaluated on (`every`; 0 = none),
  //! record()'s table among them. finish() may add a row at run.steps off that grid:
  //! a run continued beyond the run.steps of the run whose checkpoint it read drops
  //! such rows (Trainer::restore), where a straight run has none.
  virtual std::vector<MonitorTable> monitor_tables() = 0;

  // ---- checkpoints
  //! The configuration keys a checkpoint must agree with.
  virtual const std::vector<std::string>& signature_keys() const = 0;
  //! Collective: what write_state needs, on the rank that writes.
  virtual void gather_state() = 0;
  //! θ in the model's /model layout, the monitor tables and the chain state.
  virtual void write_state(hid_t f) = 0;
  //! Reads what write_state wrote (corruption is an error); returns θ.
  virtual std::vector<double> read_state(hid_t f, const std::string& file) = 0;
  //! Collective: the state read on one rank on every rank, and θ set.
  virtual void restore(const std::vector<double>& theta) = 0;

  // ---- results
  //! The trained model and the monitor tables (collective).
  virtual void write_output(io::OutputFile& out, std::int64_t step) = 0;
  //! After a run that finished (collective): checks of the trained model, into `out` if set.
  virtual void check(io::OutputFile* out) { (void)out; }
  //! The last monitor values into `res`.
  virtual void summarize(TrainResult& res) const = 0;
  //! The JSON line's model and sampler.
  virtual const char* model_name() const = 0;
  virtual const char* sampler_name() const = 0;
  //! The JSON figures between the header and the rates.
  virtual void add_json(JsonSummary& j, const TrainResult& res) const = 0;
};

}  // namespace zeta::training
