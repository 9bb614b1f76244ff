// A Kokkos Tools library that counts what a run launches: parallel_for / reduce /
// scan dispatches, deep copies (by source and destination memory space) and fences.
// bench/run_launch_counts.sh loads it into `zeta` (KOKKOS_PROFILE_LIBRARY for Kokkos
// 3, KOKKOS_TOOLS_LIBS for Kokkos 4) for two run lengths and prints the difference
// per step, so one-time set-up drops out. Nothing of Zeta is linked: the hooks are
// the C interface every Kokkos version since 3.0 calls.
//
// Output (at Kokkos::finalize, one line per kind, tab-separated) goes to the file
// named by ZETA_KOKKOS_COUNTS, or stderr:
//   launch  <kernel label>  <count>
//   copy    <dst space> <dst view> <- <src space> <src view>  <count>  <bytes>
//   fence   <label>  <count>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>

namespace {

struct SpaceHandle {
  char name[64];
};

struct Counts {
  std::map<std::string, std::uint64_t> launches, fences;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> copies;  // count, bytes
};

Counts& counts() {
  static Counts c;
  return c;
}

std::uint64_t next_id = 0;

void launched(const char* kind, const char* name, std::uint64_t* id) {
  ++counts().launches[std::string(kind) + " " + (name ? name : "?")];
  *id = next_id++;
}

}  // namespace

extern "C" {

void kokkosp_init_library(int, std::uint64_t, std::uint32_t, void*) {}

void kokkosp_finalize_library() {
  const char* path = std::getenv("ZETA_KOKKOS_COUNTS");
  std::FILE* out = path && *path ? std::fopen(path, "w") : stderr;
  if (!out) out = stderr;
  for (const auto& [name, n] : counts().launches)
    std::fprintf(out, "launch\t%s\t%llu\n", name.c_str(), static_cast<unsigned long long>(n));
  for (const auto& [name, nb] : counts().copies)
    std::fprintf(out, "copy\t%s\t%llu\t%llu\n", name.c_str(), static_cast<unsigned long long>(nb.first),
                 static_cast<unsigned long long>(nb.second));
  for (const auto& [name, n] : counts().fences)
    std::fprintf(out, "fence\t%s\t%llu\n", name.c_str(), static_cast<unsigned long long>(n));
  if (out != stderr) std::fclose(out);
}

void kokkosp_begin_parallel_for(const char* name, std::uint32_t, std::uint64_t* id) { launched("for", name, id); }
void kokkosp_end_parallel_for(std::uint64_t) {}
void kokkosp_begin_parallel_reduce(const char* name, std::uint32_t, std::uint64_t* id) {
  launched("reduce", name, id);
}
void kokkosp_end_parallel_reduce(std::uint64_t) {}
void kokkosp_begin_parallel_scan(const char* name, std::uint32_t, std::uint64_t* id) { launched("scan", name, id); }
void kokkosp_end_parallel_scan(std::uint64_t) {}

void kokkosp_begin_deep_copy(SpaceHandle dst, const char* dst_label, const void*, SpaceHandle src,
                             const char* src_label, const void*, std::uint64_t bytes) {
  auto& c = counts().copies[std::string(dst.name) + " " + (dst_label ? dst_label : "?") + " <- " + src.name + " " +
                            (src_label ? src_label : "?")];
  ++c.first;
  c.second += bytes;
}
void kokkosp_end_deep_copy() {}

void kokkosp_begin_fence(const char* name, std::uint32_t, std::uint64_t* id) {
  ++counts().fences[name ? name : "?"];
  *id = next_id++;
}
void kokkosp_end_fence(std::uint64_t) {}

}  // extern "C"
