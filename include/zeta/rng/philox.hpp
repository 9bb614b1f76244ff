//! Counter-based randomness: Random123 Philox4x32-10 keyed by (seed, global
//! chain id), counter (step, purpose, block). A chain's random numbers are a
//! pure function of these, so results do not depend on the rank count and a
//! checkpoint needs only the step.
#pragma once
#include <Kokkos_Core.hpp>
#include <Random123/philox.h>

#include <cstdint>
#if defined(__AVX2__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#include <immintrin.h>
#endif

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/core/vmath.hpp"

namespace zeta::rng {

//! What the numbers are for; distinct purposes never share a counter.
enum Purpose : std::uint32_t {
  kInit = 1,          //!< initial chain states
  kNoise = 2,         //!< Langevin / MALA proposal noise
  kAccept = 3,        //!< Metropolis accept/reject uniforms
  kMomentum = 4,      //!< HMC momenta
  kSweep = 5,         //!< lattice sweeps (Metropolis / heat-bath uniforms); the colour is in the block index
  kExchange = 6,      //!< replica-exchange decisions, keyed by the ladder (copy) instead of a chain
  kShuffle = 7,       //!< data: a partition's permutation, keyed by the partition, the epoch as the step
  kBinarize = 8,      //!< data: stochastic binarization, keyed by the example's row in its file
  kGibbs = 9,         //!< RBM block Gibbs: hidden units from block 0 up, visible units from block 2^31 up
  kBootstrap = 10,    //!< MBAR bootstrap resampling, keyed by the state instead of a chain
  kMonitor = 11,      //!< training monitors (pseudo-likelihood bit flips), keyed by the example id
  kSynthetic = 12,    //!< data: synthetic 2-D points, keyed by the example's index in its split, the split as the step
  kDsmNoise = 13,     //!< DSM: an example's noise z and (multi-σ) its σ, keyed by the example's id in its split
  kReplay = 14,       //!< mlp PCD: a negative row's buffer slot (block 0) and re-initialisation (block 1)
  kReplayNoise = 15,  //!< mlp PCD: fresh negative states, keyed by the row (or the buffer slot at step 0)
  kResample = 16,     //!< SMC systematic resampling: one uniform per step, keyed by the replicate instead of a chain
  kCluster =
      17,  //!< Ising cluster moves (Swendsen–Wang, Wolff): bonds and cluster flips (models/detail/ising_clusters.hpp)
  kNceNoise = 24,    //!< NCE: a noise point, keyed by its global row (partition · ν·b + j)
  kProjection = 25,  //!< sliced score matching: an example's projection v, keyed by the example's id in its split
  kEvalNoise = 26,   //!< zeta eval: eval.other = noise's uniform rows, keyed by the row
};

//! Counter word 1: the purpose and the high bits of the chain id (key word 0 holds the low bits).
KOKKOS_INLINE_FUNCTION std::uint32_t purpose_word(Purpose purpose, std::uint64_t chain) {
  return static_cast<std::uint32_t>(purpose) | (static_cast<std::uint32_t>(chain >> 32) << 8);
}

//! Four float normals from one Philox block (Box-Muller): z[2p] = ρ cos 2πu₂,
//! z[2p + 1] = ρ sin 2πu₂, ρ = √(−2 ln u₁), with u₁ (24 bits, centred, never 0)
//! from word 2p and u₂ from word 2p + 1.
KOKKOS_FORCEINLINE_FUNCTION void box_muller4(std::uint32_t w0, std::uint32_t w1, std::uint32_t w2, std::uint32_t w3,
                                             float& z0, float& z1, float& z2, float& z3) {
  const float u1a = (float(w0 >> 8) + 0.5f) * 5.9604645e-08f, u2a = float(w1 >> 8) * 5.9604645e-08f;
  const float u1b = (float(w2 >> 8) + 0.5f) * 5.9604645e-08f, u2b = float(w3 >> 8) * 5.9604645e-08f;
  const float ra = vmath::sqrt_pos(-2.0f * vmath::log01(u1a));
  const float rb = vmath::sqrt_pos(-2.0f * vmath::log01(u1b));
  float sa, ca, sb, cb;
  vmath::sincos_2pi(u2a, sa, ca);
  vmath::sincos_2pi(u2b, sb, cb);
  z0 = ra * ca;
  z1 = ra * sa;
  z2 = rb * cb;
  z3 = rb * sb;
}

//! A uniform double in (0, 1) with 53 random bits from two words (Stream::uniform's
//! construction from words 0 and 1 of a block).
KOKKOS_INLINE_FUNCTION double u53(std::uint32_t a, std::uint32_t b) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(a) << 21) ^ (b >> 11);
  return (double(bits & ((std::uint64_t(1) << 53) - 1)) + 0.5) * 1.1102230246251565e-16;
}

class Stream {
 public:
  using Gen = r123::Philox4x32;

