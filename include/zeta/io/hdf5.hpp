//! RAII HDF5: every call checked, errors name the file and object.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "zeta/core/json.hpp"
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
  void reset() { close(); }
  //! Closes once and forgets the id, whatever the result (a failed H5Fclose must
  //! not be retried on the same id); the close's status.
  herr_t close() {
    herr_t rc = 0;
    if (id_ >= 0 && close_) rc = close_(id_);
    id_ = H5I_INVALID_HID;
    return rc;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

template <class T>
hid_t h5_type();

//! A file written collectively by every rank of `comm` (MPI-IO driver). It is
//! created (exclusively) as PATH.partial.HOST.PID.RANDOM, a name no other run
//! shares, and published as PATH by finish(); nothing is ever overwritten: a PATH
//! that existed when the run started is kept as PATH.~N~ (unless output.backups
//! limits the backups: set_output_backups), and if another run
//! published PATH meanwhile, this run's output takes the next free PATH.~N~ (above every existing one)
//! instead (path() then names it, and a warning says so). If never finished, the
//! partial file is removed.
class OutputFile {
 public:
  OutputFile(const parallel::Comm& comm, std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  //! The file's name: output.file, or after finish() the name it was published under.
  const std::string& path() const { return path_; }
  //! The unique name the file is written under until finish().
  const std::string& partial_path() const { return partial_; }
  hid_t id() const { return file_.id(); }

  //! Collective: the same values on every rank.
  void attribute(const std::string& name, const std::string& value);
  void attribute(const std::string& name, std::int64_t value);
  //! Collective: attribute `name` on the group or dataset `object` (replacing one of that name).
  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void attribute(const std::string& object, const std::string& name, double value);
  void attribute(const std::string& object, const std::string& name, std::int64_t value);
  //! Collective: the attributes every dataset carries: `units` ("1" when
  //! dimensionless, as in CF conventions), `description` (what the numbers are,
  //! e.g. "total magnetisation of the lattice, not per spin") and, when given,
  //! `axes` (one name per dimension, slowest first, e.g. {"step", "replica"}).
  void describe(const std::string& object, const std::string& units, const std::string& description,
                const std::vector<std::string>& axes = {});
  //! Collective: group `group` (default /summary) whose attributes are the fields
  //! of `json` (the command's JSON line): strings as UTF-8 strings, numbers as
  //! float64 (null = NaN), integers as int64, booleans as the enum h5py reads as
  //! numpy.bool_, arrays as 1-D float64.
  void write_summary(const JsonSummary& json, const std::string& group = "/summary");

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
  //! As write_root_double, for int64 data (e.g. step numbers).
  void write_root_int64(const std::string& name, const std::vector<hsize_t>& dims, const std::int64_t* data);

  //! Collective: an extendible, chunked dataset of Real of [rows, row_dims...] that
  //! starts empty and grows, a chunk at a time, as write_row() reaches new rows (at
  //! most `max_rows`): the file holds the rows written, not the rows a run might
  //! reach. Chunks are rows of at least 64 KiB (at most `max_rows` rows).
  hid_t create_rows(const std::string& name, const std::vector<hsize_t>& row_dims, hsize_t max_rows);
  //! Collective write of [start, start + count) within row `row` of a create_rows dataset
  //! (start and count without the row index); grows the dataset to hold the row.
  void write_row(hid_t dset, hsize_t row, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                 const Real* data);
  //! Collective: a create_rows dataset ends with exactly `rows` rows (those written).
  void end_rows(hid_t dset, hsize_t rows);

  //! Rank 0 runs `f(published name)` right after finish() publishes the file (e.g. a
  //! sidecar that names it): nothing refers to a file that never appeared.
  void after_publish(std::function<void(const std::string&)> f) { after_publish_.push_back(std::move(f)); }

  //! Collective: closes, then rank 0 publishes the file without overwriting anything
  //! (see the class comment); returns path(), the name it got.
  const std::string& finish();

 private:
  Handle open_object(const std::string& object);
  hid_t create_typed(const std::string& name, const std::vector<hsize_t>& dims, hid_t type);
  void write_typed(hid_t dset, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                   const void* data, hid_t type);
  void set_rows(hid_t dset, hsize_t rows);

  struct Rows {
    hid_t dset;
    std::vector<hsize_t> dims;  //!< the current extent, rows first
    hsize_t chunk_rows, max_rows;
  };
  Rows& rows_of(hid_t dset);

  const parallel::Comm& comm_;
  std::string path_, partial_;
  std::uint64_t existing_dev_ = 0, existing_ino_ = 0;  //!< PATH when the run started (rank 0; 0, 0: none)
  Handle file_;
  std::vector<Handle> datasets_;
  std::vector<Rows> rows_;
  std::vector<std::function<void(const std::string&)>> after_publish_;
  bool finished_ = false;
};

//! Rank 0's publication of a closed output: gives `partial` the name `path` without
//! overwriting any file, moving aside the file that was at `path` when the run
//! started (identified by `existing_dev`, `existing_ino`; 0, 0 for none) to the
//! next free PATH.~N~ (above every existing one). If `path` is taken by another file (another run's output),
//! `partial` takes the next free PATH.~N~ (above every existing one) instead. Returns the name it got.
std::string publish_output(const std::string& partial, const std::string& path, std::uint64_t existing_dev,
                           std::uint64_t existing_ino);

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

//! Closes the HDF5 library (call before MPI_Finalize; HDF5's own atexit handler is
//! off). Skipped after a failed file close, which HDF5's shutdown cannot take.
void shutdown();

//! Moves `path` aside to the next free PATH.~N~ (above every existing one) if it exists.
void backup_existing(const std::string& path);

//! How many backups PATH.~N~ a publication keeps (output.backups; process-wide, set
//! by each command before it opens its output): -1 all (the default); N >= 0 the N
//! newest (highest N), older ones removed after the publication; 0 replaces the file
//! that was at PATH when the run started, atomically, with no backup.
void set_output_backups(int keep);
int output_backups();
//! Removes the oldest PATH.~N~ (lowest N) until at most `keep` remain (keep < 0: none).
void prune_backups(const std::string& path, int keep);

}  // namespace zeta::io
