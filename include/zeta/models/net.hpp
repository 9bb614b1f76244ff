//! A layer-stack energy E(x) (model.type = net): the layers of model.net
//! (models/net_arch.hpp) on rows x in PyTorch's NCHW order, e.g. the EnergyNet of the
//! PyTorch EBM tutorial. Batched forward pass, ∇x E and ∇θ E with every conv and
//! linear layer on GEMM (linalg/gemm.hpp: cblas on the host, KokkosBlas on a device):
//! a conv layer is im2col + one GEMM per chunk of images (Z = Col Wᵀ), its input
//! gradient one GEMM and the gathering col2im, its weight gradient one GEMM (dZᵀ Col).
//! Images between layers are NHWC, so that each GEMM writes and reads them directly.
//!
//! Rows go through in chunks of at most kChunk images, each chunk forward and then
//! backward, so workspaces stay bounded (the largest im2col matrix of a chunk). BLAS
//! gives a row different bits depending on the GEMM's shape and the row's place in it,
//! so the same bits on any rank count need the same calls: the trainer makes them with
//! the same partition blocks (train.deterministic), and the sampling commands fix the
//! chunk (fix_chunk: every energy / energy_and_grad pass on exactly that many images,
//! the last chunk zero-padded), so that a chain's numbers do not depend on how many
//! chains its rank holds (double: dgemm is row-stable for a fixed shape; OpenBLAS
//! sgemm is not, so float builds agree to rounding only, as Mlp's sampling).
//!
//! Parameters: one flat θ, per conv / linear layer in model.net order its weight in
//! PyTorch's shape ([out, in, k, k] or [out, in], row-major) then its bias, as Mlp's;
//! an optimizer updates theta() in place (params_updated() after it).
//!
//! Spectral normalisation (sn_conv, sn_linear), as torch.nn.utils.spectral_norm: the
//! layer computes with W / σ, σ = uᵀ W v for the weight reshaped to [out, in·k·k] and
//! the held vectors u [out], v [in·k·k]; power_iteration() (the trainer calls it once
//! per step, as PyTorch does once per training-mode forward) sets v ← Wᵀu / ‖Wᵀu‖,
//! u ← W v / ‖W v‖ and σ anew; ∇θ goes through σ with u, v held fixed:
//! ∂L/∂W = G/σ − (Σ G ⊙ W)/σ² · u vᵀ for G = ∂L/∂(W/σ). u and v are the spectral state
//! (a checkpoint keeps it, so a restart is bit for bit); the forward pass reads the
//! effective parameters (W/σ, b), refreshed with σ at every parameter change.
//!
//! GroupNorm (groupnorm(G)) keeps each chunk's per-image, per-group mean and 1/σ for its
//! reverse pass; a residual block res( … ) copies its input at 'res(' and adds it back
//! at ')', whose reverse pass keeps the output adjoint to add at 'res('. Both are
//! smooth, so DSM's tangent and reverse passes go through them too.
#pragma once
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/models/detail/net_kernels.hpp"
#include "zeta/models/net_arch.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::models {

template <class Space>
class Net {
 public:
  using space = Space;
  //! Images per forward / backward chunk.
  static constexpr int kChunk = 64;

  //! `spectral`: u and v of the sn layers (random_spectral, or a checkpoint's); none without sn layers.
  Net(const NetArch& arch, const std::vector<double>& theta, const std::vector<double>& spectral = {})
      : arch_(arch) {
    theta_ = Vector<Space>("zeta::Net::theta", std::size_t(arch_.n_params));
    eff_ = theta_;
    if (arch_.spectral()) {
      eff_ = Vector<Space>("zeta::Net::effective_theta", std::size_t(arch_.n_params));
      sn_ = Vector<Space>("zeta::Net::spectral_uv", std::size_t(arch_.n_spectral));
      std::int64_t widest = 1;
      for (const auto& L : arch_.layers) widest = std::max<std::int64_t>(widest, L.out);
      wv_ = Vector<Space>("zeta::Net::spectral_wv", std::size_t(widest));
      sigma_.assign(arch_.layers.size(), 1.0);
      set_spectral_state(spectral);
    }
    set_params(theta);
  }

  //! PyTorch's initial u and v: N(0, 1) entries, normalised, from the counter RNG keyed
  //! by (seed, layer index) (step 1: θ's draws use step 0).
  static std::vector<double> random_spectral(const NetArch& arch, std::uint32_t seed) {
    std::vector<double> s(std::size_t(arch.n_spectral));
    for (std::size_t i = 0; i < arch.layers.size(); ++i) {
      const NetLayer& L = arch.layers[i];
      if (!L.sn) continue;
      const rng::Stream st(seed, i, 1, rng::kInit);
      const int n = int(L.out + L.fan_in);
      st.normals(n, [&](int k, Real z) { s[std::size_t(L.u_offset + k)] = double(z); });
      for (auto [off, len] : {std::pair{L.u_offset, std::int64_t(L.out)}, std::pair{L.v_offset, L.fan_in}}) {
        double sq = 0;
        for (std::int64_t k = 0; k < len; ++k) sq += s[std::size_t(off + k)] * s[std::size_t(off + k)];
        const double inv = 1 / std::max(std::sqrt(sq), 1e-12);
        for (std::int64_t k = 0; k < len; ++k) s[std::size_t(off + k)] *= inv;
      }
    }
    return s;
  }

