//! The data layer at 1, 2 and 4 ranks: readers, splits, partitions owned by
//! ranks, batch sequences and binarization that do not depend on the rank count,
//! standardization across ranks, and input errors raised alike on every rank.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "zeta/core/error.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta {
namespace {

const parallel::Comm& world() {
  static const parallel::Comm c(MPI_COMM_WORLD);
  return c;
}
const parallel::Comm& self() {
  static const parallel::Comm c(MPI_COMM_SELF);
  return c;
}

std::set<std::string>& written() {
  static std::set<std::string> files;
  return files;
}

//! A file name private to this rank count (ctest may run np1/np2/np4 side by side),
//! removed after the last test.
std::string tmp(const std::string& name) {
  const std::string f = "data_np" + std::to_string(world().size()) + "_" + name;
  written().insert(f);
  return f;
}

class RemoveFiles : public ::testing::Environment {
 public:
  void TearDown() override {
    world().barrier();
    if (world().root())
      for (const auto& f : written()) std::remove(f.c_str());
  }
};
[[maybe_unused]] auto* const remove_files = ::testing::AddGlobalTestEnvironment(new RemoveFiles);

//! Rank 0 writes, everyone waits.
template <class F>
void on_root(F&& f) {
  if (world().root()) f();
  world().barrier();
}

//! The byte of example i, value k in the synthetic IDX files.
unsigned char byte_of(std::int64_t i, std::int64_t k) {
  return (unsigned char)((i * 7 + k * 13 + (i * k) % 5) % 256);
}

void put_be32(std::vector<unsigned char>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back((unsigned char)(v >> s));
}

//! An IDX file: magic 0 0 type ndims, sizes, then `payload`.
std::vector<unsigned char> idx_bytes(unsigned type, const std::vector<std::uint32_t>& dims,
                                     const std::vector<unsigned char>& payload) {
  std::vector<unsigned char> b = {0, 0, (unsigned char)type, (unsigned char)dims.size()};
  for (auto d : dims) put_be32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

//! Unsigned-byte images [rows, h, w] with byte_of(i, k), offset by `shift` examples.
std::vector<unsigned char> images(std::uint32_t rows, std::uint32_t h, std::uint32_t w, std::int64_t shift = 0) {
  std::vector<unsigned char> px;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t k = 0; k < std::int64_t(h) * w; ++k) px.push_back(byte_of(i + shift, k));
  return idx_bytes(0x08, {rows, h, w}, px);
}

//! Writes bytes through zlib: gzip'd, or raw ("T", transparent) when gz is false.
void write_gz(const std::string& path, const std::vector<unsigned char>& bytes, bool gz) {
  gzFile f = gzopen(path.c_str(), gz ? "wb" : "wbT");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

data::DataSpec spec_of(const std::vector<std::string>& overrides) {
  Config cfg;
  data::declare_data_keys(cfg);
  cfg.parse_text("", overrides);
  return data::read_data_spec(cfg);
}

data::Dataset load(const std::vector<std::string>& overrides, const parallel::Comm& comm = world(),
                   std::uint32_t seed = 7) {
  return data::load(spec_of(overrides), seed, comm);
}

//! The error text of loading on every rank of the world ("" if none); checks that
//! every rank got the same collective error.
std::string load_error(const std::vector<std::string>& overrides) {
  std::string msg;
  bool thrown = false;
  try {
    load(overrides);
  } catch (const Error& e) {
    thrown = true;
    EXPECT_TRUE(e.collective()) << e.what();
    msg = e.what();
  }
  EXPECT_TRUE(thrown) << "rank " << world().rank() << " did not fail";
  std::string root_msg = msg;
  world().broadcast(root_msg);
  EXPECT_EQ(msg, root_msg) << "rank " << world().rank() << " raised a different error";
  return msg;
}

#define EXPECT_MENTIONS(text, part) \
  EXPECT_NE((text).find(part), std::string::npos) << "'" << (text) << "' lacks " << (part)

//! Every rank's partitions of a split, in global example order, on rank 0.
std::vector<double> gather(const data::Split& s, const parallel::Comm& comm = world()) {
  std::vector<double> local;
  for (const auto& p : s.local) local.insert(local.end(), p.x.begin(), p.x.end());
  return comm.gather_to_root(local);
}

//! This rank holds exactly its block of partitions, each cut by the block rule.
void expect_partitions(const data::Split& s, int partitions, const parallel::Comm& comm = world()) {
  const parallel::ChainRange mine = data::partitions_of(comm.rank(), comm.size(), partitions);
  ASSERT_EQ(std::int64_t(s.local.size()), mine.count);
  for (std::int64_t q = 0; q < mine.count; ++q) {
    const auto& p = s.local[q];
    const parallel::ChainRange r = parallel::block_range(s.n, partitions, mine.offset + q);
    EXPECT_EQ(p.index, mine.offset + q);
    EXPECT_EQ(p.begin, r.offset);
    EXPECT_EQ(p.count, r.count);
    EXPECT_EQ(std::int64_t(p.x.size()), p.count * s.dim);
  }
  EXPECT_EQ(comm.sum(s.local_count()), s.n);
}

TEST(DataIdx, RawAndGzipGiveTheScaledBytes) {
  on_root([] {
    write_gz(tmp("a.idx"), images(37, 3, 4), false);
    write_gz(tmp("a.idx.gz"), images(37, 3, 4), true);
  });
  for (const auto& f : {tmp("a.idx"), tmp("a.idx.gz")}) {
    const auto d = load({"--data.path=" + f});
    EXPECT_EQ(d.train.n, 37);
    EXPECT_EQ(d.dim, 12);
    EXPECT_EQ(d.train.dim, 12);
    EXPECT_EQ(d.heldout.n, 0);
    EXPECT_TRUE(d.heldout.local.empty() || d.heldout.local_count() == 0);
    expect_partitions(d.train, 4);
    const auto all = gather(d.train);
    if (world().root()) {
      ASSERT_EQ(all.size(), 37u * 12u);
      for (std::int64_t i = 0; i < 37; ++i)
        for (int k = 0; k < 12; ++k) ASSERT_EQ(all[i * 12 + k], double(Real(byte_of(i, k)) / Real(255))) << f;
    }
  }
}

TEST(DataIdx, LimitHoldoutAndSeparateHeldoutFile) {
  on_root([] {
    write_gz(tmp("b.idx.gz"), images(37, 2, 3), true);
    write_gz(tmp("b_test.idx"), images(20, 2, 3, 1000), false);
  });
  // The first 30 examples, the last 6 of them held out.
  auto d = load({"--data.path=" + tmp("b.idx.gz"), "--data.limit=30", "--data.holdout=0.2"});
  EXPECT_EQ(d.train.n, 24);
  EXPECT_EQ(d.heldout.n, 6);
  expect_partitions(d.train, 4);
  expect_partitions(d.heldout, 4);
  auto tr = gather(d.train), ho = gather(d.heldout);
  if (world().root()) {
    ASSERT_EQ(tr.size(), 24u * 6u);
    ASSERT_EQ(ho.size(), 6u * 6u);
    for (int i = 0; i < 24; ++i)
      for (int k = 0; k < 6; ++k) EXPECT_EQ(tr[i * 6 + k], double(Real(byte_of(i, k)) / Real(255)));
    for (int i = 0; i < 6; ++i)
      for (int k = 0; k < 6; ++k) EXPECT_EQ(ho[i * 6 + k], double(Real(byte_of(24 + i, k)) / Real(255)));
  }
  // A separate held-out file; data.limit applies to each file.
  d = load({"--data.path=" + tmp("b.idx.gz"), "--data.heldout_path=" + tmp("b_test.idx"), "--data.limit=10"});
  EXPECT_EQ(d.train.n, 10);
  EXPECT_EQ(d.heldout.n, 10);
  expect_partitions(d.heldout, 4);
  ho = gather(d.heldout);
  if (world().root()) {
    ASSERT_EQ(ho.size(), 60u);
    for (int i = 0; i < 10; ++i)
      for (int k = 0; k < 6; ++k) EXPECT_EQ(ho[i * 6 + k], double(Real(byte_of(1000 + i, k)) / Real(255)));
  }
  // A limit beyond the file uses the whole file.
  d = load({"--data.path=" + tmp("b.idx.gz"), "--data.limit=1000"});
  EXPECT_EQ(d.train.n, 37);
}

TEST(DataIdx, LabelsAndOtherElementTypes) {
  std::vector<unsigned char> labels, shorts, floats;
  for (int i = 0; i < 9; ++i) labels.push_back((unsigned char)(i * 30));
  for (int i = 0; i < 8 * 3; ++i) {
    const auto s = std::uint16_t(std::int16_t(i * 100 - 1000));
    shorts.push_back((unsigned char)(s >> 8)), shorts.push_back((unsigned char)(s & 0xFF));
    const float f = -1.5f + 0.25f * float(i);
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put_be32(floats, bits);
  }
  on_root([&] {
    write_gz(tmp("labels.idx1.gz"), idx_bytes(0x08, {9}, labels), true);
    write_gz(tmp("short.idx"), idx_bytes(0x0B, {8, 3}, shorts), false);
    write_gz(tmp("float.idx.gz"), idx_bytes(0x0D, {8, 3}, floats), true);
  });
  auto d = load({"--data.path=" + tmp("labels.idx1.gz")});
  EXPECT_EQ(d.dim, 1);
  EXPECT_EQ(d.train.n, 9);
  auto all = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(all[i], double(Real(i * 30) / Real(255)));
  }
  d = load({"--data.path=" + tmp("short.idx")});
  EXPECT_EQ(d.dim, 3);
  all = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 24; ++i) EXPECT_EQ(all[i], double(i * 100 - 1000));  // not scaled
  }
  d = load({"--data.path=" + tmp("float.idx.gz")});
  all = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 24; ++i) EXPECT_EQ(all[i], -1.5 + 0.25 * i);
  }
}

