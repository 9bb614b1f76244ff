//! Trained parameters in the ◆ HDF5 layout: MLP /model/layer_i/weight [out, in], /model/layer_i/bias [out];
//! RBM /model/rbm/W [visible, hidden], /model/rbm/b [visible], /model/rbm/c [hidden], with the
//! string attribute `kind` (bernoulli | gaussian) on /model/rbm.
#pragma once
#include <string>
#include <vector>

#include <hdf5.h>

#include "zeta/models/mlp.hpp"
#include "zeta/models/rbm.hpp"

namespace zeta::io {

//! Reads MLP parameters and checks every shape against `layers`; errors name the file and dataset.
MlpParams read_mlp_params(const std::string& file, const std::vector<int>& layers);
//! Writes /model/layer_l/{weight,bias} into an open file (serial).
void write_mlp_params(hid_t file, const MlpParams& p);
//! Creates `file` holding only the MLP parameters (serial, one rank).
void write_mlp_params(const std::string& file, const MlpParams& p);

//! RBM parameters on the host: W row-major [visible, hidden], so the flat θ = [W | b | c].
struct RbmParams {
  RbmKind kind = RbmKind::bernoulli;
  int visible = 0, hidden = 0;
  std::vector<double> W, b, c;
  //! Optional (/model/rbm/base_bias): the visible biases of the AIS base-rate model,
  //! Rbm::visible_bias_from_mean of the training data (zeta train writes them).
  std::vector<double> base_bias;
  //! θ = [W | b | c], the layout of Rbm::theta().
  std::vector<double> flat() const;
  //! Splits θ (visible·hidden + visible + hidden values).
  static RbmParams from_flat(RbmKind kind, int visible, int hidden, const std::vector<double>& theta);
};

//! Reads /model/rbm/{W,b,c} and its `kind`, checking that the shapes agree with each
//! other and that every value is finite; errors name model.params and the file.
RbmParams read_rbm_params(const std::string& file);
//! Writes /model/rbm/{W,b,c} (and base_bias when set) and `kind` into an open file (serial).
void write_rbm_params(hid_t file, const RbmParams& p);
//! Creates `file` holding only the RBM parameters (serial, one rank).
void write_rbm_params(const std::string& file, const RbmParams& p);

}  // namespace zeta::io
