//! Fault injection for the reliability tests: the environment variable ZETA_FAULT
//! holds a comma-separated list of named points, each optionally `@N` (fire the N-th
//! time the point is reached, default the first), e.g.
//! ZETA_FAULT=before_output_publish or ZETA_FAULT=checkpoint_after_link@2.
//! Nothing happens when it is unset, which is every ordinary run. The points:
//! checkpoint_after_tmp, checkpoint_after_link (io/checkpoint: between the steps of
//! a checkpoint write), before_output_publish, output_write (io/hdf5: a write that
//! fails as on a full disk), before_final_checkpoint (tempering, training).
#pragma once
#include <csignal>
#include <cstdlib>
#include <map>
#include <string>

namespace zeta {

//! N when ZETA_FAULT names `name` as name@N, 1 as plain `name`, 0 when it does not
//! name it (read on every call: the tests set it per process).
inline int fault_nth(const char* name) {
  const char* list = std::getenv("ZETA_FAULT");
  if (!list || !*list) return 0;
  const std::string all = list;
  for (std::size_t pos = 0; pos <= all.size();) {
    std::size_t end = all.find(',', pos);
    if (end == std::string::npos) end = all.size();
    std::string item = all.substr(pos, end - pos);
    int nth = 1;
    if (const auto at = item.find('@'); at != std::string::npos) {
      nth = std::atoi(item.c_str() + at + 1);
      item.resize(at);
    }
    if (item == name) return nth;
    pos = end + 1;
  }
  return 0;
}

//! True when ZETA_FAULT names `name`.
inline bool fault_named(const char* name) { return fault_nth(name) > 0; }

//! A kill point: when ZETA_FAULT names `name` (@N: the N-th time this process gets
//! here), the calling process SIGKILLs itself here, as a power cut or a batch
//! system would.
inline void fault_point(const char* name) {
  const int nth = fault_nth(name);
  if (nth <= 0) return;
  static std::map<std::string, int> reached;
  if (++reached[name] == nth) std::raise(SIGKILL);
}

}  // namespace zeta