TEST(DataCsv, HeaderBlankLinesCrlfAndSigns) {
  std::string text = "x, y ,z\r\n";
  for (int i = 0; i < 9; ++i) {
    text += std::to_string(i) + ", " + std::to_string(-0.5 * i) + " ,+" + std::to_string(i * i) + "e-2\r\n";
    if (i == 4) text += "\r\n   \n";
  }
  on_root([&] { write_text(tmp("c.csv"), text); });
  const auto d = load({"--data.type=csv", "--data.path=" + tmp("c.csv")});
  EXPECT_EQ(d.train.n, 9);
  EXPECT_EQ(d.dim, 3);
  expect_partitions(d.train, 4);
  const auto all = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 9; ++i) {
      EXPECT_EQ(all[i * 3 + 0], double(Real(i)));
      EXPECT_EQ(all[i * 3 + 1], double(Real(-0.5 * i)));
      EXPECT_EQ(all[i * 3 + 2], double(Real(std::stod(std::to_string(i * i) + "e-2"))));
    }
  }
}

TEST(DataHdf5, ReadsEachRanksHyperslab) {
  std::vector<double> x(29 * 5), y(13);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5 * double(i) - 3;
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = double(i * i);
  on_root([&] {
    auto f = io::create_serial(tmp("d.h5"));
    io::write_array<double>(f.id(), "/group/x", {29, 5}, x.data());
    io::write_array<double>(f.id(), "/y", {13}, y.data());
  });
  auto d = load({"--data.type=hdf5", "--data.path=" + tmp("d.h5"), "--data.dataset=/group/x", "--data.holdout=0.25"});
  EXPECT_EQ(d.dim, 5);
  EXPECT_EQ(d.train.n, 22);  // 29 − round(7.25)
  EXPECT_EQ(d.heldout.n, 7);
  expect_partitions(d.train, 4);
  expect_partitions(d.heldout, 4);
  auto tr = gather(d.train), ho = gather(d.heldout);
  if (world().root()) {
    for (int v = 0; v < 22 * 5; ++v) EXPECT_EQ(tr[v], double(Real(x[v])));
    for (int v = 0; v < 7 * 5; ++v) EXPECT_EQ(ho[v], double(Real(x[22 * 5 + v])));
  }
  d = load({"--data.type=hdf5", "--data.path=" + tmp("d.h5"), "--data.dataset=/y"});
  EXPECT_EQ(d.dim, 1);
  tr = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 13; ++i) EXPECT_EQ(tr[i], double(i * i));
  }
}

