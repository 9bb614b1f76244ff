#include "zeta/training/rbm_contrastive.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/estimators/ais.hpp"
#include "zeta/estimators/ais_stats.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/series.hpp"

namespace zeta::training {

using Space = Kokkos::DefaultExecutionSpace;

std::vector<double> data_mean(const data::Dataset& d, const parallel::Comm& comm) {
  const int nv = d.dim;
  std::vector<double> local;
  for (const auto& p : d.train.local) {
    std::vector<double> s(nv, 0.0);
    for (std::int64_t r = 0; r < p.count; ++r)
      for (int i = 0; i < nv; ++i) s[i] += double(p.x[std::size_t(r) * nv + i]);
    local.insert(local.end(), s.begin(), s.end());
  }
  std::vector<double> mean = comm.ordered_sum(local, nv, comm.share(d.partitions));
  for (auto& x : mean) x /= double(d.train.n);
  return mean;
}

models::Rbm<Space> initial_rbm(const TrainSetup& setup, const data::Dataset& d, const models::ModelParams& params,
                               const parallel::Comm& comm, std::vector<double>& base_bias) {
  const models::ModelSpec& ms = setup.model;
  const int nv = d.dim;
  std::vector<double> theta0;
  if (const auto* p = std::get_if<io::RbmParams>(&params)) theta0 = p->flat();
  std::vector<double> sigma;
  if (ms.rbm_kind == models::RbmKind::gaussian) {
    sigma = ms.rbm_sigma;
    if (sigma.size() != 1 && int(sigma.size()) != nv)
      config_error("model.sigma", "needs 1 or " + std::to_string(nv) + " values (the data's features), got " +
                                      std::to_string(sigma.size()));
  }
  models::Rbm<Space> rbm(ms.rbm_kind, nv, ms.hidden, sigma);
  // The training data's visible marginals: the initial b, and the AIS base-rate model stored with the parameters.
  const std::vector<double> mean = data_mean(d, comm);
  base_bias = models::Rbm<Space>::visible_bias_from_mean(ms.rbm_kind, mean);
  if (theta0.empty()) theta0 = models::Rbm<Space>::initial_params(ms.rbm_kind, nv, ms.hidden, ms.init_seed, mean);
  rbm.set_params(theta0);
  return rbm;
}

std::vector<std::vector<double>*> RbmContrastive::Series::all() {
  if (!with_pll) return {&step, &recon, &fdata, &fmodel, &gnorm};
  return {&step, &recon, &pll, &fdata, &fmodel, &gnorm};
}

std::vector<std::string> RbmContrastive::Series::names() const {
  if (!with_pll) return {"step", "recon_error", "free_energy_data", "free_energy_model", "grad_norm"};
  return {"step", "recon_error", "pseudo_loglik", "free_energy_data", "free_energy_model", "grad_norm"};
}

const std::vector<std::string>& RbmContrastive::AisSeries::names() {
  static const std::vector<std::string> n = {"ais_step", "log_z", "log_z_stderr", "heldout_loglik",
                                             "heldout_loglik_stderr"};
  return n;
}

// The configuration a checkpoint must agree with: the model, the data, and what
// shapes the chains, the batches and the optimizer state (not the learning rate).
const std::vector<std::string>& RbmContrastive::signature_keys() const {
  static const std::vector<std::string> keys = {"model.",      "data.",        "train.objective", "train.k",
                                                "train.batch", "train.chains", "train.optimizer", "run.seed"};
  return keys;
}

RbmContrastive::RbmContrastive(const TrainSpec& ts, const data::Dataset& d, models::Rbm<Space>& rbm,
                               std::vector<double> base_bias, const parallel::Comm& comm)
    : ts_(ts),
      data_(d),
      mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)),
      rbm_(rbm),
      comm_(comm),
      plan_(d.train, d.partitions, ts.batch, ts.seed),
      base_bias_(std::move(base_bias)) {
  nv_ = rbm.visible();
  nh_ = rbm.hidden();
  D_ = d.partitions;
  b_ = ts.batch / D_;
  cp_ = ts.pcd ? ts.chains / D_ : b_;
  nloc_ = std::int64_t(d.train.local.size());
  // Data rows, then chain rows, in one buffer: the fused gradient takes them as one matrix.
  vall_ = Matrix<Space>("zeta::train::v_data_and_negative", nloc_ * (b_ + cp_), nv_);
  vdata_ = row_block<Space>(vall_, 0, nloc_ * b_);
  vneg_ = row_block<Space>(vall_, nloc_ * b_, nloc_ * cp_);
  hneg_ = Matrix<Space>("zeta::train::h_negative", nloc_ * cp_, nh_);
  series_.with_pll = rbm.kind() == models::RbmKind::bernoulli;
  if (ts.ais_every > 0 && d.heldout.n == 0)
    config_error("train.ais_every", "needs a held-out split (data.heldout_path or data.holdout)");
  // The held-out partitions on the device, copied once for every AIS evaluation.
  if (ts.ais_every > 0)
    for (const auto& P : d.heldout.local) {
      heldout_.emplace_back("zeta::train::heldout", P.count, nv_);
      auto hv = Kokkos::create_mirror_view(heldout_.back());
      for (std::int64_t r = 0; r < P.count; ++r)
        for (int i = 0; i < nv_; ++i) hv(r, i) = P.x[std::size_t(r) * nv_ + i];
      Kokkos::deep_copy(heldout_.back(), hv);
    }
}

