//! Unadjusted Langevin on an MLP energy, one rank: chain-steps/s and achieved
//! GFLOP/s, next to the single-core BLAS GEMM rate measured in the same process
//! (a large square GEMM and the exact GEMM shapes the MLP issues).
//!
//!   bench_langevin_mlp LAYERS CHAINS STEPS [--warmup W] [--step-size EPS] [--seed S]
//!                      [--no-gemm] [--breakdown] [--peak-n N]
//!   e.g. bench_langevin_mlp 784,512,512,1 256 60
//!
//! Prints one JSON line on stdout.
//!
//! FLOP count (per chain-step), with layers d_0, d_1, …, d_L = 1:
//!   forward  2 · Σ_l d_l · d_{l+1}   (one multiply-add per weight: the hidden-layer
//!                                     GEMMs and the final d_{L-1}→1 dot product)
//!   backward 2 · Σ_l d_l · d_{l+1}   (∇x only: one multiply-add per weight again;
//!                                     no weight gradients are formed)
//!   total    4 · Σ_l d_l · d_{l+1}
//! Bias adds, activations, RNG and the Langevin update are not counted (O(Σ d_l)
//! per chain, against O(Σ d_l d_{l+1})). For 784-512-512-1: 4·(401408+262144+512)
//! = 2,656,256 flop per chain-step.
//!
//! --breakdown runs the timed loop a second time with Kokkos Tools callbacks on
//! every parallel_for and a timer around every BLAS GEMM (this executable
//! interposes cblas_sgemm/cblas_dgemm and forwards to the real one), and adds the
//! per-kernel seconds to the JSON. The headline numbers come from the first,
//! uninstrumented loop.
#include <cblas.h>
#include <dlfcn.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/linalg/packed.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/samplers/samplers.hpp"

extern "C" char* openblas_get_corename(void);
extern "C" char* openblas_get_config(void);

namespace {

using Clock = std::chrono::steady_clock;
using Space = Kokkos::DefaultExecutionSpace;
using zeta::Real;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---------------------------------------------------------------------------
// Instrumentation (only active with --breakdown)
// ---------------------------------------------------------------------------
bool g_instrument = false;
struct Acc {
  double s = 0;
  long n = 0;
  double flops = 0;
};
std::map<std::string, Acc> g_acc;
std::vector<std::pair<std::string, Clock::time_point>> g_open;

void kernel_begin(const char* name, const std::uint32_t, std::uint64_t* id) {
  *id = g_open.size();
  g_open.emplace_back(name, Clock::now());
}
void kernel_end(std::uint64_t id) {
  const auto t1 = Clock::now();
  auto& a = g_acc["kernel " + g_open[id].first];
  a.s += std::chrono::duration<double>(t1 - g_open[id].second).count();
  a.n += 1;
  g_open.resize(id);
}

template <class T>
void record_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double s) {
  std::ostringstream key;
  key << "gemm " << (ta == CblasTrans ? "T" : "N") << (tb == CblasTrans ? "T" : "N") << " m=" << m << " n=" << n
      << " k=" << k;
  auto& a = g_acc[key.str()];
  a.s += s;
  a.n += 1;
  a.flops += 2.0 * m * n * k;
}

}  // namespace