//! Every rank's labels of a split, in global example order, on rank 0.
std::vector<double> gather_labels(const data::Split& s) {
  std::vector<double> local;
  for (const auto& p : s.local) {
    EXPECT_EQ(std::int64_t(p.y.size()), p.count);
    local.insert(local.end(), p.y.begin(), p.y.end());
  }
  return world().gather_to_root(local);
}

// data.labels (train.objective = jem): an IDX label file beside the images (and
// data.heldout_labels beside the held-out file), a CSV column taken out of the
// features, an HDF5 dataset beside the data; partitioned with the rows.
TEST(DataLabels, IdxCsvAndHdf5GiveEachExampleItsLabel) {
  std::vector<unsigned char> lab;
  for (int i = 0; i < 23; ++i) lab.push_back((unsigned char)((i * 7) % 10));
  on_root([&] {
    write_gz(tmp("l_img.gz"), images(23, 2, 3), true);
    write_gz(tmp("l_lab.gz"), idx_bytes(0x08, {23}, lab), true);
    write_gz(tmp("l_img_t.gz"), images(9, 2, 3, 100), false);
    write_gz(tmp("l_lab_t.gz"), idx_bytes(0x08, {9}, std::vector<unsigned char>(lab.begin(), lab.begin() + 9)), false);
  });
  auto d = load({"--data.path=" + tmp("l_img.gz"), "--data.labels=" + tmp("l_lab.gz"),
                 "--data.heldout_path=" + tmp("l_img_t.gz"), "--data.heldout_labels=" + tmp("l_lab_t.gz")});
  EXPECT_TRUE(d.labelled);
  EXPECT_EQ(d.dim, 6);
  auto tr = gather_labels(d.train), ho = gather_labels(d.heldout), x = gather(d.train);
  if (world().root()) {
    ASSERT_EQ(tr.size(), 23u);
    for (int i = 0; i < 23; ++i) EXPECT_EQ(tr[i], double((i * 7) % 10)) << i;
    for (int i = 0; i < 9; ++i) EXPECT_EQ(ho[i], double((i * 7) % 10)) << i;
    EXPECT_EQ(x[6 * 5 + 1], double(Real(byte_of(5, 1)) / Real(255)));  // the images stay scaled
  }
  // data.holdout of one file: the labels split with the rows.
  d = load({"--data.path=" + tmp("l_img.gz"), "--data.labels=" + tmp("l_lab.gz"), "--data.holdout=0.25"});
  ho = gather_labels(d.heldout);
  if (world().root()) {
    for (int i = 0; i < 6; ++i) EXPECT_EQ(ho[i], double(((17 + i) * 7) % 10)) << i;
  }

  std::string text = "a,label,b\n";
  for (int i = 0; i < 11; ++i)
    text += std::to_string(0.5 * i) + "," + std::to_string(i % 3) + "," + std::to_string(-i) + "\n";
  on_root([&] { write_text(tmp("l.csv"), text); });
  d = load({"--data.type=csv", "--data.path=" + tmp("l.csv"), "--data.labels=1"});
  EXPECT_EQ(d.dim, 2);
  tr = gather_labels(d.train);
  x = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 11; ++i) {
      EXPECT_EQ(tr[i], double(i % 3));
      EXPECT_EQ(x[2 * i], double(Real(0.5 * i)));
      EXPECT_EQ(x[2 * i + 1], double(-i));
    }
  }

  std::vector<double> hx(13 * 2), hy(13);
  for (int i = 0; i < 13; ++i) hx[2 * i] = i, hx[2 * i + 1] = -i, hy[i] = 12 - i;
  on_root([&] {
    auto f = io::create_serial(tmp("l.h5"));
    io::write_array<double>(f.id(), "/x", {13, 2}, hx.data());
    io::write_array<double>(f.id(), "/y", {13}, hy.data());
    io::write_array<double>(f.id(), "/y_short", {12}, hy.data());
    io::write_array<double>(f.id(), "/y_half", {13}, hx.data());
  });
  d = load({"--data.type=hdf5", "--data.path=" + tmp("l.h5"), "--data.labels=/y"});
  tr = gather_labels(d.train);
  if (world().root()) {
    for (int i = 0; i < 13; ++i) EXPECT_EQ(tr[i], double(12 - i));
  }

  // Bad labels: one clear error naming the key.
  const std::string img = "--data.path=" + tmp("l_img.gz");
  EXPECT_MENTIONS(load_error({img, "--data.labels=" + tmp("missing.gz")}), "data.labels");
  EXPECT_MENTIONS(load_error({img, "--data.labels=" + tmp("l_lab_t.gz")}),
                  "data.labels: '" + tmp("l_lab_t.gz") + "' has 9 labels but");
  EXPECT_MENTIONS(load_error({img, "--data.labels=" + tmp("l_img_t.gz")}), "values per example");
  EXPECT_MENTIONS(load_error({img, "--data.labels=" + tmp("l_lab.gz"), "--data.heldout_path=" + tmp("l_img_t.gz")}),
                  "data.heldout_labels");
  EXPECT_MENTIONS(load_error({img, "--data.labels=" + tmp("l_lab.gz"), "--data.heldout_path=" + tmp("l_img_t.gz"),
                              "--data.heldout_labels=" + tmp("l_lab.gz")}),
                  "data.heldout_labels: '" + tmp("l_lab.gz") + "' has 23 labels");
  EXPECT_MENTIONS(load_error({"--data.type=csv", "--data.path=" + tmp("l.csv"), "--data.labels=3"}), "data.labels");
  EXPECT_MENTIONS(load_error({"--data.type=csv", "--data.path=" + tmp("l.csv"), "--data.labels=first"}), "data.labels");
  // Column 0 holds 0, 0.5, 1, …: not whole numbers.
  EXPECT_MENTIONS(load_error({"--data.type=csv", "--data.path=" + tmp("l.csv"), "--data.labels=0"}),
                  "data.labels: example 1 of");
  EXPECT_MENTIONS(load_error({"--data.type=csv", "--data.path=" + tmp("l.csv"), "--data.labels=2"}), "has label -1");
  EXPECT_MENTIONS(load_error({"--data.type=hdf5", "--data.path=" + tmp("l.h5"), "--data.labels=/y_short"}),
                  "data.labels: dataset /y_short");
  EXPECT_MENTIONS(load_error({"--data.type=hdf5", "--data.path=" + tmp("l.h5"), "--data.labels=/nope"}), "data.labels");
  EXPECT_MENTIONS(load_error({"--data.type=hdf5", "--data.path=" + tmp("l.h5"), "--data.labels=/y_half"}),
                  "has label -1");
}

