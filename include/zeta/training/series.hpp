//! Monitor tables of a training run: columns of doubles, one entry per evaluation,
//! stored as the /train/NAME datasets of checkpoints and output files.
#pragma once
#include <string>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::training {

// A monitor table S has `std::vector<std::vector<double>*> all()` and the matching
// `names()`; its columns are the checkpoint's /train/NAME datasets.

//! A monitor table seen through its columns and names, for code that does not know its type.
struct TableRef {
  std::vector<std::vector<double>*> columns;
  const std::vector<std::string>* column_names = nullptr;
  std::vector<std::vector<double>*> all() const { return columns; }
  const std::vector<std::string>& names() const { return *column_names; }
};

template <class S>
TableRef table_ref(S& s) {
  return {s.all(), &S::names()};
}

template <class S>
void write_series(hid_t f, S s) {  // a copy: all() hands out non-const pointers
  const auto cols = s.all();
  for (std::size_t q = 0; q < cols.size(); ++q)
    io::write_array(f, "/train/" + s.names()[q], {cols[q]->size()}, cols[q]->data());
}

//! The same columns in an output file (collective; rank 0's values are written).
template <class S>
void write_series(io::OutputFile& out, S s) {
  const auto cols = s.all();
  for (std::size_t q = 0; q < cols.size(); ++q)
    out.write_root_double("/train/" + s.names()[q], {cols[q]->size()}, cols[q]->data());
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
