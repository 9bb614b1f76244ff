#include "zeta/io/net_params.hpp"

#include <cmath>

#include "zeta/core/error.hpp"

namespace zeta::io {

namespace {

std::string base_of(std::size_t i) { return "/model/net/layer_" + std::to_string(i); }

std::vector<hsize_t> dims_of(const std::vector<std::int64_t>& s) { return std::vector<hsize_t>(s.begin(), s.end()); }

}  // namespace

std::vector<double> read_net_theta(hid_t f, const std::string& file, const models::NetArch& arch) {
  std::vector<double> theta(std::size_t(arch.n_params));
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const models::NetLayer& L = arch.layers[i];
    if (!L.has_params()) continue;
    const std::string base = base_of(i);
    const auto w = read_array<double>(f, file, base + "/weight", dims_of(L.weight_shape()));
    const auto b = read_array<double>(f, file, base + "/bias", {hsize_t(L.n_bias)});
    for (double v : w)
      if (!std::isfinite(v)) throw Error("'" + file + "' " + base + "/weight holds NaN or Inf");
    for (double v : b)
      if (!std::isfinite(v)) throw Error("'" + file + "' " + base + "/bias holds NaN or Inf");
    std::copy(w.begin(), w.end(), theta.begin() + L.w_offset);
    std::copy(b.begin(), b.end(), theta.begin() + L.b_offset);
  }
  return theta;
}

std::vector<double> read_net_spectral(hid_t f, const std::string& file, const models::NetArch& arch) {
  std::size_t sn = 0, found = 0;
  for (std::size_t i = 0; i < arch.layers.size(); ++i)
    if (arch.layers[i].sn) ++sn, found += exists(f, base_of(i) + "/weight_u") ? 1 : 0;
  if (found == 0) return {};
  std::vector<double> s(std::size_t(arch.n_spectral));
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const models::NetLayer& L = arch.layers[i];
    if (!L.sn) continue;
    const std::string base = base_of(i);
    if (found != sn && !exists(f, base + "/weight_u"))
      throw Error("'" + file + "' has spectral-norm vectors for some sn layers but not " + base + "/weight_u");
    const auto u = read_array<double>(f, file, base + "/weight_u", {hsize_t(L.out)});
    const auto v = read_array<double>(f, file, base + "/weight_v", {hsize_t(L.fan_in)});
    for (double x : u)
      if (!std::isfinite(x)) throw Error("'" + file + "' " + base + "/weight_u holds NaN or Inf");
    for (double x : v)
      if (!std::isfinite(x)) throw Error("'" + file + "' " + base + "/weight_v holds NaN or Inf");
    std::copy(u.begin(), u.end(), s.begin() + L.u_offset);
    std::copy(v.begin(), v.end(), s.begin() + L.v_offset);
  }
  return s;
}

std::vector<double> read_net_params(const std::string& file, const models::NetArch& arch,
                                    std::vector<double>* spectral) {
  Handle f = open_read(file);
  if (!exists(f.id(), "/model/net")) {
    const char* other = exists(f.id(), "/model/rbm") ? "rbm parameters (/model/rbm)"
                        : exists(f.id(), "/model/layer_0") ? "mlp parameters (/model/layer_l)"
                                                           : "no /model/net";
    throw Error("model.params: '" + file + "' holds " + other + ", but model.type = net reads /model/net/layer_i");
  }
  try {
    auto theta = read_net_theta(f.id(), file, arch);
    if (spectral) *spectral = read_net_spectral(f.id(), file, arch);
    return theta;
  } catch (const Error& e) {
    throw Error(std::string("model.params: ") + e.what() + " (model.net = '" + arch.text + "')");
  }
}

void write_net_params(hid_t f, const models::NetArch& arch, const std::vector<double>& theta,
                      const std::vector<double>& spectral) {
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const models::NetLayer& L = arch.layers[i];
    if (!L.has_params()) continue;
    write_doubles(f, base_of(i) + "/weight", dims_of(L.weight_shape()), theta.data() + L.w_offset);
    write_doubles(f, base_of(i) + "/bias", {hsize_t(L.n_bias)}, theta.data() + L.b_offset);
    if (L.sn && !spectral.empty()) {
      write_doubles(f, base_of(i) + "/weight_u", {hsize_t(L.out)}, spectral.data() + L.u_offset);
      write_doubles(f, base_of(i) + "/weight_v", {hsize_t(L.fan_in)}, spectral.data() + L.v_offset);
    }
  }
}

void write_net_params(OutputFile& out, const models::NetArch& arch, const std::vector<double>& theta,
                      const std::vector<double>& spectral) {
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const models::NetLayer& L = arch.layers[i];
    if (!L.has_params()) continue;
    const std::string base = base_of(i), what = "layer " + std::to_string(i) + " (" + L.text + ")";
    out.write_root_double(base + "/weight", dims_of(L.weight_shape()), theta.data() + L.w_offset);
    out.write_root_double(base + "/bias", {hsize_t(L.n_bias)}, theta.data() + L.b_offset);
    if (L.kind == models::LayerKind::conv)
      out.describe(base + "/weight", "1", "weights of " + what + " in PyTorch's Conv2d shape",
                   {"output", "input", "kernel_h", "kernel_w"});
    else if (L.kind == models::LayerKind::groupnorm)
      out.describe(base + "/weight", "1", "per-channel scale of " + what + " (PyTorch's GroupNorm weight)",
                   {"channel"});
    else
      out.describe(base + "/weight", "1", "weights of " + what + " in PyTorch's Linear shape", {"output", "input"});
    out.describe(base + "/bias", "1",
                 L.kind == models::LayerKind::groupnorm ? "per-channel shift of " + what : "biases of " + what,
                 {L.kind == models::LayerKind::groupnorm ? "channel" : "output"});
    if (L.sn && !spectral.empty()) {
      out.write_root_double(base + "/weight_u", {hsize_t(L.out)}, spectral.data() + L.u_offset);
      out.write_root_double(base + "/weight_v", {hsize_t(L.fan_in)}, spectral.data() + L.v_offset);
      out.describe(base + "/weight_u", "1", "spectral norm of " + what + ": the left singular vector estimate u",
                   {"output"});
      out.describe(base + "/weight_v", "1", "spectral norm of " + what + ": the right singular vector estimate v",
                   {"input"});
    }
  }
  std::string input;
  for (int v : arch.input.spatial ? std::vector<int>{arch.input.c, arch.input.h, arch.input.w}
                                  : std::vector<int>{arch.input.c})
    input += (input.empty() ? "" : ",") + std::to_string(v);
  out.attribute("/model/net", "net", arch.text);
  out.attribute("/model/net", "input", input);
}

}  // namespace zeta::io