TEST(DataBinarize, ThresholdAtOneHalf) {
  on_root([] { write_gz(tmp("e.idx.gz"), images(37, 4, 4), true); });
  const auto d = load({"--data.path=" + tmp("e.idx.gz"), "--data.binarize=threshold"});
  const auto all = gather(d.train);
  if (world().root()) {
    for (int i = 0; i < 37; ++i)
      for (int k = 0; k < 16; ++k) EXPECT_EQ(all[i * 16 + k], byte_of(i, k) > 127 ? 1.0 : 0.0);
  }
}

TEST(DataBinarize, StochasticBitsDoNotDependOnRanksOrPartitions) {
  on_root([] { write_gz(tmp("f.idx.gz"), images(41, 5, 5), true); });
  const std::string path = "--data.path=" + tmp("f.idx.gz");
  const auto d = load({path, "--data.binarize=stochastic", "--data.holdout=0.25"}, world(), 11);
  const auto tr = gather(d.train), ho = gather(d.heldout);
  // One rank alone, other partitions; a limited file; another seed.
  const auto one = load({path, "--data.binarize=stochastic", "--data.holdout=0.25", "--data.partitions=7"}, self(), 11);
  const auto cut = load({path, "--data.binarize=stochastic", "--data.limit=20"}, self(), 11);
  const auto other = load({path, "--data.binarize=stochastic"}, self(), 12);
  const auto one_tr = gather(one.train, self()), one_ho = gather(one.heldout, self());
  const auto cut_tr = gather(cut.train, self()), other_tr = gather(other.train, self());
  if (world().root()) {
    ASSERT_EQ(tr.size(), 31u * 25u);
    EXPECT_EQ(tr, one_tr);
    EXPECT_EQ(ho, one_ho);
    EXPECT_TRUE(std::equal(cut_tr.begin(), cut_tr.end(), tr.begin()));  // keyed by the row in the file
    double ones = 0, mean_x = 0;
    int differ = 0;
    for (std::size_t v = 0; v < tr.size(); ++v) {
      ASSERT_TRUE(tr[v] == 0.0 || tr[v] == 1.0);
      ones += tr[v];
      mean_x += byte_of(std::int64_t(v) / 25, std::int64_t(v) % 25) / 255.0;
      differ += tr[v] != other_tr[v];
    }
    // 775 Bernoulli draws: the fraction of ones is within 5 sigma (< 0.09) of the mean intensity.
    EXPECT_NEAR(ones / double(tr.size()), mean_x / double(tr.size()), 0.09);
    EXPECT_GT(differ, 50) << "another seed must give other bits";
  }
}

