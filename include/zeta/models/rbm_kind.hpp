//! The kinds of RBM visible units (models/rbm.hpp): host-only, for the
//! parameter files (io/params.hpp) as well as the model.
#pragma once
#include <string>

#include "zeta/core/error.hpp"

namespace zeta::models {

enum class RbmKind { bernoulli, gaussian };

inline RbmKind parse_rbm_kind(const std::string& s) {
  if (s == "bernoulli") return RbmKind::bernoulli;
  if (s == "gaussian") return RbmKind::gaussian;
  throw Error("rbm kind must be 'bernoulli' or 'gaussian', got '" + s + "'");
}
inline const char* rbm_kind_name(RbmKind k) {
  return k == RbmKind::bernoulli ? "bernoulli" : "gaussian";
}

}  // namespace zeta::models
