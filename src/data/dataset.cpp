#include "zeta/data/dataset.hpp"

#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <numeric>

#include "readers.hpp"
#include "zeta/core/error.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::data {

void declare_data_keys(Config& cfg) {
  cfg.declare("data.type", "idx",
              "data source: idx (MNIST format, raw or .gz), csv, hdf5, or synthetic (2-D points generated from "
              "run.seed: data.shape, data.examples, data.heldout_examples, data.noise, data.radius; no file)");
  cfg.declare("data.path", "", "training data file (required, except for data.type = synthetic, which takes none)");
  cfg.declare("data.heldout_path", "",
              "held-out data file in the same format (e.g. MNIST's t10k file); empty: hold out data.holdout of "
              "data.path");
  cfg.declare("data.holdout", "0",
              "fraction of data.path's examples (after data.limit) held out from its end when data.heldout_path is "
              "empty (0 <= f < 1)");
  cfg.declare("data.labels", "",
              "class labels of the examples (train.objective = jem): idx: the IDX label file of data.path (e.g. "
              "train-labels-idx1-ubyte.gz); csv: the 0-based column of data.path (and data.heldout_path) that holds "
              "the label, not a feature; hdf5: the 1-D dataset of labels in data.path (and data.heldout_path); labels "
              "are integers 0 .. K-1; empty: none");
  cfg.declare("data.heldout_labels", "",
              "idx with data.labels and data.heldout_path: the IDX label file of data.heldout_path");
  cfg.declare("data.limit", "0", "use only the first N examples of each data file (0 = all)");
  cfg.declare("data.dataset", "/x", "hdf5: the dataset [examples, features] to read");
  cfg.declare("data.binarize", "none",
              "none | threshold (1 where x > 0.5, else 0) | stochastic (Bernoulli(x), drawn once per example from "
              "run.seed and the example's row in its file, so the same on any rank count)");
  cfg.declare("data.standardize", "false",
              "scale each feature to mean 0, std 1 over the training split (both splits; constant features keep "
              "std 1); applied after binarize");
  cfg.declare("data.partitions", "4",
              "the splits are cut into this many partitions, the unit of shuffling and of sharding over ranks; "
              "mini-batch sequences depend on it, never on the rank count (needs partitions >= ranks, and "
              "train.batch a multiple of it)");
  cfg.declare("data.shape", "ring8",
              "synthetic, with r = data.radius and s = data.noise: ring8 (8 Gaussians of std s and equal weight "
              "centred at r(cos k pi/4, sin k pi/4)) | moons (scikit-learn's two moons scaled by r, centred on their "
              "mean, plus N(0, s^2) noise) | checkerboard (uniform on the 8 squares of a 4x4 board of side r/2 "
              "covering [-r, r)^2 whose row + column is even; s unused) | rings (4 concentric rings of radii "
              "r/4, r/2, 3r/4, r, equal weights, uniform angle, plus N(0, s^2) noise)");
  cfg.declare("data.examples", "10000", "synthetic: training examples (>= 1, and >= data.partitions)");
  cfg.declare("data.heldout_examples", "2000",
              "synthetic: held-out examples, drawn independently of the training ones (0 = none, else >= "
              "data.partitions)");
  cfg.declare("data.noise", "0.1",
              "synthetic: std s > 0 of the isotropic Gaussian noise in data units (ring8: each Gaussian's std; "
              "unused by checkerboard)");
  cfg.declare("data.radius", "2",
              "synthetic: the scale r > 0 of data.shape (ring8: circle radius; moons: moon radius; rings: outer "
              "radius; checkerboard: half-width of the board)");
}