  //! PyTorch's default initialisation of Conv2d and Linear (kaiming_uniform_ with a = √5):
  //! weights and biases U(−1/√fan_in, 1/√fan_in), from the counter RNG keyed by
  //! (seed, layer index in model.net); GroupNorm's as PyTorch's, scale 1 and shift 0.
  static std::vector<double> random_params(const NetArch& arch, std::uint32_t seed) {
    std::vector<double> t(std::size_t(arch.n_params));
    for (std::size_t i = 0; i < arch.layers.size(); ++i) {
      const NetLayer& L = arch.layers[i];
      if (L.kind == LayerKind::groupnorm) {  // PyTorch's GroupNorm: weight 1, bias 0
        for (std::int64_t c = 0; c < L.n_weight; ++c) t[std::size_t(L.w_offset + c)] = 1.0;
        continue;
      }
      if (!L.weighted()) continue;
      const double bound = 1.0 / std::sqrt(double(L.fan_in));
      const rng::Stream s(seed, i, 0, rng::kInit);
      for (std::int64_t q = 0; q < L.n_weight; ++q)
        t[std::size_t(L.w_offset + q)] = bound * (2 * s.uniform(std::uint32_t(q)) - 1);
      for (std::int64_t o = 0; o < L.n_bias; ++o)
        t[std::size_t(L.b_offset + o)] = bound * (2 * s.uniform(std::uint32_t(L.n_weight + o)) - 1);
    }
    return t;
  }

  //! The model.type it runs (NetArch::model): "net", or "mlp" for an mlp of K logits.
  std::string name() const { return arch_.model; }
  int dim() const { return arch_.dim(); }
  const NetArch& arch() const { return arch_; }

  std::size_t n_params() const { return std::size_t(arch_.n_params); }
  const Vector<Space>& theta() const { return theta_; }
  std::vector<double> params() const { return host_copy(theta_); }
  void set_params(const std::vector<double>& flat) {
    if (flat.size() != n_params())
      throw Error("net: " + std::to_string(flat.size()) + " parameters given, model.net has " +
                  std::to_string(n_params()));
    auto h = Kokkos::create_mirror_view(theta_);
    for (std::size_t k = 0; k < flat.size(); ++k) h(k) = Real(flat[k]);
    Kokkos::deep_copy(theta_, h);
    params_updated();
  }
  //! Refreshes the effective parameters (W/σ of the sn layers, σ from the held u, v).
  void params_updated() {
    if (arch_.spectral()) refresh_spectral();
  }

  // ---- spectral normalisation ----------------------------------------------------
  //! u and v of every sn layer (NetLayer::u_offset, v_offset), for a checkpoint.
  std::vector<double> spectral_state() const { return arch_.spectral() ? host_copy(sn_) : std::vector<double>(); }
  void set_spectral_state(const std::vector<double>& s) {
    if (s.size() != std::size_t(arch_.n_spectral))
      throw Error("net: " + std::to_string(s.size()) + " spectral-norm entries given, model.net has " +
                  std::to_string(arch_.n_spectral));
    if (s.empty()) return;
    auto h = Kokkos::create_mirror_view(sn_);
    for (std::size_t k = 0; k < s.size(); ++k) h(k) = Real(s[k]);
    Kokkos::deep_copy(sn_, h);
    refresh_spectral();
  }
  //! σ of layer `layer` (1 for a layer without sn).
  double sigma(int layer) const { return arch_.spectral() ? sigma_.at(std::size_t(layer)) : 1.0; }
  //! One power iteration per sn layer (v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖), then σ and W/σ anew.
  void power_iteration() {
    for (const auto& L : arch_.layers) {
      if (!L.sn) continue;
      Real* u = sn_.data() + L.u_offset;
      Real* v = sn_.data() + L.v_offset;
      linalg::gemm<Space>(true, false, Real(1), weight_raw(L), Matrix<Space>(u, L.out, 1), Real(0),
                          Matrix<Space>(v, L.fan_in, 1));
      detail::normalize<Space>(v, L.fan_in);
      linalg::gemm<Space>(false, false, Real(1), weight_raw(L), Matrix<Space>(v, L.fan_in, 1), Real(0),
                          Matrix<Space>(u, L.out, 1));
      detail::normalize<Space>(u, L.out);
    }
    refresh_spectral();
  }
  Vector<Space> gradient_buffer() const { return Vector<Space>("zeta::Net::grad_theta", n_params()); }

  //! energy() and energy_and_grad() on exactly `images` images per pass (the last one
  //! zero-padded; 0: chunks of up to kChunk as the rows come): the sampling commands'
  //! setting, which makes a chain's bits independent of how many chains a call has.
  void fix_chunk(int images) {
    if (images < 0 || images > kChunk) throw Error("internal: net chunk out of range", false);
    fixed_ = images;
  }

