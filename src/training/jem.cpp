#include "zeta/training/jem.hpp"

#include <algorithm>
#include <utility>

#include "zeta/core/math.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

namespace jem_kernels {

using Space = Objective::Space;

//! E_n = −logsumexp f_n into E (when set) and −(c_n + 2a E_n) softmax(f_n) into df (when
//! set): the classifier energy the net's own passes use (models/detail/net_kernels.hpp).
void energy(const Matrix<Space>& f, const Vector<Space>& E, const PerChain<Space>& c, double a,
            const Matrix<Space>& df) {
  models::detail::logits_energy<Space>(f.data(), int(f.extent(1)), std::int64_t(f.extent(0)), E.data(), c, 0, a,
                                       df.data());
}

//! Per row: CE_n = logsumexp f_n − f_n[y_n] into ce, w (softmax(f_n) − onehot(y_n)) into df.
void cross_entropy(const Matrix<Space>& f, const JemEnergy::Labels& y, double w, const Matrix<Space>& df,
                   const Vector<Space>& ce) {
  const int K = int(f.extent(1));
  Kokkos::parallel_for(
      "zeta::train::jem_cross_entropy", RangePolicy<Space>(0, f.extent(0)), KOKKOS_LAMBDA(const std::int64_t n) {
        double m = f(n, 0);
        for (int k = 1; k < K; ++k) m = f(n, k) > m ? double(f(n, k)) : m;
        double z = 0;
        for (int k = 0; k < K; ++k) z += kmath::exp(double(f(n, k)) - m);
        const int t = y(n);
        ce(n) = Real(m + kmath::log(z) - double(f(n, t)));
        for (int k = 0; k < K; ++k) df(n, k) = Real(w * (kmath::exp(double(f(n, k)) - m) / z - (k == t ? 1.0 : 0.0)));
      });
}

//! Per row: softmax(f_n) in place.
void softmax(const Matrix<Space>& f) {
  const int K = int(f.extent(1));
  Kokkos::parallel_for(
      "zeta::train::jem_softmax", RangePolicy<Space>(0, f.extent(0)), KOKKOS_LAMBDA(const std::int64_t n) {
        double m = f(n, 0);
        for (int k = 1; k < K; ++k) m = f(n, k) > m ? double(f(n, k)) : m;
        double z = 0;
        for (int k = 0; k < K; ++k) z += kmath::exp(double(f(n, k)) - m);
        for (int k = 0; k < K; ++k) f(n, k) = Real(kmath::exp(double(f(n, k)) - m) / z);
      });
}

}  // namespace jem_kernels

// ---- JemEnergy ------------------------------------------------------------------

Matrix<JemEnergy::Space> JemEnergy::logits(const Matrix<Space>& x) {
  const std::int64_t n = x.extent(0);
  if (std::int64_t(f_.extent(0)) < n) f_ = Matrix<Space>("zeta::train::jem_logits", n, classes());
  const Matrix<Space> f = row_block<Space>(f_, 0, n);
  net_.outputs(x, f);
  return f;
}

Matrix<JemEnergy::Space> JemEnergy::adjoint(std::int64_t n) {
  if (std::int64_t(df_.extent(0)) < n) df_ = Matrix<Space>("zeta::train::jem_adjoint", n, classes());
  return row_block<Space>(df_, 0, n);
}

void JemEnergy::energy(const Matrix<Space>& x, const Vector<Space>& E) {
  jem_kernels::energy(logits(x), E, PerChain<Space>(0.0), 0, Matrix<Space>());
}

void JemEnergy::energy_and_grad(const Matrix<Space>& x, const Vector<Space>& E, const Matrix<Space>& g) {
  const Matrix<Space> df = adjoint(x.extent(0));
  jem_kernels::energy(logits(x), E, PerChain<Space>(1.0), 0, df);
  net_.outputs_vjp(x, df, g, Vector<Space>());
}

void JemEnergy::contrastive_grad(const Matrix<Space>& x, const PerChain<Space>& c, double a, const Vector<Space>& g,
                                 const Vector<Space>& E) {
  const Matrix<Space> df = adjoint(x.extent(0));
  jem_kernels::energy(logits(x), E, c, a, df);
  net_.outputs_vjp(x, df, Matrix<Space>(), g);
}

void JemEnergy::cross_entropy_grad(const Matrix<Space>& x, const Labels& y, double w, const Vector<Space>& g,
                                   const Vector<Space>& ce) {
  const Matrix<Space> df = adjoint(x.extent(0));
  jem_kernels::cross_entropy(logits(x), y, w, df, ce);
  net_.outputs_vjp(x, df, Matrix<Space>(), g);
}

