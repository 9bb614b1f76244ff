#include "zeta/models/factory.hpp"

#include <cmath>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/net.hpp"

namespace zeta::models {

Activation parse_activation(const std::string& name) {
  if (name == "silu") return Activation::silu;
  if (name == "softplus") return Activation::softplus;
  if (name == "leaky_relu") return Activation::leaky_relu;
  config_error("model.activation", "must be one of silu, softplus, leaky_relu; got '" + name + "'");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::silu: return "silu";
    case Activation::softplus: return "softplus";
    case Activation::leaky_relu: return "leaky_relu";
  }
  return "?";
}

namespace {
std::vector<std::string> model_types() {
  std::vector<std::string> t = {"gaussian", "gmm", "double_well", "mlp", "net", "ising", "rbm"};
  for (const auto& r : ModelRegistry::types()) t.push_back(r);
  return t;
}
std::string model_types_help() {
  std::string h;
  for (const auto& t : model_types()) h += (h.empty() ? "" : " | ") + t;
  return h;
}
}  // namespace

void declare_model_keys(Config& cfg) {
  cfg.declare("model.type", "gaussian", model_types_help());
  cfg.declare("model.dim", "2", "dimension (gaussian, double_well)");
  cfg.declare("model.sigma", "1",
              "gaussian: standard deviation, one value or one per dimension; rbm with gaussian visibles: the "
              "visible units' fixed sigma, one value or one per visible unit");
  cfg.declare("model.mean", "0", "gaussian: mean, one value or one per dimension");
  cfg.declare("model.weights", "", "gmm: component weights, e.g. 0.3,0.7 (normalised)");
  cfg.declare("model.means", "", "gmm: component means, components separated by ';', e.g. -2,0; 2,0");
  cfg.declare("model.variances", "1",
              "gmm: diagonal variances: one value, one per component (';'), or a full list like means");
  cfg.declare("model.barrier", "1", "double_well: barrier height h in h (x0^2 - 1)^2 + |x_rest|^2 / 2");
  cfg.declare("model.layers", "2,64,64,1",
              "mlp: layer sizes from input to the scalar output (1), or to K >= 2 logits f(x) of a classifier "
              "(train.objective = jem; its energy is -logsumexp f(x))");
  cfg.declare("model.activation", "silu", "mlp: silu | softplus | leaky_relu");
  cfg.declare("model.net", "",
              "net: the layers from input to the scalar energy, PyTorch's nn.Sequential in order, e.g. "
              "'conv(64,4,2,1) lrelu(0.2) conv(128,4,2,1) lrelu(0.2) flatten linear(256) lrelu(0.2) linear(1)': "
              "conv(out,kernel[,stride[,padding]]) linear(out) flatten avgpool(kernel) groupnorm(groups) "
              "lrelu(slope) relu silu softplus; sn_conv(...) and sn_linear(...) are spectrally normalised; "
              "res( ... ) is a residual block y = x + F(x) (docs/net.md)");
  cfg.declare("model.input", "1,28,28", "net: the input's shape, C,H,W (rows in NCHW order, as PyTorch's) or N (flat)");
  cfg.declare("model.init_seed", "1", "mlp, net, rbm: seed of the random initial weights (when model.params is empty)");
  cfg.declare("model.L", "16", "ising: linear size of the periodic L x L lattice (even, >= 2)");
  cfg.declare("model.J", "1", "ising: coupling J in E = -J sum_<ij> s_i s_j - h sum_i s_i");
  cfg.declare("model.h", "0", "ising: external field h");
  cfg.declare("model.hidden", "64",
              "rbm: number of hidden units (sample, temper, ais: taken from model.params, checked when given)");
  cfg.declare("model.visible", "bernoulli",
              "rbm: bernoulli | gaussian visible units (their number comes from the data or model.params; sample, "
              "temper, ais: the kind comes from model.params, checked when given)");
  cfg.declare("model.params", "",
              "initial / trained parameters: mlp /model/layer_i/{weight,bias}; net /model/net/layer_i/{weight,bias}; rbm /model/rbm/{W,b,c} (e.g. a zeta "
              "train output or checkpoint; zeta sample, temper and ais need it)");
  ModelRegistry::declare_keys(cfg);
}

