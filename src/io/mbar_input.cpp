#include "zeta/io/mbar_input.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::io {

namespace {

std::string shape_text(const std::vector<hsize_t>& v) {
  std::string t = "[";
  for (std::size_t i = 0; i < v.size(); ++i) t += (i ? ", " : "") + std::to_string(v[i]);
  return t + "]";
}

std::string where(const std::string& dataset, const std::string& file) { return dataset + " in '" + file + "'"; }

//! An open numeric dataset and its shape; throws naming it.
struct Dataset {
  Handle d, space;
  std::vector<hsize_t> dims;
  Dataset(hid_t file, const std::string& file_name, const std::string& name) {
    if (!exists(file, name)) throw Error("'" + file_name + "' has no dataset " + name);
    d = Handle(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (d.id() < 0) throw Error("cannot open " + where(name, file_name));
    space = Handle(H5Dget_space(d.id()), H5Sclose);
    const int rank = space.id() < 0 ? -1 : H5Sget_simple_extent_ndims(space.id());
    if (rank < 0) throw Error("cannot read the shape of " + where(name, file_name));
    dims.resize(rank);
    if (rank > 0 && H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr) < 0)
      throw Error("cannot read the shape of " + where(name, file_name));
    const Handle type(H5Dget_type(d.id()), H5Tclose);
    const H5T_class_t cls = type.id() < 0 ? H5T_NO_CLASS : H5Tget_class(type.id());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
      throw Error(where(name, file_name) + " is not numeric (float32/float64 or integers expected)");
  }
};

//! Reads [start, start + count) of a dataset as double (HDF5 converts float32 and integers).
std::vector<double> read_block(hid_t file, const std::string& file_name, const std::string& name,
                               const std::vector<hsize_t>& start, const std::vector<hsize_t>& count) {
  const Dataset ds(file, file_name, name);
  hsize_t n = 1;
  for (auto c : count) n *= c;
  std::vector<double> out(n);
  if (n == 0) return out;
  const Handle mem(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose);
  if (mem.id() < 0 ||
      H5Sselect_hyperslab(ds.space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
      H5Dread(ds.d.id(), H5T_NATIVE_DOUBLE, mem.id(), ds.space.id(), H5P_DEFAULT, out.data()) < 0)
    throw Error("cannot read " + where(name, file_name) + " (corrupt?)");
  return out;
}

std::vector<double> read_1d(hid_t file, const std::string& file_name, const std::string& name, std::size_t expect,
                            const std::string& what) {
  const Dataset ds(file, file_name, name);
  if (ds.dims.size() != 1 || (expect && ds.dims[0] != expect))
    throw Error(where(name, file_name) + " has shape " + shape_text(ds.dims) + "; expected " + what);
  return read_block(file, file_name, name, {0}, {ds.dims[0]});
}

//! The names of the datasets in /observables, in name order.
std::vector<std::string> observable_names(hid_t file) {
  std::vector<std::string> names;
  if (!exists(file, "/observables")) return names;
  const Handle g(H5Gopen2(file, "/observables", H5P_DEFAULT), H5Gclose);
  if (g.id() < 0) throw Error("/observables is not a group");
  auto add = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  if (H5Literate(g.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, add, &names) < 0)
    throw Error("cannot list /observables");
  return names;
}

//! The first global sample of each state (K + 1 entries).
std::vector<std::int64_t> state_starts(const std::vector<std::int64_t>& N_k) {
  std::vector<std::int64_t> start(N_k.size() + 1, 0);
  for (std::size_t k = 0; k < N_k.size(); ++k) start[k + 1] = start[k] + N_k[k];
  return start;
}

MbarInput read_header(const std::string& file, const std::string& format) {
  const Handle f = open_read(file);
  MbarInput in;
  in.file = file;
  in.format = format;
  const hid_t id = f.id();
  hsize_t n_max = 0;  // u_kln: samples per state at most
  if (format == "u_kn") {
    const Dataset u(id, file, "/u_kn");
    if (u.dims.size() != 2 || u.dims[0] < 2 || u.dims[1] < 1)
      throw Error(where("/u_kn", file) + " has shape " + shape_text(u.dims) +
                  "; expected [K, N] (K >= 2 states by N samples)");
    in.K = int(u.dims[0]);
    in.N = std::int64_t(u.dims[1]);
  } else if (format == "u_kln") {
    const Dataset u(id, file, "/u_kln");
    if (u.dims.size() != 3 || u.dims[0] < 2 || u.dims[1] != u.dims[0] || u.dims[2] < 1)
      throw Error(where("/u_kln", file) + " has shape " + shape_text(u.dims) +
                  "; expected [K, K, N_max] (u_kln[k, l, n]: state l's reduced potential of sample n of state k)");
    in.K = int(u.dims[0]);
    n_max = u.dims[2];
  } else {
    const Dataset e(id, file, "/energy");
    if (e.dims.size() != 1 || e.dims[0] < 1)
      throw Error(where("/energy", file) + " has shape " + shape_text(e.dims) + "; expected [N] (one per sample)");
    in.N = std::int64_t(e.dims[0]);
    in.beta = read_1d(id, file, "/beta", 0, "[K] (one per state)");
    in.K = int(in.beta.size());
    if (in.K < 2) throw Error(where("/beta", file) + " has " + std::to_string(in.K) + " state; at least 2 needed");
    for (int k = 0; k < in.K; ++k)
      if (!std::isfinite(in.beta[k]))
        throw Error(where("/beta", file) + ": beta[" + std::to_string(k) + "] is not finite");
    in.observables.push_back("energy");
    in.datasets.push_back("/energy");
  }
  const std::string K = std::to_string(in.K);
  const std::string rows = format == "u_kn"    ? "/u_kn has K = " + K + " states (rows)"
                           : format == "u_kln" ? "/u_kln has K = " + K + " states"
                                               : "/beta has K = " + K + " states";
  const std::vector<double> n_k = read_1d(id, file, "/N_k", in.K, "[" + K + "]: " + rows);
  std::int64_t sum = 0;
  for (int k = 0; k < in.K; ++k) {
    if (!(n_k[k] >= 0) || n_k[k] != std::floor(n_k[k]))
      throw Error(where("/N_k", file) + ": N_k[" + std::to_string(k) + "] is not a count (a whole number >= 0)");
    if (format == "u_kln" && n_k[k] > double(n_max))
      throw Error(where("/N_k", file) + ": N_k[" + std::to_string(k) + "] = " + std::to_string(std::int64_t(n_k[k])) +
                  " exceeds the " + std::to_string(n_max) + " samples per state of /u_kln [K, K, N_max]");
    in.N_k.push_back(std::int64_t(n_k[k]));
    sum += in.N_k.back();
  }
  if (format == "u_kln") in.N = sum;
  const std::string N = std::to_string(in.N);
  if (format == "u_kln" && sum == 0) throw Error(where("/N_k", file) + " sums to 0: no samples");
  const std::string cols = format == "u_kn" ? "/u_kn has N = " + N + " samples (columns)" : "/energy has N = " + N + " samples";
  if (sum != in.N) throw Error(where("/N_k", file) + " sums to " + std::to_string(sum) + ", but " + cols);
  for (const auto& name : observable_names(id)) {
    const std::string ds = "/observables/" + name;
    const Dataset a(id, file, ds);
    if (a.dims.size() != 1 || a.dims[0] != hsize_t(in.N))
      throw Error(where(ds, file) + " has shape " + shape_text(a.dims) + "; expected [" + N + "], one value per sample" +
                  (format == "u_kln" ? " (sum of N_k, grouped by state as in u_kn)" : ""));
    in.observables.push_back(name);
    in.datasets.push_back(ds);
  }
  if (exists(id, "/couplings")) {
    if (format != "energies")
      throw Error(where("/couplings", file) + ": couplings need the energies form (/energy and /beta), not /" + format);
    const Handle g(H5Gopen2(id, "/couplings", H5P_DEFAULT), H5Gclose);
    if (g.id() < 0) throw Error(where("/couplings", file) + " is not a group");
    std::vector<std::string> names;
    auto add = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
      static_cast<std::vector<std::string>*>(data)->push_back(name);
      return 0;
    };
    if (H5Literate(g.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, add, &names) < 0)
      throw Error("cannot list /couplings in '" + file + "'");
    for (const auto& name : names) {
      const std::string ds = "/couplings/" + name;
      const auto at = std::find(in.observables.begin(), in.observables.end(), name);
      if (name == "energy" || at == in.observables.end())
        throw Error(where(ds, file) + " couples to an observable /observables/" + name + ", which the file lacks");
      std::vector<double> p = read_1d(id, file, ds, in.K, "[" + K + "]: one per state, as /beta");
      for (int k = 0; k < in.K; ++k)
        if (!std::isfinite(p[k])) throw Error(where(ds, file) + ": element [" + std::to_string(k) + "] is not finite");
      in.coupled.push_back(int(at - in.observables.begin()));
      in.couplings.push_back(std::move(p));
    }
  }
  return in;
}

//! The stored reduced potentials of the global samples [c0, c0 + len) as K rows of len:
//! a hyperslab of /u_kn, or of /u_kln one state's samples at a time.
std::vector<double> read_potentials(hid_t f, const MbarInput& in, std::int64_t c0, std::int64_t len) {
  const hsize_t K = hsize_t(in.K);
  if (in.format == "u_kn") return read_block(f, in.file, "/u_kn", {0, hsize_t(c0)}, {K, hsize_t(len)});
  std::vector<double> u(K * std::size_t(len));
  const std::vector<std::int64_t> start = state_starts(in.N_k);
  for (int k = 0; k < in.K; ++k) {
    const std::int64_t lo = std::max(start[k], c0), hi = std::min(start[k + 1], c0 + len);
    if (lo >= hi) continue;
    const std::vector<double> w =
        read_block(f, in.file, "/u_kln", {hsize_t(k), 0, hsize_t(lo - start[k])}, {1, K, hsize_t(hi - lo)});
    for (hsize_t l = 0; l < K; ++l)
      for (std::int64_t n = lo; n < hi; ++n) u[l * len + (n - c0)] = w[l * (hi - lo) + (n - lo)];
  }
  return u;
}

//! The first non-finite value of K rows of `count` in sample-major order: "" if none.
std::string first_non_finite(const std::vector<double>& v, int rows, std::int64_t count, std::int64_t offset,
                             const std::string& dataset, const std::string& file, bool matrix,
                             const std::vector<std::int64_t>* kln_starts = nullptr) {
  bool bad = false;
  for (double x : v) bad = bad || !std::isfinite(x);
  if (!bad) return "";
  for (std::int64_t i = 0; i < count; ++i)
    for (int k = 0; k < rows; ++k) {
      const double x = v[std::size_t(k) * count + i];
      if (std::isfinite(x)) continue;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", x);
      std::string at = matrix ? "[" + std::to_string(k) + ", " + std::to_string(offset + i) + "]"
                              : "[" + std::to_string(offset + i) + "]";
      if (kln_starts) {  // u_kln[s, k, n]: sample n of state s
        std::size_t s = 0;
        while ((*kln_starts)[s + 1] <= offset + i) ++s;
        at = "[" + std::to_string(s) + ", " + std::to_string(k) + ", " + std::to_string(offset + i - (*kln_starts)[s]) + "]";
      }
      return where(dataset, file) + ": element " + at + " is " + buf + " (every value must be finite)";
    }
  return "";
}

}  // namespace

