//! A noise-conditional MLP energy E(x, σ) (Song & Ermon 2019's conditional score
//! network, in the energy form): an Mlp with layers d+1, …, 1 whose last input is
//! t = ln σ, seen as an energy of x ∈ R^d at one noise level σ at a time (set_sigma).
//! The noise-conditional objective (training/mlp_ncsn.hpp, train.ncsn_energy =
//! conditional) trains it over its σ ladder, its model density is the last level's
//! e^{−E(x, σ_L)/σ_L} (the held-out NLL monitor, /landscape), and annealed Langevin
//! (samplers/annealed_langevin.hpp) moves each level under E(·, σ_i).
//!
//! energy(x, E) and energy_and_grad(x, E, g) take d-column states: each call writes
//! [x, t] into a (rows × d+1) buffer and runs the Mlp on it; ∇x E is the gradient's
//! first d columns (∂E/∂t is dropped). A copy shares the Mlp's θ (Mlp copies do), so the
//! objective's updates of θ reach it.
#pragma once
#include <Kokkos_Core.hpp>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/models/mlp.hpp"

namespace zeta::models {

//! The network's noise input at level σ: t = ln σ (a geometric ladder becomes evenly spaced).
inline double noise_input(double sigma) {
  return std::log(sigma);
}

template <class Space>
class NoiseConditionalMlp {
 public:
  using space = Space;

  NoiseConditionalMlp(const Mlp<Space>& mlp, double sigma) : mlp_(mlp) {
    if (mlp_.dim() < 2)
      throw Error("model.layers: a noise-conditional mlp needs the states' inputs and ln sigma", false);
    set_sigma(sigma);
  }

  std::string name() const { return "mlp"; }
  //! The states' dimension d (the network has d + 1 inputs).
  int dim() const { return mlp_.dim() - 1; }
  double sigma() const { return sigma_; }
  void set_sigma(double sigma) {
    if (!(sigma > 0) || !std::isfinite(sigma)) throw Error("internal: noise-conditional mlp at sigma <= 0", false);
    sigma_ = sigma;
  }
  Mlp<Space>& mlp() { return mlp_; }

  void energy(const Matrix<Space>& x, const Vector<Space>& E) { mlp_.energy(with_input(x), E); }

  void energy_and_grad(const Matrix<Space>& x, const Vector<Space>& E, const Matrix<Space>& g) {
    const Matrix<Space> xa = with_input(x);
    if (ga_.extent(0) != xa.extent(0))
      ga_ = Matrix<Space>("zeta::NoiseConditionalMlp::grad", xa.extent(0), xa.extent(1));
    mlp_.energy_and_grad(xa, E, ga_);
    const auto ga = ga_;
    const int d = dim();
    Kokkos::parallel_for(
        "zeta::NoiseConditionalMlp::grad_x", RangePolicy<Space>(0, static_cast<int>(x.extent(0))),
        KOKKOS_LAMBDA(const int n) {
          for (int i = 0; i < d; ++i) g(n, i) = ga(n, i);
        });
  }

  //! [x, ln σ] in the input buffer (reallocated when the row count changes). Public: nvcc
  //! refuses an extended lambda in a private member function (STYLE.md, 15).
  Matrix<Space> with_input(const Matrix<Space>& x) {
    const int d = dim();
    if (static_cast<int>(x.extent(1)) != d)
      throw Error("internal: noise-conditional mlp input has the wrong dimension", false);
    if (xa_.extent(0) != x.extent(0)) xa_ = Matrix<Space>("zeta::NoiseConditionalMlp::input", x.extent(0), d + 1);
    const auto xa = xa_;
    const Real t = Real(noise_input(sigma_));
    Kokkos::parallel_for(
        "zeta::NoiseConditionalMlp::input", RangePolicy<Space>(0, static_cast<int>(x.extent(0))),
        KOKKOS_LAMBDA(const int n) {
          for (int i = 0; i < d; ++i) xa(n, i) = x(n, i);
          xa(n, d) = t;
        });
    return xa_;
  }

 private:
  Mlp<Space> mlp_;
  double sigma_ = 1;
  Matrix<Space> xa_, ga_;
};

//! Whether a model takes its noise level by set_sigma (annealed Langevin sets each level's).
template <class M, class = void>
struct TakesSigma : std::false_type {};
template <class M>
struct TakesSigma<M, std::void_t<decltype(std::declval<M&>().set_sigma(1.0))>> : std::true_type {};

}  // namespace zeta::models