  KOKKOS_INLINE_FUNCTION Stream(std::uint32_t seed, std::uint64_t chain, std::uint64_t step, Purpose purpose) {
    key_[0] = static_cast<std::uint32_t>(chain);
    key_[1] = seed;
    ctr_[0] = 0;
    ctr_[1] = purpose_word(purpose, chain);
    ctr_[2] = static_cast<std::uint32_t>(step);
    ctr_[3] = static_cast<std::uint32_t>(step >> 32);
  }

  KOKKOS_INLINE_FUNCTION Gen::ctr_type block(std::uint32_t b) const {
    Gen::ctr_type c = ctr_;
    c[0] = b;
    return Gen()(c, key_);
  }

  //! A uniform double in (0, 1) with 53 random bits, from block b.
  KOKKOS_INLINE_FUNCTION double uniform(std::uint32_t b = 0) const {
    const auto r = block(b);
    return u53(r[0], r[1]);
  }

  //! Calls sink(i, z) with n standard normals z (Box-Muller). Real is float:
  //! four normals per Philox block (box_muller4; normals_lanes gives the same
  //! numbers many blocks at a time); double: two, each from 53-bit uniforms.
  template <class Sink>
  KOKKOS_INLINE_FUNCTION void normals(int n, Sink&& sink) const {
    if constexpr (sizeof(Real) == sizeof(float)) {
      for (int b = 0; 4 * b < n; ++b) {
        const auto r = block(static_cast<std::uint32_t>(b));
        float z[4];
        box_muller4(r[0], r[1], r[2], r[3], z[0], z[1], z[2], z[3]);
        for (int q = 0; q < 4 && 4 * b + q < n; ++q) sink(4 * b + q, z[q]);
      }
    } else {
      constexpr Real two_pi = Real(6.283185307179586);
      for (int b = 0; 2 * b < n; ++b) {
        const auto r = block(static_cast<std::uint32_t>(b));
        const double u1 = u53(r[0], r[1]);
        const double u2 = u53(r[2], r[3]);
        const double rad = kmath::sqrt(-2.0 * kmath::log(u1));
        sink(2 * b, Real(rad * kmath::cos(two_pi * u2)));
        if (2 * b + 1 < n) sink(2 * b + 1, Real(rad * kmath::sin(two_pi * u2)));
      }
    }
  }

 private:
  Gen::key_type key_;
  Gen::ctr_type ctr_;
};

#if ZETA_HOST_KERNELS && defined(__AVX2__) && !defined(__AVX512DQ__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define ZETA_PHILOX_AVX2 1
//! philox_lanes' ten rounds on AVX2 without AVX-512: GCC 12 vectorizes the
//! lane loop's (a & 0xFFFFFFFF) · c as a full 64×64 multiply (three vpmuludq
//! and shifts, or a shift-add chain for a constant), where vpmuludq alone is
//! the 32×32→64 product of the low halves. Same words, bit for bit.
template <int L>
inline void philox_rounds_avx2(std::uint64_t (&a0)[L], std::uint64_t (&a1)[L], std::uint64_t (&a2)[L],
                               std::uint64_t (&a3)[L], std::uint64_t (&ka)[L], std::uint64_t kb) {
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53u), m1 = _mm256_set1_epi64x(0xCD9E8D57u);
  const __m256i wa = _mm256_set1_epi64x(0x9E3779B9u);
  for (int l = 0; l < L; l += 4) {
    auto ld = [l](std::uint64_t(&v)[L]) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + l)); };
    auto st = [l](std::uint64_t(&v)[L], __m256i x) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(v + l), x); };
    __m256i x0 = ld(a0), x1 = ld(a1), x2 = ld(a2), x3 = ld(a3), k = ld(ka);
    std::uint64_t b = kb;
    for (int r = 0; r < 10; ++r) {
      const __m256i p0 = _mm256_mul_epu32(x0, m0), p1 = _mm256_mul_epu32(x2, m1);
      const __m256i kbv = _mm256_set1_epi64x(static_cast<long long>(b));
      x0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1), k);
      x2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), x3), kbv);
      x1 = p1;
      x3 = p0;
      k = _mm256_add_epi64(k, wa);
      b += 0xBB67AE85u;
    }
    st(a0, x0), st(a1, x1), st(a2, x2), st(a3, x3);
  }
}
#else
#define ZETA_PHILOX_AVX2 0
template <int L>  // declared for philox_lanes' discarded `if constexpr` branch only
void philox_rounds_avx2(std::uint64_t (&)[L], std::uint64_t (&)[L], std::uint64_t (&)[L], std::uint64_t (&)[L],
                        std::uint64_t (&)[L], std::uint64_t);
#endif

