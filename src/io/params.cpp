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
}  // namespace

MlpParams read_mlp_params(const std::string& file, const std::vector<int>& layers) {
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

void write_mlp_params(const std::string& file, const MlpParams& p) {
  Handle f = create_serial(file);
  for (std::size_t l = 0; l + 1 < p.layers.size(); ++l) {
    const std::string base = "/model/layer_" + std::to_string(l);
    write_doubles(f.id(), base + "/weight", {hsize_t(p.layers[l + 1]), hsize_t(p.layers[l])}, p.weight[l].data());
    write_doubles(f.id(), base + "/bias", {hsize_t(p.layers[l + 1])}, p.bias[l].data());
  }
}

}  // namespace zeta::io
