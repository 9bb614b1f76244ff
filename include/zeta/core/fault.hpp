//! Fault injection for the reliability tests: the environment variable ZETA_FAULT
//! holds a comma-separated list of named points (e.g. ZETA_FAULT=before_output_publish).
//! Nothing happens when it is unset, which is every ordinary run.
#pragma once
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace zeta {

//! True when ZETA_FAULT names `name` (read on every call: the tests set it per process).
inline bool fault_named(const char* name) {
  const char* list = std::getenv("ZETA_FAULT");
  if (!list || !*list) return false;
  const std::string all = std::string(",") + list + ",", key = std::string(",") + name + ",";
  return all.find(key) != std::string::npos;
}

//! A kill point: when ZETA_FAULT names `name`, the calling process SIGKILLs itself
//! here (as a power cut or a batch system would). Returns false otherwise.
inline bool fault_point(const char* name) {
  if (!fault_named(name)) return false;
  std::raise(SIGKILL);
  return true;  // not reached
}

}  // namespace zeta
