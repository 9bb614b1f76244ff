//! 2-D Ising sweeps, one rank: spin updates per nanosecond for Metropolis and
//! heat-bath, for sweep() alone, for sweep_measure() (what `zeta temper` does every
//! step) and for sweep() then measure(), next to the Philox rate measured in the same
//! process.
//!
//!   bench_ising [--L 64] [--replicas 64] [--sweeps 200] [--repeats 7] [--warmup 20]
//!               [--beta-min 0.3] [--beta-max 0.6] [--J 1] [--h 0] [--seed S]
//!
//! Prints one JSON line per case on stdout:
//!   philox               uniforms/ns of rng::philox_lanes<32> with the sweep's counters
//!                        and lane width (one uniform per spin update when L/2 is a
//!                        multiple of 32), xor-folded so that nothing is stored
//!   measure              measure() alone, sites/ns
//!   sweep / sweep_measure / sweep+measure, for metropolis and heatbath: spin updates/ns
//!                        (replicas × L² per sweep)
//! Each repeat times `--sweeps` calls of every case in turn (cases interleave, so
//! drift in clock speed hits all of them alike); a line gives the median over
//! repeats and the min and max. `ratio_to_philox` divides the median by the
//! median Philox rate. With the Serial backend everything runs on one core, so
//! updates/ns is also updates/ns/core.
#include "bench_main.hpp"
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeta/models/ising.hpp"
#include "zeta/rng/philox.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Space = Kokkos::DefaultExecutionSpace;
using Model = zeta::models::Ising<Space>;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Options {
  int L = 64, replicas = 64, sweeps = 200, repeats = 7, warmup = 20;
  double beta_min = 0.3, beta_max = 0.6, J = 1, h = 0;
  std::uint32_t seed = 1234;
  std::string only;  //!< run only the cases whose "case" or "move" equals this
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
      return argv[++i];
    };
    if (a == "--L") o.L = std::atoi(next());
    else if (a == "--replicas") o.replicas = std::atoi(next());
    else if (a == "--sweeps") o.sweeps = std::atoi(next());
    else if (a == "--repeats") o.repeats = std::atoi(next());
    else if (a == "--warmup") o.warmup = std::atoi(next());
    else if (a == "--beta-min") o.beta_min = std::atof(next());
    else if (a == "--beta-max") o.beta_max = std::atof(next());
    else if (a == "--J") o.J = std::atof(next());
    else if (a == "--h") o.h = std::atof(next());
    else if (a == "--seed") o.seed = std::uint32_t(std::atol(next()));
    else if (a == "--only") o.only = next();
    else throw std::runtime_error("unknown argument " + a);
  }
  if (o.L < 2 || o.L % 2 || o.replicas < 1 || o.sweeps < 1 || o.repeats < 1 || o.warmup < 0)
    throw std::runtime_error("need even L >= 2, replicas >= 1, sweeps >= 1, repeats >= 1, warmup >= 0");
  return o;
}

//! The sweep's Philox draws without the lattice: for every replica, colour and
//! group of 4 rows (chunk by chunk), one philox_lanes<32> call with the counters
//! the sweep uses on a host core, its 128 words xor-folded into one word per replica.
constexpr int kPeerRows = 4, kPeerLanes = 8 * kPeerRows;
void philox_peer(int replicas, int L, std::uint32_t seed, std::int64_t step,
                 const Kokkos::View<std::uint32_t*, Space::memory_space>& sink) {
  const int chunks = (L / 2 + Model::kChunk - 1) / Model::kChunk, nbr = 8 * chunks;
  const int groups = (L + kPeerRows - 1) / kPeerRows;
  Kokkos::parallel_for(
      "bench::philox", zeta::RangePolicy<Space>(0, replicas), KOKKOS_LAMBDA(const int r) {
        std::uint32_t acc = 0;
        for (int c = 0; c < 2; ++c)
          for (int gr = 0; gr < groups; ++gr)
            for (int ch = 0; ch < chunks; ++ch) {
              std::uint64_t chain[kPeerLanes];
              std::uint32_t blk[kPeerLanes];
              for (int x = 0; x < kPeerLanes; ++x) {
                chain[x] = std::uint64_t(r);
                blk[x] = static_cast<std::uint32_t>((c * L + gr * kPeerRows + x / 8) * nbr + 8 * ch + x % 8);
              }
              std::uint32_t w[4][kPeerLanes];
              zeta::rng::philox_lanes<kPeerLanes>(seed, std::uint64_t(step), zeta::rng::kSweep, chain, blk, w);
              std::uint32_t x = 0;
              for (int q = 0; q < 4 * kPeerLanes; ++q) x ^= (&w[0][0])[q];
              acc ^= x;
            }
        sink(r) ^= acc;
      });
}

