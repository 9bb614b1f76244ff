#include "zeta/io/params.hpp"

#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::io {

namespace {
std::string shape_str(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

//! Where a model kind keeps its parameters.
struct Layout {
  const char* type;   //!< model.type
  const char* group;  //!< present in every file of this kind
  const char* names;  //!< the datasets, for the error
};
constexpr Layout kMlpLayout{"mlp", "/model/layer_0", "/model/layer_l/{weight,bias}"};
constexpr Layout kRbmLayout{"rbm", "/model/rbm", "/model/rbm/{W,b,c}"};

//! Refuses a file that holds the other kind's parameters (an rbm's for an mlp, or the
//! reverse) with an error naming model.params, the file and what it holds.
void expect_layout(const std::string& file, const Layout& want, const Layout& other) {
  Handle f = open_read(file);
  if (exists(f.id(), want.group) || !exists(f.id(), other.group)) return;
  throw Error("model.params: '" + file + "' holds " + other.type + " parameters (" + other.names +
              "), but model.type = " + want.type + " reads " + want.names);
}
}  // namespace

MlpParams read_mlp_params(const std::string& file, const std::vector<int>& layers) {
  expect_layout(file, kMlpLayout, kRbmLayout);
  MlpParams p;
  p.layers = layers;
  for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
    const std::string base = "/model/layer_" + std::to_string(l);
    std::vector<hsize_t> wd, bd;
    auto w = read_doubles(file, base + "/weight", wd);
    auto b = read_doubles(file, base + "/bias", bd);
    const std::vector<hsize_t> want_w{hsize_t(layers[l + 1]), hsize_t(layers[l])}, want_b{hsize_t(layers[l + 1])};
    if (wd != want_w)
      throw Error("model.params: '" + file + "' " + base + "/weight has shape " + shape_str(wd) +
                  " but model.layers needs " + shape_str(want_w));
    if (bd != want_b)
      throw Error("model.params: '" + file + "' " + base + "/bias has shape " + shape_str(bd) +
                  " but model.layers needs " + shape_str(want_b));
    for (double v : w)
      if (!std::isfinite(v)) throw Error("model.params: '" + file + "' " + base + "/weight holds NaN or Inf");
    for (double v : b)
      if (!std::isfinite(v)) throw Error("model.params: '" + file + "' " + base + "/bias holds NaN or Inf");
    p.weight.push_back(std::move(w));
    p.bias.push_back(std::move(b));
  }
  Handle f = open_read(file);
  const std::string extra = "/model/layer_" + std::to_string(layers.size() - 1);
  if (exists(f.id(), extra))
    throw Error("model.params: '" + file + "' has more layers than model.layers lists (found " + extra + ")");
  return p;
}

void write_mlp_params(hid_t f, const MlpParams& p) {
  for (std::size_t l = 0; l + 1 < p.layers.size(); ++l) {
    const std::string base = "/model/layer_" + std::to_string(l);
    write_doubles(f, base + "/weight", {hsize_t(p.layers[l + 1]), hsize_t(p.layers[l])}, p.weight[l].data());
    write_doubles(f, base + "/bias", {hsize_t(p.layers[l + 1])}, p.bias[l].data());
  }
}

void write_mlp_params(const std::string& file, const MlpParams& p) {
  Handle f = create_serial(file);
  write_mlp_params(f.id(), p);
}

std::vector<double> RbmParams::flat() const {
  std::vector<double> t(W);
  t.insert(t.end(), b.begin(), b.end());
  t.insert(t.end(), c.begin(), c.end());
  return t;
}

RbmParams RbmParams::from_flat(models::RbmKind kind, int visible, int hidden, const std::vector<double>& theta) {
  const std::size_t nw = std::size_t(visible) * hidden;
  if (theta.size() != nw + visible + hidden) throw Error("internal: rbm parameter vector has the wrong length", false);
  RbmParams p;
  p.kind = kind;
  p.visible = visible;
  p.hidden = hidden;
  p.W.assign(theta.begin(), theta.begin() + nw);
  p.b.assign(theta.begin() + nw, theta.begin() + nw + visible);
  p.c.assign(theta.begin() + nw + visible, theta.end());
  return p;
}

RbmParams read_rbm_params(const std::string& file) {
  expect_layout(file, kRbmLayout, kMlpLayout);
  RbmParams p;
  std::vector<hsize_t> wd, bd, cd;
  p.W = read_doubles(file, "/model/rbm/W", wd);
  p.b = read_doubles(file, "/model/rbm/b", bd);
  p.c = read_doubles(file, "/model/rbm/c", cd);
  if (wd.size() != 2 || bd != std::vector<hsize_t>{wd[0]} || cd != std::vector<hsize_t>{wd[1]})
    throw Error("model.params: '" + file + "' /model/rbm has W " + shape_str(wd) + ", b " + shape_str(bd) + ", c " +
                shape_str(cd) + ": expected W [visible, hidden], b [visible], c [hidden]");
  p.visible = int(wd[0]);
  p.hidden = int(wd[1]);
  Handle f = open_read(file);
  if (exists(f.id(), "/model/rbm/base_bias")) {
    std::vector<hsize_t> ad;
    p.base_bias = read_doubles(file, "/model/rbm/base_bias", ad);
    if (ad != std::vector<hsize_t>{wd[0]})
      throw Error("model.params: '" + file + "' /model/rbm/base_bias has shape " + shape_str(ad) + ", expected [" +
                  std::to_string(wd[0]) + "]");
  }
  for (const auto* v : {&p.W, &p.b, &p.c, &p.base_bias})
    for (double x : *v)
      if (!std::isfinite(x)) throw Error("model.params: '" + file + "' /model/rbm holds NaN or Inf");
  Handle g(H5Gopen2(f.id(), "/model/rbm", H5P_DEFAULT), H5Gclose);
  if (g.id() < 0) throw Error("model.params: cannot open /model/rbm in '" + file + "'");
  std::string kind;
  try {
    kind = read_string_attribute(g.id(), file, "kind");
  } catch (const std::exception&) {
    throw Error("model.params: '" + file + "' /model/rbm has no attribute kind (bernoulli | gaussian)");
  }
  try {
    p.kind = models::parse_rbm_kind(kind);
  } catch (const std::exception& e) {
    throw Error("model.params: '" + file + "' /model/rbm: " + e.what());
  }
  return p;
}

