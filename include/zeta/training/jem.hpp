//! JEM, the joint energy-based model of Grathwohl et al. (2020), "Your classifier is
//! secretly an energy-based model" (train.objective = jem, model.type = net whose last
//! layer leaves K logits f(x), or model.type = mlp with model.layers ending in K, which
//! Net runs as linear layers: models::mlp_as_net):
//!   p(y|x) = softmax f(x)[y],   E(x) = −logsumexp_y f(x)[y],
//!   loss    L = CE + L_gen over the global batch of B labelled rows:
//!           CE    = ⟨logsumexp f(x₊) − f(x₊)[y₊]⟩ (the cross-entropy of p(y|x));
//!           L_gen = ⟨E(x₊)⟩ − ⟨E(x₋)⟩ + α(⟨E(x₊)²⟩ + ⟨E(x₋)²⟩), the PCD term of the
//!                   MLP and the net with its replay buffer and train.k SGLD moves
//!                   (training/contrastive_term.hpp) on JEM's E.
//! ∇θ by the net's vector-Jacobian product (Net::outputs_vjp): ∂CE_n/∂f = softmax − onehot(y_n),
//! ∂(u_n E_n)/∂f = −u_n softmax; ∇x E = −J_xᵀ softmax drives the SGLD moves.
//! Labels come with the rows (data.labels, partitioned as they are). A finished run
//! classifies the held-out split (data.heldout_path with its labels, or data.holdout):
//! accuracy, the expected calibration error over 15 equal-width confidence bins,
//! ECE = Σ_m |B_m|/n · |acc(B_m) − conf(B_m)|, and the held-out cross-entropy,
//! summed partition by partition (the same bits on any rank count), in the JSON and
//! in /eval/{accuracy, ece, heldout_nll, reliability}.
#pragma once
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/contrastive_term.hpp"
#include "zeta/training/net_state.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! JEM's energy E(x) = −logsumexp f(x) of a K-output net, with the cross-entropy of
//! p(y|x) = softmax f(x): the Energy of ContrastiveTerm (energy, energy_and_grad,
//! contrastive_grad as Mlp's and Net's).
class JemEnergy {
 public:
  using Space = Objective::Space;
  using Labels = Kokkos::View<std::int32_t*, typename Space::memory_space>;

  explicit JemEnergy(models::Net<Space>& net) : net_(net) {}
  int classes() const { return net_.arch().outputs(); }
  int dim() const { return net_.dim(); }

  //! E(x_n) for every row.
  void energy(const Matrix<Space>& x, const Vector<Space>& E);
  //! E(x_n) and ∇x E(x_n).
  void energy_and_grad(const Matrix<Space>& x, const Vector<Space>& E, const Matrix<Space>& g);
  //! L = Σ_n (c_n E(x_n) + a E(x_n)²): g += ∇θ L, E(x_n) into E (when set).
  void contrastive_grad(const Matrix<Space>& x, const PerChain<Space>& c, double a, const Vector<Space>& g,
                        const Vector<Space>& E);
  //! CE_n = logsumexp f(x_n) − f(x_n)[y_n]: g += w Σ_n ∇θ CE_n, CE_n into ce.
  void cross_entropy_grad(const Matrix<Space>& x, const Labels& y, double w, const Vector<Space>& g,
                          const Vector<Space>& ce);
  //! p(k|x_n) into p (n × K).
  void probabilities(const Matrix<Space>& x, const Matrix<Space>& p);

 private:
  //! f(x) into the first n rows of f_, which it returns.
  Matrix<Space> logits(const Matrix<Space>& x);
  //! The adjoint buffer ∂L/∂f for n rows.
  Matrix<Space> adjoint(std::int64_t n);

  models::Net<Space>& net_;
  Matrix<Space> f_, df_;
};

//! The held-out classification of a finished run.
struct Classification {
  bool done = false;
  std::int64_t n = 0;
  double accuracy = NAN, ece = NAN, nll = NAN;
  //! The reliability diagram: per bin its examples, accuracy and mean confidence (NaN when empty).
  std::vector<double> reliability;
};

class JemObjective : public NetObjective {
 public:
  static constexpr int kEceBins = 15;
  //! The batch monitors, one entry per train.eval_every step: L, CE, L_gen, ⟨E(x₊)⟩, ⟨E(x₋)⟩, ‖g‖.
  struct Series {
    std::vector<double> step, loss, ce, gen, edata, emodel, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &ce, &gen, &edata, &emodel, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  //! Refuses (naming data.labels) unlabelled data and a label ≥ K, on every rank.
  //! `mlp_layers`: model.layers when `net` runs an mlp of K outputs (ModelSpec::mlp_logits:
  //! its outputs and checkpoints then hold the mlp's /model/layer_l), else empty.
  JemObjective(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Net<Space>& net,
               const parallel::Comm& comm, std::vector<int> mlp_layers = {});

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }

  //! The energies of ContrastiveTerm::check and the held-out classification.
  void check(io::OutputFile* out) override;
  void summarize(TrainResult& res) const override;
  const char* sampler_name() const override { return "langevin"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;

  //! Accuracy, ECE and cross-entropy of the held-out split (collective).
  Classification classify();
  JemEnergy& head() { return head_; }

 protected:
  void gather_extra() override { term_.gather_buffer(); }
  void write_extra(hid_t f) override { term_.write_buffer(f); }
  void read_extra(hid_t f, const std::string& file) override { term_.read_buffer(f, file); }
  void restore_extra() override { term_.scatter_buffer(); }

 private:
  JemEnergy head_;
  ContrastiveTerm<JemEnergy> term_;
  JemEnergy::Labels y_;  //!< the labels of the batch's data rows
  Vector<Space> ce_;     //!< their cross-entropies
  Series series_;
  EnergyCheck eval_;
  Classification heldout_;
};

}  // namespace zeta::training