//! Global example indices of every row of global batch `step`, in batch order, on rank 0.
std::vector<double> batch_indices(const data::BatchPlan& plan, const data::Split& s, std::int64_t step,
                                  const parallel::Comm& comm) {
  std::vector<double> local;
  std::vector<std::int64_t> rows;
  for (const auto& p : s.local) {
    plan.rows(step, p, rows);
    for (auto r : rows) local.push_back(double(p.begin + r));
  }
  return comm.gather_to_root(local);
}

TEST(DataBatches, GlobalSequenceDoesNotDependOnRanks) {
  on_root([] { write_gz(tmp("g.idx.gz"), images(103, 1, 3), true); });
  const std::string path = "--data.path=" + tmp("g.idx.gz");
  const auto d = load({path});
  const auto serial = load({path}, self());
  const data::BatchPlan plan(d.train, 4, 8, 5), serial_plan(serial.train, 4, 8, 5), reseeded(serial.train, 4, 8, 6);
  EXPECT_EQ(plan.per_partition(), 2);
  EXPECT_EQ(plan.batches_per_epoch(), 12);  // partitions of 26, 26, 26, 25 examples
  const std::int64_t steps = 3 * 12 + 5;
  std::vector<std::vector<double>> seq;
  for (std::int64_t s = 0; s < steps; ++s) {
    seq.push_back(batch_indices(plan, d.train, s, world()));
    // The copied rows are those examples.
    std::vector<Real> buf(d.train.local.size() * 2 * 3);
    plan.copy_batch(s, d.train, buf.data());
    const auto rows = world().gather_to_root(std::vector<double>(buf.begin(), buf.end()));
    if (world().root()) {
      for (int r = 0; r < 8; ++r)
        for (int k = 0; k < 3; ++k)
          ASSERT_EQ(rows[r * 3 + k], double(Real(byte_of(std::int64_t(seq[s][r]), k)) / Real(255)));
    }
  }
  if (!world().root()) return;
  int moved = 0, reseeded_differ = 0;
  for (std::int64_t s = 0; s < steps; ++s) {
    EXPECT_EQ(seq[s], batch_indices(serial_plan, serial.train, s, self())) << "step " << s;
    reseeded_differ += seq[s] != batch_indices(reseeded, serial.train, s, self());
  }
  EXPECT_GT(reseeded_differ, steps / 2);
  for (int e = 0; e < 3; ++e) {
    for (int q = 0; q < 4; ++q) {
      const parallel::ChainRange part = parallel::block_range(103, 4, q);
      std::set<double> seen;
      for (int j = 0; j < 12; ++j)
        for (int r = 0; r < 2; ++r) {
          const double i = seq[e * 12 + j][q * 2 + r];
          EXPECT_GE(i, double(part.offset));
          EXPECT_LT(i, double(part.offset + part.count));
          EXPECT_TRUE(seen.insert(i).second) << "example " << i << " twice in epoch " << e;
          moved += i != double(part.offset + j * 2 + r);
        }
    }
    EXPECT_NE(seq[e * 12], seq[(e + 1) * 12]) << "each epoch has its own permutation";
  }
  EXPECT_GT(moved, 200) << "batches must be shuffled";
}

