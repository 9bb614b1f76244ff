//! The banana (a twisted Gaussian, Haario et al. 1999): in 2-D
//!   E(x, y) = x² / (2a²) + (y − b x²)² / (2s²),
//! a Gaussian in (x, y − b x²). That change of variables has Jacobian 1, so
//! Z(β) = 2π a s / β exactly and ⟨E⟩_β = 1/β, while the density curves along
//! y = b x²: a small exact test of samplers that must follow a curved ridge.
//! It joins Zeta through this header and one line in models/registry.hpp: the
//! worked example of docs/extending.md.
#pragma once
#include <string>

#include "zeta/core/config.hpp"
#include "zeta/core/types.hpp"
#include "zeta/models/pointwise.hpp"

namespace zeta::models {

//! The physics of one chain (models/pointwise.hpp launches it over all chains).
template <class Space>
struct BananaKernel {
  using space = Space;
  int dim = 2;
  Real inv_a2 = 1, inv_s2 = 1, b = 1;

  KOKKOS_INLINE_FUNCTION Real energy(const Matrix<Space>& x, int c) const {
    const Real u = x(c, 1) - b * x(c, 0) * x(c, 0);
    return Real(0.5) * (inv_a2 * x(c, 0) * x(c, 0) + inv_s2 * u * u);
  }
  KOKKOS_INLINE_FUNCTION Real energy_grad(const Matrix<Space>& x, const Matrix<Space>& g, int c) const {
    const Real u = x(c, 1) - b * x(c, 0) * x(c, 0);
    g(c, 0) = inv_a2 * x(c, 0) - Real(2) * b * x(c, 0) * inv_s2 * u;
    g(c, 1) = inv_s2 * u;
    return Real(0.5) * (inv_a2 * x(c, 0) * x(c, 0) + inv_s2 * u * u);
  }
};

//! The registry entry (models/registry.hpp): the model.type name, its keys, and the model.
struct BananaEntry {
  static constexpr const char* type = "banana";
  struct Params {
    double a = 1, b = 0.5, s = 1;
  };
  static void declare_keys(Config& cfg) {
    cfg.declare("model.banana_a", "1", "banana: width a of x in x^2/(2a^2) + (y - b x^2)^2/(2s^2)");
    cfg.declare("model.banana_b", "0.5", "banana: curvature b of the ridge y = b x^2");
    cfg.declare("model.banana_s", "1", "banana: width s across the ridge");
  }
  static Params read(const Config& cfg) {
    return {cfg.get_positive("model.banana_a"), cfg.get_double("model.banana_b"), cfg.get_positive("model.banana_s")};
  }
  static int dim(const Params&) { return 2; }
  template <class Space>
  using Model = Pointwise<BananaKernel<Space>>;
  template <class Space>
  static Model<Space> make(const Params& p) {
    BananaKernel<Space> k;
    k.inv_a2 = Real(1 / (p.a * p.a));
    k.inv_s2 = Real(1 / (p.s * p.s));
    k.b = Real(p.b);
    return Model<Space>(type, k);
  }
};

}  // namespace zeta::models
