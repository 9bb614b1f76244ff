//! `zeta eval` (also `zeta evaluate`): energies of every row of a data set under a trained
//! model, optionally ‖∇x E‖, and with eval.other the out-of-distribution AUROC of the
//! energy (estimators/energy_eval.hpp); HDF5 output with /eval/... and the JSON line.
#include <Kokkos_Core.hpp>
#include <memory>

#include "apps/apps.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/estimators/energy_eval.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/factory.hpp"

namespace zeta::apps {

void declare_eval_app_keys(Config& cfg) {
  cfg.declare("run.seed", "1", "seed of the counter-based RNG (eval.other = noise, data.binarize = stochastic)");
  declare_progress_key(cfg);
  models::declare_model_keys(cfg);
  data::declare_data_keys(cfg);
  estimators::declare_eval_keys(cfg);
  cfg.declare("output.file", "zeta_eval.h5", "HDF5 output file (empty = none)");
  io::declare_output_backups_key(cfg);
}

EvalResult evaluate(const Config& cfg, const parallel::Comm& comm) {
  Kokkos::Timer timer;
  // Bad keys before the output exists: evaluate() reads them again, with the files.
  (void)models::read_model_spec(cfg);
  (void)data::read_data_spec(cfg);
  (void)estimators::read_eval_spec(cfg);
  io::apply_output_backups(cfg);
  const std::string file = cfg.get_string("output.file");
  std::unique_ptr<io::OutputFile> out;
  if (!file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, file);
    io::write_root_attributes(*out, "eval", cfg, comm);
  }
  JsonSummary figures;
  EvalResult r;
  static_cast<estimators::EvalResult&>(r) = estimators::evaluate(cfg, comm, out.get(), figures);
  r.wall_s = timer.seconds();
  io::add_json_header(r.json, "eval", "ok", r.wall_s, comm, cfg.get_string("model.type"), "none");
  r.json.append(figures);
  if (out) r.output = io::publish(*out, r.json, comm);
  return r;
}

}  // namespace zeta::apps