void RbmContrastive::start() {
  if (ts_.pcd) rbm_.initialize_visible(vneg_, ts_.seed, chain_offset());
}

void RbmContrastive::hold_state(bool on) {
  if (!ts_.pcd) return;  // cd starts each step's negatives from its data rows
  if (on) {
    held_ = Matrix<Space>("zeta::train::held_chains", vneg_.extent(0), vneg_.extent(1));
    Kokkos::deep_copy(held_, vneg_);
  } else {
    Kokkos::deep_copy(vneg_, held_);
    held_ = Matrix<Space>();
  }
}

void RbmContrastive::load_chains(const std::vector<double>& all) {
  auto h = Kokkos::create_mirror_view(vneg_);
  const std::size_t at = std::size_t(chain_offset()) * nv_;
  for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = Real(all[at + i]);
  Kokkos::deep_copy(vneg_, h);
}

void RbmContrastive::load_batch(std::int64_t s) {
  auto hv = Kokkos::create_mirror_view(vdata_);
  for (std::int64_t l = 0; l < nloc_; ++l)
    plan_.copy_rows(s, data_.train.local[l], nv_, hv.data() + std::size_t(l * b_) * nv_);
  Kokkos::deep_copy(vdata_, hv);
}

void RbmContrastive::gradient(std::int64_t s, GradientSum<Space>& grad) {
  load_batch(s);
  const double wpos = 1.0 / double(ts_.batch), wneg = -1.0 / double(ts_.pcd ? ts_.chains : ts_.batch);
  if (!ts_.deterministic && rbm_.fused_contrastive()) {
    // One rank-local gradient: Gibbs sweeps, both phases and ∇W in one fused call, then
    // one allreduce of the flat buffer (in place where the host can reach it).
    Kokkos::deep_copy(grad.g(), Real(0));
    rbm_.contrastive_gradient(vall_, static_cast<int>(nloc_ * b_), hneg_, ts_.k, !ts_.pcd, wpos, wneg, ts_.seed,
                              chain_offset(), s * ts_.k, grad.g());
    grad.allreduce();
    return;
  }
  if (!ts_.pcd) Kokkos::deep_copy(vneg_, vdata_);
  for (int sweep = 0; sweep < ts_.k; ++sweep)
    rbm_.gibbs_step(vneg_, hneg_, PerChain<Space>(1.0), ts_.seed, chain_offset(), s * ts_.k + sweep);
  reduce_gradient(grad);
}

void RbmContrastive::reduce_gradient(GradientSum<Space>& grad) {
  const double wpos = 1.0 / double(ts_.batch), wneg = -1.0 / double(ts_.pcd ? ts_.chains : ts_.batch);
  grad.reduce(
      ts_.deterministic, nloc_,
      [&](std::int64_t l, const Vector<Space>& g) {
        rbm_.grad_free_energy(row_block<Space>(vdata_, l * b_, b_), wpos, 1.0, g);
        rbm_.grad_free_energy(row_block<Space>(vneg_, l * cp_, cp_), wneg, 1.0, g);
      },
      [&](const Vector<Space>& g) {
        rbm_.grad_free_energy(vdata_, wpos, 1.0, g);
        rbm_.grad_free_energy(vneg_, wneg, 1.0, g);
      });
}

