//! Plain sampling, the loop `zeta sample` runs: every chain of a chain system
//! (samplers/system.hpp) at one β for run.steps steps, per-chain batch sums of the
//! energy after the burn-in (batch means pooled over chains, estimators/timeseries),
//! saved states and energies every run.save_every steps, acceptance, stop control
//! and progress:
//!
//!   SampleResult r = run_sampling(system, setup, range, comm);
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

#include "zeta/core/json.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/core/run.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta {

struct SampleResult {
  std::string status = "ok";  //!< ok | interrupted
  std::int64_t steps_done = 0;
  std::int64_t chains = 0;
  double mean_energy = 0, mean_energy_stderr = 0, acceptance = 0;
  double acceptance_min = 0;  //!< the least-accepting chain's acceptance
  double wall_s = 0, chain_steps_per_s = 0;
  JsonSummary json;  //!< filled by the command
};

//! What a sampling run is asked for, validated by the command.
struct SamplingSetup {
  RunSpec run;
  std::int64_t chains = 0;   //!< over all ranks
  io::LandscapeSpec land;    //!< 2-D continuous models: /landscape
  std::string output_file;   //!< empty: no output
  std::string config;        //!< the resolved INI (root attribute)
};

namespace sampling_detail {

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
void system_landscape(io::OutputFile&, Sys&, const io::LandscapeSpec&, const Comm&) {}
template <class Space, class Model>
void system_landscape(io::OutputFile& out, ContinuousSystem<Space, Model>& sys, const io::LandscapeSpec& land,
                      const Comm& comm) {
  io::write_landscape(out, sys.model(), land, comm);
}

template <class Space>
using BatchSums = Kokkos::View<double**, Kokkos::LayoutRight, typename Space::memory_space>;

//! sums(c, b) += E(c) for the local chains.
template <class Space, class Energies>
void add_to_batch(const BatchSums<Space>& sums, const Energies& E, int b) {
  Kokkos::parallel_for(
      "zeta::sample::accumulate", RangePolicy<Space>(0, E.extent(0)),
      KOKKOS_LAMBDA(const int c) { sums(c, b) += double(E(c)); });
}

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
  SampleOutput(Sys& sys, const SamplingSetup& s, std::int64_t saves, const Comm& comm) {
    if (s.output_file.empty()) return;
    out_ = std::make_unique<io::OutputFile>(comm, s.output_file);
    io::write_root_attributes(*out_, "sample", s.config, comm);
    if (saves > 0) {
      dx_ = out_->create("/samples/x", {hsize_t(saves), hsize_t(s.chains), hsize_t(sys.state_size())});
      de_ = out_->create("/samples/energy", {hsize_t(saves), hsize_t(s.chains)});
    }
    if (s.land.enabled) system_landscape(*out_, sys, s.land, comm);
  }
  //! Row `saved` of both datasets: this rank's chains.
  template <class Sys>
  void save(Sys& sys, std::int64_t saved, const ChainRange& range) {
    if (!out_) return;
    const auto hx = sys.host_states();
    const auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sys.energies());
    const hsize_t s = hsize_t(saved), off = hsize_t(range.offset), n = hsize_t(range.count);
    out_->write(dx_, {s, off, 0}, {1, n, hsize_t(sys.state_size())}, real_rows(hx, xbuf_));
    out_->write(de_, {s, off}, {1, n}, real_rows(hE, ebuf_));
  }
  //! Rows past samples_saved (an interrupted run) stay zero.
  void finish(std::int64_t saved) {
    if (!out_) return;
    out_->attribute("samples_saved", saved);
    out_->finish();
  }

 private:
  std::unique_ptr<io::OutputFile> out_;
  hid_t dx_ = -1, de_ = -1;
  std::vector<Real> xbuf_, ebuf_;
};

}  // namespace sampling_detail

//! Runs the chains of `sys` (β already set) for setup.run.steps steps.
template <class Sys>
SampleResult run_sampling(Sys& sys, const SamplingSetup& s, const ChainRange& range, const Comm& comm) {
  using Space = typename Sys::space;
  Kokkos::Timer timer;
  const RunSpec& run = s.run;
  const std::int64_t m = run.steps - run.burn_in;
  const int nb = static_cast<int>(std::min<std::int64_t>(20, m));
  sampling_detail::BatchSums<Space> batch_sum("zeta::sample::batch_energy", range.count, nb);
  const std::int64_t saves = run.save_every > 0 ? m / run.save_every : 0;
  sampling_detail::SampleOutput out(sys, s, saves, comm);

  Progress progress("zeta sample", run.steps, double(s.chains), "chain-steps", comm.root(), run.progress_every);
  StopControl stop(comm, run.max_hours);
  SampleResult res;
  std::int64_t saved = 0, step = 0;
  for (; step < run.steps; ++step) {
    sys.step(step + 1);  // counter step 0 is the initial state
    if (step >= run.burn_in) {
      sampling_detail::add_to_batch<Space>(batch_sum, sys.energies(), static_cast<int>((step - run.burn_in) * nb / m));
      if (saves > 0 && (step - run.burn_in + 1) % run.save_every == 0 && saved < saves) out.save(sys, saved++, range);
    }
    progress.update(step + 1);
    if ((step + 1) % 16 == 0 && step + 1 < run.steps && stop.should_stop()) {
      res.status = "interrupted";
      ++step;
      break;
    }
  }
  Kokkos::fence();
  res.steps_done = step;
  res.chains = s.chains;

  // Each chain's batch sums gathered in global chain order, pooled on rank 0.
  const auto all = comm.gather_chain_rows(host_copy(batch_sum), nb, range);
  BatchMeans bm;
  if (comm.root()) bm = pooled_batch_means(all, s.chains, nb, m, std::max<std::int64_t>(0, res.steps_done - run.burn_in));
  comm.broadcast(bm.mean);
  comm.broadcast(bm.std_error);
  res.mean_energy = bm.mean;
  res.mean_energy_stderr = bm.std_error;
  // Per move: a lattice sweep makes one move per site.
  const double per_chain_steps = double(std::max<std::int64_t>(1, res.steps_done)) * sys.moves_per_step();
  res.acceptance = double(comm.sum(sum_counts<Space>(sys.accepted()))) / (double(s.chains) * per_chain_steps);
  // The least-accepting chain shows chains stuck on a steep wall, which the mean hides.
  res.acceptance_min = -comm.max(-double(sampling_detail::least_count<Space>(sys.accepted()))) / per_chain_steps;
  if (res.acceptance_min == 0 && comm.root())
    std::fprintf(stderr,
                 "zeta: warning: some chains accepted no proposal in %lld steps (stuck); the statistics are not "
                 "trustworthy: lower sampler.step_size or sampler.init_scale\n",
                 static_cast<long long>(res.steps_done));
  out.finish(saved);
  res.wall_s = timer.seconds();
  res.chain_steps_per_s = double(s.chains) * double(res.steps_done) / res.wall_s;
  return res;
}

}  // namespace zeta
