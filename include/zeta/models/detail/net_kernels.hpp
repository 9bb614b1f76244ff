//! The kernels behind models/net.hpp, as free functions (nvcc refuses extended
//! lambdas in private member functions). Images inside the net are NHWC (a row per
//! pixel, the channels contiguous: what the im2col GEMM writes and reads); the
//! model's input rows and flatten's output are PyTorch's CHW order.
#pragma once
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/models/net_arch.hpp"

namespace zeta::models::detail {

//! f(k) for k in [0, n).
template <class Space, class F>
void net_for(const char* name, std::int64_t n, const F& f) {
  Kokkos::parallel_for(name, RangePolicy<Space>(0, n), f);
}

//! CHW rows (src: rows × c·hw) to HWC rows (dst), or back with `to_chw`: a c × hw
//! transpose per row. The host goes a row at a time without index division (a
//! 64-bit division per entry cost a tenth of an EnergyNet Langevin step).
template <class Space>
void permute_chw(const Real* src, Real* dst, std::int64_t rows, int c, int hw, bool to_chw) {
  const std::int64_t per = std::int64_t(c) * hw;
  if constexpr (kHostKernels<Space>) {
    net_for<Space>(
        "zeta::Net::permute_rows", rows, KOKKOS_LAMBDA(const std::int64_t n) {
          const Real* s = src + n * per;
          Real* d = dst + n * per;
          for (int p = 0; p < hw; ++p)
            for (int ch = 0; ch < c; ++ch) {
              const std::int64_t hwc = std::int64_t(p) * c + ch, chw = std::int64_t(ch) * hw + p;
              d[to_chw ? chw : hwc] = s[to_chw ? hwc : chw];
            }
        });
  } else {
    net_for<Space>(
        "zeta::Net::permute", rows * per, KOKKOS_LAMBDA(const std::int64_t k) {
          const std::int64_t n = k / per;
          const int r = static_cast<int>(k - n * per);
          // r indexes the destination: HWC (p, ch) or CHW (ch, p).
          const int p = to_chw ? r % hw : r / c, ch = to_chw ? r / hw : r % c;
          const std::int64_t s = to_chw ? std::int64_t(p) * c + ch : std::int64_t(ch) * hw + p;
          dst[k] = src[n * per + s];
        });
  }
}

//! The conv layer's im2col: col[(n, oh, ow), (ci, kh, kw)] = a[n, ih, iw, ci] (0 in the padding).
struct ConvGeom {
  int c, h, w, k, stride, pad, ho, wo;
  KOKKOS_INLINE_FUNCTION std::int64_t fan_in() const { return std::int64_t(c) * k * k; }
};

template <class Space>
void im2col(const Real* a, Real* col, std::int64_t images, const ConvGeom g) {
  const std::int64_t rows = images * g.ho * g.wo;
  net_for<Space>(
      "zeta::Net::im2col", rows, KOKKOS_LAMBDA(const std::int64_t r) {
        const std::int64_t n = r / (g.ho * g.wo);
        const int q = static_cast<int>(r - n * g.ho * g.wo), oh = q / g.wo, ow = q % g.wo;
        Real* out = col + r * g.fan_in();
        const Real* img = a + n * std::int64_t(g.h) * g.w * g.c;
        for (int kh = 0; kh < g.k; ++kh) {
          const int ih = oh * g.stride - g.pad + kh;
          for (int kw = 0; kw < g.k; ++kw) {
            const int iw = ow * g.stride - g.pad + kw;
            const bool in = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
            const Real* px = img + (std::int64_t(ih) * g.w + iw) * g.c;
            for (int ci = 0; ci < g.c; ++ci) out[(ci * g.k + kh) * g.k + kw] = in ? px[ci] : Real(0);
          }
        }
      });
}

//! The adjoint of im2col: da[n, ih, iw, ci] = Σ of dcol over the (oh, ow, kh, kw) that read it,
//! in a fixed order (no atomics: the same bits every run): (kh, kw) ascending.
//!   device: one thread per input entry gathers its terms;
//!   host:   one image at a time scatters dcol's rows in order, reading them
//!           contiguously (the gather reads dcol at stride k², a cache line a term:
//!           a third of an EnergyNet Langevin step). Rows go (oh, ow) descending, so
//!           each entry receives its terms in (kh, kw) ascending order, 0 + t₁ + t₂ + …
//!           as the gather adds them: the same bits.
template <class Space>
void col2im(const Real* dcol, Real* da, std::int64_t images, const ConvGeom g) {
  const std::int64_t per = std::int64_t(g.h) * g.w * g.c;
  if constexpr (kHostKernels<Space>) {
    net_for<Space>(
        "zeta::Net::col2im_rows", images, KOKKOS_LAMBDA(const std::int64_t n) {
          Real* img = da + n * per;
          for (std::int64_t e = 0; e < per; ++e) img[e] = Real(0);
          const std::int64_t kk = std::int64_t(g.k) * g.k;
          for (int oh = g.ho; oh-- > 0;)
            for (int ow = g.wo; ow-- > 0;) {
              const Real* src = dcol + ((n * g.ho + oh) * g.wo + ow) * g.fan_in();
              for (int kh = 0; kh < g.k; ++kh) {
                const int ih = oh * g.stride - g.pad + kh;
                if (ih < 0 || ih >= g.h) continue;
                for (int kw = 0; kw < g.k; ++kw) {
                  const int iw = ow * g.stride - g.pad + kw;
                  if (iw < 0 || iw >= g.w) continue;
                  Real* px = img + (std::int64_t(ih) * g.w + iw) * g.c;
                  const Real* t = src + kh * g.k + kw;
                  for (int ci = 0; ci < g.c; ++ci) px[ci] += t[ci * kk];
                }
              }
            }
        });
  } else {
    net_for<Space>(
        "zeta::Net::col2im", images * per, KOKKOS_LAMBDA(const std::int64_t e) {
          const std::int64_t n = e / per;
          const int r = static_cast<int>(e - n * per), ci = r % g.c, pix = r / g.c, ih = pix / g.w, iw = pix % g.w;
          Real acc = 0;
          for (int kh = 0; kh < g.k; ++kh) {
            const int th = ih + g.pad - kh;
            if (th < 0 || th % g.stride != 0 || th / g.stride >= g.ho) continue;
            const int oh = th / g.stride;
            for (int kw = 0; kw < g.k; ++kw) {
              const int tw = iw + g.pad - kw;
              if (tw < 0 || tw % g.stride != 0 || tw / g.stride >= g.wo) continue;
              const int ow = tw / g.stride;
              const std::int64_t row = (n * g.ho + oh) * g.wo + ow;
              acc += dcol[row * g.fan_in() + (ci * g.k + kh) * g.k + kw];
            }
          }
          da[e] = acc;
        });
  }
}

//! z[r, o] += b[o] for rows × out.
template <class Space>
void add_bias(Real* z, const Real* b, std::int64_t rows, int out) {
  net_for<Space>(
      "zeta::Net::bias", rows, KOKKOS_LAMBDA(const std::int64_t r) {
        for (int o = 0; o < out; ++o) z[r * out + o] += b[o];
      });
}

//! g[o] += Σ_r dz[r, o] over the rows in order (the bias gradient).
template <class Space>
void bias_grad(const Real* dz, Real* g, std::int64_t rows, int out) {
  net_for<Space>(
      "zeta::Net::bias_grad", out, KOKKOS_LAMBDA(const std::int64_t o) {
        double s = 0;
        for (std::int64_t r = 0; r < rows; ++r) s += double(dz[r * out + o]);
        g[o] += Real(s);
      });
}

KOKKOS_INLINE_FUNCTION Real net_act(NetAct a, Real alpha, Real z) {
  switch (a) {
    case NetAct::lrelu: return z > Real(0) ? z : alpha * z;
    case NetAct::relu: return z > Real(0) ? z : Real(0);
    case NetAct::silu: return z * kmath::sigmoid(z);
    case NetAct::softplus: return kmath::softplus(z);
  }
  return z;
}

KOKKOS_INLINE_FUNCTION Real net_act_derivative(NetAct a, Real alpha, Real z) {
  switch (a) {
    case NetAct::lrelu: return z > Real(0) ? Real(1) : alpha;
    case NetAct::relu: return z > Real(0) ? Real(1) : Real(0);
    case NetAct::silu: {
      const Real s = kmath::sigmoid(z);
      return s + z * s * (Real(1) - s);
    }
    case NetAct::softplus: return kmath::sigmoid(z);
  }
  return Real(1);
}

//! out = f(in) elementwise for one activation A, known inside the loop (the compiler
//! vectorises it; a switch per entry it does not).
template <class Space, NetAct A>
void activation_as(const Real* in, Real* out, std::int64_t n, Real alpha) {
  net_for<Space>(
      "zeta::Net::activation", n, KOKKOS_LAMBDA(const std::int64_t k) { out[k] = net_act(A, alpha, in[k]); });
}

//! din = dout ⊙ f'(in) elementwise for one activation A.
template <class Space, NetAct A>
void activation_adjoint_as(const Real* in, const Real* dout, Real* din, std::int64_t n, Real alpha) {
  net_for<Space>(
      "zeta::Net::activation_adjoint", n,
      KOKKOS_LAMBDA(const std::int64_t k) { din[k] = dout[k] * net_act_derivative(A, alpha, in[k]); });
}

//! out = f(in) elementwise.
template <class Space>
void activation(const Real* in, Real* out, std::int64_t n, NetAct a, Real alpha) {
  switch (a) {
    case NetAct::lrelu: return activation_as<Space, NetAct::lrelu>(in, out, n, alpha);
    case NetAct::relu: return activation_as<Space, NetAct::relu>(in, out, n, alpha);
    case NetAct::silu: return activation_as<Space, NetAct::silu>(in, out, n, alpha);
    case NetAct::softplus: return activation_as<Space, NetAct::softplus>(in, out, n, alpha);
  }
}

//! din = dout ⊙ f'(in) elementwise.
template <class Space>
void activation_adjoint(const Real* in, const Real* dout, Real* din, std::int64_t n, NetAct a, Real alpha) {
  switch (a) {
    case NetAct::lrelu: return activation_adjoint_as<Space, NetAct::lrelu>(in, dout, din, n, alpha);
    case NetAct::relu: return activation_adjoint_as<Space, NetAct::relu>(in, dout, din, n, alpha);
    case NetAct::silu: return activation_adjoint_as<Space, NetAct::silu>(in, dout, din, n, alpha);
    case NetAct::softplus: return activation_adjoint_as<Space, NetAct::softplus>(in, dout, din, n, alpha);
  }
}

//! AvgPool2d(k) on NHWC images (c channels, h × w in, ho × wo out).
template <class Space>
void avgpool(const Real* a, Real* out, std::int64_t images, int c, int h, int w, int k) {
  const int ho = h / k, wo = w / k;
  const std::int64_t per = std::int64_t(ho) * wo * c;
  const Real inv = Real(1) / Real(k * k);
  net_for<Space>(
      "zeta::Net::avgpool", images * per, KOKKOS_LAMBDA(const std::int64_t e) {
        const std::int64_t n = e / per;
        const int r = static_cast<int>(e - n * per), ch = r % c, pix = r / c, oh = pix / wo, ow = pix % wo;
        Real s = 0;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < k; ++j) s += a[((n * h + oh * k + i) * w + ow * k + j) * c + ch];
        out[e] = s * inv;
      });
}

