//! The layer-stack energy (model.type = net, models/net.hpp): its forward energies
//! against a reference written here with plain loops in PyTorch's CHW layout (direct
//! convolution, no im2col), the conv layer's ∇x E against a direct scatter loop, ∇x E
//! and ∇θ E (with the energy regulariser) against central finite differences in
//! double, the chunked batches, PyTorch's default initialisation bounds, and model.net
//! strings that do not parse or do not chain refused naming model.net and the layer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/models/net.hpp"
#include "zeta/rng/philox.hpp"

// LAPACK (OpenBLAS exports it): the singular values of a column-major m × n matrix.
extern "C" void dgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, double* a, const int* lda,
                        double* s, double* u, const int* ldu, double* vt, const int* ldvt, double* work,
                        const int* lwork, int* info);

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using models::LayerKind;
using models::NetAct;
using models::NetArch;

//! Reference: E(x) for one row by loops over each layer in CHW order.
double reference_energy(const NetArch& a, const std::vector<double>& th, const std::vector<double>& x) {
  std::vector<double> v = x;
  std::vector<std::vector<double>> block_inputs;  // res( … ): the open blocks' inputs
  for (const auto& L : a.layers) {
    std::vector<double> out(std::size_t(L.outs.size()), 0.0);
    const int C = L.in.c, H = L.in.h, W = L.in.w;
    switch (L.kind) {
      case LayerKind::conv:
        for (int o = 0; o < L.out; ++o)
          for (int oh = 0; oh < L.outs.h; ++oh)
            for (int ow = 0; ow < L.outs.w; ++ow) {
              double s = th[std::size_t(L.b_offset + o)];
              for (int c = 0; c < C; ++c)
                for (int i = 0; i < L.k; ++i)
                  for (int j = 0; j < L.k; ++j) {
                    const int h = oh * L.stride - L.pad + i, w = ow * L.stride - L.pad + j;
                    if (h < 0 || h >= H || w < 0 || w >= W) continue;
                    s += th[std::size_t(L.w_offset + ((o * C + c) * L.k + i) * L.k + j)] * v[(c * H + h) * W + w];
                  }
              out[(o * L.outs.h + oh) * L.outs.w + ow] = s;
            }
        break;
      case LayerKind::linear:
        for (int o = 0; o < L.out; ++o) {
          double s = th[std::size_t(L.b_offset + o)];
          for (std::int64_t i = 0; i < L.fan_in; ++i) s += th[std::size_t(L.w_offset + o * L.fan_in + i)] * v[i];
          out[o] = s;
        }
        break;
      case LayerKind::flatten: out = v; break;
      case LayerKind::res_begin:
        block_inputs.push_back(v);
        out = v;
        break;
      case LayerKind::res_end:
        for (std::size_t q = 0; q < v.size(); ++q) out[q] = block_inputs.back()[q] + v[q];
        block_inputs.pop_back();
        break;
      case LayerKind::groupnorm: {
        // torch.nn.GroupNorm: groups of C/G consecutive channels over all H·W pixels.
        const int cg = C / L.groups;
        for (int grp = 0; grp < L.groups; ++grp) {
          double sum = 0, sq = 0;
          const int first = grp * cg * H * W, m = cg * H * W;
          for (int q = 0; q < m; ++q) sum += v[std::size_t(first + q)];
          const double mu = sum / m;
          for (int q = 0; q < m; ++q) sq += (v[std::size_t(first + q)] - mu) * (v[std::size_t(first + q)] - mu);
          const double sd = std::sqrt(sq / m + 1e-5);
          for (int q = 0; q < m; ++q) {
            const int ch = (first + q) / (H * W);
            out[std::size_t(first + q)] = (v[std::size_t(first + q)] - mu) / sd * th[std::size_t(L.w_offset + ch)] +
                                          th[std::size_t(L.b_offset + ch)];
          }
        }
        break;
      }
      case LayerKind::avgpool:
        for (int c = 0; c < C; ++c)
          for (int oh = 0; oh < L.outs.h; ++oh)
            for (int ow = 0; ow < L.outs.w; ++ow) {
              double s = 0;
              for (int i = 0; i < L.k; ++i)
                for (int j = 0; j < L.k; ++j) s += v[(c * H + oh * L.k + i) * W + ow * L.k + j];
              out[(c * L.outs.h + oh) * L.outs.w + ow] = s / (L.k * L.k);
            }
        break;
      case LayerKind::act:
        for (std::size_t q = 0; q < v.size(); ++q) {
          const double z = v[q];
          switch (L.act) {
            case NetAct::lrelu: out[q] = z > 0 ? z : L.alpha * z; break;
            case NetAct::relu: out[q] = z > 0 ? z : 0; break;
            case NetAct::silu: out[q] = z / (1 + std::exp(-z)); break;
            case NetAct::softplus: out[q] = std::log1p(std::exp(z)); break;
          }
        }
        break;
    }
    v = out;
  }
  return v.at(0);
}

NetArch arch_of(const std::string& net, std::vector<std::int64_t> input) {
  return models::parse_net(net, input);
}

//! n rows of N(0, 1) entries.
std::vector<double> random_rows(int n, int d, std::uint32_t seed) {
  std::vector<double> x(std::size_t(n) * d);
  for (int c = 0; c < n; ++c) {
    const rng::Stream st(seed, c, 0, rng::kInit);
    st.normals(d, [&](int i, Real z) { x[std::size_t(c) * d + i] = double(z); });
  }
  return x;
}