namespace {
std::vector<std::vector<double>> read_rows(const Config& cfg, const std::string& key) {
  std::vector<std::vector<double>> rows;
  for (const auto& part : split(cfg.get_string(key), ';')) {
    std::vector<double> row;
    for (const auto& item : split(part, ',')) {
      try {
        std::size_t used = 0;
        row.push_back(std::stod(item, &used));
        if (used != item.size()) throw std::invalid_argument(item);
      } catch (const std::exception&) {
        config_error(key, "expected numbers, got '" + item + "'");
      }
    }
    rows.push_back(row);
  }
  return rows;
}

std::vector<double> per_dim(const Config& cfg, const std::string& key, int dim, bool positive) {
  auto v = cfg.get_doubles(key);
  if (v.size() != 1 && static_cast<int>(v.size()) != dim)
    config_error(key, "needs 1 or model.dim = " + std::to_string(dim) + " values, got " + std::to_string(v.size()));
  if (positive)
    for (double s : v)
      if (!(s > 0)) config_error(key, "values must be > 0");
  return v;
}
}  // namespace

namespace {
//! What the last layer of an mlp or net must leave: K >= 2 logits for train.objective =
//! jem, one energy for the other objectives, either for the commands that do not train.
NetOutputs wanted_outputs(const Config& cfg) {
  if (!cfg.declared("train.objective")) return NetOutputs::either;
  return cfg.get_string("train.objective") == "jem" ? NetOutputs::logits : NetOutputs::energy;
}
}  // namespace

NetArch mlp_as_net(const std::vector<int>& layers, Activation act) {
  const char* a = act == Activation::silu ? "silu" : act == Activation::softplus ? "softplus" : "lrelu(0.01)";
  std::string text;
  for (std::size_t l = 1; l < layers.size(); ++l) {
    if (l > 1) text += std::string(" ") + a + " ";
    text += "linear(" + std::to_string(layers[l]) + ")";
  }
  NetArch arch = parse_net(text, {layers.front()}, NetOutputs::either);
  arch.model = "mlp";
  return arch;
}