//! L Philox4x32-10 blocks at once, in lanes that vectorize: lane l is block
//! blk[l] of Stream(seed, chain[l], step, purpose); its four words land in
//! w[0..3][l] (bit for bit Random123's philox4x32, checked in test_rng).
//! Rounds outside, lanes inside, and each 32-bit word in a 64-bit lane whose high
//! half is ignored: a round is then one 32×32→64 multiply per product on whole
//! vector lanes, without narrowing and widening shuffles (GCC 12, Zen 5: 2.2× and
//! 2.4× the blocks/s of 32-bit state with the lanes outside, at L = 8 and 32).
template <int L>
KOKKOS_INLINE_FUNCTION void philox_lanes(std::uint32_t seed, std::uint64_t step, Purpose purpose,
                                         const std::uint64_t (&chain)[L], const std::uint32_t (&blk)[L],
                                         std::uint32_t (&w)[4][L]) {
  constexpr std::uint64_t lo = 0xFFFFFFFFu;
  std::uint64_t a0[L], a1[L], a2[L], a3[L], ka[L];
  for (int l = 0; l < L; ++l) {
    a0[l] = blk[l], a1[l] = purpose_word(purpose, chain[l]), a2[l] = step & lo, a3[l] = step >> 32;
    ka[l] = chain[l] & lo;
  }
  std::uint64_t kb = seed;
  // Random123's philox4x32round / bumpkey, lane-wise; only the low 32 bits of
  // a0…a3, ka, kb are meaningful (XOR and + never carry into them from above).
  if constexpr (ZETA_PHILOX_AVX2 && L % 4 == 0) {
    philox_rounds_avx2<L>(a0, a1, a2, a3, ka, kb);
  } else {
    for (int r = 0; r < 10; ++r) {
#if defined(__GNUC__) && !defined(__clang__) && !defined(__NVCC__)
#pragma GCC unroll 1  // else GCC unrolls a short lane loop (L = 8) before it can vectorize it
#endif
      for (int l = 0; l < L; ++l) {
        const std::uint64_t p0 = (a0[l] & lo) * 0xD2511F53u;
        const std::uint64_t p1 = (a2[l] & lo) * 0xCD9E8D57u;
        const std::uint64_t b0 = (p1 >> 32) ^ a1[l] ^ ka[l], b2 = (p0 >> 32) ^ a3[l] ^ kb;
        a1[l] = p1;
        a3[l] = p0;
        a0[l] = b0;
        a2[l] = b2;
        ka[l] += 0x9E3779B9u;
      }
      kb += 0xBB67AE85u;
    }
  }
  for (int l = 0; l < L; ++l) {
    w[0][l] = static_cast<std::uint32_t>(a0[l]), w[1][l] = static_cast<std::uint32_t>(a1[l]);
    w[2][l] = static_cast<std::uint32_t>(a2[l]), w[3][l] = static_cast<std::uint32_t>(a3[l]);
  }
}

//! L blocks of normals: z[q][l] is normal 4·blk[l] + q of lane l's stream — the
//! numbers Stream::normals gives (float Real), up to FMA contraction (an ulp).
template <int L>
KOKKOS_INLINE_FUNCTION void normals_lanes(std::uint32_t seed, std::uint64_t step, Purpose purpose,
                                          const std::uint64_t (&chain)[L], const std::uint32_t (&blk)[L],
                                          float (&z)[4][L]) {
  std::uint32_t w[4][L];
  philox_lanes<L>(seed, step, purpose, chain, blk, w);
  for (int l = 0; l < L; ++l) box_muller4(w[0][l], w[1][l], w[2][l], w[3][l], z[0][l], z[1][l], z[2][l], z[3][l]);
}

//! Host: the n normals Stream(seed, chain, step, purpose).normals gives, through
//! sink(i, z); with float Real L = 32 blocks at a time in vectorized lanes (the same
//! numbers to an ulp), with double Real by Stream::normals itself.
template <class Sink>
void host_normals(std::uint32_t seed, std::uint64_t chain, std::uint64_t step, Purpose purpose, int n, Sink&& sink) {
  if constexpr (sizeof(Real) == sizeof(float)) {
    constexpr int L = 32;
    std::uint64_t ch[L];
    std::uint32_t blk[L];
    float z[4][L];
    for (int l = 0; l < L; ++l) ch[l] = chain;
    for (int b0 = 0; 4 * b0 < n; b0 += L) {
      for (int l = 0; l < L; ++l) blk[l] = static_cast<std::uint32_t>(b0 + l);
      normals_lanes<L>(seed, step, purpose, ch, blk, z);
      for (int l = 0; l < L && 4 * (b0 + l) < n; ++l)
        for (int q = 0; q < 4 && 4 * (b0 + l) + q < n; ++q) sink(4 * (b0 + l) + q, Real(z[q][l]));
    }
  } else {
    Stream(seed, chain, step, purpose).normals(n, sink);
  }
}

}  // namespace zeta::rng
