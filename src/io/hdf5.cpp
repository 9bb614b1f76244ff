#include "zeta/io/hdf5.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/core/fault.hpp"

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
//! Set when an output file failed to close (a full disk): HDF5 then holds a file id
//! that its own shutdown crashes on (H5F__close_cb), so shutdown() leaves it alone.
bool g_close_failed = false;
struct QuietErrors {
  QuietErrors() {
    // No HDF5 atexit handler: it would run after MPI_Finalize (a crash with an open
    // MPI-IO file); main calls shutdown() while MPI is up instead.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
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

namespace {
int g_output_backups = -1;  //!< output.backups: -1 all
}  // namespace

void set_output_backups(int keep) { g_output_backups = keep; }
int output_backups() { return g_output_backups; }

namespace {
//! The backups PATH.~N~ of `path` in its directory, (N, name), lowest N first.
std::vector<std::pair<long long, std::string>> list_backups(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string stem = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".~";
  std::vector<std::pair<long long, std::string>> found;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() < stem.size() + 2 || name.compare(0, stem.size(), stem) != 0 || name.back() != '~') continue;
      const std::string digits = name.substr(stem.size(), name.size() - stem.size() - 1);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      found.emplace_back(std::stoll(digits), path + ".~" + digits + "~");
    }
    ::closedir(d);
  }
  std::sort(found.begin(), found.end());
  return found;
}
//! The N a new backup of `path` starts looking from: above every existing one, so
//! that the highest N is always the newest (a gap left by a removed backup is not refilled).
int next_backup_number(const std::string& path) {
  const auto b = list_backups(path);
  return b.empty() ? 1 : static_cast<int>(b.back().first + 1);
}
}  // namespace

void prune_backups(const std::string& path, int keep) {
  if (keep < 0) return;
  const auto found = list_backups(path);
  for (std::size_t i = 0; i + std::size_t(keep) < found.size(); ++i) {
    if (::unlink(found[i].second.c_str()) == 0)
      std::fprintf(stderr, "zeta: removed old backup '%s' (output.backups = %d)\n", found[i].second.c_str(), keep);
  }
}

void backup_existing(const std::string& path) {
  if (!file_exists(path)) return;
  for (int n = next_backup_number(path);; ++n) {
    const std::string b = path + ".~" + std::to_string(n) + "~";
    if (!file_exists(b)) {
      if (std::rename(path.c_str(), b.c_str()) != 0) throw Error("cannot back up existing '" + path + "'", false);
      std::fprintf(stderr, "zeta: kept existing '%s' as '%s'\n", path.c_str(), b.c_str());
      return;
    }
  }
}

namespace {
struct FileIdentity {
  std::uint64_t dev = 0, ino = 0;
  bool present() const { return dev != 0 || ino != 0; }
  bool operator==(const FileIdentity& o) const { return present() && dev == o.dev && ino == o.ino; }
};
FileIdentity identity(const std::string& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return {};
  return {std::uint64_t(st.st_dev), std::uint64_t(st.st_ino)};
}
std::string sys_error() { return std::strerror(errno); }

//! Rank 0's name for this run's partial file: PATH.partial.HOST.PID.RANDOM. The
//! random part (seeded by the device and the clock) keeps two runs apart even with
//! the same host and pid (containers); the file is created exclusively anyway.
std::string unique_partial_name(const std::string& path) {
  char host[256] = "host";
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "host");
  host[sizeof host - 1] = 0;
  for (char* c = host; *c; ++c)
    if (*c == '/' || *c == ' ') *c = '_';
  std::random_device rd;
  const auto now = std::uint64_t(std::chrono::high_resolution_clock::now().time_since_epoch().count());
  std::mt19937_64 g((std::uint64_t(rd()) << 32) ^ rd() ^ now);
  char tail[32];
  std::snprintf(tail, sizeof tail, "%08llx", static_cast<unsigned long long>(g() & 0xffffffffULL));
  return path + ".partial." + host + "." + std::to_string(::getpid()) + "." + tail;
}