ModelSpec read_model_spec(const Config& cfg) {
  ModelSpec s;
  s.type = cfg.get_choice("model.type", model_types());
  if (ModelRegistry::knows(s.type)) {
    ModelRegistry::read(s.type, cfg, s.registered, s.dim);
    return s;
  }
  if (s.type == "rbm") {
    const auto nh = cfg.get_int_at_least("model.hidden", 1);
    if (nh > (1 << 24)) config_error("model.hidden", "is impossibly large");
    s.hidden = static_cast<int>(nh);
    s.rbm_kind = cfg.get_choice("model.visible", {"bernoulli", "gaussian"}) == "gaussian" ? RbmKind::gaussian
                                                                                          : RbmKind::bernoulli;
    s.params = cfg.get_string("model.params");
    // With model.params the kind may come from the file (load_model_params checks σ against it).
    const bool kind_from_file = !s.params.empty() && !cfg.differs_from_default("model.visible");
    if (s.rbm_kind == RbmKind::gaussian || kind_from_file) {
      s.rbm_sigma = cfg.get_doubles("model.sigma");
      if (s.rbm_sigma.empty()) config_error("model.sigma", "needs one value or one per visible unit");
      for (double v : s.rbm_sigma)
        if (!(v > 0) || !std::isfinite(v)) config_error("model.sigma", "values must be positive and finite");
    } else if (cfg.differs_from_default("model.sigma")) {
      config_error("model.sigma", "only applies to model.visible = gaussian");
    }
    s.init_seed = static_cast<std::uint32_t>(cfg.get_int_at_least("model.init_seed", 0));
    return s;
  }
  if (s.type == "ising") {
    const auto L = cfg.get_int_at_least("model.L", 2);
    if (L % 2 != 0) config_error("model.L", "must be even (checkerboard updates), got " + std::to_string(L));
    if (L > 46340) config_error("model.L", "is impossibly large");
    s.L = static_cast<int>(L);
    s.dim = s.L * s.L;
    s.J = cfg.get_double("model.J");
    s.h = cfg.get_double("model.h");
    return s;
  }
  if (s.type == "net") {
    s.net = parse_net(cfg.get_string("model.net"), cfg.get_ints("model.input"), wanted_outputs(cfg));
    s.dim = s.net.dim();
    s.params = cfg.get_string("model.params");
    s.init_seed = static_cast<std::uint32_t>(cfg.get_int_at_least("model.init_seed", 0));
    return s;
  }
  if (s.type == "gaussian" || s.type == "double_well") {
    s.dim = static_cast<int>(cfg.get_int_at_least("model.dim", 1));
  }
  if (s.type == "gaussian") {
    s.sigma = per_dim(cfg, "model.sigma", s.dim, true);
    s.mean = per_dim(cfg, "model.mean", s.dim, false);
  } else if (s.type == "double_well") {
    s.barrier = cfg.get_positive("model.barrier");
  } else if (s.type == "gmm") {
    s.weights = cfg.get_doubles("model.weights");
    if (s.weights.empty()) config_error("model.weights", "gmm needs at least one weight");
    for (double w : s.weights)
      if (!(w > 0)) config_error("model.weights", "weights must be > 0");
    s.means = read_rows(cfg, "model.means");
    const std::size_t k = s.weights.size();
    if (s.means.size() != k)
      config_error("model.means", "has " + std::to_string(s.means.size()) + " components but model.weights has " +
                                      std::to_string(k));
    s.dim = static_cast<int>(s.means[0].size());
    if (s.dim < 1) config_error("model.means", "components need at least one coordinate");
    for (const auto& m : s.means)
      if (static_cast<int>(m.size()) != s.dim) config_error("model.means", "components differ in dimension");
    auto v = read_rows(cfg, "model.variances");
    s.variances.assign(k, std::vector<double>(s.dim, 0));
    for (std::size_t j = 0; j < k; ++j)
      for (int i = 0; i < s.dim; ++i) {
        double x;
        if (v.size() == 1 && v[0].size() == 1) x = v[0][0];
        else if (v.size() == k && v[j].size() == 1) x = v[j][0];
        else if (v.size() == k && static_cast<int>(v[j].size()) == s.dim) x = v[j][i];
        else config_error("model.variances", "needs one value, one per component, or one per component and dimension");
        if (!(x > 0)) config_error("model.variances", "values must be > 0");
        s.variances[j][i] = x;
      }
  } else {  // mlp
    std::vector<int> layers;
    for (auto n : cfg.get_ints("model.layers")) {
      if (n < 1) config_error("model.layers", "sizes must be >= 1");
      layers.push_back(static_cast<int>(n));
    }
    const NetOutputs want = wanted_outputs(cfg);
    if (layers.size() < 2 || (want == NetOutputs::energy && layers.back() != 1))
      config_error("model.layers", "must list at least two sizes and end in 1 (a scalar energy)");
    if (want == NetOutputs::logits && layers.back() < 2)
      config_error("model.layers", "ends in " + std::to_string(layers.back()) +
                                       "; train.objective = jem needs K >= 2 logits per row: end in K (e.g. 784,256,10)");
    s.dim = layers.front();
    s.activation = parse_activation(cfg.get_string("model.activation"));
    if (layers.back() >= 2) {
      s.mlp_logits = true;
      s.net = mlp_as_net(layers, s.activation);
    }
    s.layers = layers;
    s.params = cfg.get_string("model.params");
    if (s.params.empty()) s.init_seed = static_cast<std::uint32_t>(cfg.get_int_at_least("model.init_seed", 0));
  }
  return s;
}