  //! E(x_n) for every row.
  void energy(const Matrix<Space>& x, const Vector<Space>& E) {
    if (fixed_ > 0) {
      for_fixed_chunks(x, [&](std::int64_t r0, int nb) {
        forward(xpad_, 0, fixed_);
        copy_energy(0, nb, Vector<Space>(E.data() + r0, std::size_t(nb)));
      });
      return;
    }
    for_chunks(x, [&](std::int64_t r0, int nb) {
      forward(x, r0, nb);
      copy_energy(r0, nb, E);
    });
  }

  //! E(x_n) and ∇x E(x_n) for every row.
  void energy_and_grad(const Matrix<Space>& x, const Vector<Space>& E, const Matrix<Space>& g) {
    check_rows(g, x.extent(0), "gradient");
    if (fixed_ > 0) {
      for_fixed_chunks(x, [&](std::int64_t r0, int nb) {
        forward(xpad_, 0, fixed_);
        copy_energy(0, nb, Vector<Space>(E.data() + r0, std::size_t(nb)));
        seed(0, fixed_, PerChain<Space>(1.0), 0);
        backward(fixed_, gpad_.data(), Vector<Space>());
        copy(gpad_.data(), g.data() + r0 * dim(), std::int64_t(nb) * dim());
      });
      return;
    }
    for_chunks(x, [&](std::int64_t r0, int nb) {
      forward(x, r0, nb);
      copy_energy(r0, nb, E);
      seed(r0, nb, PerChain<Space>(1.0), 0);
      backward(nb, g.data() + r0 * dim(), Vector<Space>());
    });
  }

  //! g += Σ_n s_n ∇θ E(x_n).
  void grad_energy_params(const Matrix<Space>& x, const PerChain<Space>& s, const Vector<Space>& g) {
    contrastive_grad(x, s, 0, g, Vector<Space>());
  }

  //! The contrastive loss with the energy regulariser, as Mlp::contrastive_grad:
  //! L = Σ_n (c_n E(x_n) + a E(x_n)²); adds ∇θ L to g and writes E(x_n) to E (when set).
  void contrastive_grad(const Matrix<Space>& x, const PerChain<Space>& c, double a, const Vector<Space>& g,
                        const Vector<Space>& E) {
    if (g.extent(0) != n_params()) throw Error("internal: net gradient buffer has the wrong length", false);
    if (arch_.spectral()) {
      // The gradient of the effective parameters into a scratch buffer, then through σ into g.
      if (gs_.extent(0) != n_params()) gs_ = gradient_buffer();
      Kokkos::deep_copy(gs_, Real(0));
      contrastive_effective(x, c, a, gs_, E);
      return through_sigma(g);
    }
    contrastive_effective(x, c, a, g, E);
  }

  // ---- a net of K outputs per row (JEM's logits f(x), training/jem.hpp) ----------
  //! f(x_n) into f (n × K).
  void outputs(const Matrix<Space>& x, const Matrix<Space>& f) {
    const std::int64_t K = arch_.outputs();
    for_chunks(x, [&](std::int64_t r0, int nb) {
      forward(x, r0, nb);
      copy(act_.back().data(), f.data() + r0 * K, nb * K);
    });
  }
  //! The vector-Jacobian product of f at x for df (n × K, ∂L/∂f): ∇x L into gx and
  //! ∇θ L added to g, each when set.
  void outputs_vjp(const Matrix<Space>& x, const Matrix<Space>& df, const Matrix<Space>& gx, const Vector<Space>& g) {
    const std::int64_t K = arch_.outputs();
    const bool sn = g.data() && arch_.spectral();
    if (sn && gs_.extent(0) != n_params()) gs_ = gradient_buffer();
    if (sn) Kokkos::deep_copy(gs_, Real(0));
    for_chunks(x, [&](std::int64_t r0, int nb) {
      forward(x, r0, nb);
      copy(df.data() + r0 * K, seed_.data(), nb * K);
      backward(nb, gx.data() ? gx.data() + r0 * dim() : nullptr, sn ? gs_ : g);
    });
    if (sn) through_sigma(g);
  }

