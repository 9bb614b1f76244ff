//! `zeta sample`: a batch of chains at one β, with batch-means statistics and HDF5 output.
//! Continuous models move with [sampler]; lattice models (Ising) by Metropolis or
//! heat-bath sweeps, with /samples/x the spins; RBMs (model.params) by block Gibbs,
//! with /samples/x the visible units and /samples/energy the free energy F_β(v).
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>

#include "apps/apps.hpp"
#include "zeta/io/output.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_sample_keys(Config& cfg) {
  declare_run_keys(cfg);
  declare_model_keys(cfg);
  declare_sampler_keys(cfg);
  cfg.declare("output.file", "zeta_sample.h5", "HDF5 output file (empty = none)");
  cfg.declare("output.landscape", "false", "2-D models: also write /landscape/energy on a grid with an .xmf sidecar");
  cfg.declare("output.landscape_range", "-3,3,-3,3", "landscape grid range xmin,xmax,ymin,ymax");
  cfg.declare("output.landscape_n", "128", "landscape grid points per axis");
}

namespace {

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
void write_system_landscape(io::OutputFile&, Sys&, const io::LandscapeSpec&, const Comm&) {}
template <class Model>
void write_system_landscape(io::OutputFile& out, ContinuousSystem<Space, Model>& sys, const io::LandscapeSpec& land,
                            const Comm& comm) {
  io::write_landscape(out, sys.model(), land, comm);
}

template <class Sys>
SampleResult sample_with(Sys& sys, const Config& cfg, const RunSpec& run, const SamplerSpec& smp,
                         const io::LandscapeSpec& land, const ChainRange& range, const Comm& comm) {
  Kokkos::Timer timer;
  const int dim = sys.state_size();

  const std::int64_t m = run.steps - run.burn_in;
  const int nb = static_cast<int>(std::min<std::int64_t>(20, m));
  Kokkos::View<double**, Kokkos::LayoutRight, Space::memory_space> batch_sum("zeta::sample::batch_energy",
                                                                             range.count, nb);
  const std::int64_t saves = run.save_every > 0 ? m / run.save_every : 0;

  std::unique_ptr<io::OutputFile> out;
  hid_t dx = -1, de = -1;
  const std::string file = cfg.get_string("output.file");
  if (!file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, file);
    io::write_root_attributes(*out, "sample", cfg, comm);
    if (saves > 0) {
      dx = out->create("/samples/x", {hsize_t(saves), hsize_t(smp.chains), hsize_t(dim)});
      de = out->create("/samples/energy", {hsize_t(saves), hsize_t(smp.chains)});
    }
    if (land.enabled) write_system_landscape(*out, sys, land, comm);
  }
  std::vector<Real> xbuf, ebuf;