namespace {

//! data.labels and data.heldout_labels, checked against the file type.
void read_label_keys(const Config& cfg, DataSpec& s) {
  s.labels = cfg.get_string("data.labels");
  s.heldout_labels = cfg.get_string("data.heldout_labels");
  if (!s.labels.empty()) {
    if (s.type == FileType::synthetic) config_error("data.labels", "is not used with data.type = synthetic");
    if (s.type == FileType::csv) {
      char* end = nullptr;
      const long c = std::strtol(s.labels.c_str(), &end, 10);
      if (*end != 0 || c < 0 || c > (1 << 30))
        config_error("data.labels",
                     "with data.type = csv is the 0-based column holding the label, got '" + s.labels + "'");
      s.label_column = int(c);
    }
  }
  if (!s.heldout_labels.empty() && (s.type != FileType::idx || s.labels.empty() || s.heldout_path.empty()))
    config_error("data.heldout_labels",
                 "is the IDX label file of data.heldout_path: it needs data.type = idx, data.labels and "
                 "data.heldout_path (csv and hdf5 read data.labels' column or dataset of both files)");
  if (s.type == FileType::idx && !s.labels.empty() && !s.heldout_path.empty() && s.heldout_labels.empty())
    config_error("data.heldout_labels",
                 "is required with data.labels and data.heldout_path (the IDX label file of '" + s.heldout_path + "')");
}

}  // namespace

DataSpec read_data_spec(const Config& cfg) {
  DataSpec s;
  s.type_name = cfg.get_choice("data.type", {"idx", "csv", "hdf5", "synthetic"});
  s.type = s.type_name == "idx"    ? FileType::idx
           : s.type_name == "csv"  ? FileType::csv
           : s.type_name == "hdf5" ? FileType::hdf5
                                   : FileType::synthetic;
  const bool synthetic = s.type == FileType::synthetic;
  s.path = cfg.get_string("data.path");
  s.heldout_path = cfg.get_string("data.heldout_path");
  if (synthetic) {
    for (const char* key : {"data.path", "data.heldout_path"})
      if (!cfg.get_string(key).empty())
        config_error(key, "is not used with data.type = synthetic (the points are generated); leave it empty");
  } else if (s.path.empty()) {
    config_error("data.path", "is required (the training data file)");
  }
  s.holdout = cfg.get_nonnegative("data.holdout");
  if (s.holdout >= 1) config_error("data.holdout", "must be < 1, got " + cfg.get_string("data.holdout"));
  if (s.holdout > 0 && !s.heldout_path.empty())
    config_error("data.holdout", "must be 0 when data.heldout_path gives the held-out examples");
  if (s.holdout > 0 && synthetic)
    config_error("data.holdout", "must be 0 with data.type = synthetic: data.heldout_examples sets the held-out split");
  s.limit = cfg.get_int_at_least("data.limit", 0);
  s.dataset = cfg.get_string("data.dataset");
  if (s.type == FileType::hdf5 && s.dataset.empty()) config_error("data.dataset", "is required for data.type = hdf5");
  s.binarize_name = cfg.get_choice("data.binarize", {"none", "threshold", "stochastic"});
  s.binarize = s.binarize_name == "none"        ? Binarize::none
               : s.binarize_name == "threshold" ? Binarize::threshold
                                                : Binarize::stochastic;
  if (synthetic && s.binarize != Binarize::none)
    config_error("data.binarize", "must be none with data.type = synthetic (the points are continuous)");
  read_label_keys(cfg, s);
  s.standardize = cfg.get_bool("data.standardize");
  const std::int64_t d = cfg.get_int_at_least("data.partitions", 1);
  if (d > (std::int64_t(1) << 20)) config_error("data.partitions", "is impossibly large");
  s.partitions = int(d);
  if (synthetic) {
    SyntheticSpec& y = s.synthetic;
    y.shape_name = cfg.get_choice("data.shape", {"ring8", "moons", "checkerboard", "rings"});
    y.shape = y.shape_name == "ring8"          ? SyntheticShape::ring8
              : y.shape_name == "moons"        ? SyntheticShape::moons
              : y.shape_name == "checkerboard" ? SyntheticShape::checkerboard
                                               : SyntheticShape::rings;
    y.examples = cfg.get_int_at_least("data.examples", 1);
    y.heldout_examples = cfg.get_int_at_least("data.heldout_examples", 0);
    y.noise = cfg.get_positive("data.noise");
    y.radius = cfg.get_positive("data.radius");
  }
  return s;
}

std::int64_t Split::local_count() const {
  std::int64_t n = 0;
  for (const auto& p : local) n += p.count;
  return n;
}

