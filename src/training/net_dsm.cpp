#include "zeta/training/net_dsm.hpp"

#include <utility>

#include "zeta/io/net_params.hpp"
#include "zeta/io/output.hpp"
#include "zeta/training/contrastive_term.hpp"
#include "zeta/training/replay_buffer.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

NetDsm::NetDsm(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net, const parallel::Comm& comm)
    : NetObjective(ts, d, net, comm),
      plan_(d.train, d.partitions, ts.batch, ts.seed),
      mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)),
      dim_(d.dim),
      b_(ts.batch / d.partitions),
      nloc_(std::int64_t(d.train.local.size())),
      batch_(ts, nloc_, b_, d.dim, false) {
  models::require_smooth_net(net.arch());
  if (d.dim != net.dim())
    config_error("model.input", "gives " + std::to_string(net.dim()) + " inputs per row but the data have " +
                                    std::to_string(d.dim) + " features");
}

// What a checkpoint must agree with: the model, the data, and what shapes the batches,
// the noise and the optimizer state.
const std::vector<std::string>& NetDsm::signature_keys() const {
  static const std::vector<std::string> keys = {"model.",      "data.",           "train.objective", "train.batch",
                                                "train.sigma", "train.optimizer", "run.seed"};
  return keys;
}

void NetDsm::gradient(std::int64_t s, GradientSum<Space>& g) {
  batch_.noisy(s, [&](std::int64_t step, auto&& f) { plan_.for_rows(step, data_.train, dim_, f); });
  if (!hold_) net_.power_iteration();
  batch_.gradient(net_, g);
}

const char* NetDsm::record(std::int64_t s, double grad_norm) {
  return batch_.record(series_, s, partition_sums(comm_, mine_, ts_.deterministic, batch_.local_loss(), 1)[0],
                       grad_norm);
}

void NetDsm::summarize(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.dsm_loss = res.loss;
  res.grad_norm = series_.gnorm.back();
}

void NetDsm::add_json(JsonSummary& j, const TrainResult& res) const {
  j.add("objective", ts_.objective);
  j.add("sigma", ts_.sigma);
  j.add("net", net_.arch().text);
  j.add("params_count", std::int64_t(net_.n_params()));
  j.add("examples", data_.train.n);
  j.add("batch", ts_.batch);
  j.add("partitions", data_.partitions);
  j.add("deterministic", ts_.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  j.add("dsm_loss", res.dsm_loss);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (eval_.done) {
    j.add("eval_energy_data", eval_.data);
    j.add("eval_energy_noisy", eval_.noisy);
    j.add("eval_energy_noise", eval_.noise);
  }
}

void NetDsm::energies(const Matrix<Space>& x, const Vector<Space>& E) {
  if (!ts_.deterministic) return net_.energy(x, E);
  for (std::int64_t q = 0; q < std::int64_t(x.extent(0)) / b_; ++q)
    net_.energy(row_block<Space>(x, q * b_, b_), Vector<Space>(E.data() + q * b_, b_));
}

void NetDsm::check(io::OutputFile* out) {
  const std::int64_t n = nloc_ * b_, s = ts_.steps;
  Matrix<Space> x("zeta::train::eval_rows", 3 * n, dim_);
  {
    auto h = Kokkos::create_mirror_view(x);
    plan_.for_rows(s, data_.train, dim_, [&](std::int64_t r, std::uint64_t, const Real* v) {
      for (int i = 0; i < dim_; ++i) h(r, i) = v[i];
    });
    Kokkos::deep_copy(x, h);
  }
  batch_.noisy(s, [&](std::int64_t step, auto&& f) { plan_.for_rows(step, data_.train, dim_, f); });
  Kokkos::deep_copy(row_block<Space>(x, n, n), batch_.noisy_rows());
  fresh_rows(row_block<Space>(x, 2 * n, n), n, FreshState{true, 0.0, 1.0, 1.0}, ts_.seed, mine_.offset * b_,
             kEvalNoiseStep | std::uint64_t(s));
  Vector<Space> E("zeta::train::eval_energy", 3 * n);
  energies(x, E);
  const auto e = host_copy(E);
  const parallel::ChainRange rows{data_.partitions * b_, mine_.offset * b_, n};
  std::vector<std::vector<double>> g;
  for (int k = 0; k < 3; ++k)
    g.push_back(comm_.gather_chain_rows(std::vector<double>(e.begin() + k * n, e.begin() + (k + 1) * n), 1, rows));
  eval_ = EvalFigures{true, mean_of(g[0]), mean_of(g[1]), mean_of(g[2])};
  comm_.broadcast(eval_.data);
  comm_.broadcast(eval_.noisy);
  comm_.broadcast(eval_.noise);
  if (!out) return;
  const hsize_t B = hsize_t(ts_.batch);
  out->write_root_double("/eval/energy_data", {B}, g[0].data());
  out->write_root_double("/eval/energy_noisy", {B}, g[1].data());
  out->write_root_double("/eval/energy_noise", {B}, g[2].data());
}

}  // namespace zeta::training
