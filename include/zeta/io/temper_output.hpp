//! Reading a `zeta temper` output back: the saved energies per level, the ladder,
//! τ_int per level and the run's configuration (what `zeta free-energy` needs).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zeta::io {

struct TemperEnergies {
  std::vector<double> betas;   //!< the ladder, K levels
  std::vector<double> energy;  //!< /temper/energy, [saved, copies, K] row-major (rows past `saved` unused)
  std::vector<double> tau;     //!< /temper/tau_int (0.5 per level where the file has none)
  std::int64_t copies = 1, saved = 0;
  std::string config;          //!< the run's resolved INI (root attribute)

  int levels() const { return static_cast<int>(betas.size()); }
  //! The energies of each level, every stride[k]-th saved row (all copies of a row together).
  std::vector<std::vector<double>> thinned(const std::vector<std::int64_t>& stride) const;
};

//! Reads and checks a temper output: a zeta temper file with ≥ 2 levels and ≥ 2
//! saved rows of finite energies; errors (Error, not collective) name the file
//! and the dataset. Host only; one rank.
TemperEnergies read_temper_energies(const std::string& file);

}  // namespace zeta::io