parallel::Share partitions_of(int rank, int ranks, int partitions) {
  if (ranks > partitions)
    config_error("data.partitions", std::to_string(partitions) + " is less than the number of ranks (" +
                                        std::to_string(ranks) + "); every rank needs at least one partition");
  return parallel::block_range(partitions, ranks, rank);
}

namespace {

//! Runs f on every rank; a failure on any rank is thrown on every rank as the
//! lowest failing rank's message, so no rank is left waiting in a collective.
void collectively(const parallel::Comm& comm, const std::function<void()>& f) {
  std::string why;
  try {
    f();
  } catch (const std::exception& e) {
    why = e.what();
    if (why.empty()) why = "unknown error while loading data";
  }
  why = comm.first_message(why);
  if (!why.empty()) throw Error(why);
}

//! Calls f, prefixing the key to a reader's error (which names the file).
template <class F>
auto under_key(const std::string& key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw Error(key + ": " + e.what());
  }
}

detail::FileShape file_shape(const DataSpec& s, const std::string& path) {
  switch (s.type) {
    case FileType::idx: return detail::idx_shape(path);
    case FileType::csv: return detail::csv_shape(path);
    default: return detail::hdf5_shape(path, s.dataset);
  }
}

std::vector<std::vector<Real>> read_ranges(const DataSpec& s, const std::string& path, const detail::FileShape& shape,
                                           const std::vector<detail::RowRange>& ranges) {
  switch (s.type) {
    case FileType::idx: return detail::idx_read(path, shape, ranges);
    case FileType::csv: return detail::csv_read(path, shape, ranges);
    default: return detail::hdf5_read(path, s.dataset, shape, ranges);
  }
}

//! Empty partitions [first, first + count) of a split of n examples, with their row ranges in the file
//! (the split starts at file row `offset`).
void plan_split(Split& split, std::int64_t n, int dim, int partitions, const parallel::Share& mine, std::int64_t offset,
                std::vector<detail::RowRange>& ranges) {
  split.n = n;
  split.dim = dim;
  for (std::int64_t p = mine.offset; p < mine.offset + mine.count; ++p) {
    const parallel::Share r = parallel::block_range(n, partitions, p);
    split.local.push_back(Partition{p, r.offset, r.count, {}, {}});
    ranges.push_back({offset + r.offset, r.count});
  }
}

//! Threshold or Bernoulli(x) per value; stochastic draws are keyed by the example's
//! row in its file and which file (0: data.path, 1: data.heldout_path).
void binarize(Split& split, const DataSpec& spec, std::uint32_t seed, std::int64_t file_offset, int file) {
  const int dim = split.dim;
  for (auto& p : split.local) {
    for (std::int64_t i = 0; i < p.count; ++i) {
      Real* x = p.x.data() + i * dim;
      if (spec.binarize == Binarize::threshold) {
        for (int k = 0; k < dim; ++k) x[k] = x[k] > Real(0.5) ? Real(1) : Real(0);
        continue;
      }
      const rng::Stream s(seed, std::uint64_t(file_offset + p.begin + i), std::uint64_t(file), rng::kBinarize);
      for (int k0 = 0; k0 < dim; k0 += 4) {
        const auto r = s.block(std::uint32_t(k0 / 4));
        for (int q = 0; q < 4 && k0 + q < dim; ++q) {
          const double u = (double(r[q]) + 0.5) * 0x1p-32;
          x[k0 + q] = u < double(x[k0 + q]) ? Real(1) : Real(0);
        }
      }
    }
  }
}