//! θ of random_params with every groupnorm scale and shift moved off PyTorch's 1 and 0
//! by N(0, 0.3²), so that the tests see them.
std::vector<double> moved_norms(const NetArch& a, std::vector<double> th, std::uint32_t seed) {
  const auto r = random_rows(1, int(a.n_params), seed + 100);
  for (const auto& L : a.layers)
    if (L.kind == LayerKind::groupnorm)
      for (std::int64_t q = 0; q < L.n_weight + L.n_bias; ++q)
        th[std::size_t(L.w_offset + q)] += 0.3 * r[std::size_t(L.w_offset + q)];
  return th;
}

Matrix<Space> device_rows(const std::vector<double>& x, int n, int d) {
  Matrix<Space> m("x", n, d);
  auto h = Kokkos::create_mirror_view(m);
  for (int c = 0; c < n; ++c)
    for (int i = 0; i < d; ++i) h(c, i) = Real(x[std::size_t(c) * d + i]);
  Kokkos::deep_copy(m, h);
  return m;
}

std::vector<double> energies(models::Net<Space>& net, const std::vector<double>& x, int n) {
  Vector<Space> E("E", n);
  net.energy(device_rows(x, n, net.dim()), E);
  return host_copy(E);
}

const double kSame = sizeof(Real) == 8 ? 1e-10 : 2e-4;

//! c as a device vector.
Vector<Space> device_vector(const std::vector<double>& c) {
  Vector<Space> v("c", std::int64_t(c.size()));
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t k = 0; k < c.size(); ++k) h(k) = Real(c[k]);
  Kokkos::deep_copy(v, h);
  return v;
}

//! The loss that contrastive_grad differentiates (grad_energy_params at reg = 0), from the
//! energies: Σ_k c_k E(x_k) + reg E(x_k)² over the n rows x, at the parameters t.
double contrastive_loss(models::Net<Space>& net, const std::vector<double>& t, const std::vector<double>& x, int n,
                        const std::vector<double>& c, double reg) {
  net.set_params(t);
  const auto e = energies(net, x, n);
  double s = 0;
  for (int k = 0; k < n; ++k) s += c[std::size_t(k)] * e[std::size_t(k)] + reg * e[std::size_t(k)] * e[std::size_t(k)];
  return s;
}

constexpr double kFdStep = 1e-6;  //!< central differences in double

//! (loss(θ + h e_q) − loss(θ − h e_q)) / 2h at θ = th, h = kFdStep.
template <class Loss>
double central_difference(const Loss& loss, const std::vector<double>& th, std::size_t q) {
  auto tp = th, tm = th;
  tp[q] += kFdStep;
  tm[q] -= kFdStep;
  return (loss(tp) - loss(tm)) / (2 * kFdStep);
}

//! ∇x E of energy_and_grad against central differences of the energy, within
//! 1e-6 (1 + |fd|), in the inputs 0, x_every, 2 x_every, … of the rows 0, row_every, …
void expect_input_gradient_matches_fd(models::Net<Space>& net, const std::vector<double>& x, int n, int x_every = 1,
                                      int row_every = 1) {
  const int d = net.dim();
  Matrix<Space> gx("gx", n, d);
  Vector<Space> E("E", n);
  net.energy_and_grad(device_rows(x, n, d), E, gx);
  const auto hx = host_copy(gx);
  for (int i = 0; i < d; i += x_every) {
    auto xp = x, xm = x;
    for (int k = 0; k < n; ++k) xp[std::size_t(k) * d + i] += kFdStep, xm[std::size_t(k) * d + i] -= kFdStep;
    const auto ep = energies(net, xp, n), em = energies(net, xm, n);
    for (int k = 0; k < n; k += row_every) {
      const double fd = (ep[std::size_t(k)] - em[std::size_t(k)]) / (2 * kFdStep);
      EXPECT_NEAR(hx[std::size_t(k) * d + i], fd, 1e-6 * (1 + std::fabs(fd))) << "row " << k << " x" << i;
    }
  }
}

// Every layer kind, odd sizes (5 × 6 images, 2 channels, stride 2 with padding, a
// 2 × 2 pool of a 3 × 3 map: the floor), against the loop reference.
const std::string kEveryKind =
    "conv(4,3,2,1) silu avgpool(2) conv(3,1) softplus flatten linear(5) lrelu(0.2) linear(3) relu linear(1)";

TEST(Net, ForwardMatchesLoopReference) {
  const NetArch a = arch_of(kEveryKind, {2, 5, 6});
  ASSERT_EQ(a.dim(), 60);
  EXPECT_EQ(a.layers[0].outs.str(), "(4, 3, 3)");
  EXPECT_EQ(a.layers[2].outs.str(), "(4, 1, 1)");
  const auto th = models::Net<Space>::random_params(a, 3);
  models::Net<Space> net(a, th);
  const int n = 7;
  const auto x = random_rows(n, a.dim(), 5);
  const auto E = energies(net, x, n);
  for (int c = 0; c < n; ++c) {
    const std::vector<double> row(x.begin() + c * a.dim(), x.begin() + (c + 1) * a.dim());
    const double ref = reference_energy(a, th, row);
    EXPECT_NEAR(E[c], ref, kSame * (1 + std::fabs(ref))) << "row " << c;
  }
  // The tutorial's EnergyNet on 28 × 28 images.
  const NetArch e = arch_of(
      "conv(64,4,2,1) lrelu(0.2) conv(128,4,2,1) lrelu(0.2) flatten linear(256) lrelu(0.2) linear(1)", {1, 28, 28});
  EXPECT_EQ(e.layers[2].outs.str(), "(128, 7, 7)");
  EXPECT_EQ(e.layers[5].fan_in, 128 * 7 * 7);
  EXPECT_EQ(e.n_params, 64 * 16 + 64 + 128 * 64 * 16 + 128 + 256 * 6272 + 256 + 256 + 1);
  const auto te = models::Net<Space>::random_params(e, 1);
  models::Net<Space> tut(e, te);
  const auto xe = random_rows(3, 784, 9);
  const auto Ee = energies(tut, xe, 3);
  for (int c = 0; c < 3; ++c) {
    const double ref = reference_energy(e, te, std::vector<double>(xe.begin() + c * 784, xe.begin() + (c + 1) * 784));
    EXPECT_NEAR(Ee[c], ref, kSame * (1 + std::fabs(ref))) << "EnergyNet row " << c;
  }
}