template <class Space>
void avgpool_adjoint(const Real* dout, Real* din, std::int64_t images, int c, int h, int w, int k) {
  const int ho = h / k, wo = w / k;
  const std::int64_t per = std::int64_t(h) * w * c;
  const Real inv = Real(1) / Real(k * k);
  net_for<Space>(
      "zeta::Net::avgpool_adjoint", images * per, KOKKOS_LAMBDA(const std::int64_t e) {
        const std::int64_t n = e / per;
        const int r = static_cast<int>(e - n * per), ch = r % c, pix = r / c, ih = pix / w, iw = pix % w;
        const int oh = ih / k, ow = iw / k;
        din[e] = oh < ho && ow < wo ? dout[((n * ho + oh) * wo + ow) * c + ch] * inv : Real(0);
      });
}

//! The backward pass's seed dL/dE_n: s_n + 2 a E_n (a = 0: s_n), E from the last layer.
template <class Space>
void energy_seed(const Real* e, const PerChain<Space>& s, std::int64_t first, Real a, Real* seed, std::int64_t rows) {
  net_for<Space>(
      "zeta::Net::seed", rows,
      KOKKOS_LAMBDA(const std::int64_t n) { seed[n] = s(int(first + n)) + Real(2) * a * e[n]; });
}

//! A classifier's energy (a net or mlp of K >= 2 outputs, JEM): per row n of the logits
//! f (rows × K, row-major), E_n = −logsumexp_k f(n, k) into E (when set) and, with df
//! set, ∂(c_n E_n + a E_n²)/∂f = −(c_n + 2a E_n) softmax(f_n) into df (rows × K),
//! c_n = c(first + n). Max-shifted, in double.
template <class Space>
void logits_energy(const Real* f, int K, std::int64_t rows, Real* E, const PerChain<Space>& c, std::int64_t first,
                   double a, Real* df) {
  net_for<Space>(
      "zeta::logits_energy", rows, KOKKOS_LAMBDA(const std::int64_t n) {
        const Real* fn = f + n * K;
        double m = fn[0];
        for (int k = 1; k < K; ++k) m = fn[k] > m ? double(fn[k]) : m;
        double z = 0;
        for (int k = 0; k < K; ++k) z += kmath::exp(double(fn[k]) - m);
        const double e = -(m + kmath::log(z));
        if (E) E[n] = Real(e);
        if (df) {
          const double u = double(c(int(first + n))) + 2 * a * e;
          for (int k = 0; k < K; ++k) df[n * K + k] = Real(-u * kmath::exp(double(fn[k]) - m) / z);
        }
      });
}

