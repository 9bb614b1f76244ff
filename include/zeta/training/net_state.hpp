//! What a checkpoint of a layer-stack energy (models/net.hpp) holds for its objective,
//! whatever the objective: θ in the /model/net/layer_i layout (io/net_params.hpp) with
//! the sn layers' u and v, so that a restart is bit for bit. NetDsm keeps its state
//! here; NetContrastive's is the same and can move here.
#pragma once
#include <string>
#include <vector>

#include "zeta/io/hdf5.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::training {

struct NetState {
  using Space = Kokkos::DefaultExecutionSpace;
  std::vector<double> theta, spectral;  //!< at gather() / read()

  //! θ and the sn vectors of `net` (collective only in that every rank calls it).
  void gather(const models::Net<Space>& net);
  //! What gather() took, under /model/net.
  void write(hid_t f, const models::NetArch& arch) const;
  //! θ and the sn vectors from a checkpoint (a lack of the sn vectors is an error naming the file); returns θ.
  std::vector<double> read(hid_t f, const std::string& file, const models::NetArch& arch);
  //! Collective: the sn vectors read on one rank on every rank, then they and θ into `net`.
  void restore(const parallel::Comm& comm, models::Net<Space>& net, const std::vector<double>& theta_read);
};

}  // namespace zeta::training