template <class HostView>
void RbmContrastive::flipped_free_energies(std::int64_t s, const HostView& hv, const Vector<Space>& ff) {
  // One bit per example, chosen by the counter RNG keyed by the example's id in the split.
  const std::int64_t rows_n = nloc_ * b_;
  std::vector<std::int64_t> flip(rows_n, 0), ids;
  Matrix<Space> vf("zeta::train::monitor_flipped", rows_n, nv_);
  auto hf = Kokkos::create_mirror_view(vf);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    const auto& part = data_.train.local[l];
    plan_.rows(s, part, ids);
    for (std::int64_t j = 0; j < b_; ++j) {
      const std::int64_t n = l * b_ + j;
      const rng::Stream st(ts_.seed, std::uint64_t(part.begin + ids[j]), std::uint64_t(s), rng::kMonitor);
      flip[n] = std::min<std::int64_t>(nv_ - 1, std::int64_t(st.uniform() * nv_));
      for (int i = 0; i < nv_; ++i) hf(n, i) = hv(n, i);
      hf(n, flip[n]) = Real(1) - hv(n, flip[n]);
    }
  }
  Kokkos::deep_copy(vf, hf);
  for (std::int64_t l = 0; l < nloc_; ++l)
    rbm_.free_energy(row_block<Space>(vf, l * b_, b_), 1.0, Vector<Space>(ff.data() + l * b_, b_));
}

std::vector<double> RbmContrastive::monitors(std::int64_t s) {
  const std::int64_t rows_n = nloc_ * b_;
  Matrix<Space> ph("zeta::train::monitor_h", rows_n, nh_), vr("zeta::train::monitor_v", rows_n, nv_);
  Vector<Space> fd("zeta::train::monitor_fdata", rows_n), ff("zeta::train::monitor_fflip", rows_n),
      fm("zeta::train::monitor_fmodel", nloc_ * cp_);
  // Partition by partition, as the deterministic gradient: a row's products then do not
  // depend on how many partitions its rank holds (BLAS may round by the row count).
  for (std::int64_t l = 0; l < nloc_; ++l) {
    const auto v = row_block<Space>(vdata_, l * b_, b_), h = row_block<Space>(ph, l * b_, b_);
    rbm_.hidden_probabilities(v, 1.0, h);
    rbm_.visible_means(h, 1.0, row_block<Space>(vr, l * b_, b_));
    rbm_.free_energy(v, 1.0, Vector<Space>(fd.data() + l * b_, b_));
    rbm_.free_energy(row_block<Space>(vneg_, l * cp_, cp_), 1.0, Vector<Space>(fm.data() + l * cp_, cp_));
  }
  const bool bern = rbm_.kind() == models::RbmKind::bernoulli;
  auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vdata_);
  auto hr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vr);
  auto hfd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fd);
  auto hfm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fm);
  if (bern) flipped_free_energies(s, hv, ff);
  auto hff = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ff);
  std::vector<double> local(4 * nloc_, 0.0);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    double re = 0, pll = 0, fdat = 0, fmod = 0;
    for (std::int64_t j = 0; j < b_; ++j) {
      const std::int64_t n = l * b_ + j;
      double e = 0;
      for (int i = 0; i < nv_; ++i) {
        const double d = double(hv(n, i)) - double(hr(n, i));
        e += d * d;
      }
      re += e / nv_;
      fdat += double(hfd(n));
      // ln σ(F(ṽ) − F(v)) = −softplus(F(v) − F(ṽ)), finite for finite energies.
      if (bern) pll -= double(nv_) * kmath::softplus(double(hfd(n)) - double(hff(n)));
    }
    for (std::int64_t j = 0; j < cp_; ++j) fmod += double(hfm(l * cp_ + j));
    local[4 * l] = re, local[4 * l + 1] = pll, local[4 * l + 2] = fdat, local[4 * l + 3] = fmod;
  }
  const std::vector<double> sum = comm_.ordered_sum(local, 4, comm_.share(D_));
  const double B = double(ts_.batch), M = double(D_) * double(cp_);
  return {sum[0] / B, bern ? sum[1] / B : NAN, sum[2] / B, sum[3] / M};
}