// Interposed BLAS GEMMs: libzeta's host_gemm resolves to these, which forward to
// OpenBLAS through dlsym(RTLD_NEXT) and time the call when instrumenting.
extern "C" void cblas_sgemm(const CBLAS_ORDER o, const CBLAS_TRANSPOSE ta, const CBLAS_TRANSPOSE tb, const blasint m,
                            const blasint n, const blasint k, const float alpha, const float* a, const blasint lda,
                            const float* b, const blasint ldb, const float beta, float* c, const blasint ldc) {
  using Fn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float, const float*,
                      blasint, const float*, blasint, float, float*, blasint);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "cblas_sgemm"));
  if (!g_instrument) return real(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const auto t0 = Clock::now();
  real(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record_gemm<float>(ta, tb, m, n, k, seconds_since(t0));
}
extern "C" void cblas_dgemm(const CBLAS_ORDER o, const CBLAS_TRANSPOSE ta, const CBLAS_TRANSPOSE tb, const blasint m,
                            const blasint n, const blasint k, const double alpha, const double* a, const blasint lda,
                            const double* b, const blasint ldb, const double beta, double* c, const blasint ldc) {
  using Fn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, double, const double*,
                      blasint, const double*, blasint, double, double*, blasint);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "cblas_dgemm"));
  if (!g_instrument) return real(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const auto t0 = Clock::now();
  real(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record_gemm<double>(ta, tb, m, n, k, seconds_since(t0));
}

namespace {

// ---------------------------------------------------------------------------
// GEMM rates
// ---------------------------------------------------------------------------
struct GemmShape {
  bool ta, tb;
  int m, n, k;
  bool mlp = false;        // one of the model's A·op(W) products
  double rate = 0;         // GFLOP/s through host_gemm (OpenBLAS), best of reps
  double secs = 0;         // seconds per call at that rate
  double packed_rate = 0;  // the same through linalg::packed_gemm (0: not taken for this shape)
  double packed_secs = 0;
  //! What the MLP runs for this shape: packed_gemm for its A·op(W) products on AVX2 builds.
  bool packed() const { return zeta::linalg::kPackedGemm && mlp; }
  double used_secs() const { return packed() ? packed_secs : secs; }
};

//! Best-of-`reps` GFLOP/s of C = A op(B) through zeta::linalg::host_gemm (OpenBLAS)
//! and, where the MLP takes it, through packed_gemm with B packed beforehand (as the
//! model packs its weights once per parameter change). The two alternate within each
//! rep, each timing enough calls to last ≥ min_s.
void time_gemm(GemmShape& sh, int reps, double min_s) {
  const int ar = sh.ta ? sh.k : sh.m, ac = sh.ta ? sh.m : sh.k;
  const int br = sh.tb ? sh.n : sh.k, bc = sh.tb ? sh.k : sh.n;
  std::vector<Real> a(std::size_t(ar) * ac), b(std::size_t(br) * bc), c(std::size_t(sh.m) * sh.n);
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& v : a) v = u(gen);
  for (auto& v : b) v = u(gen);
  std::vector<Real> packed(sh.packed() ? zeta::linalg::packed_size(sh.k, sh.n) : 0);
  if (sh.packed()) zeta::linalg::pack_b(b.data(), bc, sh.tb, sh.k, sh.n, packed.data());
  const double flops = 2.0 * sh.m * sh.n * sh.k;
  auto blas = [&] {
    zeta::linalg::host_gemm(sh.ta, sh.tb, sh.m, sh.n, sh.k, Real(1), a.data(), ac, b.data(), bc, Real(0), c.data(),
                            sh.n);
  };
  auto packed_call = [&] { zeta::linalg::packed_gemm(sh.m, sh.n, sh.k, a.data(), ac, packed.data(), c.data(), sh.n); };
  auto per_call = [&](auto&& call) {
    int calls = 0;
    const auto t0 = Clock::now();
    double s = 0;
    do {
      call();
      ++calls;
      s = seconds_since(t0);
    } while (s < min_s);
    return s / calls;
  };
  blas();  // warm-up: packing buffers, page faults
  if (sh.packed()) packed_call();
  double best = 1e300, best_packed = 1e300;
  for (int r = 0; r < reps; ++r) {
    best = std::min(best, per_call(blas));
    if (sh.packed()) best_packed = std::min(best_packed, per_call(packed_call));
  }
  sh.secs = best;
  sh.rate = flops / best * 1e-9;
  if (sh.packed()) {
    sh.packed_secs = best_packed;
    sh.packed_rate = flops / best_packed * 1e-9;
  }
}

std::vector<int> parse_layers(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) out.push_back(std::stoi(tok));
  return out;
}

