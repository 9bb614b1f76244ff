//! The MLP's activations f(z) with f' and f'' (DSM's mixed second derivative needs f'').
#pragma once
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"

namespace zeta::models {

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

//! Activation value and first and second derivatives at z (DSM's backward pass
//! through ∇x E needs act''; leaky_relu's is 0 almost everywhere, and DSM refuses it).
KOKKOS_INLINE_FUNCTION void activate2(Activation a, Real z, Real& f, Real& df, Real& d2f) {
  switch (a) {
    case Activation::silu: {
      // f = z s, f' = s + z s (1 − s), f'' = s (1 − s) (2 + z (1 − 2s)), s = σ(z).
      const Real s = kmath::sigmoid(z), s1 = s * (Real(1) - s);
      f = z * s;
      df = s + z * s1;
      d2f = s1 * (Real(2) + z * (Real(1) - Real(2) * s));
      break;
    }
    case Activation::softplus: {
      const Real s = kmath::sigmoid(z);
      f = kmath::softplus(z);
      df = s;
      d2f = s * (Real(1) - s);
      break;
    }
    case Activation::leaky_relu:
      f = z > Real(0) ? z : Real(0.01) * z;
      df = z > Real(0) ? Real(1) : Real(0.01);
      d2f = 0;
      break;
  }
}

//! Denoising score matching differentiates ∇x E once more w.r.t. θ, which needs a
//! smooth activation; the trainer calls this at startup, dsm_loss_and_grad on every call.
inline void require_smooth_activation(Activation a) {
  if (a == Activation::leaky_relu)
    throw Error("model.activation = leaky_relu is not smooth: DSM needs silu or softplus");
}

}  // namespace zeta::models