const char* RbmContrastive::record(std::int64_t s, double grad_norm) {
  const auto mv = monitors(s);
  if (!std::isfinite(mv[0]) || !std::isfinite(mv[2]) || !std::isfinite(mv[3]))
    return "a monitor (reconstruction error or free energy)";
  series_.step.push_back(double(s));
  series_.recon.push_back(mv[0]);
  if (series_.with_pll) series_.pll.push_back(mv[1]);
  series_.fdata.push_back(mv[2]);
  series_.fmodel.push_back(mv[3]);
  series_.gnorm.push_back(grad_norm);
  return nullptr;
}

// The AIS evaluation: ln Z on the base-rate path, and the held-out −⟨F(v)⟩ summed per
// partition and added in partition order (the same bits on any rank count).
void RbmContrastive::evaluate_ais(std::int64_t s) {
  std::vector<double> a(ts_.ais_steps + 1);
  for (std::int64_t t = 0; t <= ts_.ais_steps; ++t) a[t] = double(t) / double(ts_.ais_steps);
  const parallel::ChainRange chains = comm_.chains(ts_.ais_chains);
  // Draws keyed apart from the training chains: a seed mixed with the step (splitmix32-style).
  std::uint32_t z = ts_.seed ^ (0x9E3779B9u * std::uint32_t(s + 1));
  z = (z ^ (z >> 16)) * 0x85EBCA6Bu;
  z = (z ^ (z >> 13)) * 0xC2B2AE35u;
  z ^= z >> 16;
  estimators::AisSpec as;  // β = 1, one Gibbs sweep per distribution, forward only
  as.a = a;
  const estimators::AisRun run = estimators::run_ais(rbm_, base_bias_, as, z, chains);
  const estimators::LogMeanExp lme = estimators::log_mean_exp(run.log_w, chains, comm_);
  const double log_z = run.base_log_z + lme.log_mean;
  std::vector<double> part(2 * data_.heldout.local.size(), 0.0);
  for (std::size_t q = 0; q < data_.heldout.local.size(); ++q) {
    const auto& P = data_.heldout.local[q];
    if (P.count == 0) continue;
    const Matrix<Space>& v = heldout_[q];
    Accum<Space> F("zeta::train::heldout_F", P.count);
    rbm_.free_energy(v, 1.0, F);
    auto hF = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), F);
    for (std::int64_t r = 0; r < P.count; ++r) part[2 * q] += hF(r), part[2 * q + 1] += hF(r) * hF(r);
  }
  const parallel::Share mine_p = data::partitions_of(comm_.rank(), comm_.size(), data_.partitions);
  const std::vector<double> sums = comm_.ordered_sum(part, 2, mine_p);
  const double sf = sums[0], sf2 = sums[1];
  const double n = double(data_.heldout.n), mf = sf / n;
  const double se_f = std::sqrt(std::max(0.0, sf2 / n - mf * mf) / std::max(1.0, n - 1));
  ais_.step.push_back(double(s));
  ais_.log_z.push_back(log_z);
  ais_.log_z_stderr.push_back(lme.stderr);
  ais_.heldout.push_back(-mf - log_z);
  ais_.heldout_stderr.push_back(std::sqrt(se_f * se_f + lme.stderr * lme.stderr));
  if (comm_.root())
    std::fprintf(stderr, "zeta train: step %lld: AIS ln Z = %.3f +- %.3f, held-out log-likelihood %.3f +- %.3f nats\n",
                 static_cast<long long>(s), log_z, lme.stderr, ais_.heldout.back(), ais_.heldout_stderr.back());
}

const char* RbmContrastive::monitor(std::int64_t s, bool) {
  if (ts_.ais_every > 0 && s > 0 && s % ts_.ais_every == 0 && (ais_.step.empty() || ais_.step.back() != double(s)))
    evaluate_ais(s);
  return nullptr;
}