std::string detect_free_energy_format(const std::string& file) {
  const Handle f = open_read(file);
  if (exists(f.id(), "/temper/energy")) return "temper";
  if (exists(f.id(), "/u_kn")) return "u_kn";
  if (exists(f.id(), "/u_kln")) return "u_kln";
  if (exists(f.id(), "/energy") && exists(f.id(), "/beta")) return "energies";
  throw Error("'" + file + "' holds no free-energy input: a zeta temper output, /u_kn or /u_kln with /N_k, or /energy with "
              "/beta and /N_k (see docs/free-energy.md)");
}

std::string detect_free_energy_format(const std::string& file, const parallel::Comm& comm) {
  std::string why, format;
  if (comm.root()) try {
      format = detect_free_energy_format(file);
    } catch (const std::exception& e) {
      why = e.what();
    }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
  comm.broadcast(format);
  return format;
}

MbarInput read_mbar_input(const std::string& file, const std::string& format, const parallel::Comm& comm) {
  MbarInput in;
  std::string why;
  try {
    in = read_header(file, format);
  } catch (const std::exception& e) {
    why = e.what();
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
  return in;
}

void read_mbar_samples(const MbarInput& in, const parallel::Share& share, const parallel::Comm& comm,
                       std::vector<double>& u, std::vector<std::vector<double>>& observables) {
  std::string why;
  const hsize_t off = hsize_t(share.offset), cnt = hsize_t(share.count);
  try {
    const Handle f = open_read(in.file);
    observables.clear();
    for (const auto& ds : in.datasets) {
      observables.push_back(read_block(f.id(), in.file, ds, {off}, {cnt}));
      if (why.empty()) why = first_non_finite(observables.back(), 1, share.count, share.offset, ds, in.file, false);
    }
    if (in.format == "u_kn" || in.format == "u_kln") {
      u = read_potentials(f.id(), in, share.offset, share.count);
      const std::vector<std::int64_t> starts = state_starts(in.N_k);
      const std::string bad = first_non_finite(u, in.K, share.count, share.offset, "/" + in.format, in.file, true,
                                               in.format == "u_kln" ? &starts : nullptr);
      if (!bad.empty()) why = bad;
    } else {
      u.clear();  // u_kn = β_k E_n is built from observables[0] (/energy) a block at a time
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
}

void read_mbar_columns(const MbarInput& in, const std::vector<std::int64_t>& columns, const parallel::Comm& comm,
                       std::vector<double>& u, std::vector<std::vector<double>>& observables) {
  std::string why;
  const std::size_t n = columns.size();
  const int K = in.format == "u_kn" || in.format == "u_kln" ? in.K : 0;
  try {
    const Handle f = open_read(in.file);
    observables.assign(in.datasets.size(), std::vector<double>(n));
    u.assign(std::size_t(K) * n, 0.0);
    for (std::size_t a = 0; a < n;) {  // windows [columns[a], columns[b - 1]] of <= 65536 samples
      std::size_t b = a;
      while (b < n && columns[b] - columns[a] < 65536) ++b;
      const hsize_t c0 = hsize_t(columns[a]), len = hsize_t(columns[b - 1] - columns[a] + 1);
      for (std::size_t o = 0; o < in.datasets.size(); ++o) {
        const std::vector<double> w = read_block(f.id(), in.file, in.datasets[o], {c0}, {len});
        for (std::size_t j = a; j < b; ++j) observables[o][j] = w[std::size_t(columns[j]) - c0];
      }
      if (K > 0) {
        const std::vector<double> w = read_potentials(f.id(), in, std::int64_t(c0), std::int64_t(len));
        for (int k = 0; k < K; ++k)
          for (std::size_t j = a; j < b; ++j) u[std::size_t(k) * n + j] = w[std::size_t(k) * len + (columns[j] - c0)];
      }
      a = b;
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
}

}  // namespace zeta::io
