#include "zeta/training/mlp_tempered.hpp"

#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::training {

namespace {

using Space = Objective::Space;

//! px(r, ·) = x(pick(r), ·) for the rows of px.
void pick_rows(const Matrix<Space>& x, const Kokkos::View<std::int64_t*, Space>& pick, const Matrix<Space>& px) {
  const int d = int(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::pt_pick_rows", RangePolicy<Space>(0, std::int64_t(px.extent(0))),
      KOKKOS_LAMBDA(const std::int64_t r) {
        for (int i = 0; i < d; ++i) px(r, i) = x(pick(r), i);
      });
}

//! E(pick(r)) = pe(r) for the rows of pe.
void put_energies(const Vector<Space>& pe, const Kokkos::View<std::int64_t*, Space>& pick, const Vector<Space>& E) {
  Kokkos::parallel_for(
      "zeta::train::pt_pick_energy", RangePolicy<Space>(0, std::int64_t(pe.extent(0))),
      KOKKOS_LAMBDA(const std::int64_t r) { E(pick(r)) = pe(r); });
}

}  // namespace

MlpTempered::MlpTempered(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d,
                         models::Mlp<Space>& mlp, const parallel::Comm& comm)
    : MlpContrastive(ts, dspec, d, mlp, comm),
      K_(int(ts.temper_betas.size())),
      rep_(parallel::ChainRange{ts.chains * K_, mine_.offset * b_ * K_, nloc_ * b_ * K_}, d.dim, 1.0),
      target_("zeta::train::pt_target", nloc_ * b_),
      ex_(K_, int(ts.chains)),
      ladder_(ts) {
  relabel();
}

const std::vector<std::string>& MlpTempered::signature_keys() const {
  static const std::vector<std::string> keys = [this] {
    std::vector<std::string> k = MlpContrastive::signature_keys();
    k.push_back("train.chains");
    for (const std::string& key : tempered_signature_keys()) k.push_back(key);
    return k;
  }();
  return keys;
}

void MlpTempered::start() {
  fresh_rows(rep_.x, rep_.range.count, term_.fresh(), ts_.seed, replica_offset(), 0);
}

void MlpTempered::relabel() {
  const std::int64_t n = rep_.range.count, first = replica_offset();
  auto hb = Kokkos::create_mirror_view(rep_.beta);
  for (std::int64_t r = 0; r < n; ++r) hb(r) = Real(ladder_.betas()[std::size_t(ex_.level_of(first + r))]);
  Kokkos::deep_copy(rep_.beta, hb);
  auto ht = Kokkos::create_mirror_view(target_);
  for (std::int64_t c = 0; c < nloc_ * b_; ++c) ht(c) = ex_.chain_at(int(mine_.offset * b_ + c), K_ - 1) - first;
  Kokkos::deep_copy(target_, ht);
}

void MlpTempered::replica_gradients() {
  if (!ts_.deterministic) return mlp_.energy_and_grad(rep_.x, rep_.E, rep_.g);
  const std::int64_t m = b_ * K_;
  for (std::int64_t l = 0; l < nloc_; ++l)
    mlp_.energy_and_grad(row_block<Space>(rep_.x, l * m, m), Vector<Space>(rep_.E.data() + l * m, m),
                         row_block<Space>(rep_.g, l * m, m));
}

void MlpTempered::replica_energies(std::int64_t n) {
  // DEO round n proposes the pairs (k, k + 1) with k ≡ n (mod 2): the levels from
  // n mod 2 up to the last such pair's upper one (with K = 4, all four in even
  // rounds, levels 1 and 2 in odd ones). The others' energies are not read.
  const int lo = int(n & 1), levels = 2 * ((K_ - lo) / 2);
  const std::int64_t chains = nloc_ * b_, first = replica_offset();
  if (levels == 0) return;  // K = 2 in an odd round: no pair
  // E of x's rows: in deterministic mode partition by partition (m rows each), as the
  // gradient passes go, so the bits do not depend on the ranks' shares.
  auto energies = [&](const Matrix<Space>& x, const Vector<Space>& E) {
    if (!ts_.deterministic) return mlp_.energy(x, E);
    const std::int64_t m = b_ * levels;
    for (std::int64_t l = 0; l < nloc_; ++l)
      mlp_.energy(row_block<Space>(x, l * m, m), Vector<Space>(E.data() + l * m, m));
  };
  if (levels == K_) return energies(rep_.x, rep_.E);
  // Those levels' rows, chain by chain (a partition's chains together), into one block.
  const std::int64_t rows = chains * levels;
  if (std::int64_t(pick_.extent(0)) != rows) {
    pick_ = Kokkos::View<std::int64_t*, Space>("zeta::train::pt_pick", rows);
    pick_x_ = Matrix<Space>("zeta::train::pt_pick_x", rows, dim_);
    pick_e_ = Vector<Space>("zeta::train::pt_pick_e", rows);
  }
  auto hp = Kokkos::create_mirror_view(pick_);
  for (std::int64_t c = 0; c < chains; ++c)
    for (int k = 0; k < levels; ++k) hp(c * levels + k) = ex_.chain_at(int(mine_.offset * b_ + c), lo + k) - first;
  Kokkos::deep_copy(pick_, hp);
  pick_rows(rep_.x, pick_, pick_x_);
  energies(pick_x_, pick_e_);
  put_energies(pick_e_, pick_, rep_.E);
}

