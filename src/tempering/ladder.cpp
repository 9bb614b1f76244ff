#include "zeta/tempering/ladder.hpp"

#include <algorithm>
#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::tempering {

void declare_temper_keys(Config& cfg) {
  cfg.declare("temper.betas", "", "explicit increasing inverse temperatures (overrides beta_min/beta_max/count)");
  cfg.declare("temper.beta_min", "0.1", "smallest beta (hottest replica)");
  cfg.declare("temper.beta_max", "1", "largest beta: the target, where the statistics that matter are taken");
  cfg.declare("temper.count", "8", "number of temperatures K (>= 2)");
  cfg.declare("temper.spacing", "geometric", "geometric | linear spacing between beta_min and beta_max");
  cfg.declare("temper.copies", "1", "independent ladders in one job (replicas = count * copies)");
  cfg.declare("temper.exchange_every", "1", "sweeps (sampler steps) between exchange rounds");
  cfg.declare("temper.scheme", "deo",
              "deo (non-reversible deterministic even-odd) | random (classic: even or odd pairs by a coin)");
  cfg.declare("temper.adapt", "none",
              "none | barrier (round-trip-optimal NRPT schedule, Syed et al. 2021) | acceptance (equal swap "
              "acceptance); adapts during run.burn_in only");
  cfg.declare("temper.adapt_rounds", "6", "barrier: number of adaptation rounds, of doubling length, in the burn-in");
}

std::vector<double> make_ladder(double beta_min, double beta_max, int count, const std::string& spacing) {
  std::vector<double> b(count);
  for (int k = 0; k < count; ++k) {
    const double t = double(k) / double(count - 1);
    b[k] = spacing == "linear" ? beta_min + t * (beta_max - beta_min)
                               : beta_min * std::pow(beta_max / beta_min, t);
  }
  b.front() = beta_min;
  b.back() = beta_max;
  return b;
}

TemperSpec read_temper_spec(const Config& cfg, bool lattice) {
  TemperSpec s;
  const double lowest = lattice ? 0.0 : 1e-300;
  const char* lowest_text = lattice ? ">= 0" : "> 0 (beta = 0 is improper for a continuous model)";
  if (!cfg.get_string("temper.betas").empty()) {
    s.betas = cfg.get_doubles("temper.betas");
    if (s.betas.size() < 2) config_error("temper.betas", "needs at least 2 temperatures");
    for (std::size_t k = 0; k < s.betas.size(); ++k) {
      if (!(s.betas[k] >= lowest)) config_error("temper.betas", std::string("values must be ") + lowest_text);
      if (k > 0 && !(s.betas[k] > s.betas[k - 1]))
        config_error("temper.betas", "must be strictly increasing (beta " + std::to_string(k) + " is not above beta " +
                                         std::to_string(k - 1) + ")");
    }
  } else {
    const auto count = cfg.get_int_at_least("temper.count", 2);
    if (count > (1 << 20)) config_error("temper.count", "is impossibly large");
    const std::string spacing = cfg.get_choice("temper.spacing", {"geometric", "linear"});
    const double lo = cfg.get_double("temper.beta_min"), hi = cfg.get_double("temper.beta_max");
    if (!(lo >= lowest)) config_error("temper.beta_min", std::string("must be ") + lowest_text);
    if (!(hi > lo)) config_error("temper.beta_max", "must be larger than temper.beta_min");
    if (spacing == "geometric" && !(lo > 0))
      config_error("temper.beta_min", "must be > 0 for geometric spacing (use temper.spacing = linear)");
    s.betas = make_ladder(lo, hi, static_cast<int>(count), spacing);
  }
  const auto copies = cfg.get_int_at_least("temper.copies", 1);
  if (copies * std::int64_t(s.betas.size()) > (std::int64_t(1) << 30))
    config_error("temper.copies", "gives an impossibly large number of replicas");
  s.copies = static_cast<int>(copies);
  s.exchange_every = cfg.get_int_at_least("temper.exchange_every", 1);
  s.scheme = cfg.get_choice("temper.scheme", {"deo", "random"}) == "deo" ? SwapScheme::deo : SwapScheme::random;
  const std::string adapt = cfg.get_choice("temper.adapt", {"none", "barrier", "acceptance"});
  s.adapt = adapt == "none" ? LadderAdapt::none : adapt == "barrier" ? LadderAdapt::barrier : LadderAdapt::acceptance;
  s.adapt_rounds = static_cast<int>(cfg.get_int_at_least("temper.adapt_rounds", 1));
  if (s.adapt_rounds > 40) config_error("temper.adapt_rounds", "must be <= 40");
  return s;
}

