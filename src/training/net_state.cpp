#include "zeta/training/net_state.hpp"

#include "zeta/core/error.hpp"
#include "zeta/io/net_params.hpp"

namespace zeta::training {

void NetState::gather(const models::Net<Space>& net) {
  theta = net.params();
  spectral = net.spectral_state();
}

void NetState::write(hid_t f, const models::NetArch& arch) const { io::write_net_params(f, arch, theta, spectral); }

std::vector<double> NetState::read(hid_t f, const std::string& file, const models::NetArch& arch) {
  std::vector<double> t = io::read_net_theta(f, file, arch);
  spectral = io::read_net_spectral(f, file, arch);
  if (spectral.size() != std::size_t(arch.n_spectral))
    throw Error("checkpoint '" + file + "' lacks the spectral-norm vectors (weight_u, weight_v) of model.net's sn layers",
                false);
  return t;
}

void NetState::restore(const parallel::Comm& comm, models::Net<Space>& net, const std::vector<double>& theta_read) {
  comm.broadcast(spectral);
  net.set_spectral_state(spectral);
  net.set_params(theta_read);
}

}  // namespace zeta::training
