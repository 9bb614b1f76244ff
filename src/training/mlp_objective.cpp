#include "zeta/training/mlp_objective.hpp"

#include <cstdio>

#include "zeta/core/error.hpp"
#include "zeta/data/synthetic.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/noise_conditional_mlp.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

namespace {

//! Grid options that keep the energies of the cells (the /landscape).
estimators::GridOptions keeping_energy() {
  estimators::GridOptions keep;
  keep.keep_energy = true;
  return keep;
}

//! β E of a model, for the grid: the density e^{−β E} of a noise-conditional model.
template <class Model>
struct BetaScaled {
  using space = typename Model::space;
  Model& m;
  double beta;
  int dim() const { return m.dim(); }
  void energy(const Matrix<space>& x, const Vector<space>& E) const {
    m.energy(x, E);
    const Real b = Real(beta);
    Kokkos::parallel_for(
        "zeta::train::scale_energy", RangePolicy<space>(0, E.extent(0)), KOKKOS_LAMBDA(const std::int64_t c) {
          E(c) *= b;
        });
  }
};

//! grid_nll / grid_log_z of `mlp`, or of β E with β ≠ 1; with σ > 0, of β E(x, σ) of the
//! noise-conditional network `mlp` (models/noise_conditional_mlp.hpp).
template <class Mlp, class F>
auto on_density(Mlp& mlp, double beta, double sigma, F&& f) {
  if (sigma > 0) {
    models::NoiseConditionalMlp<typename Mlp::space> conditional(mlp, sigma);
    BetaScaled<models::NoiseConditionalMlp<typename Mlp::space>> scaled{conditional, beta};
    return f(scaled);
  }
  if (beta == 1) return f(mlp);
  BetaScaled<Mlp> scaled{mlp, beta};
  return f(scaled);
}

}  // namespace

const std::vector<std::string>& MlpObjective::NllSeries::names() {
  static const std::vector<std::string> n = {"nll_step", "grid_log_z", "heldout_nll", "heldout_nll_stderr"};
  return n;
}

// What a checkpoint must agree with: the model, the data, and what shapes the
// batches, the noise, the buffer and the optimizer state (not the learning rate
// or the sampler's step).
const std::vector<std::string>& MlpObjective::signature_keys() const {
  static const std::vector<std::string> keys = {"model.",      "data.",           "train.objective",   "train.batch",
                                                "train.sigma", "train.optimizer", "train.buffer_size", "run.seed"};
  return keys;
}

MlpObjective::MlpObjective(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d,
                           models::Mlp<Space>& mlp, const parallel::Comm& comm)
    : ts_(ts),
      data_(d),
      mlp_(mlp),
      comm_(comm),
      plan_(d.train, d.partitions, ts.batch, ts.seed),
      mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)) {
  // A noise-conditional energy (train.ncsn_energy = conditional) takes ln σ as one more input.
  const int inputs = d.dim + (ts.sigma_input ? 1 : 0);
  if (inputs != mlp.dim())
    config_error("model.layers", "the first layer has " + std::to_string(mlp.dim()) + " inputs but the data have " +
                                     std::to_string(d.dim) + " features" +
                                     (ts.sigma_input ? " (+ 1 for ln sigma with train.ncsn_energy = conditional)" : ""));
  dim_ = d.dim;
  D_ = d.partitions;
  b_ = ts.batch / D_;
  nloc_ = std::int64_t(d.train.local.size());
  // The NLL monitor: 2-D data with a held-out split, a grid around both splits; the
  // exact NLL of the same points where the synthetic density has a closed form.
  grid_ = ts.grid_points > 0 && d.dim == 2 && d.heldout.n > 0;
  if (grid_) box_ = estimators::grid_around(d, comm, ts.grid_points);
  if (grid_ && dspec.type == data::FileType::synthetic && data::has_log_density(dspec.synthetic.shape))
    true_nll_ = data::synthetic_nll(dspec, d, comm).mean;
}

std::vector<double> MlpObjective::reduce_sums(const std::vector<double>& per_partition, int m) const {
  return partition_sums(comm_, mine_, ts_.deterministic, per_partition, m);
}

