#include "zeta/io/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "zeta/config.hpp"
#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/fault.hpp"

namespace zeta::io {

namespace {
void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot open '" + path + "' to sync it", false);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error("cannot fsync '" + path + "'", false);
}
std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}
bool path_exists(const std::string& path) {
  struct stat sb;
  return ::lstat(path.c_str(), &sb) == 0;
}

// ---- checksums: CRC-32 (zlib) of every dataset's values and of the header attributes

constexpr const char* kCrc = "zeta_crc32";
//! The root attributes write_checkpoint_header writes, covered by the root's zeta_crc32.
const char* const kHeaderAttributes[] = {"zeta_checkpoint", "signature", "precision", "config", "paths"};
//! Keys that name files: a restart may name them differently (./x, an absolute
//! path, from another directory) as long as they are the same file.
const char* const kPathKeys[] = {"data.path", "data.heldout_path", "model.params"};

std::uint32_t crc_of(std::uint32_t crc, const void* data, std::size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt chunk = uInt(std::min<std::size_t>(n, std::size_t(1) << 30));
    crc = std::uint32_t(::crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

//! Every dataset of an open file, as absolute paths.
std::vector<std::string> datasets_of(hid_t f) {
  std::vector<std::string> names;
  auto visit = [](hid_t group, const char* name, const H5L_info_t*, void* out) -> herr_t {
    const hid_t o = H5Oopen(group, name, H5P_DEFAULT);
    if (o < 0) return -1;
    if (H5Iget_type(o) == H5I_DATASET) static_cast<std::vector<std::string>*>(out)->push_back(std::string("/") + name);
    H5Oclose(o);
    return 0;
  };
  if (H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, &names) < 0)
    throw Error("cannot list the datasets (damaged structure)", false);
  return names;
}

//! CRC-32 of a dataset's shape and of its values read back in the native form of
//! its stored type; an error names what is wrong with it.
std::uint32_t dataset_crc(hid_t f, const std::string& name) {
  Handle d(H5Dopen2(f, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (d.id() < 0) throw Error(name + " cannot be opened", false);
  Handle ft(H5Dget_type(d.id()), H5Tclose);
  Handle sp(H5Dget_space(d.id()), H5Sclose);
  if (ft.id() < 0 || sp.id() < 0) throw Error(name + " has an unreadable type or shape", false);
  if (H5Tdetect_class(ft.id(), H5T_VLEN) != 0 || H5Tis_variable_str(ft.id()) != 0)
    throw Error(name + " has variable-length data, which checkpoints do not hold", false);
  Handle mt(H5Tget_native_type(ft.id(), H5T_DIR_ASCEND), H5Tclose);
  const int rank = H5Sget_simple_extent_ndims(sp.id());
  if (mt.id() < 0 || rank < 0 || rank > 32) throw Error(name + " has an unreadable type or shape", false);
  std::vector<hsize_t> dims(std::size_t(rank) + 1, 0);
  H5Sget_simple_extent_dims(sp.id(), dims.data(), nullptr);
  const hssize_t points = H5Sget_simple_extent_npoints(sp.id());
  const std::size_t stored = H5Tget_size(ft.id()), native = H5Tget_size(mt.id());
  if (points < 0 || stored == 0 || native == 0 || H5Dget_storage_size(d.id()) != hsize_t(points) * stored)
    throw Error(name + " holds fewer or more bytes than its shape says", false);
  std::vector<unsigned char> buf(std::size_t(points) * native);
  if (points > 0 && H5Dread(d.id(), mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw Error(name + " cannot be read", false);
  const int cls = int(H5Tget_class(mt.id()));
  std::uint32_t crc = crc_of(0, &cls, sizeof cls);
  crc = crc_of(crc, &native, sizeof native);
  crc = crc_of(crc, dims.data(), sizeof(hsize_t) * std::size_t(rank));
  return crc_of(crc, buf.data(), buf.size());
}

std::uint32_t header_crc(hid_t f, const std::string& file) {
  std::uint32_t crc = 0;
  for (const char* a : kHeaderAttributes) {
    const std::string line = std::string(a) + "=" + read_string_attribute(f, file, a) + "\n";
    crc = crc_of(crc, line.data(), line.size());
  }
  return crc;
}

void write_crc(hid_t obj, const char* on, std::uint32_t crc) {
  Handle sp(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(obj, kCrc, H5T_STD_U32LE, sp.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (a.id() < 0 || H5Awrite(a.id(), H5T_NATIVE_UINT32, &crc) < 0)
    throw Error(std::string("cannot write the checksum of ") + on, false);
}

//! False when `obj` has no checksum attribute.
bool read_crc(hid_t obj, std::uint32_t& crc) {
  if (H5Aexists(obj, kCrc) <= 0) return false;
  Handle a(H5Aopen(obj, kCrc, H5P_DEFAULT), H5Aclose);
  return a.id() >= 0 && H5Aread(a.id(), H5T_NATIVE_UINT32, &crc) >= 0;
}

//! Adds the checksums to a filled checkpoint.
void seal(hid_t f, const std::string& file) {
  for (const auto& name : datasets_of(f)) {
    const std::uint32_t crc = dataset_crc(f, name);
    Handle d(H5Dopen2(f, name.c_str(), H5P_DEFAULT), H5Dclose);
    write_crc(d.id(), name.c_str(), crc);
  }
  write_crc(f, "the header", header_crc(f, file));
}

//! Throws CheckpointCorrupt naming the first dataset whose checksum differs. A
//! checkpoint of an earlier zeta (no checksums at all) passes with a warning.
void verify(hid_t f, const std::string& file) {
  std::uint32_t want = 0;
  if (!read_crc(f, want)) {
    if (H5Aexists(f, kCrc) != 0) corrupt(file, "the header", "has an unreadable checksum");
    std::fprintf(stderr,
                 "zeta: warning: checkpoint '%s' has no checksums (written by an earlier zeta): restarting without "
                 "verifying its contents\n",
                 file.c_str());
    return;
  }
  std::uint32_t got = 0;
  try {
    got = header_crc(f, file);
  } catch (const std::exception& e) {
    corrupt(file, "the header", std::string("is unreadable (") + e.what() + ")");
  }
  if (got != want) corrupt(file, "the header attributes", "do not match their checksum");
  std::vector<std::string> names;
  try {
    names = datasets_of(f);
  } catch (const std::exception& e) {
    corrupt(file, "the file", e.what());
  }
  for (const auto& name : names) {
    try {
      got = dataset_crc(f, name);
    } catch (const std::exception& e) {
      corrupt(file, name, std::string("is damaged: ") + e.what());
    }
    Handle d(H5Dopen2(f, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!read_crc(d.id(), want)) corrupt(file, name, "has no checksum");
    if (got != want) corrupt(file, name, "does not match its checksum");
  }
}

//! A checkpoint of another command, precision or configuration: refused, never a fallback.
class CheckpointMismatch : public Error {
 public:
  explicit CheckpointMismatch(const std::string& what) : Error(what, false) {}
};

std::string canonical(const std::string& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec);
  return ec ? p : c.string();
}
//! "key = canonical path" for the file keys (kPathKeys) that `ini` sets.
std::string canonical_paths(const std::string& ini) {
  std::string out;
  std::istringstream in(config_signature(ini, {"data.", "model."}));
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq == std::string::npos || eq + 3 == line.size()) continue;
    const std::string k = line.substr(0, eq);
    if (std::find(std::begin(kPathKeys), std::end(kPathKeys), k) != std::end(kPathKeys))
      out += k + " = " + canonical(line.substr(eq + 3)) + "\n";
  }
  return out;
}
}  // namespace

void corrupt(const std::string& file, const std::string& dataset, const std::string& why) {
  throw CheckpointCorrupt("checkpoint '" + file + "' is corrupt: " + dataset + " " + why);
}

void write_checkpoint(const parallel::Comm& comm, const std::string& path, const std::function<void(hid_t)>& fill) {
  std::string why;
  if (comm.root()) {
    const std::string tmp = path + ".tmp", prev = path + ".prev";
    try {
      {
        Handle f = create_serial(tmp);
        fill(f.id());
        seal(f.id(), tmp);
        if (H5Fflush(f.id(), H5F_SCOPE_GLOBAL) < 0) throw Error("cannot flush '" + tmp + "'", false);
      }
      fsync_path(tmp);
      fault_point("checkpoint_after_tmp");
      // PATH stays in place until the rename replaces it: PATH.prev is a second name of it.
      if (path_exists(path)) {
        if (std::remove(prev.c_str()) != 0 && errno != ENOENT)
          throw Error("cannot replace the previous checkpoint '" + prev + "': " + std::strerror(errno), false);
        if (::link(path.c_str(), prev.c_str()) != 0) {  // a file system without hard links: a copy
          std::error_code ec;
          std::filesystem::copy_file(path, prev, std::filesystem::copy_options::overwrite_existing, ec);
          if (ec) throw Error("cannot keep the previous checkpoint as '" + prev + "': " + ec.message(), false);
          fsync_path(prev);
        }
        fault_point("checkpoint_after_link");
      }
      if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw Error("cannot rename '" + tmp + "' to '" + path + "'", false);
      fsync_path(directory_of(path));
    } catch (const std::exception& e) {
      std::remove(tmp.c_str());
      why = std::string("checkpoint '") + path + "': " + e.what();
    }
  }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
}

void read_checkpoint(const parallel::Comm& comm, const std::string& path,
                     const std::function<void(hid_t, const std::string&)>& read) {
  std::string why;
  if (comm.root()) {
    auto attempt = [&](const std::string& file) {
      Handle f = open_read(file);
      verify(f.id(), file);
      read(f.id(), file);
    };
    const std::string prev = path + ".prev";
    try {
      attempt(path);
    } catch (const CheckpointMismatch& e) {
      why = e.what();
    } catch (const std::exception& e) {
      why = e.what();
      if (path_exists(prev)) {
        try {
          attempt(prev);
          const std::string kept = path + ".corrupt";
          const bool moved = path_exists(path) && std::rename(path.c_str(), kept.c_str()) == 0;
          std::fprintf(stderr, "zeta: warning: %s; restarting from the previous checkpoint '%s'%s\n", why.c_str(),
                       prev.c_str(), moved ? (" (the damaged one is kept as '" + kept + "')").c_str() : "");
          why.clear();
        } catch (const CheckpointMismatch& e2) {
          why = e2.what();
        } catch (const std::exception& e2) {
          why += "; the previous checkpoint is no better: " + std::string(e2.what());
        }
      }
    }
    if (!why.empty()) why = "cannot restart from checkpoint.file: " + why;
  }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
}

void check_checkpoint_target(const parallel::Comm& comm, const CheckpointSpec& ck, const std::string& command,
                             const std::string& resolved_ini, const std::vector<std::string>& prefixes,
                             const std::string& defaults_ini) {
  if (ck.file.empty()) return;
  std::string why;
  if (comm.root()) {
    // A fresh run replaces PATH (kept as PATH.prev, replacing that): both must be this
    // run's own. A restart reads PATH (or PATH.prev) and refuses another configuration.
    std::vector<std::string> kept;
    if (!ck.restart) kept = {ck.file, ck.file + ".prev"};
    for (const auto& p : kept) {
      if (!path_exists(p) || !why.empty()) continue;
      try {
        Handle f = open_read(p);
        check_checkpoint_header(f.id(), p, command, resolved_ini, prefixes, defaults_ini);
      } catch (const std::exception& e) {
        why = "'" + p + "' exists and is not a checkpoint of this run (" + e.what() +
              "): refusing to replace it; remove it or choose another checkpoint.file";
      }
    }
    if (why.empty()) {
      const std::string tmp = ck.file + ".tmp";
      const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT, 0644);
      if (fd < 0)
        why = "cannot create '" + tmp + "' (" + std::strerror(errno) + "): the checkpoint could not be written";
      else
        ::close(fd), std::remove(tmp.c_str());
    }
  }
  comm.broadcast(why);
  if (!why.empty()) config_error("checkpoint.file", why);
}

void check_checkpoint_vs_output(const CheckpointSpec& ck, const std::string& output) {
  if (ck.file.empty() || output.empty()) return;
  const std::string out = canonical(output);
  for (const std::string suffix : {"", ".tmp", ".prev", ".corrupt"})
    if (canonical(ck.file + suffix) == out)
      config_error("checkpoint.file", "'" + ck.file + suffix + "' would be output.file '" + output +
                                          "' (the same file): they must differ");
}

std::string config_signature(const std::string& ini, const std::vector<std::string>& prefixes) {
  std::istringstream in(ini);
  std::string line, section, out;
  while (std::getline(in, line)) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = section + "." + trim(line.substr(0, eq));
    for (const auto& p : prefixes)
      if (key.rfind(p, 0) == 0) {
        out += key + " = " + trim(line.substr(eq + 1)) + "\n";
        break;
      }
  }
  return out;
}

void check_signature(const std::string& stored, const std::string& current, const std::string& file,
                     const std::string& defaults, const std::string& stored_paths) {
  auto parse = [](const std::string& s) {
    std::map<std::string, std::string> m;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find(" = ");
      if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 3);
    }
    return m;
  };
  const auto a = parse(stored), b = parse(current), d = parse(defaults), paths = parse(stored_paths);
  // A file named otherwise: the canonical path the checkpoint recorded, else its name from here.
  auto same_file = [&](const std::string& k, const std::string& old, const std::string& v) {
    if (v.empty() || old.empty() || std::find(std::begin(kPathKeys), std::end(kPathKeys), k) == std::end(kPathKeys))
      return false;
    const auto it = paths.find(k);
    return (it != paths.end() ? it->second : canonical(old)) == canonical(v);
  };
  // Before sampler.type's default followed model.type, checkpoints of an ising or rbm
  // run stored the continuous default "mala" for the move they ran (metropolis, gibbs).
  auto legacy_default = [&](const std::string& k, const std::string& old, const std::string& v) {
    const auto model = a.find("model.type");
    if (k != "sampler.type" || old != "mala" || model == a.end()) return false;
    return (model->second == "ising" && v == "metropolis") || (model->second == "rbm" && v == "gibbs");
  };
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    if (it == a.end() && d.count(k) && d.at(k) == v) continue;  // a key newer than the checkpoint, at its default
    const std::string old = it == a.end() ? "(absent)" : it->second;
    if (old != v && !same_file(k, old, v) && !legacy_default(k, old, v))
      throw CheckpointMismatch("checkpoint '" + file + "' was written with " + k + " = " + old + " but this run has " + k + " = " +
                      v + ": refusing to restart from a different model, sampler or ladder");
  }
  for (const auto& [k, v] : a)
    if (!b.count(k))
      throw CheckpointMismatch("checkpoint '" + file + "' has " + k + " = " + v + ", which this run does not know");
}

