#include "zeta/apps/rbm_model.hpp"

#include <string>

#include "zeta/core/error.hpp"

namespace zeta::apps {

io::RbmParams load_rbm_params(const Config& cfg, const ModelSpec& ms, const Comm& comm, const RbmExpect& expect) {
  if (ms.params.empty())
    config_error("model.params", "model.type = rbm needs trained parameters (a zeta train output or checkpoint)");
  io::RbmParams p;
  std::string why;
  try {
    p = io::read_rbm_params(ms.params);
    if (expect.visible >= 0 && p.visible != expect.visible)
      why = "model.params: '" + ms.params + "' has W [" + std::to_string(p.visible) + ", " +
            std::to_string(p.hidden) + "] for " + std::to_string(p.visible) + " visible units, but the data (" +
            "data.path '" + expect.data_path + "') has " + std::to_string(expect.visible) + " features";
    else if ((expect.keys_define_model || cfg.given("model.hidden")) && p.hidden != ms.hidden)
      why = "model.hidden = " + std::to_string(ms.hidden) + " but model.params '" + ms.params + "' has " +
            std::to_string(p.hidden) + " hidden units";
    else if ((expect.keys_define_model || cfg.given("model.visible")) && p.kind != ms.rbm_kind)
      why = std::string("model.visible = ") + rbm_kind_name(ms.rbm_kind) + " but model.params '" + ms.params +
            "' holds a " + rbm_kind_name(p.kind) + " RBM";
    else if (p.kind == RbmKind::bernoulli && cfg.given("model.sigma"))
      why = "model.sigma only applies to Gaussian visibles, but model.params '" + ms.params + "' holds a bernoulli RBM";
    else if (p.kind == RbmKind::gaussian && ms.rbm_sigma.size() != 1 && int(ms.rbm_sigma.size()) != p.visible)
      why = "model.sigma needs 1 or " + std::to_string(p.visible) + " values for '" + ms.params + "'";
  } catch (const std::exception& e) {
    why = e.what();
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
  return p;
}

}  // namespace zeta::apps
