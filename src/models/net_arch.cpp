#include "zeta/models/net_arch.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "zeta/core/error.hpp"

namespace zeta::models {

std::string NetShape::str() const {
  if (!spatial) return "(" + std::to_string(c) + ")";
  return "(" + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) + ")";
}

std::vector<std::int64_t> NetLayer::weight_shape() const {
  if (kind == LayerKind::conv) return {out, in.c, k, k};
  if (kind == LayerKind::groupnorm) return {in.c};
  return {out, in.size()};
}

std::int64_t NetArch::widest() const {
  std::int64_t m = input.size();
  for (const auto& l : layers) m = std::max(m, l.outs.size());
  return m;
}

namespace {

//! A layer as written: its name and its arguments (numbers).
struct Token {
  std::string name, text;
  std::vector<double> args;
  bool parens = false;
  bool open = false, close = false;  //!< 'res(' (its arguments are the layers that follow) and ')'
};

[[noreturn]] void layer_error(std::size_t i, const std::string& text, const std::string& why) {
  config_error("model.net", "layer " + std::to_string(i) + " '" + text + "': " + why);
}

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> out;
  std::size_t p = 0;
  const auto skip = [&] {
    while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
  };
  for (skip(); p < s.size(); skip()) {
    Token t;
    const std::size_t start = p;
    if (s[p] == ')') {  // the end of a res( block
      t.close = true;
      t.name = t.text = ")";
      ++p;
      out.push_back(std::move(t));
      continue;
    }
    while (p < s.size() && (std::isalnum(static_cast<unsigned char>(s[p])) || s[p] == '_')) ++p;
    t.name = s.substr(start, p - start);
    if (t.name.empty()) {
      std::size_t end = p;
      while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end]))) ++end;
      layer_error(out.size(), s.substr(start, end - start), "expected a layer name such as conv, linear or relu");
    }
    skip();
    if (p < s.size() && s[p] == '(' && (t.name == "res" || t.name == "residual")) {
      t.open = t.parens = true;
      t.text = t.name + "(";
      ++p;
    } else if (p < s.size() && s[p] == '(') {
      t.parens = true;
      const std::size_t close = s.find(')', p);
      if (close == std::string::npos) layer_error(out.size(), s.substr(start), "has no closing ')'");
      const std::string inner = s.substr(p + 1, close - p - 1);
      p = close + 1;
      t.text = s.substr(start, p - start);
      std::size_t q = 0;
      while (q <= inner.size()) {
        std::size_t comma = inner.find(',', q);
        if (comma == std::string::npos) comma = inner.size();
        std::string item = inner.substr(q, comma - q);
        const auto a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
        item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
        if (item.empty()) {
          if (!(inner.find_first_not_of(" \t") == std::string::npos && t.args.empty() && comma == inner.size()))
            layer_error(out.size(), t.text, "has an empty argument");
        } else {
          char* end = nullptr;
          const double v = std::strtod(item.c_str(), &end);
          if (end != item.c_str() + item.size() || !std::isfinite(v))
            layer_error(out.size(), t.text, "argument '" + item + "' is not a number");
          t.args.push_back(v);
        }
        q = comma + 1;
      }
    } else {
      t.text = t.name;
    }
    out.push_back(std::move(t));
  }
  return out;
}

//! Argument j as a positive integer (or >= 0 with `zero_ok`).
int int_arg(std::size_t i, const Token& t, std::size_t j, const char* what, bool zero_ok = false) {
  const double v = t.args[j];
  if (v != std::floor(v) || v < (zero_ok ? 0 : 1) || v > (1 << 24))
    layer_error(i, t.text, std::string(what) + " must be an integer " + (zero_ok ? ">= 0" : ">= 1") + " (got " +
                               t.text.substr(t.text.find('(')) + ")");
  return int(v);
}

void expect_args(std::size_t i, const Token& t, std::size_t lo, std::size_t hi, const std::string& form) {
  if (t.args.size() < lo || t.args.size() > hi || (hi == 0 && t.parens))
    layer_error(i, t.text, "takes " + form);
}

