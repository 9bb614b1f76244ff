//! `zeta temper`: parallel tempering over MPI ranks. Each step every replica
//! makes one move at its own β (a sweep, or one sampler step); the energies are
//! all-gathered, and every `exchange_every` steps an exchange round permutes the
//! β labels, the same decision on every rank. States never leave their rank.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/apps.hpp"
#include "zeta/io/output.hpp"
#include "zeta/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/estimators/bar.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/row_gather.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_temper_app_keys(Config& cfg) {
  declare_run_keys(cfg);
  declare_model_keys(cfg);
  declare_sampler_keys(cfg);
  declare_temper_keys(cfg);
  cfg.declare("output.file", "zeta_temper.h5", "HDF5 output file (empty = none)");
  io::declare_checkpoint_keys(cfg);
}

namespace {

//! K time series (one per level) kept as block sums whose length doubles when
//! there are too many blocks: batch means and the autocorrelation time at any
//! run length, in O(K) memory, independent of how long the run was planned to
//! be. The columns share their blocking, so a step is one pass over K values.
struct BlockSeries {
  static constexpr std::size_t kMaxBlocks = 64;  //!< few blocks: the series stays in cache
  int cols = 0;
  std::int64_t block_len = 1, n = 0, partial_n = 0;
  std::vector<double> partial, sum, sum2, blocks;  //!< blocks: [block][column]

  explicit BlockSeries(int columns = 0) : cols(columns), partial(columns), sum(columns), sum2(columns) {}
  std::size_t nblocks() const { return cols > 0 ? blocks.size() / cols : 0; }