// ∇x E of a conv layer against a direct loop that scatters each output's weight back
// over the input pixels it read: E = c + Σ v ⊙ conv(x), ∂E/∂x[ci, h, w] = Σ v[o, oh, ow] W[o, ci, kh, kw].
TEST(Net, ConvInputGradientMatchesDirectLoop) {
  const NetArch a = arch_of("conv(3,3,2,1) flatten linear(1)", {2, 7, 6});
  const auto th = models::Net<Space>::random_params(a, 8);
  models::Net<Space> net(a, th);
  const auto& L = a.layers[0];
  const std::int64_t v0 = a.layers[2].w_offset;
  const int n = 4, d = a.dim();
  const auto x = random_rows(n, d, 2);
  Matrix<Space> g("g", n, d);
  Vector<Space> E("E", n);
  net.energy_and_grad(device_rows(x, n, d), E, g);
  const auto hg = host_copy(g);
  std::vector<double> ref(std::size_t(d), 0.0);
  for (int o = 0; o < L.out; ++o)
    for (int oh = 0; oh < L.outs.h; ++oh)
      for (int ow = 0; ow < L.outs.w; ++ow) {
        const double v = th[std::size_t(v0 + (o * L.outs.h + oh) * L.outs.w + ow)];
        for (int c = 0; c < L.in.c; ++c)
          for (int i = 0; i < L.k; ++i)
            for (int j = 0; j < L.k; ++j) {
              const int h = oh * L.stride - L.pad + i, w = ow * L.stride - L.pad + j;
              if (h < 0 || h >= L.in.h || w < 0 || w >= L.in.w) continue;
              ref[std::size_t((c * L.in.h + h) * L.in.w + w)] +=
                  v * th[std::size_t(L.w_offset + ((o * L.in.c + c) * L.k + i) * L.k + j)];
            }
      }
  // Linear in x: the same gradient for every row.
  for (int c = 0; c < n; ++c)
    for (int i = 0; i < d; ++i)
      EXPECT_NEAR(hg[std::size_t(c) * d + i], ref[i], kSame * (1 + std::fabs(ref[i]))) << "row " << c << " x" << i;
  for (int c = 0; c < n; ++c) {
    const double r = reference_energy(a, th, std::vector<double>(x.begin() + c * d, x.begin() + (c + 1) * d));
    EXPECT_NEAR(host_copy(E)[c], r, kSame * (1 + std::fabs(r)));
  }
}

// ∇x E against central differences of the energy (double; every layer kind).
TEST(Net, InputGradientMatchesFiniteDifferences) {
  if (sizeof(Real) != 8) GTEST_SKIP() << "finite differences need double";
  const NetArch a = arch_of(kEveryKind, {2, 5, 6});
  models::Net<Space> net(a, models::Net<Space>::random_params(a, 4));
  const int n = 3, d = a.dim();
  const auto x = random_rows(n, d, 6);
  Matrix<Space> g("g", n, d);
  Vector<Space> E("E", n);
  net.energy_and_grad(device_rows(x, n, d), E, g);
  const auto e0 = energies(net, x, n), he = host_copy(E);
  for (int c = 0; c < n; ++c) EXPECT_EQ(he[c], e0[c]) << "energy() and energy_and_grad() agree";
  expect_input_gradient_matches_fd(net, x, n);
}

// ∇θ of L = Σ_n (c_n E(x_n) + a E(x_n)²) (contrastive_grad; grad_energy_params at a = 0)
// against central differences in every parameter (double).
TEST(Net, ParameterGradientMatchesFiniteDifferences) {
  if (sizeof(Real) != 8) GTEST_SKIP() << "finite differences need double";
  const NetArch a = arch_of("conv(3,3,2,1) silu avgpool(2) flatten linear(4) lrelu(0.2) linear(1)", {2, 6, 5});
  const auto th = models::Net<Space>::random_params(a, 5);
  models::Net<Space> net(a, th);
  const int n = 5, d = a.dim();
  const auto x = random_rows(n, d, 7);
  const std::vector<double> c = {0.2, -0.3, 0.5, -0.1, 0.25};
  const Vector<Space> cv = device_vector(c);
  const auto xd = device_rows(x, n, d);
  for (const double reg : {0.0, 0.7}) {
    Vector<Space> g = net.gradient_buffer(), E("E", n);
    if (reg == 0)
      net.grad_energy_params(xd, PerChain<Space>(cv), g);
    else
      net.contrastive_grad(xd, PerChain<Space>(cv), reg, g, E);
    const auto hg = host_copy(g);
    const auto loss = [&](const std::vector<double>& t) { return contrastive_loss(net, t, x, n, c, reg); };
    for (std::size_t q = 0; q < th.size(); ++q) {
      const double fd = central_difference(loss, th, q);
      EXPECT_NEAR(hg[q], fd, 1e-6 * (1 + std::fabs(fd))) << "alpha " << reg << " parameter " << q;
    }
    net.set_params(th);
  }
}

