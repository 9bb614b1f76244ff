//! IDX files (the MNIST format) through zlib, so .gz and raw files read alike:
//! magic 0x00 0x00 TYPE NDIMS, NDIMS big-endian uint32 sizes, then the values
//! big-endian. Example i is the i-th slice along the first dimension.
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

#include "readers.hpp"
#include "zeta/core/error.hpp"

namespace zeta::data::detail {

namespace {

//! Bytes per value of an IDX element type, 0 if the type is unknown.
int element_size(unsigned type) {
  switch (type) {
    case 0x08: return 1;  // unsigned byte
    case 0x09: return 1;  // signed byte
    case 0x0B: return 2;  // short
    case 0x0C: return 4;  // int
    case 0x0D: return 4;  // float
    case 0x0E: return 8;  // double
    default: return 0;
  }
}

std::uint64_t big_endian(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

//! One value of type `type` at p, as Real (unsigned bytes scaled to [0, 1]).
Real convert(unsigned type, const unsigned char* p) {
  switch (type) {
    case 0x08: return Real(p[0]) / Real(255);
    case 0x09: return Real(static_cast<std::int8_t>(p[0]));
    case 0x0B: return Real(static_cast<std::int16_t>(big_endian(p, 2)));
    case 0x0C: return Real(static_cast<std::int32_t>(big_endian(p, 4)));
    case 0x0D: {
      const auto bits = static_cast<std::uint32_t>(big_endian(p, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      return Real(f);
    }
    default: {
      const std::uint64_t bits = big_endian(p, 8);
      double d;
      std::memcpy(&d, &bits, 8);
      return Real(d);
    }
  }
}

//! Real(b) / 255 for every byte b: the exact values convert() gives.
struct ByteScale {
  Real value[256];
  ByteScale() {
    for (int b = 0; b < 256; ++b) value[b] = Real(b) / Real(255);
  }
};
const ByteScale kByteScale;

//! An open IDX file with its parsed header.
class IdxFile {
 public:
  explicit IdxFile(const std::string& path) : path_(path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw Error("'" + path + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error("'" + path + "' is a directory, not a data file");
    gz_ = gzopen(path.c_str(), "rb");
    if (!gz_) throw Error("cannot open '" + path + "': " + std::strerror(errno ? errno : ENOMEM));
    gzbuffer(gz_, 1 << 17);
    unsigned char magic[4];
    if (read(magic, 4) != 4) throw Error("'" + path + "' is too short to be an IDX file");
    type_ = magic[2];
    const int ndims = magic[3];
    if (magic[0] != 0 || magic[1] != 0 || element_size(type_) == 0 || ndims < 1) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%02X%02X%02X%02X", magic[0], magic[1], magic[2], magic[3]);
      throw Error("'" + path + "' is not an IDX file: magic " + hex +
                  " (expected 0x00000803 for images, 0x00000801 for labels, or another IDX type)");
    }
    std::vector<unsigned char> d(4 * std::size_t(ndims));
    if (read(d.data(), int(d.size())) != int(d.size()))
      throw Error("'" + path + "' is truncated inside its IDX header");
    header_bytes_ = 4 + 4 * std::int64_t(ndims);
    constexpr std::int64_t kMaxValues = std::int64_t(1) << 40;
    shape_.rows = std::int64_t(big_endian(d.data(), 4));
    std::int64_t dim = 1;
    for (int k = 1; k < ndims; ++k) {
      dim *= std::int64_t(big_endian(d.data() + 4 * k, 4));
      if (dim > (1 << 30)) throw Error("'" + path + "': an example of more than 2^30 values is not supported");
    }
    if (dim < 1) throw Error("'" + path + "' has examples of 0 values");
    if (shape_.rows > kMaxValues / dim) throw Error("'" + path + "' is impossibly large (corrupt header?)");
    shape_.dim = int(dim);
    row_bytes_ = dim * element_size(type_);
    // A raw file's size is known now; a gzip stream's only once it is read through.
    if (gzdirect(gz_) && st.st_size < header_bytes_ + shape_.rows * row_bytes_)
      throw truncated(std::int64_t(st.st_size) - header_bytes_);
  }
  ~IdxFile() {
    if (gz_) gzclose_r(gz_);
  }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  const FileShape& shape() const { return shape_; }

  //! Reads rows [first, first + count) into out (count × dim).
  void rows(std::int64_t first, std::int64_t count, Real* out, bool scale_bytes) {
    if (count == 0) return;
    const std::int64_t at = header_bytes_ + first * row_bytes_;
    if (gzseek(gz_, z_off_t(at), SEEK_SET) != z_off_t(at)) fail("cannot seek to example " + std::to_string(first));
    const std::int64_t chunk_rows = std::max<std::int64_t>(1, (std::int64_t(1) << 20) / row_bytes_);
    std::vector<unsigned char> buf(std::size_t(std::min(count, chunk_rows) * row_bytes_));
    const int es = element_size(type_);
    const std::int64_t dim = shape_.dim;
    for (std::int64_t done = 0; done < count;) {
      const std::int64_t n = std::min(chunk_rows, count - done);
      const int want = int(n * row_bytes_);
      const int got = read(buf.data(), want);
      if (got != want) throw truncated((first + done) * row_bytes_ + std::max(got, 0), zlib_message());
      Real* o = out + done * dim;
      if (type_ == 0x08 && !scale_bytes) {  // labels
        for (std::int64_t v = 0; v < n * dim; ++v) o[v] = Real(buf[v]);
      } else if (type_ == 0x08) {  // the common case (MNIST), by table
        for (std::int64_t v = 0; v < n * dim; ++v) o[v] = kByteScale.value[buf[v]];
      } else {
        for (std::int64_t v = 0; v < n * dim; ++v) o[v] = convert(type_, buf.data() + v * es);
      }
      done += n;
    }
  }

 private:
  int read(void* p, int n) {
    const int got = gzread(gz_, p, unsigned(n));
    if (got < 0) fail("read error");
    return got;
  }
  //! " (zlib: …)" if the stream reported an error, else "".
  std::string zlib_message() const {
    int code = Z_OK;
    const char* msg = gzerror(gz_, &code);
    return code != Z_OK && msg && *msg ? std::string(" (zlib: ") + msg + ")" : "";
  }
  [[noreturn]] void fail(const std::string& what) const { throw Error("'" + path_ + "': " + what + zlib_message()); }
  Error truncated(std::int64_t data_bytes, const std::string& why = "") const {
    return Error("'" + path_ + "' is truncated: its header promises " + std::to_string(shape_.rows) + " examples of " +
                 std::to_string(shape_.dim) + " values (" + std::to_string(shape_.rows * row_bytes_) +
                 " bytes of data) but the data ends after " + std::to_string(std::max<std::int64_t>(data_bytes, 0)) +
                 " bytes" + why);
  }

  std::string path_;
  gzFile gz_ = nullptr;
  unsigned type_ = 0;
  std::int64_t header_bytes_ = 0, row_bytes_ = 0;
  FileShape shape_;
};

}  // namespace

FileShape idx_shape(const std::string& path) {
  return IdxFile(path).shape();
}

std::vector<std::vector<Real>> idx_read(const std::string& path, const FileShape& shape,
                                        const std::vector<RowRange>& ranges, bool scale_bytes) {
  IdxFile f(path);
  if (f.shape().rows != shape.rows || f.shape().dim != shape.dim)
    throw Error("'" + path + "' changed while it was being read");
  std::vector<std::vector<Real>> out;
  for (const auto& r : ranges) {
    out.emplace_back(std::size_t(r.count) * std::size_t(shape.dim));
    f.rows(r.first, r.count, out.back().data(), scale_bytes);
    check_finite(path, out.back(), shape.dim, r.first);
  }
  return out;
}

double data_bound() {
  return std::is_same_v<Real, float> ? 1e15 : 1e100;
}

std::string value_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

void check_finite(const std::string& path, const std::vector<Real>& x, int dim, std::int64_t first_row) {
  const Real bound = Real(data_bound());
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i]) <= bound)) {  // also NaN
      const std::string where = "'" + path + "': example " + std::to_string(first_row + std::int64_t(i) / dim) +
                                " value " + std::to_string(std::int64_t(i) % dim);
      if (!std::isfinite(x[i])) throw Error(where + " is not finite");
      throw Error(where + " (" + value_text(x[i]) + ") is beyond +-" + value_text(data_bound()) +
                  ", the largest magnitude zeta takes in data");
    }
}

}  // namespace zeta::data::detail
