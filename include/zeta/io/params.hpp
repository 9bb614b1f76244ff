//! Trained parameters in the ◆ HDF5 layout: MLP /model/layer_i/weight [out, in], /model/layer_i/bias [out];
//! RBM /model/rbm/W [visible, hidden], /model/rbm/b [visible], /model/rbm/c [hidden], with the
//! string attribute `kind` (bernoulli | gaussian) on /model/rbm.
#pragma once
#include <string>
#include <vector>

#include <hdf5.h>

#include "zeta/core/error.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/rbm_kind.hpp"

namespace zeta::io {

//! Host-side copy of the parameters: weight [out][in] row-major and bias [out] per layer.
struct MlpParams {
  std::vector<int> layers;
  std::vector<std::vector<double>> weight, bias;

  //! θ in Mlp's flat layout: per layer, weight then bias.
  std::vector<double> flat() const {
    std::vector<double> t;
    for (std::size_t l = 0; l < weight.size(); ++l) {
      t.insert(t.end(), weight[l].begin(), weight[l].end());
      t.insert(t.end(), bias.at(l).begin(), bias.at(l).end());
    }
    return t;
  }
  //! The inverse of flat() for the given layer sizes.
  static MlpParams from_flat(const std::vector<int>& layers, const std::vector<double>& theta) {
    MlpParams p;
    p.layers = layers;
    std::size_t k = 0;
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
      const std::size_t in = std::size_t(layers[l]), out = std::size_t(layers[l + 1]);
      if (k + out * in + out > theta.size()) break;
      p.weight.emplace_back(theta.begin() + k, theta.begin() + k + out * in);
      k += out * in;
      p.bias.emplace_back(theta.begin() + k, theta.begin() + k + out);
      k += out;
    }
    if (k != theta.size() || p.weight.size() + 1 != layers.size())
      throw Error("internal: mlp parameter vector has the wrong length for its layers", false);
    return p;
  }
};

//! Reads MLP parameters and checks every shape against `layers`; errors name the file and dataset
//! (and model.params when the file holds an RBM's parameters instead).
MlpParams read_mlp_params(const std::string& file, const std::vector<int>& layers);
//! Writes /model/layer_l/{weight,bias} into an open file (serial).
void write_mlp_params(hid_t file, const MlpParams& p);
//! Creates `file` holding only the MLP parameters (serial, one rank).
void write_mlp_params(const std::string& file, const MlpParams& p);
//! The same into an output file (collective; rank 0's values).
void write_mlp_params(OutputFile& out, const MlpParams& p);
//! θ in Mlp's flat layout from /model/layer_l/{weight,bias} of an open file, shapes checked against `layers`.
std::vector<double> read_mlp_theta(hid_t f, const std::string& file, const std::vector<int>& layers);

//! RBM parameters on the host: W row-major [visible, hidden], so the flat θ = [W | b | c].
struct RbmParams {
  models::RbmKind kind = models::RbmKind::bernoulli;
  int visible = 0, hidden = 0;
  std::vector<double> W, b, c;
  //! Optional (/model/rbm/base_bias): the visible biases of the AIS base-rate model,
  //! Rbm::visible_bias_from_mean of the training data (zeta train writes them).
  std::vector<double> base_bias;
  //! θ = [W | b | c], the layout of Rbm::theta().
  std::vector<double> flat() const;
  //! Splits θ (visible·hidden + visible + hidden values).
  static RbmParams from_flat(models::RbmKind kind, int visible, int hidden, const std::vector<double>& theta);
};

//! Reads /model/rbm/{W,b,c} and its `kind`, checking that the shapes agree with each
//! other and that every value is finite; errors name model.params and the file (an MLP's
//! parameters in it are refused as such).
RbmParams read_rbm_params(const std::string& file);
//! Writes /model/rbm/{W,b,c} (and base_bias when set) and `kind` into an open file (serial).
void write_rbm_params(hid_t file, const RbmParams& p);
//! Creates `file` holding only the RBM parameters (serial, one rank).
void write_rbm_params(const std::string& file, const RbmParams& p);
//! /model/rbm/{W,b,c,base_bias} and `kind` into an output file (collective; rank 0's
//! values; base_bias always, `visible` values).
void write_rbm_params(OutputFile& out, const RbmParams& p);
//! θ = [W | b | c] from /model/rbm of an open file, shapes checked against visible × hidden.
std::vector<double> read_rbm_theta(hid_t f, const std::string& file, int visible, int hidden);

}  // namespace zeta::io
