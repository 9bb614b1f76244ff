//! The replay buffer of persistent negatives (mlp pcd, the recipe of IGEBM and JEM):
//! train.buffer_size states over all ranks, buffer_size / D with each partition
//! (global slot p·M + m). Row r = p·b + j of step s's negatives draws slot
//! m = ⌊M u₀⌋ of its partition with replacement, or with probability
//! train.reinit_prob (u₁ < p) fresh noise, u₀, u₁ from Stream(seed, r, s, kReplay)
//! blocks 0 and 1. Fresh noise (and the initial buffer) is U(sampler.clamp)^d when
//! the sampler clamps, else N(0, init_scale²)^d, from Stream(seed, r, s + 1,
//! kReplayNoise) (initial slot q: (seed, q, 0)). After the Langevin moves the states
//! go back to their slots (a slot drawn twice keeps its last row's state).
#pragma once
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::training {

//! The distribution of fresh negative states: U(lo, hi)^d (one Philox block per
//! coordinate) when the sampler clamps, else N(0, scale²)^d.
struct FreshState {
  bool uniform;
  double lo, hi, scale;
  template <class Row>
  KOKKOS_INLINE_FUNCTION void operator()(const rng::Stream& st, int d, const Row& row) const {
    if (uniform) {
      for (int i = 0; i < d; ++i) row(i, Real(lo + (hi - lo) * st.uniform(std::uint32_t(i))));
    } else {
      const Real sc = Real(scale);
      st.normals(d, [&](int i, Real z) { row(i, sc * z); });
    }
  }
};

//! Fills rows [0, n) of `x` with fresh states, row r from Stream(seed, first + r, step, kReplayNoise).
void fresh_rows(const Matrix<Kokkos::DefaultExecutionSpace>& x, std::int64_t n, const FreshState& fresh,
                std::uint32_t seed, std::int64_t first, std::uint64_t step);

class ReplayBuffer {
 public:
  using Space = Kokkos::DefaultExecutionSpace;
  ReplayBuffer() = default;
  //! `nloc` local partitions from partition `first_partition` on, `per_partition` (M)
  //! states of dimension `dim` each, and `rows_per_partition` (b) negatives each per
  //! step, `global` states over all ranks; the initial states are fresh.
  ReplayBuffer(std::int64_t global, std::int64_t nloc, std::int64_t first_partition, std::int64_t per_partition,
               std::int64_t rows_per_partition, int dim, const FreshState& fresh, std::uint32_t seed,
               double reinit_prob);

  //! Step s's negatives into x (global rows from `first_row` on): slot states or fresh noise.
  void draw(std::int64_t s, const Matrix<Space>& x, std::int64_t first_row);
  //! The rows of the last draw() back to their slots.
  void put_back(const Matrix<Space>& x);

  // Checkpoints: /train/replay_buffer (buffer_size × dim, global slot order).
  //! Collective: the whole buffer to rank 0 for write().
  void gather(const parallel::Comm& comm);
  void write(hid_t f);
  //! Reads the whole buffer (non-finite states are corruption).
  void read(hid_t f, const std::string& file);
  //! Collective: the buffer read on rank 0 into every rank's slots.
  void scatter(const parallel::Comm& comm);

 private:
  //! Row r's buffer slot (local index), and flags: bit 1 fresh noise, bit 2 the slot's last draw.
  void draw_slots(std::int64_t s, std::int64_t first_row);

  std::int64_t global_ = 0, nloc_ = 0, first_partition_ = 0, M_ = 0, b_ = 0;
  int dim_ = 0;
  FreshState fresh_{};
  std::uint32_t seed_ = 1;
  double reinit_prob_ = 0;
  Matrix<Space> buffer_;
  Kokkos::View<std::int64_t*, Space> slot_;
  Kokkos::View<int*, Space> flags_;
  std::vector<double> all_;  //!< the whole buffer, between gather / read and write / scatter
};

}  // namespace zeta::training
