#include "zeta/io/temper_output.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::io {

std::vector<std::vector<double>> TemperEnergies::thinned(const std::vector<std::int64_t>& stride) const {
  const int K = levels();
  std::vector<std::vector<double>> lev(K);
  for (int k = 0; k < K; ++k)
    for (std::int64_t s = 0; s < saved; s += stride[k])
      for (std::int64_t c = 0; c < copies; ++c) lev[k].push_back(energy[(s * copies + c) * K + k]);
  return lev;
}

TemperEnergies read_temper_energies(const std::string& file) {
  Handle f = open_read(file);
  std::string command;
  try {
    command = read_string_attribute(f.id(), file, "command");
  } catch (const Error&) {
    throw Error("'" + file + "' is not a zeta output (no 'command' attribute)", false);
  }
  if (command != "temper")
    throw Error("'" + file + "' is a zeta " + command + " output; free-energy needs a zeta temper output", false);
  TemperEnergies t;
  t.betas = read_array<double>(f.id(), file, "/temper/betas", {});
  const int K = t.levels();
  if (K < 2) throw Error("'" + file + "' has " + std::to_string(K) + " temperature(s): MBAR needs at least 2", false);
  // A ladder zeta temper writes: finite, β_0 ≥ 0 (0: an absolute lattice ladder), strictly increasing.
  for (int k = 0; k < K; ++k)
    if (!std::isfinite(t.betas[k]) || t.betas[k] < 0 || (k > 0 && !(t.betas[k] > t.betas[k - 1]))) {
      char v[32];
      std::snprintf(v, sizeof v, "%.17g", t.betas[k]);
      throw Error("/temper/betas in '" + file + "' is not a ladder of finite, non-negative, increasing inverse "
                  "temperatures: betas[" + std::to_string(k) + "] = " + v,
                  false);
    }
  if (!exists(f.id(), "/temper/energy"))
    throw Error("'" + file + "' has no /temper/energy (run zeta temper with run.save_every > 0)", false);
  std::vector<hsize_t> dims;
  t.energy = read_doubles(file, "/temper/energy", dims);
  if (!((dims.size() == 2 && dims[1] == hsize_t(K)) || (dims.size() == 3 && dims[2] == hsize_t(K))))
    throw Error("/temper/energy in '" + file + "' does not match /temper/betas (" + std::to_string(K) + " levels)",
                false);
  t.copies = dims.size() == 3 ? std::int64_t(dims[1]) : 1;
  t.saved = std::int64_t(dims[0]);
  if (H5Aexists(f.id(), "samples_saved") > 0) {
    Handle a(H5Aopen(f.id(), "samples_saved", H5P_DEFAULT), H5Aclose);
    std::int64_t v = 0;
    if (a.id() >= 0 && H5Aread(a.id(), H5T_NATIVE_INT64, &v) >= 0) t.saved = std::min<std::int64_t>(t.saved, v);
  }
  if (t.saved < 2) throw Error("'" + file + "' has fewer than 2 saved samples", false);
  for (std::int64_t i = 0; i < t.saved * t.copies * K; ++i)
    if (!std::isfinite(t.energy[i]))
      throw Error("/temper/energy in '" + file + "' has a non-finite energy (NaN or Inf)", false);
  t.tau.assign(K, 0.5);
  if (exists(f.id(), "/temper/tau_int")) t.tau = read_array<double>(f.id(), file, "/temper/tau_int", {hsize_t(K)});
  t.config = read_string_attribute(f.id(), file, "config");
  return t;
}

}  // namespace zeta::io
