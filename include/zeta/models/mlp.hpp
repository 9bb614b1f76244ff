//! Neural energy E(x) = MLP(x) with a scalar output: layers d_0, d_1, …, 1,
//! hidden activations silu / softplus / leaky_relu, linear output. ∇x E by
//! hand-written backpropagation on GEMM.
#pragma once
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta {

enum class Activation { silu, softplus, leaky_relu };

Activation parse_activation(const std::string& name);  // models.cpp
const char* activation_name(Activation a);

//! Activation value and derivative at z.
KOKKOS_INLINE_FUNCTION void activate(Activation a, Real z, Real& f, Real& df) {
  switch (a) {
    case Activation::silu: {
      const Real s = kmath::sigmoid(z);
      f = z * s;
      df = s + z * s * (Real(1) - s);
      break;
    }
    case Activation::softplus:
      f = kmath::softplus(z);
      df = kmath::sigmoid(z);
      break;
    case Activation::leaky_relu:
      f = z > Real(0) ? z : Real(0.01) * z;
      df = z > Real(0) ? Real(1) : Real(0.01);
      break;
  }
}

//! Host-side copy of the parameters: weight [out][in] row-major and bias [out] per layer.
struct MlpParams {
  std::vector<int> layers;
  std::vector<std::vector<double>> weight, bias;
};

template <class Space>
class Mlp {
 public:
  using space = Space;

  Mlp(const MlpParams& p, Activation act) : layers_(p.layers), act_(act) {
    if (layers_.size() < 2 || layers_.back() != 1) throw Error("model.layers: must list at least 2 sizes and end in 1");
    for (int s : layers_)
      if (s < 1) throw Error("model.layers: sizes must be >= 1");
    const int nl = nlayers();
    for (int l = 0; l < nl; ++l) {
      const int in = layers_[l], out = layers_[l + 1];
      w_.emplace_back("zeta::Mlp::weight", out, in);
      b_.emplace_back("zeta::Mlp::bias", out);
      auto hw = Kokkos::create_mirror_view(w_[l]);
      auto hb = Kokkos::create_mirror_view(b_[l]);
      for (int o = 0; o < out; ++o) {
        hb(o) = Real(p.bias.at(l).at(o));
        for (int i = 0; i < in; ++i) hw(o, i) = Real(p.weight.at(l).at(std::size_t(o) * in + i));
      }
      Kokkos::deep_copy(w_[l], hw);
      Kokkos::deep_copy(b_[l], hb);
    }
  }

  //! PyTorch-style init: U(−1/√in, 1/√in) for weights and biases, from the counter RNG.
  static MlpParams random_params(const std::vector<int>& layers, std::uint32_t seed) {
    MlpParams p;
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

  //! BLAS computes a row of C differently depending on where it falls in the
  //! kernel's row tiles; batches are padded to whole tiles so each chain's
  //! numbers do not depend on how many chains a rank holds (double precision;
  //! OpenBLAS sgemm is not row-stable even then).
  static constexpr int kRowTile = 16;

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

 private:
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

  //! Hidden layers: H_l = act(A_l W_lᵀ + b_l), D_l = act'(·); output E = H w + b.
  void forward(const Matrix<Space>& x, const Vector<Space>& E, bool keep_derivative) {
    const int batch = static_cast<int>(x.extent(0));
    ensure_workspace(batch);
    const Activation act = act_;
    for (int l = 0; l + 1 < nlayers(); ++l) {
      const Matrix<Space>& in = l == 0 ? x : h_[l - 1];
      const auto h = h_[l];
      const auto d = d_[l];
      const auto b = b_[l];
      linalg::gemm<Space>(false, true, Real(1), in, w_[l], Real(0), h);
      const int width = layers_[l + 1];
      Kokkos::parallel_for(
          "zeta::Mlp::activate", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
            for (int j = 0; j < width; ++j) {
              Real f = 0, df = 0;
              activate(act, h(c, j) + b(j), f, df);
              h(c, j) = f;
              if (keep_derivative) d(c, j) = df;
            }
          });
    }
    const int last = nlayers() - 1;
    const Matrix<Space> in = last == 0 ? x : h_[last - 1];
    const auto w = w_[last];
    const auto b = b_[last];
    const int width = layers_[last];
    Kokkos::parallel_for(
        "zeta::Mlp::output", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
          Real e = b(0);
          for (int j = 0; j < width; ++j) e += in(c, j) * w(0, j);
          E(c) = e;
        });
  }

  //! dE/dA_l = (dE/dA_{l+1} ⊙ D_l) W_l, down to the input.
  void backward(const Matrix<Space>& x, const Matrix<Space>& g) {
    const int batch = static_cast<int>(x.extent(0));
    const int last = nlayers() - 1;
    const auto w = w_[last];
    if (last == 0) {
      const int width = layers_[0];
      Kokkos::parallel_for(
          "zeta::Mlp::grad_linear", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
            for (int j = 0; j < width; ++j) g(c, j) = w(0, j);
          });
      return;
    }
    {
      const auto d = d_[last - 1];
      const int width = layers_[last];
      const Matrix<Space> t(t_[0].data(), batch, width);
      Kokkos::parallel_for(
          "zeta::Mlp::backprop_output", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
            for (int j = 0; j < width; ++j) t(c, j) = w(0, j) * d(c, j);
          });
    }
    int cur = 0;
    for (int l = last - 1; l >= 0; --l) {
      const int out = layers_[l + 1], in = layers_[l];
      const Matrix<Space> t(t_[cur].data(), batch, out);  // unmanaged, row stride = out
      if (l == 0) {
        linalg::gemm<Space>(false, false, Real(1), t, w_[0], Real(0), g);
        break;
      }
      const Matrix<Space> next(t_[1 - cur].data(), batch, in);
      linalg::gemm<Space>(false, false, Real(1), t, w_[l], Real(0), next);
      const auto d = d_[l - 1];
      Kokkos::parallel_for(
          "zeta::Mlp::backprop_hidden", RangePolicy<Space>(0, batch), KOKKOS_LAMBDA(const int c) {
            for (int j = 0; j < in; ++j) next(c, j) *= d(c, j);
          });
      cur = 1 - cur;
    }
  }

  std::vector<int> layers_;
  Activation act_;
  std::vector<Matrix<Space>> w_;
  std::vector<Vector<Space>> b_;
  std::vector<Matrix<Space>> h_, d_;  //!< per hidden layer: activations and their derivatives
  Matrix<Space> t_[2];                //!< ping-pong buffers for backpropagation
  Matrix<Space> xpad_, gpad_;         //!< batches padded to whole row tiles
  Vector<Space> epad_;
};

}  // namespace zeta