//! f'' of a smooth activation (silu, softplus; 0 for the kinked ones, which DSM refuses).
KOKKOS_INLINE_FUNCTION Real net_act_second(NetAct a, Real z) {
  const Real s = kmath::sigmoid(z), s1 = s * (Real(1) - s);
  switch (a) {
    case NetAct::silu: return s1 * (Real(2) + z * (Real(1) - Real(2) * s));
    case NetAct::softplus: return s1;
    default: return Real(0);
  }
}

//! DSM's tangent pass through an activation: Ȧ = f'(Z) Ż elementwise.
template <class Space>
void tangent_activation(const Real* z, const Real* zd, Real* out, std::int64_t n, NetAct a) {
  net_for<Space>(
      "zeta::Net::tangent_activation", n,
      KOKKOS_LAMBDA(const std::int64_t k) { out[k] = net_act_derivative(a, Real(0), z[k]) * zd[k]; });
}

//! DSM's reverse pass through an activation (A = f(Z), Ȧ = f'(Z) Ż), the adjoints
//! [Ā; Ǡ] of its outputs into those of its inputs: ζ = Ā f' + Ǡ f'' Ż, p = Ǡ f'.
template <class Space>
void dsm_activation_adjoint(const Real* z, const Real* zd, const Real* abar, const Real* q, Real* zeta, Real* p,
                            std::int64_t n, NetAct a) {
  net_for<Space>(
      "zeta::Net::dsm_activation_adjoint", n, KOKKOS_LAMBDA(const std::int64_t k) {
        const Real d1 = net_act_derivative(a, Real(0), z[k]);
        zeta[k] = abar[k] * d1 + q[k] * net_act_second(a, z[k]) * zd[k];
        p[k] = q[k] * d1;
      });
}

