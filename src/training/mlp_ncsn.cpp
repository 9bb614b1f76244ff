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

//! An Mlp whose batched calls run partition-sized blocks of `b` rows: every GEMM then has
//! the same rows on any rank count (float sgemm is not row-stable).
struct Blockwise {
  using space = Kokkos::DefaultExecutionSpace;
  models::Mlp<space>& m;
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

}  // namespace

void declare_ncsn_keys(Config& cfg) {
  cfg.declare("train.sigma_levels", "0",
              "ncsn: 0 = train.sigma is the decreasing noise ladder; L >= 2 = train.sigma is 'sigma_1,sigma_L' and the "
              "L levels are geometric between them");
  cfg.declare("sampler.steps_per_level", "100",
              "ncsn: annealed Langevin moves per noise level of the eval samples drawn after training (step size "
              "sampler.step_size * (sigma_i/sigma_L)^2; sampler.type = annealed_langevin, or its default)");
}

void read_ncsn_keys(const Config& cfg, TrainSpec& ts) {
  if (!ts.ncsn) {
    // Off their defaults (a resolved configuration, which lists every key, runs as it is).
    for (const char* key : {"train.sigma_levels", "sampler.steps_per_level"})
      if (cfg.differs_from_default(key)) config_error(key, "applies to train.objective = ncsn only");
    return;
  }
  ts.sigma = samplers::read_sigma_ladder(cfg, "train.sigma", "train.sigma_levels", 2);
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
  j.add("steps_per_level", ts_.annealed.steps_per_level);
  j.add("step_size", ts_.annealed.step_size);
}

void MlpNcsn::check(io::OutputFile* out) {
  const std::int64_t n = nloc_ * b_, s = ts_.steps;
  const parallel::ChainRange rows{D_ * b_, mine_.offset * b_, n};
  Blockwise model{mlp_, b_, nloc_, ts_.deterministic};
  const samplers::SamplerSpec& a = ts_.annealed;
  const FreshState init{a.clamp, a.clamp_min, a.clamp_max, a.init_scale};
  // The samples: L · steps_per_level annealed Langevin moves from fresh states.
  samplers::Chains<Space> ch(rows, dim_, 1.0);
  fresh_rows(ch.x, n, init, ts_.seed, rows.offset, kEvalStep | std::uint64_t(s));
  model.energy_and_grad(ch.x, ch.E, ch.g);
  const std::int64_t moves = a.steps_per_level * std::int64_t(a.sigmas.size());
  for (std::int64_t t = 1; t <= moves; ++t)
    samplers::annealed_langevin_step(model, ch, a, ts_.seed, std::int64_t(kEvalStep) + t);
  // Energies of batch run.steps's data rows and of fresh noise rows.
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
  const auto em = comm_.gather_chain_rows(host_copy(ch.E), 1, rows);
  const auto ez = comm_.gather_chain_rows(host_copy(En), 1, rows);
  const auto xs = comm_.gather_chain_rows(host_copy(ch.x), dim_, rows);
  eval_ = EvalFigures{true, mean_of(ed), mean_of(em), mean_of(ez)};
  comm_.broadcast(eval_.data);
  comm_.broadcast(eval_.model);
  comm_.broadcast(eval_.noise);
  if (!out) return;
  const hsize_t B = hsize_t(ts_.batch);
  out->write_root_double("/eval/energy_data", {B}, ed.data());
  out->write_root_double("/eval/energy_model", {B}, em.data());
  out->write_root_double("/eval/energy_noise", {B}, ez.data());
  out->write_root_double("/eval/samples", {B, hsize_t(dim_)}, xs.data());
}

}  // namespace zeta::training
