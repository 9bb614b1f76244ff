#include "zeta/training/net_contrastive.hpp"

#include <utility>

#include "zeta/io/hdf5.hpp"
#include "zeta/io/net_params.hpp"
#include "zeta/io/output.hpp"
#include "zeta/samplers/samplers.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

namespace {

//! The kReplayNoise step of the noise rows of the check after training (above any
//! training step's; the MLP's check uses the same).
constexpr std::uint64_t kEvalNoiseStep = std::uint64_t(1) << 62;

double mean_of(const std::vector<double>& v) {
  double t = 0;
  for (double x : v) t += x;
  return v.empty() ? NAN : t / double(v.size());
}

}  // namespace

const std::vector<std::string>& NetContrastive::Series::names() {
  static const std::vector<std::string> n = {"step", "loss", "energy_data", "energy_model", "grad_norm"};
  return n;
}

NetContrastive::NetContrastive(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net,
                               const parallel::Comm& comm)
    : ts_(ts),
      data_(d),
      net_(net),
      comm_(comm),
      plan_(d.train, d.partitions, ts.batch, ts.seed),
      mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)),
      neg_(parallel::ChainRange{d.partitions * (ts.batch / d.partitions),
                                mine_.offset * (ts.batch / d.partitions),
                                std::int64_t(d.train.local.size()) * (ts.batch / d.partitions)},
           d.dim, 1.0),
      fresh_{ts.langevin.clamp, ts.langevin.clamp_min, ts.langevin.clamp_max, ts.langevin.init_scale} {
  if (d.dim != net.dim())
    config_error("model.input", "gives " + std::to_string(net.dim()) + " inputs per row but the data have " +
                                    std::to_string(d.dim) + " features");
  dim_ = d.dim;
  D_ = d.partitions;
  b_ = ts.batch / D_;
  nloc_ = std::int64_t(d.train.local.size());
  const std::int64_t n = nloc_ * b_;
  x_ = Matrix<Space>("zeta::train::net_rows", 2 * n, dim_);
  neg_.x = row_block<Space>(x_, n, n);  // the negatives move in place, in x_'s second half
  E_ = Vector<Space>("zeta::train::net_energy", 2 * n);
  sign_ = Vector<Space>("zeta::train::net_sign", 2 * n);
  Kokkos::deep_copy(Kokkos::subview(sign_, std::make_pair(std::int64_t(0), n)), Real(1.0 / double(ts.batch)));
  Kokkos::deep_copy(Kokkos::subview(sign_, std::make_pair(n, 2 * n)), Real(-1.0 / double(ts.batch)));
  if (ts_.pcd)
    buffer_ = ReplayBuffer(ts.buffer_size, nloc_, mine_.offset, ts.buffer_size / D_, b_, dim_, fresh_, ts.seed,
                           ts.reinit_prob);
}

// What a checkpoint must agree with: the model, the data, and what shapes the batches,
// the noise, the buffer and the optimizer state.
const std::vector<std::string>& NetContrastive::signature_keys() const {
  static const std::vector<std::string> keys = {"model.",          "data.",             "train.objective", "train.batch",
                                                "train.optimizer", "train.buffer_size", "run.seed"};
  return keys;
}

std::vector<double> NetContrastive::reduce_sums(const std::vector<double>& per_partition, int m) const {
  if (ts_.deterministic) return comm_.ordered_sum(per_partition, m, mine_);
  std::vector<double> out(m, 0.0);
  for (std::size_t k = 0; k < per_partition.size(); ++k) out[k % m] += per_partition[k];
  comm_.allreduce_sum(out);
  return out;
}