//! Layer i, the ')' of the innermost open res( block: the block's shape must not change.
void close_block(std::size_t i, const Token& t, std::vector<std::size_t>& open, NetArch& a, NetLayer& L) {
  if (open.empty()) layer_error(i, t.text, "closes no res( block");
  const std::size_t b = open.back();
  open.pop_back();
  const NetShape &x = a.layers[b].in, &s = L.in;
  if (b + 1 == i) layer_error(i, t.text, "ends the empty res( block of layer " + std::to_string(b));
  if (x.spatial != s.spatial || x.c != s.c || x.h != s.h || x.w != s.w)
    layer_error(i, t.text,
                "the residual block of layer " + std::to_string(b) + " maps " + x.str() + " to " + s.str() +
                    ": y = x + F(x) needs the same shape in and out");
  L.kind = LayerKind::res_end;
  L.outs = s;
  L.partner = int(b);
  a.layers[b].partner = int(i);
}

//! Layer i, groupnorm(G): G must divide the channels of L.in.
void groupnorm_layer(std::size_t i, const Token& t, NetLayer& L) {
  expect_args(i, t, 1, 1, "(groups)");
  L.kind = LayerKind::groupnorm;
  L.groups = int_arg(i, t, 0, "the number of groups");
  if (L.in.c % L.groups != 0)
    layer_error(
        i, t.text,
        std::to_string(L.groups) + " groups do not divide its " + std::to_string(L.in.c) + " channels " + L.in.str());
  L.outs = L.in;
  L.out = L.in.c;
}

}  // namespace

