//! RAII HDF5: every call checked, errors name the file and object.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::io {

//! Owns one hid_t and closes it with the right H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    reset();
    id_ = std::exchange(o.id_, H5I_INVALID_HID);
    close_ = o.close_;
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t id() const { return id_; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

template <class T>
hid_t h5_type();

//! A file written collectively by every rank of `comm` (MPI-IO driver). It is
//! created as PATH.partial and renamed to PATH by finish(); an existing PATH is
//! kept as PATH.~N~ rather than overwritten. If never finished, the partial
//! file is removed.
class OutputFile {
 public:
  OutputFile(const Comm& comm, std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  hid_t id() const { return file_.id(); }

  //! Collective: the same values on every rank.
  void attribute(const std::string& name, const std::string& value);
  void attribute(const std::string& name, std::int64_t value);

  //! Collective: creates a dataset of Real with intermediate groups.
  hid_t create(const std::string& name, const std::vector<hsize_t>& dims);
  //! Collective write of a hyperslab [start, start + count) of dataset `dset`.
  //! Ranks with nothing to write pass a zero count.
  void write(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count, const Real* data);
  //! Same for double data (e.g. coordinates, statistics).
  hid_t create_double(const std::string& name, const std::vector<hsize_t>& dims);
  void write_double(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                    const double* data);
  //! Collective: creates a double dataset of `dims` and writes all of it from rank 0's
  //! `data` (the others' is not read): values every rank holds, or rank 0 gathered.
  void write_root_double(const std::string& name, const std::vector<hsize_t>& dims, const double* data);
  //! Same for int64 data (e.g. replica indices).
  hid_t create_int64(const std::string& name, const std::vector<hsize_t>& dims);
  void write_int64(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                   const std::int64_t* data);

  //! Closes, then rank 0 moves PATH.partial to PATH (keeping an older PATH as a backup).
  void finish();

 private:
  hid_t create_typed(const std::string& name, const std::vector<hsize_t>& dims, hid_t type);
  void write_typed(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                   const void* data, hid_t type);

  const Comm& comm_;
  std::string path_, partial_;
  Handle file_;
  std::vector<Handle> datasets_;
  bool finished_ = false;
};

//! Serial read of a whole dataset as double; the shape is returned in `dims`.
//! Errors name the file and dataset.
std::vector<double> read_doubles(const std::string& file, const std::string& dataset, std::vector<hsize_t>& dims);
//! True if `dataset` exists in an open file.
bool exists(hid_t file, const std::string& dataset);
//! Serial write of a double dataset (creates groups); for parameter files.
void write_doubles(hid_t file, const std::string& dataset, const std::vector<hsize_t>& dims, const double* data);
//! Opens an existing file read-only (serial), or throws naming it.
Handle open_read(const std::string& file);
//! Creates (truncates) a file for serial writing, or throws naming it.
Handle create_serial(const std::string& file);

//! Serial write / read of a whole dataset of T (double, float, int64, int8) in an
//! open file; reads check the shape against `dims` when it is not empty and name
//! the file and dataset on failure.
template <class T>
void write_array(hid_t file, const std::string& dataset, const std::vector<hsize_t>& dims, const T* data);
template <class T>
std::vector<T> read_array(hid_t file, const std::string& file_name, const std::string& dataset,
                          const std::vector<hsize_t>& dims);
//! Serial string attribute on the root group (write) or its value (read; throws naming it if absent).
void write_string_attribute(hid_t file, const std::string& name, const std::string& value);
std::string read_string_attribute(hid_t file, const std::string& file_name, const std::string& name);

//! Moves `path` aside to the first free PATH.~N~ if it exists.
void backup_existing(const std::string& path);

}  // namespace zeta::io