void MlpTempered::negatives(std::int64_t s, bool keep) {
  // Without `keep` (the held final monitors, the check after training) the chains and
  // the labels are left as they were.
  Matrix<Space> saved;
  tempering::ReplicaExchange saved_ex = ex_;
  TemperedLadder saved_ladder = ladder_;
  if (!keep) {
    saved = Matrix<Space>("zeta::train::pt_saved", rep_.x.extent(0), rep_.x.extent(1));
    Kokkos::deep_copy(saved, rep_.x);
  }
  replica_gradients();
  for (int t = 0; t < ts_.k; ++t) {
    samplers::langevin_move(rep_, ts_.langevin, ts_.seed, s * ts_.k + t);
    if (t + 1 < ts_.k) replica_gradients();
  }
  // The exchange wants only energies after the last move: a forward pass (half the
  // GEMMs of a gradient pass; the same E), of the levels its round pairs.
  replica_energies(s + 1);
  const auto all = comm_.allgather_chain_rows(host_copy(rep_.E), 1, rep_.range);
  ex_.round(s + 1, tempering::SwapScheme::deo, ladder_.betas(), all, ts_.seed, true);
  ladder_.after_round(s, ex_);
  relabel();
  const auto x = rep_.x, neg = term_.neg().x;
  const auto t = target_;
  const int d = dim_;
  Kokkos::parallel_for(
      "zeta::train::pt_targets", RangePolicy<Space>(0, nloc_ * b_), KOKKOS_LAMBDA(const std::int64_t c) {
        for (int i = 0; i < d; ++i) neg(c, i) = x(t(c), i);
      });
  if (!keep) {
    Kokkos::deep_copy(rep_.x, saved);
    ex_ = saved_ex;
    ladder_ = saved_ladder;
    relabel();
  }
}

void MlpTempered::add_objective_json(JsonSummary& j) const {
  MlpContrastive::add_objective_json(j);
  j.add("chains", ts_.chains);
  ladder_.add_json(j, ex_);
}

void MlpTempered::write_output(io::OutputFile& out, std::int64_t step) {
  MlpContrastive::write_output(out, step);
  ladder_.write_output(out, ex_);
}

void MlpTempered::gather_extra() {
  replicas_all_ = comm_.gather_chain_rows(host_copy(rep_.x), dim_, rep_.range);
  ex_state_ = ex_.save_state();
  ex_prob_ = ex_.accept_prob_sum();
}

void MlpTempered::write_extra(hid_t f) {
  io::write_array(f, "/train/replicas", {hsize_t(rep_.range.global), hsize_t(dim_)}, replicas_all_.data());
  io::write_array(f, "/train/exchange", {hsize_t(ex_state_.size())}, ex_state_.data());
  io::write_array(f, "/train/exchange_prob", {hsize_t(ex_prob_.size())}, ex_prob_.data());
  ladder_.write(f);
}

void MlpTempered::read_extra(hid_t f, const std::string& file) {
  replicas_all_ = io::read_array<double>(f, file, "/train/replicas", {hsize_t(rep_.range.global), hsize_t(dim_)});
  for (double v : replicas_all_)
    if (!std::isfinite(v)) io::corrupt(file, "/train/replicas", "holds a value that is not finite");
  ex_state_ = io::read_array<std::int64_t>(f, file, "/train/exchange", {hsize_t(ex_.save_state().size())});
  ex_prob_ = io::read_array<double>(f, file, "/train/exchange_prob", {hsize_t(K_ - 1)});
  tempering::ReplicaExchange check(K_, int(ts_.chains));
  try {
    check.load_state(ex_state_, ex_prob_);
  } catch (const Error&) {
    io::corrupt(file, "/train/exchange", "is not a replica-exchange state of this ladder");
  }
  ladder_.read(f, file);
}

void MlpTempered::restore_extra() {
  comm_.broadcast(replicas_all_);
  comm_.broadcast(ex_state_);
  comm_.broadcast(ex_prob_);
  ex_.load_state(ex_state_, ex_prob_);
  ladder_.broadcast(comm_);
  auto h = Kokkos::create_mirror_view(rep_.x);
  const std::size_t at = std::size_t(replica_offset()) * dim_;
  for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = Real(replicas_all_[at + i]);
  Kokkos::deep_copy(rep_.x, h);
  replicas_all_.clear();
  relabel();
}

}  // namespace zeta::training