  void add(const double* v) {
    ++n;
    for (int j = 0; j < cols; ++j) {
      sum[j] += v[j];
      sum2[j] += v[j] * v[j];
      partial[j] += v[j];
    }
    if (++partial_n == block_len) {
      blocks.insert(blocks.end(), partial.begin(), partial.end());
      std::fill(partial.begin(), partial.end(), 0.0);
      partial_n = 0;
      if (nblocks() == 2 * kMaxBlocks) {
        for (std::size_t i = 0; i < kMaxBlocks; ++i)
          for (int j = 0; j < cols; ++j)
            blocks[i * cols + j] = blocks[2 * i * cols + j] + blocks[(2 * i + 1) * cols + j];
        blocks.resize(kMaxBlocks * cols);
        block_len *= 2;
      }
    }
  }
  double mean(int j) const { return n > 0 ? sum[j] / double(n) : NAN; }
  //! Standard error of column j from up to 20 batch means of contiguous blocks (the
  //! partial block joins the last), and the integrated autocorrelation time
  //! τ = g / 2 with g = (batch length) · var(batch means) / var.
  void batch_stats(int j, double& stderr_out, double& tau_out) const {
    stderr_out = tau_out = NAN;
    const std::size_t nbk = nblocks();
    const std::size_t G = std::min<std::size_t>(20, nbk);
    if (G < 2) return;
    std::vector<double> means(G);
    double lens = 0;
    for (std::size_t g = 0; g < G; ++g) {
      const std::size_t a = g * nbk / G, b = (g + 1) * nbk / G;
      double s = 0;
      for (std::size_t i = a; i < b; ++i) s += blocks[i * cols + j];
      double len = double(b - a) * double(block_len);
      if (g + 1 == G) s += partial[j], len += double(partial_n);
      means[g] = s / len;
      lens += len;
    }
    const double m = mean(j);
    double ss = 0;
    for (double v : means) ss += (v - m) * (v - m);
    const double var_means = ss / double(G - 1);
    stderr_out = std::sqrt(var_means / double(G));
    const double var = sum2[j] / double(n) - m * m;
    tau_out = var > 0 ? 0.5 * (lens / double(G)) * var_means / var : NAN;
  }
  void pack(std::vector<double>& out) const {
    out.insert(out.end(), {double(cols), double(block_len), double(n), double(partial_n), double(nblocks())});
    for (const auto* v : {&partial, &sum, &sum2, &blocks}) out.insert(out.end(), v->begin(), v->end());
  }
  std::size_t unpack(const std::vector<double>& in, std::size_t at) {
    if (at + 5 > in.size()) throw Error("checkpoint statistics are truncated", false);
    const std::size_t nb = std::size_t(in[at + 4]);
    if (int(in[at]) != cols || in[at + 1] < 1 || nb > 2 * kMaxBlocks ||
        at + 5 + (3 + nb) * std::size_t(cols) > in.size())
      throw Error("checkpoint statistics are corrupt", false);
    block_len = std::int64_t(in[at + 1]), n = std::int64_t(in[at + 2]), partial_n = std::int64_t(in[at + 3]);
    at += 5;
    for (auto* v : {&partial, &sum, &sum2}) {
      v->assign(in.begin() + at, in.begin() + at + cols);
      at += cols;
    }
    blocks.assign(in.begin() + at, in.begin() + at + nb * cols);
    return at + nb * cols;
  }
};

using io::CheckpointSpec;

//! Everything of a run that is the same on every rank (the replica states are not).
struct RunState {
  std::int64_t step = 0;             //!< steps done
  std::vector<double> betas;         //!< the current ladder
  std::vector<std::int64_t> window_attempts;  //!< adaptation window start
  std::vector<double> window_prob;
  BlockSeries energy, abs_m;  //!< per level, copy-averaged, after burn-in
  std::int64_t saved = 0;
  std::vector<double> rows_energy, rows_m, rows_x;  //!< saved rows (rank 0 only)
  std::vector<std::int64_t> rows_replica;
};

const std::vector<std::string> kSignatureKeys = {"model.", "sampler.", "temper.", "run.seed", "run.burn_in",
                                                 "run.save_every"};

template <class Sys>
void write_temper_checkpoint(const Comm& comm, const CheckpointSpec& ck, const Config& cfg, const RunState& st,
                             const ReplicaExchange& ex, const Sys& sys, const ChainRange& range) {
  std::vector<double> state, counts;
  sys.save(state, counts);
  const auto all_state = comm.gather_chain_rows(state, sys.saved_row(), range);
  const auto all_counts = comm.gather_chain_rows(counts, 1, range);
  io::write_checkpoint(comm, ck.file, [&](hid_t f) {
    io::write_checkpoint_header(f, "temper", cfg.resolved_ini(), kSignatureKeys);
    const hsize_t R = hsize_t(range.global), K = hsize_t(st.betas.size());
    const std::int64_t step = st.step, saved = st.saved;
    io::write_array(f, "/run/step", {1}, &step);
    io::write_array(f, "/run/saved", {1}, &saved);
    io::write_array(f, "/temper/betas", {K}, st.betas.data());
    const auto xs = ex.save_state();
    io::write_array(f, "/exchange/state", {xs.size()}, xs.data());
    const auto& ps = ex.accept_prob_sum();
    io::write_array(f, "/exchange/prob_sum", {ps.size()}, ps.data());
    io::write_array(f, "/exchange/window_attempts", {st.window_attempts.size()}, st.window_attempts.data());
    io::write_array(f, "/exchange/window_prob", {st.window_prob.size()}, st.window_prob.data());
    std::vector<double> series;
    st.energy.pack(series);
    st.abs_m.pack(series);
    io::write_array(f, "/stats/series", {series.size()}, series.data());
    io::write_array(f, "/stats/rows_energy", {st.rows_energy.size()}, st.rows_energy.data());
    io::write_array(f, "/stats/rows_m", {st.rows_m.size()}, st.rows_m.data());
    io::write_array(f, "/stats/rows_x", {st.rows_x.size()}, st.rows_x.data());
    io::write_array(f, "/stats/rows_replica", {st.rows_replica.size()}, st.rows_replica.data());
    io::write_array(f, "/replicas/state", {R, hsize_t(sys.saved_row())}, all_state.data());
    io::write_array(f, "/replicas/accepted", {R}, all_counts.data());
  });
}

template <class Sys>
void read_temper_checkpoint(const Comm& comm, const CheckpointSpec& ck, const Config& cfg, RunState& st,
                            ReplicaExchange& ex, Sys& sys, const ChainRange& range) {
  std::vector<double> state, counts, series, prob;
  std::vector<std::int64_t> xs, head(2);
  const hsize_t R = hsize_t(range.global), K = hsize_t(st.betas.size());
  io::read_checkpoint(comm, ck.file, [&](hid_t f) {
    io::check_checkpoint_header(f, ck.file, "temper", cfg.resolved_ini(), kSignatureKeys);
    head[0] = io::read_array<std::int64_t>(f, ck.file, "/run/step", {1})[0];
    head[1] = io::read_array<std::int64_t>(f, ck.file, "/run/saved", {1})[0];
    st.betas = io::read_array<double>(f, ck.file, "/temper/betas", {K});
    xs = io::read_array<std::int64_t>(f, ck.file, "/exchange/state", {});
    prob = io::read_array<double>(f, ck.file, "/exchange/prob_sum", {K - 1});
    st.window_attempts = io::read_array<std::int64_t>(f, ck.file, "/exchange/window_attempts", {K - 1});
    st.window_prob = io::read_array<double>(f, ck.file, "/exchange/window_prob", {K - 1});
    series = io::read_array<double>(f, ck.file, "/stats/series", {});
    st.rows_energy = io::read_array<double>(f, ck.file, "/stats/rows_energy", {});
    st.rows_m = io::read_array<double>(f, ck.file, "/stats/rows_m", {});
    st.rows_x = io::read_array<double>(f, ck.file, "/stats/rows_x", {});
    st.rows_replica = io::read_array<std::int64_t>(f, ck.file, "/stats/rows_replica", {});
    state = io::read_array<double>(f, ck.file, "/replicas/state", {R, hsize_t(sys.saved_row())});
    counts = io::read_array<double>(f, ck.file, "/replicas/accepted", {R});
    for (double b : st.betas)
      if (!std::isfinite(b)) throw Error("checkpoint '" + ck.file + "' has a non-finite beta (corrupt)", false);
    ReplicaExchange probe(ex.levels(), ex.copies());
    probe.load_state(xs, prob);
    BlockSeries e = st.energy, m = st.abs_m;
    const std::size_t at = m.unpack(series, e.unpack(series, 0));
    if (at != series.size()) throw Error("checkpoint statistics are corrupt", false);
  });
  comm.broadcast(head);
  comm.broadcast(st.betas);
  comm.broadcast(xs);
  comm.broadcast(prob);
  comm.broadcast(st.window_attempts);
  comm.broadcast(st.window_prob);
  comm.broadcast(series);
  comm.broadcast(state);
  comm.broadcast(counts);
  st.step = head[0];
  st.saved = head[1];
  ex.load_state(xs, prob);
  st.abs_m.unpack(series, st.energy.unpack(series, 0));
  sys.load(state.data() + std::size_t(range.offset) * sys.saved_row(), counts.data() + range.offset);
  if (!comm.root()) st.rows_energy.clear(), st.rows_m.clear(), st.rows_x.clear(), st.rows_replica.clear();
}

template <class Sys>
TemperResult temper_with(Sys& sys, const std::string& model_name, const Config& cfg, const RunSpec& run,
                         const TemperSpec& ts, const SamplerSpec& smp, const CheckpointSpec& ck,
                         const ChainRange& range, const Comm& comm) {
  Kokkos::Timer timer;
  constexpr bool lattice = Sys::lattice;
  const int K = ts.levels(), copies = ts.copies;
  const std::int64_t R = range.global;
  const int nobs = sys.observables();
  ReplicaExchange ex(K, copies);
  RunState st;
  st.betas = ts.betas;
  st.window_attempts.assign(K - 1, 0);
  st.window_prob.assign(K - 1, 0.0);
  st.energy = BlockSeries(K);
  if (lattice) st.abs_m = BlockSeries(K);
  if (ck.restart) {
    read_temper_checkpoint(comm, ck, cfg, st, ex, sys, range);
    if (st.step >= run.steps)
      config_error("run.steps", "is " + std::to_string(run.steps) + " but checkpoint '" + ck.file +
                                    "' is already at step " + std::to_string(st.step) + ": nothing to do");
  }
  std::vector<double> local_betas(range.count);
  auto set_local_betas = [&] {
    for (std::int64_t c = 0; c < range.count; ++c) local_betas[c] = st.betas[ex.level_of(range.offset + c)];
    sys.set_betas(local_betas);
  };
  set_local_betas();

  const std::int64_t saves = run.save_every > 0 ? (run.steps - run.burn_in) / run.save_every : 0;
  const int dim = sys.state_size();
  std::unique_ptr<io::OutputFile> out;
  const std::string file = cfg.get_string("output.file");
  if (!file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, file);
    io::write_root_attributes(*out, "temper", cfg, comm);
  }

