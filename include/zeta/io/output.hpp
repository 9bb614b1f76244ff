//! Pieces of output every command shares: root attributes, the JSON figures in
//! /summary with the publication, and 2-D landscapes.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/types.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::io {

//! The JSON fields every command starts with: command, status, wall_s, ranks, model, sampler.
void add_json_header(JsonSummary& j, const std::string& command, const std::string& status, double wall_s,
                     const parallel::Comm& comm, const std::string& model, const std::string& sampler);

//! zeta_version, git_commit, command, config (resolved INI), ranks, precision, kokkos_backend.
void write_root_attributes(OutputFile& out, const std::string& command, const Config& cfg, const parallel::Comm& comm);
//! The same with the resolved INI text (`config`) given.
void write_root_attributes(OutputFile& out, const std::string& command, const std::string& config,
                           const parallel::Comm& comm);

//! How a command turns its loop's final figures into its JSON line (`res.json`). A
//! loop calls it once, after its figures and rates are measured and before it
//! publishes the output, so that /summary holds the figures the JSON line prints.
template <class Result>
using Summarize = std::function<void(Result&)>;

//! Collective, how every command ends its output: rank 0's figures of `json` (every
//! rank gets them, so the file holds one set) go into the attributes of /summary, the
//! file is published (OutputFile::finish), and "output", the name it got, is added to
//! `json`; returns that name.
std::string publish(OutputFile& out, JsonSummary& json, const parallel::Comm& comm);

//! output.backups: how many PATH.~N~ backups of an existing output.file to keep.
void declare_output_backups_key(Config& cfg);
//! Reads output.backups (all: -1, or N >= 0) and sets it for every publication of this
//! process (set_output_backups); call before the output is opened.
int apply_output_backups(const Config& cfg);

struct LandscapeSpec {
  bool enabled = false;
  double xmin = -3, xmax = 3, ymin = -3, ymax = 3;
  int n = 128;
};

LandscapeSpec read_landscape_spec(const Config& cfg, int model_dim);

//! The XDMF sidecar of an output file: PATH without .h5, + ".xmf".
std::string landscape_xmf_path(const std::string& h5_path);

//! Collective: /landscape/x [n], /landscape/y [n] and /landscape/energy [n, n] (E at
//! (xs[i], ys[j]) in energy[j n + i]) from rank 0's vectors (the others' are not
//! read), and rank 0 writes the .xmf sidecar so ParaView opens them.
void write_landscape_values(OutputFile& out, const std::vector<double>& xs, const std::vector<double>& ys,
                            const std::vector<double>& energy, const parallel::Comm& comm);

//! The landscape of `s` (β = 1): the model on the n × n nodes on every rank, written from rank 0.
template <class Model>
void write_landscape(OutputFile& out, Model& model, const LandscapeSpec& s, const parallel::Comm& comm) {
  using Space = typename Model::space;
  const int n = s.n;
  Matrix<Space> grid("zeta::landscape::grid", std::size_t(n) * n, 2);
  Vector<Space> energy("zeta::landscape::energy", std::size_t(n) * n);
  auto hg = Kokkos::create_mirror_view(grid);
  std::vector<double> xs(n), ys(n);
  for (int i = 0; i < n; ++i) {
    xs[i] = s.xmin + (s.xmax - s.xmin) * i / (n - 1);
    ys[i] = s.ymin + (s.ymax - s.ymin) * i / (n - 1);
  }
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      hg(j * n + i, 0) = Real(xs[i]);
      hg(j * n + i, 1) = Real(ys[j]);
    }
  Kokkos::deep_copy(grid, hg);
  model.energy(grid, energy);
  auto he = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), energy);
  write_landscape_values(out, xs, ys, std::vector<double>(he.data(), he.data() + he.size()), comm);
}

}  // namespace zeta::io
