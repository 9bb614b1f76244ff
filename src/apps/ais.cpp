//! `zeta ais`: annealed importance sampling from a base with known ln Z to the
//! target at ais.beta. Chains are spread over ranks; each carries a log-weight
//! Σ_t [log f_t(x_{t−1}) − log f_{t−1}(x_{t−1})] and moves with an invariant
//! kernel of f_t. ln Z = ln Z_base + log mean exp(log w), reduced in global chain
//! order on rank 0, so the estimate does not depend on the rank count.
//!
//! Lattice models: f_t = exp(−β_t E), β_0 = 0 (uniform spins, ln Z_0 = N ln 2).
//! Continuous models: f_t = exp(−(1 − a_t) E_0 − a_t β E) with the Gaussian base
//! E_0 = |x − μ|² / (2 s²), ln Z_0 = (d/2) ln(2π s²).
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/apps.hpp"
#include "zeta/io/output.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/estimators/ais_stats.hpp"
#include "zeta/estimators/rbm_ais.hpp"
#include "zeta/estimators/rbm_exact.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/samplers/lattice_system.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_ais_app_keys(Config& cfg) {
  cfg.declare("run.seed", "1", "seed of the counter-based RNG (0 .. 2^32-1)");
  declare_progress_key(cfg);
  declare_model_keys(cfg);
  declare_sampler_keys(cfg);
  cfg.declare("ais.beta", "1", "target inverse temperature");
  cfg.declare("ais.steps", "1000", "number of intermediate distributions T (the last is the target)");
  cfg.declare("ais.chains", "256", "AIS chains over all ranks");
  cfg.declare("ais.schedule", "linear",
              "linear | geometric | sigmoid interpolation a_t from 0 to 1 (beta_t = a_t * ais.beta), or list");
  cfg.declare("ais.betas", "", "schedule = list: increasing inverse temperatures ending at ais.beta");
  cfg.declare("ais.sweeps", "1", "MCMC moves (sweeps) at each intermediate distribution");
  cfg.declare("ais.reverse", "false",
              "also run AIS backwards from target states equilibrated by ais.reverse_burn_in moves: a "
              "stochastic upper bound, so the output brackets ln Z (bidirectional Monte Carlo)");
  cfg.declare("ais.reverse_burn_in", "2000", "moves at the target that equilibrate the reverse chains");
  cfg.declare("ais.base_mean", "0", "continuous models: mean of the Gaussian base");
  cfg.declare("ais.base_scale", "1", "continuous models: standard deviation of the Gaussian base");
  cfg.declare("ais.exact", "false",
              "rbm: also the exact ln Z, summed over the smaller layer (at most 30 units), as log_z_exact");
  cfg.declare("output.file", "zeta_ais.h5", "HDF5 output file (empty = none)");
}