  // Adaptation windows of doubling length that end at the burn-in.
  std::vector<std::int64_t> window_end;
  if (ts.adapt != LadderAdapt::none && run.burn_in > 0) {
    const double total = std::ldexp(1.0, ts.adapt_rounds) - 1;
    for (int j = 0; j < ts.adapt_rounds; ++j) {
      const auto e = static_cast<std::int64_t>(double(run.burn_in) * (std::ldexp(1.0, j + 1) - 1) / total);
      if (e > 0 && (window_end.empty() || e > window_end.back())) window_end.push_back(e);
    }
  }
  auto adapt_ladder = [&] {
    std::vector<double> a(K - 1);
    for (int k = 0; k + 1 < K; ++k) {
      const std::int64_t n = ex.attempts()[k] - st.window_attempts[k];
      if (n == 0) return;  // a pair was never tried in this window: keep the ladder
      a[k] = (ex.accept_prob_sum()[k] - st.window_prob[k]) / double(n);
    }
    if (ts.adapt == LadderAdapt::barrier) {
      std::vector<double> r(K - 1);
      for (int k = 0; k + 1 < K; ++k) r[k] = 1 - a[k];
      st.betas = barrier_schedule(st.betas, r);
    } else {
      st.betas = equalize_acceptance(st.betas, a, 2.0);
    }
  };