  //! Denoising score matching, as Mlp::dsm_loss_and_grad (training/dsm.hpp):
  //!   L = Σ_n s_n ½ ‖∇x E(x̃_n) + c_n‖²   (x̃ the rows of xt, c those of offset)
  //! returns L over these rows (host) and adds ∇θ L to g. The activations must be
  //! smooth (require_smooth_net). With r_n = ∇x E(x̃_n) + c_n held fixed,
  //! ∇θ L = ∇θ Σ_n s_n Ė_n for Ė = ⟨r, ∇x E⟩, E's derivative along r: per chunk a
  //! forward and a backward pass give ∇x E and r, a tangent pass carries Ȧ_0 = r up
  //! the layers (conv / linear Ż = Ȧ Wᵀ without bias, activations Ȧ = f'(Z) Ż, pool
  //! and flatten as on the primal rows), and reverse mode through both graphs at once
  //! gives ∇θ Ė. The tangent images sit after the chunk's primal ones in every
  //! activation and im2col buffer, so each conv / linear layer's weight gradient is
  //! one GEMM over the 2·nb stacked images ([ζ; p]ᵀ [Col; Ċol]) and its input adjoint
  //! another ([ζ; p] W, then col2im); an activation's adjoints are ζ = Ā f' + Ǡ f'' Ż
  //! (primal) and p = Ǡ f' (tangent). Spectral-norm layers: the gradient of the
  //! effective parameters goes through σ as contrastive_grad's.
  double dsm_loss_and_grad(const Matrix<Space>& xt, const Matrix<Space>& offset, const PerChain<Space>& s,
                           const Vector<Space>& g) {
    require_smooth_net(arch_);
    if (g.extent(0) != n_params()) throw Error("internal: net gradient buffer has the wrong length", false);
    if (offset.extent(0) != xt.extent(0) || offset.extent(1) != xt.extent(1))
      throw Error("internal: net dsm offsets and points differ in shape", false);
    if (s.per_chain() && s.size() < xt.extent(0))
      throw Error("internal: net row weights do not cover the batch", false);
    if (xt.extent(0) > 1 && offset.stride(0) != std::size_t(dim()))
      throw Error("internal: net dsm offset rows are not contiguous", false);
    if (!arch_.spectral()) return dsm_effective(xt, offset, s, g);
    if (gs_.extent(0) != n_params()) gs_ = gradient_buffer();
    Kokkos::deep_copy(gs_, Real(0));
    const double loss = dsm_effective(xt, offset, s, gs_);
    through_sigma(g);
    return loss;
  }

 private:
  //! contrastive_grad's ∇ of the effective parameters (W/σ, b) added to g.
  void contrastive_effective(const Matrix<Space>& x, const PerChain<Space>& c, double a, const Vector<Space>& g,
                             const Vector<Space>& E) {
    if (c.per_chain() && c.size() < x.extent(0)) throw Error("internal: net row weights do not cover the batch", false);
    if (E.data() && E.extent(0) < x.extent(0)) throw Error("internal: net energy output does not cover the batch", false);
    for_chunks(x, [&](std::int64_t r0, int nb) {
      forward(x, r0, nb);
      if (E.data()) copy_energy(r0, nb, E);
      seed(r0, nb, c, a);
      backward(nb, nullptr, g);
    });
  }

  //! dsm_loss_and_grad's loss, and its ∇ of the effective parameters added to g.
  double dsm_effective(const Matrix<Space>& xt, const Matrix<Space>& offset, const PerChain<Space>& s,
                       const Vector<Space>& g) {
    if (static_cast<int>(xt.extent(1)) != dim()) throw Error("internal: net input has the wrong dimension", false);
    const std::int64_t n = xt.extent(0);
    if (n > 1 && xt.stride(0) != std::size_t(dim())) throw Error("internal: net input rows are not contiguous", false);
    const int chunk = int(std::min<std::int64_t>(n, kChunk));
    ensure_workspace(2 * chunk);  // the primal images, then as many tangent ones
    if (static_cast<int>(res_.extent(0)) < chunk) {
      res_ = Matrix<Space>("zeta::Net::dsm_residual", chunk, dim());
      rloss_ = Accum<Space>("zeta::Net::dsm_loss_rows", chunk);
    }
    const NetShape& in = arch_.input;
    double loss = 0;
    for (std::int64_t r0 = 0; r0 < n; r0 += kChunk) {
      const int nb = int(std::min<std::int64_t>(kChunk, n - r0));
      forward(xt, r0, nb);
      seed(r0, nb, PerChain<Space>(1.0), 0);
      backward(nb, res_.data(), Vector<Space>());
      detail::dsm_residual<Space>(res_.data(), offset.data() + r0 * dim(), s, r0, nb, dim(), rloss_);
      for (double v : host_copy(Kokkos::subview(rloss_, std::make_pair(0, nb)))) loss += v;
      Real* tangent_in = act_[0].data() + std::int64_t(nb) * dim();
      if (in.spatial)
        detail::permute_chw<Space>(res_.data(), tangent_in, nb, in.c, in.h * in.w, false);
      else
        copy(res_.data(), tangent_in, std::int64_t(nb) * dim());
      tangent_forward(nb);
      detail::dsm_seed<Space>(s, r0, seed_.data(), nb);
      dsm_backward(nb, g);
    }
    return loss;
  }

  //! The tangent pass of dsm_effective: images nb … 2nb − 1 of every buffer, from Ȧ_0 there.
  void tangent_forward(int nb) {
    for (std::size_t l = 0; l < arch_.layers.size(); ++l) {
      const NetLayer& L = arch_.layers[l];
      const Real* z = act_[l].data();  // the primal input (the activations' Z)
      const Real* a = z + std::int64_t(nb) * L.in.size();
      Real* out = act_[l + 1].data() + std::int64_t(nb) * L.outs.size();
      if (L.weighted())
        weighted_forward(l, a, out, nb, nb, false);
      else if (L.kind == LayerKind::act)
        detail::tangent_activation<Space>(z, a, out, std::int64_t(nb) * L.in.size(), L.act);
      else if (L.kind == LayerKind::groupnorm)
        detail::groupnorm_tangent<Space>(z, a, out, gstat_[l].data(), gtstat_[l].data(), nb, group_geom(L),
                                         eff_.data() + L.w_offset);
      else if (L.kind == LayerKind::res_begin || L.kind == LayerKind::res_end)
        residual_forward(l, nb, nb);
      else
        shape_forward(L, a, out, nb);
    }
  }

