//! Plain sampling, the loop `zeta sample` runs: every chain of a chain system
//! (samplers/system.hpp) at one β for run.steps steps, per-chain block sums of the
//! energy after the burn-in (batch means and τ_int pooled over chains by
//! estimators/timeseries, the method of zeta temper),
//! saved states and energies every run.save_every steps, acceptance, stop control
//! and progress:
//!
//!   SampleResult r = run_sampling(system, setup, range, comm, summarize);
//!
//! `summarize` (the command's) fills r.json from the final figures; the output gets
//! them in /summary and is then published (io::publish).
#pragma once
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/core/run.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/divergence.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta::samplers {

struct SampleResult {
  std::string status = "ok";  //!< ok | interrupted
  std::int64_t steps_done = 0;
  std::int64_t chains = 0;
  double mean_energy = 0, mean_energy_stderr = 0, acceptance = 0;
  double tau_int = NAN;       //!< of the energy, in steps (estimators/timeseries.hpp)
  double acceptance_min = 0;  //!< the least-accepting chain's acceptance
  double wall_s = 0, chain_steps_per_s = 0;
  std::string output;  //!< the output file's name as published (empty: none)
  JsonSummary json;    //!< filled by the command's io::Summarize
};

//! What a sampling run is asked for, validated by the command.
struct SamplingSetup {
  RunSpec run;
  std::int64_t chains = 0;   //!< over all ranks
  io::LandscapeSpec land;    //!< 2-D continuous models: /landscape
  std::string output_file;   //!< empty: no output
  std::string config;        //!< the resolved INI (root attribute)
};

namespace detail {

//! The values of a host View as the Real rows the output datasets hold.
template <class HostView>
const Real* real_rows(const HostView& h, std::vector<Real>& buf) {
  if constexpr (std::is_same_v<typename HostView::non_const_value_type, Real>) {
    return h.data();
  } else {
    buf.assign(h.data(), h.data() + h.size());
    return buf.data();
  }
}

//! /landscape of a 2-D continuous model (read_landscape_spec refuses it for the others).
template <class Sys>
void system_landscape(io::OutputFile&, Sys&, const io::LandscapeSpec&, const parallel::Comm&) {}
template <class Space, class Model>
void system_landscape(io::OutputFile& out, ContinuousSystem<Space, Model>& sys, const io::LandscapeSpec& land,
                      const parallel::Comm& comm) {
  io::write_landscape(out, sys.model(), land, comm);
}

//! Every local chain's energy after the burn-in, as one row per chain (stored by
//! column, so that a step's writes are contiguous over the chains): block sums
//! by the Blocking of estimators/timeseries.hpp (the chains step together, so they
//! share it; the unfinished block is the slot after the complete ones), the sum of
//! squares, and the sums over nb fixed ranges of the planned steps, the grouping in
//! which ⟨E⟩ has always been added (kept so that its bits do not change). The rows
//! are pooled over chains in global chain order at the end, so the figures do not
//! depend on how the chains are spread over ranks; no communication per step.
template <class Space>
class EnergySeries {
 public:
  static constexpr int kSlots = 2 * int(estimators::Blocking::kMaxBlocks);
  static constexpr int kSum2 = kSlots;  //!< the column of the sum of squares

  //! `planned`: the steps after the burn-in that the run is planned to make.
  EnergySeries(std::int64_t local, std::int64_t planned)
      : m_(planned),
        nb_(int(std::min<std::int64_t>(20, planned))),
        rows_("zeta::sample::energy_series", local, kSlots + 1 + std::max(nb_, 0)) {}

  //! Adds step t (counted from the end of the burn-in) of every local chain.
  template <class Energies>
  void add(const Energies& E, std::int64_t t) {
    // Three distinct columns, contiguous over the chains.
    using Column = Kokkos::View<double*, Kokkos::LayoutLeft, typename Space::memory_space,
                                Kokkos::MemoryTraits<Kokkos::Restrict>>;
    const Column block = Kokkos::subview(rows_, Kokkos::ALL, int(blocking_.nblocks));
    const Column squares = Kokkos::subview(rows_, Kokkos::ALL, int(kSum2));
    const Column range = Kokkos::subview(rows_, Kokkos::ALL, kSlots + 1 + int(t * nb_ / m_));
    Kokkos::parallel_for(
        "zeta::sample::accumulate", RangePolicy<Space>(0, E.extent(0)), KOKKOS_LAMBDA(const int c) {
          const double e = double(E(c));
          block(c) += e;
          squares(c) += e * e;
          range(c) += e;
        });
    if (blocking_.add() == estimators::Blocking::kMerge) merge();
  }

  //! Neighbouring blocks merged pairwise, column by column (in increasing order, so
  //! no column is written before it is read; a handful of times in a run).
  void merge() {
    const int half = kSlots / 2;
    for (int i = 0; i < half; ++i) {
      const auto to = Kokkos::subview(rows_, Kokkos::ALL, i);
      const auto a = Kokkos::subview(rows_, Kokkos::ALL, 2 * i), b = Kokkos::subview(rows_, Kokkos::ALL, 2 * i + 1);
      Kokkos::parallel_for(
          "zeta::sample::merge_blocks", RangePolicy<Space>(0, rows_.extent(0)),
          KOKKOS_LAMBDA(const int c) { to(c) = a(c) + b(c); });
    }
    Kokkos::deep_copy(Kokkos::subview(rows_, Kokkos::ALL, Kokkos::make_pair(half, int(kSlots))), 0.0);
  }

  //! ⟨E⟩ over the `done` steps after the burn-in that were made, with its standard
  //! error and τ_int by batch_means (NAN where they are undefined). Collective.
  void pool(std::int64_t chains, std::int64_t done, const parallel::ChainRange& range, const parallel::Comm& comm,
            double& mean, estimators::BatchStats& stats) const {
    const std::int64_t local = rows_.extent(0), row_len = rows_.extent(1);
    const auto cols = host_copy(rows_);  // column-major: a step's writes are contiguous over chains
    std::vector<double> mine(cols.size());
    for (std::int64_t c = 0; c < local; ++c)
      for (std::int64_t j = 0; j < row_len; ++j) mine[c * row_len + j] = cols[j * local + c];
    const auto all = comm.gather_chain_rows(mine, row_len, range);
    mean = NAN;
    stats = estimators::BatchStats{};
    if (comm.root() && done > 0) {
      std::vector<double> pooled(std::size_t(row_len), 0.0);
      for (std::int64_t c = 0; c < chains; ++c)
        for (std::int64_t j = 0; j < row_len; ++j) pooled[j] += all[c * row_len + j];
      double total = 0;
      for (int b = 0; b < nb_; ++b) total += pooled[kSlots + 1 + b];
      const double n = double(chains) * double(done);
      mean = total / n;
      stats =
          estimators::batch_means(pooled.data(), blocking_.nblocks, 1, blocking_.block_len, pooled[blocking_.nblocks],
                                  blocking_.partial_n, double(chains), mean, pooled[kSum2] / n - mean * mean);
    }
    comm.broadcast(mean);
    comm.broadcast(stats.std_error);
    comm.broadcast(stats.tau_int);
  }

 private:
  std::int64_t m_;
  int nb_;
  estimators::Blocking blocking_;
  Kokkos::View<double**, Kokkos::LayoutLeft, typename Space::memory_space> rows_;
};

//! The fewest accepted moves of a local chain (the int64 maximum with none).
template <class Space>
std::int64_t least_count(const Counts<Space>& accepted) {
  std::int64_t least = std::numeric_limits<std::int64_t>::max();
  Kokkos::parallel_reduce(
      "zeta::sample::least_acceptance", RangePolicy<Space>(0, accepted.extent(0)),
      KOKKOS_LAMBDA(const int c, std::int64_t& m) { m = accepted(c) < m ? accepted(c) : m; },
      Kokkos::Min<std::int64_t>(least));
  return least;
}

//! The output file with its root attributes, /samples/{x,energy} and the landscape.
class SampleOutput {
 public:
  template <class Sys>
  SampleOutput(Sys& sys, const SamplingSetup& s, std::int64_t saves, const parallel::Comm& comm) {
    if (s.output_file.empty()) return;
    check_size(saves, s.chains, sys.state_size());
    out_ = std::make_unique<io::OutputFile>(comm, s.output_file);
    io::write_root_attributes(*out_, "sample", s.config, comm);
    if (saves > 0) {  // grown as rows are saved: an interrupted run's file holds what it sampled
      dx_ = out_->create_rows("/samples/x", {hsize_t(s.chains), hsize_t(sys.state_size())}, hsize_t(saves));
      de_ = out_->create_rows("/samples/energy", {hsize_t(s.chains)}, hsize_t(saves));
      const SavedRowWords words = saved_row_words(sys);
      const std::string every = " every run.save_every steps after the burn-in";
      out_->describe("/samples/x", "1", words.state + " of each chain," + every, {"sample", "chain", words.axis});
      out_->describe("/samples/energy", "kT", words.energy + " of each chain's saved state," + every,
                     {"sample", "chain"});
    }
    if (s.land.enabled) system_landscape(*out_, sys, s.land, comm);
  }
  //! Row `saved` of both datasets: this rank's chains.
  template <class Sys>
  void save(Sys& sys, std::int64_t saved, const parallel::ChainRange& range) {
    if (!out_) return;
    const auto hx = sys.host_states();
    const auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sys.energies());
    const hsize_t s = hsize_t(saved), off = hsize_t(range.offset), n = hsize_t(range.count);
    out_->write_row(dx_, s, {off, 0}, {n, hsize_t(sys.state_size())}, real_rows(hx, xbuf_));
    out_->write_row(de_, s, {off}, {n}, real_rows(hE, ebuf_));
  }
  //! The datasets end at the samples_saved rows written, /summary gets `json`'s
  //! figures, and the file is published (io::publish); returns the published name.
  std::string finish(std::int64_t saved, JsonSummary& json, const parallel::Comm& comm) {
    if (!out_) return {};
    if (dx_ >= 0) {
      out_->end_rows(dx_, hsize_t(saved));
      out_->end_rows(de_, hsize_t(saved));
    }
    out_->attribute("samples_saved", saved);
    return io::publish(*out_, json, comm);
  }

  //! Refuses, before step 1, a run whose saved rows could not fit in any file (their
  //! size overflows, or passes 1 EiB): run.steps or run.save_every is the key to change.
  static void check_size(std::int64_t saves, std::int64_t chains, std::int64_t state_size) {
    const long double bytes = (long double)saves * (long double)chains * (long double)(state_size + 1) * sizeof(Real);
    if (bytes > std::ldexp(1.0L, 60)) {
      char size[32];
      std::snprintf(size, sizeof size, "%.3g", double(bytes));
      config_error("run.steps", "would save " + std::to_string(saves) + " rows of " + std::to_string(chains) +
                                    " chains to output.file, " + size +
                                    " bytes: more than any file system holds; lower run.steps or raise run.save_every");
    }
  }

 private:
  std::unique_ptr<io::OutputFile> out_;
  hid_t dx_ = -1, de_ = -1;
  std::vector<Real> xbuf_, ebuf_;
};

}  // namespace detail

