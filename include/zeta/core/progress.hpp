//! Progress lines with rate and ETA on stderr, from rank 0 only.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace zeta {

class Progress {
 public:
  //! `unit` names what one step is worth `work_per_step` of (e.g. "chain-steps").
  //! interval_s = 0 (run.progress_every = 0) turns the lines off, as `enabled` = false does.
  //! `first_step`: the step this job starts from (a restart's), of `total_steps` in all:
  //! the lines give the step and the fraction of the whole run, the rate and the ETA
  //! from this job's steps.
  Progress(std::string label, std::int64_t total_steps, double work_per_step, std::string unit, bool enabled,
           double interval_s = 5.0, std::int64_t first_step = 0);
  //! Call after each step with the steps done in all (first_step included); prints at
  //! most once per interval, and at the end.
  void update(std::int64_t steps_done);
  double elapsed_s() const;

 private:
  std::string label_, unit_;
  std::int64_t total_, first_;
  double work_per_step_;
  bool enabled_;
  double interval_s_;
  std::chrono::steady_clock::time_point start_, last_;
};

//! Formats seconds as H:MM:SS.
std::string format_hms(double seconds);

}  // namespace zeta
