#include "zeta/core/progress.hpp"

#include <cmath>
#include <cstdio>

namespace zeta {

std::string format_hms(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

Progress::Progress(std::string label, std::int64_t total_steps, double work_per_step, std::string unit, bool enabled,
                   double interval_s, std::int64_t first_step)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total_steps),
      first_(first_step),
      work_per_step_(work_per_step),
      enabled_(enabled && interval_s > 0),
      interval_s_(interval_s),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(std::int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total_;
  if (!last && std::chrono::duration<double>(now - last_).count() < interval_s_) return;
  last_ = now;
  const double t = elapsed_s();
  // The rate and the ETA from this job's steps (from first_, a restart's), the step and
  // the fraction of the whole run.
  const std::int64_t job = done - first_;
  const double rate = t > 0 ? double(job) * work_per_step_ / t : 0.0;
  const double eta = job > 0 ? t * double(total_ - done) / double(job) : NAN;
  std::fprintf(stderr, "%s: step %lld/%lld (%5.1f%%)  %.3g %s/s  elapsed %s  ETA %s\n", label_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_),
               total_ > 0 ? 100.0 * double(done) / double(total_) : 100.0, rate, unit_.c_str(),
               format_hms(t).c_str(), last ? "0:00:00" : format_hms(eta).c_str());
  std::fflush(stderr);
}

}  // namespace zeta