//! Links `from` (a name only this run uses) to the next free PATH.~N~. link() never
//! replaces a file (EEXIST), so two runs cannot take the same backup name.
std::string link_to_free_backup(const std::string& from, const std::string& path) {
  for (int n = next_backup_number(path);; ++n) {
    const std::string b = path + ".~" + std::to_string(n) + "~";
    if (::link(from.c_str(), b.c_str()) == 0) return b;
    if (errno != EEXIST) throw Error("cannot link '" + from + "' to '" + b + "': " + sys_error(), false);
  }
}
}  // namespace

namespace {
//! output.backups = 0: `partial` replaces the file that was at `path` when the run
//! started, atomically (a reader sees the old file or the new one, never none): that
//! file is first linked to `aside`, then `partial` is renamed over `path`, and the
//! file at `aside` is removed only if it is the one the run started with. If it was
//! another run's output (published meanwhile), it is kept as a free PATH.~N~ with a
//! warning: no other run's file is ever lost. Empty when `path` is gone or the file
//! system has no hard links (the caller's ordinary publication then runs).
std::optional<std::string> replace_output(const std::string& partial, const std::string& path,
                                          const FileIdentity& before, const std::string& aside) {
  if (::link(path.c_str(), aside.c_str()) != 0) return std::nullopt;
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    const std::string why = sys_error();
    ::unlink(aside.c_str());
    throw Error("cannot rename '" + partial + "' to '" + path + "': " + why, false);
  }
  if (identity(aside) == before) {
    ::unlink(aside.c_str());
    std::fprintf(stderr, "zeta: replaced existing '%s' (output.backups = 0)\n", path.c_str());
    prune_backups(path, 0);
  } else {  // kept, and not pruned: it is not this run's to remove
    const std::string b = link_to_free_backup(aside, path);
    ::unlink(aside.c_str());
    std::fprintf(stderr, "zeta: warning: another run's output '%s' is now '%s' (this run replaced it)\n",
                 path.c_str(), b.c_str());
  }
  return path;
}
}  // namespace

// Why links: rename(partial, PATH) replaces whatever PATH is at that instant, so
// with two runs on one output.file the later rename silently drops the earlier
// run's published file (and a check-then-rename has a window). link(partial, PATH)
// either creates PATH or fails with EEXIST, atomically. When PATH is taken:
//  - by the file that was there when this run started: it is renamed to a name
//    only this run uses (a rename moves exactly one file: two runs cannot both take
//    it), then linked to a free PATH.~N~, and the publication is tried again;
//  - by anything else (another run published meanwhile): that file is left alone
//    and this run's output is linked to a free PATH.~N~, which path() and the JSON
//    name. If the file renamed aside turns out not to be the one that was there at
//    the start (replaced between the check and the rename), it is linked back to
//    PATH (or, if a third run took PATH meanwhile, to a free PATH.~N~, named in a
//    warning): no file is ever removed that is not also reachable under another name.
// Where the file system has no hard links, the older backup-then-rename is used.
std::string publish_output(const std::string& partial, const std::string& path, std::uint64_t existing_dev,
                           std::uint64_t existing_ino) {
  const FileIdentity before{existing_dev, existing_ino};
  const std::string aside = partial + ".old";
  // output.backups = 0 replaces only the file the run started with; a file another run
  // published meanwhile is left as it is, and this run's output takes PATH.~N~ (below).
  if (g_output_backups == 0 && before.present() && identity(path) == before) {
    if (const auto replaced = replace_output(partial, path, before, aside)) return *replaced;
  }
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (::link(partial.c_str(), path.c_str()) == 0) {
      ::unlink(partial.c_str());
      prune_backups(path, g_output_backups);
      return path;
    }
    if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {  // no hard links here
      if (g_output_backups != 0) backup_existing(path);
      if (std::rename(partial.c_str(), path.c_str()) != 0)
        throw Error("cannot rename '" + partial + "' to '" + path + "': " + sys_error(), false);
      prune_backups(path, g_output_backups);
      return path;
    }
    if (errno != EEXIST) throw Error("cannot publish '" + partial + "' as '" + path + "': " + sys_error(), false);
    const FileIdentity now = identity(path);
    if (!now.present()) continue;  // removed meanwhile: try again
    if (!(now == before)) {
      const std::string b = link_to_free_backup(partial, path);
      ::unlink(partial.c_str());
      std::fprintf(stderr,
                   "zeta: warning: '%s' was written by another run while this one ran; it is left as it is and "
                   "this run's output is '%s'\n",
                   path.c_str(), b.c_str());
      return b;
    }
    if (std::rename(path.c_str(), aside.c_str()) != 0) {
      if (errno == ENOENT) continue;
      throw Error("cannot move existing '" + path + "' aside: " + sys_error(), false);
    }
    if (identity(aside) == before) {
      const std::string b = link_to_free_backup(aside, path);
      ::unlink(aside.c_str());
      std::fprintf(stderr, "zeta: kept existing '%s' as '%s'\n", path.c_str(), b.c_str());
      continue;
    }
    if (::link(aside.c_str(), path.c_str()) != 0) {
      const std::string b = link_to_free_backup(aside, path);
      std::fprintf(stderr, "zeta: warning: another run's output '%s' is now '%s' (three runs on one name)\n",
                   path.c_str(), b.c_str());
    }
    ::unlink(aside.c_str());
  }
  throw Error("cannot publish '" + partial + "' as '" + path + "': the name keeps changing", false);
}

