//! Neural energy E(x) = MLP(x) with a scalar output: layers d_0, d_1, …, 1,
//! hidden activations silu / softplus / leaky_relu, linear output. ∇x E by
//! hand-written backpropagation on GEMM. The elementwise work is fused around
//! the GEMMs: bias + activation + derivative in one pass per hidden layer, the
//! last hidden layer fused with the output layer and the first backprop product,
//! and a small fan-in first layer (d_0 ≤ kSmallFanIn) done directly.
//!
//! Parameters live in ONE flat device buffer θ: for each layer l = 0, 1, …,
//! W_l (d_{l+1} × d_l, row-major [out][in]) then b_l (d_{l+1}) — the ◆ HDF5
//! datasets /model/layer_l/{weight,bias} concatenated in layer order — with
//! weight(l), bias(l) unmanaged views into it, so a trainer allreduces one flat
//! gradient and an optimizer updates theta() in place; params_updated() must
//! follow such an in-place change (it refreshes the transposed W_0 copy that the
//! small fan-in kernels read, and on AVX2 hosts the packed copies of the hidden
//! weights that every A·W_lᵀ and A·W_l product reads: linalg/packed.hpp). Copies of
//! an Mlp share θ and those copies.
//!
//! Training (the batched gradients w.r.t. θ, both on GEMM, padded to kRowTile
//! rows like energy() with zero weight on the padding rows):
//! - grad_energy_params(x, s, g): g += Σ_n s_n ∇θ E(x_n) (CD / PCD), and
//!   grad_energy_params_weighted, the same with s a function of E (NCE);
//! - dsm_loss_and_grad(x̃, c, s, g): denoising score matching,
//!     L = Σ_n s_n ½ ‖∇x E(x̃_n) + c_n‖²,  c_n = (x_n − x̃_n) / σ_n²,
//!   returns L and adds ∇θ L to g by second-order backpropagation (below).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/core/vmath.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/linalg/packed.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/activation.hpp"
#include "zeta/models/detail/mlp_kernels.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::models {

//! MlpParams lives with the parameter layout (io/params.hpp).
using io::MlpParams;

template <class Space>
class Mlp {
 public:
  using space = Space;

  Mlp(const io::MlpParams& p, Activation act) : layers_(p.layers), act_(act) {
    if (layers_.size() < 2 || layers_.back() != 1) throw Error("model.layers: must list at least 2 sizes and end in 1");
    for (int s : layers_)
      if (s < 1) throw Error("model.layers: sizes must be >= 1");
    const int nl = nlayers();
    if (p.weight.size() != std::size_t(nl) || p.bias.size() != std::size_t(nl))
      throw Error("mlp: " + std::to_string(p.weight.size()) + " weight and " + std::to_string(p.bias.size()) +
                  " bias arrays given, model.layers needs " + std::to_string(nl));
    for (int l = 0; l < nl; ++l)
      if (p.weight[l].size() != std::size_t(layers_[l + 1]) * layers_[l] ||
          p.bias[l].size() != std::size_t(layers_[l + 1]))
        throw Error("mlp: layer " + std::to_string(l) + " parameters do not match model.layers");
    offset_.assign(1, 0);
    for (int l = 0; l < nl; ++l)
      offset_.push_back(offset_.back() + std::size_t(layers_[l + 1]) * (std::size_t(layers_[l]) + 1));
    theta_ = Vector<Space>("zeta::Mlp::theta", n_params());
    for (int l = 0; l < nl; ++l) {
      w_.emplace_back(theta_.data() + w_offset(l), layers_[l + 1], layers_[l]);
      b_.emplace_back(theta_.data() + b_offset(l), layers_[l + 1]);
    }
    // Small fan-in first layer: W_0ᵀ [d_0][d_1], so its kernels read rows contiguously.
    if (layers_[0] <= kSmallFanIn) w0t_ = Matrix<Space>("zeta::Mlp::weight0_transposed", layers_[0], layers_[1]);
    if constexpr (kPacked) packs_ = std::make_shared<Packs>(nl - 1);
    set_params(p.flat());
  }