namespace {

struct AisSpec {
  double beta = 1;
  std::vector<double> a;  //!< a_0 = 0 … a_T = 1
  std::int64_t chains = 256;
  int sweeps = 1;
  bool reverse = false;
  std::int64_t reverse_burn_in = 0;
  double base_mean = 0, base_scale = 1;
};

AisSpec read_ais_spec(const Config& cfg) {
  AisSpec s;
  s.beta = cfg.get_positive("ais.beta");
  s.chains = cfg.get_int_at_least("ais.chains", 2);
  if (s.chains > (std::int64_t(1) << 40)) config_error("ais.chains", "is impossibly large");
  s.sweeps = static_cast<int>(cfg.get_int_at_least("ais.sweeps", 1));
  s.reverse = cfg.get_bool("ais.reverse");
  s.reverse_burn_in = cfg.get_int_at_least("ais.reverse_burn_in", 1);
  s.base_mean = cfg.get_double("ais.base_mean");
  s.base_scale = cfg.get_positive("ais.base_scale");
  const std::string kind = cfg.get_choice("ais.schedule", {"linear", "geometric", "sigmoid", "list"});
  if (kind == "list") {
    const auto b = cfg.get_doubles("ais.betas");
    if (b.empty()) config_error("ais.betas", "schedule = list needs the list of betas");
    s.a.push_back(0.0);
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (!(b[i] > (i ? b[i - 1] : 0.0))) config_error("ais.betas", "must be positive and strictly increasing");
      s.a.push_back(b[i] / s.beta);
    }
    if (std::fabs(b.back() - s.beta) > 1e-12 * s.beta)
      config_error("ais.betas", "must end at the target ais.beta = " + cfg.get_string("ais.beta") + ", ends at " +
                                    std::to_string(b.back()));
    s.a.back() = 1.0;
    return s;
  }
  if (!cfg.get_string("ais.betas").empty()) config_error("ais.betas", "only applies to ais.schedule = list");
  const auto T = cfg.get_int_at_least("ais.steps", 1);
  if (T > 100000000) config_error("ais.steps", "is impossibly large");
  s.a.resize(T + 1);
  for (std::int64_t t = 0; t <= T; ++t) {
    const double u = double(t) / double(T);
    if (kind == "linear") s.a[t] = u;
    else if (kind == "geometric") s.a[t] = (std::pow(10.0, -4.0 * (1 - u)) - 1e-4) / (1 - 1e-4);
    else {
      auto sig = [](double z) { return 1 / (1 + std::exp(-z)); };
      s.a[t] = (sig(8 * u - 4) - sig(-4)) / (sig(4) - sig(-4));  // Salakhutdinov & Murray's δ = 4
    }
  }
  s.a.front() = 0.0;
  s.a.back() = 1.0;
  return s;
}

//! The intermediate energy (1 − a) E_0 + a β E of a continuous model, for the samplers.
template <class Model>
class AnnealedModel {
 public:
  using space = typename Model::space;
  AnnealedModel(Model& m, double mean, double scale, double beta) : m_(m), mean_(mean), scale_(scale), beta_(beta) {}
  int dim() const { return m_.dim(); }
  const char* name() const { return m_.name(); }
  void set_a(double a) { a_ = a; }

  //! One model evaluation at x gives both E_0(x), E(x) (for the weight increment)
  //! and the energy and gradient of the intermediate at a_next, which becomes current.
  void advance(const Matrix<space>& x, double a_next, const Vector<space>& e0, const Vector<space>& em,
               const Vector<space>& E, const Matrix<space>& g) {
    m_.energy_and_grad(x, em, g);
    a_ = a_next;
    const Real mu = Real(mean_), inv = Real(1 / (scale_ * scale_)), a = Real(a_), ab = Real(a_ * beta_);
    const int d = dim();
    Kokkos::parallel_for(
        "zeta::Ais::advance", RangePolicy<space>(0, x.extent(0)), KOKKOS_LAMBDA(const int c) {
          Real s = 0;
          for (int i = 0; i < d; ++i) {
            const Real dx = x(c, i) - mu;
            s += dx * dx;
            g(c, i) = (Real(1) - a) * inv * dx + ab * g(c, i);
          }
          e0(c) = Real(0.5) * inv * s;
          E(c) = (Real(1) - a) * e0(c) + ab * em(c);
        });
  }
  //! The current intermediate's energy and gradient (what the samplers call).
  void energy_and_grad(const Matrix<space>& x, const Vector<space>& E, const Matrix<space>& g) {
    if (e0_.extent(0) != x.extent(0)) {
      e0_ = Vector<space>("zeta::Ais::e0", x.extent(0));
      em_ = Vector<space>("zeta::Ais::em", x.extent(0));
    }
    advance(x, a_, e0_, em_, E, g);
  }

 private:
  Model& m_;
  double mean_, scale_, beta_, a_ = 0;
  Vector<space> e0_, em_;
};

struct AisOut {
  std::vector<double> log_w;  //!< per local chain
  std::vector<double> log_w_rev;  //!< reverse AIS from equilibrated target states (ais.reverse)
  double base_log_z = 0;
  std::int64_t moves = 0;     //!< chain-steps done per chain
};