void NetContrastive::gradient(std::int64_t s, GradientSum<Space>& grad) {
  const std::int64_t n = nloc_ * b_;
  data_rows(s, row_block<Space>(x_, 0, n));
  negatives(s, !hold_);
  if (!hold_) net_.power_iteration();
  const double a = ts_.energy_reg / double(ts_.batch), inv = 1.0 / double(ts_.batch);
  grad.reduce(
      ts_.deterministic, nloc_,
      [&](std::int64_t l, const Vector<Space>& g) {
        net_.contrastive_grad(row_block<Space>(x_, l * b_, b_), inv, a, g, Vector<Space>(E_.data() + l * b_, b_));
        net_.contrastive_grad(row_block<Space>(x_, n + l * b_, b_), -inv, a, g,
                              Vector<Space>(E_.data() + n + l * b_, b_));
      },
      [&](const Vector<Space>& g) { net_.contrastive_grad(x_, PerChain<Space>(sign_), a, g, E_); });
}

const char* NetContrastive::record(std::int64_t s, double grad_norm) {
  const auto e = host_copy(E_);
  const std::int64_t n = nloc_ * b_;
  const double a = ts_.energy_reg, B = double(ts_.batch);
  std::vector<double> local(3 * nloc_, 0.0);  // per partition: Σ E₊, Σ E₋, Σ (E₊² + E₋²)
  for (std::int64_t l = 0; l < nloc_; ++l)
    for (std::int64_t j = 0; j < b_; ++j) {
      const double ep = e[l * b_ + j], em = e[n + l * b_ + j];
      local[3 * l] += ep;
      local[3 * l + 1] += em;
      local[3 * l + 2] += ep * ep + em * em;
    }
  const auto sum = reduce_sums(local, 3);
  const double loss = (sum[0] - sum[1] + a * sum[2]) / B;
  series_.step.push_back(double(s));
  series_.loss.push_back(loss);
  series_.edata.push_back(sum[0] / B);
  series_.emodel.push_back(sum[1] / B);
  series_.gnorm.push_back(grad_norm);
  return std::isfinite(loss) ? nullptr : "the contrastive loss";
}

void NetContrastive::gather_state() {
  theta_ = net_.params();
  spectral_ = net_.spectral_state();
  if (ts_.pcd) buffer_.gather(comm_);
}

void NetContrastive::write_state(hid_t f) {
  io::write_net_params(f, net_.arch(), theta_, spectral_);
  write_series(f, series_);
  if (ts_.pcd) buffer_.write(f);
}

std::vector<double> NetContrastive::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = io::read_net_theta(f, file, net_.arch());
  spectral_ = io::read_net_spectral(f, file, net_.arch());
  if (spectral_.size() != std::size_t(net_.arch().n_spectral))
    throw Error("checkpoint '" + file + "' lacks the spectral-norm vectors (weight_u, weight_v) of model.net's sn layers",
                false);
  read_series(f, file, series_, "monitor");
  if (ts_.pcd) buffer_.read(f, file);
  return theta;
}

void NetContrastive::restore(const std::vector<double>& theta) {
  broadcast_series(comm_, series_);
  if (ts_.pcd) buffer_.scatter(comm_);
  comm_.broadcast(spectral_);
  net_.set_spectral_state(spectral_);
  net_.set_params(theta);
}

void NetContrastive::write_output(io::OutputFile& out, std::int64_t) {
  io::write_net_params(out, net_.arch(), net_.params(), net_.spectral_state());
  write_series(out, series_);
}

void NetContrastive::summarize(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.grad_norm = series_.gnorm.back();
}

void NetContrastive::add_json(JsonSummary& j, const TrainResult& res) const {
  j.add("objective", ts_.pcd ? "pcd" : "cd");
  j.add("net", net_.arch().text);
  j.add("params_count", std::int64_t(net_.n_params()));
  j.add("k", ts_.k);
  if (ts_.pcd) {
    j.add("buffer_size", ts_.buffer_size);
    j.add("reinit_prob", ts_.reinit_prob);
  }
  j.add("energy_reg", ts_.energy_reg);
  j.add("step_size", ts_.langevin.step_size);
  j.add("examples", data_.train.n);
  j.add("batch", ts_.batch);
  j.add("partitions", data_.partitions);
  j.add("deterministic", ts_.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!series_.step.empty()) {
    j.add("energy_data", series_.edata.back());
    j.add("energy_model", series_.emodel.back());
  }
  if (eval_.done) {
    j.add("eval_energy_data", eval_.data);
    j.add("eval_energy_model", eval_.model);
    j.add("eval_energy_noise", eval_.noise);
  }
}