OutputFile::OutputFile(const parallel::Comm& comm, std::string path) : comm_(comm), path_(std::move(path)) {
  if (comm_.root()) {
    partial_ = unique_partial_name(path_);
    const FileIdentity e = identity(path_);
    existing_dev_ = e.dev;
    existing_ino_ = e.ino;
  }
  comm_.broadcast(partial_);
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  check(H5Pset_fapl_mpio(fapl.id(), comm_.raw(), MPI_INFO_NULL), "set the MPI-IO driver", partial_);
  // H5F_ACC_EXCL: never truncate a file, even one with this unlikely name.
  const hid_t f = H5Fcreate(partial_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.id());
  if (comm_.any(f < 0)) {
    if (f >= 0) H5Fclose(f);
    throw Error("cannot create output file '" + partial_ + "'");
  }
  file_ = Handle(f, H5Fclose);
}

void shutdown() {
  if (!g_close_failed) H5close();
}

OutputFile::~OutputFile() {
  if (finished_) return;
  datasets_.clear();
  if (file_.close() < 0) g_close_failed = true;
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

namespace {
//! Creates (replacing one of that name) attribute `name` of `type` and shape `dims`
//! (empty: scalar) on the object `loc` and writes `value`.
void put_attribute(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& dims, const void* value,
                   const std::string& file) {
  if (H5Aexists(loc, name.c_str()) > 0) check(H5Adelete(loc, name.c_str()), "replace attribute " + name, file);
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
               H5Sclose);
  Handle attr(checked(H5Acreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                      "create attribute " + name, file),
              H5Aclose);
  check(H5Awrite(attr.id(), type, value), "write attribute " + name, file);
}

//! The HDF5 enum h5py reads as numpy.bool_ (int8: FALSE = 0, TRUE = 1).
Handle bool_type(const std::string& file) {
  Handle type(checked(H5Tenum_create(H5T_NATIVE_INT8), "make a boolean type", file), H5Tclose);
  const std::int8_t f = 0, t = 1;
  check(H5Tenum_insert(type.id(), "FALSE", &f), "make a boolean type", file);
  check(H5Tenum_insert(type.id(), "TRUE", &t), "make a boolean type", file);
  return type;
}
}  // namespace

Handle OutputFile::open_object(const std::string& object) {
  return Handle(checked(H5Oopen(file_.id(), object.c_str(), H5P_DEFAULT), "open " + object, path_), H5Oclose);
}

void OutputFile::attribute(const std::string& object, const std::string& name, const std::string& value) {
  const Handle o = open_object(object);
  const Handle type = utf8_string_type(path_);
  const char* p = value.c_str();
  put_attribute(o.id(), name, type.id(), {}, &p, path_);
}

void OutputFile::attribute(const std::string& object, const std::string& name, double value) {
  const Handle o = open_object(object);
  put_attribute(o.id(), name, H5T_NATIVE_DOUBLE, {}, &value, path_);
}

