#include "zeta/parallel/node_window.hpp"

#include <exception>

namespace zeta::parallel {

MPI_Comm node_comm(const Comm& comm) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm.raw(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node);
  return node;
}

NodeWindow::NodeWindow(const Comm& comm, MPI_Comm node, std::size_t bytes) : node_(node) {
  MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN);
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each rank's segment on its own pages
  void* mine = nullptr;
  const int rc = MPI_Win_allocate_shared(MPI_Aint(bytes), 1, info, node, &mine, &win_);
  MPI_Info_free(&info);
  if (comm.any(rc != MPI_SUCCESS)) {
    win_ = MPI_WIN_NULL;  // left to MPI_Finalize where it was made
    return;
  }
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
  int size = 0;
  MPI_Comm_size(node, &size);
  peers_.resize(std::size_t(size));
  for (int q = 0; q < size; ++q) {
    MPI_Aint got = 0;
    int unit = 0;
    MPI_Win_shared_query(win_, q, &got, &unit, &peers_[std::size_t(q)]);
  }
}

void NodeWindow::sync() const {
  MPI_Win_sync(win_);
  MPI_Barrier(node_);
  MPI_Win_sync(win_);
}

void NodeWindow::release() {
  if (win_ == MPI_WIN_NULL || std::uncaught_exceptions() > 0) return;
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

}  // namespace zeta::parallel
