#include "zeta/core/run.hpp"

#include "zeta/core/error.hpp"

namespace zeta {

void declare_progress_key(Config& cfg) {
  cfg.declare("run.progress_every", "5", "seconds between progress lines on stderr (0: none, nor the configuration echoed at start)");
}

void declare_run_keys(Config& cfg) {
  cfg.declare("run.seed", "1", "seed of the counter-based RNG (0 .. 2^32-1)");
  cfg.declare("run.steps", "1000", "number of steps (sweeps) in total");
  cfg.declare("run.burn_in", "100", "steps discarded before statistics and saved samples");
  cfg.declare("run.save_every", "10", "save samples every N steps after burn-in (0 = save none)");
  cfg.declare("run.max_hours", "0", "stop cleanly (status interrupted) after this many hours (0 = no limit)");
  declare_progress_key(cfg);
}

std::uint32_t read_seed(const Config& cfg) {
  const auto seed = cfg.get_int_at_least("run.seed", 0);
  if (seed > 0xffffffffLL) config_error("run.seed", "must be < 2^32");
  return static_cast<std::uint32_t>(seed);
}

RunSpec read_run_spec(const Config& cfg) {
  RunSpec r;
  r.seed = read_seed(cfg);
  r.steps = cfg.get_int_at_least("run.steps", 1);
  r.burn_in = cfg.get_int_at_least("run.burn_in", 0);
  if (r.burn_in >= r.steps) config_error("run.burn_in", "must be smaller than run.steps");
  r.save_every = cfg.get_int_at_least("run.save_every", 0);
  r.max_hours = cfg.get_nonnegative("run.max_hours");
  r.progress_every = cfg.get_nonnegative("run.progress_every");
  return r;
}

}  // namespace zeta
