//! The units, descriptions and axes (io::OutputFile::describe) of what a training
//! run's output holds beyond the model's parameters (io/params.hpp describes those):
//! the monitor columns /train/NAME, one entry per evaluation, and the /eval rows of
//! the check after an MLP's contrastive training.
#pragma once
#include "zeta/io/hdf5.hpp"

namespace zeta::training {

//! Collective: every monitor or /eval dataset present in `out` gets its attributes;
//! one this vocabulary does not know is left without (ctest cli_h5_results finds it).
void describe_output(io::OutputFile& out);

}  // namespace zeta::training