//! DSM residuals in place, r_n ← ∇x E(x̃_n) + c_n (rows of `dim`), and the rows'
//! losses s_{first+n} ½ ‖r_n‖² in double (kParts partial sums added in order, as the
//! MLP's detail::residual).
template <class Space>
void dsm_residual(Real* r, const Real* c, const PerChain<Space>& s, std::int64_t first, std::int64_t rows, int dim,
                  const Accum<Space>& loss) {
  constexpr int kParts = 8;
  net_for<Space>(
      "zeta::Net::dsm_residual", rows, KOKKOS_LAMBDA(const std::int64_t n) {
        double part[kParts] = {};
        Real* rr = r + n * dim;
        const Real* cc = c + n * dim;
        for (int j = 0; j < dim; ++j) {
          const Real v = rr[j] + cc[j];
          rr[j] = v;
          part[j % kParts] += double(v) * double(v);
        }
        double sq = 0;
        for (int q = 0; q < kParts; ++q) sq += part[q];
        loss(n) = 0.5 * double(s(int(first + n))) * sq;
      });
}

//! DSM's reverse-pass seeds of a chunk of nb rows: ∂/∂E = 0 (primal rows), ∂/∂Ė = s_n (tangent rows).
template <class Space>
void dsm_seed(const PerChain<Space>& s, std::int64_t first, Real* seed, std::int64_t nb) {
  net_for<Space>(
      "zeta::Net::dsm_seed", 2 * nb,
      KOKKOS_LAMBDA(const std::int64_t n) { seed[n] = n < nb ? Real(0) : s(int(first + n - nb)); });
}