using Weights = Kokkos::View<double*, Space::memory_space>;


//! Stage i = 1 … T of the schedule, forward (a_{i−1} → a_i) or reverse (a_{T−i+1} → a_{T−i}).
struct Stage {
  std::int64_t from, to;
};
Stage stage(std::int64_t i, std::int64_t T, bool forward) {
  return forward ? Stage{i - 1, i} : Stage{T - i + 1, T - i};
}

AisOut ais_lattice(const ModelSpec& ms, const SamplerSpec& smp, const AisSpec& as, std::uint32_t seed,
                   const ChainRange& range, Progress& progress) {
  const Ising<Space> model(ms.L, ms.J, ms.h);
  const std::int64_t T = std::int64_t(as.a.size()) - 1;
  std::vector<double> b(range.count);
  std::int64_t step = 0;
  // Each stage adds log f_to(x) − log f_from(x) = −(β_to − β_from) E(x) to the
  // log-weights, then moves at β_to.
  auto anneal = [&](LatticeSystem<Space>& sys, bool forward, const Weights& w) {
    for (std::int64_t i = 1; i <= T; ++i) {
      const Stage st = stage(i, T, forward);
      const double db = (as.a[st.to] - as.a[st.from]) * as.beta;
      const auto E = sys.energies();
      Kokkos::parallel_for(
          "zeta::Ais::weight", RangePolicy<Space>(0, w.extent(0)), KOKKOS_LAMBDA(const int c) { w(c) -= db * E(c); });
      std::fill(b.begin(), b.end(), as.a[st.to] * as.beta);
      sys.set_betas(b);
      for (int j = 0; j < as.sweeps; ++j) sys.step(++step);
      if (forward) progress.update(i);
    }
  };
  AisOut o;
  o.base_log_z = double(model.sites()) * std::log(2.0);
  {
    LatticeSystem<Space> sys(model, spin_move(smp), range, seed);  // exact samples of β = 0
    Weights w("zeta::Ais::log_w", range.count);
    anneal(sys, true, w);
    o.log_w = host_copy(w);
  }
  if (as.reverse) {
    // Fresh chains equilibrated at the target, then annealed back to β = 0.
    LatticeSystem<Space> rev(model, spin_move(smp), range, seed);
    std::fill(b.begin(), b.end(), as.beta);
    rev.set_betas(b);
    for (std::int64_t j = 0; j < as.reverse_burn_in; ++j) rev.step(++step);
    Weights w("zeta::Ais::log_w_rev", range.count);
    anneal(rev, false, w);
    o.log_w_rev = host_copy(w);
  }
  o.moves = step;
  return o;
}