std::vector<double> barrier_schedule(const std::vector<double>& betas, const std::vector<double>& rejection) {
  const std::size_t K = betas.size();
  // Cumulative barrier at the current β; a floor keeps Λ strictly increasing.
  std::vector<double> lam(K, 0.0);
  for (std::size_t k = 1; k < K; ++k) lam[k] = lam[k - 1] + std::max(rejection[k - 1], 1e-6);
  std::vector<double> out(K);
  out.front() = betas.front();
  out.back() = betas.back();
  std::size_t j = 0;
  for (std::size_t k = 1; k + 1 < K; ++k) {
    const double target = lam.back() * double(k) / double(K - 1);
    while (j + 1 < K - 1 && lam[j + 1] < target) ++j;
    const double t = (target - lam[j]) / (lam[j + 1] - lam[j]);
    out[k] = betas[j] + t * (betas[j + 1] - betas[j]);
  }
  return out;
}

std::vector<double> equalize_acceptance(const std::vector<double>& betas, const std::vector<double>& acceptance,
                                        double gain) {
  const std::size_t K = betas.size();
  double mean = 0;
  for (double a : acceptance) mean += a;
  mean /= double(K - 1);
  // Pairs that accept more than the mean get wider, the others narrower.
  std::vector<double> gap(K - 1);
  double total = 0;
  for (std::size_t k = 0; k + 1 < K; ++k) {
    gap[k] = (betas[k + 1] - betas[k]) * std::exp(gain * (acceptance[k] - mean));
    total += gap[k];
  }
  std::vector<double> out(K);
  out[0] = betas.front();
  const double scale = (betas.back() - betas.front()) / total;
  for (std::size_t k = 1; k + 1 < K; ++k) out[k] = out[k - 1] + gap[k - 1] * scale;
  out.back() = betas.back();
  return out;
}

std::vector<std::int64_t> adaptation_window_ends(int rounds, std::int64_t steps) {
  std::vector<std::int64_t> window_end;
  if (steps <= 0) return window_end;
  const double total = std::ldexp(1.0, rounds) - 1;
  for (int j = 0; j < rounds; ++j) {
    const auto e = static_cast<std::int64_t>(double(steps) * (std::ldexp(1.0, j + 1) - 1) / total);
    if (e > 0 && (window_end.empty() || e > window_end.back())) window_end.push_back(e);
  }
  return window_end;
}

bool adapt_betas(LadderAdapt adapt, const ReplicaExchange& ex, const std::vector<std::int64_t>& window_attempts,
                 const std::vector<double>& window_prob, std::vector<double>& betas) {
  const int K = static_cast<int>(betas.size());
  std::vector<double> a(K - 1);
  for (int k = 0; k + 1 < K; ++k) {
    const std::int64_t n = ex.attempts()[k] - window_attempts[k];
    if (n == 0) return false;  // a pair was never tried in this window: keep the ladder
    a[k] = (ex.accept_prob_sum()[k] - window_prob[k]) / double(n);
  }
  if (adapt == LadderAdapt::barrier) {
    std::vector<double> r(K - 1);
    for (int k = 0; k + 1 < K; ++k) r[k] = 1 - a[k];
    betas = barrier_schedule(betas, r);
  } else if (adapt == LadderAdapt::acceptance) {
    betas = equalize_acceptance(betas, a, 2.0);
  }
  return adapt != LadderAdapt::none;
}

ReplicaExchange::ReplicaExchange(int levels, int copies)
    : K_(levels),
      copies_(copies),
      chain_(std::size_t(levels) * copies),
      level_(std::size_t(levels) * copies),
      direction_(std::size_t(levels) * copies, 0) {
  for (std::size_t c = 0; c < chain_.size(); ++c) {
    chain_[c] = std::int64_t(c);
    level_[c] = static_cast<int>(c % levels);
  }
  reset_statistics();
}