//! Per-feature mean and scale over the training split. Each partition's sums are
//! formed in row order and combined in partition order, so the numbers are the
//! same bit for bit on any rank count.
void standardize(Dataset& d, const parallel::Comm& comm, const parallel::Share& mine) {
  const int dim = d.dim;
  const std::size_t P = d.train.local.size();
  const parallel::Share parts{d.partitions, mine.offset, mine.count};
  std::vector<double> stats(P * 3 * dim);  // per partition: sum, min, max
  for (std::size_t q = 0; q < P; ++q) {
    const auto& p = d.train.local[q];
    double* sum = stats.data() + q * 3 * dim;
    double* lo = sum + dim;
    double* hi = lo + dim;
    for (int k = 0; k < dim; ++k) lo[k] = std::numeric_limits<double>::infinity(), hi[k] = -lo[k];
    for (std::int64_t i = 0; i < p.count; ++i)
      for (int k = 0; k < dim; ++k) {
        const double v = p.x[i * dim + k];
        sum[k] += v;
        lo[k] = std::min(lo[k], v);
        hi[k] = std::max(hi[k], v);
      }
  }
  const auto all = comm.allgather_chain_rows(stats, 3 * std::int64_t(dim), parts);
  d.mean.assign(dim, 0.0);
  std::vector<double> lo(dim, std::numeric_limits<double>::infinity()), hi(dim, -lo[0]);
  for (int p = 0; p < d.partitions; ++p)
    for (int k = 0; k < dim; ++k) {
      d.mean[k] += all[(std::size_t(p) * 3 + 0) * dim + k];
      lo[k] = std::min(lo[k], all[(std::size_t(p) * 3 + 1) * dim + k]);
      hi[k] = std::max(hi[k], all[(std::size_t(p) * 3 + 2) * dim + k]);
    }
  for (int k = 0; k < dim; ++k) d.mean[k] /= double(d.train.n);
  std::vector<double> ss(P * dim, 0.0);
  for (std::size_t q = 0; q < P; ++q) {
    const auto& p = d.train.local[q];
    for (std::int64_t i = 0; i < p.count; ++i)
      for (int k = 0; k < dim; ++k) {
        const double c = p.x[i * dim + k] - d.mean[k];
        ss[q * dim + k] += c * c;
      }
  }
  d.scale = comm.ordered_sum(ss, dim, parts);
  for (int k = 0; k < dim; ++k) d.scale[k] = lo[k] == hi[k] ? 1.0 : std::sqrt(d.scale[k] / double(d.train.n));
  for (Split* s : {&d.train, &d.heldout})
    for (auto& p : s->local)
      for (std::int64_t i = 0; i < p.count; ++i)
        for (int k = 0; k < dim; ++k) {
          Real& x = p.x[i * dim + k];
          x = Real((double(x) - d.mean[k]) / d.scale[k]);
        }
}

//! Root's check of the labels of one data file (`shape`: its examples): one label per
//! example, in a file of their own (idx), a dataset beside the data (hdf5) or a column (csv).
void check_label_shape(const DataSpec& s, const std::string& key, const std::string& data_path,
                       const std::string& label_path, const detail::FileShape& shape) {
  if (s.type == FileType::csv) {
    if (s.label_column >= shape.dim)
      config_error(key, "column " + std::to_string(s.label_column) + " is beyond the " + std::to_string(shape.dim) +
                            " columns of '" + data_path + "'");
    if (shape.dim < 2) config_error(key, "'" + data_path + "' has no column left for features besides the label");
    return;
  }
  const auto l = under_key(key, [&] {
    return s.type == FileType::idx ? detail::idx_shape(label_path) : detail::hdf5_shape(data_path, s.labels);
  });
  const std::string where =
      s.type == FileType::idx ? "'" + label_path + "'" : "dataset " + s.labels + " of '" + data_path + "'";
  if (l.dim != 1) config_error(key, where + " has " + std::to_string(l.dim) + " values per example; labels are one");
  if (l.rows != shape.rows)
    config_error(key, where + " has " + std::to_string(l.rows) + " labels but '" + data_path + "' has " +
                          std::to_string(shape.rows) + " examples");
}

