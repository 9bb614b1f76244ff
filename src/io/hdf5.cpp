#include "zeta/io/hdf5.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "zeta/core/error.hpp"

namespace zeta::io {

template <>
hid_t h5_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t h5_type<float>() {
  return H5T_NATIVE_FLOAT;
}

template <>
hid_t h5_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t h5_type<std::int8_t>() {
  return H5T_NATIVE_INT8;
}

namespace {
void check(herr_t rc, const std::string& what, const std::string& file) {
  if (rc < 0) throw Error("HDF5 failed to " + what + " in '" + file + "'");
}
hid_t checked(hid_t id, const std::string& what, const std::string& file) {
  if (id < 0) throw Error("HDF5 failed to " + what + " in '" + file + "'");
  return id;
}
bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
struct QuietErrors {
  QuietErrors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const QuietErrors quiet_errors;
//! The variable-length UTF-8 string type of every string attribute.
Handle utf8_string_type(const std::string& file) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  check(H5Tset_size(type.id(), H5T_VARIABLE), "make a string type", file);
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "make a string type", file);
  return type;
}
}  // namespace

void backup_existing(const std::string& path) {
  if (!file_exists(path)) return;
  for (int n = 1;; ++n) {
    const std::string b = path + ".~" + std::to_string(n) + "~";
    if (!file_exists(b)) {
      if (std::rename(path.c_str(), b.c_str()) != 0) throw Error("cannot back up existing '" + path + "'", false);
      std::fprintf(stderr, "zeta: kept existing '%s' as '%s'\n", path.c_str(), b.c_str());
      return;
    }
  }
}

OutputFile::OutputFile(const Comm& comm, std::string path)
    : comm_(comm), path_(std::move(path)), partial_(path_ + ".partial") {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  check(H5Pset_fapl_mpio(fapl.id(), comm_.raw(), MPI_INFO_NULL), "set the MPI-IO driver", partial_);
  const hid_t f = H5Fcreate(partial_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
  if (comm_.any(f < 0)) {
    if (f >= 0) H5Fclose(f);
    throw Error("cannot create output file '" + partial_ + "'");
  }
  file_ = Handle(f, H5Fclose);
}

OutputFile::~OutputFile() {
  if (finished_) return;
  datasets_.clear();
  file_.reset();
  if (comm_.root()) std::remove(partial_.c_str());
}

void OutputFile::attribute(const std::string& name, const std::string& value) {
  const Handle type = utf8_string_type(path_);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(checked(H5Acreate2(file_.id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
                      "create attribute " + name, path_),
              H5Aclose);
  const char* p = value.c_str();
  check(H5Awrite(attr.id(), type.id(), &p), "write attribute " + name, path_);
}

void OutputFile::attribute(const std::string& name, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(checked(H5Acreate2(file_.id(), name.c_str(), H5T_NATIVE_INT64, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                      "create attribute " + name, path_),
              H5Aclose);
  check(H5Awrite(attr.id(), H5T_NATIVE_INT64, &value), "write attribute " + name, path_);
}

hid_t OutputFile::create_typed(const std::string& name, const std::vector<hsize_t>& dims, hid_t type) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set link properties", path_);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  const hid_t d = checked(H5Dcreate2(file_.id(), name.c_str(), type, space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT),
                          "create dataset " + name, path_);
  datasets_.emplace_back(d, H5Dclose);
  return d;
}

hid_t OutputFile::create(const std::string& name, const std::vector<hsize_t>& dims) {
  return create_typed(name, dims, h5_type<Real>());
}

hid_t OutputFile::create_double(const std::string& name, const std::vector<hsize_t>& dims) {
  return create_typed(name, dims, H5T_NATIVE_DOUBLE);
}

void OutputFile::write_typed(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                             const void* data, hid_t type) {
  Handle fspace(H5Dget_space(dset), H5Sclose);
  if (H5Sget_simple_extent_npoints(fspace.id()) == 0) return;  // an empty dataset (the same on every rank)
  hsize_t n = 1;
  for (auto c : count) n *= c;
  Handle mspace(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (n == 0) {
    check(H5Sselect_none(fspace.id()), "select", path_);
    check(H5Sselect_none(mspace.id()), "select", path_);
  } else {
    check(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
          "select a hyperslab", path_);
  }
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  check(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE), "set collective transfer", path_);
  check(H5Dwrite(dset, type, mspace.id(), fspace.id(), dxpl.id(), data), "write a dataset", path_);
}

void OutputFile::write(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                       const Real* data) {
  write_typed(dset, start, count, data, h5_type<Real>());
}

void OutputFile::write_double(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                              const double* data) {
  write_typed(dset, start, count, data, H5T_NATIVE_DOUBLE);
}

void OutputFile::write_root_double(const std::string& name, const std::vector<hsize_t>& dims, const double* data) {
  const hid_t ds = create_double(name, dims);
  const std::vector<hsize_t> start(dims.size(), 0);
  write_double(ds, start, comm_.root() ? dims : std::vector<hsize_t>(dims.size(), 0), data);
}

hid_t OutputFile::create_int64(const std::string& name, const std::vector<hsize_t>& dims) {
  return create_typed(name, dims, H5T_NATIVE_INT64);
}

void OutputFile::write_int64(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                             const std::int64_t* data) {
  write_typed(dset, start, count, data, H5T_NATIVE_INT64);
}

void OutputFile::finish() {
  datasets_.clear();
  const herr_t rc = H5Fclose(file_.id());
  file_ = Handle();
  if (comm_.any(rc < 0)) throw Error("HDF5 failed to close '" + partial_ + "'");
  std::string why;
  if (comm_.root()) {
    try {
      backup_existing(path_);
      if (std::rename(partial_.c_str(), path_.c_str()) != 0)
        why = "cannot rename '" + partial_ + "' to '" + path_ + "'";
    } catch (const Error& e) {
      why = e.what();
    }
  }
  comm_.broadcast(why);
  if (!why.empty()) throw Error(why);
  finished_ = true;
}

Handle open_read(const std::string& file) {
  if (!file_exists(file)) throw Error("file '" + file + "' does not exist");
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw Error("'" + file + "' is not a readable HDF5 file");
  return Handle(f, H5Fclose);
}

Handle create_serial(const std::string& file) {
  const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) throw Error("cannot create '" + file + "'");
  return Handle(f, H5Fclose);
}

