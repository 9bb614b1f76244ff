//! Test support for `zeta free-energy` on reduced potentials: writes the HDF5
//! inputs (u_kn or energies form, docs/free-energy.md) from harmonic oscillators
//! and runs the command in-process.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/apps.hpp"
#include "oscillators.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::test {

//! write_mbar_input's file, written directly to `path` (one process).
inline void write_mbar_file(const std::string& path, const Oscillators& o, bool energies, bool single, bool kln,
                            const std::vector<double>& couplings_x) {
  std::remove(path.c_str());
  const hsize_t K = o.kappa.size(), N = o.x.size();
  auto f = io::create_serial(path);
  io::write_array<std::int64_t>(f.id(), "/N_k", {K}, o.N_k.data());
  std::vector<double> x2(N), e(N);
  for (hsize_t n = 0; n < N; ++n) x2[n] = o.x[n] * o.x[n], e[n] = 0.5 * o.x[n] * o.x[n];
  io::write_array<double>(f.id(), "/observables/x", {N}, o.x.data());
  io::write_array<double>(f.id(), "/observables/x2", {N}, x2.data());
  if (energies) {
    io::write_array<double>(f.id(), "/energy", {N}, e.data());
    io::write_array<double>(f.id(), "/beta", {K}, o.kappa.data());
    if (!couplings_x.empty()) io::write_array<double>(f.id(), "/couplings/x", {K}, couplings_x.data());
  } else if (kln) {
    std::int64_t n_max = 0;
    for (auto n : o.N_k) n_max = std::max(n_max, n);
    std::vector<double> u(K * K * hsize_t(n_max), NAN);
    std::int64_t start = 0;
    for (hsize_t k = 0; k < K; ++k) {
      for (hsize_t l = 0; l < K; ++l)
        for (std::int64_t n = 0; n < o.N_k[k]; ++n) u[(k * K + l) * n_max + n] = o.u[l * N + start + n];
      start += o.N_k[k];
    }
    io::write_array<double>(f.id(), "/u_kln", {K, K, hsize_t(n_max)}, u.data());
  } else if (single) {
    const std::vector<float> u(o.u.begin(), o.u.end());
    io::write_array<float>(f.id(), "/u_kn", {K, N}, u.data());
  } else {
    io::write_array<double>(f.id(), "/u_kn", {K, N}, o.u.data());
  }
}

//! Writes `path` with /N_k, /observables/x and /observables/x2 and either /u_kn
//! (float64, or float32 when `single`; as /u_kln [K, K, max N_k] when `kln`, padded with
//! NaN, which must never be read) or the compact /energy (x²/2) with /beta (κ_k), and with
//! `couplings_x` /couplings/x (an extended ensemble u_k = κ_k (x²/2 + p_k x)). Every rank may
//! call it: each writes its own temporary file and renames it onto `path` (atomic, and the
//! contents are the same), so no rank ever opens a half-written or removed file.
inline void write_mbar_input(const std::string& path, const Oscillators& o, bool energies = false, bool single = false,
                             bool kln = false, const std::vector<double>& couplings_x = {}) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  write_mbar_file(tmp, o, energies, single, kln, couplings_x);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path);
}

//! `zeta free-energy in` on `comm`, writing `out` (empty: no file).
inline apps::FreeEnergyResult run_free_energy(const std::string& in, const std::string& out,
                                              const parallel::Comm& comm, std::vector<std::string> extra = {}) {
  Config opts;
  apps::declare_free_energy_keys(opts);
  extra.push_back("--output.file=" + out);
  opts.parse_text("", extra);
  return apps::free_energy(in, opts, comm);
}

}  // namespace zeta::test
