//! The model registry: continuous models that join Zeta by one header each and
//! one line below. An entry E (models/banana.hpp is the worked example) holds
//!   static constexpr const char* type;           the model.type value
//!   static void declare_keys(Config&);           its own model.* keys, with defaults and help
//!   struct Params; static Params read(const Config&);   its keys, checked (errors name the key)
//!   static int dim(const Params&);
//!   template <class Space> using Model = ...;    e.g. Pointwise<Kernel>: energy, energy_and_grad, dim, name
//!   template <class Space> static Model<Space> make(const Params&);
//! models/factory.hpp adds each entry to [model] (keys, model.type, ModelSpec) and to
//! AnyModel, so every command that takes a continuous model (sample, temper, ais)
//! runs it with every continuous sampler, and no command file changes.
#pragma once
#include "zeta/models/banana.hpp"

namespace zeta::models {

template <class... Entries>
struct ModelList {};

//! One line per registered model.
using RegisteredModels = ModelList<BananaEntry>;

}  // namespace zeta::models
