//! training::Trainer, the one training loop, over an objective written here (a
//! quadratic bowl), without a command: a new objective is a class, not a new loop.
//! It converges as plain gradient descent does, a restart from its checkpoint gives
//! the uninterrupted run's θ bit for bit, and a diverging run stops with the loop's
//! error. Registered at 1, 2 and 4 ranks (each rank adds 1/R of the gradient, which
//! the deterministic reduction sums exactly).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/training/series.hpp"
#include "zeta/training/trainer.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;

//! train.eval_every of the bowl's runs.
constexpr std::int64_t kEvalEvery = 5;

//! E(θ) = ½ Σ_i (θ_i − t_i)², ∇E = θ − t; the monitor is E.
class Bowl : public training::Objective {
 public:
  struct Series {
    std::vector<double> step, energy;
    std::vector<std::vector<double>*> all() { return {&step, &energy}; }
    static const std::vector<std::string>& names() {
      static const std::vector<std::string> n = {"step", "bowl_energy"};
      return n;
    }
  };

  Bowl(std::vector<double> target, bool deterministic, const parallel::Comm& comm)
      : t_(std::move(target)),
        deterministic_(deterministic),
        comm_(comm),
        theta_("zeta::test::bowl_theta", t_.size()) {}

  std::size_t n_params() const override { return t_.size(); }
  const Vector<Space>& theta() const override { return theta_; }
  void params_updated() override {}
  std::vector<double> params() const override { return host_copy(theta_); }

  void gradient(std::int64_t, training::GradientSum<Space>& g) override {
    const auto th = params();
    const auto share = [&](const Vector<Space>& v) {
      auto h = Kokkos::create_mirror_view(v);
      for (std::size_t i = 0; i < t_.size(); ++i) h(i) = Real((th[i] - t_[i]) / comm_.size());
      Kokkos::deep_copy(v, h);
    };
    g.reduce(deterministic_, 1, [&](std::int64_t, const Vector<Space>& v) { share(v); }, share);
  }
  const char* record(std::int64_t s, double) override {
    double e = 0;
    for (std::size_t i = 0; i < t_.size(); ++i) e += 0.5 * (params()[i] - t_[i]) * (params()[i] - t_[i]);
    series_.step.push_back(double(s));
    series_.energy.push_back(e);
    return std::isfinite(e) ? nullptr : "the bowl's energy";
  }
  training::TableRef monitor_table() override { return training::table_ref(series_); }
  std::vector<training::MonitorTable> monitor_tables() override { return {{monitor_table(), kEvalEvery}}; }
  void hold_state(bool) override {}
  const char* monitor(std::int64_t, bool) override { return nullptr; }
  const char* finish(std::int64_t, bool) override { return nullptr; }

  const std::vector<std::string>& signature_keys() const override {
    static const std::vector<std::string> keys = {"train.optimizer"};
    return keys;
  }
  void gather_state() override { saved_ = params(); }
  void write_state(hid_t f) override {
    io::write_array(f, "/model/bowl/theta", {hsize_t(saved_.size())}, saved_.data());
    training::write_series(f, series_);
  }
  std::vector<double> read_state(hid_t f, const std::string& file) override {
    training::read_series(f, file, series_, "monitor");
    return io::read_array<double>(f, file, "/model/bowl/theta", {hsize_t(t_.size())});
  }
  void restore(const std::vector<double>& theta) override {
    training::broadcast_series(comm_, series_);
    auto h = Kokkos::create_mirror_view(theta_);
    for (std::size_t i = 0; i < t_.size(); ++i) h(i) = Real(theta[i]);
    Kokkos::deep_copy(theta_, h);
  }

  void write_output(io::OutputFile& out, std::int64_t) override {
    const auto th = params();
    out.write_root_double("/model/bowl/theta", {hsize_t(th.size())}, th.data());
    training::write_series(out, series_);
  }
  void summarize(training::TrainResult& res) const override {
    if (series_.step.empty()) return;
    res.evaluated_at = std::int64_t(series_.step.back());
    res.loss = series_.energy.back();
  }
  const char* model_name() const override { return "bowl"; }
  const char* sampler_name() const override { return "none"; }
  void add_json(JsonSummary& j, const training::TrainResult& res) const override {
    j.add("steps", res.steps_done);
    j.add("loss", res.loss);
  }

  const Series& series() const { return series_; }

 private:
  std::vector<double> t_;
  bool deterministic_;
  const parallel::Comm& comm_;
  Vector<Space> theta_;
  Series series_;
  std::vector<double> saved_;
};

const std::vector<double> kTarget = {1.0, -2.0, 3.0, 0.25};

std::string file_name(const parallel::Comm& comm, const std::string& what) {
  return "test_trainer_np" + std::to_string(comm.size()) + "_" + what;
}

//! Trains a Bowl by plain gradient descent at learning rate `lr`; returns its result.
training::TrainResult train_bowl(const parallel::Comm& comm, std::int64_t steps, double lr,
                                 const io::CheckpointSpec& ck, const std::string& output, Bowl* keep = nullptr) {
  Config cfg;
  cfg.declare("run.seed", "1", "seed");
  training::declare_optimizer_keys(cfg);
  cfg.parse_text("", {"--train.optimizer=sgd", "--train.momentum=0", "--train.lr=" + std::to_string(lr)});
  training::TrainSetup setup;
  setup.checkpoint = ck;
  setup.config = cfg.resolved_ini();
  training::TrainSpec& ts = setup.train;
  ts.steps = steps;
  ts.batch = 1;
  ts.progress_every = 0;
  ts.eval_every = kEvalEvery;
  ts.deterministic = comm.power_of_two();
  ts.opt = training::read_optimizer_spec(cfg);
  ts.file = output;
  Bowl local(kTarget, ts.deterministic, comm);
  Bowl& bowl = keep ? *keep : local;
  Kokkos::Timer timer;
  return training::Trainer(setup, comm, bowl).run(timer);
}

