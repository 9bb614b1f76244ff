//! Trained parameters in the ◆ HDF5 layout: /model/layer_i/weight [out, in], /model/layer_i/bias [out].
#pragma once
#include <string>
#include <vector>

#include "zeta/models/mlp.hpp"

namespace zeta::io {

//! Reads MLP parameters and checks every shape against `layers`; errors name the file and dataset.
MlpParams read_mlp_params(const std::string& file, const std::vector<int>& layers);
//! Writes MLP parameters (serial, one rank).
void write_mlp_params(const std::string& file, const MlpParams& p);

}  // namespace zeta::io
