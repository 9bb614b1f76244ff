//! The one place where [model] keys become a concrete model (a std::variant);
//! drivers are templates instantiated per alternative with std::visit.
#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/net_params.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/double_well.hpp"
#include "zeta/models/gaussian.hpp"
#include "zeta/models/gmm.hpp"
#include "zeta/models/ising.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/models/net.hpp"
#include "zeta/models/net_arch.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/models/registry.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::models {

//! What models/registry.hpp's entries add to [model], ModelSpec and AnyModel.
template <class List>
struct Registry;
template <class... E>
struct Registry<ModelList<E...>> {
  //! The checked keys of the registered model a ModelSpec names (monostate: none).
  using Params = std::variant<std::monostate, typename E::Params...>;
  template <class Space>
  using Models = std::variant<typename E::template Model<Space>...>;
  static std::vector<std::string> types() { return {E::type...}; }
  static bool knows(const std::string& type) { return ((type == E::type) || ...); }
  static void declare_keys(Config& cfg) { (E::declare_keys(cfg), ...); }
  //! params and dim of the registered model `type`.
  static void read(const std::string& type, const Config& cfg, Params& params, int& dim) {
    auto one = [&](auto entry) {
      using Entry = decltype(entry);
      if (type != Entry::type) return;
      const auto p = Entry::read(cfg);
      dim = Entry::dim(p);
      params = p;
    };
    (one(E{}), ...);
  }
};
using ModelRegistry = Registry<RegisteredModels>;

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
  std::vector<int> layers;                                // mlp: model.layers
  Activation activation = Activation::silu;               // mlp
  int L = 0;                                              // ising: L×L periodic lattice
  double J = 1, h = 0;                                    // ising: coupling and field
  RbmKind rbm_kind = RbmKind::bernoulli;                  // rbm: visible units (model.visible)
  int hidden = 0;                                         // rbm: model.hidden
  std::vector<double> rbm_sigma;                          // rbm, gaussian visibles: one σ or one per visible
  NetArch net;                                            // net: model.net on model.input, shapes checked;
                                                          // an mlp of K >= 2 outputs: its layers as a net
  //! mlp: model.layers ends in K >= 2 (a classifier's logits, train.objective = jem; its
  //! energy −logsumexp f): Net runs it (`net` holds model.layers as linear layers), its
  //! parameters stay in the mlp's layout and files (/model/layer_l).
  bool mlp_logits = false;
  std::string params;                                     // model.params: mlp, rbm, net (read by load_model_params)
  std::uint32_t init_seed = 1;                            // model.init_seed (mlp, net, rbm without model.params)
  ModelRegistry::Params registered;                       // a registered model (models/registry.hpp)
  bool lattice() const { return type == "ising"; }
  //! Run by Net: a net, or an mlp of K >= 2 outputs.
  bool hosted_net() const { return type == "net" || mlp_logits; }
};

//! model.layers d_0, …, K as a net: linear(d_1) act … linear(K) on a flat input of d_0
//! (leaky_relu as lrelu(0.01)), θ laid out as Mlp's.
NetArch mlp_as_net(const std::vector<int>& layers, Activation act);

//! Reads and checks [model] (the keys only: model.params is read by load_model_params);
//! errors name the offending key.
ModelSpec read_model_spec(const Config& cfg);

//! A net's parameters: θ in Net's flat layout (io/net_params.hpp).
struct NetParams {
  std::vector<double> theta;
  std::vector<double> spectral;  //!< u, v of the sn layers (Net::spectral_state)
};

//! The parameters of an mlp, rbm or net (load_model_params); none for the other models,
//! and none for an rbm that zeta train starts from random parameters.
using ModelParams = std::variant<std::monostate, io::MlpParams, io::RbmParams, NetParams>;

//! What a command needs of model.params beyond its own consistency.
struct ParamsExpect {
  int visible = -1;            //!< rbm: the data's features (train), or -1: the file decides
  std::string data_path;       //!< named in that error
  //! zeta train: model.hidden / model.visible apply even when left at their defaults, and an
  //! rbm without model.params starts from random parameters (the trainer draws them from the data).
  bool training = false;
};

//! The one route of model.params: every rank reads the file through io/params
//! (mlp: /model/layer_l/{weight,bias}, shapes checked against model.layers; rbm:
//! /model/rbm/{W,b,c} and `kind`, with model.hidden / model.visible checked against it
//! when given explicitly or with expect.training, the visible size against the data, and
//! model.sigma for the file's kind). An mlp without model.params gets random weights from
//! model.init_seed; an rbm needs the file unless expect.training. A net's, and an mlp's of
//! K >= 2 outputs, come as NetParams (Net's flat θ, the mlp's layout). Collective: every rank
//! throws the same error (naming model.params and the file) when any rank fails.
ModelParams load_model_params(const Config& cfg, const ModelSpec& ms, const parallel::Comm& comm,
                              const ParamsExpect& expect = {});