// DSM: ∇θ of L = Σ_n s_n ½ ‖∇x E(x̃_n) + c_n‖² (Net::dsm_loss_and_grad) against
// central differences of that loss in every parameter, the loss itself from
// energy_and_grad's ∇x E (double); conv + avgpool + flatten + linear with silu and
// softplus, over two chunks (kChunk + 3 rows), with spectral-norm layers (u, v held),
// and with residual blocks and GroupNorm (on images and on flat rows, nested).
TEST(NetDsm, ParameterGradientMatchesFiniteDifferencesOfTheLoss) {
  if (sizeof(Real) != 8) GTEST_SKIP() << "finite differences need double";
  for (const std::string text :
       {"conv(3,3,2,1) silu avgpool(2) conv(2,1) softplus flatten linear(4) silu linear(1)",
        "sn_conv(3,3,2,1) softplus avgpool(2) flatten sn_linear(4) silu linear(1)",
        "conv(4,3,2,1) res( groupnorm(2) silu res( sn_conv(4,3,1,1) groupnorm(4) ) softplus conv(4,1) ) avgpool(2) "
        "flatten linear(4) res( groupnorm(2) silu linear(4) ) linear(1)"}) {
    const NetArch a = arch_of(text, {2, 6, 5});
    const auto th = moved_norms(a, models::Net<Space>::random_params(a, 5), 5);
    models::Net<Space> net(a, th, models::Net<Space>::random_spectral(a, 4));
    if (a.spectral()) net.power_iteration();
    const int n = models::Net<Space>::kChunk + 3, d = a.dim();
    const auto x = random_rows(n, d, 7), c = random_rows(n, d, 8);
    std::vector<double> s(static_cast<std::size_t>(n), 0.0);
    for (int k = 0; k < n; ++k) s[std::size_t(k)] = 0.3 + 0.01 * k;
    const Vector<Space> sv = device_vector(s);
    const auto xd = device_rows(x, n, d), cd = device_rows(c, n, d);
    const auto loss = [&](const std::vector<double>& t) {
      net.set_params(t);
      Matrix<Space> g("g", n, d);
      Vector<Space> E("E", n);
      net.energy_and_grad(xd, E, g);
      const auto hg = host_copy(g);
      double L = 0;
      for (int k = 0; k < n; ++k) {
        double sq = 0;
        for (int i = 0; i < d; ++i) {
          const double r = hg[std::size_t(k) * d + i] + c[std::size_t(k) * d + i];
          sq += r * r;
        }
        L += 0.5 * s[std::size_t(k)] * sq;
      }
      return L;
    };
    const double L0 = loss(th);
    Vector<Space> g = net.gradient_buffer();
    const double L = net.dsm_loss_and_grad(xd, cd, PerChain<Space>(sv), g);
    EXPECT_NEAR(L, L0, 1e-12 * (1 + std::fabs(L0))) << text;
    const auto hg = host_copy(g);
    double worst = 0;
    for (std::size_t q = 0; q < th.size(); ++q) {
      const double fd = central_difference(loss, th, q);
      EXPECT_NEAR(hg[q], fd, 1e-6 * (1 + std::fabs(fd))) << text << ": parameter " << q;
      worst = std::max(worst, std::fabs(fd));
    }
    EXPECT_GT(worst, 1e-3) << "a gradient that vanishes tests nothing";
    net.set_params(th);
    // The gradient adds to g: a second call doubles it.
    net.dsm_loss_and_grad(xd, cd, PerChain<Space>(sv), g);
    const auto h2 = host_copy(g);
    for (std::size_t q = 0; q < th.size(); q += 7) EXPECT_NEAR(h2[q], 2 * hg[q], 1e-12 * (1 + std::fabs(hg[q])));
  }
}

// DSM needs smooth activations: a lrelu / relu layer is refused naming model.net and its index.
TEST(NetDsm, KinkedActivationsAreRefusedByLayer) {
  const NetArch a = arch_of("conv(3,3,2,1) silu flatten linear(4) lrelu(0.2) linear(1)", {2, 6, 5});
  models::Net<Space> net(a, models::Net<Space>::random_params(a, 5));
  Matrix<Space> x("x", 2, a.dim());
  Vector<Space> g = net.gradient_buffer();
  try {
    net.dsm_loss_and_grad(x, x, PerChain<Space>(1.0), g);
    ADD_FAILURE() << "lrelu accepted by DSM";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("model.net: layer 4 'lrelu(0.2)'", 0), 0u) << e.what();
  }
  EXPECT_THROW(models::require_smooth_net(arch_of("flatten linear(4) relu linear(1)", {2, 6, 5})), Error);
  EXPECT_NO_THROW(
      models::require_smooth_net(arch_of("flatten linear(4) swish linear(3) softplus linear(1)", {2, 6, 5})));
}

// More rows than one chunk (kChunk = 64): each row's energy and gradient as when
// computed alone.
TEST(Net, ChunksGiveEachRowItsOwnNumbers) {
  const NetArch a = arch_of("conv(4,3,1,1) lrelu(0.2) avgpool(2) flatten linear(1)", {1, 6, 6});
  models::Net<Space> net(a, models::Net<Space>::random_params(a, 2));
  const int n = models::Net<Space>::kChunk + 9, d = a.dim();
  const auto x = random_rows(n, d, 3);
  Matrix<Space> g("g", n, d);
  Vector<Space> E("E", n);
  net.energy_and_grad(device_rows(x, n, d), E, g);
  const auto he = host_copy(E), hg = host_copy(g);
  for (int c : {0, 1, 63, 64, n - 1}) {
    const std::vector<double> row(x.begin() + c * d, x.begin() + (c + 1) * d);
    Matrix<Space> g1("g1", 1, d);
    Vector<Space> E1("E1", 1);
    net.energy_and_grad(device_rows(row, 1, d), E1, g1);
    const auto e1 = host_copy(E1), h1 = host_copy(g1);
    EXPECT_NEAR(he[c], e1[0], kSame * (1 + std::fabs(e1[0]))) << "row " << c;
    for (int i = 0; i < d; ++i) EXPECT_NEAR(hg[std::size_t(c) * d + i], h1[i], kSame) << "row " << c << " x" << i;
  }
}