//! The labels of `ranges` of a data file of `shape` (csv: taken out of `rows`, which keep
//! the features only); a label must be a whole number in [0, 2^31).
std::vector<std::vector<std::int32_t>> read_labels(const DataSpec& s, const std::string& key,
                                                   const std::string& data_path, const std::string& label_path,
                                                   const detail::FileShape& shape,
                                                   const std::vector<detail::RowRange>& ranges,
                                                   std::vector<std::vector<Real>>& rows) {
  std::vector<std::vector<Real>> v;
  if (s.type == FileType::csv) {
    const int c = s.label_column, dim = shape.dim;
    for (auto& r : rows) {
      const std::size_t n = r.size() / std::size_t(dim);
      std::vector<Real> lab(n), x(n * std::size_t(dim - 1));
      for (std::size_t i = 0; i < n; ++i) {
        lab[i] = r[i * dim + c];
        for (int k = 0, o = 0; k < dim; ++k)
          if (k != c) x[i * (dim - 1) + o++] = r[i * dim + k];
      }
      v.push_back(std::move(lab));
      r = std::move(x);
    }
  } else {
    const detail::FileShape ls{shape.rows, 1};
    v = under_key(key, [&] {
      return s.type == FileType::idx ? detail::idx_read(label_path, ls, ranges, false)
                                     : detail::hdf5_read(data_path, s.labels, ls, ranges);
    });
  }
  std::vector<std::vector<std::int32_t>> out(v.size());
  for (std::size_t q = 0; q < v.size(); ++q) {
    out[q].resize(v[q].size());
    for (std::size_t i = 0; i < v[q].size(); ++i) {
      const double y = double(v[q][i]);
      if (!(y >= 0 && y < 2147483647.0 && y == std::floor(y)))
        config_error(key, "example " + std::to_string(ranges[q].first + std::int64_t(i)) + " of '" + data_path +
                              "' has label " + detail::value_text(y) + "; labels are whole numbers 0 .. K-1");
      out[q][i] = std::int32_t(y);
    }
  }
  return out;
}