TEST(DataStandardize, MeanZeroStdOneOverTheTrainingSplit) {
  std::string text;
  std::vector<std::vector<double>> raw;
  for (int i = 0; i < 50; ++i) {
    raw.push_back({std::fmod(i * 0.37, 3.1), 2.5, double((i % 7) * (i % 7))});
    text += std::to_string(raw[i][0]) + "," + std::to_string(raw[i][1]) + "," + std::to_string(raw[i][2]) + "\n";
    std::sscanf(std::to_string(raw[i][0]).c_str(), "%lf", &raw[i][0]);  // as written
  }
  on_root([&] { write_text(tmp("h.csv"), text); });
  const std::vector<std::string> o = {"--data.type=csv", "--data.path=" + tmp("h.csv"), "--data.holdout=0.2",
                                      "--data.standardize=true"};
  const auto d = load(o);
  const auto serial = load(o, self());
  EXPECT_EQ(d.mean, serial.mean);  // bit for bit on any rank count
  EXPECT_EQ(d.scale, serial.scale);
  ASSERT_EQ(d.mean.size(), 3u);
  EXPECT_EQ(d.scale[1], 1.0);  // constant feature
  const double tol = sizeof(Real) == 4 ? 1e-5 : 1e-12;
  // The statistics, recomputed here from the file's numbers.
  for (int k = 0; k < 3; ++k) {
    double m = 0, v = 0;
    for (int i = 0; i < 40; ++i) m += raw[i][k] / 40;
    for (int i = 0; i < 40; ++i) v += (raw[i][k] - m) * (raw[i][k] - m) / 40;
    EXPECT_NEAR(d.mean[k], m, tol);
    if (k != 1) {
      EXPECT_NEAR(d.scale[k], std::sqrt(v), tol);
    }
  }
  const auto tr = gather(d.train), ho = gather(d.heldout);
  if (world().root()) {
    for (int k = 0; k < 3; ++k) {
      double m = 0, v = 0;
      for (int i = 0; i < 40; ++i) m += tr[i * 3 + k] / 40;
      for (int i = 0; i < 40; ++i) v += (tr[i * 3 + k] - m) * (tr[i * 3 + k] - m) / 40;
      EXPECT_NEAR(m, 0.0, tol) << "feature " << k;
      EXPECT_NEAR(v, k == 1 ? 0.0 : 1.0, 10 * tol) << "feature " << k;
    }
    for (int i = 0; i < 10; ++i)  // held out: the training split's statistics
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(ho[i * 3 + k], (raw[40 + i][k] - d.mean[k]) / d.scale[k], 10 * tol);
  }
}