  //! Reverse mode of Σ_n s_n Ė_n through the primal and tangent graphs (the seeds in
  //! seed_'s 2nb entries), ∇ of the effective parameters added to g.
  void dsm_backward(int nb, const Vector<Space>& g) {
    Real* dout = seed_.data();
    int cur = 0;
    for (std::size_t l = arch_.layers.size(); l-- > 0;) {
      const NetLayer& L = arch_.layers[l];
      Real* din = l > 0 ? adj_[cur].data() : nullptr;
      const Real* a = act_[l].data();
      if (L.weighted()) {
        weighted_adjoint(l, dout, din, a, 2 * nb, nb, g);  // the bias feeds the primal images only
      } else if (din && L.kind == LayerKind::act) {
        const std::int64_t m = std::int64_t(nb) * L.in.size();
        detail::dsm_activation_adjoint<Space>(a, a + m, dout, dout + m, din, din + m, m, L.act);
      } else if (L.kind == LayerKind::groupnorm) {
        const std::int64_t m = std::int64_t(nb) * L.in.size();
        const Real* gamma = eff_.data() + L.w_offset;
        if (g.data())
          detail::groupnorm_dsm_param_grad<Space>(a, a + m, dout, dout + m, gstat_[l].data(), gtstat_[l].data(), nb,
                                                  group_geom(L), g.data() + L.w_offset, g.data() + L.b_offset);
        if (din)
          detail::groupnorm_dsm_adjoint<Space>(a, a + m, dout, dout + m, din, din + m, gstat_[l].data(),
                                               gtstat_[l].data(), nb, group_geom(L), gamma);
      } else if (L.kind == LayerKind::res_begin || L.kind == LayerKind::res_end) {
        residual_adjoint(l, dout, din, 2 * nb);
      } else if (din) {
        shape_adjoint(L, dout, din, 2 * nb);
      }
      if (!din) return;
      dout = din;
      cur = 1 - cur;
    }
  }

  //! A conv / linear layer's forward step on `images` images from a (NHWC, or flat
  //! rows) into out: conv through its im2col matrix at image `col_image` of col_[l];
  //! the bias added when `bias`.
  void weighted_forward(std::size_t l, const Real* a, Real* out, int images, int col_image, bool bias) {
    const NetLayer& L = arch_.layers[l];
    std::int64_t rows = images;
    const Real* in = a;
    if (L.kind == LayerKind::conv) {
      const detail::ConvGeom g = geom(L);
      Real* col = col_[l].data() + std::int64_t(col_image) * g.ho * g.wo * L.fan_in;
      detail::im2col<Space>(a, col, images, g);
      rows = std::int64_t(images) * g.ho * g.wo;
      in = col;
    }
    linalg::gemm<Space>(false, true, Real(1), Matrix<Space>(const_cast<Real*>(in), rows, L.fan_in), weight(L), Real(0),
                        Matrix<Space>(out, rows, L.out));
    if (bias) detail::add_bias<Space>(out, eff_.data() + L.b_offset, rows, L.out);
  }

  //! A conv / linear layer's reverse step for `images` images with output adjoints
  //! dout: ∇W += dZᵀ Col (conv; the im2col rows of col_[l]) or dZᵀ A (linear), ∇b += the
  //! column sums of the first `biased` images' dZ (g set), and din = dZ W (conv: then
  //! col2im) when set.
  void weighted_adjoint(std::size_t l, const Real* dout, Real* din, const Real* a, int images, int biased,
                        const Vector<Space>& g) {
    const NetLayer& L = arch_.layers[l];
    const bool conv = L.kind == LayerKind::conv;
    const std::int64_t per = conv ? std::int64_t(L.outs.h) * L.outs.w : 1;  // GEMM rows per image
    const std::int64_t rows = images * per;
    const Matrix<Space> dz(const_cast<Real*>(dout), rows, L.out);
    if (g.data()) {
      const Real* in = conv ? col_[l].data() : a;
      linalg::gemm<Space>(true, false, Real(1), dz, Matrix<Space>(const_cast<Real*>(in), rows, L.fan_in), Real(1),
                          Matrix<Space>(g.data() + L.w_offset, L.out, L.fan_in));
      detail::bias_grad<Space>(dout, g.data() + L.b_offset, biased * per, L.out);
    }
    if (!din) return;
    if (!conv) {
      linalg::gemm<Space>(false, false, Real(1), dz, weight(L), Real(0), Matrix<Space>(din, rows, L.fan_in));
      return;
    }
    linalg::gemm<Space>(false, false, Real(1), dz, weight(L), Real(0), Matrix<Space>(dcol_.data(), rows, L.fan_in));
    detail::col2im<Space>(dcol_.data(), din, images, geom(L));
  }