template <class Model>
AisOut ais_continuous(Model& m, const SamplerSpec& smp, const AisSpec& as, std::uint32_t seed,
                      const ChainRange& range, Progress& progress) {
  AnnealedModel<Model> path(m, as.base_mean, as.base_scale, as.beta);
  const int d = m.dim();
  Chains<Space> ch(range, d, 1.0);
  // Exact base samples x ~ N(μ, s²): initialize draws N(0, s²), then shift.
  path.set_a(0.0);
  ch.initialize(path, seed, as.base_scale);
  const auto x = ch.x;
  const Real mu = Real(as.base_mean);
  Kokkos::parallel_for(
      "zeta::Ais::shift", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        for (int i = 0; i < d; ++i) x(c, i) += mu;
      });
  path.energy_and_grad(ch.x, ch.E, ch.g);
  AisOut o;
  o.base_log_z = 0.5 * d * std::log(2 * M_PI * as.base_scale * as.base_scale);
  Vector<Space> e0("zeta::Ais::e0", range.count), em("zeta::Ais::em", range.count);
  const std::int64_t T = std::int64_t(as.a.size()) - 1;
  std::int64_t step = 0;
  // Each stage adds log f_to(x) − log f_from(x) = (a_to − a_from)(E_0(x) − β E(x))
  // to the log-weights (one model evaluation, which also gives the new
  // intermediate's energy and gradient), then moves at a_to.
  auto anneal = [&](bool forward, const Weights& w) {
    const double beta = as.beta;
    for (std::int64_t i = 1; i <= T; ++i) {
      const Stage st = stage(i, T, forward);
      path.advance(ch.x, as.a[st.to], e0, em, ch.E, ch.g);
      const double da = as.a[st.to] - as.a[st.from];
      Kokkos::parallel_for(
          "zeta::Ais::weight", RangePolicy<Space>(0, w.extent(0)),
          KOKKOS_LAMBDA(const int c) { w(c) += da * (double(e0(c)) - beta * double(em(c))); });
      for (int j = 0; j < as.sweeps; ++j) sampler_step(path, ch, smp, seed, ++step);
      if (forward) progress.update(i);
    }
  };
  Weights w("zeta::Ais::log_w", range.count);
  anneal(true, w);
  o.log_w = host_copy(w);
  if (as.reverse) {
    // The same chains, equilibrated further at the target, annealed back to the base.
    path.set_a(1.0);
    path.energy_and_grad(ch.x, ch.E, ch.g);
    for (std::int64_t j = 0; j < as.reverse_burn_in; ++j) sampler_step(path, ch, smp, seed, ++step);
    Weights wr("zeta::Ais::log_w_rev", range.count);
    anneal(false, wr);
    o.log_w_rev = host_copy(wr);
  }
  o.moves = step;
  return o;
}

//! RBMs (model.params: a zeta train output or checkpoint) on the base-rate path of
//! Salakhutdinov & Murray, with Gibbs sweeps at every intermediate distribution.
//! The base-rate biases are the file's /model/rbm/base_bias (the training data's
//! marginals) or else the RBM's own visible biases. With ais.exact the exact ln Z
//! (rank 0, broadcast) goes into `log_z_exact`.
AisOut ais_rbm(const Config& cfg, const ModelSpec& ms, const AisSpec& as, std::uint32_t seed, const ChainRange& range,
               Progress& progress, const Comm& comm, bool exact, double& log_z_exact) {
  const io::RbmParams p = load_rbm_params(cfg, ms, comm);
  Rbm<Space> rbm = make_sampling_rbm<Space>(p, ms);
  const std::vector<double> base = p.base_bias.empty() ? p.b : p.base_bias;
  if (exact) {
    std::string err;
    if (comm.root()) {
      try {
        log_z_exact = estimators::rbm_log_z_exact(rbm, as.beta);
      } catch (const std::exception& e) {
        err = std::string("ais.exact: ") + e.what();
      }
    }
    err = comm.first_message(err);
    if (!err.empty()) throw Error(err);
    comm.broadcast(log_z_exact);
  }
  const RbmAisRun r = rbm_ais(rbm, base, as.a, as.beta, as.sweeps, as.reverse, as.reverse_burn_in, seed, range,
                              [&](std::int64_t i) { progress.update(i); });
  AisOut o;
  o.log_w = r.log_w;
  o.log_w_rev = r.log_w_rev;
  o.base_log_z = r.base_log_z;
  o.moves = r.sweeps_done;
  return o;
}

}  // namespace

