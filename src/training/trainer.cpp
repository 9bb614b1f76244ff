#include "zeta/training/trainer.hpp"

#include <cmath>
#include <memory>

#include "zeta/core/error.hpp"
#include "zeta/core/fault.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/io/output.hpp"
#include "zeta/training/output_attributes.hpp"

namespace zeta::training {

namespace {

//! The step and the optimizer's state: /run/step, /optimizer/{m, v, steps}.
struct TrainState {
  std::vector<std::int64_t> head{0, 0};  //!< step, optimizer steps
  std::vector<double> m, v;
};

template <class Space>
void write_train_state(hid_t f, std::int64_t step, const Optimizer<Space>& opt) {
  std::vector<double> m, v;
  std::int64_t opt_steps = 0;
  opt.save(m, v, opt_steps);
  io::write_array(f, "/run/step", {1}, &step);
  io::write_array(f, "/optimizer/m", {m.size()}, m.data());
  io::write_array(f, "/optimizer/v", {v.size()}, v.data());
  io::write_array(f, "/optimizer/steps", {1}, &opt_steps);
}

//! Reads the state of a model with `n_params` parameters (v is empty unless `adam`).
inline TrainState read_train_state(hid_t f, const std::string& file, std::size_t n_params, bool adam) {
  TrainState st;
  st.head[0] = io::read_array<std::int64_t>(f, file, "/run/step", {1})[0];
  st.head[1] = io::read_array<std::int64_t>(f, file, "/optimizer/steps", {1})[0];
  st.m = io::read_array<double>(f, file, "/optimizer/m", {hsize_t(n_params)});
  st.v = io::read_array<double>(f, file, "/optimizer/v", {hsize_t(adam ? n_params : 0)});
  return st;
}

//! Corruption checks of a read state with its parameters θ (naming the file and dataset).
inline void check_train_state(const TrainState& st, const std::vector<double>& theta, const std::string& file) {
  if (st.head[0] < 0) io::corrupt(file, "/run/step", "is negative");
  if (st.head[1] != st.head[0]) io::corrupt(file, "/optimizer/steps", "disagrees with /run/step");
  for (double x : theta)
    if (!std::isfinite(x)) io::corrupt(file, "/model", "holds non-finite parameters");
  for (double x : st.m)
    if (!std::isfinite(x)) io::corrupt(file, "/optimizer/m", "holds a non-finite value");
  for (double x : st.v)
    if (!(x >= 0) || !std::isfinite(x)) io::corrupt(file, "/optimizer/v", "holds a value that is negative or not finite");
}

inline void broadcast_train_state(const parallel::Comm& comm, TrainState& st) {
  comm.broadcast(st.head);
  comm.broadcast(st.m);
  comm.broadcast(st.v);
}

//! A restart beyond run.steps is an error; one at run.steps makes no step, and finish()
//! writes the output and figures again from the checkpoint (a run killed after its
//! final checkpoint ends as it would have).
inline void require_steps_left(const TrainSpec& ts, const io::CheckpointSpec& ck, std::int64_t step) {
  if (step > ts.steps)
    config_error("run.steps", "is " + std::to_string(ts.steps) + " but checkpoint '" + ck.file +
                                  "' is already at step " + std::to_string(step));
}

}  // namespace

Trainer::Trainer(const TrainSetup& setup, const parallel::Comm& comm, Objective& obj)
    : comm_(comm),
      ts_(setup.train),
      ck_(setup.checkpoint),
      config_(setup.config),
      defaults_(setup.defaults),
      obj_(obj),
      opt_(ts_.opt, std::int64_t(obj.n_params())),
      grad_(comm, obj.n_params(), ts_.shared_reduction) {}

void Trainer::diverged(std::int64_t step, const std::string& what) const {
  std::string msg = "training diverged at step " + std::to_string(step) + ": " + what +
                    " holds NaN or Inf (train.lr = " + json_number(ts_.opt.lr) +
                    " may be too large); nothing was written from this state";
  if (!ck_.file.empty())
    msg += checkpointed_ ? ", checkpoint '" + ck_.file + "' still holds the last good one"
                         : "; this run wrote no checkpoint before it";
  throw Error(msg);
}

void Trainer::write_checkpoint(std::int64_t step) {
  obj_.gather_state();
  io::write_checkpoint(comm_, ck_.file, [&](hid_t f) {
    io::write_checkpoint_header(f, "train", config_, obj_.signature_keys());
    write_train_state(f, step, opt_);
    obj_.write_state(f);
  });
  checkpointed_ = true;
}

std::int64_t Trainer::restore() {
  io::check_checkpoint_target(comm_, ck_, "train", config_, obj_.signature_keys(), defaults_);
  if (!ck_.restart) {
    obj_.start();
    return 0;
  }
  std::vector<double> theta;
  TrainState st;
  io::read_checkpoint(comm_, ck_.file, [&](hid_t f, const std::string& file) {
    io::check_checkpoint_header(f, file, "train", config_, obj_.signature_keys(), defaults_);
    st = read_train_state(f, file, obj_.n_params(), ts_.opt.type == OptimizerType::adam);
    theta = obj_.read_state(f, file);
    check_train_state(st, theta, file);
  });
  checkpointed_ = true;
  broadcast_train_state(comm_, st);
  comm_.broadcast(theta);
  obj_.restore(theta);
  opt_.load(st.m, st.v, st.head[1]);
  require_steps_left(ts_, ck_, st.head[0]);
  // A run continued beyond the run.steps of the run that wrote the checkpoint drops the
  // rows that run's finish() and record_final() added off their tables' grids, where a
  // straight run has none.
  const std::int64_t step = st.head[0];
  if (step < ts_.steps)
    for (const MonitorTable& t : obj_.monitor_tables())
      if (t.off_grid_at(step)) t.table.drop_last_row();
  return step;
}

void Trainer::record(std::int64_t s) {
  bool finite = true;
  const double gnorm = grad_.norm(finite);
  if (!finite) diverged(s, "the parameter gradient");
  if (const char* bad = obj_.record(s, gnorm)) diverged(s, bad);
}

void Trainer::record_final(std::int64_t step) {
  if (ts_.eval_every == 0 || step != ts_.steps || obj_.monitor_table().last_step() == step) return;
  obj_.hold_state(true);
  obj_.gradient(step, grad_);
  record(step);
  obj_.hold_state(false);
}

void Trainer::step(std::int64_t s) {
  obj_.gradient(s, grad_);
  const bool eval = ts_.eval_every > 0 && s % ts_.eval_every == 0;
  // A run continued from the final checkpoint of a shorter one has step s's row from there.
  if (eval && obj_.monitor_table().last_step() != s) record(s);
  if (const char* bad = obj_.monitor(s, eval)) diverged(s, bad);
  const char* bad = grad_.update(opt_, obj_.theta(), s, ts_.steps);
  obj_.params_updated();
  if (bad) diverged(s, bad);
}

TrainResult Trainer::run(const Kokkos::Timer& timer, const io::Summarize<TrainResult>& summarize) {
  std::int64_t step = restore();
  std::unique_ptr<io::OutputFile> out;
  if (!ts_.file.empty()) {
    out = std::make_unique<io::OutputFile>(comm_, ts_.file);
    io::write_root_attributes(*out, "train", config_, comm_);
  }
  TrainResult res;
  Progress progress("zeta train", ts_.steps, double(ts_.batch), "examples", comm_.root(), ts_.progress_every, step);
  parallel::StopControl stop(comm_, ts_.max_hours);
  const std::int64_t first = step;
  for (; step < ts_.steps;) {
    const std::int64_t s = step;
    this->step(s);
    step = s + 1;
    progress.update(step);
    if (!ck_.file.empty() && ck_.every > 0 && step % ck_.every == 0 && step < ts_.steps) write_checkpoint(step);
    if (step < ts_.steps && stop.should_stop()) {
      res.status = "interrupted";
      break;
    }
  }
  Kokkos::fence();
  loop_s_ = progress.elapsed_s();
  res.steps_done = step;
  finish(res, first, out.get(), timer, summarize);
  return res;
}

//! The final evaluations, the rates, the JSON line (`summarize`), the output file with
//! it in /summary, and the final checkpoint.
void Trainer::finish(TrainResult& res, std::int64_t first, io::OutputFile* out, const Kokkos::Timer& timer,
                     const io::Summarize<TrainResult>& summarize) {
  const std::int64_t step = res.steps_done;
  record_final(step);
  if (const char* bad = obj_.finish(step, out != nullptr)) diverged(step, bad);
  res.params = obj_.params();
  obj_.summarize(res);
  if (out) obj_.write_output(*out, step);
  if (res.status == "ok") obj_.check(out);
  if (out) {
    out->attribute("steps", res.steps_done);
    describe_output(*out);
  }
  res.wall_s = timer.seconds();
  res.updates_per_s = loop_s_ > 0 ? double(res.steps_done - first) / loop_s_ : 0;
  res.examples_per_s = res.updates_per_s * double(ts_.batch);
  if (summarize) summarize(res);
  // The output is published before the final checkpoint: a run stopped between the
  // two resumes from the previous checkpoint and publishes it again (the first copy
  // is kept as a backup); the other order would leave a checkpoint at train.steps
  // and no output until a restart wrote it from the checkpoint.
  if (out) res.output = io::publish(*out, res.json, comm_);
  fault_point("before_final_checkpoint");
  if (!ck_.file.empty()) write_checkpoint(step);
}

}  // namespace zeta::training