void OutputFile::attribute(const std::string& object, const std::string& name, std::int64_t value) {
  const Handle o = open_object(object);
  put_attribute(o.id(), name, H5T_NATIVE_INT64, {}, &value, path_);
}

void OutputFile::describe(const std::string& object, const std::string& units, const std::string& description,
                          const std::vector<std::string>& axes) {
  const Handle o = open_object(object);
  const Handle type = utf8_string_type(path_);
  const char* u = units.c_str();
  put_attribute(o.id(), "units", type.id(), {}, &u, path_);
  const char* d = description.c_str();
  put_attribute(o.id(), "description", type.id(), {}, &d, path_);
  if (axes.empty()) return;
  std::vector<const char*> names;
  for (const auto& a : axes) names.push_back(a.c_str());
  put_attribute(o.id(), "axes", type.id(), {hsize_t(names.size())}, names.data(), path_);
}

void OutputFile::write_summary(const JsonSummary& json, const std::string& group) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set link properties", path_);
  const Handle g(checked(H5Gcreate2(file_.id(), group.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT),
                         "create group " + group, path_),
                 H5Gclose);
  const Handle str = utf8_string_type(path_);
  const Handle boolean = bool_type(path_);
  for (const auto& f : json.fields()) {
    switch (f.kind) {
      case JsonSummary::Kind::string: {
        const char* p = f.text.c_str();
        put_attribute(g.id(), f.key, str.id(), {}, &p, path_);
        break;
      }
      case JsonSummary::Kind::number: put_attribute(g.id(), f.key, H5T_NATIVE_DOUBLE, {}, &f.number, path_); break;
      case JsonSummary::Kind::integer: put_attribute(g.id(), f.key, H5T_NATIVE_INT64, {}, &f.integer, path_); break;
      case JsonSummary::Kind::boolean: {
        const std::int8_t b = f.boolean ? 1 : 0;
        put_attribute(g.id(), f.key, boolean.id(), {}, &b, path_);
        break;
      }
      case JsonSummary::Kind::array:
        put_attribute(g.id(), f.key, H5T_NATIVE_DOUBLE, {hsize_t(f.values.size())}, f.values.data(), path_);
        break;
    }
  }
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
  // The memory space has the selection's shape: for chunked datasets HDF5 then maps
  // the selection to chunks whole, not element by element (2x slower per row).
  Handle mspace(n == 0 ? H5Screate_simple(1, &n, nullptr)
                       : H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr),
                H5Sclose);
  if (n == 0) {
    check(H5Sselect_none(fspace.id()), "select", path_);
    check(H5Sselect_none(mspace.id()), "select", path_);
  } else {
    check(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
          "select a hyperslab", path_);
  }
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  check(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE), "set collective transfer", path_);
  herr_t rc = H5Dwrite(dset, type, mspace.id(), fspace.id(), dxpl.id(), data);
  if (fault_named("output_write")) rc = -1;  // the tests' stand-in for a full disk
  // Every rank learns of a failure on any one (a full disk may fail one rank's part):
  // the error is then collective, and no rank waits in the next collective call.
  if (comm_.any(rc < 0))
    throw Error("cannot write output file '" + path_ + "': HDF5 failed to write a dataset in '" + partial_ +
                "' (disk full?)");
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

void OutputFile::write_root_int64(const std::string& name, const std::vector<hsize_t>& dims, const std::int64_t* data) {
  const hid_t ds = create_int64(name, dims);
  const std::vector<hsize_t> start(dims.size(), 0);
  write_int64(ds, start, comm_.root() ? dims : std::vector<hsize_t>(dims.size(), 0), data);
}

OutputFile::Rows& OutputFile::rows_of(hid_t dset) {
  for (auto& r : rows_)
    if (r.dset == dset) return r;
  throw Error("internal: not a create_rows dataset in '" + path_ + "'", false);
}

