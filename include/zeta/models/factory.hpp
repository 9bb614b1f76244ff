//! The one place where [model] keys become a concrete model (a std::variant);
//! drivers are templates instantiated per alternative with std::visit.
#pragma once
#include <string>
#include <variant>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/models/double_well.hpp"
#include "zeta/models/gaussian.hpp"
#include "zeta/models/gmm.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/models/rbm.hpp"

namespace zeta {

//! Declares every [model] key with its default and documentation.
void declare_model_keys(Config& cfg);

//! Validated model settings read from the configuration (host only, no Kokkos).
struct ModelSpec {
  std::string type;
  int dim = 0;
  std::vector<double> mean, sigma;                        // gaussian
  std::vector<double> weights;                            // gmm
  std::vector<std::vector<double>> means, variances;      // gmm
  double barrier = 1;                                     // double_well
  MlpParams mlp;                                          // mlp (layers + values)
  Activation activation = Activation::silu;               // mlp
  int L = 0;                                              // ising: L×L periodic lattice
  double J = 1, h = 0;                                    // ising: coupling and field
  RbmKind rbm_kind = RbmKind::bernoulli;                  // rbm: visible units (model.visible)
  int hidden = 0;                                         // rbm: model.hidden
  std::vector<double> rbm_sigma;                          // rbm, gaussian visibles: one σ or one per visible
  std::string params;                                     // model.params (rbm: read by apps::load_rbm_params,
                                                          // or by the trainer, which checks the data dimension)
  std::uint32_t init_seed = 1;                            // model.init_seed
  bool lattice() const { return type == "ising"; }
};

//! Reads and checks [model]; errors name the offending key or file.
ModelSpec read_model_spec(const Config& cfg);

template <class Space>
using AnyModel = std::variant<Gaussian<Space>, Gmm<Space>, DoubleWell<Space>, Mlp<Space>>;

//! Continuous models only; lattice models (ising) are built by their drivers.
template <class Space>
AnyModel<Space> make_model(const ModelSpec& s) {
  if (s.lattice()) config_error("model.type", "'" + s.type + "' is a lattice model: this command needs a continuous one");
  if (s.type == "rbm")
    config_error("model.type",
                 "'rbm' is sampled by block Gibbs, not by this command's continuous samplers (zeta sample, temper, "
                 "ais and train take it)");
  if (s.type == "gaussian") return make_gaussian<Space>(s.dim, s.mean, s.sigma);
  if (s.type == "gmm") return make_gmm<Space>(s.weights, s.means, s.variances);
  if (s.type == "double_well") return make_double_well<Space>(s.dim, s.barrier);
  return Mlp<Space>(s.mlp, s.activation);
}

}  // namespace zeta
