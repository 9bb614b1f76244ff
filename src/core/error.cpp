#include "zeta/core/error.hpp"

namespace zeta {

void config_error(const std::string& key, const std::string& message) {
  throw Error(key + ": " + message);
}

}  // namespace zeta