AisResult ais(const Config& cfg, const Comm& comm) {
  Kokkos::Timer timer;
  const std::uint32_t seed = read_seed(cfg);
  const ModelSpec ms = read_model_spec(cfg);
  const SamplerSpec smp = sampler_for_model(read_sampler_spec(cfg), ms.type, ms.lattice());
  const bool rbm = ms.type == "rbm";  // block Gibbs
  const AisSpec as = read_ais_spec(cfg);
  const bool exact = cfg.get_bool("ais.exact");
  if (exact && !rbm) config_error("ais.exact", "applies to model.type = rbm only");
  double log_z_exact = NAN;
  if (!rbm && smp.type == SamplerType::langevin && comm.root())
    std::fprintf(stderr,
                 "zeta: warning: ULA (sampler.type = langevin) does not leave the intermediate distributions "
                 "invariant: AIS with it is biased; prefer mala or hmc\n");
  const std::string file = cfg.get_string("output.file");
  std::unique_ptr<io::OutputFile> out;
  if (!file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, file);
    io::write_root_attributes(*out, "ais", cfg, comm);
  }
  const ChainRange range = comm.chains(as.chains);
  const std::int64_t T = std::int64_t(as.a.size()) - 1;
  Progress progress("zeta ais", T, double(as.chains) * as.sweeps, "chain-steps", comm.root(),
                    cfg.get_nonnegative("run.progress_every"));
  AisOut o;
  std::string model_name = ms.type;
  if (ms.lattice()) {
    o = ais_lattice(ms, smp, as, seed, range, progress);
  } else if (rbm) {
    o = ais_rbm(cfg, ms, as, seed, range, progress, comm, exact, log_z_exact);
  } else {
    auto model = make_model<Space>(ms);
    o = std::visit([&](auto& m) { return ais_continuous(m, smp, as, seed, range, progress); }, model);
  }

  // Global log-mean-exp over the log-weights in chain order.
  const LogMeanExp fw = log_mean_exp(o.log_w, range, comm);
  double stats[6] = {fw.log_mean + o.base_log_z, fw.stderr, fw.ess, fw.log_var, NAN, NAN};
  if (as.reverse) {
    const LogMeanExp rv = log_mean_exp(o.log_w_rev, range, comm);
    stats[4] = o.base_log_z - rv.log_mean;  // E[log mean exp w_rev] ≤ ln(Z_0 / Z): a stochastic upper bound
    stats[5] = rv.stderr;
  }
  AisResult r;
  r.log_z = stats[0];
  r.log_z_stderr = stats[1];
  r.ess = stats[2];
  r.log_weight_var = stats[3];
  r.base_log_z = o.base_log_z;
  r.log_z_upper = stats[4];
  r.log_z_upper_stderr = stats[5];
  r.log_z_exact = log_z_exact;
  if (out) {
    std::vector<double> betas(as.a.size());
    for (std::size_t t = 0; t < betas.size(); ++t) betas[t] = as.a[t] * as.beta;
    const hid_t db = out->create_double("/ais/betas", {hsize_t(betas.size())});
    out->write_double(db, {0}, {comm.root() ? hsize_t(betas.size()) : 0}, betas.data());
    const hid_t dw = out->create_double("/ais/log_weights", {hsize_t(as.chains)});
    out->write_double(dw, {hsize_t(range.offset)}, {hsize_t(range.count)}, o.log_w.data());
    if (as.reverse) {
      const hid_t dr = out->create_double("/ais/reverse_log_weights", {hsize_t(as.chains)});
      out->write_double(dr, {hsize_t(range.offset)}, {hsize_t(range.count)}, o.log_w_rev.data());
    }
    out->finish();
  }
  r.wall_s = timer.seconds();
  r.chain_steps_per_s = double(as.chains) * double(o.moves) / r.wall_s;
  auto& j = r.json;
  io::add_json_header(j, "ais", "ok", r.wall_s, comm, model_name, smp.name);
  j.add("chains", as.chains);
  j.add("steps", T);
  j.add("beta", as.beta);
  j.add("log_z", r.log_z);
  j.add("log_z_stderr", r.log_z_stderr);
  j.add("ess", r.ess);
  j.add("log_weight_var", r.log_weight_var);
  j.add("base_log_z", r.base_log_z);
  if (exact) j.add("log_z_exact", log_z_exact);
  if (as.reverse) {
    j.add("log_z_lower", r.log_z);
    j.add("log_z_upper", r.log_z_upper);
    j.add("log_z_upper_stderr", r.log_z_upper_stderr);
  }
  j.add("chain_steps_per_s", r.chain_steps_per_s);
  if (!file.empty()) j.add("output", file);
  return r;
}

}  // namespace zeta::apps