  Progress progress("zeta temper", run.steps - st.step, double(R) * sys.moves_per_step(),
                    lattice ? "spin-updates" : "replica-steps", comm.root(), run.progress_every);
  StopControl stop(comm, run.max_hours);
  TemperResult res;
  std::vector<double> local, energy(R), e_row(K), m_row(K);
  double exchange_s = 0, wait_s = 0;
  // rows: every replica's observables; tails: each rank's seconds inside the
  // previous step's all-gather, riding along. The rank that entered it last spent
  // the least: the communication itself; what a rank spent beyond that minimum, it
  // waited for the slower ranks' sweeps.
  RowGather gathered(comm, nobs, range);
  const std::vector<double>& all = gathered.rows();
  double in_gather = 0;  // this rank's seconds inside its last all-gather
  const std::int64_t first = st.step;
  std::int64_t t = st.step;
  for (; t < run.steps; ++t) {
    sys.step(t + 1);  // counter step 0 is the initial state
    Kokkos::fence();
    Kokkos::Timer xt;
    sys.observe(local);
    local.push_back(in_gather);
    Kokkos::Timer gt;
    gathered.gather(local);
    wait_s += in_gather - *std::min_element(gathered.tails().begin(), gathered.tails().end());  // the previous step's
    in_gather = gt.seconds();
    for (std::int64_t c = 0; c < R; ++c) energy[c] = all[c * nobs];
    const bool post = t >= run.burn_in;
    if (post) {
      for (int k = 0; k < K; ++k) {
        double e = 0, m = 0;
        for (int copy = 0; copy < copies; ++copy) {
          const std::int64_t c = ex.chain_at(copy, k);
          e += all[c * nobs];
          if (lattice) m += std::fabs(all[c * nobs + 1]) / double(dim);
        }
        e_row[k] = e / copies;
        m_row[k] = m / copies;
      }
      st.energy.add(e_row.data());
      if (lattice) st.abs_m.add(m_row.data());
      if (saves > 0 && (t - run.burn_in + 1) % run.save_every == 0 && st.saved < saves) {
        if constexpr (!Sys::lattice) {
          // The states at the target β: rank 0 collects (copy, x) rows from their owners.
          std::vector<double> xrows;
          const auto hx = sys.host_states();
          for (int copy = 0; copy < copies; ++copy) {
            const std::int64_t c = ex.chain_at(copy, K - 1) - range.offset;
            if (c >= 0 && c < range.count) {
              xrows.push_back(double(copy));
              for (int i = 0; i < dim; ++i) xrows.push_back(double(hx(c, i)));
            }
          }
          const auto got = comm.gather_to_root(xrows);
          if (comm.root()) {
            std::vector<double> ordered(std::size_t(copies) * dim);
            for (std::size_t at = 0; at < got.size(); at += dim + 1)
              std::copy(got.begin() + at + 1, got.begin() + at + 1 + dim,
                        ordered.begin() + std::size_t(got[at]) * dim);
            st.rows_x.insert(st.rows_x.end(), ordered.begin(), ordered.end());
          }
        }
        if (comm.root())
          for (int copy = 0; copy < copies; ++copy)
            for (int k = 0; k < K; ++k) {
              const std::int64_t c = ex.chain_at(copy, k);
              st.rows_energy.push_back(all[c * nobs]);
              if (lattice) st.rows_m.push_back(all[c * nobs + 1]);
              st.rows_replica.push_back(c);
            }
        ++st.saved;
      }
    }
    if ((t + 1) % ts.exchange_every == 0) {
      ex.round((t + 1) / ts.exchange_every, ts.scheme, st.betas, energy, run.seed, post);
      for (const auto e : window_end)
        if (t + 1 == e) {
          adapt_ladder();
          st.window_attempts = ex.attempts();
          st.window_prob = ex.accept_prob_sum();
        }
      set_local_betas();
    }
    if (t + 1 == run.burn_in) {
      ex.reset_statistics();
      st.window_attempts.assign(K - 1, 0);
      st.window_prob.assign(K - 1, 0.0);
    }
    exchange_s += xt.seconds();
    st.step = t + 1;
    progress.update(t + 1 - first);
    if (!ck.file.empty() && ck.every > 0 && (t + 1) % ck.every == 0 && t + 1 < run.steps)
      write_temper_checkpoint(comm, ck, cfg, st, ex, sys, range);
    if ((t + 1) % 16 == 0 && t + 1 < run.steps && stop.should_stop()) {
      res.status = "interrupted";
      ++t;
      break;
    }
  }
  wait_s += in_gather + comm.max(-in_gather);  // the last step's
  Kokkos::fence();
  res.steps_done = t;
  if (!ck.file.empty()) write_temper_checkpoint(comm, ck, cfg, st, ex, sys, range);

