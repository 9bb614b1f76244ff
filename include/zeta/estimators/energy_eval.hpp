//! `zeta eval` (alias `evaluate`): the energy E(x) of every row of a data set under a
//! trained model (model.params: a zeta train output or checkpoint; or a model with a
//! closed form), optionally ‖∇x E‖, and with a second set (eval.other: a data file,
//! uniform noise on eval.box, or the data flipped / inverted) the energies of that
//! set and the out-of-distribution AUROC of the energy score (auroc.hpp: the other
//! set should have the higher energy).
//!
//! Rows stay where data::load puts them (the partitions a rank owns) and go through
//! the model in blocks of exactly kEvalBlock rows, aligned with each partition's
//! first row, the last block zero-padded: every row sees the same calls (the same
//! GEMM shapes, at the same place) on any rank count, so 1, 2 and 4 ranks give the
//! same bits (a net's passes are fixed at 16 images: models::make_model). Rank 0
//! gathers the rows in data order and forms the figures.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/json.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

//! Rows per model call.
constexpr std::int64_t kEvalBlock = 16;

//! What eval.other names.
enum class OtherSet { none, file, noise, flip, invert };

struct EvalSpec {
  bool grad_norm = false;           //!< eval.grad_norm
  OtherSet other = OtherSet::none;  //!< eval.other
  std::string other_name;           //!< eval.other as given ("" = none)
  double lo = 0, hi = 1;            //!< eval.box: uniform noise U(lo, hi); invert: x -> lo + hi - x
};

void declare_eval_keys(Config& cfg);
//! Reads [eval]; errors name the key.
EvalSpec read_eval_spec(const Config& cfg);

//! Count, mean, standard deviation (n − 1; 0 for one value), min and max of `v`,
//! summed in order (the same bits for the same vector).
struct Spread {
  std::int64_t n = 0;
  double mean = NAN, sd = NAN, min = NAN, max = NAN;
};
Spread spread_of(const std::vector<double>& v);

//! One set's per-row figures on rank 0, in row order (empty on the other ranks).
struct SetEnergies {
  std::int64_t n = 0;
  std::vector<double> energy, grad_norm;
};

struct EvalResult {
  SetEnergies data, other;
  Spread energy, grad_norm, other_energy, other_grad_norm;  //!< every rank
  double auroc = NAN;                                       //!< with eval.other; every rank
};

//! Collective: the whole evaluation of `cfg` ([model], [data], [eval], run.seed): reads and
//! checks everything (errors name the key and file), evaluates both sets, writes
//! /eval/... into `out` (if not null) and the figures into `json`.
EvalResult evaluate(const Config& cfg, const parallel::Comm& comm, io::OutputFile* out, JsonSummary& json);

//! The rows of eval.other = noise, flip or invert made from `data` (same partitions and
//! row numbers): noise row i is U(lo, hi) per feature from Philox (seed, i, kEvalNoise);
//! flip turns each C×H×W image upside down (`image`: c, h, w); invert maps x to lo + hi − x.
data::Split transformed_split(const data::Split& data, OtherSet kind, const EvalSpec& spec, std::uint32_t seed, int c,
                              int h, int w);

}  // namespace zeta::estimators
