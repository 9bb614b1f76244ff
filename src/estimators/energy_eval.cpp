#include "zeta/estimators/energy_eval.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "zeta/core/error.hpp"
#include "zeta/core/run.hpp"
#include "zeta/estimators/auroc.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::estimators {

using Space = Kokkos::DefaultExecutionSpace;

void declare_eval_keys(Config& cfg) {
  cfg.declare("eval.grad_norm", "false", "also compute |grad_x E| of every row");
  cfg.declare("eval.other", "",
              "a second set whose energies should be higher (out of distribution), with the AUROC of the energy "
              "score: a data file of data.type, noise (uniform on eval.box), flip (images upside down), invert "
              "(x -> lo + hi - x); empty = none");
  cfg.declare("eval.box", "0,1",
              "lo,hi: the data's box (eval.other = noise draws U(lo, hi), invert maps x to lo + hi - x)");
}

EvalSpec read_eval_spec(const Config& cfg) {
  EvalSpec s;
  s.grad_norm = cfg.get_bool("eval.grad_norm");
  s.other_name = cfg.get_string("eval.other");
  if (s.other_name.empty())
    s.other = OtherSet::none;
  else if (s.other_name == "noise")
    s.other = OtherSet::noise;
  else if (s.other_name == "flip")
    s.other = OtherSet::flip;
  else if (s.other_name == "invert")
    s.other = OtherSet::invert;
  else if (s.other_name.find('/') != std::string::npos || s.other_name.find('.') != std::string::npos)
    s.other = OtherSet::file;
  else
    config_error("eval.other", "'" + s.other_name + "' is neither noise, flip, invert nor a file path (write ./" +
                                   s.other_name + " for a file here)");
  const auto box = cfg.get_doubles("eval.box");
  if (box.size() != 2 || !std::isfinite(box[0]) || !std::isfinite(box[1]) || !(box[0] < box[1]))
    config_error("eval.box", "needs two finite numbers lo,hi with lo < hi, got '" + cfg.get_string("eval.box") + "'");
  s.lo = box[0];
  s.hi = box[1];
  return s;
}