  //! flatten / avgpool on `images` images, forward and adjoint.
  void shape_forward(const NetLayer& L, const Real* a, Real* out, int images) {
    if (L.kind == LayerKind::avgpool) return detail::avgpool<Space>(a, out, images, L.in.c, L.in.h, L.in.w, L.k);
    if (L.in.spatial) return detail::permute_chw<Space>(a, out, images, L.in.c, L.in.h * L.in.w, true);
    copy(a, out, std::int64_t(images) * L.in.size());
  }
  void shape_adjoint(const NetLayer& L, const Real* dout, Real* din, int images) {
    if (L.kind == LayerKind::avgpool)
      return detail::avgpool_adjoint<Space>(dout, din, images, L.in.c, L.in.h, L.in.w, L.k);
    if (L.in.spatial) return detail::permute_chw<Space>(dout, din, images, L.in.c, L.in.h * L.in.w, false);
    copy(dout, din, std::int64_t(images) * L.in.size());
  }

  //! A residual block's ends on `images` images from image `first` of every buffer:
  //! 'res(' passes x on, ')' adds the block's input x (a_begin) to F(x).
  void residual_forward(std::size_t l, int first, int images) {
    const NetLayer& L = arch_.layers[l];
    const std::int64_t per = L.in.size(), off = std::int64_t(first) * per, m = std::int64_t(images) * per;
    if (L.kind == LayerKind::res_begin) return copy(act_[l].data() + off, act_[l + 1].data() + off, m);
    detail::add<Space>(act_[l].data() + off, act_[std::size_t(L.partner)].data() + off, act_[l + 1].data() + off, m);
  }
  //! Their reverse steps: ')' passes dy to F and keeps it, 'res(' adds the kept dy to F's dx.
  void residual_adjoint(std::size_t l, const Real* dout, Real* din, int images) {
    const NetLayer& L = arch_.layers[l];
    const std::int64_t m = std::int64_t(images) * L.in.size();
    if (L.kind == LayerKind::res_end) {
      copy(dout, skip_[l].data(), m);
      if (din) copy(dout, din, m);
    } else if (din) {
      detail::add<Space>(dout, skip_[std::size_t(L.partner)].data(), din, m);
    }
  }

  //! A GroupNorm layer's shape for its kernels.
  static detail::GroupGeom group_geom(const NetLayer& L) {
    return detail::GroupGeom{L.in.h * L.in.w, L.in.c, L.groups, 1e-5};
  }

  //! g += ∂L/∂θ from gs_ = ∂L/∂(effective θ): biases and plain layers as they are, an
  //! sn layer's weights G/σ − (Σ G ⊙ W)/σ² u vᵀ.
  void through_sigma(const Vector<Space>& g) {
    for (std::size_t l = 0; l < arch_.layers.size(); ++l) {
      const NetLayer& L = arch_.layers[l];
      if (!L.has_params()) continue;
      if (L.sn)
        detail::sn_weight_grad<Space>(gs_.data() + L.w_offset, theta_.data() + L.w_offset, sn_.data() + L.u_offset,
                                      sn_.data() + L.v_offset, L.out, L.fan_in, sigma_[l], g.data() + L.w_offset);
      else
        detail::add_to<Space>(gs_.data() + L.w_offset, g.data() + L.w_offset, L.n_weight);
      detail::add_to<Space>(gs_.data() + L.b_offset, g.data() + L.b_offset, L.n_bias);
    }
  }

  //! σ = uᵀ W v per sn layer, and the effective parameters: θ with each sn weight / σ.
  void refresh_spectral() {
    Kokkos::deep_copy(eff_, theta_);
    for (std::size_t l = 0; l < arch_.layers.size(); ++l) {
      const NetLayer& L = arch_.layers[l];
      if (!L.sn) continue;
      const Matrix<Space> wv(wv_.data(), L.out, 1);
      linalg::gemm<Space>(false, false, Real(1), weight_raw(L), Matrix<Space>(sn_.data() + L.v_offset, L.fan_in, 1),
                          Real(0), wv);
      sigma_[l] = detail::dot<Space>(sn_.data() + L.u_offset, wv_.data(), L.out);
      detail::scale<Space>(eff_.data() + L.w_offset, Real(1 / sigma_[l]), L.n_weight);
    }
  }

  template <class F>
  void for_chunks(const Matrix<Space>& x, F&& f) {
    if (static_cast<int>(x.extent(1)) != dim()) throw Error("internal: net input has the wrong dimension", false);
    const std::int64_t n = x.extent(0);
    if (n > 1 && x.stride(0) != std::size_t(dim())) throw Error("internal: net input rows are not contiguous", false);
    ensure_workspace(int(std::min<std::int64_t>(n, kChunk)));
    for (std::int64_t r0 = 0; r0 < n; r0 += kChunk) f(r0, int(std::min<std::int64_t>(kChunk, n - r0)));
  }