//! The loaded parameters of kind P (io::MlpParams or io::RbmParams).
template <class P>
const P& loaded_params(const ModelParams& p) {
  if (const P* q = std::get_if<P>(&p)) return *q;
  throw Error("internal: the model's parameters were not loaded (load_model_params)", false);
}

//! Every continuous model: the built-in ones, then models/registry.hpp's.
template <class Space, class Registered = typename ModelRegistry::template Models<Space>>
struct AnyModelOf;
template <class Space, class... R>
struct AnyModelOf<Space, std::variant<R...>> {
  using type = std::variant<Gaussian<Space>, Gmm<Space>, DoubleWell<Space>, Mlp<Space>, Net<Space>, R...>;
};
template <class Space>
using AnyModel = typename AnyModelOf<Space>::type;

//! The registered model of `p` (a ModelSpec's `registered`).
template <class Space, class... E>
AnyModel<Space> make_registered(const typename Registry<ModelList<E...>>::Params& p, ModelList<E...>) {
  std::optional<AnyModel<Space>> out;
  auto one = [&](auto entry) {
    using Entry = decltype(entry);
    if (const auto* q = std::get_if<typename Entry::Params>(&p)) out.emplace(Entry::template make<Space>(*q));
  };
  (one(E{}), ...);
  if (!out) throw Error("internal: a model.type without a model", false);
  return std::move(*out);
}

//! Continuous models only; with_model below builds every kind. `p`: an mlp's
//! load_model_params.
template <class Space>
AnyModel<Space> make_model(const ModelSpec& s, const ModelParams& p = {}) {
  if (s.lattice()) config_error("model.type", "'" + s.type + "' is a lattice model: this command needs a continuous one");
  if (s.type == "rbm")
    config_error("model.type",
                 "'rbm' is sampled by block Gibbs, not by this command's continuous samplers (zeta sample, temper, "
                 "ais and train take it)");
  if (s.type == "gaussian") return make_gaussian<Space>(s.dim, s.mean, s.sigma);
  if (s.type == "gmm") return make_gmm<Space>(s.weights, s.means, s.variances);
  if (s.type == "double_well") return make_double_well<Space>(s.dim, s.barrier);
  if (s.type == "mlp" && !s.mlp_logits) return Mlp<Space>(loaded_params<io::MlpParams>(p), s.activation);
  if (s.hosted_net()) {
    const auto& q = loaded_params<NetParams>(p);
    Net<Space> net(s.net, q.theta, q.spectral);
    net.fix_chunk(16);  // a chain's bits independent of the rank count (Net::fix_chunk)
    return net;
  }
  return make_registered<Space>(s.registered, RegisteredModels{});
}

// RBMs: the parameters come from model.params (a zeta train output or checkpoint),
// the shape from the file.

//! The device model of `p` (σ from model.sigma for Gaussian visibles).
template <class Space>
Rbm<Space> make_rbm(const io::RbmParams& p, const ModelSpec& ms) {
  Rbm<Space> rbm(p.kind, p.visible, p.hidden, p.kind == RbmKind::gaussian ? ms.rbm_sigma : std::vector<double>{});
  rbm.set_params(p.flat());
  return rbm;
}

//! make_rbm for the sampling commands (sample, temper, ais), which keep θ fixed for
//! the whole run: W is packed once for the conditionals (Rbm::pack_weights).
template <class Space>
Rbm<Space> make_sampling_rbm(const io::RbmParams& p, const ModelSpec& ms) {
  Rbm<Space> rbm = make_rbm<Space>(p, ms);
  rbm.pack_weights();
  return rbm;
}

//! A trained RBM of model.params, ready to sample (W packed), with the visible biases
//! of its AIS base-rate model: the file's /model/rbm/base_bias (the training data's
//! marginals) or else the RBM's own visible biases.
template <class Space>
struct LoadedRbm {
  Rbm<Space> rbm;
  std::vector<double> base_bias;
};

//! The one model dispatch: builds the model [model] names and returns f(model), with
//! `model` an Ising<Space>, a LoadedRbm<Space> or one of AnyModel's continuous models;
//! `params`: load_model_params of `ms`. The model lives for the whole call.
template <class Space, class F>
decltype(auto) with_model(const ModelSpec& ms, const ModelParams& params, F&& f) {
  if (ms.lattice()) {
    Ising<Space> m(ms.L, ms.J, ms.h);
    return f(m);
  }
  if (ms.type == "rbm") {
    const io::RbmParams& p = loaded_params<io::RbmParams>(params);
    LoadedRbm<Space> m{make_sampling_rbm<Space>(p, ms), p.base_bias.empty() ? p.b : p.base_bias};
    return f(m);
  }
  auto model = make_model<Space>(ms, params);
  return std::visit([&](auto& m) -> decltype(auto) { return f(m); }, model);
}

}  // namespace zeta::models
