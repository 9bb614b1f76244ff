//! HDF5 data: a numeric dataset [examples, features] (or [examples], dim 1), read
//! one hyperslab per row range, converted to Real by HDF5.
#include "readers.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::data::detail {

namespace {

struct Opened {
  io::Handle file, dset, space;
  FileShape shape;
};

Opened open_dataset(const std::string& path, const std::string& dataset) {
  Opened o;
  o.file = io::open_read(path);
  const std::string what = "dataset " + dataset + " in '" + path + "'";
  if (!io::exists(o.file.id(), dataset)) throw Error("'" + path + "' has no dataset " + dataset);
  o.dset = io::Handle(H5Dopen2(o.file.id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (o.dset.id() < 0) throw Error("cannot open " + what);
  io::Handle type(H5Dget_type(o.dset.id()), H5Tclose);
  const H5T_class_t cls = type.id() < 0 ? H5T_NO_CLASS : H5Tget_class(type.id());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw Error(what + " is not numeric");
  o.space = io::Handle(H5Dget_space(o.dset.id()), H5Sclose);
  const int rank = o.space.id() < 0 ? -1 : H5Sget_simple_extent_ndims(o.space.id());
  if (rank != 1 && rank != 2)
    throw Error(what + " has rank " + std::to_string(rank) + "; expected 2 (examples × features)");
  hsize_t dims[2] = {0, 1};
  if (H5Sget_simple_extent_dims(o.space.id(), dims, nullptr) < 0) throw Error("cannot read the shape of " + what);
  if (dims[1] < 1 || dims[1] > (hsize_t(1) << 30)) throw Error(what + " has an unsupported number of features");
  o.shape.rows = std::int64_t(dims[0]);
  o.shape.dim = int(dims[1]);
  return o;
}

}  // namespace

FileShape hdf5_shape(const std::string& path, const std::string& dataset) {
  return open_dataset(path, dataset).shape;
}

std::vector<std::vector<Real>> hdf5_read(const std::string& path, const std::string& dataset, const FileShape& shape,
                                         const std::vector<RowRange>& ranges) {
  Opened o = open_dataset(path, dataset);
  if (o.shape.rows != shape.rows || o.shape.dim != shape.dim)
    throw Error("'" + path + "' changed while it was being read");
  std::vector<std::vector<Real>> out;
  for (const auto& r : ranges) {
    out.emplace_back(std::size_t(r.count) * std::size_t(shape.dim));
    if (r.count == 0) continue;
    // A 1-D dataset's selection reads only the first entry of start and count.
    const hsize_t start[2] = {hsize_t(r.first), 0}, count[2] = {hsize_t(r.count), hsize_t(shape.dim)};
    const hsize_t n = count[0] * count[1];
    io::Handle mspace(H5Screate_simple(1, &n, nullptr), H5Sclose);
    if (mspace.id() < 0 || H5Sselect_hyperslab(o.space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
        H5Dread(o.dset.id(), io::h5_type<Real>(), mspace.id(), o.space.id(), H5P_DEFAULT, out.back().data()) < 0)
      throw Error("cannot read examples " + std::to_string(r.first) + ".." + std::to_string(r.first + r.count - 1) +
                  " of dataset " + dataset + " in '" + path + "'");
    check_finite(path, out.back(), shape.dim, r.first);
  }
  return out;
}

}  // namespace zeta::data::detail
