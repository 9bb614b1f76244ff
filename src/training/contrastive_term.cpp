#include "zeta/training/contrastive_term.hpp"

#include <utility>

#include "zeta/io/hdf5.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/models/net.hpp"
#include "zeta/samplers/samplers.hpp"
#include "zeta/training/jem.hpp"

namespace zeta::training {

double mean_of(const std::vector<double>& v) {
  double t = 0;
  for (double x : v) t += x;
  return v.empty() ? NAN : t / double(v.size());
}

void add_check_json(JsonSummary& j, const EnergyCheck& c) {
  if (!c.done) return;
  j.add("eval_energy_data", c.data);
  j.add("eval_energy_model", c.model);
  j.add("eval_energy_noise", c.noise);
}

template <class Energy>
const std::vector<std::string>& ContrastiveTerm<Energy>::Series::names() {
  static const std::vector<std::string> n = {"step", "loss", "energy_data", "energy_model", "grad_norm"};
  return n;
}

template <class Energy>
ContrastiveTerm<Energy>::ContrastiveTerm(const TrainSpec& ts, const data::Dataset& d, Energy& model,
                                         const parallel::Comm& comm)
    : ts_(ts),
      data_(d),
      model_(model),
      comm_(comm),
      plan_(d.train, d.partitions, ts.batch, ts.seed),
      mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)),
      dim_(d.dim),
      D_(d.partitions),
      b_(ts.batch / d.partitions),
      nloc_(std::int64_t(d.train.local.size())),
      neg_(parallel::ChainRange{D_ * b_, mine_.offset * b_, nloc_ * b_}, d.dim, 1.0),
      fresh_{ts.langevin.clamp, ts.langevin.clamp_min, ts.langevin.clamp_max, ts.langevin.init_scale} {
  const std::int64_t n = nloc_ * b_;
  x_ = Matrix<Space>("zeta::train::contrastive_rows", 2 * n, dim_);
  neg_.x = row_block<Space>(x_, n, n);  // the negatives move in place, in x_'s second half
  E_ = Vector<Space>("zeta::train::contrastive_energy", 2 * n);
  sign_ = Vector<Space>("zeta::train::contrastive_sign", 2 * n);
  Kokkos::deep_copy(Kokkos::subview(sign_, std::make_pair(std::int64_t(0), n)), Real(1.0 / double(ts.batch)));
  Kokkos::deep_copy(Kokkos::subview(sign_, std::make_pair(n, 2 * n)), Real(-1.0 / double(ts.batch)));
  if (ts_.pcd)
    buffer_ = ReplayBuffer(ts.buffer_size, nloc_, mine_.offset, ts.buffer_size / D_, b_, dim_, fresh_, ts.seed,
                           ts.reinit_prob);
}

template <class Energy>
void ContrastiveTerm<Energy>::data_rows(std::int64_t s) {
  auto h = Kokkos::create_mirror_view(x_);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    const auto& part = data_.train.local[l];
    plan_.rows(s, part, ids_);
    for (std::int64_t j = 0; j < b_; ++j) {
      const Real* v = part.x.data() + std::size_t(ids_[j]) * dim_;
      for (int i = 0; i < dim_; ++i) h(l * b_ + j, i) = v[i];
    }
    if (data_.labelled) {
      labels_.resize(std::size_t(nloc_ * b_));
      for (std::int64_t j = 0; j < b_; ++j) labels_[std::size_t(l * b_ + j)] = part.y[std::size_t(ids_[j])];
    }
  }
  Kokkos::deep_copy(x_, h);
}

template <class Energy>
void ContrastiveTerm<Energy>::start_negatives(std::int64_t s) {
  if (!ts_.pcd)
    Kokkos::deep_copy(neg_.x, row_block<Space>(x_, 0, nloc_ * b_));
  else
    buffer_.draw(s, neg_.x, neg_.range.offset);
}

template <class Energy>
void ContrastiveTerm<Energy>::move_negatives(std::int64_t s) {
  negative_gradients();
  for (int t = 0; t < ts_.k; ++t) {
    samplers::langevin_move(neg_, ts_.langevin, ts_.seed, s * ts_.k + t);
    if (t + 1 < ts_.k) negative_gradients();
  }
}

template <class Energy>
void ContrastiveTerm<Energy>::keep_negatives() {
  if (ts_.pcd) buffer_.put_back(neg_.x);
}

template <class Energy>
void ContrastiveTerm<Energy>::negatives(std::int64_t s, bool keep) {
  start_negatives(s);
  move_negatives(s);
  if (keep) keep_negatives();
}

template <class Energy>
void ContrastiveTerm<Energy>::loss_gradient(GradientSum<Space>& grad) {
  grad.reduce(
      ts_.deterministic, nloc_, [&](std::int64_t l, const Vector<Space>& g) { partition_gradient(l, g); },
      [&](const Vector<Space>& g) { batch_gradient(g); });
}