  Progress progress("zeta sample", run.steps, double(smp.chains), "chain-steps", comm.root(), run.progress_every);
  StopControl stop(comm, run.max_hours);
  SampleResult res;
  std::int64_t saved = 0, step = 0;
  for (; step < run.steps; ++step) {
    sys.step(step + 1);  // counter step 0 is the initial state
    if (step >= run.burn_in) {
      const int b = static_cast<int>((step - run.burn_in) * nb / m);
      const auto E = sys.energies();
      Kokkos::parallel_for(
          "zeta::sample::accumulate", RangePolicy<Space>(0, sys.local()),
          KOKKOS_LAMBDA(const int c) { batch_sum(c, b) += double(E(c)); });
      if (saves > 0 && (step - run.burn_in + 1) % run.save_every == 0 && saved < saves) {
        if (out) {
          const auto hx = sys.host_states();
          const auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sys.energies());
          const hsize_t s = hsize_t(saved), off = hsize_t(range.offset), n = hsize_t(range.count);
          out->write(dx, {s, off, 0}, {1, n, hsize_t(dim)}, real_rows(hx, xbuf));
          out->write(de, {s, off}, {1, n}, real_rows(hE, ebuf));
        }
        ++saved;
      }
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
  res.chains = smp.chains;

  // Statistics: each chain's batch sums gathered in global chain order and
  // summed in that order, so the figures do not depend on the rank count.
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), batch_sum);
  std::vector<double> local(hb.data(), hb.data() + hb.size());
  const auto all = comm.gather_chain_rows(local, nb, range);
  const std::int64_t done_post = std::max<std::int64_t>(0, res.steps_done - run.burn_in);
  double stats[2] = {NAN, NAN};
  if (comm.root() && done_post > 0) {
    std::vector<double> sums(nb, 0.0);
    std::vector<std::int64_t> len(nb, 0);
    for (std::int64_t t = 0; t < done_post; ++t) ++len[t * nb / m];
    for (std::int64_t c = 0; c < smp.chains; ++c)
      for (int b = 0; b < nb; ++b) sums[b] += all[c * nb + b];
    double total = 0;
    std::vector<double> means;
    for (int b = 0; b < nb; ++b) {
      total += sums[b];
      if (len[b] > 0) means.push_back(sums[b] / (double(smp.chains) * double(len[b])));
    }
    stats[0] = total / (double(smp.chains) * double(done_post));
    if (means.size() >= 2) {
      double ss = 0;
      for (double v : means) ss += (v - stats[0]) * (v - stats[0]);
      stats[1] = std::sqrt(ss / (double(means.size()) * double(means.size() - 1)));
    }
  }
  MPI_Bcast(stats, 2, MPI_DOUBLE, 0, comm.raw());
  res.mean_energy = stats[0];
  res.mean_energy_stderr = stats[1];
  std::int64_t acc = 0;
  const auto accepted = sys.accepted();
  Kokkos::parallel_reduce(
      "zeta::sample::acceptance", RangePolicy<Space>(0, sys.local()),
      KOKKOS_LAMBDA(const int c, std::int64_t& a) { a += accepted(c); }, acc);
  // Per move: a lattice sweep makes one move per site.
  const double per_chain_steps = double(std::max<std::int64_t>(1, res.steps_done)) * sys.moves_per_step();
  res.acceptance = double(comm.sum(acc)) / (double(smp.chains) * per_chain_steps);
  // The least-accepting chain shows chains stuck on a steep wall, which the mean hides.
  std::int64_t least = std::numeric_limits<std::int64_t>::max();
  Kokkos::parallel_reduce(
      "zeta::sample::least_acceptance", RangePolicy<Space>(0, sys.local()),
      KOKKOS_LAMBDA(const int c, std::int64_t& m) { m = accepted(c) < m ? accepted(c) : m; },
      Kokkos::Min<std::int64_t>(least));
  res.acceptance_min = -comm.max(-double(least)) / per_chain_steps;
  if (res.acceptance_min == 0 && comm.root())
    std::fprintf(stderr,
                 "zeta: warning: some chains accepted no proposal in %lld steps (stuck); the statistics are not "
                 "trustworthy: lower sampler.step_size or sampler.init_scale\n",
                 static_cast<long long>(res.steps_done));

  if (out) {
    // Rows past samples_saved (an interrupted run) stay zero.
    out->attribute("samples_saved", saved);
    out->finish();
  }
  res.wall_s = timer.seconds();
  res.chain_steps_per_s = double(smp.chains) * double(res.steps_done) / res.wall_s;
  auto& j = res.json;
  io::add_json_header(j, "sample", res.status, res.wall_s, comm, sys.name(), smp.name);
  j.add("chains", smp.chains);
  j.add("steps", res.steps_done);
  j.add("mean_energy", res.mean_energy);
  j.add("mean_energy_stderr", res.mean_energy_stderr);
  j.add("acceptance", res.acceptance);
  j.add("acceptance_min", res.acceptance_min);
  j.add("chain_steps_per_s", res.chain_steps_per_s);
  if (!file.empty()) j.add("output", file);
  return res;
}

}  // namespace

SampleResult sample(const Config& cfg, const Comm& comm) {
  // Everything is validated before any file is created.
  const RunSpec run = read_run_spec(cfg);
  const ModelSpec ms = read_model_spec(cfg);
  const SamplerSpec smp = sampler_for_model(read_sampler_spec(cfg), ms.type, ms.lattice());
  const ChainRange range = comm.chains(smp.chains);
  if (ms.type == "rbm" && cfg.get_bool("output.landscape"))
    config_error("output.landscape", "does not apply to model.type = rbm");
  const io::LandscapeSpec land = ms.type == "rbm" ? io::LandscapeSpec{} : io::read_landscape_spec(cfg, ms.dim);
  // RBM chains report the free energy F_β(v) of the saved x = v.
  const SystemOptions opt{smp.beta, RbmEnergy::free};
  return with_system<Space>(cfg, ms, smp, range, run.seed, comm, opt,
                            [&](auto& sys) { return sample_with(sys, cfg, run, smp, land, range, comm); });
}

}  // namespace zeta::apps