  // Results: every rank holds the same gathered data, so no reduction is needed.
  res.betas = st.betas;
  res.acceptance.resize(K - 1);
  res.barrier = 0;
  for (int k = 0; k + 1 < K; ++k) {
    const auto n = ex.attempts()[k];
    res.acceptance[k] = n > 0 ? double(ex.accepts()[k]) / double(n) : NAN;
    res.barrier += n > 0 ? 1 - ex.accept_prob_sum()[k] / double(n) : NAN;
  }
  res.flow = ex.flow();
  res.round_trips = ex.round_trips();
  res.total_round_trips = ex.total_round_trips();
  res.mean_energy.resize(K);
  res.mean_energy_stderr.resize(K);
  res.tau_int.resize(K);
  for (int k = 0; k < K; ++k) {
    res.mean_energy[k] = st.energy.mean(k);
    st.energy.batch_stats(k, res.mean_energy_stderr[k], res.tau_int[k]);
  }
  if (lattice) {
    res.mean_abs_magnetization.resize(K);
    res.mean_abs_magnetization_stderr.resize(K);
    for (int k = 0; k < K; ++k) {
      double tau;
      res.mean_abs_magnetization[k] = st.abs_m.mean(k);
      st.abs_m.batch_stats(k, res.mean_abs_magnetization_stderr[k], tau);
    }
  }
  const double moves = double(R) * double(std::max<std::int64_t>(1, res.steps_done)) * sys.moves_per_step();
  res.move_acceptance = double(comm.sum(sum_counts<Space>(sys.accepted()))) / moves;