template <class Energy>
void ContrastiveTerm<Energy>::partition_gradient(std::int64_t l, const Vector<Space>& g) {
  const std::int64_t n = nloc_ * b_;
  const double a = ts_.energy_reg / double(ts_.batch), inv = 1.0 / double(ts_.batch);
  model_.contrastive_grad(row_block<Space>(x_, l * b_, b_), inv, a, g, Vector<Space>(E_.data() + l * b_, b_));
  model_.contrastive_grad(row_block<Space>(x_, n + l * b_, b_), -inv, a, g, Vector<Space>(E_.data() + n + l * b_, b_));
}

template <class Energy>
void ContrastiveTerm<Energy>::batch_gradient(const Vector<Space>& g) {
  model_.contrastive_grad(x_, PerChain<Space>(sign_), ts_.energy_reg / double(ts_.batch), g, E_);
}

template <class Energy>
typename ContrastiveTerm<Energy>::Losses ContrastiveTerm<Energy>::losses() const {
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
  const auto sum = partition_sums(comm_, mine_, ts_.deterministic, local, 3);
  return Losses{(sum[0] - sum[1] + a * sum[2]) / B, sum[0] / B, sum[1] / B};
}

template <class Energy>
const char* ContrastiveTerm<Energy>::record(std::int64_t s, double grad_norm) {
  const Losses f = losses();
  series_.step.push_back(double(s));
  series_.loss.push_back(f.loss);
  series_.edata.push_back(f.edata);
  series_.emodel.push_back(f.emodel);
  series_.gnorm.push_back(grad_norm);
  return std::isfinite(f.loss) ? nullptr : "the contrastive loss";
}

template <class Energy>
EnergyCheck ContrastiveTerm<Energy>::check(io::OutputFile* out) {
  const std::int64_t n = nloc_ * b_, s = ts_.steps;
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
  EnergyCheck c{true, mean_of(ed), mean_of(em), mean_of(ez)};
  comm_.broadcast(c.data);
  comm_.broadcast(c.model);
  comm_.broadcast(c.noise);
  if (!out) return c;
  const hsize_t B = hsize_t(ts_.batch);
  out->write_root_double("/eval/energy_data", {B}, ed.data());
  out->write_root_double("/eval/energy_model", {B}, em.data());
  out->write_root_double("/eval/energy_noise", {B}, ez.data());
  out->write_root_double("/eval/samples", {B, hsize_t(dim_)}, xs.data());
  return c;
}

template <class Energy>
void ContrastiveTerm<Energy>::negative_gradients() {
  if (!ts_.deterministic) return model_.energy_and_grad(neg_.x, neg_.E, neg_.g);
  for (std::int64_t l = 0; l < nloc_; ++l)
    model_.energy_and_grad(row_block<Space>(neg_.x, l * b_, b_), Vector<Space>(neg_.E.data() + l * b_, b_),
                           row_block<Space>(neg_.g, l * b_, b_));
}

template <class Energy>
void ContrastiveTerm<Energy>::energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks) {
  if (!ts_.deterministic) return model_.energy(x, E);
  for (std::int64_t q = 0; q < blocks; ++q)
    model_.energy(row_block<Space>(x, q * b_, b_), Vector<Space>(E.data() + q * b_, b_));
}

template <class Energy>
void ContrastiveTerm<Energy>::gather_buffer() {
  if (ts_.pcd) buffer_.gather(comm_);
}
template <class Energy>
void ContrastiveTerm<Energy>::write_buffer(hid_t f) {
  if (ts_.pcd) buffer_.write(f);
}
template <class Energy>
void ContrastiveTerm<Energy>::read_buffer(hid_t f, const std::string& file) {
  if (ts_.pcd) buffer_.read(f, file);
}
template <class Energy>
void ContrastiveTerm<Energy>::scatter_buffer() {
  if (ts_.pcd) buffer_.scatter(comm_);
}

template <class Energy>
void ContrastiveTerm<Energy>::summarize(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.grad_norm = series_.gnorm.back();
}

template <class Energy>
void ContrastiveTerm<Energy>::add_settings_json(JsonSummary& j) const {
  j.add("k", ts_.k);
  if (ts_.pcd) {
    j.add("buffer_size", ts_.buffer_size);
    j.add("reinit_prob", ts_.reinit_prob);
  }
  j.add("energy_reg", ts_.energy_reg);
  j.add("step_size", ts_.langevin.step_size);
}

template <class Energy>
void ContrastiveTerm<Energy>::add_energy_json(JsonSummary& j) const {
  if (!series_.step.empty()) {
    j.add("energy_data", series_.edata.back());
    j.add("energy_model", series_.emodel.back());
  }
}

template class ContrastiveTerm<models::Mlp<Objective::Space>>;
template class ContrastiveTerm<models::Net<Objective::Space>>;
template class ContrastiveTerm<JemEnergy>;

}  // namespace zeta::training
