//! `zeta free-energy FILE.h5`: ln Z(β_k) − ln Z(β_0) for every level of a
//! `zeta temper` output by MBAR (with its asymptotic error), BAR between
//! neighbours, and thermodynamic integration of ⟨E⟩ over β. The saved energies
//! are thinned by each level's integrated autocorrelation time first. For a
//! lattice model whose ladder starts at β_0 = 0 the values are absolute
//! (ln Z(0) = N ln 2). Rank 0 reads and thins the energies and broadcasts them;
//! every rank builds the reduced potentials of its share of the samples and the
//! MBAR sums are reduced over ranks (bit for bit the same on any rank count).
#include <hdf5.h>

#include <cmath>
#include <cstdio>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/estimators/bar.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/factory.hpp"

namespace zeta::apps {

void declare_free_energy_keys(Config& cfg) {
  cfg.declare("free_energy.thin", "auto", "auto (by each level's tau_int) or a fixed stride over the saved rows");
  cfg.declare("free_energy.bootstrap", "0", "MBAR bootstrap resamples for a second error estimate (0 = none)");
  cfg.declare("free_energy.seed", "1", "seed of the bootstrap's counter RNG");
  cfg.declare("free_energy.tol", "1e-12", "MBAR convergence: the largest change of any f_k in the last step");
}

FreeEnergyResult free_energy(const std::string& file, const Config& opts, const Comm& comm) {
  const double t0 = MPI_Wtime();
  const std::string thin_opt = opts.get_string("free_energy.thin");
  std::int64_t fixed_thin = 0;
  if (thin_opt != "auto") fixed_thin = opts.get_int_at_least("free_energy.thin", 1);
  MbarOptions mopt;
  mopt.bootstrap = static_cast<int>(opts.get_int_at_least("free_energy.bootstrap", 0));
  const auto seed = opts.get_int_at_least("free_energy.seed", 0);
  if (seed > 0xffffffffLL) config_error("free_energy.seed", "must be < 2^32");
  mopt.seed = static_cast<std::uint32_t>(seed);
  mopt.tol = opts.get_double("free_energy.tol");
  if (!(mopt.tol > 0)) config_error("free_energy.tol", "must be > 0");
  FreeEnergyResult res;
  std::vector<double> all;         // thinned energies, grouped by level (rank 0 reads, all ranks get them)
  std::vector<std::int64_t> N_k;   // samples per level
  double offset = 0;               // N ln 2 for an absolute lattice ladder
  std::string why;
  if (comm.root()) {
    try {
      io::Handle f = io::open_read(file);
      std::string command;
      try {
        command = io::read_string_attribute(f.id(), file, "command");
      } catch (const Error&) {
        throw Error("'" + file + "' is not a zeta output (no 'command' attribute)", false);
      }
      if (command != "temper")
        throw Error("'" + file + "' is a zeta " + command + " output; free-energy needs a zeta temper output", false);
      const auto betas = io::read_array<double>(f.id(), file, "/temper/betas", {});
      const int K = static_cast<int>(betas.size());
      if (K < 2) throw Error("'" + file + "' has " + std::to_string(K) + " temperature(s): MBAR needs at least 2", false);
      if (!io::exists(f.id(), "/temper/energy"))
        throw Error("'" + file + "' has no /temper/energy (run zeta temper with run.save_every > 0)", false);
      std::vector<hsize_t> dims;
      const auto energy = io::read_doubles(file, "/temper/energy", dims);
      if (!((dims.size() == 2 && dims[1] == hsize_t(K)) || (dims.size() == 3 && dims[2] == hsize_t(K))))
        throw Error("/temper/energy in '" + file + "' does not match /temper/betas (" + std::to_string(K) +
                        " levels)",
                    false);
      const std::int64_t copies = dims.size() == 3 ? std::int64_t(dims[1]) : 1;
      std::int64_t saved = std::int64_t(dims[0]);
      if (H5Aexists(f.id(), "samples_saved") > 0) {
        io::Handle a(H5Aopen(f.id(), "samples_saved", H5P_DEFAULT), H5Aclose);
        std::int64_t v = 0;
        if (a.id() >= 0 && H5Aread(a.id(), H5T_NATIVE_INT64, &v) >= 0) saved = std::min<std::int64_t>(saved, v);
      }
      if (saved < 2) throw Error("'" + file + "' has fewer than 2 saved samples", false);
      for (std::int64_t i = 0; i < saved * copies * K; ++i)
        if (!std::isfinite(energy[i]))
          throw Error("/temper/energy in '" + file + "' has a non-finite energy (NaN or Inf)", false);
      std::vector<double> tau(K, 0.5);
      if (io::exists(f.id(), "/temper/tau_int")) tau = io::read_array<double>(f.id(), file, "/temper/tau_int", {hsize_t(K)});
      // The run's configuration: save_every for the thinning, the model for absolute values.
      Config cfg;
      declare_temper_app_keys(cfg);
      cfg.parse_text(io::read_string_attribute(f.id(), file, "config"), {});
      const std::int64_t save_every = std::max<std::int64_t>(1, cfg.get_int("run.save_every"));
      // Only a lattice's size matters here (absolute ln Z from β_0 = 0). [model] was checked
      // when the run was made; read_model_spec on the resolved INI would see every key as
      // given (model.sigma of a Bernoulli RBM, say) and refuse it.
      const bool lattice = cfg.get_string("model.type") == "ising";
      const double sites = lattice ? double(cfg.get_int("model.L")) * double(cfg.get_int("model.L")) : 0.0;

      // Samples per level, thinned by 2τ (in saved rows).
      std::vector<std::vector<double>> lev(K);
      std::vector<std::int64_t> stride(K);
      for (int k = 0; k < K; ++k) {
        const double g = std::isfinite(tau[k]) ? 2 * tau[k] / double(save_every) : 1.0;
        stride[k] = fixed_thin > 0 ? fixed_thin : std::max<std::int64_t>(1, std::int64_t(std::ceil(g)));
        for (std::int64_t s = 0; s < saved; s += stride[k])
          for (std::int64_t c = 0; c < copies; ++c) lev[k].push_back(energy[(s * copies + c) * K + k]);
      }
      N_k.resize(K);
      for (int k = 0; k < K; ++k) {
        N_k[k] = std::int64_t(lev[k].size());
        all.insert(all.end(), lev[k].begin(), lev[k].end());
      }
      offset = (lattice && betas[0] == 0) ? sites * std::log(2.0) : 0.0;
      res.betas = betas;
      // BAR between neighbours and TI (trapezoid of ⟨E⟩ over β) on the same samples.
      bar_along_ladder(lev, betas, std::vector<double>(K, 1.0), res.log_z_bar, res.log_z_bar_stderr);
      for (auto& v : res.log_z_bar) v += offset;
      res.log_z_ti.assign(K, offset);
      res.log_z_ti_stderr.assign(K, 0.0);
      std::vector<double> mean(K), se(K);
      for (int k = 0; k < K; ++k) {
        const double n = double(lev[k].size());
        double m = 0, ss = 0;
        for (double e : lev[k]) m += e;
        m /= n;
        for (double e : lev[k]) ss += (e - m) * (e - m);
        mean[k] = m;
        se[k] = std::sqrt(ss / (n - 1) / n);
      }
      double vt = 0;
      for (int k = 0; k + 1 < K; ++k) {
        const double db = betas[k + 1] - betas[k];
        res.log_z_ti[k + 1] = res.log_z_ti[k] - 0.5 * db * (mean[k] + mean[k + 1]);
        vt += 0.25 * db * db * (se[k] * se[k] + se[k + 1] * se[k + 1]);
        res.log_z_ti_stderr[k + 1] = std::sqrt(vt);
      }
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
  for (auto* v : {&res.betas, &res.log_z_bar, &res.log_z_bar_stderr, &res.log_z_ti, &res.log_z_ti_stderr, &all})
    comm.broadcast(*v);
  comm.broadcast(N_k);
  comm.broadcast(offset);
  res.absolute = offset != 0.0;
  res.samples_used = std::int64_t(all.size());
  // MBAR over ranks: u_k(x_n) = β_k E_n for this rank's share of the samples.
  const int K = static_cast<int>(res.betas.size());
  const ChainRange mine = mbar_samples(std::int64_t(all.size()), comm);
  std::vector<double> u(std::size_t(K) * std::size_t(mine.count));
  for (int k = 0; k < K; ++k)
    for (std::int64_t i = 0; i < mine.count; ++i) u[k * mine.count + i] = res.betas[k] * all[mine.offset + i];
  const MbarResult m = mbar(u, N_k, comm, mopt);
  if (!m.converged && comm.root())
    std::fprintf(stderr, "zeta: warning: MBAR stopped after %d steps without reaching free_energy.tol = %g\n",
                 m.iterations, mopt.tol);
  res.log_z.resize(K);
  for (int k = 0; k < K; ++k) res.log_z[k] = offset - m.f[k];
  res.log_z_stderr = m.df_stderr;
  res.log_z_bootstrap_stderr = m.df_bootstrap_stderr;
  res.iterations = m.iterations;
  res.wall_s = MPI_Wtime() - t0;
  auto& j = res.json;
  j.add("command", "free-energy");
  j.add("status", "ok");
  j.add("wall_s", res.wall_s);
  j.add("ranks", comm.size());
  j.add("file", file);
  j.add("method", "mbar");
  j.add("betas", res.betas);
  j.add("log_z", res.log_z);
  j.add("log_z_stderr", res.log_z_stderr);
  if (mopt.bootstrap > 0) {
    j.add("log_z_bootstrap_stderr", res.log_z_bootstrap_stderr);
    j.add("bootstrap", mopt.bootstrap);
  }
  j.add("log_z_reference", res.absolute ? "absolute (beta_0 = 0)" : "relative to betas[0]");
  j.add("log_z_bar", res.log_z_bar);
  j.add("log_z_bar_stderr", res.log_z_bar_stderr);
  j.add("log_z_ti", res.log_z_ti);
  j.add("log_z_ti_stderr", res.log_z_ti_stderr);
  j.add("samples", res.samples_used);
  j.add("iterations", res.iterations);
  j.add("converged", m.converged);
  return res;
}

}  // namespace zeta::apps
