//! A layer-stack energy's parameters (model.type = net) in HDF5:
//! /model/net/layer_i/weight in PyTorch's shape ([out, in, k, k] for conv, [out, in]
//! for linear) and /model/net/layer_i/bias [out], for each conv / linear layer i of
//! model.net (i = its nn.Sequential index), so that a PyTorch state_dict takes them
//! as "i.weight" and "i.bias" (analysis/net_to_torch.py). Outputs also carry the
//! string attributes `net` and `input` on /model/net. A spectrally normalised layer
//! (sn_conv, sn_linear) also has weight_u [out] and weight_v [in·k·k], PyTorch's
//! names (its "i.weight" is then PyTorch's "i.weight_orig").
#pragma once
#include <string>
#include <vector>

#include <hdf5.h>

#include "zeta/io/hdf5.hpp"
#include "zeta/models/net_arch.hpp"

namespace zeta::io {

//! θ in Net's flat layout from an open file, every shape checked against `arch`
//! and every value finite; errors name the file and the dataset.
std::vector<double> read_net_theta(hid_t f, const std::string& file, const models::NetArch& arch);
//! u and v of the sn layers (Net's spectral state) from an open file; empty when the
//! file has none of them (a file written without sn), an error when it has some.
std::vector<double> read_net_spectral(hid_t f, const std::string& file, const models::NetArch& arch);
//! θ and (when present) the spectral state from `file`; errors name model.params (an
//! mlp's or rbm's parameters in it too).
std::vector<double> read_net_params(const std::string& file, const models::NetArch& arch,
                                    std::vector<double>* spectral = nullptr);
//! Writes /model/net/layer_i/{weight,bias} (and weight_u, weight_v of sn layers) into an open file (serial).
void write_net_params(hid_t f, const models::NetArch& arch, const std::vector<double>& theta,
                      const std::vector<double>& spectral);
//! The same into an output file, with descriptions and the architecture (collective; rank 0's values).
void write_net_params(OutputFile& out, const models::NetArch& arch, const std::vector<double>& theta,
                      const std::vector<double>& spectral);

}  // namespace zeta::io