namespace {
//! Why an rbm's model.params does not fit the keys or the data ("" when it fits).
std::string rbm_mismatch(const Config& cfg, const ModelSpec& ms, const io::RbmParams& p, const ParamsExpect& expect) {
  if (expect.visible >= 0 && p.visible != expect.visible)
    return "model.params: '" + ms.params + "' has W [" + std::to_string(p.visible) + ", " + std::to_string(p.hidden) +
           "] for " + std::to_string(p.visible) + " visible units, but the data (" + "data.path '" +
           expect.data_path + "') has " + std::to_string(expect.visible) + " features";
  if ((expect.training || cfg.differs_from_default("model.hidden")) && p.hidden != ms.hidden)
    return "model.hidden = " + std::to_string(ms.hidden) + " but model.params '" + ms.params + "' has " +
           std::to_string(p.hidden) + " hidden units";
  if ((expect.training || cfg.differs_from_default("model.visible")) && p.kind != ms.rbm_kind)
    return std::string("model.visible = ") + rbm_kind_name(ms.rbm_kind) + " but model.params '" + ms.params +
           "' holds a " + rbm_kind_name(p.kind) + " RBM";
  if (p.kind == RbmKind::bernoulli && cfg.differs_from_default("model.sigma"))
    return "model.sigma only applies to Gaussian visibles, but model.params '" + ms.params + "' holds a bernoulli RBM";
  if (p.kind == RbmKind::gaussian && ms.rbm_sigma.size() != 1 && int(ms.rbm_sigma.size()) != p.visible)
    return "model.sigma needs 1 or " + std::to_string(p.visible) + " values for '" + ms.params + "'";
  return "";
}
}  // namespace

namespace {
//! A net's θ (or an mlp's of K outputs): random (model.init_seed) or model.params, checked on every rank.
ModelParams load_net_params(const ModelSpec& ms, const parallel::Comm& comm) {
  using HostNet = Net<Kokkos::DefaultHostExecutionSpace>;
  // An mlp of K outputs: Net's flat θ is the mlp's (per layer W [out, in] then b), with
  // the mlp's draws and files (and no sn layers).
  if (ms.params.empty() && ms.mlp_logits)
    return NetParams{Mlp<Kokkos::DefaultHostExecutionSpace>::random_params(ms.layers, ms.init_seed).flat(), {}};
  if (ms.params.empty())
    return NetParams{HostNet::random_params(ms.net, ms.init_seed), HostNet::random_spectral(ms.net, ms.init_seed)};
  NetParams p;
  std::string why;
  try {
    if (ms.mlp_logits) {
      p.theta = io::read_mlp_params(ms.params, ms.layers).flat();
    } else {
      p.theta = io::read_net_params(ms.params, ms.net, &p.spectral);
      // A file without u, v (trained without sn): PyTorch's fresh start for them.
      if (p.spectral.empty()) p.spectral = HostNet::random_spectral(ms.net, ms.init_seed);
    }
  } catch (const std::exception& e) {
    why = e.what();
    if (why.rfind("model.", 0) != 0) why = "model.params: " + why;
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
  return p;
}
}  // namespace

ModelParams load_model_params(const Config& cfg, const ModelSpec& ms, const parallel::Comm& comm,
                              const ParamsExpect& expect) {
  const bool mlp = ms.type == "mlp";
  if (ms.hosted_net()) return load_net_params(ms, comm);
  if (!mlp && ms.type != "rbm") return {};
  if (ms.params.empty()) {
    if (mlp) return Mlp<Kokkos::DefaultHostExecutionSpace>::random_params(ms.layers, ms.init_seed);
    if (expect.training) return {};  // training::initial_rbm draws them from the data
    config_error("model.params", "model.type = rbm needs trained parameters (a zeta train output or checkpoint)");
  }
  ModelParams p;
  std::string why;
  try {
    if (mlp) {
      p = io::read_mlp_params(ms.params, ms.layers);
    } else {
      io::RbmParams rbm = io::read_rbm_params(ms.params);
      why = rbm_mismatch(cfg, ms, rbm, expect);
      p = std::move(rbm);
    }
  } catch (const std::exception& e) {
    // The reader's error names the file; a key too, unless it names one already.
    why = e.what();
    if (why.rfind("model.", 0) != 0) why = "model.params: " + why;
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
  return p;
}

}  // namespace zeta::models
