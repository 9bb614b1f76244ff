//! `zeta free-energy FILE.h5`: ln Z(β_k) − ln Z(β_0) for every level of a
//! `zeta temper` output by MBAR (with its asymptotic error), BAR between
//! neighbours, and thermodynamic integration of ⟨E⟩ over β. The saved energies
//! are thinned by each level's integrated autocorrelation time first. For a
//! lattice model whose ladder starts at β_0 = 0 the values are absolute
//! (ln Z(0) = N ln 2). Rank 0 reads and thins the energies and broadcasts them;
//! every rank builds the reduced potentials of its share of the samples and the
//! MBAR sums are reduced over ranks (bit for bit the same on any rank count).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/estimators/bar.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/estimators/ti.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/io/temper_output.hpp"

namespace zeta::apps {

void declare_free_energy_keys(Config& cfg) {
  cfg.declare("free_energy.thin", "auto", "auto (by each level's tau_int) or a fixed stride over the saved rows");
  cfg.declare("free_energy.bootstrap", "0", "MBAR bootstrap resamples for a second error estimate (0 = none)");
  cfg.declare("free_energy.seed", "1", "seed of the bootstrap's counter RNG");
  cfg.declare("free_energy.tol", "1e-12", "MBAR convergence: the largest change of any f_k in the last step");
}

FreeEnergyResult free_energy(const std::string& file, const Config& opts, const parallel::Comm& comm) {
  const double t0 = MPI_Wtime();
  const std::string thin_opt = opts.get_string("free_energy.thin");
  std::int64_t fixed_thin = 0;
  if (thin_opt != "auto") fixed_thin = opts.get_int_at_least("free_energy.thin", 1);
  estimators::MbarOptions mopt;
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
      const io::TemperEnergies t = io::read_temper_energies(file);
      const int K = t.levels();
      // The run's configuration: save_every for the thinning, the model for absolute values.
      Config cfg;
      declare_temper_app_keys(cfg);
      cfg.parse_text(t.config, {});
      const std::int64_t save_every = std::max<std::int64_t>(1, cfg.get_int("run.save_every"));
      // Only a lattice's size matters here (absolute ln Z from β_0 = 0). [model] was checked
      // when the run was made; read_model_spec on the resolved INI would see every key as
      // given (model.sigma of a Bernoulli RBM, say) and refuse it.
      const bool lattice = cfg.get_string("model.type") == "ising";
      const double sites = lattice ? double(cfg.get_int("model.L")) * double(cfg.get_int("model.L")) : 0.0;
      // Samples per level, thinned by 2τ (in saved rows).
      std::vector<std::int64_t> stride(K);
      for (int k = 0; k < K; ++k)
        stride[k] = fixed_thin > 0 ? fixed_thin : estimators::thinning_stride(t.tau[k], save_every);
      const auto lev = t.thinned(stride);
      N_k.resize(K);
      for (int k = 0; k < K; ++k) {
        N_k[k] = std::int64_t(lev[k].size());
        all.insert(all.end(), lev[k].begin(), lev[k].end());
      }
      offset = (lattice && t.betas[0] == 0) ? sites * std::log(2.0) : 0.0;
      res.betas = t.betas;
      // BAR between neighbours and TI (trapezoid of ⟨E⟩ over β) on the same samples.
      estimators::bar_along_ladder(lev, t.betas, std::vector<double>(K, 1.0), res.log_z_bar, res.log_z_bar_stderr);
      for (auto& v : res.log_z_bar) v += offset;
      estimators::ti_along_ladder(lev, t.betas, offset, res.log_z_ti, res.log_z_ti_stderr);
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
  const int K = static_cast<int>(res.betas.size());
  const estimators::MbarResult m = estimators::mbar_on_energies(res.betas, all, N_k, comm, mopt);
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