void JemEnergy::probabilities(const Matrix<Space>& x, const Matrix<Space>& p) {
  net_.outputs(x, p);
  jem_kernels::softmax(p);
}

// ---- JemObjective ---------------------------------------------------------------

const std::vector<std::string>& JemObjective::Series::names() {
  static const std::vector<std::string> n = {"step",        "loss",         "cross_entropy", "generative_loss",
                                             "energy_data", "energy_model", "grad_norm"};
  return n;
}

namespace {

//! The first label of this rank's partitions of `s` that is not a class of K, as an error
//! message naming data.labels (or heldout_key), or "".
std::string bad_label(const data::Split& s, int K, const std::string& key, const char* last) {
  for (const auto& p : s.local)
    for (std::size_t i = 0; i < p.y.size(); ++i)
      if (p.y[i] >= K)
        return key + ": example " + std::to_string(p.begin + std::int64_t(i)) + " of its split has label " +
               std::to_string(p.y[i]) + ", but " + last + " gives K = " + std::to_string(K) +
               " classes (labels 0 .. " + std::to_string(K - 1) + ")";
  return "";
}

}  // namespace

JemObjective::JemObjective(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d,
                           models::Net<Space>& net, const parallel::Comm& comm, std::vector<int> mlp_layers)
    : NetObjective(ts, d, net, comm, std::move(mlp_layers)), head_(net), term_(ts, d, head_, comm) {
  const bool mlp = !state_.mlp_layers().empty();
  if (d.dim != net.dim())
    config_error(mlp ? "model.layers" : "model.input", "gives " + std::to_string(net.dim()) +
                                                           " inputs per row but the data have " +
                                                           std::to_string(d.dim) + " features");
  if (!d.labelled) config_error("data.labels", "is required by train.objective = jem (the class of every example)");
  const char* last = mlp ? "model.layers' last size" : "model.net's last layer";
  std::string why = bad_label(d.train, head_.classes(), "data.labels", last);
  const bool own_file = dspec.type == data::FileType::idx && !dspec.heldout_path.empty();
  if (why.empty()) why = bad_label(d.heldout, head_.classes(), own_file ? "data.heldout_labels" : "data.labels", last);
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
  y_ = JemEnergy::Labels("zeta::train::jem_labels", std::size_t(term_.rows()));
  ce_ = Vector<Space>("zeta::train::jem_cross_entropy", std::size_t(term_.rows()));
}

void JemObjective::gradient(std::int64_t s, GradientSum<Space>& grad) {
  term_.data_rows(s);
  auto hy = Kokkos::create_mirror_view(y_);
  for (std::size_t r = 0; r < hy.extent(0); ++r) hy(r) = term_.labels()[r];
  Kokkos::deep_copy(y_, hy);
  term_.negatives(s, !hold_);
  if (!hold_) net_.power_iteration();
  const std::int64_t b = term_.per_partition();
  const double inv = 1.0 / double(ts_.batch);
  const Matrix<Space>& x = term_.x();
  grad.reduce(
      ts_.deterministic, term_.local_partitions(),
      [&](std::int64_t l, const Vector<Space>& g) {
        head_.cross_entropy_grad(row_block<Space>(x, l * b, b), JemEnergy::Labels(y_.data() + l * b, b), inv, g,
                                 Vector<Space>(ce_.data() + l * b, b));
        term_.partition_gradient(l, g);
      },
      [&](const Vector<Space>& g) {
        head_.cross_entropy_grad(row_block<Space>(x, 0, term_.rows()), y_, inv, g, ce_);
        term_.batch_gradient(g);
      });
}

const char* JemObjective::record(std::int64_t s, double grad_norm) {
  const auto f = term_.losses();
  const auto ce = host_copy(ce_);
  const std::int64_t b = term_.per_partition(), nloc = term_.local_partitions();
  std::vector<double> local(std::size_t(nloc), 0.0);
  for (std::int64_t l = 0; l < nloc; ++l)
    for (std::int64_t j = 0; j < b; ++j) local[std::size_t(l)] += ce[std::size_t(l * b + j)];
  const double mean_ce = partition_sums(comm_, term_.partitions(), ts_.deterministic, local, 1)[0] / double(ts_.batch);
  const double loss = mean_ce + f.loss;
  series_.step.push_back(double(s));
  series_.loss.push_back(loss);
  series_.ce.push_back(mean_ce);
  series_.gen.push_back(f.loss);
  series_.edata.push_back(f.edata);
  series_.emodel.push_back(f.emodel);
  series_.gnorm.push_back(grad_norm);
  return std::isfinite(loss) ? nullptr : "the JEM loss";
}

