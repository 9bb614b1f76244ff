#include "zeta/samplers/annealed_langevin.hpp"

#include <cmath>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"

namespace zeta::samplers {

std::vector<double> geometric_sigmas(double first, double last, int levels) {
  std::vector<double> s(static_cast<std::size_t>(levels));
  for (int i = 0; i < levels; ++i)
    s[std::size_t(i)] = i == 0            ? first
                        : i == levels - 1 ? last
                                          : first * std::pow(last / first, double(i) / (levels - 1));
  return s;
}

std::vector<double> read_sigma_ladder(const Config& cfg, const std::string& list_key, const std::string& levels_key,
                                      int min_levels) {
  std::vector<double> s = cfg.get_doubles(list_key);
  for (double x : s)
    if (!(x > 0) || !std::isfinite(x))
      config_error(list_key, "noise scales must be finite and > 0 (got " + json_number(x) + ")");
  const std::int64_t L = cfg.get_int_at_least(levels_key, 0);
  if (L == 1) config_error(levels_key, "is 0 (the list is the ladder) or at least 2 levels");
  if (L > 100000) config_error(levels_key, "is impossibly large");
  if (L >= 2) {
    if (s.size() != 2)
      config_error(list_key, "takes the ladder's two ends 'sigma_1,sigma_L' with " + levels_key + " = " +
                                 std::to_string(L) + " (got " + std::to_string(s.size()) + " values)");
    if (!(s[0] > s[1])) config_error(list_key, "the first end sigma_1 must be larger than the last sigma_L");
    s = geometric_sigmas(s[0], s[1], int(L));
  }
  if (int(s.size()) < min_levels)
    config_error(list_key, "needs at least " + std::to_string(min_levels) + " noise levels (got " +
                               std::to_string(s.size()) + ")");
  for (std::size_t i = 1; i < s.size(); ++i)
    if (!(s[i] < s[i - 1]))
      config_error(list_key, "must decrease strictly from the largest noise to the smallest (level " +
                                 std::to_string(i + 1) + ": " + json_number(s[i]) + " after " + json_number(s[i - 1]) +
                                 ")");
  return s;
}

void declare_annealed_keys(Config& cfg) {
  cfg.declare("sampler.sigma", "",
              "annealed_langevin: the decreasing noise ladder sigma_1 > ... > sigma_L of the noise-conditional model "
              "(train.objective = ncsn's train.sigma), or its two ends with sampler.sigma_levels");
  cfg.declare("sampler.sigma_levels", "0",
              "annealed_langevin: 0 = sampler.sigma is the ladder; L >= 2 = sampler.sigma is 'sigma_1,sigma_L' and the "
              "L levels are geometric between them");
  cfg.declare("sampler.steps_per_level", "100",
              "annealed_langevin: moves per noise level; step t is at level min((t-1)/steps_per_level, L-1), with "
              "step size step_size * (sigma_i/sigma_L)^2 and inverse temperature beta/sigma_i");
}

void read_annealed_keys(const Config& cfg, SamplerSpec& s) {
  if (s.type != SamplerType::annealed_langevin) {
    // Off their defaults (a resolved configuration, which lists every key, runs as it is).
    for (const char* key : {"sampler.sigma", "sampler.sigma_levels", "sampler.steps_per_level"})
      if (cfg.differs_from_default(key)) config_error(key, "applies to sampler.type = annealed_langevin only");
    return;
  }
  if (cfg.get_string("sampler.sigma").empty())
    config_error("sampler.sigma", "annealed_langevin needs the noise ladder (the model's train.sigma)");
  s.sigmas = read_sigma_ladder(cfg, "sampler.sigma", "sampler.sigma_levels", 1);
  s.steps_per_level = cfg.get_int_at_least("sampler.steps_per_level", 1);
}

void refuse_annealed(const SamplerSpec& s, const std::string& command) {
  if (s.type == SamplerType::annealed_langevin)
    config_error("sampler.type", "annealed_langevin runs in zeta sample only: zeta " + command +
                                     " sets the chains' temperatures itself (use langevin, mala or hmc)");
}

}  // namespace zeta::samplers
