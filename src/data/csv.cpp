//! CSV files: one example per line, comma-separated numbers, every line the same
//! width; blank lines are skipped, and so is a first line in which no field is a
//! number (a header). Anything else that is not a finite number is an error that
//! names the file and line.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "readers.hpp"
#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"

namespace zeta::data::detail {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

//! Parses a whole field (surrounding blanks allowed) as a double.
bool parse_number(const char* b, const char* e, double& v) {
  while (b < e && is_space(*b)) ++b;
  while (e > b && is_space(e[-1])) --e;
  if (b < e && *b == '+') ++b;
  if (b == e) return false;
  const auto r = std::from_chars(b, e, v);
  return r.ec == std::errc() && r.ptr == e;
}

//! A field as an error line shows it: trimmed, bytes outside printable ASCII as \xNN
//! (a binary file must not write control characters to the terminal), at most 40
//! characters of it.
std::string field_text(const char* b, const char* e) {
  const std::string t = trim(std::string(b, e));
  const std::size_t cap = 40;
  std::string out;
  for (std::size_t i = 0; i < t.size() && i < cap; ++i) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (t.size() > cap) out += "... (" + std::to_string(t.size()) + " bytes)";
  return out;
}

//! Calls row(index, values) for each data row until it returns false; returns the shape seen.
template <class Row>
FileShape scan(const std::string& path, Row&& row) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error("'" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error("'" + path + "' is a directory, not a data file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  FileShape shape;
  std::string line;
  std::vector<double> values;
  std::int64_t line_no = 0, width_line = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++line_no;
    const char* p = line.data();
    const char* end = p + line.size();
    while (end > p && is_space(end[-1])) --end;
    if (end == p) continue;
    const auto where = [&] { return "'" + path + "' line " + std::to_string(line_no); };
    values.clear();
    std::size_t bad = std::string::npos;  // index of the first field that is not a number
    const char* bad_b = nullptr;
    const char* bad_e = nullptr;
    bool any_number = false;
    for (const char* b = p;;) {
      const char* e = static_cast<const char*>(std::memchr(b, ',', std::size_t(end - b)));
      if (!e) e = end;
      double v = 0;
      if (parse_number(b, e, v)) {
        any_number = true;
      } else if (bad == std::string::npos) {
        bad = values.size(), bad_b = b, bad_e = e;
      }
      values.push_back(v);
      if (e == end) break;
      b = e + 1;
    }
    const bool header = first && !any_number;
    first = false;
    if (header) continue;
    if (bad != std::string::npos)
      throw Error(where() + ": field " + std::to_string(bad + 1) + " ('" + field_text(bad_b, bad_e) +
                  "') is not a number");
    for (std::size_t k = 0; k < values.size(); ++k) {
      if (!std::isfinite(values[k]) || !std::isfinite(Real(values[k])))
        throw Error(where() + ": field " + std::to_string(k + 1) + " (" + value_text(values[k]) +
                    ") is not a finite number");
      if (!(std::fabs(values[k]) <= data_bound()))
        throw Error(where() + ": field " + std::to_string(k + 1) + " (" + value_text(values[k]) + ") is beyond +-" +
                    value_text(data_bound()) + ", the largest magnitude zeta takes in data");
    }
    if (shape.dim == 0) {
      shape.dim = int(values.size());
      width_line = line_no;
    } else if (int(values.size()) != shape.dim) {
      throw Error(where() + " has " + std::to_string(values.size()) + " values, but line " +
                  std::to_string(width_line) + " has " + std::to_string(shape.dim) +
                  " (every row must have the same width)");
    }
    if (!row(shape.rows, values)) {
      ++shape.rows;
      return shape;
    }
    ++shape.rows;
  }
  if (in.bad()) throw Error("read error in '" + path + "'");
  if (shape.rows == 0) throw Error("'" + path + "' has no rows of numbers");
  return shape;
}

}  // namespace

FileShape csv_shape(const std::string& path) {
  return scan(path, [](std::int64_t, const std::vector<double>&) { return true; });
}

std::vector<std::vector<Real>> csv_read(const std::string& path, const FileShape& shape,
                                        const std::vector<RowRange>& ranges) {
  std::vector<std::vector<Real>> out(ranges.size());
  for (std::size_t k = 0; k < ranges.size(); ++k) out[k].reserve(std::size_t(ranges[k].count) * shape.dim);
  std::int64_t last = 0;  // one past the last row asked for
  for (const auto& r : ranges) last = std::max(last, r.first + r.count);
  if (last == 0) return out;
  std::size_t k = 0;
  const FileShape seen = scan(path, [&](std::int64_t i, const std::vector<double>& v) {
    while (k < ranges.size() && i >= ranges[k].first + ranges[k].count) ++k;
    if (k < ranges.size() && i >= ranges[k].first)
      for (double x : v) out[k].push_back(Real(x));
    return i + 1 < last;
  });
  if (seen.dim != shape.dim || seen.rows < last) throw Error("'" + path + "' changed while it was being read");
  return out;
}

}  // namespace zeta::data::detail