//! Runs the chains of `sys` (β already set) for setup.run.steps steps; `summarize`
//! fills the result's JSON line before the output is published.
template <class Sys>
SampleResult run_sampling(Sys& sys, const SamplingSetup& s, const parallel::ChainRange& range,
                          const parallel::Comm& comm, const io::Summarize<SampleResult>& summarize = {}) {
  using Space = typename Sys::space;
  Kokkos::Timer timer;
  const RunSpec& run = s.run;
  const std::int64_t m = run.steps - run.burn_in;
  detail::EnergySeries<Space> series(range.count, m);
  const std::int64_t saves = run.save_every > 0 ? m / run.save_every : 0;
  detail::SampleOutput out(sys, s, saves, comm);

  Progress progress("zeta sample", run.steps, double(s.chains), "chain-steps", comm.root(), run.progress_every);
  parallel::StopControl stop(comm, run.max_hours);
  DivergenceCheck check_diverged(comm, 0);
  SampleResult res;
  std::int64_t saved = 0, step = 0;
  for (; step < run.steps; ++step) {
    sys.step(step + 1);  // counter step 0 is the initial state
    if (step >= run.burn_in) {
      series.add(sys.energies(), step - run.burn_in);
      if (saves > 0 && (step - run.burn_in + 1) % run.save_every == 0 && saved < saves) out.save(sys, saved++, range);
    }
    progress.update(step + 1);
    if ((step + 1) % 16 == 0 && step + 1 < run.steps) {
      check_diverged(sys, step + 1);
      if (stop.should_stop()) {
        res.status = "interrupted";
        ++step;
        break;
      }
    }
  }
  Kokkos::fence();
  check_diverged(sys, step);  // before any statistics or output
  res.steps_done = step;
  res.chains = s.chains;

  estimators::BatchStats stats;
  series.pool(s.chains, std::max<std::int64_t>(0, res.steps_done - run.burn_in), range, comm, res.mean_energy,
              stats);
  // Energies that overflowed on the way and came back would still leave their sums infinite.
  if (res.steps_done > run.burn_in && !std::isfinite(res.mean_energy)) diverged_error(0, res.steps_done);
  res.mean_energy_stderr = stats.std_error;
  res.tau_int = stats.tau_int;
  // Per move: a lattice sweep makes one move per site.
  const double per_chain_steps = double(std::max<std::int64_t>(1, res.steps_done)) * sys.moves_per_step();
  res.acceptance = double(comm.sum(sum_counts<Space>(sys.accepted()))) / (double(s.chains) * per_chain_steps);
  // The least-accepting chain shows chains stuck on a steep wall, which the mean hides.
  res.acceptance_min = -comm.max(-double(detail::least_count<Space>(sys.accepted()))) / per_chain_steps;
  if (res.acceptance_min == 0 && comm.root())
    std::fprintf(stderr,
                 "zeta: warning: some chains accepted no proposal in %lld steps (stuck); the statistics are not "
                 "trustworthy: lower sampler.step_size or sampler.init_scale\n",
                 static_cast<long long>(res.steps_done));
  res.wall_s = timer.seconds();
  res.chain_steps_per_s = double(s.chains) * double(res.steps_done) / res.wall_s;
  if (summarize) summarize(res);
  res.output = out.finish(saved, res.json, comm);
  return res;
}

}  // namespace zeta::samplers