  //! fix_chunk's passes: rows [r0, r0 + nb) of x copied into xpad_, the rest of its fixed_ rows zero.
  template <class F>
  void for_fixed_chunks(const Matrix<Space>& x, F&& f) {
    if (static_cast<int>(x.extent(1)) != dim()) throw Error("internal: net input has the wrong dimension", false);
    const std::int64_t n = x.extent(0);
    if (n > 1 && x.stride(0) != std::size_t(dim())) throw Error("internal: net input rows are not contiguous", false);
    ensure_workspace(fixed_);
    if (static_cast<int>(xpad_.extent(0)) != fixed_) {
      xpad_ = Matrix<Space>("zeta::Net::padded_x", fixed_, dim());
      gpad_ = Matrix<Space>("zeta::Net::padded_grad", fixed_, dim());
    }
    for (std::int64_t r0 = 0; r0 < n; r0 += fixed_) {
      const int nb = int(std::min<std::int64_t>(fixed_, n - r0));
      copy(x.data() + r0 * dim(), xpad_.data(), std::int64_t(nb) * dim());
      if (nb < fixed_)
        Kokkos::deep_copy(Kokkos::subview(xpad_, std::make_pair(nb, fixed_), Kokkos::ALL), Real(0));
      f(r0, nb);
    }
  }

  void check_rows(const Matrix<Space>& m, std::size_t rows, const char* what) const {
    if (m.extent(0) != rows || static_cast<int>(m.extent(1)) != dim())
      throw Error(std::string("internal: net ") + what + " has the wrong shape", false);
  }

  //! Activations a_l (l = 0 … layers: the input in NHWC, then each layer's output),
  //! each conv layer's im2col matrix, two adjoint buffers and the conv adjoint's dCol,
  //! for `rows` images.
  void ensure_workspace(int rows) {
    if (rows <= rows_) return;
    rows_ = rows;
    const std::size_t nl = arch_.layers.size();
    act_.assign(nl + 1, Vector<Space>());
    col_.assign(nl, Vector<Space>());
    skip_.assign(nl, Vector<Space>());
    gstat_.assign(nl, Accum<Space>());
    gtstat_.assign(nl, Accum<Space>());
    act_[0] = Vector<Space>("zeta::Net::input", std::size_t(rows) * arch_.input.size());
    std::int64_t widest_col = 1;
    for (std::size_t l = 0; l < nl; ++l) {
      const NetLayer& L = arch_.layers[l];
      act_[l + 1] = Vector<Space>("zeta::Net::activation", std::size_t(rows) * L.outs.size());
      if (L.kind == LayerKind::res_end)
        skip_[l] = Vector<Space>("zeta::Net::residual_adjoint", std::size_t(rows) * L.outs.size());
      if (L.kind == LayerKind::groupnorm) {
        gstat_[l] = Accum<Space>("zeta::Net::groupnorm_stats", std::size_t(rows) * L.groups * 2);
        gtstat_[l] = Accum<Space>("zeta::Net::groupnorm_tangent_stats", std::size_t(rows) * L.groups * 2);
      }
      if (L.kind == LayerKind::conv) {
        const std::int64_t c = std::int64_t(rows) * L.outs.h * L.outs.w * L.fan_in;
        col_[l] = Vector<Space>("zeta::Net::im2col", std::size_t(c));
        widest_col = std::max(widest_col, c);
      }
    }
    const std::size_t w = std::size_t(rows) * std::size_t(arch_.widest());
    adj_[0] = Vector<Space>("zeta::Net::adjoint0", w);
    adj_[1] = Vector<Space>("zeta::Net::adjoint1", w);
    dcol_ = Vector<Space>("zeta::Net::dcol", std::size_t(widest_col));
    seed_ = Vector<Space>("zeta::Net::seed", std::size_t(rows) * std::size_t(arch_.outputs()));
  }

  static detail::ConvGeom geom(const NetLayer& L) {
    return detail::ConvGeom{L.in.c, L.in.h, L.in.w, L.k, L.stride, L.pad, L.outs.h, L.outs.w};
  }
  //! The effective weight (W/σ with sn) that the passes use, and θ's own.
  Matrix<Space> weight(const NetLayer& L) const { return Matrix<Space>(eff_.data() + L.w_offset, L.out, L.fan_in); }
  Matrix<Space> weight_raw(const NetLayer& L) const {
    return Matrix<Space>(theta_.data() + L.w_offset, L.out, L.fan_in);
  }

  //! The forward pass of rows [r0, r0 + nb) of x, every activation kept.
  void forward(const Matrix<Space>& x, std::int64_t r0, int nb) {
    const Real* xin = x.data() + r0 * dim();
    const NetShape& in = arch_.input;
    if (in.spatial)
      detail::permute_chw<Space>(xin, act_[0].data(), nb, in.c, in.h * in.w, false);
    else
      Kokkos::deep_copy(Kokkos::subview(act_[0], std::make_pair(std::size_t(0), std::size_t(nb) * dim())),
                        Vector<Space>(const_cast<Real*>(xin), std::size_t(nb) * dim()));
    for (std::size_t l = 0; l < arch_.layers.size(); ++l) {
      const NetLayer& L = arch_.layers[l];
      const Real* a = act_[l].data();
      Real* out = act_[l + 1].data();
      if (L.weighted())
        weighted_forward(l, a, out, nb, 0, true);
      else if (L.kind == LayerKind::act)
        detail::activation<Space>(a, out, std::int64_t(nb) * L.in.size(), L.act, Real(L.alpha));
      else if (L.kind == LayerKind::groupnorm)
        detail::groupnorm<Space>(a, out, gstat_[l].data(), nb, group_geom(L), eff_.data() + L.w_offset,
                                 eff_.data() + L.b_offset);
      else if (L.kind == LayerKind::res_begin || L.kind == LayerKind::res_end)
        residual_forward(l, 0, nb);
      else
        shape_forward(L, a, out, nb);
    }
  }

