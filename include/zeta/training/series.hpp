//! Monitor tables of a training run: columns of doubles, one entry per evaluation,
//! stored as the /train/NAME datasets of checkpoints and output files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::training {

// A monitor table S has `std::vector<std::vector<double>*> all()` and the matching
// `names()`; its columns are the checkpoint's /train/NAME datasets. Column 0 is the
// step of each row (an integer: int64 in output files).

//! A monitor table seen through its columns and names, for code that does not know its type.
struct TableRef {
  std::vector<std::vector<double>*> columns;
  std::vector<std::string> column_names;
  std::vector<std::vector<double>*> all() const { return columns; }
  const std::vector<std::string>& names() const { return column_names; }
  //! The step of the last row, or −1 for none.
  std::int64_t last_step() const { return columns[0]->empty() ? -1 : std::int64_t(columns[0]->back()); }
  void drop_last_row() const {
    for (auto* c : columns) c->pop_back();
  }
};

template <class S>
TableRef table_ref(S& s) {
  return {s.all(), s.names()};
}

//! A monitor table and the grid of steps it is evaluated on: the multiples of `every`
//! (0: no grid, as a monitor that runs only on the final parameters).
struct MonitorTable {
  TableRef table;
  std::int64_t every = 0;
  //! A row at `step` off the grid (one that finish() added at run.steps).
  bool off_grid_at(std::int64_t step) const {
    return table.last_step() == step && (every == 0 || step % every != 0);
  }
};

//! The columns in a checkpoint, the step column as int64 (read back as double: HDF5
//! converts, and a checkpoint of an older build has it as double).
template <class S>
void write_series(hid_t f, S s) {  // a copy: all() hands out non-const pointers
  const auto cols = s.all();
  const std::vector<std::int64_t> steps(cols[0]->begin(), cols[0]->end());
  io::write_array(f, "/train/" + s.names()[0], {steps.size()}, steps.data());
  for (std::size_t q = 1; q < cols.size(); ++q)
    io::write_array(f, "/train/" + s.names()[q], {cols[q]->size()}, cols[q]->data());
}

//! The same columns in an output file (collective; rank 0's values are written): the
//! step column as int64, and nothing for a table without rows (a monitor that never ran).
template <class S>
void write_series(io::OutputFile& out, S s) {
  const auto cols = s.all();
  if (cols.empty() || cols[0]->empty()) return;
  const std::vector<std::int64_t> steps(cols[0]->begin(), cols[0]->end());
  out.write_root_int64("/train/" + s.names()[0], {steps.size()}, steps.data());
  for (std::size_t q = 1; q < cols.size(); ++q) {
    const std::vector<hsize_t> dims{cols[q]->size()};  // nvcc 13 drops a braced {cols[q]->size()} argument
    out.write_root_double("/train/" + s.names()[q], dims, cols[q]->data());
  }
}

//! Reads the columns of `s`; columns of different lengths are corruption (`what`: the table's name).
template <class S>
void read_series(hid_t f, const std::string& file, S& s, const std::string& what) {
  const auto cols = s.all();
  for (std::size_t q = 0; q < cols.size(); ++q) *cols[q] = io::read_array<double>(f, file, "/train/" + s.names()[q], {});
  for (std::size_t q = 1; q < cols.size(); ++q)
    if (cols[q]->size() != cols[0]->size()) throw Error("checkpoint " + what + " series differ in length (corrupt)", false);
}

template <class S>
void broadcast_series(const parallel::Comm& comm, S& s) {
  for (auto* col : s.all()) comm.broadcast(*col);
}

}  // namespace zeta::training
