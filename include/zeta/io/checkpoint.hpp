//! Checkpoint files: written by rank 0 to PATH.tmp, fsync'ed, PATH hard-linked
//! as PATH.prev, then PATH.tmp renamed over PATH (rename(2) replaces atomically),
//! so PATH holds a complete checkpoint at every instant once one was written.
//! Every dataset carries its CRC-32 (attribute zeta_crc32 of the values as read
//! back; the root's zeta_crc32 covers the header attributes). Reading verifies
//! the checksums and what the file claims to be before anything is used; a
//! missing, unreadable or corrupt PATH falls back to PATH.prev with a warning.
//!
//! Testing hook (core/fault.hpp): ZETA_FAULT=POINT[@N] makes the process SIGKILL
//! itself the N-th time (default the first) it reaches POINT, to force the moments
//! between the steps of a checkpoint write deterministically: checkpoint_after_tmp
//! (PATH.tmp complete, nothing renamed) and checkpoint_after_link (PATH.prev linked,
//! PATH not yet replaced). Used by tests/cli/checkpoint_faults.sh.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"

#include "zeta/io/hdf5.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta {
class Config;
}

namespace zeta::io {

struct CheckpointSpec;

//! Collective. Rank 0 calls fill(file) on a fresh PATH.tmp, adds the checksums,
//! fsyncs it, links PATH as PATH.prev and renames PATH.tmp over PATH. An error on
//! rank 0 is raised on every rank.
void write_checkpoint(const parallel::Comm& comm, const std::string& path, const std::function<void(hid_t)>& fill);

//! Collective. Rank 0 opens PATH, verifies its checksums and calls read(file, name).
//! When PATH is missing, unreadable or corrupt (a checksum, or a CheckpointCorrupt
//! thrown by `read`), PATH.prev is tried instead, with a one-line warning; a
//! mismatched configuration is refused without falling back. An error is raised
//! on every rank with rank 0's message.
void read_checkpoint(const parallel::Comm& comm, const std::string& path,
                     const std::function<void(hid_t, const std::string&)>& read);

//! A checkpoint whose contents are damaged (as opposed to one of another
//! configuration): reading it falls back to PATH.prev.
class CheckpointCorrupt : public Error {
 public:
  explicit CheckpointCorrupt(const std::string& what) : Error(what, false) {}
};
//! Throws CheckpointCorrupt naming the file and dataset: "checkpoint 'F' is corrupt: DATASET WHY".
[[noreturn]] void corrupt(const std::string& file, const std::string& dataset, const std::string& why);

//! Collective, before step 1 of a run with checkpoint.file: refuses (naming
//! checkpoint.file, on every rank) a file there (or at PATH.prev) that is not a
//! checkpoint of this command and configuration, which a fresh run would replace,
//! and a checkpoint that cannot be created (missing or unwritable directory).
void check_checkpoint_target(const parallel::Comm& comm, const CheckpointSpec& ck, const std::string& command,
                             const std::string& resolved_ini, const std::vector<std::string>& prefixes,
                             const std::string& defaults_ini);
//! Refuses (naming checkpoint.file) a checkpoint that is, or whose PATH.tmp /
//! PATH.prev is, the output file `output` (compared as canonical paths).
void check_checkpoint_vs_output(const CheckpointSpec& ck, const std::string& output);


//! Configuration lines (key = value) of `ini` whose key starts with one of `prefixes`.
std::string config_signature(const std::string& ini, const std::vector<std::string>& prefixes);
//! Throws naming the first key whose value differs between two signatures.
//! A key that `stored` lacks (a checkpoint of a version that did not have it) passes
//! when its current value is its value in `defaults` (a config_signature too).
//! A file key (data.path, data.heldout_path, model.params) passes when it names
//! the same file: the canonical path in `stored_paths` ("key = path" lines, the
//! checkpoint's paths attribute), or else the stored name resolved from here.
void check_signature(const std::string& stored, const std::string& current, const std::string& file,
                     const std::string& defaults = "", const std::string& stored_paths = "");

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
