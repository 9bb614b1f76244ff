//! An RBM for the commands that sample a trained one (sample, temper, ais): the
//! parameters come from model.params, the shape from the file.
#pragma once
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::apps {

//! What a command needs of the file beyond its own consistency.
struct RbmExpect {
  int visible = -1;            //!< the data's features (train), or -1: the file decides
  std::string data_path;       //!< named in that error
  bool keys_define_model = false;  //!< model.hidden / model.visible apply even when left at their defaults (train)
};

//! Reads model.params (/model/rbm/{W,b,c} and `kind`) and checks model.hidden /
//! model.visible against it (when given explicitly, or always with
//! keys_define_model), the visible size against the data, and model.sigma for
//! the file's kind. Collective: every rank throws the same error (naming the
//! key or the file) when any rank fails.
io::RbmParams load_rbm_params(const Config& cfg, const ModelSpec& ms, const Comm& comm, const RbmExpect& expect = {});

//! The device model of `p` (σ from model.sigma for Gaussian visibles).
template <class Space>
Rbm<Space> make_rbm(const io::RbmParams& p, const ModelSpec& ms) {
  Rbm<Space> rbm(p.kind, p.visible, p.hidden, p.kind == RbmKind::gaussian ? ms.rbm_sigma : std::vector<double>{});
  rbm.set_params(p.flat());
  return rbm;
}

//! make_rbm for the sampling commands (sample, temper, ais), which keep θ fixed for
//! the whole run: W is packed once for the conditionals (Rbm::pack_weights).
template <class Space>
Rbm<Space> make_sampling_rbm(const io::RbmParams& p, const ModelSpec& ms) {
  Rbm<Space> rbm = make_rbm<Space>(p, ms);
  rbm.pack_weights();
  return rbm;
}

}  // namespace zeta::apps
