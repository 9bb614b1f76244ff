#include "zeta/training/replay_buffer.hpp"

#include <algorithm>
#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/io/checkpoint.hpp"

namespace zeta::training {

using Space = Kokkos::DefaultExecutionSpace;

void fresh_rows(const Matrix<Space>& x, std::int64_t n, const FreshState& fresh, std::uint32_t seed,
                std::int64_t first, std::uint64_t step) {
  const int d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::fresh_states", RangePolicy<Space>(0, n), KOKKOS_LAMBDA(const std::int64_t r) {
        const rng::Stream st(seed, std::uint64_t(first + r), step, rng::kReplayNoise);
        fresh(st, d, [&](int i, Real v) { x(r, i) = v; });
      });
}

namespace {

//! Negatives of slot-drawn rows: fresh noise where `fresh_row` says so, else the buffer's slot state.
void draw_from_buffer(const Matrix<Space>& x, const Matrix<Space>& buf, const Kokkos::View<std::int64_t*, Space>& slot,
                      const Kokkos::View<int*, Space>& flags, const FreshState& fresh, std::uint32_t seed,
                      std::int64_t first, std::int64_t step) {
  const int d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::replay_draw", RangePolicy<Space>(0, std::int64_t(x.extent(0))), KOKKOS_LAMBDA(const std::int64_t r) {
        if (flags(r) & 1) {
          const rng::Stream st(seed, std::uint64_t(first + r), std::uint64_t(step + 1), rng::kReplayNoise);
          fresh(st, d, [&](int i, Real v) { x(r, i) = v; });
        } else {
          for (int i = 0; i < d; ++i) x(r, i) = buf(slot(r), i);
        }
      });
}

//! The states back to their slots, from the rows whose flag bit 2 marks the slot's last draw.
void return_to_buffer(const Matrix<Space>& x, const Matrix<Space>& buf, const Kokkos::View<std::int64_t*, Space>& slot,
                      const Kokkos::View<int*, Space>& flags) {
  const int d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::replay_return", RangePolicy<Space>(0, std::int64_t(x.extent(0))),
      KOKKOS_LAMBDA(const std::int64_t r) {
        if (flags(r) & 2)
          for (int i = 0; i < d; ++i) buf(slot(r), i) = x(r, i);
      });
}

}  // namespace

ReplayBuffer::ReplayBuffer(std::int64_t global, std::int64_t nloc, std::int64_t first_partition,
                           std::int64_t per_partition, std::int64_t rows_per_partition, int dim,
                           const FreshState& fresh, std::uint32_t seed, double reinit_prob)
    : global_(global),
      nloc_(nloc),
      first_partition_(first_partition),
      M_(per_partition),
      b_(rows_per_partition),
      dim_(dim),
      fresh_(fresh),
      seed_(seed),
      reinit_prob_(reinit_prob) {
  const std::int64_t n = nloc_ * b_;
  buffer_ = Matrix<Space>("zeta::train::replay_buffer", nloc_ * M_, dim_);
  slot_ = Kokkos::View<std::int64_t*, Space>("zeta::train::replay_slot", n);
  flags_ = Kokkos::View<int*, Space>("zeta::train::replay_flags", n);
  fresh_rows(buffer_, nloc_ * M_, fresh_, seed_, first_partition_ * M_, 0);
}

void ReplayBuffer::draw_slots(std::int64_t s, std::int64_t first_row) {
  auto hs = Kokkos::create_mirror_view(slot_);
  auto hf = Kokkos::create_mirror_view(flags_);
  std::vector<char> seen(M_);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    std::fill(seen.begin(), seen.end(), 0);
    for (std::int64_t j = b_ - 1; j >= 0; --j) {
      const std::int64_t r = l * b_ + j;
      const rng::Stream st(seed_, std::uint64_t(first_row + r), std::uint64_t(s), rng::kReplay);
      const std::int64_t m = std::min<std::int64_t>(M_ - 1, std::int64_t(st.uniform(0) * double(M_)));
      hs(r) = l * M_ + m;
      hf(r) = (st.uniform(1) < reinit_prob_ ? 1 : 0) | (seen[m] ? 0 : 2);
      seen[m] = 1;
    }
  }
  Kokkos::deep_copy(slot_, hs);
  Kokkos::deep_copy(flags_, hf);
}

void ReplayBuffer::draw(std::int64_t s, const Matrix<Space>& x, std::int64_t first_row) {
  draw_slots(s, first_row);
  draw_from_buffer(x, buffer_, slot_, flags_, fresh_, seed_, first_row, s);
}

void ReplayBuffer::put_back(const Matrix<Space>& x) { return_to_buffer(x, buffer_, slot_, flags_); }

void ReplayBuffer::gather(const parallel::Comm& comm) {
  const parallel::ChainRange range{global_, first_partition_ * M_, nloc_ * M_};
  all_ = comm.gather_chain_rows(host_copy(buffer_), dim_, range);
}

void ReplayBuffer::write(hid_t f) {
  io::write_array(f, "/train/replay_buffer", {hsize_t(global_), hsize_t(dim_)}, all_.data());
  all_.clear();
}

void ReplayBuffer::read(hid_t f, const std::string& file) {
  all_ = io::read_array<double>(f, file, "/train/replay_buffer", {hsize_t(global_), hsize_t(dim_)});
  for (double v : all_)
    if (!std::isfinite(v)) io::corrupt(file, "/train/replay_buffer", "holds a non-finite value");
}

void ReplayBuffer::scatter(const parallel::Comm& comm) {
  comm.broadcast(all_);
  auto h = Kokkos::create_mirror_view(buffer_);
  const std::size_t first = std::size_t(first_partition_ * M_) * dim_;
  for (std::size_t k = 0; k < h.size(); ++k) h.data()[k] = Real(all_[first + k]);
  Kokkos::deep_copy(buffer_, h);
  all_.clear();
}

}  // namespace zeta::training