//! Both splits from data.path (and data.heldout_path), this rank's partitions only, binarized.
Dataset read_files(const DataSpec& spec, std::uint32_t seed, const parallel::Comm& comm, const parallel::Share& mine) {
  const int D = spec.partitions;
  const bool separate = !spec.heldout_path.empty();

  // Rank 0 reads the headers (a CSV file whole, so every malformed line is found
  // before any rank reads its rows); the shapes, or its error, go to every rank.
  std::vector<std::int64_t> shapes(4, 0);  // train rows, dim, held-out rows, dim
  collectively(comm, [&] {
    if (!comm.root()) return;
    const auto t = under_key("data.path", [&] { return file_shape(spec, spec.path); });
    shapes[0] = t.rows, shapes[1] = t.dim;
    if (spec.labelled()) check_label_shape(spec, "data.labels", spec.path, spec.labels, t);
    if (separate) {
      const auto h = under_key("data.heldout_path", [&] { return file_shape(spec, spec.heldout_path); });
      shapes[2] = h.rows, shapes[3] = h.dim;
      if (spec.labelled())
        check_label_shape(spec, spec.type == FileType::idx ? "data.heldout_labels" : "data.labels", spec.heldout_path,
                          spec.heldout_labels, h);
    }
  });
  comm.broadcast(shapes);
  const detail::FileShape train_shape{shapes[0], int(shapes[1])}, held_shape{shapes[2], int(shapes[3])};
  // A csv label column is no feature.
  const int dim = train_shape.dim - (spec.label_column >= 0 ? 1 : 0);

  // The splits: the same arithmetic on every rank, so these errors are collective as they stand.
  const auto limited = [&](std::int64_t rows) { return spec.limit > 0 ? std::min(rows, spec.limit) : rows; };
  const std::int64_t n_file = limited(train_shape.rows);
  std::int64_t n_train = n_file, n_held = 0;
  if (separate) {
    if (held_shape.dim != train_shape.dim)
      config_error("data.heldout_path", "'" + spec.heldout_path + "' has examples of " +
                                            std::to_string(held_shape.dim) + " values, but data.path '" + spec.path +
                                            "' has " + std::to_string(train_shape.dim));
    n_held = limited(held_shape.rows);
  } else if (spec.holdout > 0) {
    n_held = std::llround(spec.holdout * double(n_file));
    n_train = n_file - n_held;
  }
  const std::string limit_note =
      spec.limit > 0 && spec.limit < train_shape.rows ? " (data.limit = " + std::to_string(spec.limit) + ")" : "";
  if (n_train < D) {
    const std::string key = !limit_note.empty() ? "data.limit" : spec.holdout > 0 ? "data.holdout" : "data.path";
    config_error(key, "'" + spec.path + "' gives " + std::to_string(n_train) + " training examples" + limit_note +
                          (spec.holdout > 0 ? " after data.holdout = " + std::to_string(spec.holdout) : "") +
                          ", fewer than data.partitions = " + std::to_string(D));
  }
  if ((separate || spec.holdout > 0) && n_held < D) {
    const std::string from = separate
                                 ? "'" + spec.heldout_path + "' gives "
                                 : std::to_string(spec.holdout) + " of " + std::to_string(n_file) + " examples is ";
    config_error(
        separate ? "data.heldout_path" : "data.holdout",
        from + std::to_string(n_held) + " held-out examples, fewer than data.partitions = " + std::to_string(D));
  }

  Dataset d;
  d.partitions = D;
  d.dim = dim;
  d.labelled = spec.labelled();
  std::vector<detail::RowRange> train_ranges, held_ranges;
  plan_split(d.train, n_train, dim, D, mine, 0, train_ranges);
  if (n_held > 0) plan_split(d.heldout, n_held, dim, D, mine, separate ? 0 : n_train, held_ranges);

  // Each rank reads only its partitions' rows; a failure only one rank sees
  // (a truncated .gz ends inside the last rank's shard) fails every rank.
  collectively(comm, [&] {
    auto ranges = train_ranges;
    if (!separate) ranges.insert(ranges.end(), held_ranges.begin(), held_ranges.end());
    auto rows = under_key("data.path", [&] { return read_ranges(spec, spec.path, train_shape, ranges); });
    std::vector<std::vector<std::int32_t>> labels;
    if (d.labelled) labels = read_labels(spec, "data.labels", spec.path, spec.labels, train_shape, ranges, rows);
    for (std::size_t q = 0; q < d.train.local.size(); ++q) {
      d.train.local[q].x = std::move(rows[q]);
      if (d.labelled) d.train.local[q].y = std::move(labels[q]);
    }
    if (separate && n_held > 0) {
      rows =
          under_key("data.heldout_path", [&] { return read_ranges(spec, spec.heldout_path, held_shape, held_ranges); });
      if (d.labelled)
        labels = read_labels(spec, spec.type == FileType::idx ? "data.heldout_labels" : "data.labels",
                             spec.heldout_path, spec.heldout_labels, held_shape, held_ranges, rows);
    }
    const std::size_t skip = separate ? 0 : d.train.local.size();
    for (std::size_t q = 0; q < d.heldout.local.size(); ++q) {
      d.heldout.local[q].x = std::move(rows[skip + q]);
      if (d.labelled) d.heldout.local[q].y = std::move(labels[skip + q]);
    }
  });

  if (spec.binarize != Binarize::none) {
    binarize(d.train, spec, seed, 0, 0);
    binarize(d.heldout, spec, seed, separate ? 0 : n_train, separate ? 1 : 0);
  }
  return d;
}