//! Σ_k a_k b_k in double.
template <class Space>
double dot(const Real* a, const Real* b, std::int64_t n) {
  double s = 0;
  Kokkos::parallel_reduce(
      "zeta::Net::dot", RangePolicy<Space>(0, n),
      KOKKOS_LAMBDA(const std::int64_t k, double& acc) { acc += double(a[k]) * double(b[k]); }, s);
  return s;
}

template <class Space>
void scale(Real* x, Real s, std::int64_t n) {
  net_for<Space>("zeta::Net::scale", n, KOKKOS_LAMBDA(const std::int64_t k) { x[k] *= s; });
}

//! x ← x / max(‖x‖, 1e-12) (PyTorch's normalize).
template <class Space>
void normalize(Real* x, std::int64_t n) {
  const double norm = std::sqrt(dot<Space>(x, x, n));
  scale<Space>(x, Real(1 / (norm > 1e-12 ? norm : 1e-12)), n);
}

template <class Space>
void add_to(const Real* src, Real* dst, std::int64_t n) {
  net_for<Space>("zeta::Net::add", n, KOKKOS_LAMBDA(const std::int64_t k) { dst[k] += src[k]; });
}

//! g += G/σ − (Σ G ⊙ W)/σ² u vᵀ: an sn layer's weight gradient through σ = uᵀ W v (u, v fixed).
template <class Space>
void sn_weight_grad(const Real* G, const Real* W, const Real* u, const Real* v, int out, std::int64_t fan_in,
                    double sigma, Real* g) {
  const std::int64_t n = std::int64_t(out) * fan_in;
  const Real inv = Real(1 / sigma), c = Real(dot<Space>(G, W, n) / (sigma * sigma));
  net_for<Space>(
      "zeta::Net::sn_weight_grad", n, KOKKOS_LAMBDA(const std::int64_t k) {
        const std::int64_t o = k / fan_in, j = k - o * fan_in;
        g[k] += inv * G[k] - c * u[o] * v[j];
      });
}

// ---- GroupNorm (NHWC images: a row of C channels per pixel; flat rows: hw = 1) ----
//! A GroupNorm layer's shape: images of hw pixels × c channels in g groups of c/g.
struct GroupGeom {
  int hw, c, g;
  double eps;
  KOKKOS_INLINE_FUNCTION int per_group() const { return c / g; }
  //! Entries of one group of one image.
  KOKKOS_INLINE_FUNCTION double m() const { return double(hw) * (c / g); }
};

//! Calls f(e, ch) for each entry e (its index) of group q of image n, channel ch, in order.
template <class F>
KOKKOS_INLINE_FUNCTION void for_group(const GroupGeom& G, std::int64_t n, int q, const F& f) {
  const int cg = G.per_group();
  for (int p = 0; p < G.hw; ++p) {
    const std::int64_t row = (n * G.hw + p) * G.c + std::int64_t(q) * cg;
    for (int j = 0; j < cg; ++j) f(row + j, q * cg + j);
  }
}

//! GroupNorm forward, torch.nn.GroupNorm: per image and group the mean μ and the biased
//! variance (two passes, in double), stats[2k] = μ and stats[2k+1] = 1/√(var + eps) for
//! k = n·g + q, and y = γ_ch (x − μ)/√(var + eps) + β_ch.
template <class Space>
void groupnorm(const Real* x, Real* y, double* stats, std::int64_t images, const GroupGeom G, const Real* gamma,
               const Real* beta) {
  net_for<Space>(
      "zeta::Net::groupnorm", images * G.g, KOKKOS_LAMBDA(const std::int64_t k) {
        const std::int64_t n = k / G.g;
        const int q = static_cast<int>(k - n * G.g);
        double s = 0;
        for_group(G, n, q, [&](std::int64_t e, int) { s += double(x[e]); });
        const double mu = s / G.m();
        double v = 0;
        for_group(G, n, q, [&](std::int64_t e, int) { v += (double(x[e]) - mu) * (double(x[e]) - mu); });
        const double r = 1 / kmath::sqrt(v / G.m() + G.eps);
        stats[2 * k] = mu;
        stats[2 * k + 1] = r;
        for_group(G, n, q,
                  [&](std::int64_t e, int ch) { y[e] = Real((double(x[e]) - mu) * r) * gamma[ch] + beta[ch]; });
      });
}

