#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/samplers/divergence.hpp"
#include "zeta/samplers/annealed_langevin.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::samplers {

void declare_sampler_keys(Config& cfg) {
  // The default follows the model, so the stored and echoed configuration names the move
  // that runs: block Gibbs for an rbm, single-spin Metropolis for ising, else MALA.
  cfg.declare_per_value("sampler.type", "model.type", {{"rbm", "gibbs"}, {"ising", "metropolis"}}, "mala",
                        "langevin | mala | hmc | annealed_langevin (continuous: Langevin over a noise ladder, "
                        "sampler.sigma) | metropolis (continuous: random walk y = x + sqrt(step_size) z; "
                        "ising: single-spin flips) | heatbath (ising) | swendsen_wang (ising: Swendsen-Wang "
                        "cluster update of the whole lattice per step) | wolff (ising: sampler.clusters Wolff "
                        "clusters per step) | gibbs (rbm: block Gibbs sweeps v -> h -> v at each chain's beta; the "
                        "only move for an rbm, and of [sampler] only chains and beta apply)");
  cfg.declare("sampler.chains", "64", "number of chains over all ranks");
  declare_langevin_keys(cfg);
  cfg.declare("sampler.leapfrog", "10", "hmc: leapfrog steps per trajectory");
  cfg.declare("sampler.jitter", "0.2", "hmc: trajectory step sizes are drawn from step_size * (1 +- jitter)");
  cfg.declare("sampler.beta", "1", "inverse temperature beta of every chain");
  cfg.declare("sampler.clusters", "1", "wolff: clusters grown and flipped per step (>= 1)");
  cfg.declare("sampler.cluster_from", "0",
              "swendsen_wang, wolff: the beta from which the cluster move runs; below it each step is "
              "sampler.hot_sweeps heat-bath sweeps, cheaper where single spins decorrelate fast (ais, sample; "
              "0 = the cluster move at every beta)");
  cfg.declare("sampler.hot_sweeps", "1", "heat-bath sweeps per step below sampler.cluster_from (>= 1)");
  declare_annealed_keys(cfg);
}

void declare_langevin_keys(Config& cfg) {
  cfg.declare("sampler.step_size", "0.01", "step size epsilon (> 0)");
  cfg.declare("sampler.clip_grad", "0", "langevin: clip each gradient component to +-clip_grad (0 = off)");
  cfg.declare("sampler.clamp", "", "langevin: clamp states to a range 'lo,hi' (empty = off)");
  cfg.declare("sampler.init_scale", "1", "initial states are N(0, init_scale^2)");
}

void read_langevin_keys(const Config& cfg, SamplerSpec& s) {
  s.step_size = cfg.get_positive("sampler.step_size");
  s.clip_grad = cfg.get_nonnegative("sampler.clip_grad");
  const auto clamp = cfg.get_doubles("sampler.clamp");
  if (!clamp.empty()) {
    if (clamp.size() != 2 || !(clamp[0] < clamp[1]))
      config_error("sampler.clamp", "expected 'lo,hi' with lo < hi, got '" + cfg.get_string("sampler.clamp") + "'");
    s.clamp = true;
    s.clamp_min = clamp[0];
    s.clamp_max = clamp[1];
  }
  s.init_scale = cfg.get_nonnegative("sampler.init_scale");
}

SamplerSpec read_sampler_spec(const Config& cfg) {
  SamplerSpec s;
  s.name = cfg.get_choice("sampler.type",
                          {"langevin", "mala", "hmc", "metropolis", "heatbath", "gibbs", "swendsen_wang", "wolff",
                           "annealed_langevin"});
  s.type = s.name == "langevin"        ? SamplerType::langevin
           : s.name == "mala"          ? SamplerType::mala
           : s.name == "hmc"           ? SamplerType::hmc
           : s.name == "metropolis"    ? SamplerType::metropolis
           : s.name == "heatbath"      ? SamplerType::heatbath
           : s.name == "swendsen_wang" ? SamplerType::swendsen_wang
           : s.name == "wolff"         ? SamplerType::wolff
           : s.name == "gibbs"         ? SamplerType::gibbs
                                       : SamplerType::annealed_langevin;
  s.chains = cfg.get_int_at_least("sampler.chains", 1);
  if (s.chains > (std::int64_t(1) << 40)) config_error("sampler.chains", "is impossibly large");
  read_langevin_keys(cfg, s);
  s.leapfrog = static_cast<int>(cfg.get_int_at_least("sampler.leapfrog", 1));
  s.jitter = cfg.get_nonnegative("sampler.jitter");
  if (s.jitter >= 1) config_error("sampler.jitter", "must be < 1");
  read_annealed_keys(cfg, s);
  if (s.type != SamplerType::langevin && s.type != SamplerType::annealed_langevin && (s.clip_grad > 0 || s.clamp))
    config_error(s.clip_grad > 0 ? "sampler.clip_grad" : "sampler.clamp",
                 "only applies to sampler.type = langevin (it would break " + s.name + "'s detailed balance)");
  s.beta = cfg.get_positive("sampler.beta");
  const auto clusters = cfg.get_int_at_least("sampler.clusters", 1);
  if (clusters > (1 << 20)) config_error("sampler.clusters", "is impossibly large (at most 1048576)");
  // A resolved configuration (the echo, /config) lists every key at its value: only a
  // value other than the default is an error for another move.
  if (clusters != 1 && s.type != SamplerType::wolff)
    config_error("sampler.clusters", "only applies to sampler.type = wolff (sampler.type = " + s.name + ")");
  s.clusters = static_cast<int>(clusters);
  s.cluster_from = cfg.get_nonnegative("sampler.cluster_from");
  const bool cluster = s.type == SamplerType::swendsen_wang || s.type == SamplerType::wolff;
  if (s.cluster_from != 0 && !cluster)
    config_error("sampler.cluster_from",
                 "only applies to sampler.type = swendsen_wang or wolff (sampler.type = " + s.name + ")");
  const auto hot = cfg.get_int_at_least("sampler.hot_sweeps", 1);
  if (hot > (1 << 20)) config_error("sampler.hot_sweeps", "is impossibly large (at most 1048576)");
  if (hot != 1 && s.cluster_from == 0) config_error("sampler.hot_sweeps", "only applies with sampler.cluster_from > 0");
  s.hot_sweeps = static_cast<int>(hot);
  return s;
}