bool exists(hid_t file, const std::string& dataset) {
  // Check each path component so missing groups are not errors.
  std::string prefix;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dataset.find('/', pos + 1);
    prefix = dataset.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

namespace {
std::string shape_text(const std::vector<hsize_t>& v) {
  std::string t = "[";
  for (std::size_t i = 0; i < v.size(); ++i) t += (i ? ", " : "") + std::to_string(v[i]);
  return t + "]";
}

//! The one dataset writer: creates groups, writes all of `data`; `collective`
//! says whether a failure is raised on every rank alike.
template <class T>
void write_dataset(hid_t file, const std::string& dataset, const std::vector<hsize_t>& dims, const T* data,
                   bool collective) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle d(H5Dcreate2(file, dataset.c_str(), h5_type<T>(), space.id(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT),
           H5Dclose);
  if (d.id() < 0) throw Error("cannot create dataset " + dataset, collective);
  if (H5Dwrite(d.id(), h5_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw Error("cannot write dataset " + dataset, collective);
}

//! The one dataset reader: checks the shape against `dims` unless it is empty,
//! returns the shape in `shape` if given; errors name the file and dataset.
template <class T>
std::vector<T> read_dataset(hid_t file, const std::string& file_name, const std::string& dataset,
                            const std::vector<hsize_t>& dims, std::vector<hsize_t>* shape, bool collective) {
  if (!exists(file, dataset)) throw Error("'" + file_name + "' has no dataset " + dataset, collective);
  Handle d(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (d.id() < 0) throw Error("cannot open dataset " + dataset + " in '" + file_name + "'", collective);
  Handle space(H5Dget_space(d.id()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0) throw Error("cannot read the shape of " + dataset + " in '" + file_name + "'", collective);
  std::vector<hsize_t> got(rank);
  H5Sget_simple_extent_dims(space.id(), got.data(), nullptr);
  if (!dims.empty() && got != dims)
    throw Error(dataset + " in '" + file_name + "' has shape " + shape_text(got) + ", expected " + shape_text(dims),
                collective);
  hsize_t n = 1;
  for (auto x : got) n *= x;
  std::vector<T> out(n);
  if (n && H5Dread(d.id(), h5_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw Error("cannot read dataset " + dataset + " in '" + file_name + "' (corrupt or not numeric)", collective);
  if (shape) *shape = got;
  return out;
}
}  // namespace

std::vector<double> read_doubles(const std::string& file, const std::string& dataset, std::vector<hsize_t>& dims) {
  Handle f = open_read(file);
  return read_dataset<double>(f.id(), file, dataset, {}, &dims, true);
}

void write_doubles(hid_t file, const std::string& dataset, const std::vector<hsize_t>& dims, const double* data) {
  write_dataset(file, dataset, dims, data, true);
}

template <class T>
void write_array(hid_t file, const std::string& dataset, const std::vector<hsize_t>& dims, const T* data) {
  write_dataset(file, dataset, dims, data, false);
}

template <class T>
std::vector<T> read_array(hid_t file, const std::string& file_name, const std::string& dataset,
                          const std::vector<hsize_t>& dims) {
  return read_dataset<T>(file, file_name, dataset, dims, nullptr, false);
}

#define ZETA_ARRAY_IO(T)                                                                                   \
  template void write_array<T>(hid_t, const std::string&, const std::vector<hsize_t>&, const T*);         \
  template std::vector<T> read_array<T>(hid_t, const std::string&, const std::string&,                    \
                                        const std::vector<hsize_t>&);
ZETA_ARRAY_IO(double)
ZETA_ARRAY_IO(float)
ZETA_ARRAY_IO(std::int64_t)
ZETA_ARRAY_IO(std::int8_t)
#undef ZETA_ARRAY_IO

void write_string_attribute(hid_t file, const std::string& name, const std::string& value) {
  const Handle type = utf8_string_type(name);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(file, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  if (attr.id() < 0 || H5Awrite(attr.id(), type.id(), &p) < 0) throw Error("cannot write attribute " + name, false);
}

std::string read_string_attribute(hid_t file, const std::string& file_name, const std::string& name) {
  if (H5Aexists(file, name.c_str()) <= 0) throw Error("'" + file_name + "' has no attribute " + name, false);
  Handle attr(H5Aopen(file, name.c_str(), H5P_DEFAULT), H5Aclose);
  const Handle type = utf8_string_type(file_name);
  char* p = nullptr;
  if (attr.id() < 0 || H5Aread(attr.id(), type.id(), &p) < 0 || !p)
    throw Error("cannot read attribute " + name + " of '" + file_name + "'", false);
  std::string v(p);
  H5free_memory(p);
  return v;
}

}  // namespace zeta::io
