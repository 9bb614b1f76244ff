//! The objective tables of training/objectives.hpp.
#include "zeta/training/objectives.hpp"

#include <memory>
#include <vector>

#include "zeta/models/mlp.hpp"
#include "zeta/models/net.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/training/jem.hpp"
#include "zeta/training/mlp_contrastive.hpp"
#include "zeta/training/mlp_dsm.hpp"
#include "zeta/training/mlp_nce.hpp"
#include "zeta/training/mlp_ncsn.hpp"
#include "zeta/training/mlp_short_run.hpp"
#include "zeta/training/mlp_ssm.hpp"
#include "zeta/training/mlp_tempered.hpp"
#include "zeta/training/net_contrastive.hpp"
#include "zeta/training/net_dsm.hpp"
#include "zeta/training/rbm_contrastive.hpp"
#include "zeta/training/rbm_tempered.hpp"

namespace zeta::training {

namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Made = std::unique_ptr<Objective>;

//! What a builder gets besides the model: the setup, the data, the RBM's base-rate
//! visible bias (empty for the other kinds) and the communicator.
struct Inputs {
  const TrainSetup& setup;
  const data::Dataset& d;
  const std::vector<double>& base_bias;
  const parallel::Comm& comm;
};

template <class Model>
struct Entry {
  bool TrainSpec::*flag;  //!< nullptr: the kind's default
  Made (*make)(const Inputs&, Model&);
};

template <class Model>
Made build(const Entry<Model>* table, std::size_t n, const Inputs& in, Model& model) {
  for (std::size_t i = 0; i < n; ++i)
    if (!table[i].flag || in.setup.train.*(table[i].flag)) return table[i].make(in, model);
  return nullptr;  // unreachable: each table ends with its default
}

// The objectives' constructors come in three shapes.
template <class T, class Model>
Made with_data_spec(const Inputs& in, Model& m) {
  return std::make_unique<T>(in.setup.train, in.setup.data, in.d, m, in.comm);
}
template <class T, class Model>
Made with_data(const Inputs& in, Model& m) {
  return std::make_unique<T>(in.setup.train, in.d, m, in.comm);
}
template <class T, class Model>
Made with_base_bias(const Inputs& in, Model& m) {
  return std::make_unique<T>(in.setup.train, in.d, m, in.base_bias, in.comm);
}

using Mlp = models::Mlp<Space>;
using Net = models::Net<Space>;

//! JEM's: an mlp of K outputs that Net runs (ModelSpec::mlp_logits) keeps the mlp's files.
Made jem_objective(const Inputs& in, Net& m) {
  const models::ModelSpec& ms = in.setup.model;
  return std::make_unique<JemObjective>(in.setup.train, in.setup.data, in.d, m, in.comm,
                                        ms.mlp_logits ? ms.layers : std::vector<int>{});
}

using Rbm = models::Rbm<Space>;

// ncsn before dsm: a noise-conditional run sets both flags.
const Entry<Mlp> kMlp[] = {
    {&TrainSpec::ncsn, with_data_spec<MlpNcsn, Mlp>},
    {&TrainSpec::dsm, with_data_spec<MlpDsm, Mlp>},
    {&TrainSpec::nce, with_data_spec<MlpNce, Mlp>},
    {&TrainSpec::ssm, with_data_spec<MlpSsm, Mlp>},
    {&TrainSpec::short_run, with_data_spec<MlpShortRunCd, Mlp>},
    {&TrainSpec::pt_pcd, with_data_spec<MlpTempered, Mlp>},
    {nullptr, with_data_spec<MlpContrastive, Mlp>},
};
const Entry<Net> kNet[] = {
    {&TrainSpec::jem, jem_objective},
    {&TrainSpec::dsm, with_data<NetDsm, Net>},
    {nullptr, with_data<NetContrastive, Net>},
};
const Entry<Rbm> kRbm[] = {
    {&TrainSpec::pt_pcd, with_base_bias<RbmTempered, Rbm>},
    {nullptr, with_base_bias<RbmContrastive, Rbm>},
};

template <class Model, std::size_t N>
TrainResult run_table(const Entry<Model> (&table)[N], const Inputs& in, Model& model,
                      const std::function<TrainResult(Objective&)>& run) {
  const Made objective = build(table, N, in, model);
  return run(*objective);
}

}  // namespace

TrainResult with_objective(const TrainSetup& setup, const data::Dataset& d, const models::ModelParams& params,
                           const parallel::Comm& comm, const std::function<TrainResult(Objective&)>& run) {
  std::vector<double> base_bias;
  const Inputs in{setup, d, base_bias, comm};
  if (setup.mlp()) {
    Mlp mlp(models::loaded_params<io::MlpParams>(params), setup.model.activation);
    return run_table(kMlp, in, mlp, run);
  }
  if (setup.net()) {
    const auto& p = models::loaded_params<models::NetParams>(params);
    Net net(setup.model.net, p.theta, p.spectral);
    return run_table(kNet, in, net, run);
  }
  Rbm rbm = initial_rbm(setup, d, params, comm, base_bias);
  return run_table(kRbm, in, rbm, run);
}

}  // namespace zeta::training
