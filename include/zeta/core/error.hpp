//! Errors: one exception type, reported once as "zeta: error: ..." with a non-zero exit.
#pragma once
#include <stdexcept>
#include <string>

namespace zeta {

//! A user-facing error. `collective` errors are raised identically on every rank
//! (bad configuration, unreadable input that every rank checks), so they are
//! reported by rank 0 and every rank exits cleanly; others abort the job.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, bool collective = true)
      : std::runtime_error(what), collective_(collective) {}
  bool collective() const { return collective_; }

 private:
  bool collective_;
};

//! Throws a collective Error naming the configuration key.
[[noreturn]] void config_error(const std::string& key, const std::string& message);

}  // namespace zeta