void write_rbm_params(hid_t file, const RbmParams& p) {
  write_doubles(file, "/model/rbm/W", {hsize_t(p.visible), hsize_t(p.hidden)}, p.W.data());
  write_doubles(file, "/model/rbm/b", {hsize_t(p.visible)}, p.b.data());
  write_doubles(file, "/model/rbm/c", {hsize_t(p.hidden)}, p.c.data());
  if (!p.base_bias.empty()) write_doubles(file, "/model/rbm/base_bias", {hsize_t(p.visible)}, p.base_bias.data());
  Handle g(H5Gopen2(file, "/model/rbm", H5P_DEFAULT), H5Gclose);
  if (g.id() < 0) throw Error("cannot open /model/rbm to write its kind", false);
  write_string_attribute(g.id(), "kind", models::rbm_kind_name(p.kind));
}

void write_rbm_params(const std::string& file, const RbmParams& p) {
  Handle f = create_serial(file);
  write_rbm_params(f.id(), p);
}

void write_mlp_params(OutputFile& out, const MlpParams& p) {
  for (std::size_t l = 0; l + 1 < p.layers.size(); ++l) {
    const std::string base = "/model/layer_" + std::to_string(l);
    out.write_root_double(base + "/weight", {hsize_t(p.layers[l + 1]), hsize_t(p.layers[l])}, p.weight[l].data());
    out.write_root_double(base + "/bias", {hsize_t(p.layers[l + 1])}, p.bias[l].data());
    out.describe(base + "/weight", "1", "weights of layer " + std::to_string(l) + ": its outputs from its inputs",
                 {"output", "input"});
    out.describe(base + "/bias", "1", "biases of layer " + std::to_string(l) + "'s outputs", {"output"});
  }
}

std::vector<double> read_mlp_theta(hid_t f, const std::string& file, const std::vector<int>& layers) {
  std::vector<double> theta;
  for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
    const std::string base = "/model/layer_" + std::to_string(l);
    const auto w = read_array<double>(f, file, base + "/weight", {hsize_t(layers[l + 1]), hsize_t(layers[l])});
    const auto b = read_array<double>(f, file, base + "/bias", {hsize_t(layers[l + 1])});
    theta.insert(theta.end(), w.begin(), w.end());
    theta.insert(theta.end(), b.begin(), b.end());
  }
  return theta;
}

void write_rbm_params(OutputFile& out, const RbmParams& p) {
  const hsize_t nv = hsize_t(p.visible), nh = hsize_t(p.hidden);
  out.write_root_double("/model/rbm/W", {nv, nh}, p.W.data());
  out.write_root_double("/model/rbm/b", {nv}, p.b.data());
  out.write_root_double("/model/rbm/c", {nh}, p.c.data());
  out.write_root_double("/model/rbm/base_bias", {nv}, p.base_bias.data());
  // The energy they define: models/rbm.hpp (in kT; Bernoulli E(v, h) = -b.v - c.h - v.W.h).
  out.describe("/model/rbm/W", "1", "weights W[i, j] coupling visible unit i and hidden unit j", {"visible", "hidden"});
  out.describe("/model/rbm/b", "1", "visible biases b", {"visible"});
  out.describe("/model/rbm/c", "1", "hidden biases c", {"hidden"});
  out.describe("/model/rbm/base_bias", "1",
               "visible biases of the base-rate model (the training data's marginals), AIS's base", {"visible"});
  Handle g(H5Gopen2(out.id(), "/model/rbm", H5P_DEFAULT), H5Gclose);
  if (g.id() < 0) throw Error("cannot open /model/rbm in '" + out.path() + "'");
  write_string_attribute(g.id(), "kind", models::rbm_kind_name(p.kind));
}

std::vector<double> read_rbm_theta(hid_t f, const std::string& file, int visible, int hidden) {
  const auto W = read_array<double>(f, file, "/model/rbm/W", {hsize_t(visible), hsize_t(hidden)});
  const auto b = read_array<double>(f, file, "/model/rbm/b", {hsize_t(visible)});
  const auto c = read_array<double>(f, file, "/model/rbm/c", {hsize_t(hidden)});
  std::vector<double> theta = W;
  theta.insert(theta.end(), b.begin(), b.end());
  theta.insert(theta.end(), c.begin(), c.end());
  return theta;
}

}  // namespace zeta::io