//! Both synthetic splits, this rank's partitions only: row i of split s is
//! synthetic_point(seed, s, i), so no rank needs another's rows.
Dataset generate(const DataSpec& spec, std::uint32_t seed, const parallel::Share& mine) {
  const SyntheticSpec& y = spec.synthetic;
  const int D = spec.partitions;
  const auto limited = [&](std::int64_t n) { return spec.limit > 0 ? std::min(n, spec.limit) : n; };
  const auto too_few = [&](const std::string& key, std::int64_t asked, std::int64_t n, const std::string& what) {
    const bool capped = spec.limit > 0 && spec.limit < asked;
    config_error(capped ? "data.limit" : key, std::to_string(n) + " " + what + " examples" +
                                                  (capped ? " (data.limit = " + std::to_string(spec.limit) + ")" : "") +
                                                  " are fewer than data.partitions = " + std::to_string(D));
  };
  const std::int64_t n_train = limited(y.examples), n_held = limited(y.heldout_examples);
  if (n_train < D) too_few("data.examples", y.examples, n_train, "training");
  if (n_held > 0 && n_held < D) too_few("data.heldout_examples", y.heldout_examples, n_held, "held-out");

  Dataset d;
  d.partitions = D;
  d.dim = 2;
  std::vector<detail::RowRange> unused;
  plan_split(d.train, n_train, 2, D, mine, 0, unused);
  if (n_held > 0) plan_split(d.heldout, n_held, 2, D, mine, 0, unused);
  int split = 0;
  for (Split* s : {&d.train, &d.heldout}) {
    for (auto& p : s->local) {
      p.x.resize(std::size_t(p.count) * 2);
      for (std::int64_t i = 0; i < p.count; ++i) {
        double xy[2];
        synthetic_point(y, seed, split, p.begin + i, xy);
        p.x[2 * i] = Real(xy[0]);
        p.x[2 * i + 1] = Real(xy[1]);
      }
    }
    ++split;
  }
  return d;
}

}  // namespace

Dataset load(const DataSpec& spec, std::uint32_t seed, const parallel::Comm& comm) {
  const parallel::Share mine = partitions_of(comm.rank(), comm.size(), spec.partitions);
  Dataset d = spec.type == FileType::synthetic ? generate(spec, seed, mine) : read_files(spec, seed, comm, mine);
  if (spec.standardize) standardize(d, comm, mine);
  return d;
}

SplitMean split_mean(const Split& split, int partitions, const std::vector<double>& local, const parallel::Comm& comm) {
  if (split.n < 1) throw Error("split_mean: the split has no examples");
  if (std::int64_t(local.size()) != split.local_count())
    throw Error("internal: split_mean needs one value per local example", false);
  const parallel::Share mine = partitions_of(comm.rank(), comm.size(), partitions);
  if (std::int64_t(split.local.size()) != mine.count)
    throw Error("internal: split_mean on a split cut into other partitions", false);
  const parallel::Share parts{partitions, mine.offset, mine.count};
  // Σ v per partition, then Σ (v − mean)² per partition (two passes: no cancellation).
  const auto total = [&](const auto& term) {
    std::vector<double> sums(split.local.size(), 0.0);
    std::size_t at = 0;
    for (std::size_t q = 0; q < split.local.size(); ++q)
      for (std::int64_t i = 0; i < split.local[q].count; ++i) sums[q] += term(local[at++]);
    return comm.ordered_sum(sums, 1, parts)[0];
  };
  SplitMean m;
  m.n = split.n;
  m.mean = total([](double v) { return v; }) / double(m.n);
  const double ss = total([&](double v) { return (v - m.mean) * (v - m.mean); });
  m.se = m.n > 1 ? std::sqrt(ss / double(m.n - 1) / double(m.n)) : 0.0;
  return m;
}

SplitMean synthetic_nll(const DataSpec& spec, const Dataset& d, const parallel::Comm& comm) {
  if (spec.type != FileType::synthetic)
    config_error("data.type", "the exact NLL needs data.type = synthetic, got " + spec.type_name);
  if (!has_log_density(spec.synthetic.shape))
    config_error("data.shape", spec.synthetic.shape_name + " has no closed-form density for the exact NLL");
  if (d.heldout.n == 0) config_error("data.heldout_examples", "is 0: there is no held-out split for the exact NLL");
  const bool standardized = !d.scale.empty();
  double log_jacobian = 0;  // ln |dx/dx'| = Σ_k ln scale_k
  if (standardized)
    for (double c : d.scale) log_jacobian += std::log(c);
  std::vector<double> nll;
  nll.reserve(std::size_t(d.heldout.local_count()));
  for (const auto& p : d.heldout.local)
    for (std::int64_t i = 0; i < p.count; ++i) {
      double xy[2] = {double(p.x[2 * i]), double(p.x[2 * i + 1])};
      if (standardized)
        for (int k = 0; k < 2; ++k) xy[k] = xy[k] * d.scale[k] + d.mean[k];
      nll.push_back(-synthetic_log_density(spec.synthetic, xy[0], xy[1]) - log_jacobian);
    }
  return split_mean(d.heldout, d.partitions, nll, comm);
}

