//! The [run] keys every command shares: seed, steps, burn-in, saving, limits, progress.
#pragma once
#include <cstdint>

#include "zeta/core/config.hpp"

namespace zeta {

//! Declares the keys of [run] that every command shares.
void declare_run_keys(Config& cfg);
//! run.progress_every, which every command with progress lines takes.
void declare_progress_key(Config& cfg);

struct RunSpec {
  std::uint32_t seed = 1;
  std::int64_t steps = 0, burn_in = 0, save_every = 0;
  double max_hours = 0, progress_every = 5;
};
RunSpec read_run_spec(const Config& cfg);
//! run.seed, checked to fit the RNG key (< 2^32).
std::uint32_t read_seed(const Config& cfg);

}  // namespace zeta
