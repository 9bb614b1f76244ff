#include "zeta/tempering/tempering.hpp"

#include <cmath>

#include "zeta/estimators/bar.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta::tempering::detail {

std::vector<std::int64_t> adaptation_window_ends(const TemperSpec& ts, std::int64_t burn_in) {
  if (ts.adapt == LadderAdapt::none) return {};
  return tempering::adaptation_window_ends(ts.adapt_rounds, burn_in);
}

void adapt_ladder(const TemperSpec& ts, const ReplicaExchange& ex, RunState& st) {
  adapt_betas(ts.adapt, ex, st.window_attempts, st.window_prob, st.betas);
}

void exchange_results(const ReplicaExchange& ex, int K, TemperResult& res) {
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
}

void level_statistics(const RunState& st, int K, bool lattice, TemperResult& res) {
  res.betas = st.betas;
  res.mean_energy.resize(K);
  res.mean_energy_stderr.resize(K);
  res.tau_int.resize(K);
  for (int k = 0; k < K; ++k) {
    res.mean_energy[k] = st.energy.mean(k);
    const estimators::BatchStats b = st.energy.batch_stats(k);
    res.mean_energy_stderr[k] = b.std_error;
    res.tau_int[k] = b.tau_int;
  }
  if (lattice) {
    res.mean_abs_magnetization.resize(K);
    res.mean_abs_magnetization_stderr.resize(K);
    for (int k = 0; k < K; ++k) {
      res.mean_abs_magnetization[k] = st.abs_m.mean(k);
      res.mean_abs_magnetization_stderr[k] = st.abs_m.batch_stats(k).std_error;
    }
  }
}

void bar_results(const RunState& st, std::int64_t save_every, int copies, int K, bool lattice, int dim,
                 const parallel::Comm& comm, TemperResult& res) {
  if (st.saved < 2) return;
  std::vector<double> lz(K, 0.0), lz_se(K, 0.0);
  if (comm.root()) {
    std::vector<std::vector<double>> e(K);
    std::vector<double> g(K, 1.0);
    for (int k = 0; k < K; ++k) {
      for (std::int64_t s = 0; s < st.saved; ++s)
        for (int copy = 0; copy < copies; ++copy) e[k].push_back(st.rows_energy[(s * copies + copy) * K + k]);
      g[k] = estimators::statistical_inefficiency(res.tau_int[k], save_every);
    }
    estimators::bar_along_ladder(e, st.betas, g, lz, lz_se);
    if (lattice && st.betas[0] == 0)
      for (auto& v : lz) v += double(dim) * std::log(2.0);
  }
  comm.broadcast(lz);
  comm.broadcast(lz_se);
  res.log_z_bar = lz;
  res.log_z_bar_stderr = lz_se;
  res.log_z_absolute = lattice && st.betas[0] == 0;
}

void write_output(io::OutputFile& out, const RunState& st, const TemperResult& res, int copies, int K,
                  std::int64_t saves, std::int64_t R, bool lattice, int dim, const samplers::SavedRowWords& words,
                  const parallel::Comm& comm) {
  const bool r0 = comm.root();
  auto n = [&](hsize_t v) { return r0 ? v : hsize_t(0); };
  const hsize_t hK = hsize_t(K), hC = hsize_t(copies);
  // Each level's figures are after the burn-in, over the copies.
  auto write_vec = [&](const std::string& name, const std::vector<double>& v, const std::string& units,
                       const std::string& description, const std::string& axis) {
    const hid_t d = out.create_double(name, {hsize_t(v.size())});
    out.write_double(d, {0}, {n(v.size())}, v.data());
    out.describe(name, units, description, {axis});
  };
  write_vec("/temper/betas", res.betas, "1/kT", "inverse temperature beta_k of each level (the final ladder)", "level");
  write_vec("/temper/acceptance", res.acceptance, "1",
            "fraction of the exchanges between levels k and k + 1 that were accepted", "pair");
  write_vec("/temper/flow", res.flow, "1",
            "share of the replicas visiting level k that last came from level 0 (the flow f(beta_k))", "level");
  write_vec("/temper/mean_energy", res.mean_energy, "kT", "mean " + words.energy + " at each level", "level");
  write_vec("/temper/mean_energy_stderr", res.mean_energy_stderr, "kT", "standard error of mean_energy (batch means)",
            "level");
  write_vec("/temper/tau_int", res.tau_int, "step",
            "integrated autocorrelation time of the energy at each level (batch means)", "level");
  const hid_t rt = out.create_int64("/temper/round_trips", {hsize_t(R)});
  out.write_int64(rt, {0}, {n(hsize_t(R))}, res.round_trips.data());
  out.describe("/temper/round_trips", "1",
               "round trips (level 0 to level K - 1 and back) of each replica after the burn-in", {"replica"});
  if (lattice) {
    write_vec("/temper/mean_abs_magnetization", res.mean_abs_magnetization, "1",
              "mean absolute magnetisation per spin |M| / N at each level", "level");
    write_vec("/temper/mean_abs_magnetization_stderr", res.mean_abs_magnetization_stderr, "1",
              "standard error of mean_abs_magnetization (batch means)", "level");
  }
  if (saves > 0) {
    // [saved, K] for one ladder, [saved, copies, K] for several: the samples_saved rows
    // taken (all `saves` of them when the run was not interrupted).
    const hsize_t got = hsize_t(st.saved);
    const std::vector<hsize_t> dims = copies == 1 ? std::vector<hsize_t>{got, hK} : std::vector<hsize_t>{got, hC, hK};
    const std::vector<std::string> axes =
        copies == 1 ? std::vector<std::string>{"sample", "level"} : std::vector<std::string>{"sample", "copy", "level"};
    const std::string every = ", every run.save_every steps after the burn-in";
    const std::vector<hsize_t> start(dims.size(), 0);
    std::vector<hsize_t> count = dims;
    count[0] = got;
    if (!r0) count.assign(dims.size(), 0);
    const hid_t de = out.create_double("/temper/energy", dims);
    out.write_double(de, start, count, st.rows_energy.data());
    out.describe("/temper/energy", "kT", words.energy + " of the replica at each level" + every, axes);
    const hid_t dr = out.create_int64("/temper/replica", dims);
    out.write_int64(dr, start, count, st.rows_replica.data());
    out.describe("/temper/replica", "1", "id of the replica at each level (copy * K + its starting level)" + every,
                 axes);
    if (lattice) {
      const hid_t dm = out.create_double("/temper/magnetization", dims);
      out.write_double(dm, start, count, st.rows_m.data());
      out.describe("/temper/magnetization", "1",
                   "total magnetisation M (the sum of the spins, not per spin) of the replica at each level" + every,
                   axes);
    } else {
      std::vector<Real> xr(st.rows_x.begin(), st.rows_x.end());
      const hid_t dx = out.create("/temper/x", {got, hC, hsize_t(dim)});
      out.write(dx, {0, 0, 0}, {r0 ? got : 0, r0 ? hC : 0, r0 ? hsize_t(dim) : 0}, xr.data());
      out.describe("/temper/x", "1", words.state + " of the replica at the last level (the target beta)" + every,
                   {"sample", "copy", words.axis});
    }
  }
  out.attribute("samples_saved", st.saved);
}

}  // namespace zeta::tempering::detail