//! philox_lanes<N> against Random123 through rng::Stream, on the host: the peer's
//! numbers are the real ones (test_rng checks the lanes through normals_lanes).
template <int N>
bool philox_lanes_exact() {
  for (int x = 0; x < 16; ++x) {
    std::uint64_t chain[N];
    std::uint32_t blk[N], w[4][N];
    for (int l = 0; l < N; ++l) {
      chain[l] = 1000u * x + 37u * l + (l % 3 ? std::uint64_t(l) << 32 : 0);
      blk[l] = static_cast<std::uint32_t>(11 * l + x);
    }
    const std::uint64_t step = 678 + (std::uint64_t(x) << 33);
    zeta::rng::philox_lanes<N>(1234 + x, step, zeta::rng::kSweep, chain, blk, w);
    for (int l = 0; l < N; ++l) {
      const auto b = zeta::rng::Stream(1234 + x, chain[l], step, zeta::rng::kSweep).block(blk[l]);
      for (int q = 0; q < 4; ++q)
        if (b[q] != w[q][l]) return false;
    }
  }
  return true;
}

struct Case {
  std::string name, move;
  double work;  //!< spin updates (or uniforms, or sites) per call
  std::function<void(std::int64_t)> call;
  std::vector<double> rate;  //!< per repeat, per ns
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const bool exact = philox_lanes_exact<8>() && philox_lanes_exact<kPeerLanes>();
  if (!exact) std::fprintf(stderr, "bench_ising: philox_lanes differs from Random123\n");
  const int R = o.replicas, n = o.L * o.L;
  const Model model(o.L, o.J, o.h);

  std::vector<double> betas(R);
  for (int r = 0; r < R; ++r) betas[r] = R == 1 ? o.beta_min : o.beta_min + (o.beta_max - o.beta_min) * r / (R - 1);
  Model::Betas beta("bench::beta", R);
  {
    auto hb = Kokkos::create_mirror_view(beta);
    for (int r = 0; r < R; ++r) hb(r) = betas[r];
    Kokkos::deep_copy(beta, hb);
  }
  // One lattice and table per move, so that each move's chain runs on undisturbed.
  const zeta::models::SpinMove moves[2] = {zeta::models::SpinMove::metropolis, zeta::models::SpinMove::heatbath};
  const char* move_names[2] = {"metropolis", "heatbath"};
  Model::Spins s[2] = {Model::Spins("bench::spins_metropolis", R, n), Model::Spins("bench::spins_heatbath", R, n)};
  Model::Table t[2] = {Model::Table("bench::t_metropolis", R), Model::Table("bench::t_heatbath", R)};
  zeta::Counts<Space> flips[2] = {zeta::Counts<Space>("bench::flips_metropolis", R),
                                  zeta::Counts<Space>("bench::flips_heatbath", R)};
  Kokkos::View<double*, Space::memory_space> E("bench::E", R), M("bench::M", R);
  Model::Sums sums("bench::sums", R);
  Kokkos::View<std::uint32_t*, Space::memory_space> sink("bench::sink", R);
  std::int64_t step[2] = {0, 0};
  for (int m = 0; m < 2; ++m) {
    model.initialize(s[m], 0, o.seed);
    model.thresholds(beta, moves[m], t[m]);
  }

  std::vector<Case> cases;
  const double peer_rows = 2.0 * ((o.L + kPeerRows - 1) / kPeerRows) * kPeerRows;  // both colours
  const double uniforms = double(R) * peer_rows * ((o.L / 2 + Model::kChunk - 1) / Model::kChunk) * Model::kChunk;
  cases.push_back({"philox", "", uniforms, [&](std::int64_t k) { philox_peer(R, o.L, o.seed, k, sink); }, {}});
  for (int m = 0; m < 2; ++m) {
    cases.push_back({"sweep", move_names[m], double(R) * n,
                     [&, m](std::int64_t) { model.sweep(s[m], t[m], moves[m], o.seed, 0, ++step[m], flips[m]); }, {}});
    cases.push_back({"sweep_measure",
                     move_names[m],
                     double(R) * n,
                     [&, m](std::int64_t) {
                       model.sweep_measure(s[m], t[m], moves[m], o.seed, 0, ++step[m], flips[m], sums, E, M);
                     },
                     {}});
    cases.push_back({"sweep+measure", move_names[m], double(R) * n,
                     [&, m](std::int64_t) {
                       model.sweep(s[m], t[m], moves[m], o.seed, 0, ++step[m], flips[m]);
                       model.measure(s[m], E, M);
                     },
                     {}});
  }
  cases.push_back({"measure", "", double(R) * n, [&](std::int64_t) { model.measure(s[0], E, M); }, {}});