// fix_chunk (the sampling commands): every pass on the same number of images, so a
// row's energy and gradient have the same bits wherever it sits in a call (without
// it they differ in the last bits: seen for the EnergyNet's rows, alone against in a chunk).
TEST(Net, FixedChunksGiveRowsTheSameBitsAnywhere) {
  // OpenBLAS sgemm is not row-stable even for a fixed shape (as Mlp notes): float
  // builds give a row the same numbers to rounding only.
  if (sizeof(Real) != 8) GTEST_SKIP() << "bitwise row stability needs double (dgemm)";
  const NetArch a = arch_of(
      "conv(16,4,2,1) lrelu(0.2) conv(32,4,2,1) lrelu(0.2) flatten linear(64) lrelu(0.2) linear(1)", {1, 28, 28});
  models::Net<Space> net(a, models::Net<Space>::random_params(a, 2));
  net.fix_chunk(16);
  const int n = 37, d = a.dim();
  const auto x = random_rows(n, d, 3);
  Matrix<Space> g("g", n, d);
  Vector<Space> E("E", n), E2("E2", n);
  net.energy_and_grad(device_rows(x, n, d), E, g);
  net.energy(device_rows(x, n, d), E2);
  const auto he = host_copy(E), hg = host_copy(g), he2 = host_copy(E2);
  for (int c : {0, 5, 16, 30, n - 1}) {
    EXPECT_EQ(he[c], he2[c]) << "row " << c;
    // Row c alone, and row c at place 3 of a call of 7 rows.
    for (int place : {0, 3}) {
      std::vector<double> rows(std::size_t(place + 4) * d, 0.5);
      std::copy(x.begin() + c * d, x.begin() + (c + 1) * d, rows.begin() + place * d);
      const int m = place + 4;
      Matrix<Space> g1("g1", m, d);
      Vector<Space> E1("E1", m);
      net.energy_and_grad(device_rows(rows, m, d), E1, g1);
      const auto e1 = host_copy(E1), h1 = host_copy(g1);
      EXPECT_EQ(he[c], e1[place]) << "row " << c << " at " << place;
      int differ = 0;
      for (int i = 0; i < d; ++i) differ += hg[std::size_t(c) * d + i] != h1[std::size_t(place) * d + i];
      EXPECT_EQ(differ, 0) << "row " << c << " at " << place;
    }
  }
}

// PyTorch's Conv2d / Linear defaults: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weights and
// biases, different per layer and per seed.
TEST(Net, InitialisationFollowsPyTorchDefaults) {
  const NetArch a = arch_of("conv(8,4,2,1) relu flatten linear(16) relu linear(1)", {3, 8, 8});
  const auto t = models::Net<Space>::random_params(a, 1);
  for (const auto& L : a.layers) {
    if (!L.weighted()) continue;
    const double bound = 1 / std::sqrt(double(L.fan_in));
    double lo = 1, hi = -1, sum = 0, sq = 0;
    for (std::int64_t q = 0; q < L.n_weight; ++q) {
      const double w = t[std::size_t(L.w_offset + q)];
      lo = std::min(lo, w), hi = std::max(hi, w), sum += w, sq += w * w;
    }
    EXPECT_GE(lo, -bound);
    EXPECT_LE(hi, bound);
    // U(-b, b): mean 0 and variance b²/3, within 5 standard errors.
    const double m = double(L.n_weight), var = sq / m;
    EXPECT_LT(std::fabs(sum / m), 5 * bound / std::sqrt(3 * m)) << L.text;
    EXPECT_NEAR(var, bound * bound / 3, 5 * bound * bound * std::sqrt(4.0 / 45 / m)) << L.text;
    for (std::int64_t o = 0; o < L.n_bias; ++o) EXPECT_LE(std::fabs(t[std::size_t(L.b_offset + o)]), bound);
  }
  EXPECT_NE(t, models::Net<Space>::random_params(a, 2));
}

//! The largest singular value of the row-major rows × cols matrix w, by LAPACK dgesvd.
double largest_singular_value(const double* w, int rows, int cols) {
  // Row-major w is the column-major cols × rows matrix wᵀ: the same singular values.
  std::vector<double> a(w, w + std::size_t(rows) * cols), sv(std::size_t(std::min(rows, cols)));
  int m = cols, n = rows, lda = cols, one = 1, info = 0, lwork = -1;
  double query = 0, dummy = 0;
  dgesvd_("N", "N", &m, &n, a.data(), &lda, sv.data(), &dummy, &one, &dummy, &one, &query, &lwork, &info);
  lwork = int(query);
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgesvd_("N", "N", &m, &n, a.data(), &lda, sv.data(), &dummy, &one, &dummy, &one, work.data(), &lwork, &info);
  EXPECT_EQ(info, 0);
  return sv[0];
}

const std::string kSpectral = "sn_conv(6,3,2,1) silu avgpool(2) flatten sn_linear(5) softplus linear(1)";