//! x̂ of entry e of group k (the normalised input).
KOKKOS_INLINE_FUNCTION double gn_hat(const Real* x, const double* stats, std::int64_t k, std::int64_t e) {
  return (double(x[e]) - stats[2 * k]) * stats[2 * k + 1];
}

//! GroupNorm's input adjoint: din = r (γ dy − mean(γ dy) − x̂ mean(γ dy x̂)) per group.
template <class Space>
void groupnorm_adjoint(const Real* x, const Real* dout, Real* din, const double* stats, std::int64_t images,
                       const GroupGeom G, const Real* gamma) {
  net_for<Space>(
      "zeta::Net::groupnorm_adjoint", images * G.g, KOKKOS_LAMBDA(const std::int64_t k) {
        const std::int64_t n = k / G.g;
        const int q = static_cast<int>(k - n * G.g);
        double a1 = 0, a2 = 0;
        for_group(G, n, q, [&](std::int64_t e, int ch) {
          const double d = double(dout[e]) * double(gamma[ch]);
          a1 += d;
          a2 += d * gn_hat(x, stats, k, e);
        });
        a1 /= G.m();
        a2 /= G.m();
        const double r = stats[2 * k + 1];
        for_group(G, n, q, [&](std::int64_t e, int ch) {
          din[e] = Real(r * (double(dout[e]) * double(gamma[ch]) - a1 - gn_hat(x, stats, k, e) * a2));
        });
      });
}

//! GroupNorm's parameter gradient: gγ_ch += Σ dy x̂ over `images` images, gβ_ch += Σ dy
//! over the first `biased` (fixed order per channel: the same bits every run).
template <class Space>
void groupnorm_param_grad(const Real* x, const Real* dout, const double* stats, std::int64_t images,
                          std::int64_t biased, const GroupGeom G, Real* ggamma, Real* gbeta) {
  net_for<Space>(
      "zeta::Net::groupnorm_param_grad", G.c, KOKKOS_LAMBDA(const std::int64_t ch) {
        const int q = static_cast<int>(ch) / G.per_group();
        double sg = 0, sb = 0;
        for (std::int64_t n = 0; n < images; ++n)
          for (int p = 0; p < G.hw; ++p) {
            const std::int64_t e = (n * G.hw + p) * G.c + ch;
            sg += double(dout[e]) * gn_hat(x, stats, n * G.g + q, e);
            if (n < biased) sb += double(dout[e]);
          }
        ggamma[ch] += Real(sg);
        gbeta[ch] += Real(sb);
      });
}

//! DSM's tangent pass through GroupNorm (x the primal input, xd its tangent, the
//! primal stats): per group t = ẋ − mean(ẋ), C = Σ x̂ t, ẏ = γ r (t − x̂ C/m);
//! tstats[2k] = mean(ẋ), tstats[2k+1] = C for the reverse pass.
template <class Space>
void groupnorm_tangent(const Real* x, const Real* xd, Real* yd, const double* stats, double* tstats,
                       std::int64_t images, const GroupGeom G, const Real* gamma) {
  net_for<Space>(
      "zeta::Net::groupnorm_tangent", images * G.g, KOKKOS_LAMBDA(const std::int64_t k) {
        const std::int64_t n = k / G.g;
        const int q = static_cast<int>(k - n * G.g);
        double s = 0;
        for_group(G, n, q, [&](std::int64_t e, int) { s += double(xd[e]); });
        const double mt = s / G.m();
        double c = 0;
        for_group(G, n, q, [&](std::int64_t e, int) { c += gn_hat(x, stats, k, e) * (double(xd[e]) - mt); });
        tstats[2 * k] = mt;
        tstats[2 * k + 1] = c;
        const double r = stats[2 * k + 1];
        for_group(G, n, q, [&](std::int64_t e, int ch) {
          yd[e] = Real(double(gamma[ch]) * r * (double(xd[e]) - mt - gn_hat(x, stats, k, e) * c / G.m()));
        });
      });
}

