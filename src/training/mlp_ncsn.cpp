#include "zeta/training/mlp_ncsn.hpp"

#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/io/output.hpp"
#include "zeta/samplers/annealed_langevin.hpp"
#include "zeta/samplers/chains.hpp"
#include "zeta/training/contrastive_term.hpp"
#include "zeta/training/replay_buffer.hpp"

namespace zeta::training {

namespace {

//! The rng step of the eval samples' initial states and moves (above any training step); the noise rows
//! take bit 60 too.
constexpr std::uint64_t kEvalStep = std::uint64_t(1) << 61;

//! An Mlp (or its noise-conditional view) whose batched calls run partition-sized blocks of
//! `b` rows: every GEMM then has the same rows on any rank count (float sgemm is not row-stable).
template <class Model>
struct Blockwise {
  using space = Kokkos::DefaultExecutionSpace;
  Model& m;
  std::int64_t b, blocks;
  bool deterministic;
  void energy_and_grad(const Matrix<space>& x, const Vector<space>& E, const Matrix<space>& g) {
    if (!deterministic) return m.energy_and_grad(x, E, g);
    for (std::int64_t l = 0; l < blocks; ++l)
      m.energy_and_grad(row_block<space>(x, l * b, b), Vector<space>(E.data() + l * b, b),
                        row_block<space>(g, l * b, b));
  }
  void energy(const Matrix<space>& x, const Vector<space>& E) {
    if (!deterministic) return m.energy(x, E);
    for (std::int64_t l = 0; l < blocks; ++l)
      m.energy(row_block<space>(x, l * b, b), Vector<space>(E.data() + l * b, b));
  }
};

//! Blockwise's σ, for a noise-conditional model (annealed Langevin sets each level's).
template <class Model>
struct BlockwiseConditional : Blockwise<Model> {
  double sigma() const { return this->m.sigma(); }
  void set_sigma(double s) { this->m.set_sigma(s); }
};

}  // namespace

void declare_ncsn_keys(Config& cfg) {
  cfg.declare("train.sigma_levels", "0",
              "ncsn: 0 = train.sigma is the decreasing noise ladder; L >= 2 = train.sigma is 'sigma_1,sigma_L' and the "
              "L levels are geometric between them");
  cfg.declare("train.ncsn_energy", "shared",
              "ncsn: shared = one energy E(x) for every level, s(x, sigma) = -grad E(x) / sigma (level sigma's density "
              "e^{-E/sigma}); conditional = E(x, sigma) with ln sigma as the mlp's last input (model.layers starts at "
              "the data's features + 1), s(x, sigma) = -grad_x E(x, sigma) / sigma, the model density "
              "e^{-E(x, sigma_L)/sigma_L}");
  cfg.declare("train.eval_samples", "0",
              "ncsn: annealed Langevin samples drawn after training into /eval/samples (0 = train.batch; a multiple "
              "of data.partitions)");
  cfg.declare("sampler.steps_per_level", "100",
              "ncsn: annealed Langevin moves per noise level of the eval samples drawn after training (step size "
              "sampler.step_size * (sigma_i/sigma_L)^2; sampler.type = annealed_langevin, or its default)");
}

void read_ncsn_keys(const Config& cfg, TrainSpec& ts) {
  if (!ts.ncsn) {
    // Off their defaults (a resolved configuration, which lists every key, runs as it is).
    for (const char* key : {"train.sigma_levels", "train.ncsn_energy", "train.eval_samples", "sampler.steps_per_level"})
      if (cfg.differs_from_default(key)) config_error(key, "applies to train.objective = ncsn only");
    return;
  }
  ts.sigma = samplers::read_sigma_ladder(cfg, "train.sigma", "train.sigma_levels", 2);
  ts.sigma_input = cfg.get_choice("train.ncsn_energy", {"shared", "conditional"}) == "conditional";
  ts.eval_samples = cfg.get_int_at_least("train.eval_samples", 0);
  const std::int64_t D = cfg.get_int("data.partitions");
  if (ts.eval_samples > 10000000) config_error("train.eval_samples", "is impossibly large");
  if (D > 0 && ts.eval_samples % D != 0)
    config_error("train.eval_samples", "must be a multiple of data.partitions (" + std::to_string(D) + ")");
  // langevin: the default of an mlp's sampler.type, which a resolved configuration lists.
  const std::string type = cfg.get_string("sampler.type");
  if (type != "annealed_langevin" && type != "langevin")
    config_error("sampler.type",
                 "ncsn draws its eval samples by annealed_langevin (got '" + cfg.get_string("sampler.type") + "')");
  samplers::SamplerSpec& a = ts.annealed;
  a.type = samplers::SamplerType::annealed_langevin;
  a.name = "annealed_langevin";
  samplers::read_langevin_keys(cfg, a);
  a.sigmas = ts.sigma;
  a.steps_per_level = cfg.get_int_at_least("sampler.steps_per_level", 1);
  if (a.steps_per_level * std::int64_t(a.sigmas.size()) > 100000000)
    config_error("sampler.steps_per_level", "makes impossibly many moves");
}

MlpNcsn::MlpNcsn(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
                 const parallel::Comm& comm)
    : MlpDsm(ts, dspec, d, mlp, comm, true) {
  density_beta_ = 1.0 / ts.sigma.back();
  if (ts.sigma_input) density_sigma_ = ts.sigma.back();
}

const std::vector<std::string>& MlpNcsn::signature_keys() const {
  static const std::vector<std::string> keys = [this] {
    std::vector<std::string> k = MlpDsm::signature_keys();
    k.push_back("train.sigma_levels");
    return k;
  }();
  return keys;
}

void MlpNcsn::add_objective_json(JsonSummary& j) const {
  j.add("sigma", ts_.sigma);
  j.add("sigma_levels", std::int64_t(ts_.sigma.size()));
  if (ts_.sigma_input) j.add("ncsn_energy", "conditional");
  j.add("steps_per_level", ts_.annealed.steps_per_level);
  j.add("step_size", ts_.annealed.step_size);
}

void MlpNcsn::check(io::OutputFile* out) {
  if (!ts_.sigma_input) {
    Blockwise<models::Mlp<Space>> model{mlp_, b_, nloc_, ts_.deterministic};
    return check_with(model, out);
  }
  // Level 1 first: the annealed moves then start where the ladder does.
  models::NoiseConditionalMlp<Space> conditional(mlp_, ts_.sigma.front());
  BlockwiseConditional<models::NoiseConditionalMlp<Space>> model{{conditional, b_, nloc_, ts_.deterministic}};
  check_with(model, out);
}

template <class Model>
void MlpNcsn::check_with(Model& model, io::OutputFile* out) {
  const std::int64_t n = nloc_ * b_, s = ts_.steps;
  const parallel::ChainRange rows{D_ * b_, mine_.offset * b_, n};
  const samplers::SamplerSpec& a = ts_.annealed;
  const FreshState init{a.clamp, a.clamp_min, a.clamp_max, a.init_scale};
  // The samples: L · steps_per_level annealed Langevin moves from fresh states, M =
  // train.eval_samples chains (train.batch by default), M / D per data partition.
  const std::int64_t M = ts_.eval_samples > 0 ? ts_.eval_samples : ts_.batch, m = M / D_;
  const parallel::ChainRange srows{M, mine_.offset * m, nloc_ * m};
  model.b = m;
  samplers::Chains<Space> ch(srows, dim_, 1.0);
  fresh_rows(ch.x, srows.count, init, ts_.seed, srows.offset, kEvalStep | std::uint64_t(s));
  model.energy_and_grad(ch.x, ch.E, ch.g);
  const std::int64_t moves = a.steps_per_level * std::int64_t(a.sigmas.size());
  for (std::int64_t t = 1; t <= moves; ++t)
    samplers::annealed_langevin_step(model, ch, a, ts_.seed, std::int64_t(kEvalStep) + t);
  // Energies of batch run.steps's data rows and of fresh noise rows (a noise-conditional
  // energy at σ_L, where the moves end).
  model.b = b_;
  Matrix<Space> xd("zeta::train::eval_data", n, dim_);
  auto hd = Kokkos::create_mirror_view(xd);
  for_batch_rows(s, [&](std::int64_t r, std::uint64_t, const Real* v) {
    for (int i = 0; i < dim_; ++i) hd(r, i) = v[i];
  });
  Kokkos::deep_copy(xd, hd);
  Vector<Space> Ed("zeta::train::eval_data_energy", n), En("zeta::train::eval_noise_energy", n);
  model.energy(xd, Ed);
  Matrix<Space> noise("zeta::train::eval_noise", n, dim_);
  fresh_rows(noise, n, init, ts_.seed, rows.offset, kEvalStep | (std::uint64_t(1) << 60) | std::uint64_t(s));
  model.energy(noise, En);
  const auto ed = comm_.gather_chain_rows(host_copy(Ed), 1, rows);
  const auto em = comm_.gather_chain_rows(host_copy(ch.E), 1, srows);
  const auto ez = comm_.gather_chain_rows(host_copy(En), 1, rows);
  const auto xs = comm_.gather_chain_rows(host_copy(ch.x), dim_, srows);
  eval_ = EvalFigures{true, mean_of(ed), mean_of(em), mean_of(ez)};
  comm_.broadcast(eval_.data);
  comm_.broadcast(eval_.model);
  comm_.broadcast(eval_.noise);
  if (!out) return;
  const hsize_t B = hsize_t(ts_.batch);
  out->write_root_double("/eval/energy_data", {B}, ed.data());
  out->write_root_double("/eval/energy_model", {hsize_t(M)}, em.data());
  out->write_root_double("/eval/energy_noise", {B}, ez.data());
  out->write_root_double("/eval/samples", {hsize_t(M), hsize_t(dim_)}, xs.data());
}

}  // namespace zeta::training