// Spectral normalisation as torch.nn.utils.spectral_norm: after enough power
// iterations σ is the largest singular value of the weight reshaped to
// [out, in·k·k] (LAPACK's dgesvd), and the layer computes with W/σ: the energies of
// the same net without sn_ on θ with those weights divided by σ.
TEST(NetSpectral, SigmaIsTheLargestSingularValue) {
  const NetArch a = arch_of(kSpectral, {3, 6, 7});
  ASSERT_EQ(a.n_spectral, 6 + 27 + 5 + 6 * 2 * 1);
  const auto th = models::Net<Space>::random_params(a, 2);
  models::Net<Space> net(a, th, models::Net<Space>::random_spectral(a, 2));
  // Fresh u, v: σ = uᵀWv is no singular value yet.
  const double s0 = largest_singular_value(th.data() + a.layers[0].w_offset, 6, 27);
  EXPECT_LT(net.sigma(0), 0.99 * s0);
  for (int it = 0; it < 300; ++it) net.power_iteration();
  const double tol = sizeof(Real) == 8 ? 1e-10 : 1e-5;
  for (int l : {0, 4}) {
    const auto& L = a.layers[std::size_t(l)];
    const double sv = largest_singular_value(th.data() + L.w_offset, L.out, int(L.fan_in));
    EXPECT_NEAR(net.sigma(l), sv, tol * sv) << L.text;
    std::printf("[ sn       ] %s: sigma %.12g, LAPACK %.12g\n", L.text.c_str(), net.sigma(l), sv);
  }
  EXPECT_EQ(net.sigma(6), 1.0);
  // The same energies as the plain net on W / σ.
  const NetArch plain = arch_of("conv(6,3,2,1) silu avgpool(2) flatten linear(5) softplus linear(1)", {3, 6, 7});
  auto scaled = th;
  for (int l : {0, 4}) {
    const auto& L = a.layers[std::size_t(l)];
    for (std::int64_t q = 0; q < L.n_weight; ++q) scaled[std::size_t(L.w_offset + q)] /= net.sigma(l);
  }
  models::Net<Space> ref(plain, scaled);
  const auto x = random_rows(5, a.dim(), 4);
  const auto e = energies(net, x, 5), r = energies(ref, x, 5);
  for (int c = 0; c < 5; ++c) EXPECT_NEAR(e[c], r[c], kSame * (1 + std::fabs(r[c])));
  // The state round-trips: a copy from spectral_state() has the same σ.
  models::Net<Space> again(a, th, net.spectral_state());
  EXPECT_EQ(again.sigma(0), net.sigma(0));
  EXPECT_EQ(again.sigma(4), net.sigma(4));
}

// ∇θ through σ (u, v held fixed, as PyTorch's backward) and ∇x of an sn net against
// central differences in double.
TEST(NetSpectral, GradientsMatchFiniteDifferences) {
  if (sizeof(Real) != 8) GTEST_SKIP() << "finite differences need double";
  const NetArch a = arch_of(kSpectral, {2, 6, 5});
  const auto th = models::Net<Space>::random_params(a, 6);
  models::Net<Space> net(a, th, models::Net<Space>::random_spectral(a, 6));
  net.power_iteration();
  const int n = 4, d = a.dim();
  const auto x = random_rows(n, d, 8);
  const std::vector<double> c = {0.5, -0.25, 0.3, -0.6};
  const double reg = 0.3;
  Vector<Space> g = net.gradient_buffer(), E("E", n);
  net.contrastive_grad(device_rows(x, n, d), PerChain<Space>(device_vector(c)), reg, g, E);
  const auto hg = host_copy(g);
  const auto loss = [&](const std::vector<double>& t) { return contrastive_loss(net, t, x, n, c, reg); };
  for (std::size_t q = 0; q < th.size(); ++q) {
    const double fd = central_difference(loss, th, q);
    EXPECT_NEAR(hg[q], fd, 1e-6 * (1 + std::fabs(fd))) << "parameter " << q;
  }
  net.set_params(th);
  expect_input_gradient_matches_fd(net, x, n, 7);
}

std::string parse_error(const std::string& net, std::vector<std::int64_t> input = {1, 28, 28}) {
  try {
    models::parse_net(net, input);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(NetInput, BadLayerStringsNameModelNetAndTheLayer) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"conv(64,4,2,1) lrelu(0.2) linear(1)", "layer 2"},  // linear after conv without flatten
      {"flatten conv(8,3) flatten linear(1)", "layer 1"},  // conv on a flat input
      {"conv(8,29) flatten linear(1)", "layer 0"},         // kernel larger than the input
      {"conv(8,3,1,1) avgpool(40) flatten linear(1)", "layer 1"},
      {"conv(8,3 flatten linear(1)", "layer 0"},         // no ')'
      {"conv(8) flatten linear(1)", "layer 0"},          // too few arguments
      {"conv(8,3,1,1,1) flatten linear(1)", "layer 0"},  // too many
      {"conv(8,2.5) flatten linear(1)", "layer 0"},      // not an integer
      {"conv(8,3) flatten linear(x)", "layer 2"},        // not a number
      {"flatten linaer(1)", "layer 1"},                  // unknown layer
      {"flatten linear(0)", "layer 1"},
      {"flatten relu(2) linear(1)", "layer 1"},  // relu takes no argument
      {"flatten lrelu(1.5) linear(1)", "layer 1"},
      {"flatten linear(1) ,", "layer 2"},
      {"flatten linear(2)", "ends with shape (2)"},  // not a scalar energy
      {"conv(1,28)", "ends with shape (1, 1, 1)"},
      {"", "is empty"},
      {"sn_flatten linear(1)", "layer 0"},  // spectral norm on a layer without weights
      {"flatten sn_relu linear(1)", "layer 1"},
  };
  for (const auto& [net, what] : cases) {
    const auto e = parse_error(net);
    EXPECT_EQ(e.rfind("model.net", 0), 0u) << net << ": " << e;
    EXPECT_NE(e.find(what), std::string::npos) << net << ": " << e;
  }
  EXPECT_NE(parse_error("flatten linear(1)", {1, 28}).find("model.input"), std::string::npos);
  EXPECT_NE(parse_error("flatten linear(1)", {0, 28, 28}).find("model.input"), std::string::npos);
  EXPECT_EQ(parse_error("linear(8) silu linear(1)", {5}), "(no error)");
  EXPECT_EQ(parse_error(" conv( 8, 3 ,1, 1)  swish flatten linear(1) "), "(no error)");
  EXPECT_NE(parse_error("sn_flatten linear(1)").find("no weights"), std::string::npos);
  EXPECT_EQ(parse_error("sn_conv(8,4,2,1) lrelu(0.2) flatten sn_linear(1)"), "(no error)");
}

