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