TEST(Trainer, BowlConvergesAsGradientDescent) {
  parallel::Comm comm(MPI_COMM_WORLD);
  const auto r = train_bowl(comm, 60, 0.5, {}, "");
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.steps_done, 60);
  ASSERT_EQ(r.params.size(), kTarget.size());
  // θ_n − t = (1 − lr)^n (θ_0 − t) = −t / 2^n.
  const bool dbl = sizeof(Real) == sizeof(double);
  for (std::size_t i = 0; i < kTarget.size(); ++i) EXPECT_NEAR(r.params[i], kTarget[i], dbl ? 1e-15 : 1e-6) << i;
  EXPECT_EQ(r.evaluated_at, 60);  // the monitors at run.steps too, not only at 0, 5, ..., 55
  EXPECT_LT(r.loss, dbl ? 1e-20 : 1e-10);
}

TEST(Trainer, BowlRestartsBitForBit) {
  parallel::Comm comm(MPI_COMM_WORLD);
  const io::CheckpointSpec none;
  io::CheckpointSpec ck{file_name(comm, "restart.ckpt"), 0, false};
  // A constant learning rate: the half run and the whole one take the same steps.
  Bowl straight(kTarget, comm.power_of_two(), comm);
  const auto whole = train_bowl(comm, 40, 0.1, none, "", &straight);
  // The 17-step run ends with its monitors at step 17; the run continued from its final
  // checkpoint drops them (a straight run has no row there).
  Bowl first(kTarget, comm.power_of_two(), comm);
  train_bowl(comm, 17, 0.1, ck, "", &first);
  EXPECT_EQ(first.series().step, (std::vector<double>{0, 5, 10, 15, 17}));
  ck.restart = true;
  Bowl resumed(kTarget, comm.power_of_two(), comm);
  const auto rest = train_bowl(comm, 40, 0.1, ck, file_name(comm, "restart.h5"), &resumed);
  EXPECT_EQ(rest.steps_done, 40);
  EXPECT_EQ(rest.params, whole.params);
  EXPECT_EQ(rest.loss, whole.loss);
  EXPECT_EQ(resumed.series().step, (std::vector<double>{0, 5, 10, 15, 20, 25, 30, 35, 40}));
  EXPECT_EQ(resumed.series().step, straight.series().step);
  EXPECT_EQ(resumed.series().energy, straight.series().energy);
  comm.barrier();
  if (comm.root())
    for (const char* what : {"restart.ckpt", "restart.ckpt.prev", "restart.h5"})
      std::remove(file_name(comm, what).c_str());
}

//! The type class of dataset `name` in `file` (H5T_INTEGER, H5T_FLOAT, ...).
H5T_class_t type_class(const std::string& file, const std::string& name) {
  io::Handle f = io::open_read(file);
  io::Handle d(H5Dopen2(f.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  io::Handle t(H5Dget_type(d.id()), H5Tclose);
  return H5Tget_class(t.id());
}

// The monitors at run.steps come once: a restart from the final checkpoint (at
// run.steps exactly) makes no step and adds no row; the output's step column is int64.
TEST(Trainer, FinalMonitorsOnceAndStepsAsIntegers) {
  parallel::Comm comm(MPI_COMM_WORLD);
  io::CheckpointSpec ck{file_name(comm, "final.ckpt"), 0, false};
  const std::string out = file_name(comm, "final.h5"), again = file_name(comm, "final_again.h5");
  Bowl a(kTarget, comm.power_of_two(), comm);
  const auto r = train_bowl(comm, 23, 0.1, ck, out, &a);
  EXPECT_EQ(r.evaluated_at, 23);
  const std::vector<double> steps = {0, 5, 10, 15, 20, 23};
  EXPECT_EQ(a.series().step, steps);
  ck.restart = true;
  Bowl b(kTarget, comm.power_of_two(), comm);
  const auto r2 = train_bowl(comm, 23, 0.1, ck, again, &b);
  EXPECT_EQ(r2.steps_done, 23);
  EXPECT_EQ(b.series().step, steps);
  EXPECT_EQ(b.series().energy, a.series().energy);
  comm.barrier();
  if (comm.root()) {
    for (const auto& file : {out, again}) {
      std::vector<hsize_t> dims;
      EXPECT_EQ(io::read_doubles(file, "/train/step", dims), steps) << file;
      EXPECT_EQ(type_class(file, "/train/step"), H5T_INTEGER) << file;
      EXPECT_EQ(type_class(file, "/train/bowl_energy"), H5T_FLOAT) << file;
    }
    for (const auto& f : {ck.file, ck.file + ".prev", out, again}) std::remove(f.c_str());
  }
}

TEST(Trainer, DivergingBowlStopsWithTheLoopsError) {
  parallel::Comm comm(MPI_COMM_WORLD);
  // lr = 3: θ − t doubles in size and flips sign every step, until it overflows.
  try {
    train_bowl(comm, 5000, 3.0, {}, "");
    FAIL() << "no divergence";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training diverged at step"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zeta