NetArch parse_net(const std::string& text, const std::vector<std::int64_t>& input, NetOutputs outputs) {
  const bool classifier = outputs == NetOutputs::logits;
  NetArch a;
  if (input.size() != 1 && input.size() != 3)
    config_error("model.input", "needs C,H,W (an image, NCHW) or N (a flat vector)");
  for (auto v : input)
    if (v < 1 || v > (1 << 24)) config_error("model.input", "sizes must be >= 1");
  if (input.size() == 3)
    a.input = NetShape{int(input[0]), int(input[1]), int(input[2]), true};
  else
    a.input = NetShape{int(input[0]), 1, 1, false};
  if (a.input.size() > (std::int64_t(1) << 28)) config_error("model.input", "is impossibly large");
  const auto tokens = tokenize(text);
  if (tokens.empty()) config_error("model.net", "is empty: list the layers, e.g. 'flatten linear(64) silu linear(1)'");
  NetShape s = a.input;
  std::vector<std::size_t> open;  // the res( blocks not yet closed, innermost last
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    NetLayer L;
    L.text = t.text;
    L.in = s;
    L.sn = t.name.rfind("sn_", 0) == 0;
    const std::string n = L.sn ? t.name.substr(3) : t.name;
    if (t.open) {
      L.kind = LayerKind::res_begin;
      L.outs = s;
      open.push_back(i);
    } else if (t.close) {
      close_block(i, t, open, a, L);
    } else if (n == "groupnorm") {
      groupnorm_layer(i, t, L);
    } else if (n == "conv" || n == "conv2d") {
      expect_args(i, t, 2, 4, "(out, kernel[, stride[, padding]])");
      L.kind = LayerKind::conv;
      L.out = int_arg(i, t, 0, "out channels");
      L.k = int_arg(i, t, 1, "the kernel size");
      L.stride = t.args.size() > 2 ? int_arg(i, t, 2, "the stride") : 1;
      L.pad = t.args.size() > 3 ? int_arg(i, t, 3, "the padding", true) : 0;
      if (!s.spatial)
        layer_error(i, t.text, "needs an image (C, H, W) but gets a flat " + s.str() + " (model.input or a flatten)");
      if (L.k > s.h + 2 * L.pad || L.k > s.w + 2 * L.pad)
        layer_error(i, t.text, "kernel " + std::to_string(L.k) + " is larger than its padded input " + s.str());
      const int ho = (s.h + 2 * L.pad - L.k) / L.stride + 1, wo = (s.w + 2 * L.pad - L.k) / L.stride + 1;
      L.outs = NetShape{L.out, ho, wo, true};
      L.fan_in = std::int64_t(s.c) * L.k * L.k;
    } else if (n == "linear") {
      expect_args(i, t, 1, 1, "(out)");
      L.kind = LayerKind::linear;
      L.out = int_arg(i, t, 0, "out features");
      if (s.spatial)
        layer_error(i, t.text, "needs a flat input but gets an image " + s.str() + ": put a flatten before it");
      L.outs = NetShape{L.out, 1, 1, false};
      L.fan_in = s.size();
    } else if (n == "flatten") {
      expect_args(i, t, 0, 0, "no arguments");
      L.kind = LayerKind::flatten;
      L.outs = NetShape{int(s.size()), 1, 1, false};
    } else if (n == "avgpool") {
      expect_args(i, t, 1, 1, "(kernel)");
      L.kind = LayerKind::avgpool;
      L.k = int_arg(i, t, 0, "the kernel size");
      if (!s.spatial) layer_error(i, t.text, "needs an image (C, H, W) but gets a flat " + s.str());
      if (L.k > s.h || L.k > s.w)
        layer_error(i, t.text, "kernel " + std::to_string(L.k) + " is larger than its input " + s.str());
      L.outs = NetShape{s.c, s.h / L.k, s.w / L.k, true};
    } else if (n == "lrelu" || n == "leaky_relu") {
      expect_args(i, t, 0, 1, "an optional negative slope, e.g. lrelu(0.2) (default 0.01)");
      L.act = NetAct::lrelu;
      L.alpha = t.args.empty() ? 0.01 : t.args[0];
      if (!(L.alpha >= 0 && L.alpha < 1)) layer_error(i, t.text, "the negative slope must be in [0, 1)");
      L.outs = s;
    } else if (n == "relu" || n == "silu" || n == "swish" || n == "softplus") {
      expect_args(i, t, 0, 0, "no arguments");
      L.act = n == "relu" ? NetAct::relu : n == "softplus" ? NetAct::softplus : NetAct::silu;
      L.outs = s;
    } else {
      layer_error(i, t.text,
                  "unknown layer '" + t.name +
                      "' (conv, linear, flatten, avgpool, groupnorm, lrelu, relu, silu, softplus, res( ... ); sn_conv, "
                      "sn_linear)");
    }
    if (L.sn && !L.weighted())
      layer_error(i, t.text,
                  std::string("spectral normalisation (sn_) applies to conv and linear layers only") +
                      (L.has_params() ? "" : ": this one has no weights"));
    if (L.sn) {
      L.u_offset = a.n_spectral;
      L.v_offset = a.n_spectral + L.out;
      a.n_spectral += L.out + L.fan_in;
    }
    if (L.has_params()) {  // conv, linear: weight [out, fan_in]; groupnorm: weight [C] (out = C, fan_in 1)
      L.n_weight = std::int64_t(L.out) * (L.weighted() ? L.fan_in : 1);
      L.n_bias = L.out;
      L.w_offset = a.n_params;
      L.b_offset = a.n_params + L.n_weight;
      a.n_params += L.n_weight + L.n_bias;
      if (a.n_params > (std::int64_t(1) << 31)) layer_error(i, t.text, "makes the model impossibly large");
    }
    s = L.outs;
    if (i > 0) a.text += " ";
    a.text += t.text;
    a.layers.push_back(std::move(L));
  }
  if (!open.empty())
    layer_error(open.back(), tokens[open.back()].text,
                "has no closing ')' (a res( block runs to the end of model.net)");
  if (a.n_params == 0) config_error("model.net", "has no conv or linear layer: nothing to train");
  if (classifier && (s.spatial || s.c < 2))
    config_error("model.net", "ends with shape " + s.str() + " per row after layer " +
                                  std::to_string(tokens.size() - 1) +
                                  "; train.objective = jem needs K >= 2 logits per row: end in linear(K)");
  if (outputs == NetOutputs::either && (s.spatial || s.c < 1))
    config_error("model.net", "ends with shape " + s.str() + " per row after layer " +
                                  std::to_string(tokens.size() - 1) +
                                  "; end in linear(1) (the energy) or linear(K) (a classifier's logits)");
  if (outputs == NetOutputs::energy && (s.spatial || s.c != 1))
    config_error("model.net", "ends with shape " + s.str() + " per row after layer " +
                                  std::to_string(tokens.size() - 1) + "; the energy needs one number: end in linear(1)");
  return a;
}

void require_smooth_net(const NetArch& arch) {
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const NetLayer& L = arch.layers[i];
    if (L.kind == LayerKind::act && (L.act == NetAct::lrelu || L.act == NetAct::relu))
      layer_error(i, L.text, "is not smooth: DSM differentiates grad_x E once more and needs silu or softplus layers");
  }
}

}  // namespace zeta::models
