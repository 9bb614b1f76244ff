//! File readers behind data::load: each reports a file's shape, then reads only
//! the row ranges a rank asks for. Errors are zeta::Error naming the file (and
//! line or example); load() adds the configuration key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/data/dataset.hpp"

namespace zeta::data::detail {

//! Examples (rows) × values per example (dim) of a data file.
struct FileShape {
  std::int64_t rows = 0;
  int dim = 0;
};

//! Rows [first, first + count) of a file.
struct RowRange {
  std::int64_t first = 0, count = 0;
};

//! IDX (MNIST format), raw or gzip: the header, and for a raw file a size check.
FileShape idx_shape(const std::string& path);
//! One pass (gzseek forward between ranges, which must ascend); unsigned bytes are
//! scaled by 1/255 (but with `scale_bytes` false: labels), other element types are
//! read as they are.
std::vector<std::vector<Real>> idx_read(const std::string& path, const FileShape& shape,
                                        const std::vector<RowRange>& ranges, bool scale_bytes = true);

//! CSV: scans the whole file, so every malformed line is found here.
FileShape csv_shape(const std::string& path);
std::vector<std::vector<Real>> csv_read(const std::string& path, const FileShape& shape,
                                        const std::vector<RowRange>& ranges);

//! HDF5: a 1-D (dim 1) or 2-D numeric dataset; one hyperslab read per range.
FileShape hdf5_shape(const std::string& path, const std::string& dataset);
std::vector<std::vector<Real>> hdf5_read(const std::string& path, const std::string& dataset, const FileShape& shape,
                                         const std::vector<RowRange>& ranges);

//! The largest magnitude a data value may have: 1e100 in double, 1e15 in float.
//! Squares of such values summed over 10^8 of them (a batch times a dimension) stay
//! finite (1e208, 1e38), with room to spare in double for weights and products; a
//! larger value is a broken file, which would otherwise surface as a "diverged"
//! training.
double data_bound();
//! A value as the error messages show it (%.6g).
std::string value_text(double v);

//! Throws naming the file, example, value index and value if any value is NaN,
//! infinite or beyond ±data_bound().
void check_finite(const std::string& path, const std::vector<Real>& x, int dim, std::int64_t first_row);

}  // namespace zeta::data::detail