Spread spread_of(const std::vector<double>& v) {
  Spread s;
  s.n = std::int64_t(v.size());
  if (v.empty()) return s;
  double t = 0;
  s.min = s.max = v.front();
  for (double x : v) {
    t += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean = t / double(v.size());
  double q = 0;
  for (double x : v) q += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(q / double(v.size() - 1)) : 0.0;
  return s;
}

data::Split transformed_split(const data::Split& d, OtherSet kind, const EvalSpec& spec, std::uint32_t seed, int c,
                              int h, int w) {
  data::Split o = d;
  const int dim = d.dim;
  for (auto& p : o.local)
    for (std::int64_t r = 0; r < p.count; ++r) {
      Real* x = p.x.data() + std::size_t(r) * dim;
      if (kind == OtherSet::noise) {
        const rng::Stream st(seed, std::uint64_t(p.begin + r), 0, rng::kEvalNoise);
        for (int k = 0; k < dim; ++k) x[k] = Real(spec.lo + (spec.hi - spec.lo) * st.uniform(std::uint32_t(k)));
      } else if (kind == OtherSet::invert) {
        for (int k = 0; k < dim; ++k) x[k] = Real(spec.lo + spec.hi - double(x[k]));
      } else if (kind == OtherSet::flip) {
        const Real* src = d.local[std::size_t(&p - o.local.data())].x.data() + std::size_t(r) * dim;
        for (int ch = 0; ch < c; ++ch)
          for (int i = 0; i < h; ++i)
            for (int j = 0; j < w; ++j) x[(ch * h + i) * w + j] = src[(ch * h + (h - 1 - i)) * w + j];
      }
    }
  return o;
}

namespace {

//! E (and ‖∇x E‖) of this rank's rows of `s`, partition by partition, in blocks of
//! kEvalBlock rows (the last zero-padded); `pass(x, E, g)` fills E (and g).
template <class Pass>
void block_energies(const data::Split& s, bool grad, Pass&& pass, std::vector<double>& E, std::vector<double>& G) {
  const int dim = s.dim;
  Matrix<Space> x("zeta::eval::x", kEvalBlock, dim), g("zeta::eval::grad", grad ? kEvalBlock : 0, dim);
  Vector<Space> e("zeta::eval::energy", kEvalBlock);
  auto hx = Kokkos::create_mirror_view(x);
  for (const auto& p : s.local)
    for (std::int64_t r0 = 0; r0 < p.count; r0 += kEvalBlock) {
      const std::int64_t nb = std::min(kEvalBlock, p.count - r0);
      for (std::int64_t r = 0; r < kEvalBlock; ++r)
        for (int k = 0; k < dim; ++k) hx(r, k) = r < nb ? p.x[std::size_t((r0 + r) * dim + k)] : Real(0);
      Kokkos::deep_copy(x, hx);
      pass(x, e, g);
      const auto he = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e);
      for (std::int64_t r = 0; r < nb; ++r) E.push_back(double(he(r)));
      if (!grad) continue;
      const auto hg = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
      for (std::int64_t r = 0; r < nb; ++r) {
        double q = 0;
        for (int k = 0; k < dim; ++k) q += double(hg(r, k)) * double(hg(r, k));
        G.push_back(std::sqrt(q));
      }
    }
}

//! Collective: the rows of `s` under the model `ms` names, gathered on rank 0 in row order.
SetEnergies set_energies(const models::ModelSpec& ms, const models::ModelParams& params, const data::Split& s,
                         bool grad, const parallel::Comm& comm) {
  std::vector<double> E, G;
  models::with_model<Space>(ms, params, [&](auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (std::is_same_v<M, models::Ising<Space>>) {
      config_error("model.type", "'ising' is a lattice model: zeta eval takes continuous models and rbm");
    } else if constexpr (std::is_same_v<M, models::LoadedRbm<Space>>) {
      block_energies(
          s, false,
          [&](const Matrix<Space>& x, const Vector<Space>& e, const Matrix<Space>&) {
            m.rbm.free_energy(x, PerChain<Space>(1.0), e);
          },
          E, G);
    } else {
      block_energies(
          s, grad,
          [&](const Matrix<Space>& x, const Vector<Space>& e, const Matrix<Space>& g) {
            if (grad)
              m.energy_and_grad(x, e, g);
            else
              m.energy(x, e);
          },
          E, G);
    }
  });
  const parallel::ChainRange rows{s.n, s.local.empty() ? 0 : s.local.front().begin, s.local_count()};
  SetEnergies out;
  out.n = s.n;
  out.energy = comm.gather_chain_rows(E, 1, rows);
  if (grad) out.grad_norm = comm.gather_chain_rows(G, 1, rows);
  return out;
}

//! The first non-finite energy of `e` (rank 0) as an error naming `what`, on every rank.
void refuse_non_finite(const std::vector<double>& e, const std::string& what, const parallel::Comm& comm) {
  std::string msg;
  for (std::size_t i = 0; i < e.size() && msg.empty(); ++i)
    if (!std::isfinite(e[i]))
      msg = "the model gives a non-finite energy (" + std::to_string(e[i]) + ") for row " + std::to_string(i) + " of " +
            what;
  comm.broadcast(msg);
  if (!msg.empty()) throw Error(msg);
}

//! Rank 0's spread of `v` on every rank.
Spread shared_spread(const std::vector<double>& v, const parallel::Comm& comm) {
  Spread s = spread_of(v);
  std::vector<double> f = {double(s.n), s.mean, s.sd, s.min, s.max};
  comm.broadcast(f);
  return Spread{std::int64_t(f[0]), f[1], f[2], f[3], f[4]};
}

void write_set(io::OutputFile& out, const std::string& prefix, const SetEnergies& s, const std::string& what) {
  const hsize_t n = hsize_t(s.n);
  out.write_root_double("/eval/" + prefix + "energy", {n}, s.energy.data());
  out.describe("/eval/" + prefix + "energy", "1", "E(x) of every row of " + what + " (model units), in row order",
               {"row"});
}

void add_spread(JsonSummary& j, const std::string& prefix, const Spread& s) {
  j.add(prefix + "mean_energy", s.mean);
  j.add(prefix + "energy_sd", s.sd);
  j.add(prefix + "energy_min", s.min);
  j.add(prefix + "energy_max", s.max);
}

}  // namespace