// ---- residual blocks and GroupNorm ------------------------------------------------

// A ResNet-style net: res( … ) blocks (one nested) with GroupNorm on images and on flat rows.
const std::string kResNet =
    "conv(6,3,1,1) res( groupnorm(3) silu res( conv(6,3,1,1) groupnorm(2) silu ) conv(6,3,1,1) ) avgpool(2) "
    "flatten linear(6) res( groupnorm(2) softplus linear(6) ) silu linear(1)";

// Forward energies against the loop reference (torch.nn.GroupNorm: biased variance,
// eps 1e-5, per-channel scale and shift), and the layer numbering: 'res(' and ')'
// count as layers, groupnorm's weight and bias are [C].
TEST(NetResidual, ForwardMatchesLoopReference) {
  const NetArch a = arch_of(kResNet, {2, 6, 5});
  ASSERT_EQ(a.layers.size(), 21u);
  EXPECT_EQ(a.layers[1].kind, LayerKind::res_begin);
  EXPECT_EQ(a.layers[1].partner, 10);
  EXPECT_EQ(a.layers[8].partner, 4);
  EXPECT_EQ(a.layers[18].partner, 14);
  EXPECT_EQ(a.layers[15].kind, LayerKind::groupnorm);
  EXPECT_EQ(a.layers[15].weight_shape(), (std::vector<std::int64_t>{6}));
  EXPECT_EQ(a.layers[11].outs.str(), "(6, 3, 2)");
  EXPECT_EQ(a.text, kResNet);
  const auto init = models::Net<Space>::random_params(a, 3);
  for (std::int64_t c = 0; c < 6; ++c) {
    EXPECT_EQ(init[std::size_t(a.layers[2].w_offset + c)], 1.0);  // PyTorch's GroupNorm defaults
    EXPECT_EQ(init[std::size_t(a.layers[2].b_offset + c)], 0.0);
  }
  const auto th = moved_norms(a, init, 3);
  models::Net<Space> net(a, th);
  const int n = 7;
  const auto x = random_rows(n, a.dim(), 5);
  const auto E = energies(net, x, n);
  for (int c = 0; c < n; ++c) {
    const double ref =
        reference_energy(a, th, std::vector<double>(x.begin() + c * a.dim(), x.begin() + (c + 1) * a.dim()));
    EXPECT_NEAR(E[c], ref, kSame * (1 + std::fabs(ref))) << "row " << c;
  }
  // Scaled inputs: GroupNorm forgets the scale of each image's groups (not of the
  // skip path), so the energies differ from x's: a check that the skip is there.
  auto x2 = x;
  for (auto& v : x2) v *= 3;
  const auto E2 = energies(net, x2, n);
  for (int c = 0; c < n; ++c) {
    const double ref =
        reference_energy(a, th, std::vector<double>(x2.begin() + c * a.dim(), x2.begin() + (c + 1) * a.dim()));
    EXPECT_NEAR(E2[c], ref, kSame * (1 + std::fabs(ref))) << "row " << c;
    EXPECT_GT(std::fabs(E2[c] - E[c]), 1e-6) << "row " << c;
  }
}

// ∇x E through a residual GroupNorm block against a direct loop written here in CHW:
// E = b + Σ_i v_i (x_i + γ_i x̂_i + β_i), so with w = v γ, per group of m entries,
// ∂E/∂x_k = v_k + (w_k − mean(w) − x̂_k mean(w x̂)) / √(var + eps).
TEST(NetResidual, GroupNormInputGradientMatchesDirectLoop) {
  for (const std::vector<std::int64_t>& input : {std::vector<std::int64_t>{4, 3, 5}, std::vector<std::int64_t>{12}}) {
    const bool image = input.size() == 3;
    const NetArch a = arch_of(image ? "res( groupnorm(2) ) flatten linear(1)" : "res( groupnorm(3) ) linear(1)", input);
    const auto th = moved_norms(a, models::Net<Space>::random_params(a, 8), 8);
    models::Net<Space> net(a, th);
    const auto& G = a.layers[1];
    const std::int64_t v0 = a.layers[image ? 4 : 3].w_offset;
    const int n = 5, d = a.dim(), C = int(input[0]), hw = d / C, cg = C / G.groups, m = cg * hw;
    const auto x = random_rows(n, d, 2);
    Matrix<Space> g("g", n, d);
    Vector<Space> E("E", n);
    net.energy_and_grad(device_rows(x, n, d), E, g);
    const auto hg = host_copy(g), he = host_copy(E);
    for (int r = 0; r < n; ++r) {
      const double* xr = x.data() + std::size_t(r) * d;
      for (int grp = 0; grp < G.groups; ++grp) {
        const int first = grp * m;
        double mu = 0, var = 0;
        for (int q = 0; q < m; ++q) mu += xr[first + q] / m;
        for (int q = 0; q < m; ++q) var += (xr[first + q] - mu) * (xr[first + q] - mu) / m;
        const double sd = std::sqrt(var + 1e-5);
        double wm = 0, wh = 0;
        for (int q = 0; q < m; ++q) {
          const int i = first + q, ch = i / hw;
          const double w = th[std::size_t(v0 + i)] * th[std::size_t(G.w_offset + ch)];
          wm += w / m;
          wh += w * (xr[i] - mu) / sd / m;
        }
        for (int q = 0; q < m; ++q) {
          const int i = first + q, ch = i / hw;
          const double w = th[std::size_t(v0 + i)] * th[std::size_t(G.w_offset + ch)];
          const double ref = th[std::size_t(v0 + i)] + (w - wm - (xr[i] - mu) / sd * wh) / sd;
          EXPECT_NEAR(hg[std::size_t(r) * d + i], ref, kSame * (1 + std::fabs(ref))) << "row " << r << " x" << i;
        }
      }
      const double e = reference_energy(a, th, std::vector<double>(xr, xr + d));
      EXPECT_NEAR(he[r], e, kSame * (1 + std::fabs(e))) << "row " << r;
    }
  }
}