//! DSM's reverse pass through GroupNorm: from the adjoints Ā (of y) and Q (of ẏ) those
//! of x and ẋ. With q = γ Q, A = Σ q t, B = Σ q x̂, C = Σ x̂ t per group of m entries:
//!   p = r (q − mean(q) − x̂ B/m)                        (ẋ: the plain adjoint of Q)
//!   ζ = r (γĀ − mean(γĀ) − x̂ mean(γĀ x̂)) + r²/m (−A x̂ − C (q − mean q) − B t + 3BC x̂/m)
template <class Space>
void groupnorm_dsm_adjoint(const Real* x, const Real* xd, const Real* abar, const Real* qa, Real* zeta, Real* p,
                           const double* stats, const double* tstats, std::int64_t images, const GroupGeom G,
                           const Real* gamma) {
  net_for<Space>(
      "zeta::Net::groupnorm_dsm_adjoint", images * G.g, KOKKOS_LAMBDA(const std::int64_t k) {
        const std::int64_t n = k / G.g;
        const int q = static_cast<int>(k - n * G.g);
        const double m = G.m(), r = stats[2 * k + 1], mt = tstats[2 * k], C = tstats[2 * k + 1];
        double a1 = 0, a2 = 0, qm = 0, A = 0, B = 0;
        for_group(G, n, q, [&](std::int64_t e, int ch) {
          const double h = gn_hat(x, stats, k, e), gam = double(gamma[ch]);
          const double d = double(abar[e]) * gam, qq = double(qa[e]) * gam;
          a1 += d;
          a2 += d * h;
          qm += qq;
          A += qq * (double(xd[e]) - mt);
          B += qq * h;
        });
        a1 /= m;
        a2 /= m;
        qm /= m;
        for_group(G, n, q, [&](std::int64_t e, int ch) {
          const double h = gn_hat(x, stats, k, e), gam = double(gamma[ch]);
          const double qq = double(qa[e]) * gam, t = double(xd[e]) - mt;
          p[e] = Real(r * (qq - qm - h * B / m));
          zeta[e] = Real(r * (double(abar[e]) * gam - a1 - h * a2) +
                         r * r / m * (-A * h - C * (qq - qm) - B * t + 3 * B * C * h / m));
        });
      });
}

//! DSM's GroupNorm parameter gradient: gγ_ch += Σ (Ā x̂ + Q ẋ̂), ẋ̂ = r (t − x̂ C/m);
//! gβ_ch += Σ Ā (the shift feeds the primal images only).
template <class Space>
void groupnorm_dsm_param_grad(const Real* x, const Real* xd, const Real* abar, const Real* qa, const double* stats,
                              const double* tstats, std::int64_t images, const GroupGeom G, Real* ggamma, Real* gbeta) {
  net_for<Space>(
      "zeta::Net::groupnorm_dsm_param_grad", G.c, KOKKOS_LAMBDA(const std::int64_t ch) {
        const int q = static_cast<int>(ch) / G.per_group();
        double sg = 0, sb = 0;
        for (std::int64_t n = 0; n < images; ++n) {
          const std::int64_t k = n * G.g + q;
          const double r = stats[2 * k + 1], mt = tstats[2 * k], C = tstats[2 * k + 1];
          for (int p = 0; p < G.hw; ++p) {
            const std::int64_t e = (n * G.hw + p) * G.c + ch;
            const double h = gn_hat(x, stats, k, e);
            sg += double(abar[e]) * h + double(qa[e]) * r * (double(xd[e]) - mt - h * C / G.m());
            sb += double(abar[e]);
          }
        }
        ggamma[ch] += Real(sg);
        gbeta[ch] += Real(sb);
      });
}

//! out = a + b elementwise (a residual block's y = x + F(x)).
template <class Space>
void add(const Real* a, const Real* b, Real* out, std::int64_t n) {
  net_for<Space>(
      "zeta::Net::residual_add", n, KOKKOS_LAMBDA(const std::int64_t k) { out[k] = a[k] + b[k]; });
}

}  // namespace zeta::models::detail
