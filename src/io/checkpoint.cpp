#include "zeta/io/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "zeta/config.hpp"
#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"

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
}  // namespace

void write_checkpoint(const Comm& comm, const std::string& path, const std::function<void(hid_t)>& fill) {
  std::string why;
  if (comm.root()) {
    const std::string tmp = path + ".tmp";
    try {
      {
        Handle f = create_serial(tmp);
        fill(f.id());
        if (H5Fflush(f.id(), H5F_SCOPE_GLOBAL) < 0) throw Error("cannot flush '" + tmp + "'", false);
      }
      fsync_path(tmp);
      if (::access(path.c_str(), F_OK) == 0 && std::rename(path.c_str(), (path + ".prev").c_str()) != 0)
        throw Error("cannot keep the previous checkpoint as '" + path + ".prev'", false);
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

void read_checkpoint(const Comm& comm, const std::string& path, const std::function<void(hid_t)>& read) {
  std::string why;
  if (comm.root()) {
    try {
      Handle f = open_read(path);
      read(f.id());
    } catch (const std::exception& e) {
      why = std::string("cannot restart from checkpoint.file: ") + e.what();
    }
  }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
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
                     const std::string& defaults) {
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
  const auto a = parse(stored), b = parse(current), d = parse(defaults);
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    if (it == a.end() && d.count(k) && d.at(k) == v) continue;  // a key newer than the checkpoint, at its default
    const std::string old = it == a.end() ? "(absent)" : it->second;
    if (old != v)
      throw Error("checkpoint '" + file + "' was written with " + k + " = " + old + " but this run has " + k + " = " +
                      v + ": refusing to restart from a different model, sampler or ladder",
                  false);
  }
  for (const auto& [k, v] : a)
    if (!b.count(k))
      throw Error("checkpoint '" + file + "' has " + k + " = " + v + ", which this run does not know", false);
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
}

void check_checkpoint_header(hid_t f, const std::string& file, const std::string& command,
                             const std::string& resolved_ini, const std::vector<std::string>& prefixes,
                             const std::string& defaults_ini) {
  const std::string what = read_string_attribute(f, file, "zeta_checkpoint");
  if (what != command)
    throw Error("'" + file + "' is a checkpoint of zeta " + what + ", not of zeta " + command, false);
  const std::string prec = read_string_attribute(f, file, "precision");
  if (prec != ZETA_PRECISION_NAME)
    throw Error("checkpoint '" + file + "' was written by a " + prec + " build; this build is " + ZETA_PRECISION_NAME,
                false);
  check_signature(read_string_attribute(f, file, "signature"), config_signature(resolved_ini, prefixes), file,
                  config_signature(defaults_ini, prefixes));
}

}  // namespace zeta::io