hid_t OutputFile::create_rows(const std::string& name, const std::vector<hsize_t>& row_dims, hsize_t max_rows) {
  const hid_t type = h5_type<Real>();
  const hsize_t elem = sizeof(Real);
  // A chunk is whole rows of at least 64 KiB (1 MiB aimed at); a row over 4 MiB is
  // cut along its leading dimensions so one chunk stays well under HDF5's 4 GiB.
  constexpr hsize_t aim = hsize_t(1) << 20, row_cap = hsize_t(4) << 20;
  std::vector<hsize_t> chunk{1};
  chunk.insert(chunk.end(), row_dims.begin(), row_dims.end());
  auto bytes = [&](std::size_t from) {
    hsize_t b = elem;
    for (std::size_t d = from; d < chunk.size(); ++d) b *= std::max<hsize_t>(1, chunk[d]);
    return b;
  };
  for (std::size_t d = 1; d < chunk.size(); ++d)
    if (bytes(1) > row_cap) chunk[d] = std::max<hsize_t>(1, row_cap / bytes(d + 1));
  for (auto& c : chunk) c = std::max<hsize_t>(1, c);
  // Rows per chunk: about `aim` bytes, evened out so that the last chunk of a run that
  // saves all max_rows rows is full (no slack at the end of the file).
  const hsize_t total = std::max<hsize_t>(1, max_rows), want = std::max<hsize_t>(1, aim / bytes(1));
  const hsize_t nchunks = (total + want - 1) / want;
  chunk[0] = (total + nchunks - 1) / nchunks;

  std::vector<hsize_t> dims{0}, maxdims{H5S_UNLIMITED};
  dims.insert(dims.end(), row_dims.begin(), row_dims.end());
  maxdims.insert(maxdims.end(), row_dims.begin(), row_dims.end());
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set link properties", path_);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), "set chunks for " + name, path_);
  // Every row is written before it is read: no fill pass over new chunks.
  check(H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER), "set the fill time for " + name, path_);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data()), H5Sclose);
  const hid_t d = checked(H5Dcreate2(file_.id(), name.c_str(), type, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
                          "create dataset " + name, path_);
  datasets_.emplace_back(d, H5Dclose);
  rows_.push_back({d, dims, chunk[0], max_rows});
  return d;
}

void OutputFile::set_rows(hid_t dset, hsize_t rows) {
  Rows& r = rows_of(dset);
  if (r.dims[0] == rows) return;
  r.dims[0] = rows;
  if (comm_.any(H5Dset_extent(dset, r.dims.data()) < 0))
    throw Error("cannot write output file '" + path_ + "': HDF5 failed to resize a dataset in '" + partial_ +
                "' (disk full?)");
}

void OutputFile::write_row(hid_t dset, hsize_t row, const std::vector<hsize_t>& start,
                           const std::vector<hsize_t>& count, const Real* data) {
  Rows& r = rows_of(dset);
  if (row >= r.max_rows) throw Error("internal: row past the end of a dataset in '" + path_ + "'", false);
  // Grown a chunk of rows at a time (one collective resize per chunk).
  if (row >= r.dims[0]) set_rows(dset, std::min(r.max_rows, (row / r.chunk_rows + 1) * r.chunk_rows));
  std::vector<hsize_t> s{row}, c{1};
  s.insert(s.end(), start.begin(), start.end());
  c.insert(c.end(), count.begin(), count.end());
  write_typed(dset, s, c, data, h5_type<Real>());
}

void OutputFile::end_rows(hid_t dset, hsize_t rows) { set_rows(dset, rows); }

const std::string& OutputFile::finish() {
  datasets_.clear();
  rows_.clear();
  // Handle::close forgets the id even when H5Fclose fails: it is never closed twice.
  const herr_t rc = file_.close();
  if (rc < 0) g_close_failed = true;
  if (comm_.any(rc < 0))
    throw Error("cannot write output file '" + path_ + "': HDF5 failed to close '" + partial_ + "' (disk full?)");
  fault_point("before_output_publish");
  std::string why, published;
  if (comm_.root()) {
    try {
      published = publish_output(partial_, path_, existing_dev_, existing_ino_);
      finished_ = true;  // published: the destructor must not remove anything
      for (auto& f : after_publish_) f(published);
    } catch (const Error& e) {
      why = e.what();
    }
  }
  comm_.broadcast(why);
  if (!why.empty()) {
    finished_ = finished_ || !published.empty();
    throw Error(why);
  }
  comm_.broadcast(published);
  path_ = published;
  finished_ = true;
  return path_;
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
