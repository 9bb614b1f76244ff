//! The contrastive term of a loss on an energy E (models::Mlp, models::Net, the JEM
//! head of training/jem.hpp): what cd and pcd share on every model, and JEM's
//! generative term. Step s:
//!   data        the rows of global batch s, partition block by partition block
//!               (x₊ in the first half of x());
//!   negatives   one per batch row, global row r = p·b + j of partition p (b = B/D):
//!               cd: the data row itself; pcd: a state of the partition's share of the
//!               replay buffer (training/replay_buffer.hpp), or fresh noise;
//!   Langevin    train.k moves x ← clamp(x − (ε/2) clip(∇x E) + √ε z) (samplers.hpp), the
//!               noise of move t keyed by (seed, r, s·k + t); pcd writes the states back
//!               to their slots;
//!   loss        L = ⟨E(x₊)⟩ − ⟨E(x₋)⟩ + α(⟨E(x₊)²⟩ + ⟨E(x₋)²⟩) over the global batch
//!               (α = train.energy_reg), the model's contrastive_grad.
//! Every pass over rows goes partition block by partition block when deterministic, so
//! each GEMM sees the same rows on any rank count (float sgemm is not row-stable). The
//! objective owns the order of the steps (start, move, hooks such as the net's power
//! iteration), this class the loop each of them runs; explicit instantiations in
//! contrastive_term.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/chains.hpp"
#include "zeta/training/gradient_sum.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/replay_buffer.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! The check after training: mean energies of data, model samples and noise.
struct EnergyCheck {
  bool done = false;
  double data = NAN, model = NAN, noise = NAN;
};
//! The check's JSON figures (eval_energy_*), when it ran.
void add_check_json(JsonSummary& j, const EnergyCheck& c);
//! The kReplayNoise step of the noise rows of the checks after training (above any
//! training step's), for every objective that checks against uniform noise.
inline constexpr std::uint64_t kEvalNoiseStep = std::uint64_t(1) << 62;
//! The mean of v, NaN when empty.
double mean_of(const std::vector<double>& v);

template <class Energy>
class ContrastiveTerm {
 public:
  using Space = Objective::Space;
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, edata, emodel, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &edata, &emodel, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  ContrastiveTerm(const TrainSpec& ts, const data::Dataset& d, Energy& model, const parallel::Comm& comm);

  //! This rank's data rows of batch s into the first half of x() (labelled data: their
  //! labels into labels()).
  void data_rows(std::int64_t s);
  //! neg().x ← step s's starting negatives: cd the data rows, pcd drawn from the buffer.
  void start_negatives(std::int64_t s);
  //! train.k Langevin moves of the negatives at step s.
  void move_negatives(std::int64_t s);
  //! pcd: the negatives back to their buffer slots.
  void keep_negatives();
  //! start, move and (with `keep`) keep.
  void negatives(std::int64_t s, bool keep);
  //! g ← ∇θ of the loss on the data rows and negatives in x(), summed over ranks;
  //! E() ← their energies.
  void loss_gradient(GradientSum<Space>& g);
  //! loss_gradient's parts: g += ∇θ of local partition l's rows (deterministic), or of
  //! all local rows.
  void partition_gradient(std::int64_t l, const Vector<Space>& g);
  void batch_gradient(const Vector<Space>& g);
  //! The loss of the last loss_gradient() and ⟨E(x₊)⟩, ⟨E(x₋)⟩ over the global batch (collective).
  struct Losses {
    double loss = NAN, edata = NAN, emodel = NAN;
  };
  Losses losses() const;
  //! losses() into the series (collective); "the contrastive loss" when it is not finite.
  const char* record(std::int64_t s, double grad_norm);
  //! After data_rows(run.steps) and that step's negatives (buffer untouched): energies of
  //! data, negatives and fresh noise, and the negatives, into /eval/{energy_data,
  //! energy_model, energy_noise, samples} (global row order; out on every rank or none)
  //! and their means (collective).
  EnergyCheck check(io::OutputFile* out);

  //! E and ∇x E of the negatives.
  void negative_gradients();
  //! E of the first blocks·b rows of x, partition-sized blocks at a time when deterministic.
  void energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks);

  // The replay buffer in a checkpoint (pcd; nothing for cd): gather (collective), write,
  // read (checked), spread to every rank (collective).
  void gather_buffer();
  void write_buffer(hid_t f);
  void read_buffer(hid_t f, const std::string& file);
  void scatter_buffer();

  //! The last recorded step's loss and ‖g‖ into res.
  void summarize(TrainResult& res) const;
  //! k, the buffer, α and ε.
  void add_settings_json(JsonSummary& j) const;
  //! The last recorded energies of data and negatives.
  void add_energy_json(JsonSummary& j) const;

  Series& series() { return series_; }
  const Series& series() const { return series_; }
  samplers::Chains<Space>& neg() { return neg_; }
  const FreshState& fresh() const { return fresh_; }
  //! [data rows; negatives], nloc·b each; E() their energies after loss_gradient().
  const Matrix<Space>& x() const { return x_; }
  const Vector<Space>& E() const { return E_; }
  const std::vector<std::int32_t>& labels() const { return labels_; }
  std::int64_t per_partition() const { return b_; }
  std::int64_t local_partitions() const { return nloc_; }
  const parallel::Share& partitions() const { return mine_; }
  std::int64_t rows() const { return nloc_ * b_; }

 private:
  const TrainSpec& ts_;
  const data::Dataset& data_;
  Energy& model_;
  const parallel::Comm& comm_;
  data::BatchPlan plan_;
  parallel::Share mine_;
  int dim_ = 0, D_ = 1;
  std::int64_t b_ = 0, nloc_ = 0;
  std::vector<std::int64_t> ids_;
  samplers::Chains<Space> neg_;  //!< the negatives: global row p·b + j of partition p
  FreshState fresh_;
  Matrix<Space> x_;  //!< [data rows; negatives] (neg_.x views the second half)
  Vector<Space> E_, sign_;
  ReplayBuffer buffer_;  //!< pcd
  Series series_;
  std::vector<std::int32_t> labels_;  //!< labelled data: the labels of the data rows
};

}  // namespace zeta::training
