//! What the per-model trainers of `zeta train` share (private to src/apps):
//! the validated [train] settings, the pairwise tree sum of per-partition
//! gradients, and the divergence error. train.cpp reads the keys and hands an
//! MLP over to train_mlp (train_mlp.cpp); the RBM trainer stays in train.cpp.
#pragma once
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "zeta/apps/apps.hpp"
#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/optimizer.hpp"

namespace zeta::apps::train_detail {

struct TrainSpec {
  std::uint32_t seed = 1;
  std::int64_t steps = 0;
  double max_hours = 0, progress_every = 5;
  bool pcd = true;
  bool dsm = false;
  int k = 1;
  std::int64_t batch = 0, chains = 0, eval_every = 0;
  std::int64_t ais_every = 0, ais_steps = 0, ais_chains = 0;
  bool deterministic = true;
  //! dsm: the noise scales (one, or several for multi-σ DSM) and the grid of the NLL monitor.
  std::vector<double> sigma;
  std::int64_t grid_points = 0;
  training::OptimizerSpec opt;
  std::string file;
};

//! Pairwise sum of leaves [lo, hi): halves while the count is even, in order when odd.
//! With a power-of-two rank count R dividing the leaf count, R ranks holding
//! aligned blocks and combining them by Comm::tree_allreduce give the same bits.
//! Rows [first, first + count) of a row-major matrix, as a view into it.
template <class Space>
Matrix<Space> row_block(const Matrix<Space>& m, std::int64_t first, std::int64_t count) {
  return Matrix<Space>(m.data() + std::size_t(first) * m.extent(1), count, m.extent(1));
}

template <class Space>
void copy_to_host(const Vector<Space>& d, std::vector<Real>& out) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  out.assign(h.data(), h.data() + h.size());
}

template <class Space>
void copy_to_device(const std::vector<Real>& in, const Vector<Space>& d) {
  const Kokkos::View<const Real*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(in.data(), in.size());
  Kokkos::deep_copy(d, h);
}

//! g summed over ranks by one MPI_Allreduce: in place when the host can reach g, else through `host`.
template <class Space>
void allreduce_in_place(const Comm& comm, const Vector<Space>& g, std::vector<Real>& host) {
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible) {
    Kokkos::fence();
    comm.allreduce_sum(g.data(), g.extent(0));
  } else {
    copy_to_host<Space>(g, host);
    comm.allreduce_sum(host);
    copy_to_device<Space>(host, g);
  }
}

inline void tree_sum(std::vector<std::vector<Real>>& leaves, std::size_t lo, std::size_t hi) {
  const std::size_t n = hi - lo;
  if (n <= 1) return;
  if (n % 2 == 0) {
    tree_sum(leaves, lo, lo + n / 2);
    tree_sum(leaves, lo + n / 2, hi);
    auto& a = leaves[lo];
    const auto& b = leaves[lo + n / 2];
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  } else {
    auto& a = leaves[lo];
    for (std::size_t l = lo + 1; l < hi; ++l)
      for (std::size_t i = 0; i < a.size(); ++i) a[i] += leaves[l][i];
  }
}

[[noreturn]] void diverged(std::int64_t step, const std::string& what, const TrainSpec& ts,
                           const io::CheckpointSpec& ck);

//! Trains model.type = mlp by denoising score matching (train_mlp.cpp); `ts`,
//! `ms`, `dspec` and `ck` are validated by train(), `timer` started there.
TrainResult train_mlp(const Config& cfg, const Comm& comm, const TrainSpec& ts, const ModelSpec& ms,
                      const data::DataSpec& dspec, const io::CheckpointSpec& ck, Kokkos::Timer& timer);

}  // namespace zeta::apps::train_detail
