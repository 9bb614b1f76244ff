//! GEMMs whose B operand stays fixed across many calls: an MLP's weights during the
//! k Langevin steps of a PCD update, or of a sampling run (Mlp::times_weight decides
//! when packing pays). B is packed once per parameter change into panels of kPanel
//! columns, k-major, so a call only streams A and writes C. OpenBLAS instead packs
//! both operands on every call, which for a 128-row batch against a 784 × 512 weight
//! is mostly the weight (10% of a PCD step, perf).
//!
//! Host memory, one thread per panel work item of the default host execution space.
//! With AVX2 and FMA a 6 × kPanel register tile runs over all of K; elsewhere a
//! portable loop gives the same numbers (it is there for the tests; the models
//! take OpenBLAS on such builds). Every C(i, j) is the same chain
//! acc ← fma(A(i, k), B(k, j), acc) over k = 0 … K−1 from acc = 0, whatever the
//! shape, so a row's result does not depend on which other rows are in the call
//! (row-stable, as a rank's share of chains needs).
#pragma once
#include <cstddef>
#include <vector>

#include "zeta/core/types.hpp"

namespace zeta::linalg {

//! Whether packed_gemm runs its AVX2 kernel on this build, so that models take it
//! over OpenBLAS: AVX2 and FMA, and not AVX-512 (whose OpenBLAS kernels have twice
//! the width).
#if ZETA_HOST_KERNELS && defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#define ZETA_PACKED_GEMM_AVX2 1
inline constexpr bool kPackedGemm = true;
#else
#define ZETA_PACKED_GEMM_AVX2 0
inline constexpr bool kPackedGemm = false;
#endif

//! Columns per packed panel: two AVX2 vectors of Real.
inline constexpr int kPanel = 64 / static_cast<int>(sizeof(Real));

//! Reals that pack_b writes for a k × n operand (n rounded up to whole panels).
inline std::size_t packed_size(int k, int n) {
  return std::size_t((n + kPanel - 1) / kPanel) * std::size_t(k) * kPanel;
}

//! Packs the k × n operand B = Wᵀ (`transposed`: W is n × k) or B = W (W is k × n) of the
//! row-major W with leading dimension ldw into `packed` (packed_size(k, n) Reals).
void pack_b(const Real* w, int ldw, bool transposed, int k, int n, Real* packed);

//! C = A B for the m × k row-major A (leading dimension lda) and B packed by pack_b;
//! C (m × n, leading dimension ldc) is overwritten.
void packed_gemm(int m, int n, int k, const Real* a, int lda, const Real* packed, Real* c, int ldc);

//! A model's weight as a packed B operand, packed when first wanted after stale()
//! (a parameter change), so that it is packed at most once per change.
class PackedWeight {
 public:
  bool fresh() const { return fresh_; }
  void stale() { fresh_ = false; }
  //! The packing of W (as pack_b's arguments), packed now if stale.
  const Real* get(const Real* w, int ldw, bool transposed, int k, int n) {
    if (!fresh_) {
      data_.resize(packed_size(k, n));
      pack_b(w, ldw, transposed, k, n, data_.data());
      fresh_ = true;
    }
    return data_.data();
  }

 private:
  std::vector<Real> data_;
  bool fresh_ = false;
};

}  // namespace zeta::linalg
