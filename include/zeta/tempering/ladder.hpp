//! Temperature ladders and replica exchange. Host-only bookkeeping that every
//! rank runs identically on the gathered energies: the β labels move between
//! replicas, the states never move between ranks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"

namespace zeta::tempering {

enum class SwapScheme { deo, random };
enum class LadderAdapt { none, acceptance, barrier };

struct TemperSpec {
  std::vector<double> betas;  //!< increasing; betas.back() is the target
  int copies = 1;             //!< independent ladders in one job
  std::int64_t exchange_every = 1;
  SwapScheme scheme = SwapScheme::deo;
  LadderAdapt adapt = LadderAdapt::none;
  int adapt_rounds = 6;
  int levels() const { return static_cast<int>(betas.size()); }
};

void declare_temper_keys(Config& cfg);
//! Reads [temper]; `lattice` models accept β = 0 (continuous models need β > 0).
TemperSpec read_temper_spec(const Config& cfg, bool lattice);

//! `count` values from beta_min to beta_max, geometric or linear.
std::vector<double> make_ladder(double beta_min, double beta_max, int count, const std::string& spacing);

//! Round-trip-optimal schedule of non-reversible PT (Syed et al. 2021): with
//! Λ(β_k) = Σ_{j<k} r_j from the pair rejection rates r_j, the new β_k solve
//! Λ(β_k) = k Λ(β_max) / (K − 1) on the piecewise-linear Λ. Ends stay fixed.
std::vector<double> barrier_schedule(const std::vector<double>& betas, const std::vector<double>& rejection);

//! Equal-acceptance update (stochastic approximation in the spirit of Vousden,
//! Farr & Mandel 2016): each gap's log is moved by gain · (a_k − mean a), then
//! the gaps are rescaled so the ends stay fixed.
std::vector<double> equalize_acceptance(const std::vector<double>& betas, const std::vector<double>& acceptance,
                                        double gain);

class ReplicaExchange;

//! The ladder's adaptation schedule: the steps (1, 2, …) at which `rounds` windows of
//! doubling length over the first `steps` steps end (`zeta temper`: temper.adapt_rounds
//! over run.burn_in; pt_pcd: train.temper_adapt_rounds over train.temper_adapt_steps).
//! Windows that would be empty are dropped.
std::vector<std::int64_t> adaptation_window_ends(int rounds, std::int64_t steps);

//! The ladder's update at the end of an adaptation window: `adapt`'s rule (barrier_schedule
//! on the rejection rates, or equalize_acceptance with gain 2) on each pair's mean
//! Rao-Blackwellised acceptance since the window began (ex's counts less
//! `window_attempts` / `window_prob`, their values at the window's start). False, and
//! `betas` kept, when a pair was not tried in the window. Ends stay fixed.
bool adapt_betas(LadderAdapt adapt, const ReplicaExchange& ex, const std::vector<std::int64_t>& window_attempts,
                 const std::vector<double>& window_prob, std::vector<double>& betas);

//! The β labels of `copies` ladders of K levels over R = copies·K replicas
//! (global chain id copy·K + j starts at level j), exchange rounds and their
//! diagnostics. Every rank holds the same object and makes the same decisions.
class ReplicaExchange {
 public:
  ReplicaExchange(int levels, int copies);

  int levels() const { return K_; }
  int copies() const { return copies_; }
  std::int64_t replicas() const { return std::int64_t(K_) * copies_; }
  int level_of(std::int64_t chain) const { return level_[chain]; }
  std::int64_t chain_at(int copy, int k) const { return chain_[std::size_t(copy) * K_ + k]; }

  //! Exchange round n (1, 2, …): DEO proposes the pairs (k, k + 1) with k ≡ n
  //! (mod 2); the random scheme picks even or odd with a fair coin. A pair
  //! swaps with probability min(1, exp((β_{k+1} − β_k)(E_{k+1} − E_k))), the
  //! uniforms from Stream(seed, copy, n, kExchange). `energy` is indexed by
  //! global chain. With `record`, round trips and flow are counted.
  void round(std::int64_t n, SwapScheme scheme, const std::vector<double>& betas, const std::vector<double>& energy,
             std::uint32_t seed, bool record);

  //! Per pair k (K − 1 entries), summed over copies.
  const std::vector<std::int64_t>& attempts() const { return attempts_; }
  const std::vector<std::int64_t>& accepts() const { return accepts_; }
  //! Σ min(1, α) per pair: the Rao-Blackwellised acceptance the ladder adapts on.
  const std::vector<double>& accept_prob_sum() const { return prob_sum_; }
  //! Round trips (level 0 → K − 1 → 0) per replica, counted while recording.
  const std::vector<std::int64_t>& round_trips() const { return trips_; }
  std::int64_t total_round_trips() const;
  //! f(β_k): the fraction of labelled visits at level k whose replica last came from level 0.
  std::vector<double> flow() const;
  //! Forgets swap counts, round trips and flow (keeps the labels and the directions).
  void reset_statistics();

  //! Everything a checkpoint needs, flattened to int64 and back (with accept_prob_sum()).
  std::vector<std::int64_t> save_state() const;
  void load_state(const std::vector<std::int64_t>& state, const std::vector<double>& prob_sum);

 private:
  int K_, copies_;
  std::vector<std::int64_t> chain_;  //!< [copy·K + k] → global chain at level k
  std::vector<int> level_;           //!< [chain] → level
  std::vector<int> direction_;       //!< [chain]: +1 last extreme was level 0, −1 level K − 1, 0 neither yet
  std::vector<std::int64_t> attempts_, accepts_, trips_, up_, down_;
  std::vector<double> prob_sum_;
};

}  // namespace zeta::tempering