  //! PyTorch-style init: U(−1/√in, 1/√in) for weights and biases, from the counter RNG.
  static io::MlpParams random_params(const std::vector<int>& layers, std::uint32_t seed) {
    io::MlpParams p;
    p.layers = layers;
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
      const int in = layers[l], out = layers[l + 1];
      const double bound = 1.0 / std::sqrt(double(in));
      const rng::Stream s(seed, l, 0, rng::kInit);
      std::vector<double> w(std::size_t(out) * in), b(out);
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = bound * (2 * s.uniform(std::uint32_t(i)) - 1);
      for (int o = 0; o < out; ++o) b[o] = bound * (2 * s.uniform(std::uint32_t(w.size() + o)) - 1);
      p.weight.push_back(std::move(w));
      p.bias.push_back(std::move(b));
    }
    return p;
  }

  std::string name() const { return "mlp"; }
  int dim() const { return layers_.front(); }
  int nlayers() const { return static_cast<int>(layers_.size()) - 1; }
  const std::vector<int>& layers() const { return layers_; }
  Activation activation() const { return act_; }
  const Matrix<Space>& weight(int l) const { return w_[l]; }
  const Vector<Space>& bias(int l) const { return b_[l]; }

  // ---- parameters: θ = [W_0 | b_0 | W_1 | b_1 | …] ----------------------------
  std::size_t n_params() const { return offset_.back(); }
  std::size_t w_offset(int l) const { return offset_[l]; }
  std::size_t b_offset(int l) const { return offset_[l] + std::size_t(layers_[l + 1]) * layers_[l]; }
  //! The flat parameter buffer. An optimizer may update it in place; call params_updated() after.
  const Vector<Space>& theta() const { return theta_; }
  std::vector<double> params() const { return host_copy(theta_); }
  //! The parameters per layer, e.g. for io::write_mlp_params.
  io::MlpParams mlp_params() const { return io::MlpParams::from_flat(layers_, params()); }
  void set_params(const std::vector<double>& flat) {
    if (flat.size() != n_params())
      throw Error("mlp: " + std::to_string(flat.size()) + " parameters given, the model has " +
                  std::to_string(n_params()));
    auto h = Kokkos::create_mirror_view(theta_);
    for (std::size_t k = 0; k < flat.size(); ++k) h(k) = Real(flat[k]);
    Kokkos::deep_copy(theta_, h);
    params_updated();
  }
  //! Refreshes what is derived from θ (W_0ᵀ of the small fan-in kernels, the packed
  //! hidden weights) after θ changed in place.
  void params_updated() {
    if (w0t_.data()) detail::transpose<Space>(w_[0], w0t_);
    if (packs_) packs_->stale();
  }
  //! A zeroed flat buffer laid out like θ, for grad_energy_params and dsm_loss_and_grad.
  Vector<Space> gradient_buffer() const { return Vector<Space>("zeta::Mlp::grad_theta", n_params()); }

  //! BLAS computes a row of C differently depending on where it falls in the
  //! kernel's row tiles; batches are padded to whole tiles so each chain's
  //! numbers do not depend on how many chains a rank holds (double precision;
  //! OpenBLAS sgemm is not row-stable even then).
  static constexpr int kRowTile = 16;
  //! Fan-in d_0 at or below which the first layer is a direct kernel (fused with
  //! the activation, and in backprop with D_0) instead of K = d_0 / N = d_0 GEMMs.
  static constexpr int kSmallFanIn = 8;

  void energy(const Matrix<Space>& x, const Vector<Space>& E) {
    const int batch = static_cast<int>(x.extent(0));
    if (batch % kRowTile == 0) return forward(x, E, false);
    ensure_padded(x, batch);
    forward(xpad_, epad_, false);
    copy_rows_back(E, Matrix<Space>(), batch);
  }

  void energy_and_grad(const Matrix<Space>& x, const Vector<Space>& E, const Matrix<Space>& g) {
    const int batch = static_cast<int>(x.extent(0));
    if (batch % kRowTile == 0) {
      forward(x, E, true);
      return backward(x, g);
    }
    ensure_padded(x, batch);
    forward(xpad_, epad_, true);
    backward(xpad_, gpad_);
    copy_rows_back(E, g, batch);
  }

  // ---- training (g laid out like θ; s: one weight per row, or one for all) -----

  //! g += Σ_n s_n ∇θ E(x_n): one forward pass, then the backward pass with weight
  //! gradients as GEMMs (Δ_lᵀ A_l over the rows) and bias gradients as column sums.
  void grad_energy_params(const Matrix<Space>& x, const PerChain<Space>& weights, const Vector<Space>& g) {
    const int batch = check_training_args(x, weights, g);
    if (batch == 0) return;
    const int rows = padded_rows(batch);
    ensure_training(rows);
    train_forward(x, false);
    param_backward(1, {weights, batch}, g);
  }

  //! g += Σ_n s_n ∇θ E(x_n) with weights s that depend on the energies (NCE's logistic
  //! weights, training/mlp_nce.hpp): one forward pass writes E(x_n) to E, then
  //! weigh() sets s_n for n < the rows of x from E (both visible to it: the pass has
  //! fenced), then the backward pass over the same activations. The forward pass that
  //! energy() followed by grad_energy_params() would make twice is made once.
  template <class Weigh>
  void grad_energy_params_weighted(const Matrix<Space>& x, const Vector<Space>& E, const Vector<Space>& s,
                                   const Vector<Space>& g, Weigh&& weigh) {
    const int batch = check_training_args(x, PerChain<Space>(s), g);
    if (E.extent(0) < std::size_t(batch)) throw Error("internal: mlp energy output does not cover the batch", false);
    if (batch == 0) return;
    ensure_training(padded_rows(batch));
    train_forward(x, false);
    const int last = nlayers() - 1;
    detail::output_energy<Space>(primal(last), w_[last], b_[last], batch, E);
    Space().fence();
    weigh();
    param_backward(1, {PerChain<Space>(s), batch}, g);
  }

  //! The contrastive loss of PCD / CD with the energy regulariser of the seed
  //! (IGEBM, JEM): L = Σ_n (c_n E(x_n) + a E(x_n)²), with c_n = 1/B for data rows and
  //! −1/B for negative samples and a = α/B, so that L = ⟨E₊⟩ − ⟨E₋⟩ + α(⟨E₊²⟩ + ⟨E₋²⟩)
  //! over a batch of B. Adds ∇θ L = Σ_n (c_n + 2a E_n) ∇θ E(x_n) to g (one forward and
  //! one backward pass, as grad_energy_params) and writes E(x_n) to E.
  void contrastive_grad(const Matrix<Space>& x, const PerChain<Space>& c, double a, const Vector<Space>& g,
                        const Vector<Space>& E) {
    const int batch = check_training_args(x, c, g);
    if (E.extent(0) < std::size_t(batch)) throw Error("internal: mlp energy output does not cover the batch", false);
    if (batch == 0) return;
    const int rows = padded_rows(batch);
    ensure_training(rows);
    if (static_cast<int>(wrow_.extent(0)) < rows) wrow_ = Vector<Space>("zeta::Mlp::contrastive_weight", rows);
    train_forward(x, false);
    const int last = nlayers() - 1;
    detail::contrastive_weights<Space>(primal(last), w_[last], b_[last], c, Real(a), batch, E, wrow_);
    param_backward(1, {PerChain<Space>(wrow_), batch}, g);
  }

  //! Denoising score matching on noisy points x̃ (xt) with residual offsets c:
  //!   L = Σ_n s_n ½ ‖∇x E(x̃_n) + c_n‖².
  //! p ∝ e^{−E}, so the model's score −∇x E should match the noise score −(x̃ − x)/σ²,
  //! i.e. ∇x E = (x̃ − x)/σ²: pass c_n = (x_n − x̃_n)/σ_n² = −z_n/σ_n for x̃ = x + σ z
  //! (the opposite sign trains E towards −ln p, whose grid ln Z blows up: the trainer
  //! found this; ‖a + c‖ ≠ ‖a − c‖). Per-row σ and the σ² weighting of multi-scale
  //! DSM are the caller's, through c and s. Returns L over this call's rows (host)
  //! and adds ∇θ L to g. c may have fewer columns than x̃: the inputs beyond them are
  //! conditioning inputs (a noise-conditional network's ln σ, models/noise_conditional_mlp.hpp),
  //! held fixed, so L = Σ_n s_n ½ ‖∂E/∂x_{1..k}(x̃_n) + c_n‖² over c's k columns.
  //!
  //! With r_n = ∇x E(x̃_n) + c_n held fixed, ∇θ L = ∇θ Σ_n s_n ⟨r_n, ∇x E(x̃_n)⟩, and
  //! ⟨r, ∇x E⟩ = Ė is E's derivative along r. So: forward (A_l, D_l = act', S_l = act''),
  //! backprop for ∇x E and r, a tangent pass Ż_{l+1} = Ȧ_l W_lᵀ, Ȧ_l = D_l ⊙ Ż_l,
  //! Ė = Ȧ_last w_oᵀ, then reverse mode through both graphs at once: with q = ∂Ė/∂Ȧ and
  //! ā = ∂Ė/∂A (0 at the last layer), a hidden layer's pre-activations get
  //!   ζ = q ⊙ Ż ⊙ S + ā ⊙ D,  p = q ⊙ D,
  //! and the layer below [ā; q] = [ζ; p] W, ∂W += [ζ; p]ᵀ [A; Ȧ], ∂b += Σ_n ζ_n: primal
  //! and tangent rows are stacked so that each of these is one GEMM.
  double dsm_loss_and_grad(const Matrix<Space>& xt, const Matrix<Space>& offset, const PerChain<Space>& weights,
                           const Vector<Space>& g) {
    require_smooth_activation(act_);
    const int batch = check_training_args(xt, weights, g);
    if (offset.extent(0) != xt.extent(0) || offset.extent(1) > xt.extent(1))
      throw Error("internal: mlp dsm offsets and points differ in shape", false);
    if (batch == 0) return 0;
    const int rows = padded_rows(batch);
    ensure_training(rows);
    const detail::RowWeight<Space> w{weights, batch};
    train_forward(xt, true);
    input_gradient();
    detail::residual<Space>(tangent(0), offset, w, tloss_);
    tangent_forward();
    param_backward(2, w, g);
    const auto loss = host_copy(Kokkos::subview(tloss_, std::make_pair(0, batch)));
    double total = 0;
    for (double v : loss) total += v;
    return total;
  }

 private:
  static int padded_rows(int batch) { return (batch + kRowTile - 1) / kRowTile * kRowTile; }

  int check_training_args(const Matrix<Space>& x, const PerChain<Space>& weights, const Vector<Space>& g) const {
    if (g.extent(0) != n_params()) throw Error("internal: mlp gradient buffer has the wrong length", false);
    if (static_cast<int>(x.extent(1)) != dim()) throw Error("internal: mlp input has the wrong dimension", false);
    if (weights.per_chain() && weights.size() < x.extent(0))
      throw Error("internal: mlp row weights do not cover the batch", false);
    return static_cast<int>(x.extent(0));
  }

  //! Training workspaces for `rows` (padded) rows: per layer l < nlayers() the stacked
  //! activations [A_l; Ȧ_l] (2·rows × d_l, A_0 = the input), per hidden layer D and
  //! S (S becomes Ż ⊙ S in the tangent pass), per hidden layer below the last the
  //! energy's adjoint Q = Y W before ⊙ D (input_gradient, for DSM's tangent rows), two
  //! adjoint buffers, the per-row DSM loss.
  void ensure_training(int rows) {
    if (train_rows_ == rows) return;
    train_rows_ = rows;
    ta_.clear();
    td_.clear();
    ts_.clear();
    tq_.clear();
    int widest = 1;
    for (int l = 0; l < nlayers(); ++l) ta_.emplace_back("zeta::Mlp::train_activations", 2 * rows, layers_[l]);
    for (int l = 1; l < nlayers(); ++l) {
      td_.emplace_back("zeta::Mlp::train_derivative", rows, layers_[l]);
      ts_.emplace_back("zeta::Mlp::train_second_derivative", rows, layers_[l]);
      if (l + 1 < nlayers()) tq_.emplace_back("zeta::Mlp::train_energy_adjoint", rows, layers_[l]);
      widest = std::max(widest, layers_[l]);
    }
    ty_[0] = Matrix<Space>("zeta::Mlp::train_adjoint0", 2 * rows, widest);
    ty_[1] = Matrix<Space>("zeta::Mlp::train_adjoint1", 2 * rows, widest);
    tloss_ = Accum<Space>("zeta::Mlp::dsm_loss_rows", rows);
  }

  //! A_l, Ȧ_l, and the first `halves` · rows rows of [A_l; Ȧ_l].
  Matrix<Space> primal(int l) const { return Matrix<Space>(ta_[l].data(), train_rows_, layers_[l]); }
  Matrix<Space> tangent(int l) const {
    return Matrix<Space>(ta_[l].data() + std::size_t(train_rows_) * layers_[l], train_rows_, layers_[l]);
  }
  Matrix<Space> stacked(int l, int halves) const {
    return Matrix<Space>(ta_[l].data(), std::size_t(halves) * train_rows_, layers_[l]);
  }
  Matrix<Space> adjoint(int i, int halves, int width) const {
    return Matrix<Space>(ty_[i].data(), std::size_t(halves) * train_rows_, width);
  }

  //! A_0 = x with zero padding rows; A_l = act(A_{l−1} W_{l−1}ᵀ + b_{l−1}), D_l, and S_l when `second`.
  void train_forward(const Matrix<Space>& x, bool second) {
    const int batch = static_cast<int>(x.extent(0));
    const Matrix<Space> a0 = primal(0);
    Kokkos::deep_copy(Kokkos::subview(a0, std::make_pair(0, batch), Kokkos::ALL), x);
    if (batch < train_rows_) Kokkos::deep_copy(Kokkos::subview(a0, std::make_pair(batch, train_rows_), Kokkos::ALL), 0);
    for (int l = 1; l < nlayers(); ++l) {
      times_weight(l - 1, true, primal(l - 1), primal(l), false);
      detail::bias_activation<Space>(primal(l), b_[l - 1], act_, td_[l - 1], second ? ts_[l - 1] : Matrix<Space>());
    }
  }

  //! ∇x E (unweighted) into the tangent rows of layer 0, where the DSM residual is
  //! formed; each hidden layer's Y W stays in tq_.
  void input_gradient() {
    const int last = nlayers() - 1;
    if (last == 0) return detail::broadcast_row<Space>(w_[0], tangent(0));
    int cur = 0;
    detail::output_adjoint<Space>(td_[last - 1], ts_[last - 1], w_[last], {PerChain<Space>(1.0), train_rows_},
                                  adjoint(cur, 1, layers_[last]), false);
    for (int l = last; l >= 1; --l) {
      if (l == 1) {
        times_weight(0, false, adjoint(cur, 1, layers_[1]), tangent(0), false);
        break;
      }
      times_weight(l - 1, false, adjoint(cur, 1, layers_[l]), tq_[l - 2], false);
      detail::hidden_adjoint<Space>(tq_[l - 2], td_[l - 2], adjoint(1 - cur, 1, layers_[l - 1]));
      cur = 1 - cur;
    }
  }

  //! Ȧ_0 = r (already in place); Ż_l = Ȧ_{l−1} W_{l−1}ᵀ, Ȧ_l = D_l ⊙ Ż_l, S_l ← Ż_l ⊙ S_l.
  void tangent_forward() {
    for (int l = 1; l < nlayers(); ++l) {
      times_weight(l - 1, true, tangent(l - 1), tangent(l), false);
      detail::tangent_activation<Space>(tangent(l), td_[l - 1], ts_[l - 1]);
    }
  }

  //! g += ∂/∂θ of Σ_n s_n E(x_n) (halves = 1: the primal rows) or of Σ_n s_n Ė_n
  //! (halves = 2: DSM, the stacked primal and tangent rows). DSM's tangent adjoints
  //! below the last hidden layer are s_n times input_gradient's (Ė is linear in Ȧ with
  //! E's weights), so a layer down takes the product of the primal rows only.
  void param_backward(int halves, const detail::RowWeight<Space>& w, const Vector<Space>& g) {
    const bool dsm = halves == 2;
    const int last = nlayers() - 1;
    // Output layer: E = A_last w_oᵀ + b_o, Ė = Ȧ_last w_oᵀ.
    detail::column_sums<Space>(dsm ? tangent(last) : primal(last), w, true, g, w_offset(last));
    if (!dsm) detail::weight_sum<Space>(w, g, b_offset(last));
    if (last == 0) return;
    int cur = 0;
    detail::output_adjoint<Space>(td_[last - 1], ts_[last - 1], w_[last], w, adjoint(cur, halves, layers_[last]), dsm);
    for (int l = last; l >= 1; --l) {
      const Matrix<Space> y = adjoint(cur, halves, layers_[l]);
      const Matrix<Space> gw(g.data() + w_offset(l - 1), layers_[l], layers_[l - 1]);
      linalg::gemm<Space>(true, false, Real(1), y, stacked(l - 1, halves), Real(1), gw);
      detail::column_sums<Space>(adjoint(cur, 1, layers_[l]), w, false, g, b_offset(l - 1));
      if (l == 1) break;
      const Matrix<Space> next = adjoint(1 - cur, 1, layers_[l - 1]);
      times_weight(l - 1, false, adjoint(cur, 1, layers_[l]), next, false);
      if (dsm)
        detail::dsm_hidden_adjoint<Space>(adjoint(1 - cur, 2, layers_[l - 1]), tq_[l - 2], td_[l - 2], ts_[l - 2], w);
      else
        detail::hidden_adjoint<Space>(next, td_[l - 2], next);
      cur = 1 - cur;
    }
  }

  void ensure_padded(const Matrix<Space>& x, int batch) {
    const int padded = (batch + kRowTile - 1) / kRowTile * kRowTile, d = dim();
    if (static_cast<int>(xpad_.extent(0)) != padded) {
      xpad_ = Matrix<Space>("zeta::Mlp::padded_x", padded, d);
      gpad_ = Matrix<Space>("zeta::Mlp::padded_grad", padded, d);
      epad_ = Vector<Space>("zeta::Mlp::padded_energy", padded);
    }
    Kokkos::deep_copy(Kokkos::subview(xpad_, std::make_pair(0, batch), Kokkos::ALL), x);
  }

  void copy_rows_back(const Vector<Space>& E, const Matrix<Space>& g, int batch) {
    Kokkos::deep_copy(E, Kokkos::subview(epad_, std::make_pair(0, batch)));
    if (g.data()) Kokkos::deep_copy(g, Kokkos::subview(gpad_, std::make_pair(0, batch), Kokkos::ALL));
  }

  void ensure_workspace(int batch) {
    if (!h_.empty() && static_cast<int>(h_[0].extent(0)) == batch) return;
    h_.clear();
    d_.clear();
    int widest = 1;
    for (int l = 0; l + 1 < nlayers(); ++l) {
      h_.emplace_back("zeta::Mlp::activation", batch, layers_[l + 1]);
      d_.emplace_back("zeta::Mlp::activation_derivative", batch, layers_[l + 1]);
      widest = std::max(widest, layers_[l + 1]);
    }
    t_[0] = Matrix<Space>("zeta::Mlp::backprop0", batch, widest);
    t_[1] = Matrix<Space>("zeta::Mlp::backprop1", batch, widest);
  }

  //! Hidden weights as packed GEMM operands (host AVX2 builds, linalg/packed.hpp).
  static constexpr bool kPacked =
      linalg::kPackedGemm && kHostKernels<Space>;

  //! W_lᵀ (t = 0) and W_l (t = 1) packed per hidden layer l, each packed when first
  //! wanted after a parameter change. Shared by copies of the Mlp, as θ is.
  struct Packs {
    std::vector<linalg::PackedWeight> w[2];
    explicit Packs(int hidden) {
      for (auto& t : w) t.resize(hidden);
    }
    void stale() {
      for (auto& t : w)
        for (auto& p : t) p.stale();
    }
  };

  //! C = A W_lᵀ (`transposed`) or C = A W_l for a hidden layer l: packed_gemm where the
  //! packed W_l is fresh, or where `repeated` says that this product comes back many
  //! times before the next parameter change (the k Langevin steps' energy_and_grad:
  //! packing costs about 0.2 of one such GEMM and saves about 0.1 per call); else
  //! linalg::gemm. Which one a call takes depends only on the calls since the last
  //! parameter change (fresh packs are dropped then), so a step's numbers are the
  //! same on every rank, and after a restart.
  void times_weight(int l, bool transposed, const Matrix<Space>& a, const Matrix<Space>& c, bool repeated) const {
    if constexpr (kPacked) {
      const int t = transposed ? 0 : 1, k = layers_[l + t], n = layers_[l + 1 - t];
      if (static_cast<int>(a.extent(1)) != k || static_cast<int>(c.extent(1)) != n || a.extent(0) != c.extent(0))
        throw Error("internal: Mlp::times_weight shape mismatch", false);
      linalg::PackedWeight& packed = packs_->w[t][l];
      if (packed.fresh() || repeated) {
        Space().fence();
        linalg::packed_gemm(static_cast<int>(c.extent(0)), n, k, a.data(), static_cast<int>(a.stride(0)),
                            packed.get(w_[l].data(), layers_[l], transposed, k, n), c.data(),
                            static_cast<int>(c.stride(0)));
        return;
      }
    }
    linalg::gemm<Space>(false, transposed, Real(1), a, w_[l], Real(0), c);
  }

  //! Hidden layer l < last−1: H = act(Z + b) in place, D = act'(·) (when kept).
  //! Z comes from a GEMM, or for a small fan-in first layer is formed here directly.
  void hidden(int l, const Matrix<Space>& in, bool keep) {
    const int batch = static_cast<int>(in.extent(0));
    const int width = layers_[l + 1], fan_in = layers_[l];
    const bool direct = l == 0 && fan_in <= kSmallFanIn;
    if (!direct) times_weight(l, true, in, h_[l], true);
    detail::hidden_activation<Space>(batch, width, fan_in, in, h_[l], d_[l], b_[l], w_[l], w0t_, act_, direct, keep);
  }

  //! Last hidden layer fused with the output layer (detail::last_hidden_output).
  void last_hidden(const Matrix<Space>& zin, const Vector<Space>& E, bool keep) {
    const int batch = static_cast<int>(zin.extent(0));
    const int l = nlayers() - 2;
    const int width = layers_[l + 1];
    const Matrix<Space> t(t_[0].data(), batch, width);
    detail::last_hidden_output<Space>(batch, width, zin, b_[l], w_[l + 1], b_[l + 1], act_, t, E, keep);
  }

  void forward(const Matrix<Space>& x, const Vector<Space>& E, bool keep_derivative) {
    const int batch = static_cast<int>(x.extent(0));
    ensure_workspace(batch);
    const int last = nlayers() - 1;
    if (last == 0) return detail::linear_energy<Space>(batch, layers_[0], x, w_[0], b_[0], E);  // linear model
    for (int l = 0; l + 2 < nlayers(); ++l) hidden(l, l == 0 ? x : h_[l - 1], keep_derivative);
    // Last hidden layer: its pre-activation goes to h_[last − 1] (a GEMM, or the
    // direct small-fan-in product when it is also the first layer).
    const int l = last - 1;
    const Matrix<Space>& in = l == 0 ? x : h_[l - 1];
    const auto z = h_[l];
    if (l == 0 && layers_[0] <= kSmallFanIn)
      detail::small_fan_in<Space>(batch, layers_[1], layers_[0], x, w0t_, z);
    else
      times_weight(l, true, in, z, true);
    last_hidden(z, E, keep_derivative);
  }

  //! dE/dA_l = (dE/dA_{l+1} ⊙ D_l) W_l down to the input; T0 is already w_out ⊙ D_last.
  void backward(const Matrix<Space>& x, const Matrix<Space>& g) {
    const int batch = static_cast<int>(x.extent(0));
    const int last = nlayers() - 1;
    if (last == 0) return detail::grad_linear<Space>(batch, layers_[0], w_[0], g);
    int cur = 0;
    for (int l = last - 1; l >= 0; --l) {
      const int out = layers_[l + 1], in = layers_[l];
      const Matrix<Space> t(t_[cur].data(), batch, out);
      if (l == 0) {
        times_weight(0, false, t, g, true);
        break;
      }
      const Matrix<Space> next(t_[1 - cur].data(), batch, in);
      times_weight(l, false, t, next, true);
      if (l == 1 && layers_[0] <= kSmallFanIn) {
        // g = ((T W_1) ⊙ D_0) W_0 with W_0 of d_0 ≤ kSmallFanIn columns: one fused pass after the GEMM.
        return detail::backprop_small_fan_in<Space>(batch, in, layers_[0], next, d_[l - 1], w0t_, g);
      }
      detail::backprop_hidden<Space>(batch, in, next, d_[l - 1]);
      cur = 1 - cur;
    }
  }

  std::vector<int> layers_;
  Activation act_;
  std::vector<std::size_t> offset_;  //!< θ offset of layer l's weights; offset_.back() = n_params()
  Vector<Space> theta_;
  std::vector<Matrix<Space>> w_;  //!< views into θ
  std::vector<Vector<Space>> b_;  //!< views into θ
  std::vector<Matrix<Space>> h_, d_;
  Matrix<Space> t_[2];
  Matrix<Space> w0t_;  //!< W_0ᵀ
  std::shared_ptr<Packs> packs_;  //!< kPacked only
  Matrix<Space> xpad_, gpad_;
  Vector<Space> epad_;
  int train_rows_ = 0;                       //!< training workspaces: padded rows
  std::vector<Matrix<Space>> ta_, td_, ts_;  //!< [A; Ȧ] per layer, D and S per hidden layer
  std::vector<Matrix<Space>> tq_;            //!< the energy's Y W per hidden layer below the last
  Matrix<Space> ty_[2];                      //!< adjoints, ping-pong
  Accum<Space> tloss_;                       //!< per-row DSM loss
  Vector<Space> wrow_;                       //!< per-row weights of contrastive_grad
};

}  // namespace zeta::models