// ∇x E and ∇θ of the contrastive loss with the energy regulariser (GroupNorm's scale
// and shift included) against central differences in double, over two chunks.
TEST(NetResidual, GradientsMatchFiniteDifferences) {
  if (sizeof(Real) != 8) GTEST_SKIP() << "finite differences need double";
  const NetArch a = arch_of(kResNet, {2, 6, 5});
  const auto th = moved_norms(a, models::Net<Space>::random_params(a, 6), 6);
  models::Net<Space> net(a, th);
  const int n = models::Net<Space>::kChunk + 2, d = a.dim();
  const auto x = random_rows(n, d, 8);
  std::vector<double> c(std::size_t(n), 0.0);
  for (int k = 0; k < n; ++k) c[std::size_t(k)] = (k % 2 ? 0.5 : -0.7) + 0.01 * k;
  const double reg = 0.2;
  Vector<Space> g = net.gradient_buffer(), E("E", n);
  net.contrastive_grad(device_rows(x, n, d), PerChain<Space>(device_vector(c)), reg, g, E);
  const auto hg = host_copy(g);
  const auto loss = [&](const std::vector<double>& t) { return contrastive_loss(net, t, x, n, c, reg); };
  double worst_norm = 0;
  for (std::size_t q = 0; q < th.size(); ++q) {
    // Every groupnorm parameter, every third of the others (the test's time).
    bool norm = false;
    for (const auto& L : a.layers)
      norm = norm || (L.kind == LayerKind::groupnorm && std::int64_t(q) >= L.w_offset &&
                      std::int64_t(q) < L.b_offset + L.n_bias);
    if (!norm && q % 3 != 0) continue;
    const double fd = central_difference(loss, th, q);
    EXPECT_NEAR(hg[q], fd, 1e-6 * (1 + std::fabs(fd))) << "parameter " << q;
    if (norm) worst_norm = std::max(worst_norm, std::fabs(fd));
  }
  EXPECT_GT(worst_norm, 1e-3) << "the groupnorm parameters' gradient vanishes: it tests nothing";
  net.set_params(th);
  expect_input_gradient_matches_fd(net, x, n, 5, 13);
}

// groupnorm(G) with G not dividing the channels, a res( … ) block that changes the
// shape, an unclosed or a stray parenthesis: one error naming model.net and the layer.
TEST(NetResidual, BadBlocksNameModelNetAndTheLayer) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"conv(8,3,1,1) groupnorm(3) flatten linear(1)", {"layer 1 'groupnorm(3)'", "do not divide", "8 channels"}},
      {"flatten linear(6) groupnorm(4) linear(1)", {"layer 2 'groupnorm(4)'", "do not divide"}},
      {"conv(8,3,1,1) res( conv(4,3,1,1) ) flatten linear(1)",
       {"layer 3 ')'", "layer 1", "(8, 28, 28) to (4, 28, 28)"}},
      {"conv(8,3,1,1) res( avgpool(2) ) flatten linear(1)", {"layer 3 ')'", "same shape"}},
      {"conv(8,3,1,1) res( silu conv(8,3,1,1) flatten linear(1)", {"layer 1 'res('", "no closing ')'"}},
      {"conv(8,3,1,1) res( silu res( conv(8,3,1,1) ) flatten linear(1)", {"layer 1 'res('", "no closing ')'"}},
      {"conv(8,3,1,1) silu ) flatten linear(1)", {"layer 2 ')'", "closes no res( block"}},
      {"conv(8,3,1,1) res( ) flatten linear(1)", {"layer 2 ')'", "empty"}},
      {"conv(8,3,1,1) groupnorm(0) flatten linear(1)", {"layer 1", "integer >= 1"}},
      {"conv(8,3,1,1) groupnorm flatten linear(1)", {"layer 1", "(groups)"}},
      {"conv(8,3,1,1) sn_groupnorm(2) flatten linear(1)", {"layer 1", "conv and linear layers only"}},
      {"conv(8,3,1,1) res flatten linear(1)", {"layer 1", "unknown layer 'res'"}},
  };
  for (const auto& [net, whats] : cases) {
    const auto e = parse_error(net);
    EXPECT_EQ(e.rfind("model.net: ", 0), 0u) << net << ": " << e;
    for (const auto& what : whats) EXPECT_NE(e.find(what), std::string::npos) << net << ": " << e << " lacks " << what;
  }
  EXPECT_EQ(parse_error("conv(8,3,1,1) res( groupnorm(8) silu conv(8,3,1,1) groupnorm(1) silu conv(8,3,1,1) ) flatten "
                        "linear(1)"),
            "(no error)");
  EXPECT_EQ(parse_error("conv(4,3,1,1) res(res( silu )relu) flatten linear(1)"), "(no error)");
}

}  // namespace
}  // namespace zeta
