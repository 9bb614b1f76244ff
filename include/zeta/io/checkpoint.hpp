//! Checkpoint files: written by rank 0 to PATH.tmp, fsync'ed and renamed over
//! PATH, with the previous checkpoint kept as PATH.prev, so a kill at any moment
//! leaves a complete checkpoint behind. Reading checks what the file claims to
//! be before anything is used: a corrupt or mismatched file is refused whole.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>

#include "zeta/io/hdf5.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta {
class Config;
}

namespace zeta::io {

//! Collective. Rank 0 calls fill(file) on a fresh PATH.tmp, then fsyncs and renames
//! it into place (PATH → PATH.prev first). An error on rank 0 is raised on every rank.
void write_checkpoint(const Comm& comm, const std::string& path, const std::function<void(hid_t)>& fill);

//! Collective. Rank 0 opens PATH and calls read(file); an error there (missing,
//! corrupt, mismatched) is raised on every rank with rank 0's message.
void read_checkpoint(const Comm& comm, const std::string& path, const std::function<void(hid_t)>& read);

//! Configuration lines (key = value) of `ini` whose key starts with one of `prefixes`.
std::string config_signature(const std::string& ini, const std::vector<std::string>& prefixes);
//! Throws naming the first key whose value differs between two signatures.
//! A key that `stored` lacks (a checkpoint of a version that did not have it) passes
//! when its current value is its value in `defaults` (a config_signature too).
void check_signature(const std::string& stored, const std::string& current, const std::string& file,
                     const std::string& defaults = "");

//! [checkpoint] settings of the commands that checkpoint (temper, train).
struct CheckpointSpec {
  std::string file;        //!< empty: no checkpoints
  std::int64_t every = 0;  //!< also every N steps (0: only at the end and when stopped)
  bool restart = false;    //!< resume from `file`
};
//! Declares checkpoint.file / every_steps / restart.
void declare_checkpoint_keys(Config& cfg);
//! Reads them; every_steps or restart without a file is an error naming the key.
CheckpointSpec read_checkpoint_spec(const Config& cfg);

//! The attributes every checkpoint starts with: which command wrote it, the
//! signature of the configuration keys under `prefixes`, the precision, and the
//! whole resolved configuration.
void write_checkpoint_header(hid_t f, const std::string& command, const std::string& resolved_ini,
                             const std::vector<std::string>& prefixes);
//! Refuses (naming the file, or the first differing key) a checkpoint of another
//! command, another precision, or another configuration under `prefixes`.
//! `defaults_ini`: every key at its default (Config::defaults_ini), for keys newer than the checkpoint.
void check_checkpoint_header(hid_t f, const std::string& file, const std::string& command,
                             const std::string& resolved_ini, const std::vector<std::string>& prefixes,
                             const std::string& defaults_ini = "");

}  // namespace zeta::io