const char* MlpObjective::evaluate_nll(std::int64_t s, bool keep_cells) {
  const estimators::GridOptions opt = keep_cells ? keeping_energy() : estimators::GridOptions();
  estimators::GridNll r = on_density(mlp_, density_beta_, density_sigma_, [&](auto& m) {
    return estimators::grid_nll(m, box_, data_.heldout, data_.partitions, comm_, opt);
  });
  if (keep_cells) cells_ = std::move(r.energy);
  if (!std::isfinite(r.nll)) return "the held-out NLL";
  nll_.step.push_back(double(s));
  nll_.log_z.push_back(r.log_z);
  nll_.nll.push_back(r.nll);
  nll_.nll_stderr.push_back(r.nll_stderr);
  if (comm_.root()) {
    std::fprintf(stderr, "zeta train: step %lld: held-out NLL %.4f +- %.4f nats (grid ln Z %.4f)",
                 static_cast<long long>(s), r.nll, r.nll_stderr, r.log_z);
    if (std::isfinite(true_nll_)) std::fprintf(stderr, ", true density %.4f", true_nll_);
    std::fprintf(stderr, "\n");
  }
  return nullptr;
}

// The parameters before step s's update: those a run ending at s evaluated last.
const char* MlpObjective::monitor(std::int64_t s, bool eval_step) {
  if (eval_step && grid_ && (nll_.step.empty() || nll_.step.back() != double(s))) return evaluate_nll(s, false);
  return nullptr;
}

// The final parameters (once: a restart from here finds the entry).
const char* MlpObjective::finish(std::int64_t step, bool to_output) {
  if (grid_ && step == ts_.steps && (nll_.step.empty() || nll_.step.back() != double(step)))
    return evaluate_nll(step, to_output);
  return nullptr;
}

std::vector<MonitorTable> MlpObjective::monitor_tables() {
  return {{monitor_table(), ts_.eval_every}, {table_ref(nll_), ts_.eval_every}};
}

void MlpObjective::gather_state() {
  params_ = mlp_.mlp_params();
  gather_extra();
}

void MlpObjective::write_state(hid_t f) {
  io::write_mlp_params(f, params_);
  write_series(f, monitor_table());
  write_series(f, nll_);
  write_extra(f);
}

std::vector<double> MlpObjective::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = io::read_mlp_theta(f, file, mlp_.layers());
  TableRef monitors = monitor_table();
  read_series(f, file, monitors, "monitor");
  read_series(f, file, nll_, "NLL");
  read_extra(f, file);
  return theta;
}

void MlpObjective::restore(const std::vector<double>& theta) {
  TableRef monitors = monitor_table();
  broadcast_series(comm_, monitors);
  broadcast_series(comm_, nll_);
  restore_extra();
  mlp_.set_params(theta);
}

void MlpObjective::summarize(TrainResult& res) const {
  summarize_monitors(res);
  if (!nll_.step.empty()) {
    res.nll_at = std::int64_t(nll_.step.back());
    res.grid_log_z = nll_.log_z.back();
    res.heldout_nll = nll_.nll.back();
    res.heldout_nll_stderr = nll_.nll_stderr.back();
  }
  res.true_nll = true_nll_;
}

void MlpObjective::write_output(io::OutputFile& out, std::int64_t step) {
  io::write_mlp_params(out, mlp_.mlp_params());
  write_series(out, monitor_table());
  write_series(out, nll_);
  if (std::isfinite(true_nll_)) out.write_root_double("/train/true_nll", {1}, &true_nll_);
  if (grid_) {
    // An interrupted run had no final evaluation: the grid at the θ it stopped with.
    if (step != ts_.steps)
      cells_ = on_density(mlp_, density_beta_, density_sigma_, [&](auto& m) {
                 return estimators::grid_log_z(m, box_, comm_, keeping_energy());
               }).energy;
    std::vector<double> xs(std::size_t(box_.nx)), ys(std::size_t(box_.ny));
    for (std::int64_t i = 0; i < box_.nx; ++i) xs[std::size_t(i)] = box_.x(i);
    for (std::int64_t j = 0; j < box_.ny; ++j) ys[std::size_t(j)] = box_.y(j);
    io::write_landscape_values(out, xs, ys, cells_, comm_);
  }
}

void MlpObjective::add_json(JsonSummary& j, const TrainResult& res) const {
  j.add("objective", ts_.objective);
  add_objective_json(j);
  j.add("activation", models::activation_name(mlp_.activation()));
  j.add("examples", data_.train.n);
  j.add("batch", ts_.batch);
  j.add("partitions", data_.partitions);
  j.add("deterministic", ts_.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  if (ts_.dsm) j.add("dsm_loss", res.dsm_loss);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!nll_.step.empty()) {
    j.add("heldout_nll", res.heldout_nll);
    j.add("heldout_nll_stderr", res.heldout_nll_stderr);
    j.add("grid_log_z", res.grid_log_z);
    j.add("nll_at", res.nll_at);
  }
  if (std::isfinite(true_nll_)) j.add("true_nll", true_nll_);
  add_check_json(j, eval_);
}

}  // namespace zeta::training
