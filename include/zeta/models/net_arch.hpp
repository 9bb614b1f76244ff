//! The architecture of a layer-stack energy (model.type = net): the layer string
//! model.net, e.g.
//!   conv(64,4,2,1) lrelu(0.2) conv(128,4,2,1) lrelu(0.2) flatten linear(256) lrelu(0.2) linear(1)
//! on inputs of model.input = C,H,W (NCHW rows, as PyTorch's) or a flat N, parsed and
//! shape-checked once on the host. Layer i of the string is PyTorch's nn.Sequential
//! index i (its parameters are /model/net/layer_i/{weight,bias}, io/net_params.hpp).
//!   conv(out,k[,stride[,pad]])  Conv2d(in, out, k, stride, pad), weight [out, in, k, k]
//!   linear(out)                 Linear(in, out), weight [out, in]
//!   flatten                     (C, H, W) -> C·H·W in PyTorch's order
//!   avgpool(k)                  AvgPool2d(k) (stride k, floor)
//!   lrelu(α) relu silu softplus elementwise
//!   groupnorm(G)                GroupNorm(G, C, eps 1e-5): per row, each of G groups of
//!                               C/G channels (over all pixels) to mean 0 and variance 1,
//!                               then the per-channel scale weight [C] and shift bias [C]
//!   res( … )                    a residual block y = x + F(x), F the layers inside (same
//!                               shape in and out); 'res(' and its ')' count as layers in
//!                               the numbering (neither holds parameters), blocks may nest
//! A conv or linear layer written sn_conv(...) / sn_linear(...) is spectrally
//! normalised as by torch.nn.utils.spectral_norm: W / σ(W), σ from a power iteration
//! on W reshaped to [out, in·k·k] (models/net.hpp).
//! The last layer must leave one number per row: the energy; or, for a classifier
//! (train.objective = jem), K ≥ 2 numbers per row: the logits f(x), whose energy is
//! E(x) = −logsumexp_k f(x)[k] (Net::energy, energy_and_grad: zeta sample, eval).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zeta::models {

enum class LayerKind { conv, linear, flatten, avgpool, act, groupnorm, res_begin, res_end };
enum class NetAct { lrelu, relu, silu, softplus };

//! A tensor's shape per row: spatial (C, H, W), or flat (c = N, h = w = 1).
struct NetShape {
  int c = 0, h = 1, w = 1;
  bool spatial = false;
  std::int64_t size() const { return std::int64_t(c) * h * w; }
  std::string str() const;
};

struct NetLayer {
  LayerKind kind = LayerKind::act;
  std::string text;          //!< as written in model.net
  int out = 0, k = 1, stride = 1, pad = 0;  //!< conv, linear (out), avgpool (k)
  int groups = 1;                           //!< groupnorm: G
  int partner = -1;                         //!< res_begin: the index of its res_end, and res_end: of its res_begin
  NetAct act = NetAct::relu;
  double alpha = 0;          //!< lrelu's negative slope
  bool sn = false;           //!< spectral normalisation (conv, linear)
  NetShape in, outs;         //!< shapes per row before and after
  //! conv / linear: fan-in (in·k·k), weight and bias entries, θ offsets.
  std::int64_t fan_in = 0, n_weight = 0, n_bias = 0, w_offset = 0, b_offset = 0;
  //! sn: offsets of u [out] and v [fan_in] in the net's spectral state.
  std::int64_t u_offset = 0, v_offset = 0;
  //! conv / linear: a GEMM layer (spectral norm, fan_in).
  bool weighted() const { return kind == LayerKind::conv || kind == LayerKind::linear; }
  //! Holds parameters: conv, linear, groupnorm (weight [C], bias [C]).
  bool has_params() const { return weighted() || kind == LayerKind::groupnorm; }
  //! The weight's PyTorch shape: [out, in, k, k], [out, in] or groupnorm's [C].
  std::vector<std::int64_t> weight_shape() const;
};

struct NetArch {
  std::string text;  //!< model.net, normalised (single spaces)
  //! The model.type it runs: "net", or "mlp" for an mlp of K >= 2 outputs (mlp_as_net),
  //! which the JSON summaries name as the user did.
  std::string model = "net";
  NetShape input;
  std::vector<NetLayer> layers;
  std::int64_t n_params = 0;
  std::int64_t n_spectral = 0;  //!< entries of the spectral-norm vectors u, v of every sn layer
  bool spectral() const { return n_spectral > 0; }
  int dim() const { return int(input.size()); }
  //! Numbers per row the last layer leaves: 1 (the energy), or K (a classifier's logits).
  int outputs() const { return layers.empty() ? 1 : int(layers.back().outs.size()); }
  //! The element count of the largest intermediate tensor per row.
  std::int64_t widest() const;
};

//! What the last layer must leave per row: one number (the energy; training by cd, pcd,
//! dsm), K >= 2 logits (train.objective = jem), or either (the commands that only
//! evaluate a trained model: with K logits the energy is E(x) = −logsumexp f(x)).
enum class NetOutputs { energy, logits, either };

//! Parses model.net for inputs of model.input (C,H,W or N); errors are config errors
//! naming model.net (and model.input) and the 0-based layer index.
NetArch parse_net(const std::string& text, const std::vector<std::int64_t>& input,
                  NetOutputs outputs = NetOutputs::energy);

//! DSM differentiates ∇x E once more: a config error naming model.net and the first
//! layer whose activation is not smooth (lrelu, relu; silu and softplus are).
void require_smooth_net(const NetArch& arch);

}  // namespace zeta::models