  if (!o.only.empty()) {  // e.g. for perf record; the Philox peer always runs (ratio_to_philox)
    std::vector<Case> keep{cases[0]};
    for (std::size_t i = 1; i < cases.size(); ++i)
      if (cases[i].name == o.only || cases[i].move == o.only || cases[i].name + ":" + cases[i].move == o.only)
        keep.push_back(cases[i]);
    cases = keep;
  }

  // Warm-up: caches, page faults, and the lattices away from their random start.
  for (auto& c : cases)
    for (int k = 0; k < o.warmup; ++k) c.call(k);
  Kokkos::fence();
  for (int m = 0; m < 2; ++m) Kokkos::deep_copy(flips[m], 0);
  const std::int64_t step0[2] = {step[0], step[1]};

  std::int64_t k = 0;
  for (int rep = 0; rep < o.repeats; ++rep)
    for (auto& c : cases) {
      Kokkos::fence();
      const auto t0 = Clock::now();
      for (int i = 0; i < o.sweeps; ++i) c.call(++k);
      Kokkos::fence();
      c.rate.push_back(c.work * o.sweeps / (seconds_since(t0) * 1e9));
    }

  // Per move: flips per update over the timed sweeps, energy per site at the end.
  double acceptance[2], energy[2];
  for (int m = 0; m < 2; ++m) {
    auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flips[m]);
    double f = 0;
    for (int r = 0; r < R; ++r) f += double(hf(r));
    acceptance[m] = f / (double(R) * n * double(step[m] - step0[m]));
    model.measure(s[m], E, M);
    auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E);
    double e = 0;
    for (int r = 0; r < R; ++r) e += hE(r);
    energy[m] = e / (double(R) * n);
  }

  const double philox = median(cases[0].rate);
  for (const auto& c : cases) {
    const double med = median(c.rate);
    const auto [lo, hi] = std::minmax_element(c.rate.begin(), c.rate.end());
    const char* unit = c.name == "philox" ? "uniforms_per_ns" : c.name == "measure" ? "sites_per_ns" : "updates_per_ns";
    std::ostringstream js;
    js.precision(4);
    js << "{\"bench\":\"ising\",\"case\":\"" << c.name << "\"";
    if (!c.move.empty()) js << ",\"move\":\"" << c.move << "\"";
    js << ",\"L\":" << o.L << ",\"replicas\":" << R << ",\"beta_min\":" << o.beta_min << ",\"beta_max\":" << o.beta_max
       << ",\"J\":" << o.J << ",\"h\":" << o.h << ",\"sweeps\":" << o.sweeps << ",\"repeats\":" << o.repeats
       << ",\"space\":\"" << Space::name() << "\",\"concurrency\":" << Space::concurrency() << ",\"" << unit
       << "\":" << med << ",\"" << unit << "_min\":" << *lo << ",\"" << unit << "_max\":" << *hi
       << ",\"ns_per_item\":" << 1.0 / med;
    if (c.name == "philox")
      js << ",\"lanes\":" << kPeerLanes << ",\"matches_random123\":" << (exact ? "true" : "false");
    else
      js << ",\"ratio_to_philox\":" << med / philox;
    if (!c.move.empty()) {
      const int m = c.move == "metropolis" ? 0 : 1;
      js << ",\"acceptance\":" << acceptance[m] << ",\"energy_per_site\":" << energy[m];
    }
    js << "}";
    std::printf("%s\n", js.str().c_str());
  }
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sink);
  if (hs(0) == 0x12345678u) std::fprintf(stderr, "(sink)\n");  // keeps the Philox peer observable
  return exact ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return zeta::bench::bench_main(argc, argv, "bench_ising", run, [] {});
}
