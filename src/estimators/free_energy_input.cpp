#include "zeta/estimators/free_energy_input.hpp"

#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/estimators/bar.hpp"
#include "zeta/estimators/ti.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/io/mbar_input.hpp"
#include "zeta/io/temper_output.hpp"

namespace zeta::estimators {

namespace {

//! A temper output: thinned energies per level (every rank), with BAR and TI along the ladder.
void read_temper(const std::string& file, std::int64_t fixed_thin, const TemperRunReader& temper_run,
                 FreeEnergyInput& in, std::vector<double>& energies, const parallel::Comm& comm) {
  std::string why;
  if (comm.root()) {
    try {
      const io::TemperEnergies t = io::read_temper_energies(file);
      const int K = t.levels();
      const TemperRunFacts run = temper_run(t.config, file);
      const std::int64_t save_every = std::max<std::int64_t>(1, run.save_every);
      // Samples per level, thinned by 2τ (in saved rows).
      std::vector<std::int64_t> stride(K);
      for (int k = 0; k < K; ++k) stride[k] = fixed_thin > 0 ? fixed_thin : thinning_stride(t.tau[k], save_every);
      const auto lev = t.thinned(stride);
      in.N_k.resize(K);
      for (int k = 0; k < K; ++k) {
        in.N_k[k] = std::int64_t(lev[k].size());
        energies.insert(energies.end(), lev[k].begin(), lev[k].end());
      }
      in.offset = (run.lattice_sites > 0 && t.betas[0] == 0) ? run.lattice_sites * std::log(2.0) : 0.0;
      in.beta = t.betas;
      // BAR between neighbours and TI (trapezoid of ⟨E⟩ over β) on the same samples.
      bar_along_ladder(lev, t.betas, std::vector<double>(K, 1.0), in.log_z_bar, in.log_z_bar_stderr);
      for (auto& v : in.log_z_bar) v += in.offset;
      ti_along_ladder(lev, t.betas, in.offset, in.log_z_ti, in.log_z_ti_stderr);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
  for (auto* v : {&in.beta, &in.log_z_bar, &in.log_z_bar_stderr, &in.log_z_ti, &in.log_z_ti_stderr, &energies})
    comm.broadcast(*v);
  comm.broadcast(in.N_k);
  comm.broadcast(in.offset);
}

//! pymbar's per-state detectEquilibration and subsampleCorrelatedData on each sample's reduced
//! potential in its own state (gathered on rank 0: N values), then this rank's share of the kept
//! samples read again.
void equilibrate(const io::MbarInput& file, std::int64_t skip, FreeEnergyInput& in, const parallel::Comm& comm) {
  const parallel::Share mine = mbar_samples(file.N, comm);
  std::vector<double> own(std::size_t(mine.count));
  std::int64_t end = 0;
  int k = -1;
  for (std::int64_t i = 0; i < mine.count; ++i) {
    while (mine.offset + i >= end) end += file.N_k[++k];
    if (in.stored()) {
      own[i] = in.u[std::size_t(k) * mine.count + i];
    } else if (in.coupled.empty()) {
      own[i] = file.beta[k] * in.values[0][i];
    } else {
      double e = in.values[0][i];
      for (std::size_t j = 0; j < in.coupled.size(); ++j) e += in.couplings[j][k] * in.values[in.coupled[j]][i];
      own[i] = file.beta[k] * e;
    }
  }
  const std::vector<double> all = comm.gather_to_root(own);
  Subsampled s;
  if (comm.root()) s = equilibrate_and_subsample(all, file.N_k, std::size_t(skip));
  comm.broadcast(s.keep);
  comm.broadcast(s.N_k);
  comm.broadcast(s.t0);
  comm.broadcast(s.g);
  const parallel::Share share = mbar_samples(std::int64_t(s.keep.size()), comm);
  const std::vector<std::int64_t> cols(s.keep.begin() + share.offset, s.keep.begin() + share.offset + share.count);
  io::read_mbar_columns(file, cols, comm, in.u, in.values);
  in.N_k = s.N_k;
  in.equilibration_t0.assign(s.t0.begin(), s.t0.end());
  in.statistical_inefficiency = s.g;
}

}  // namespace

MbarSamples FreeEnergyInput::samples() const {
  if (stored()) return MbarSamples::potentials(u);
  if (coupled.empty()) return MbarSamples::of_energies(beta, values.front());
  std::vector<const std::vector<double>*> A;
  for (int j : coupled) A.push_back(&values[std::size_t(j)]);
  return MbarSamples::extended(beta, values.front(), A, couplings);
}

void add_target_states(FreeEnergyInput& in, const std::vector<double>& betas,
                       const std::vector<std::vector<double>>& fields) {
  if (betas.empty()) {
    if (!fields.empty())
      config_error("free_energy.target_fields", "needs free_energy.target_betas (the targets' beta)");
    return;
  }
  if (in.stored())
    config_error("free_energy.target_betas",
                 "needs states given by beta (the energies form or a temper output), not /" + in.format +
                     ": add the target states' rows to u_kn with N_k = 0");
  for (double b : betas)
    if (!std::isfinite(b)) config_error("free_energy.target_betas", "must be finite numbers");
  if (in.coupled.empty() && !fields.empty())
    config_error("free_energy.target_fields",
                 "applies to inputs with /couplings (extended ensembles); '" + in.source + "' has none");
  if (fields.size() != in.coupled.size()) {
    std::string names;
    for (const auto& n : in.coupling_names()) names += (names.empty() ? "" : "; ") + n;
    config_error("free_energy.target_fields",
                 "needs the targets' couplings: " + std::to_string(in.coupled.size()) + " list(s) separated by ';' (" +
                     names + ", the order of /couplings), each of " + std::to_string(betas.size()) +
                     " values (one per target beta); got " + std::to_string(fields.size()));
  }
  for (std::size_t j = 0; j < fields.size(); ++j) {
    if (fields[j].size() != betas.size())
      config_error("free_energy.target_fields", "list " + std::to_string(j + 1) + " (" + in.coupling_names()[j] +
                                                    ") has " + std::to_string(fields[j].size()) + " values; expected " +
                                                    std::to_string(betas.size()) + ", one per target beta");
    for (double v : fields[j])
      if (!std::isfinite(v)) config_error("free_energy.target_fields", "must be finite numbers");
    in.couplings[j].insert(in.couplings[j].end(), fields[j].begin(), fields[j].end());
  }
  in.beta.insert(in.beta.end(), betas.begin(), betas.end());
  in.N_k.resize(in.beta.size(), 0);
}

std::vector<std::string> FreeEnergyInput::coupling_names() const {
  std::vector<std::string> names;
  for (int j : coupled) names.push_back(observables[std::size_t(j)]);
  return names;
}

FreeEnergyInput read_free_energy_input(const std::string& file, const FreeEnergyInputOptions& opts,
                                       const TemperRunReader& temper_run, const parallel::Comm& comm) {
  FreeEnergyInput in;
  in.format = opts.format == "auto" ? io::detect_free_energy_format(file, comm) : opts.format;
  in.source = "'" + file + "'";
  if (in.format == "temper") {
    if (opts.equilibrate)
      config_error("free_energy.equilibrate", "is for u_kn and energies inputs; a temper output is thinned by its "
                                              "tau_int (free_energy.thin)");
    std::vector<double> energies;
    read_temper(file, opts.fixed_thin, temper_run, in, energies, comm);
    const parallel::Share mine = mbar_samples(std::int64_t(energies.size()), comm);
    in.values.emplace_back(energies.begin() + mine.offset, energies.begin() + mine.offset + mine.count);
    in.observables = {"energy"};
    in.source += " (/temper/energy)";
    return in;
  }
  const io::MbarInput f = io::read_mbar_input(file, in.format, comm);
  io::read_mbar_samples(f, mbar_samples(f.N, comm), comm, in.u, in.values);
  in.N_k = f.N_k;
  in.beta = f.beta;
  in.observables = f.observables;
  in.coupled = f.coupled;
  in.couplings = f.couplings;
  if (opts.equilibrate) equilibrate(f, opts.equilibrate_skip, in, comm);
  in.source += in.stored() ? " (/" + in.format + ")" : in.coupled.empty() ? " (/energy, /beta)" : " (/energy, /beta, /couplings)";
  return in;
}

}  // namespace zeta::estimators
