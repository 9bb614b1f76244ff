//! Memory that the ranks of one node share: an MPI-3 shared window in which every
//! rank of `node` owns a segment (on its own pages) and sees every other rank's.
//! SharedSum and RowGather build on it.
#pragma once
#include <mpi.h>

#include <cstddef>
#include <vector>

#include "zeta/parallel/comm.hpp"

namespace zeta::parallel {

//! The ranks of comm that share memory with this one, ordered as in comm.
MPI_Comm node_comm(const Comm& comm);

class NodeWindow {
 public:
  NodeWindow() = default;
  //! Collective over `comm`, whose ranks in `node` share the window: `bytes` of this
  //! rank's own. Where any rank of comm cannot allocate one (a small /dev/shm, say),
  //! no rank holds a window and ok() is false.
  NodeWindow(const Comm& comm, MPI_Comm node, std::size_t bytes);
  ~NodeWindow() { release(); }
  NodeWindow(const NodeWindow&) = delete;
  NodeWindow& operator=(const NodeWindow&) = delete;

  bool ok() const { return win_ != MPI_WIN_NULL; }
  //! Node rank q's segment, mapped here.
  void* segment(int q) const { return peers_[std::size_t(q)]; }
  //! Every rank's writes to the window visible to the node's ranks (collective over node).
  void sync() const;
  //! Frees the window (collective over node; owners call it before freeing `node`).
  //! Not while an exception unwinds, perhaps on this rank alone before MPI_Abort:
  //! then the window is left to MPI_Finalize or MPI_Abort.
  void release();

 private:
  MPI_Comm node_ = MPI_COMM_NULL;
  MPI_Win win_ = MPI_WIN_NULL;
  std::vector<void*> peers_;
};

}  // namespace zeta::parallel