std::string json_list(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

using Model = zeta::models::Mlp<Space>;
template <class M>
void step(M& model, zeta::samplers::Chains<Space>& ch, const zeta::samplers::SamplerSpec& s, std::uint32_t seed,
          std::int64_t k) {
  zeta::samplers::langevin_step(model, ch, s, seed, k);
}
constexpr const char* kVariant = "zeta";

int run(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s LAYERS CHAINS STEPS [--warmup W] [--step-size EPS] [--seed S] [--no-gemm] "
                 "[--breakdown] [--peak-n N]\n  e.g. %s 784,512,512,1 256 60\n",
                 argv[0], argv[0]);
    return 2;
  }
  const std::vector<int> layers = parse_layers(argv[1]);
  const int chains = std::atoi(argv[2]);
  const int steps = std::atoi(argv[3]);
  int warmup = 5, peak_n = 2048;
  double eps = 1e-3;
  std::uint32_t seed = 1234;
  bool do_gemm = true, breakdown = false;
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
      return argv[++i];
    };
    if (a == "--warmup") warmup = std::atoi(next());
    else if (a == "--step-size") eps = std::atof(next());
    else if (a == "--seed") seed = std::uint32_t(std::atol(next()));
    else if (a == "--peak-n") peak_n = std::atoi(next());
    else if (a == "--no-gemm") do_gemm = false;
    else if (a == "--breakdown") breakdown = true;
    else throw std::runtime_error("unknown argument " + a);
  }
  if (layers.size() < 2 || layers.back() != 1 || chains < 1 || steps < 1)
    throw std::runtime_error("need LAYERS ending in 1, CHAINS >= 1, STEPS >= 1");

  Model model(Model::random_params(layers, seed), zeta::models::Activation::silu);
  zeta::samplers::SamplerSpec spec;
  spec.type = zeta::samplers::SamplerType::langevin;
  spec.name = "langevin";
  spec.chains = chains;
  spec.step_size = eps;
  zeta::samplers::Chains<Space> ch(zeta::parallel::ChainRange{chains, 0, chains}, model.dim(), 1.0);
  ch.initialize(model, seed, 1.0);

  std::int64_t k = 0;
  for (int s = 0; s < warmup; ++s) step(model, ch, spec, seed, ++k);
  Kokkos::fence();
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) step(model, ch, spec, seed, ++k);
  Kokkos::fence();
  const double secs = seconds_since(t0);

  // Sanity: a finite energy after the run (a NaN would make timings meaningless).
  auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch.E);
  double mean_e = 0;
  for (int c = 0; c < chains; ++c) mean_e += double(hE(c));
  mean_e /= chains;

  double wsum = 0;  // Σ d_l d_{l+1}
  for (std::size_t l = 0; l + 1 < layers.size(); ++l) wsum += double(layers[l]) * layers[l + 1];
  const double flops_per_chain_step = 4.0 * wsum;
  const double chain_steps = double(chains) * steps;
  const double cs_per_s = chain_steps / secs;
  const double gflops = flops_per_chain_step * cs_per_s * 1e-9;

  std::ostringstream js;
  js.precision(6);
  js << "{\"bench\":\"langevin_mlp\",\"impl\":\"" << kVariant << "\",\"precision\":\""
     << (sizeof(Real) == 4 ? "float" : "double") << "\",\"activation\":\"silu\",\"layers\":" << json_list(layers)
     << ",\"chains\":" << chains << ",\"steps\":" << steps << ",\"warmup\":" << warmup << ",\"step_size\":" << eps
     << ",\"seconds\":" << secs << ",\"chain_steps_per_s\":" << cs_per_s
     << ",\"flops_per_chain_step\":" << flops_per_chain_step << ",\"gflops\":" << gflops
     << ",\"mean_energy\":" << mean_e << ",\"blas_core\":\"" << json_escape(openblas_get_corename())
     << "\",\"blas_config\":\"" << json_escape(openblas_get_config()) << "\"";

  if (do_gemm) {
    // The MLP's GEMMs: forward H = A Wᵀ (NT, m=chains, n=d_{l+1}, k=d_l) for every
    // hidden layer, backward T W (NN, m=chains, n=d_l, k=d_{l+1}) for the same layers.
    // (The d_{L-1}→1 output layer is a Kokkos dot-product kernel, not a GEMM.)
    const int pad = (chains + 15) / 16 * 16;  // the model pads batches to 16-row tiles
    std::vector<GemmShape> shapes;
    for (std::size_t l = 0; l + 2 < layers.size(); ++l)
      shapes.push_back({false, true, pad, layers[l + 1], layers[l], true});
    for (std::size_t l = layers.size() - 2; l-- > 0;)
      shapes.push_back({false, false, pad, layers[l], layers[l + 1], true});
    double shape_flops = 0, shape_secs = 0;
    for (auto& sh : shapes) {
      time_gemm(sh, 3, 0.1);
      shape_flops += 2.0 * sh.m * sh.n * sh.k;
      shape_secs += sh.used_secs();
    }
    GemmShape big{false, false, peak_n, peak_n, peak_n};
    time_gemm(big, 3, 0.0);  // best of 3 single calls
    const double shape_rate = shape_secs > 0 ? shape_flops / shape_secs * 1e-9 : 0;
    js << ",\"gemm_peak_gflops\":" << big.rate << ",\"gemm_peak_n\":" << peak_n
       << ",\"gemm_mlp_shapes_gflops\":" << shape_rate << ",\"gemm_mlp_shapes\":[";
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const auto& sh = shapes[i];
      js << (i ? "," : "") << "{\"op\":\"" << (sh.ta ? "T" : "N") << (sh.tb ? "T" : "N") << "\",\"m\":" << sh.m
         << ",\"n\":" << sh.n << ",\"k\":" << sh.k << ",\"gflops\":" << sh.rate;
      if (sh.packed())
        js << ",\"packed_gflops\":" << sh.packed_rate << ",\"packed_speedup\":" << sh.secs / sh.packed_secs;
      js << "}";
    }
    js << "],\"frac_of_gemm_peak\":" << gflops / big.rate
       << ",\"frac_of_mlp_shape_gemm\":" << (shape_rate > 0 ? gflops / shape_rate : 0)
       // Step time if the GEMMs ran at their isolated rate and everything else were free.
       << ",\"gemm_only_bound_chain_steps_per_s\":" << (shape_secs > 0 ? double(chains) / shape_secs : 0);
  }

  if (breakdown) {
    Kokkos::Tools::Experimental::set_begin_parallel_for_callback(kernel_begin);
    Kokkos::Tools::Experimental::set_end_parallel_for_callback(kernel_end);
    g_acc.clear();
    g_instrument = true;
    Kokkos::fence();
    const auto b0 = Clock::now();
    for (int s = 0; s < steps; ++s) step(model, ch, spec, seed, ++k);
    Kokkos::fence();
    const double bsecs = seconds_since(b0);
    g_instrument = false;
    Kokkos::Tools::Experimental::set_begin_parallel_for_callback(nullptr);
    Kokkos::Tools::Experimental::set_end_parallel_for_callback(nullptr);
    double accounted = 0, gemm_s = 0, kern_s = 0;
    js << ",\"breakdown\":{\"seconds\":" << bsecs << ",\"parts\":[";
    bool first = true;
    for (const auto& [name, a] : g_acc) {
      accounted += a.s;
      (name.rfind("gemm", 0) == 0 ? gemm_s : kern_s) += a.s;
      js << (first ? "" : ",") << "{\"name\":\"" << json_escape(name) << "\",\"seconds\":" << a.s
         << ",\"calls\":" << a.n << ",\"frac\":" << a.s / bsecs;
      if (a.flops > 0) js << ",\"gflops\":" << a.flops / a.s * 1e-9;
      js << "}";
      first = false;
    }
    js << "],\"gemm_seconds\":" << gemm_s << ",\"kernel_seconds\":" << kern_s
       << ",\"other_seconds\":" << bsecs - accounted << "}";
  }
  js << "}";
  std::printf("%s\n", js.str().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return zeta::bench::bench_main(argc, argv, "bench_langevin_mlp", run, [] { zeta::linalg::init_blas_threads(); });
}