void NetContrastive::check(io::OutputFile* out) {
  const std::int64_t n = nloc_ * b_, s = ts_.steps;
  data_rows(s, row_block<Space>(x_, 0, n));
  negatives(s, false);
  energies(x_, E_, 2 * nloc_);
  const auto e = host_copy(E_);
  Matrix<Space> noise("zeta::train::eval_noise", n, dim_);
  fresh_rows(noise, n, fresh_, ts_.seed, neg_.range.offset, kEvalNoiseStep | std::uint64_t(s));
  Vector<Space> en("zeta::train::eval_noise_energy", n);
  energies(noise, en, nloc_);
  const auto noise_e = host_copy(en);
  const parallel::ChainRange rows{D_ * b_, mine_.offset * b_, n};
  const auto ed = comm_.gather_chain_rows(std::vector<double>(e.begin(), e.begin() + n), 1, rows);
  const auto em = comm_.gather_chain_rows(std::vector<double>(e.begin() + n, e.end()), 1, rows);
  const auto ez = comm_.gather_chain_rows(noise_e, 1, rows);
  const auto xs = comm_.gather_chain_rows(host_copy(neg_.x), dim_, rows);
  eval_ = EvalFigures{true, mean_of(ed), mean_of(em), mean_of(ez)};
  comm_.broadcast(eval_.data);
  comm_.broadcast(eval_.model);
  comm_.broadcast(eval_.noise);
  if (!out) return;
  const hsize_t B = hsize_t(ts_.batch);
  out->write_root_double("/eval/energy_data", {B}, ed.data());
  out->write_root_double("/eval/energy_model", {B}, em.data());
  out->write_root_double("/eval/energy_noise", {B}, ez.data());
  out->write_root_double("/eval/samples", {B, hsize_t(dim_)}, xs.data());
}

void NetContrastive::data_rows(std::int64_t s, const Matrix<Space>& x) {
  auto h = Kokkos::create_mirror_view(x);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    const auto& part = data_.train.local[l];
    plan_.rows(s, part, ids_);
    for (std::int64_t j = 0; j < b_; ++j) {
      const Real* v = part.x.data() + std::size_t(ids_[j]) * dim_;
      for (int i = 0; i < dim_; ++i) h(l * b_ + j, i) = v[i];
    }
  }
  Kokkos::deep_copy(x, h);
}

void NetContrastive::negatives(std::int64_t s, bool keep) {
  const std::int64_t n = nloc_ * b_;
  if (!ts_.pcd)
    Kokkos::deep_copy(neg_.x, row_block<Space>(x_, 0, n));
  else
    buffer_.draw(s, neg_.x, neg_.range.offset);
  negative_gradients();
  for (int t = 0; t < ts_.k; ++t) {
    samplers::langevin_move(neg_, ts_.langevin, ts_.seed, s * ts_.k + t);
    if (t + 1 < ts_.k) negative_gradients();
  }
  if (ts_.pcd && keep) buffer_.put_back(neg_.x);
}

void NetContrastive::negative_gradients() {
  if (!ts_.deterministic) return net_.energy_and_grad(neg_.x, neg_.E, neg_.g);
  for (std::int64_t l = 0; l < nloc_; ++l)
    net_.energy_and_grad(row_block<Space>(neg_.x, l * b_, b_), Vector<Space>(neg_.E.data() + l * b_, b_),
                         row_block<Space>(neg_.g, l * b_, b_));
}

void NetContrastive::energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks) {
  if (!ts_.deterministic) return net_.energy(x, E);
  for (std::int64_t q = 0; q < blocks; ++q)
    net_.energy(row_block<Space>(x, q * b_, b_), Vector<Space>(E.data() + q * b_, b_));
}

}  // namespace zeta::training
