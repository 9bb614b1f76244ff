//! The parts of the tempering loop (tempering/tempering.hpp) that are not the
//! loop: its state, its checkpoint, the ladder's adaptation, the results and the
//! output file.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/run.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/tempering/ladder.hpp"

namespace zeta::samplers {
struct SavedRowWords;  // samplers/system.hpp
}  // namespace zeta::samplers

namespace zeta::tempering {

struct TemperResult;

namespace detail {

inline void finite_or_corrupt(const std::vector<double>& v, const std::string& file, const char* name) {
  for (double x : v)
    if (!std::isfinite(x)) io::corrupt(file, name, "holds a non-finite value");
}

//! Everything of a run that is the same on every rank (the replica states are not).
struct RunState {
  std::int64_t step = 0;             //!< steps done
  std::vector<double> betas;         //!< the current ladder
  std::vector<std::int64_t> window_attempts;  //!< adaptation window start
  std::vector<double> window_prob;
  estimators::BlockSeries energy, abs_m;  //!< per level, copy-averaged, after burn-in
  std::int64_t saved = 0;
  std::vector<double> rows_energy, rows_m, rows_x;  //!< saved rows (rank 0 only)
  std::vector<std::int64_t> rows_replica;
};

inline const std::vector<std::string> kSignatureKeys = {"model.", "sampler.", "temper.", "run.seed", "run.burn_in",
                                                 "run.save_every"};

template <class Sys>
void write_checkpoint(const parallel::Comm& comm, const io::CheckpointSpec& ck, const std::string& config,
                      const RunState& st, const ReplicaExchange& ex, const Sys& sys,
                      const parallel::ChainRange& range) {
  std::vector<double> state, counts;
  sys.save(state, counts);
  const auto all_state = comm.gather_chain_rows(state, sys.saved_row(), range);
  const auto all_counts = comm.gather_chain_rows(counts, 1, range);
  io::write_checkpoint(comm, ck.file, [&](hid_t f) {
    io::write_checkpoint_header(f, "temper", config, kSignatureKeys);
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

//! What a read temper checkpoint must satisfy beyond its checksums (a corrupt
//! or hand-edited one is refused naming the dataset): the step counters agree,
//! the ladder is the configured one's shape (ends kept, strictly increasing,
//! β ≥ 0), statistics and rows are finite and of the sizes the step implies.
template <class Sys>
void check_restored(const std::string& file, const RunSpec& run, const TemperSpec& ts, const RunState& st,
                    const std::vector<double>& state, const std::vector<double>& counts,
                    const std::vector<double>& series, const Sys& sys, std::int64_t R) {
  auto finite = [&](const std::vector<double>& v, const char* name) { finite_or_corrupt(v, file, name); };
  const std::int64_t step = st.step, K = std::int64_t(st.betas.size()), copies = R / K;
  if (step < 0) io::corrupt(file, "/run/step", "is negative");
  const std::int64_t due = run.save_every > 0 ? std::max<std::int64_t>(0, step - run.burn_in) / run.save_every : 0;
  if (st.saved < 0 || st.saved > due) io::corrupt(file, "/run/saved", "does not agree with /run/step");
  finite(st.betas, "/temper/betas");
  if (st.betas.front() != ts.betas.front() || st.betas.back() != ts.betas.back())
    io::corrupt(file, "/temper/betas", "does not keep the configured beta_min and beta_max");
  for (std::size_t k = 0; k < st.betas.size(); ++k)
    if (!(st.betas[k] >= 0) || (k > 0 && !(st.betas[k] > st.betas[k - 1])))
      io::corrupt(file, "/temper/betas", "is not a strictly increasing ladder of betas >= 0");
  finite(st.window_prob, "/exchange/window_prob");
  for (auto n : st.window_attempts)
    if (n < 0) io::corrupt(file, "/exchange/window_attempts", "holds a negative count");
  finite(series, "/stats/series");
  const std::size_t rows = std::size_t(st.saved * copies * K);
  finite(st.rows_energy, "/stats/rows_energy");
  finite(st.rows_m, "/stats/rows_m");
  finite(st.rows_x, "/stats/rows_x");
  if (st.rows_energy.size() != rows || st.rows_replica.size() != rows ||
      st.rows_m.size() != (Sys::lattice ? rows : 0) ||
      st.rows_x.size() != (Sys::lattice ? 0 : std::size_t(st.saved * copies) * std::size_t(sys.state_size())))
    io::corrupt(file, "/stats/rows_*", "do not hold /run/saved rows");
  for (auto c : st.rows_replica)
    if (c < 0 || c >= R) io::corrupt(file, "/stats/rows_replica", "names a replica that does not exist");
  if (Sys::lattice) {
    for (double x : state)
      if (x != 1 && x != -1) io::corrupt(file, "/replicas/state", "holds a spin that is not +1 or -1");
  } else {
    finite(state, "/replicas/state");
  }
  const double most = double(step) * sys.moves_per_step();
  for (double n : counts)
    if (!(n >= 0 && n <= most && n == std::floor(n)))
      io::corrupt(file, "/replicas/accepted", "holds a count that the step count rules out");
}

template <class Sys>
void read_checkpoint(const parallel::Comm& comm, const io::CheckpointSpec& ck, const RunSpec& run, const TemperSpec& ts,
                     const std::string& config, const std::string& defaults, RunState& st, ReplicaExchange& ex,
                     Sys& sys, const parallel::ChainRange& range) {
  std::vector<double> state, counts, series, prob;
  std::vector<std::int64_t> xs, head(2);
  const hsize_t R = hsize_t(range.global), K = hsize_t(st.betas.size());
  io::read_checkpoint(comm, ck.file, [&](hid_t f, const std::string& file) {
    io::check_checkpoint_header(f, file, "temper", config, kSignatureKeys, defaults);
    head[0] = io::read_array<std::int64_t>(f, file, "/run/step", {1})[0];
    head[1] = io::read_array<std::int64_t>(f, file, "/run/saved", {1})[0];
    st.betas = io::read_array<double>(f, file, "/temper/betas", {K});
    xs = io::read_array<std::int64_t>(f, file, "/exchange/state", {});
    prob = io::read_array<double>(f, file, "/exchange/prob_sum", {K - 1});
    st.window_attempts = io::read_array<std::int64_t>(f, file, "/exchange/window_attempts", {K - 1});
    st.window_prob = io::read_array<double>(f, file, "/exchange/window_prob", {K - 1});
    series = io::read_array<double>(f, file, "/stats/series", {});
    st.rows_energy = io::read_array<double>(f, file, "/stats/rows_energy", {});
    st.rows_m = io::read_array<double>(f, file, "/stats/rows_m", {});
    st.rows_x = io::read_array<double>(f, file, "/stats/rows_x", {});
    st.rows_replica = io::read_array<std::int64_t>(f, file, "/stats/rows_replica", {});
    state = io::read_array<double>(f, file, "/replicas/state", {R, hsize_t(sys.saved_row())});
    counts = io::read_array<double>(f, file, "/replicas/accepted", {R});
    st.step = head[0];
    st.saved = head[1];
    check_restored(file, run, ts, st, state, counts, series, sys, std::int64_t(R));
    finite_or_corrupt(prob, file, "/exchange/prob_sum");
    ReplicaExchange probe(ex.levels(), ex.copies());
    try {
      probe.load_state(xs, prob);
    } catch (const std::exception& e) {
      io::corrupt(file, "/exchange/state", e.what());
    }
    estimators::BlockSeries e = st.energy, m = st.abs_m;
    std::size_t at = 0;
    try {
      at = m.unpack(series, e.unpack(series, 0));
    } catch (const std::exception& err) {
      io::corrupt(file, "/stats/series", err.what());
    }
    if (at != series.size()) io::corrupt(file, "/stats/series", "does not hold the statistics of this ladder");
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

//! Ends of the adaptation windows of doubling length that end at the burn-in (none without adaptation).
std::vector<std::int64_t> adaptation_window_ends(const TemperSpec& ts, std::int64_t burn_in);
//! The ladder from the exchange statistics of the window that just ended (kept when a pair was never tried).
void adapt_ladder(const TemperSpec& ts, const ReplicaExchange& ex, RunState& st);
//! Acceptance per pair, the barrier, flow and round trips.
void exchange_results(const ReplicaExchange& ex, int K, TemperResult& res);
//! ⟨E⟩ (and ⟨|M|⟩ per site on lattices) per level with batch-means errors and τ_int.
void level_statistics(const RunState& st, int K, bool lattice, TemperResult& res);
//! ln Z per β by BAR between neighbours on the saved (thinned) energies of rank 0,
//! effective sample sizes from τ_int of each level and the thinning.
void bar_results(const RunState& st, std::int64_t save_every, int copies, int K, bool lattice, int dim,
                 const parallel::Comm& comm, TemperResult& res);
//! /temper/... of the output file with their units and descriptions (collective; rank 0
//! holds the rows); `words`: what the system's saved rows hold.
void write_output(io::OutputFile& out, const RunState& st, const TemperResult& res, int copies, int K,
                  std::int64_t saves, std::int64_t R, bool lattice, int dim, const samplers::SavedRowWords& words,
                  const parallel::Comm& comm);

}  // namespace detail
}  // namespace zeta::tempering