  // ln Z per β by BAR between neighbours, on the saved (thinned) energies of
  // rank 0; effective sample sizes from τ_int of each level and the thinning.
  if (st.saved >= 2) {
    std::vector<double> lz(K, 0.0), lz_se(K, 0.0);
    if (comm.root()) {
      std::vector<std::vector<double>> e(K);
      std::vector<double> g(K, 1.0);
      for (int k = 0; k < K; ++k) {
        for (std::int64_t s = 0; s < st.saved; ++s)
          for (int copy = 0; copy < copies; ++copy) e[k].push_back(st.rows_energy[(s * copies + copy) * K + k]);
        if (std::isfinite(res.tau_int[k])) g[k] = 2 * res.tau_int[k] / double(run.save_every);
      }
      bar_along_ladder(e, st.betas, g, lz, lz_se);
      if (lattice && st.betas[0] == 0)
        for (auto& v : lz) v += double(dim) * std::log(2.0);
    }
    comm.broadcast(lz);
    comm.broadcast(lz_se);
    res.log_z_bar = lz;
    res.log_z_bar_stderr = lz_se;
    res.log_z_absolute = lattice && st.betas[0] == 0;
  }

  if (out) {
    const bool r0 = comm.root();
    auto n = [&](hsize_t v) { return r0 ? v : hsize_t(0); };
    const hsize_t hK = hsize_t(K), hC = hsize_t(copies), hS = hsize_t(saves);
    auto write_vec = [&](const std::string& name, const std::vector<double>& v) {
      const hid_t d = out->create_double(name, {hsize_t(v.size())});
      out->write_double(d, {0}, {n(v.size())}, v.data());
    };
    write_vec("/temper/betas", res.betas);
    write_vec("/temper/acceptance", res.acceptance);
    write_vec("/temper/flow", res.flow);
    write_vec("/temper/mean_energy", res.mean_energy);
    write_vec("/temper/mean_energy_stderr", res.mean_energy_stderr);
    write_vec("/temper/tau_int", res.tau_int);
    const hid_t rt = out->create_int64("/temper/round_trips", {hsize_t(R)});
    out->write_int64(rt, {0}, {n(hsize_t(R))}, res.round_trips.data());
    if (lattice) {
      write_vec("/temper/mean_abs_magnetization", res.mean_abs_magnetization);
      write_vec("/temper/mean_abs_magnetization_stderr", res.mean_abs_magnetization_stderr);
    }
    if (saves > 0) {
      // [saved, K] for one ladder, [saved, copies, K] for several; rows past samples_saved stay zero.
      const std::vector<hsize_t> dims = copies == 1 ? std::vector<hsize_t>{hS, hK} : std::vector<hsize_t>{hS, hC, hK};
      const hsize_t got = hsize_t(st.saved);
      const std::vector<hsize_t> start(dims.size(), 0);
      std::vector<hsize_t> count = dims;
      count[0] = got;
      if (!r0) count.assign(dims.size(), 0);
      const hid_t de = out->create_double("/temper/energy", dims);
      out->write_double(de, start, count, st.rows_energy.data());
      const hid_t dr = out->create_int64("/temper/replica", dims);
      out->write_int64(dr, start, count, st.rows_replica.data());
      if (lattice) {
        const hid_t dm = out->create_double("/temper/magnetization", dims);
        out->write_double(dm, start, count, st.rows_m.data());
      } else {
        std::vector<Real> xr(st.rows_x.begin(), st.rows_x.end());
        const hid_t dx = out->create("/temper/x", {hS, hC, hsize_t(dim)});
        out->write(dx, {0, 0, 0}, {r0 ? got : 0, r0 ? hC : 0, r0 ? hsize_t(dim) : 0}, xr.data());
      }
    }
    out->attribute("samples_saved", st.saved);
    out->finish();
  }

