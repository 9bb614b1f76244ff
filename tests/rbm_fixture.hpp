//! A tiny Bernoulli RBM (6 visible, 4 hidden, W ~ N(0, 1), biases ~ N(0, 0.5²)) small
//! enough to enumerate, written as a model.params file.
#pragma once
#include <random>
#include <string>

#include "zeta/io/params.hpp"

namespace zeta::test {

inline io::RbmParams tiny_rbm(unsigned seed = 7, int visible = 6, int hidden = 4) {
  io::RbmParams p;
  p.kind = models::RbmKind::bernoulli;
  p.visible = visible, p.hidden = hidden;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> w(0.0, 1.0), bias(0.0, 0.5);
  for (int k = 0; k < visible * hidden; ++k) p.W.push_back(w(gen));
  for (int i = 0; i < visible; ++i) p.b.push_back(bias(gen));
  for (int j = 0; j < hidden; ++j) p.c.push_back(bias(gen));
  return p;
}

}  // namespace zeta::test