void partition_permutation(std::uint32_t seed, std::int64_t partition, std::int64_t epoch, std::int64_t count,
                           std::vector<std::int64_t>& perm) {
  __extension__ using u128 = unsigned __int128;
  perm.resize(std::size_t(count));
  std::iota(perm.begin(), perm.end(), std::int64_t(0));
  const rng::Stream s(seed, std::uint64_t(partition), std::uint64_t(epoch), rng::kShuffle);
  rng::Stream::Gen::ctr_type r{};
  std::int64_t have = -1;
  // Draw t (t = 0, 1, …) is 64 bits from words 2(t mod 2), 2(t mod 2) + 1 of block t / 2;
  // j = ⌊w (i + 1) / 2^64⌋ is uniform on [0, i] up to a bias below (i + 1) / 2^64.
  for (std::int64_t i = count - 1; i >= 1; --i) {
    const std::int64_t t = count - 1 - i;
    if (t / 2 != have) have = t / 2, r = s.block(std::uint32_t(have));
    const int w = 2 * int(t % 2);
    const std::uint64_t bits = (std::uint64_t(r[w]) << 32) | r[w + 1];
    const auto j = std::int64_t((u128(bits) * u128(i + 1)) >> 64);
    std::swap(perm[std::size_t(i)], perm[std::size_t(j)]);
  }
}

BatchPlan::BatchPlan(const Split& split, int partitions, std::int64_t batch, std::uint32_t seed)
    : seed_(seed), partitions_(partitions), n_(split.n), batch_(batch) {
  if (partitions < 1 || split.n < partitions) throw Error("internal: BatchPlan on a split smaller than its partitions");
  if (batch < 1) config_error("train.batch", "must be >= 1, got " + std::to_string(batch));
  if (batch % partitions != 0)
    config_error("train.batch", "= " + std::to_string(batch) +
                                    " is not a multiple of data.partitions = " + std::to_string(partitions) +
                                    " (every partition gives batch / partitions examples)");
  per_partition_ = batch / partitions;
  const std::int64_t smallest = split.n / partitions;
  if (per_partition_ > smallest)
    config_error("train.batch", std::to_string(batch) + " takes " + std::to_string(per_partition_) +
                                    " examples from each of data.partitions = " + std::to_string(partitions) +
                                    " partitions, but the smallest holds only " + std::to_string(smallest) + " (of " +
                                    std::to_string(split.n) + " training examples)");
  batches_per_epoch_ = smallest / per_partition_;
}

const std::vector<std::int64_t>& BatchPlan::permutation(std::int64_t step, const Partition& p) const {
  if (step < 0) throw Error("internal: negative batch step", false);
  if (p.count != parallel::block_range(n_, partitions_, p.index).count)
    throw Error("internal: BatchPlan asked about a partition of another split", false);
  const std::int64_t e = epoch(step);
  Cached& c = cache_[p.index];
  if (c.epoch != e) {
    partition_permutation(seed_, p.index, e, p.count, c.perm);
    c.epoch = e;
  }
  return c.perm;
}

void BatchPlan::rows(std::int64_t step, const Partition& p, std::vector<std::int64_t>& local_rows) const {
  const auto& perm = permutation(step, p);
  const auto first = perm.begin() + (step % batches_per_epoch_) * per_partition_;
  local_rows.assign(first, first + per_partition_);
}

void BatchPlan::copy_rows(std::int64_t step, const Partition& p, int dim, Real* out) const {
  rows(step, p, scratch_);
  for (std::int64_t r = 0; r < per_partition_; ++r) {
    const Real* src = p.x.data() + scratch_[std::size_t(r)] * dim;
    std::copy(src, src + dim, out + r * dim);
  }
}

void BatchPlan::copy_batch(std::int64_t step, const Split& split, Real* out) const {
  for (std::size_t q = 0; q < split.local.size(); ++q)
    copy_rows(step, split.local[q], split.dim, out + std::int64_t(q) * per_partition_ * split.dim);
}

}  // namespace zeta::data