  res.wall_s = timer.seconds();
  res.sweeps_per_s = double(res.steps_done - first) / res.wall_s;
  res.exchange_fraction = exchange_s / res.wall_s;
  res.sync_wait_fraction = wait_s / res.wall_s;
  auto& j = res.json;
  io::add_json_header(j, "temper", res.status, res.wall_s, comm, model_name, smp.name);
  j.add("levels", K);
  j.add("copies", copies);
  j.add("scheme", ts.scheme == SwapScheme::deo ? "deo" : "random");
  j.add("steps", res.steps_done);
  j.add("betas", res.betas);
  j.add("acceptance", res.acceptance);
  j.add("round_trips", res.total_round_trips);
  j.add("round_trip_rate", double(res.total_round_trips) /
                               double(std::max<std::int64_t>(1, res.steps_done - run.burn_in)) / double(copies));
  j.add("barrier", res.barrier);
  j.add("flow", res.flow);
  j.add("mean_energy", res.mean_energy);
  j.add("mean_energy_stderr", res.mean_energy_stderr);
  j.add("tau_int", res.tau_int);
  if (lattice) {
    j.add("mean_abs_magnetization", res.mean_abs_magnetization);
    j.add("mean_abs_magnetization_stderr", res.mean_abs_magnetization_stderr);
  }
  if (!res.log_z_bar.empty()) {
    j.add("log_z_bar", res.log_z_bar);
    j.add("log_z_bar_stderr", res.log_z_bar_stderr);
    j.add("log_z_reference", res.log_z_absolute ? "absolute (beta_0 = 0)" : "relative to betas[0]");
  }
  j.add("move_acceptance", res.move_acceptance);
  j.add("sweeps_per_s", res.sweeps_per_s);
  j.add("exchange_fraction", res.exchange_fraction);
  j.add("sync_wait_fraction", res.sync_wait_fraction);
  if (!file.empty()) j.add("output", file);
  return res;
}

}  // namespace

TemperResult temper(const Config& cfg, const Comm& comm) {
  // Everything is validated before any file is created.
  const RunSpec run = read_run_spec(cfg);
  const ModelSpec ms = read_model_spec(cfg);
  const SamplerSpec smp = sampler_for_model(read_sampler_spec(cfg), ms.type, ms.lattice());
  const TemperSpec ts = read_temper_spec(cfg, ms.lattice());
  const CheckpointSpec ck = io::read_checkpoint_spec(cfg);
  if (!ck.file.empty() && ck.file == cfg.get_string("output.file"))
    config_error("checkpoint.file", "must differ from output.file");
  const ChainRange range = comm.chains(std::int64_t(ts.levels()) * ts.copies);
  // RBM replicas exchange on the joint energy E(v, h) that the Gibbs sweep leaves invariant.
  const SystemOptions opt{1.0, RbmEnergy::joint};
  return with_system<Space>(cfg, ms, smp, range, run.seed, comm, opt, [&](auto& sys) {
    return temper_with(sys, sys.name(), cfg, run, ts, smp, ck, range, comm);
  });
}

}  // namespace zeta::apps