TEST(DataErrors, MissingFiles) {
  for (const char* type : {"idx", "csv", "hdf5"}) {
    const auto e = load_error({std::string("--data.type=") + type, "--data.path=no_such_data_file"});
    EXPECT_MENTIONS(e, "data.path");
    EXPECT_MENTIONS(e, "no_such_data_file");
  }
  on_root([] { write_gz(tmp("i.idx"), images(10, 2, 2), false); });
  const auto e = load_error({"--data.path=" + tmp("i.idx"), "--data.heldout_path=no_such_test_file"});
  EXPECT_MENTIONS(e, "data.heldout_path");
  EXPECT_MENTIONS(e, "no_such_test_file");
}

TEST(DataErrors, TruncatedIdx) {
  auto bytes = images(37, 3, 3);
  bytes.resize(bytes.size() - 5);
  on_root([&] {
    write_gz(tmp("trunc.idx"), bytes, false);
    write_gz(tmp("trunc.idx.gz"), bytes, true);  // a sound gzip stream, short of what the header promises
    write_gz(tmp("trunc_header.idx"), std::vector<unsigned char>(bytes.begin(), bytes.begin() + 9), false);
  });
  // The gzip case is seen only by the rank that reads the last partition, and still fails every rank.
  for (const auto& f : {tmp("trunc.idx"), tmp("trunc.idx.gz"), tmp("trunc_header.idx")}) {
    const auto e = load_error({"--data.path=" + f});
    EXPECT_MENTIONS(e, f);
    EXPECT_MENTIONS(e, "truncated");
  }
  // A cut gzip stream (the compressed file itself cut short).
  on_root([] {
    write_gz(tmp("cut.idx.gz"), images(200, 8, 8), true);
    std::ifstream in(tmp("cut.idx.gz"), std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    write_text(tmp("cut.idx.gz"), s.substr(0, s.size() / 2));
  });
  EXPECT_MENTIONS(load_error({"--data.path=" + tmp("cut.idx.gz")}), tmp("cut.idx.gz"));
}

TEST(DataErrors, BadMagic) {
  on_root([] { write_text(tmp("magic.idx"), "PK\x03\x04 this is a zip file, not IDX"); });
  const auto e = load_error({"--data.path=" + tmp("magic.idx")});
  EXPECT_MENTIONS(e, tmp("magic.idx"));
  EXPECT_MENTIONS(e, "not an IDX file");
}

TEST(DataErrors, MalformedCsvNamesFileAndLine) {
  on_root([] {
    write_text(tmp("ragged.csv"), "a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n");
    write_text(tmp("nan.csv"), "1,2\n3,4\n\n5,nan\n");
    write_text(tmp("inf.csv"), "1,2\n3,-inf\n");
    write_text(tmp("word.csv"), "1,2\n3,4\n5,6\n7,eight\n");
    write_text(tmp("empty.csv"), "x,y\n\n");
  });
  auto e = load_error({"--data.type=csv", "--data.path=" + tmp("ragged.csv")});
  EXPECT_MENTIONS(e, tmp("ragged.csv"));
  EXPECT_MENTIONS(e, "line 4");
  e = load_error({"--data.type=csv", "--data.path=" + tmp("nan.csv")});
  EXPECT_MENTIONS(e, tmp("nan.csv"));
  EXPECT_MENTIONS(e, "line 4");
  EXPECT_MENTIONS(e, "finite");
  EXPECT_MENTIONS(load_error({"--data.type=csv", "--data.path=" + tmp("inf.csv")}), "line 2");
  e = load_error({"--data.type=csv", "--data.path=" + tmp("word.csv")});
  EXPECT_MENTIONS(e, "line 4");
  EXPECT_MENTIONS(e, "eight");
  EXPECT_MENTIONS(load_error({"--data.type=csv", "--data.path=" + tmp("empty.csv")}), tmp("empty.csv"));
}

TEST(DataErrors, HeldoutDimensionMismatch) {
  on_root([] {
    write_gz(tmp("j.idx.gz"), images(12, 2, 2), true);
    write_gz(tmp("j_test.idx.gz"), images(12, 2, 3), true);
  });
  const auto e = load_error({"--data.path=" + tmp("j.idx.gz"), "--data.heldout_path=" + tmp("j_test.idx.gz")});
  EXPECT_MENTIONS(e, "data.heldout_path");
  EXPECT_MENTIONS(e, tmp("j_test.idx.gz"));
}

TEST(DataErrors, TooFewExamplesForPartitions) {
  on_root([] { write_gz(tmp("k.idx"), images(37, 2, 2), false); });
  EXPECT_MENTIONS(load_error({"--data.path=" + tmp("k.idx"), "--data.limit=3"}), "data.limit");
  EXPECT_MENTIONS(load_error({"--data.path=" + tmp("k.idx"), "--data.holdout=0.05"}), "data.holdout");
  EXPECT_MENTIONS(load_error({"--data.path=" + tmp("k.idx"), "--data.partitions=40"}), "data.partitions");
}

TEST(DataErrors, MoreRanksThanPartitions) {
  on_root([] { write_gz(tmp("l.idx"), images(37, 2, 2), false); });
  // One rank: zero partitions is refused; more ranks: one partition fewer than ranks.
  const int parts = world().size() - 1;
  const auto e = load_error({"--data.path=" + tmp("l.idx"), "--data.partitions=" + std::to_string(parts)});
  EXPECT_MENTIONS(e, "data.partitions");
}

TEST(DataErrors, BatchThatDoesNotFitThePartitions) {
  on_root([] { write_gz(tmp("m.idx"), images(37, 2, 2), false); });
  const auto d = load({"--data.path=" + tmp("m.idx")});  // partitions of 10, 9, 9, 9
  const auto batch_error = [&](std::int64_t batch) {
    try {
      data::BatchPlan(d.train, 4, batch, 1);
    } catch (const Error& e) {
      EXPECT_TRUE(e.collective());
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_MENTIONS(batch_error(10), "train.batch");
  EXPECT_MENTIONS(batch_error(10), "data.partitions");
  EXPECT_MENTIONS(batch_error(40), "train.batch");
  EXPECT_MENTIONS(batch_error(0), "train.batch");
  EXPECT_EQ(batch_error(36), "");
  EXPECT_EQ(data::BatchPlan(d.train, 4, 36, 1).batches_per_epoch(), 1);
}

TEST(DataErrors, BadSettings) {
  const auto spec_error = [](const std::vector<std::string>& o) {
    try {
      spec_of(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.type=jpeg"}), "data.type");
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.binarize=maybe"}), "data.binarize");
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.holdout=1"}), "data.holdout");
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.holdout=-0.1"}), "data.holdout");
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.heldout_path=y", "--data.holdout=0.1"}), "data.holdout");
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.limit=-1"}), "data.limit");
  EXPECT_MENTIONS(spec_error({"--data.path=x", "--data.standardize=perhaps"}), "data.standardize");
  EXPECT_MENTIONS(spec_error({}), "data.path");
  EXPECT_EQ(spec_error({"--data.path=x"}), "");
}

TEST(DataFashionMnist, FirstThousandTrainingImages) {
  const std::string f = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  ASSERT_TRUE(std::ifstream(f).good()) << f << " is missing (scripts/install-deps.sh installs dataset-fashion-mnist)";
  const auto d = load({"--data.path=" + f, "--data.limit=1000"});
  EXPECT_EQ(d.dim, 784);
  EXPECT_EQ(d.train.n, 1000);
  expect_partitions(d.train, 4);
  // The bytes, decompressed here independently.
  gzFile gz = gzopen(f.c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  unsigned char h[16];
  ASSERT_EQ(gzread(gz, h, 16), 16);
  EXPECT_EQ(h[2], 0x08);
  EXPECT_EQ(h[3], 3);
  EXPECT_EQ((h[4] << 24) | (h[5] << 16) | (h[6] << 8) | h[7], 60000);
  std::vector<unsigned char> px(784000);
  ASSERT_EQ(gzread(gz, px.data(), unsigned(px.size())), int(px.size()));
  gzclose(gz);
  std::int64_t byte_sum = 0, zeros = 0;
  for (auto b : px) byte_sum += b, zeros += b == 0;
  std::int64_t sum = 0, z = 0;
  for (const auto& p : d.train.local) {
    for (std::int64_t v = 0; v < p.count * 784; ++v) {
      const Real x = p.x[v];
      ASSERT_TRUE(x >= 0 && x <= 1) << x;
      sum += std::llround(double(x) * 255);
      z += x == 0;
      ASSERT_EQ(x, Real(px[p.begin * 784 + v]) / Real(255));
    }
  }
  EXPECT_EQ(world().sum(sum), byte_sum);
  EXPECT_EQ(world().sum(z), zeros);
  EXPECT_GT(byte_sum, 1000 * 784 * 30);  // Fashion-MNIST's mean intensity is about 73/255
}

}  // namespace
}  // namespace zeta