void declare_checkpoint_keys(Config& cfg) {
  cfg.declare("checkpoint.file", "", "checkpoint file (empty = no checkpoints); the previous one is kept as FILE.prev");
  cfg.declare("checkpoint.every_steps", "0",
              "also checkpoint every N steps (0 = only at the end and when stopped by a signal or run.max_hours)");
  cfg.declare("checkpoint.restart", "false", "resume from checkpoint.file and run on until run.steps in total");
}

CheckpointSpec read_checkpoint_spec(const Config& cfg) {
  CheckpointSpec ck;
  ck.file = cfg.get_string("checkpoint.file");
  ck.every = cfg.get_int_at_least("checkpoint.every_steps", 0);
  ck.restart = cfg.get_bool("checkpoint.restart");
  if (ck.restart && ck.file.empty()) config_error("checkpoint.restart", "needs checkpoint.file");
  if (ck.every > 0 && ck.file.empty()) config_error("checkpoint.every_steps", "needs checkpoint.file");
  return ck;
}

void write_checkpoint_header(hid_t f, const std::string& command, const std::string& resolved_ini,
                             const std::vector<std::string>& prefixes) {
  write_string_attribute(f, "zeta_checkpoint", command);
  write_string_attribute(f, "signature", config_signature(resolved_ini, prefixes));
  write_string_attribute(f, "precision", ZETA_PRECISION_NAME);
  write_string_attribute(f, "config", resolved_ini);
  write_string_attribute(f, "paths", canonical_paths(resolved_ini));
}

void check_checkpoint_header(hid_t f, const std::string& file, const std::string& command,
                             const std::string& resolved_ini, const std::vector<std::string>& prefixes,
                             const std::string& defaults_ini) {
  const std::string what = read_string_attribute(f, file, "zeta_checkpoint");
  if (what != command)
    throw CheckpointMismatch("'" + file + "' is a checkpoint of zeta " + what + ", not of zeta " + command);
  const std::string prec = read_string_attribute(f, file, "precision");
  if (prec != ZETA_PRECISION_NAME)
    throw CheckpointMismatch("checkpoint '" + file + "' was written by a " + prec + " build; this build is " +
                             ZETA_PRECISION_NAME);
  check_signature(read_string_attribute(f, file, "signature"), config_signature(resolved_ini, prefixes), file,
                  config_signature(defaults_ini, prefixes),
                  H5Aexists(f, "paths") > 0 ? read_string_attribute(f, file, "paths") : "");
}

}  // namespace zeta::io