void refuse_cluster_window(const SamplerSpec& s, const std::string& command) {
  if (s.cluster_from != 0)
    config_error("sampler.cluster_from",
                 "does not apply to zeta " + command + ", whose replicas sit at different betas (ais and sample only)");
}

void check_sampler_for_model(const SamplerSpec& s, const std::string& model_type, bool lattice) {
  if (model_type == "rbm") {
    if (s.type != SamplerType::gibbs)
      config_error("sampler.type", "'" + s.name +
                                       "' does not apply to model.type = rbm, which is sampled by block Gibbs "
                                       "(set gibbs or leave sampler.type unset)");
    return;
  }
  if (s.type == SamplerType::gibbs)
    config_error("sampler.type", "gibbs applies to model.type = rbm only (model.type = '" + model_type + "')");
  const bool spin = s.type == SamplerType::metropolis || s.type == SamplerType::heatbath ||
                    s.type == SamplerType::swendsen_wang || s.type == SamplerType::wolff;
  if (lattice && !spin)
    config_error("sampler.type", "'" + s.name + "' does not apply to the lattice model '" + model_type +
                                     "' (use metropolis, heatbath, swendsen_wang or wolff)");
  if (!lattice && spin && s.type != SamplerType::metropolis)
    config_error("sampler.type",
                 s.name + " applies to lattice models (model.type = ising) only (model.type = '" + model_type + "')");
}

SamplerSpec sampler_for_model(SamplerSpec s, const std::string& model_type, bool lattice) {
  check_sampler_for_model(s, model_type, lattice);
  return s;
}

}  // namespace zeta::samplers

namespace zeta::samplers {

void diverged_error(std::int64_t last_good, std::int64_t step, const char* what) {
  char bound[32];
  std::snprintf(bound, sizeof bound, "%.2g", double(divergence_bound()));
  config_error("sampler.step_size", std::string("the chains diverged between ") + what + "s " +
                                        std::to_string(last_good) + " and " + std::to_string(step) +
                                        " (a state or energy became NaN, infinite or larger than " + bound +
                                        "): lower sampler.step_size (langevin: or bound the moves with "
                                        "sampler.clip_grad or sampler.clamp)");
}

}  // namespace zeta::samplers

namespace zeta::samplers {

double chain_bytes(int state_size, bool continuous) {
  // The acceptance count, and 20 batch sums (sampling) or the log-weights (AIS).
  const double per_run = 8.0 + 20 * 8.0;
  // x, g, y, gy, p: 5 rows; E, β, E(y), log ratio: 4 scalars.
  if (continuous) return (5.0 * state_size + 4.0) * sizeof(Real) + per_run;
  return double(state_size) + per_run;
}

void check_chain_memory(const std::string& key, std::int64_t global, double bytes_per_chain,
                        const parallel::Comm& comm) {
  const double pages = double(::sysconf(_SC_PHYS_PAGES)), page = double(::sysconf(_SC_PAGESIZE));
  const double physical = -comm.max(-(pages > 0 && page > 0 ? pages * page : INFINITY));
  const double per_rank = std::ceil(double(global) / double(comm.size())) * bytes_per_chain;
  if (!(per_rank < physical)) {
    char what[160];
    std::snprintf(what, sizeof what, "%lld chains need at least %.3g GB per rank (%d ranks), more than the %.3g GB "
                  "of physical memory", static_cast<long long>(global), per_rank / 1e9, comm.size(), physical / 1e9);
    config_error(key, std::string(what) + ": use fewer chains or more nodes");
  }
}

}  // namespace zeta::samplers