// The final parameters at run.steps, on the train.ais_every grid or not (a restart from
// this point finds the entry and does not repeat it).
const char* RbmContrastive::finish(std::int64_t step, bool) {
  if (ts_.ais_every > 0 && step == ts_.steps && (ais_.step.empty() || ais_.step.back() != double(step)))
    evaluate_ais(step);
  return nullptr;
}

std::vector<MonitorTable> RbmContrastive::monitor_tables() {
  return {{monitor_table(), ts_.eval_every}, {table_ref(ais_), ts_.ais_every}};
}

void RbmContrastive::gather_state() {
  chains_all_.clear();
  if (ts_.pcd) {
    const auto local = host_copy(vneg_);
    const parallel::ChainRange range{ts_.chains, chain_offset(), std::int64_t(local.size()) / nv_};
    chains_all_ = comm_.gather_chain_rows(local, nv_, range);
  }
  theta_all_ = rbm_.params();
}

void RbmContrastive::write_state(hid_t f) {
  auto params = io::RbmParams::from_flat(rbm_.kind(), nv_, nh_, theta_all_);
  params.base_bias = base_bias_;
  io::write_rbm_params(f, params);
  if (ts_.pcd) io::write_array(f, "/train/chains", {hsize_t(ts_.chains), hsize_t(nv_)}, chains_all_.data());
  write_series(f, series_);
  write_series(f, ais_);
}

std::vector<double> RbmContrastive::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = io::read_rbm_theta(f, file, nv_, nh_);
  if (ts_.pcd) chains_all_ = io::read_array<double>(f, file, "/train/chains", {hsize_t(ts_.chains), hsize_t(nv_)});
  for (double v : chains_all_)
    if (rbm_.kind() == models::RbmKind::bernoulli ? (v != 0 && v != 1) : !std::isfinite(v))
      io::corrupt(file, "/train/chains", "holds a visible unit that this RBM cannot take");
  read_series(f, file, series_, "monitor");
  read_series(f, file, ais_, "AIS");
  return theta;
}

void RbmContrastive::restore(const std::vector<double>& theta) {
  comm_.broadcast(chains_all_);
  broadcast_series(comm_, series_);
  broadcast_series(comm_, ais_);
  rbm_.set_params(theta);
  if (ts_.pcd) load_chains(chains_all_);
  chains_all_.clear();
}

void RbmContrastive::summarize(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.recon_error = res.loss = series_.recon.back();
  if (series_.with_pll) res.pseudo_loglik = series_.pll.back();
  res.free_energy_data = series_.fdata.back();
  res.free_energy_model = series_.fmodel.back();
  res.grad_norm = series_.gnorm.back();
}

void RbmContrastive::write_output(io::OutputFile& out, std::int64_t) {
  auto p = io::RbmParams::from_flat(rbm_.kind(), nv_, nh_, rbm_.params());
  p.base_bias = base_bias_;
  io::write_rbm_params(out, p);
  write_series(out, series_);
  write_series(out, ais_);
}

void RbmContrastive::add_json(JsonSummary& j, const TrainResult& res) const {
  j.add("objective", ts_.pt_pcd ? "pt_pcd" : ts_.pcd ? "pcd" : "cd");
  j.add("k", ts_.k);
  j.add("visible", nv_);
  j.add("hidden", nh_);
  j.add("visible_units", models::rbm_kind_name(rbm_.kind()));
  j.add("examples", data_.train.n);
  j.add("batch", ts_.batch);
  if (ts_.pcd) j.add("chains", ts_.chains);
  j.add("partitions", D_);
  j.add("deterministic", ts_.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  j.add("recon_error", res.recon_error);
  if (series_.with_pll) j.add("pseudo_loglik", res.pseudo_loglik);
  j.add("free_energy_data", res.free_energy_data);
  j.add("free_energy_model", res.free_energy_model);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!ais_.step.empty()) {
    j.add("log_z", ais_.log_z.back());
    j.add("log_z_stderr", ais_.log_z_stderr.back());
    j.add("heldout_loglik", ais_.heldout.back());
    j.add("heldout_loglik_stderr", ais_.heldout_stderr.back());
    j.add("ais_at", std::int64_t(ais_.step.back()));
  }
}

}  // namespace zeta::training