  void copy(const Real* src, Real* dst, std::int64_t n) const {
    Kokkos::deep_copy(Vector<Space>(dst, std::size_t(n)), Vector<Space>(const_cast<Real*>(src), std::size_t(n)));
  }

  //! E of the chunk's nb rows into E[r0 …]: the last layer's number, or with K ≥ 2 logits
  //! the classifier's −logsumexp f.
  void copy_energy(std::int64_t r0, int nb, const Vector<Space>& E) const {
    const int K = arch_.outputs();
    if (K == 1) return copy(act_.back().data(), E.data() + r0, nb);
    detail::logits_energy<Space>(act_.back().data(), K, nb, E.data() + r0, PerChain<Space>(0.0), 0, 0, nullptr);
  }

  //! dL/dE_n of the chunk's rows, s_n + 2 a E_n; with K ≥ 2 logits dL/df_n = −(s_n + 2a E_n) softmax(f_n).
  void seed(std::int64_t r0, int nb, const PerChain<Space>& s, double a) {
    const int K = arch_.outputs();
    if (K == 1) return detail::energy_seed<Space>(act_.back().data(), s, r0, Real(a), seed_.data(), nb);
    detail::logits_energy<Space>(act_.back().data(), K, nb, nullptr, s, r0, a, seed_.data());
  }

  //! Backpropagates the seed: ∇x into gx (CHW rows, when set), ∇θ added to g (when set).
  void backward(int nb, Real* gx, const Vector<Space>& g) {
    const std::size_t nl = arch_.layers.size();
    Real* dout = seed_.data();
    int cur = 0;
    for (std::size_t l = nl; l-- > 0;) {
      const NetLayer& L = arch_.layers[l];
      const bool need_in = l > 0 || gx;
      // The input adjoint goes to the free ping-pong buffer, at the first layer to gx
      // directly where no layout change is left.
      const bool direct = l == 0 && !arch_.input.spatial;
      Real* din = !need_in ? nullptr : direct ? gx : adj_[cur].data();
      const Real* a = act_[l].data();
      if (L.weighted()) {
        weighted_adjoint(l, dout, din, a, nb, nb, g);
      } else if (need_in && L.kind == LayerKind::act) {
        detail::activation_adjoint<Space>(a, dout, din, std::int64_t(nb) * L.in.size(), L.act, Real(L.alpha));
      } else if (L.kind == LayerKind::groupnorm) {
        if (g.data())
          detail::groupnorm_param_grad<Space>(a, dout, gstat_[l].data(), nb, nb, group_geom(L), g.data() + L.w_offset,
                                              g.data() + L.b_offset);
        if (need_in)
          detail::groupnorm_adjoint<Space>(a, dout, din, gstat_[l].data(), nb, group_geom(L), eff_.data() + L.w_offset);
      } else if (L.kind == LayerKind::res_begin || L.kind == LayerKind::res_end) {
        residual_adjoint(l, dout, need_in ? din : nullptr, nb);
      } else if (need_in) {
        shape_adjoint(L, dout, din, nb);
      }
      if (!need_in) return;
      dout = din;
      cur = 1 - cur;
    }
    // dout is ∇x in the input's NHWC layout (or already in gx).
    if (arch_.input.spatial)
      detail::permute_chw<Space>(dout, gx, nb, arch_.input.c, arch_.input.h * arch_.input.w, true);
  }

  NetArch arch_;
  Vector<Space> theta_;
  Vector<Space> eff_;                 //!< the effective parameters (θ itself without sn layers)
  Vector<Space> sn_, wv_, gs_;        //!< sn: u and v, W v, the effective parameters' gradient
  std::vector<double> sigma_;         //!< sn: σ per layer
  int rows_ = 0;                      //!< images the workspaces hold
  int fixed_ = 0;                     //!< fix_chunk's images per pass (0: none)
  Matrix<Space> xpad_, gpad_;         //!< fix_chunk: one pass's input and ∇x
  std::vector<Vector<Space>> act_;    //!< a_0 (input, NHWC) … a_L (the energy)
  std::vector<Vector<Space>> col_;    //!< per conv layer: its im2col matrix
  std::vector<Vector<Space>> skip_;   //!< per res_end layer: its output adjoint, for its res_begin
  std::vector<Accum<Space>> gstat_;   //!< per groupnorm layer: μ and 1/σ per image and group
  std::vector<Accum<Space>> gtstat_;  //!< per groupnorm layer, DSM: mean(ẋ) and Σ x̂ t per image and group
  Vector<Space> adj_[2], dcol_, seed_;
  Matrix<Space> res_;   //!< dsm: a chunk's ∇x E, then its residuals r (CHW rows)
  Accum<Space> rloss_;  //!< dsm: a chunk's row losses
};

}  // namespace zeta::models