EvalResult evaluate(const Config& cfg, const parallel::Comm& comm, io::OutputFile* out, JsonSummary& json) {
  // Every key first, then the data, the parameters and their agreement.
  const std::uint32_t seed = read_seed(cfg);
  const models::ModelSpec ms = models::read_model_spec(cfg);
  if (ms.lattice())
    config_error("model.type", "'" + ms.type + "' is a lattice model: zeta eval takes continuous models and rbm");
  const EvalSpec es = read_eval_spec(cfg);
  const bool rbm = ms.type == "rbm";
  if (es.grad_norm && rbm) config_error("eval.grad_norm", "does not apply to model.type = rbm (binary visibles)");
  if ((ms.type == "mlp" || ms.type == "net" || rbm) && ms.params.empty())
    config_error("model.params", "is required for model.type = " + ms.type +
                                     ": zeta eval evaluates a trained model (a zeta train output or checkpoint)");
  const bool image = ms.type == "net" && ms.net.input.spatial;
  if (es.other == OtherSet::flip && !image)
    config_error("eval.other", "flip needs images: model.type = net with model.input = C,H,W");
  data::DataSpec ds = data::read_data_spec(cfg);
  if (ds.type == data::FileType::synthetic)
    config_error("data.type", "synthetic is not read by zeta eval: give a data file");
  if (!ds.heldout_path.empty() || ds.holdout > 0)
    config_error(
        ds.heldout_path.empty() ? "data.holdout" : "data.heldout_path",
        "does not apply to zeta eval: it evaluates every row of data.path (give a held-out file as data.path)");
  const data::Dataset d = data::load(ds, seed, comm);
  const models::ModelParams params =
      models::load_model_params(cfg, ms, comm, models::ParamsExpect{rbm ? d.dim : -1, ds.path, false});
  if (!rbm && d.dim != ms.dim)
    config_error("data.path", "'" + ds.path + "' has " + std::to_string(d.dim) +
                                  " features per row but the model takes " + std::to_string(ms.dim) +
                                  (ms.type == "net" ? " (model.input)" : ""));
  data::Split other;
  if (es.other == OtherSet::file) {
    data::DataSpec os = ds;
    os.path = es.other_name;
    os.standardize = false;
    const data::Dataset od = data::load(os, seed, comm);
    if (od.dim != d.dim)
      config_error("eval.other", "'" + os.path + "' has " + std::to_string(od.dim) + " features per row, data.path '" +
                                     ds.path + "' " + std::to_string(d.dim));
    other = od.train;
    if (!d.mean.empty())  // the data's standardization applies to the other set too
      for (auto& p : other.local)
        for (std::size_t q = 0; q < p.x.size(); ++q)
          p.x[q] = Real((double(p.x[q]) - d.mean[q % d.dim]) / d.scale[q % d.dim]);
  } else if (es.other != OtherSet::none) {
    other = transformed_split(d.train, es.other, es, seed, ms.net.input.c, ms.net.input.h, ms.net.input.w);
  }

  EvalResult r;
  r.data = set_energies(ms, params, d.train, es.grad_norm, comm);
  refuse_non_finite(r.data.energy, "data.path '" + ds.path + "'", comm);
  r.energy = shared_spread(r.data.energy, comm);
  if (es.grad_norm) r.grad_norm = shared_spread(r.data.grad_norm, comm);
  if (es.other != OtherSet::none) {
    r.other = set_energies(ms, params, other, es.grad_norm, comm);
    refuse_non_finite(r.other.energy, "eval.other '" + es.other_name + "'", comm);
    r.other_energy = shared_spread(r.other.energy, comm);
    if (es.grad_norm) r.other_grad_norm = shared_spread(r.other.grad_norm, comm);
    if (comm.root()) r.auroc = auroc(r.data.energy, r.other.energy);
    comm.broadcast(r.auroc);
  }

  json.add("data", ds.path);
  json.add("count", r.energy.n);
  add_spread(json, "", r.energy);
  if (es.grad_norm) {
    json.add("mean_grad_norm", r.grad_norm.mean);
    json.add("grad_norm_sd", r.grad_norm.sd);
  }
  if (es.other != OtherSet::none) {
    json.add("other", es.other_name);
    json.add("other_count", r.other_energy.n);
    add_spread(json, "other_", r.other_energy);
    if (es.grad_norm) {
      json.add("other_mean_grad_norm", r.other_grad_norm.mean);
      json.add("other_grad_norm_sd", r.other_grad_norm.sd);
    }
    json.add("auroc", r.auroc);
  }
  if (!out) return r;
  write_set(*out, "", r.data, "data.path");
  if (es.grad_norm) {
    out->write_root_double("/eval/grad_norm", {hsize_t(r.data.n)}, r.data.grad_norm.data());
    out->describe("/eval/grad_norm", "1", "|grad_x E(x)| of every row of data.path", {"row"});
  }
  if (es.other != OtherSet::none) {
    write_set(*out, "other_", r.other, "eval.other (" + es.other_name + ")");
    if (es.grad_norm) {
      out->write_root_double("/eval/other_grad_norm", {hsize_t(r.other.n)}, r.other.grad_norm.data());
      out->describe("/eval/other_grad_norm", "1", "|grad_x E(x)| of every row of eval.other", {"row"});
    }
  }
  return r;
}

}  // namespace zeta::estimators
