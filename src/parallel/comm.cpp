#include "zeta/parallel/comm.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include "zeta/core/error.hpp"

namespace zeta::parallel {

Comm::Comm(MPI_Comm parent) {
  MPI_Comm_dup(parent, &comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Comm::~Comm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

ChainRange block_range(std::int64_t global, std::int64_t parts, std::int64_t i) {
  const std::int64_t base = global / parts, extra = global % parts;
  ChainRange r;
  r.global = global;
  r.count = base + (i < extra ? 1 : 0);
  r.offset = i * base + (i < extra ? i : extra);
  return r;
}

ChainRange Comm::chains_of(int rank, std::int64_t global) const { return block_range(global, size_, rank); }

std::vector<double> Comm::gather_chain_rows(const std::vector<double>& local, std::int64_t row_len,
                                            const ChainRange& range) const {
  if (static_cast<std::int64_t>(local.size()) != range.count * row_len)
    throw Error("internal: gather_chain_rows size mismatch", false);
  return gather_to_root(local);  // rank blocks are contiguous in chain order
}

void Comm::chain_row_counts(std::int64_t row_len, std::int64_t global, int extra, std::vector<int>& counts,
                            std::vector<int>& displs) const {
  // Every rank's count follows from the decomposition: no count exchange.
  counts.resize(size_);
  displs.resize(size_);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    counts[r] = static_cast<int>(chains_of(r, global).count * row_len) + extra;
    displs[r] = total;
    total += counts[r];
  }
}

std::vector<double> Comm::allgather_chain_rows(const std::vector<double>& local, std::int64_t row_len,
                                               const ChainRange& range) const {
  if (static_cast<std::int64_t>(local.size()) != range.count * row_len)
    throw Error("internal: allgather_chain_rows size mismatch", false);
  std::vector<int> counts, displs;
  chain_row_counts(row_len, range.global, 0, counts, displs);
  std::vector<double> out(std::size_t(displs.back() + counts.back()));
  MPI_Allgatherv(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, out.data(), counts.data(), displs.data(),
                 MPI_DOUBLE, comm_);
  return out;
}

std::vector<double> Comm::ordered_sum(const std::vector<double>& local, std::int64_t m,
                                      const Share& blocks) const {
  const auto all = allgather_chain_rows(local, m, blocks);
  std::vector<double> out(std::size_t(m), 0.0);
  for (std::size_t k = 0; k < all.size(); ++k) out[k % std::size_t(m)] += all[k];
  return out;
}

std::vector<double> Comm::gather_to_root(const std::vector<double>& local) const {
  const int n = static_cast<int>(local.size());
  std::vector<int> counts(size_), displs(size_);
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_);
  std::vector<double> out;
  if (root()) {
    int total = 0;
    for (int r = 0; r < size_; ++r) displs[r] = total, total += counts[r];
    out.resize(total);
  }
  MPI_Gatherv(local.data(), n, MPI_DOUBLE, out.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, comm_);
  return out;
}

std::int64_t Comm::sum(std::int64_t local) const {
  std::int64_t out = 0;
  MPI_Allreduce(&local, &out, 1, mpi_type<std::int64_t>(), MPI_SUM, comm_);
  return out;
}

double Comm::max(double local) const {
  double out = 0;
  MPI_Allreduce(&local, &out, 1, MPI_DOUBLE, MPI_MAX, comm_);
  return out;
}

bool Comm::any(bool local) const {
  int l = local ? 1 : 0, out = 0;
  MPI_Allreduce(&l, &out, 1, MPI_INT, MPI_MAX, comm_);
  return out != 0;
}

void Comm::broadcast(std::string& s) const {
  std::int64_t n = static_cast<std::int64_t>(s.size());
  MPI_Bcast(&n, 1, mpi_type<std::int64_t>(), 0, comm_);
  s.resize(n);
  MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, 0, comm_);
}

void Comm::broadcast(double& v) const { MPI_Bcast(&v, 1, MPI_DOUBLE, 0, comm_); }

std::string Comm::first_message(const std::string& local) const {
  const int mine = local.empty() ? size_ : rank_;
  int first = size_;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_);
  if (first == size_) return "";
  std::int64_t n = static_cast<std::int64_t>(local.size());
  MPI_Bcast(&n, 1, mpi_type<std::int64_t>(), first, comm_);
  std::string s = rank_ == first ? local : std::string(static_cast<std::size_t>(n), '\0');
  MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, first, comm_);
  return s;
}

void Comm::barrier() const { MPI_Barrier(comm_); }

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
//! SIGTERM, SIGUSR1 and a first SIGINT (Ctrl-C) ask for a stop at the next safe
//! point; SIGINT's default comes back at once, so a second Ctrl-C ends the run there
//! and then (the output stays partial, the last checkpoint intact).
extern "C" void zeta_on_stop_signal(int sig) {
  g_stop_signal = 1;
  if (sig == SIGINT) std::signal(SIGINT, SIG_DFL);
}
}  // namespace

StopControl::StopControl(const Comm& comm, double max_hours)
    : comm_(comm), deadline_s_(max_hours > 0 ? max_hours * 3600.0 : -1.0), start_s_(MPI_Wtime()) {
  g_stop_signal = 0;
  std::signal(SIGTERM, zeta_on_stop_signal);
  std::signal(SIGUSR1, zeta_on_stop_signal);
  std::signal(SIGINT, zeta_on_stop_signal);
}

StopControl::~StopControl() {
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGUSR1, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
}

bool all_ranks_arrive(MPI_Comm world, double seconds) {
  MPI_Request req;
  MPI_Ibarrier(world, &req);
  int all = 0;
  for (const double t0 = MPI_Wtime(); !all && MPI_Wtime() - t0 < seconds;) {
    MPI_Test(&req, &all, MPI_STATUS_IGNORE);
    if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return all != 0;
}

bool StopControl::should_stop() const {
  const bool timed_out = deadline_s_ > 0 && MPI_Wtime() - start_s_ >= deadline_s_;
  return comm_.any(g_stop_signal != 0 || timed_out);
}

}  // namespace zeta::parallel
