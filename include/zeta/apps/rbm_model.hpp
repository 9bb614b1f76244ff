//! An RBM for the commands that sample a trained one (sample, temper, ais): the
//! parameters come from model.params, the shape from the file.
#pragma once
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::apps {

//! Reads model.params (/model/rbm/{W,b,c} and `kind`) and checks model.hidden /
//! model.visible against it when they were given explicitly, and model.sigma's
//! length for Gaussian visibles. Collective: every rank throws the same error
//! (naming the key or the file) when any rank fails.
io::RbmParams load_rbm_params(const Config& cfg, const ModelSpec& ms, const Comm& comm);

//! The device model of `p` (σ from model.sigma for Gaussian visibles).
template <class Space>
Rbm<Space> make_rbm(const io::RbmParams& p, const ModelSpec& ms) {
  Rbm<Space> rbm(p.kind, p.visible, p.hidden, p.kind == RbmKind::gaussian ? ms.rbm_sigma : std::vector<double>{});
  rbm.set_params(p.flat());
  return rbm;
}

}  // namespace zeta::apps
