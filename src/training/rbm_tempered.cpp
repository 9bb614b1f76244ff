#include "zeta/training/rbm_tempered.hpp"

#include <cmath>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::training {

RbmTempered::RbmTempered(const TrainSpec& ts, const data::Dataset& d, models::Rbm<Space>& rbm,
                         std::vector<double> base_bias, const parallel::Comm& comm)
    : RbmContrastive(ts, d, rbm, std::move(base_bias), comm),
      K_(int(ts.temper_betas.size())),
      ex_(K_, int(ts.chains)),
      held_ex_(K_, int(ts.chains)),
      ladder_(ts),
      held_ladder_(ts) {
  const std::int64_t n = nloc_ * cp_ * K_;
  vrep_ = Matrix<Space>("zeta::train::pt_visible", n, nv_);
  hrep_ = Matrix<Space>("zeta::train::pt_hidden", n, nh_);
  beta_ = Vector<Space>("zeta::train::pt_beta", n);
  E_ = Vector<Space>("zeta::train::pt_energy", n);
  target_ = Kokkos::View<std::int64_t*, Space>("zeta::train::pt_target", nloc_ * cp_);
  relabel();
}

const std::vector<std::string>& RbmTempered::signature_keys() const {
  static const std::vector<std::string> keys = [this] {
    std::vector<std::string> k = RbmContrastive::signature_keys();
    for (const std::string& key : tempered_signature_keys()) k.push_back(key);
    return k;
  }();
  return keys;
}

void RbmTempered::relabel() {
  const std::int64_t n = nloc_ * cp_ * K_, first = replica_offset();
  auto hb = Kokkos::create_mirror_view(beta_);
  for (std::int64_t r = 0; r < n; ++r) hb(r) = Real(ladder_.betas()[std::size_t(ex_.level_of(first + r))]);
  Kokkos::deep_copy(beta_, hb);
  auto ht = Kokkos::create_mirror_view(target_);
  for (std::int64_t c = 0; c < nloc_ * cp_; ++c) ht(c) = ex_.chain_at(int(chain_offset() + c), K_ - 1) - first;
  Kokkos::deep_copy(target_, ht);
}

void RbmTempered::start() {
  RbmContrastive::start();
  rbm_.initialize_visible(vrep_, ts_.seed, replica_offset());
}

void RbmTempered::gradient(std::int64_t s, GradientSum<Space>& grad) {
  load_batch(s);
  for (int sweep = 0; sweep < ts_.k; ++sweep)
    rbm_.gibbs_step(vrep_, hrep_, PerChain<Space>(beta_), ts_.seed, replica_offset(), s * ts_.k + sweep);
  rbm_.energy(vrep_, hrep_, E_);
  const std::int64_t n = nloc_ * cp_ * K_;
  energy_all_ =
      comm_.allgather_chain_rows(host_copy(E_), 1, parallel::ChainRange{ts_.chains * K_, replica_offset(), n});
  ex_.round(s + 1, tempering::SwapScheme::deo, ladder_.betas(), energy_all_, ts_.seed, true);
  ladder_.after_round(s, ex_);
  relabel();
  // The β = 1 replica of each chain into the PCD chain rows.
  const auto v = vrep_, neg = vneg_;
  const auto t = target_;
  const int nv = nv_;
  Kokkos::parallel_for(
      "zeta::train::pt_targets", RangePolicy<Space>(0, nloc_ * cp_), KOKKOS_LAMBDA(const std::int64_t c) {
        for (int i = 0; i < nv; ++i) neg(c, i) = v(t(c), i);
      });
  reduce_gradient(grad);
}

void RbmTempered::hold_state(bool on) {
  RbmContrastive::hold_state(on);
  if (on) {
    held_v_ = Matrix<Space>("zeta::train::pt_held", vrep_.extent(0), vrep_.extent(1));
    Kokkos::deep_copy(held_v_, vrep_);
    held_ex_ = ex_;
    held_ladder_ = ladder_;
  } else {
    Kokkos::deep_copy(vrep_, held_v_);
    held_v_ = Matrix<Space>();
    ex_ = held_ex_;
    ladder_ = held_ladder_;
    relabel();
  }
}

void RbmTempered::gather_state() {
  RbmContrastive::gather_state();
  const std::int64_t n = nloc_ * cp_ * K_;
  replicas_all_ =
      comm_.gather_chain_rows(host_copy(vrep_), nv_, parallel::ChainRange{ts_.chains * K_, replica_offset(), n});
  ex_state_ = ex_.save_state();
  ex_prob_ = ex_.accept_prob_sum();
}

void RbmTempered::write_state(hid_t f) {
  RbmContrastive::write_state(f);
  io::write_array(f, "/train/replicas", {hsize_t(ts_.chains * K_), hsize_t(nv_)}, replicas_all_.data());
  io::write_array(f, "/train/exchange", {hsize_t(ex_state_.size())}, ex_state_.data());
  io::write_array(f, "/train/exchange_prob", {hsize_t(ex_prob_.size())}, ex_prob_.data());
  ladder_.write(f);
}

std::vector<double> RbmTempered::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = RbmContrastive::read_state(f, file);
  replicas_all_ = io::read_array<double>(f, file, "/train/replicas", {hsize_t(ts_.chains * K_), hsize_t(nv_)});
  for (double v : replicas_all_)
    if (rbm_.kind() == models::RbmKind::bernoulli ? (v != 0 && v != 1) : !std::isfinite(v))
      io::corrupt(file, "/train/replicas", "holds a visible unit that this RBM cannot take");
  ex_state_ = io::read_array<std::int64_t>(f, file, "/train/exchange", {hsize_t(ex_.save_state().size())});
  ex_prob_ = io::read_array<double>(f, file, "/train/exchange_prob", {hsize_t(K_ - 1)});
  // load_state checks that the labels are a permutation of this ladder's.
  tempering::ReplicaExchange check(K_, int(ts_.chains));
  try {
    check.load_state(ex_state_, ex_prob_);
  } catch (const Error&) {
    io::corrupt(file, "/train/exchange", "is not a replica-exchange state of this ladder");
  }
  ladder_.read(f, file);
  return theta;
}

void RbmTempered::restore(const std::vector<double>& theta) {
  RbmContrastive::restore(theta);
  comm_.broadcast(replicas_all_);
  comm_.broadcast(ex_state_);
  comm_.broadcast(ex_prob_);
  ex_.load_state(ex_state_, ex_prob_);
  ladder_.broadcast(comm_);
  auto h = Kokkos::create_mirror_view(vrep_);
  const std::size_t at = std::size_t(replica_offset()) * nv_;
  for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = Real(replicas_all_[at + i]);
  Kokkos::deep_copy(vrep_, h);
  replicas_all_.clear();
  relabel();
}

void RbmTempered::add_json(JsonSummary& j, const TrainResult& res) const {
  RbmContrastive::add_json(j, res);
  ladder_.add_json(j, ex_);
}

void RbmTempered::write_output(io::OutputFile& out, std::int64_t step) {
  RbmContrastive::write_output(out, step);
  ladder_.write_output(out, ex_);
}

}  // namespace zeta::training