void ReplicaExchange::reset_statistics() {
  attempts_.assign(K_ - 1, 0);
  accepts_.assign(K_ - 1, 0);
  prob_sum_.assign(K_ - 1, 0.0);
  trips_.assign(chain_.size(), 0);
  up_.assign(K_, 0);
  down_.assign(K_, 0);
}

void ReplicaExchange::round(std::int64_t n, SwapScheme scheme, const std::vector<double>& betas,
                            const std::vector<double>& energy, std::uint32_t seed, bool record) {
  for (int copy = 0; copy < copies_; ++copy) {
    const rng::Stream st(seed, std::uint64_t(copy), std::uint64_t(n), rng::kExchange);
    // Block K (past every pair's block) holds the random scheme's coin.
    const int parity = scheme == SwapScheme::deo ? int(n & 1) : (st.uniform(std::uint32_t(K_)) < 0.5 ? 0 : 1);
    std::int64_t* at = &chain_[std::size_t(copy) * K_];
    for (int k = parity; k + 1 < K_; k += 2) {
      const double log_alpha = (betas[k + 1] - betas[k]) * (energy[at[k + 1]] - energy[at[k]]);
      const double p = log_alpha >= 0 ? 1.0 : std::exp(log_alpha);  // NaN energies give p = NaN: never swap
      ++attempts_[k];
      prob_sum_[k] += std::isnan(p) ? 0.0 : p;
      if (log_alpha >= 0 || st.uniform(std::uint32_t(k)) < p) {
        std::swap(at[k], at[k + 1]);
        level_[at[k]] = k;
        level_[at[k + 1]] = k + 1;
        ++accepts_[k];
      }
    }
    for (int k = 0; k < K_; ++k) {
      const std::int64_t c = at[k];
      if (k == 0) {
        if (record && direction_[c] == -1) ++trips_[c];
        direction_[c] = 1;
      } else if (k == K_ - 1) {
        direction_[c] = -1;
      }
      if (record) {
        if (direction_[c] == 1) ++up_[k];
        else if (direction_[c] == -1) ++down_[k];
      }
    }
  }
}

std::int64_t ReplicaExchange::total_round_trips() const {
  std::int64_t t = 0;
  for (auto v : trips_) t += v;
  return t;
}

std::vector<double> ReplicaExchange::flow() const {
  std::vector<double> f(K_);
  for (int k = 0; k < K_; ++k) {
    const std::int64_t n = up_[k] + down_[k];
    f[k] = n > 0 ? double(up_[k]) / double(n) : NAN;
  }
  return f;
}

std::vector<std::int64_t> ReplicaExchange::save_state() const {
  std::vector<std::int64_t> s;
  s.push_back(K_);
  s.push_back(copies_);
  s.insert(s.end(), chain_.begin(), chain_.end());
  s.insert(s.end(), direction_.begin(), direction_.end());
  s.insert(s.end(), attempts_.begin(), attempts_.end());
  s.insert(s.end(), accepts_.begin(), accepts_.end());
  s.insert(s.end(), trips_.begin(), trips_.end());
  s.insert(s.end(), up_.begin(), up_.end());
  s.insert(s.end(), down_.begin(), down_.end());
  return s;
}

void ReplicaExchange::load_state(const std::vector<std::int64_t>& s, const std::vector<double>& prob_sum) {
  const std::size_t R = chain_.size(), P = std::size_t(K_ - 1);
  if (s.size() != 2 + 3 * R + 2 * P + 2 * std::size_t(K_) || s[0] != K_ || s[1] != copies_ || prob_sum.size() != P)
    throw Error("checkpoint: replica-exchange state does not match this ladder");
  auto it = s.begin() + 2;
  auto take = [&](auto& v) {
    for (auto& x : v) x = static_cast<std::remove_reference_t<decltype(x)>>(*it++);
  };
  take(chain_);
  take(direction_);
  take(attempts_);
  take(accepts_);
  take(trips_);
  take(up_);
  take(down_);
  prob_sum_ = prob_sum;
  for (int copy = 0; copy < copies_; ++copy)
    for (int k = 0; k < K_; ++k) {
      const std::int64_t c = chain_[std::size_t(copy) * K_ + k];
      if (c < 0 || c >= std::int64_t(R)) throw Error("checkpoint: replica-exchange state is corrupt");
      level_[c] = k;
    }
}

}  // namespace zeta::tempering