Classification JemObjective::classify() {
  Classification c;
  const data::Split& h = data_.heldout;
  if (h.n == 0) return c;
  const int K = head_.classes(), dim = data_.dim, M = kEceBins;
  const int m = 2 + 3 * M;  // per partition: Σ −ln p(y|x), Σ correct, per bin (count, Σ correct, Σ confidence)
  std::vector<double> local(h.local.size() * std::size_t(m), 0.0);
  for (std::size_t q = 0; q < h.local.size(); ++q) {
    const auto& p = h.local[q];
    // One partition per pass: the net's chunks, and so every GEMM, the same on any rank count.
    Matrix<Space> x("zeta::train::jem_heldout", p.count, dim), prob("zeta::train::jem_prob", p.count, K);
    auto hx = Kokkos::create_mirror_view(x);
    for (std::int64_t i = 0; i < p.count; ++i)
      for (int k = 0; k < dim; ++k) hx(i, k) = p.x[std::size_t(i * dim + k)];
    Kokkos::deep_copy(x, hx);
    head_.probabilities(x, prob);
    const auto pr = host_copy(prob);
    double* acc = local.data() + q * std::size_t(m);
    for (std::int64_t i = 0; i < p.count; ++i) {
      const double* pi = pr.data() + i * K;
      const int best = int(std::max_element(pi, pi + K) - pi);
      const double conf = pi[best], hit = best == p.y[std::size_t(i)] ? 1.0 : 0.0;
      acc[0] -= std::log(std::max(pi[p.y[std::size_t(i)]], 1e-300));
      acc[1] += hit;
      // Bins (j/M, (j+1)/M], the first closed at 0.
      const int bin = std::clamp(int(std::ceil(conf * M)) - 1, 0, M - 1);
      acc[2 + 3 * bin] += 1;
      acc[3 + 3 * bin] += hit;
      acc[4 + 3 * bin] += conf;
    }
  }
  const auto sum = partition_sums(comm_, term_.partitions(), true, local, m);
  const double n = double(h.n);
  c.done = true;
  c.n = h.n;
  c.nll = sum[0] / n;
  c.accuracy = sum[1] / n;
  c.ece = 0;
  for (int j = 0; j < M; ++j) {
    const double cnt = sum[2 + 3 * j], hits = sum[3 + 3 * j], conf = sum[4 + 3 * j];
    if (cnt > 0) c.ece += std::abs(hits - conf) / n;
    c.reliability.push_back(cnt);
    c.reliability.push_back(cnt > 0 ? hits / cnt : NAN);
    c.reliability.push_back(cnt > 0 ? conf / cnt : NAN);
  }
  return c;
}

void JemObjective::check(io::OutputFile* out) {
  term_.data_rows(ts_.steps);
  term_.negatives(ts_.steps, false);
  eval_ = term_.check(out);
  heldout_ = classify();
  if (!out || !heldout_.done) return;
  out->write_root_double("/eval/accuracy", {1}, &heldout_.accuracy);
  out->write_root_double("/eval/ece", {1}, &heldout_.ece);
  out->write_root_double("/eval/heldout_nll", {1}, &heldout_.nll);
  out->write_root_double("/eval/reliability", {hsize_t(kEceBins), 3}, heldout_.reliability.data());
}

void JemObjective::summarize(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.grad_norm = series_.gnorm.back();
}

void JemObjective::add_json(JsonSummary& j, const TrainResult& res) const {
  j.add("objective", "jem");
  if (state_.mlp_layers().empty())
    j.add("net", net_.arch().text);
  else
    j.add("layers", std::vector<double>(state_.mlp_layers().begin(), state_.mlp_layers().end()));
  j.add("params_count", std::int64_t(net_.n_params()));
  j.add("classes", std::int64_t(head_.classes()));
  term_.add_settings_json(j);
  j.add("examples", data_.train.n);
  j.add("batch", ts_.batch);
  j.add("partitions", data_.partitions);
  j.add("deterministic", ts_.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  if (!series_.step.empty()) {
    j.add("cross_entropy", series_.ce.back());
    j.add("generative_loss", series_.gen.back());
  }
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!series_.step.empty()) {
    j.add("energy_data", series_.edata.back());
    j.add("energy_model", series_.emodel.back());
  }
  add_check_json(j, eval_);
  if (heldout_.done) {
    j.add("heldout_examples", heldout_.n);
    j.add("accuracy", heldout_.accuracy);
    j.add("ece", heldout_.ece);
    j.add("heldout_nll", heldout_.nll);
  }
}

}  // namespace zeta::training
