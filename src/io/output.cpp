#include "zeta/io/output.hpp"

#include <Kokkos_Core.hpp>

#include <fstream>

#include "zeta/config.hpp"
#include "zeta/core/error.hpp"

namespace zeta::io {

void add_json_header(JsonSummary& j, const std::string& command, const std::string& status, double wall_s,
                     const parallel::Comm& comm, const std::string& model, const std::string& sampler) {
  j.add("command", command);
  j.add("status", status);
  j.add("wall_s", wall_s);
  j.add("ranks", comm.size());
  j.add("model", model);
  j.add("sampler", sampler);
}

void write_root_attributes(OutputFile& out, const std::string& command, const Config& cfg, const parallel::Comm& comm) {
  write_root_attributes(out, command, cfg.resolved_ini(), comm);
}

void write_root_attributes(OutputFile& out, const std::string& command, const std::string& config,
                           const parallel::Comm& comm) {
  out.attribute("zeta_version", std::string(ZETA_VERSION));
  out.attribute("git_commit", std::string(ZETA_GIT_COMMIT));
  out.attribute("command", command);
  out.attribute("config", config);
  out.attribute("ranks", std::int64_t(comm.size()));
  out.attribute("precision", std::string(ZETA_PRECISION_NAME));
  out.attribute("kokkos_backend", std::string(Kokkos::DefaultExecutionSpace::name()));
}

namespace {

//! Rank 0's figures on every rank. The commands add the same fields on every rank;
//! their values, the timings above all, may differ, and the file holds one set.
JsonSummary root_figures(const JsonSummary& json, const parallel::Comm& comm) {
  std::string layout;
  for (const auto& f : json.fields()) layout += f.key + ':' + std::to_string(int(f.kind)) + '\n';
  std::string root_layout = layout;
  comm.broadcast(root_layout);
  if (comm.any(root_layout != layout)) throw Error("internal: the JSON line's fields differ between ranks");
  JsonSummary same;
  for (const auto& f : json.fields()) {
    switch (f.kind) {
      case JsonSummary::Kind::string: {
        std::string v = f.text;
        comm.broadcast(v);
        same.add(f.key, v);
        break;
      }
      case JsonSummary::Kind::number: {
        double v = f.number;
        comm.broadcast(v);
        same.add(f.key, v);
        break;
      }
      case JsonSummary::Kind::integer:
      case JsonSummary::Kind::boolean: {
        std::vector<std::int64_t> v{f.kind == JsonSummary::Kind::integer ? f.integer : std::int64_t(f.boolean)};
        comm.broadcast(v);
        if (f.kind == JsonSummary::Kind::integer)
          same.add(f.key, v[0]);
        else
          same.add(f.key, v[0] != 0);
        break;
      }
      case JsonSummary::Kind::array: {
        std::vector<double> v = f.values;
        comm.broadcast(v);
        same.add(f.key, v);
        break;
      }
    }
  }
  return same;
}

}  // namespace

std::string publish(OutputFile& out, JsonSummary& json, const parallel::Comm& comm) {
  json = root_figures(json, comm);
  out.write_summary(json);
  const std::string name = out.finish();
  json.add("output", name);
  return name;
}

void declare_output_backups_key(Config& cfg) {
  cfg.declare("output.backups", "all",
              "an output.file that exists is kept as FILE.~N~: all keeps every backup; N >= 0 keeps the N newest "
              "(older FILE.~N~ removed); 0 replaces FILE with no backup");
}

int apply_output_backups(const Config& cfg) {
  int keep = -1;
  const std::string v = cfg.get_string("output.backups");
  if (v != "all") {
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
      config_error("output.backups", "expected all or an integer >= 0, got '" + v + "'");
    const std::int64_t n = cfg.get_int("output.backups");
    if (n > 1000000) config_error("output.backups", "must be all or at most 1000000, got " + std::to_string(n));
    keep = static_cast<int>(n);
  }
  set_output_backups(keep);
  return keep;
}

LandscapeSpec read_landscape_spec(const Config& cfg, int model_dim) {
  LandscapeSpec s;
  s.enabled = cfg.get_bool("output.landscape");
  const auto r = cfg.get_doubles("output.landscape_range");
  if (r.size() != 4 || !(r[0] < r[1]) || !(r[2] < r[3]))
    config_error("output.landscape_range", "expected xmin,xmax,ymin,ymax with min < max");
  s.xmin = r[0];
  s.xmax = r[1];
  s.ymin = r[2];
  s.ymax = r[3];
  s.n = static_cast<int>(cfg.get_int_at_least("output.landscape_n", 2));
  if (s.n > 4096) config_error("output.landscape_n", "must be <= 4096");
  if (s.enabled && model_dim != 2)
    config_error("output.landscape", "needs a 2-D model, this one has dimension " + std::to_string(model_dim));
  if (s.enabled && cfg.get_string("output.file").empty()) config_error("output.landscape", "needs output.file");
  return s;
}

std::string landscape_xmf_path(const std::string& h5_path) {
  std::string stem = h5_path;
  if (stem.size() > 3 && stem.substr(stem.size() - 3) == ".h5") stem.resize(stem.size() - 3);
  return stem + ".xmf";
}

namespace {

//! The .xmf sidecar that shows /landscape of h5_path (n × n) to ParaView.
void write_landscape_xmf(const std::string& h5_path, int points) {
  const std::string base = h5_path.substr(h5_path.find_last_of('/') + 1), xmf = landscape_xmf_path(h5_path);
  std::ofstream x(xmf);
  const std::string n = std::to_string(points);
  x << "<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n<Xdmf Version=\"3.0\">\n <Domain>\n"
    << "  <Grid Name=\"landscape\" GridType=\"Uniform\">\n"
    << "   <Topology TopologyType=\"2DRectMesh\" Dimensions=\"" << n << " " << n << "\"/>\n"
    << "   <Geometry GeometryType=\"VXVY\">\n"
    << "    <DataItem Dimensions=\"" << n << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << base
    << ":/landscape/x</DataItem>\n"
    << "    <DataItem Dimensions=\"" << n << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << base
    << ":/landscape/y</DataItem>\n"
    << "   </Geometry>\n"
    << "   <Attribute Name=\"energy\" AttributeType=\"Scalar\" Center=\"Node\">\n"
    << "    <DataItem Dimensions=\"" << n << " " << n << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">"
    << base << ":/landscape/energy</DataItem>\n"
    << "   </Attribute>\n  </Grid>\n </Domain>\n</Xdmf>\n";
  if (!x) throw Error("cannot write '" + xmf + "'", false);
}

}  // namespace

void write_landscape_values(OutputFile& out, const std::vector<double>& xs, const std::vector<double>& ys,
                            const std::vector<double>& energy, const parallel::Comm& comm) {
  const hsize_t n = hsize_t(xs.size()), w = comm.root() ? n : 0;
  if (ys.size() != xs.size() || (comm.root() && energy.size() != std::size_t(n * n)))
    throw Error("internal: a landscape is n × n energies on n x and n y nodes", false);
  out.write_double(out.create_double("/landscape/x", {n}), {0}, {w}, xs.data());
  out.write_double(out.create_double("/landscape/y", {n}), {0}, {w}, ys.data());
  out.write_double(out.create_double("/landscape/energy", {n, n}), {0, 0}, {w, w}, energy.data());
  out.describe("/landscape/x", "1", "x coordinate of the grid nodes", {"x"});
  out.describe("/landscape/y", "1", "y coordinate of the grid nodes", {"y"});
  out.describe("/landscape/energy", "kT",
               "the model's energy E(x, y) at beta = 1 on the grid: energy[j, i] at (x[i], y[j])", {"y", "x"});
  // The sidecar names the .h5 it was published as, and is written only once it exists.
  out.after_publish([points = static_cast<int>(n)](const std::string& h5) { write_landscape_xmf(h5, points); });
}

}  // namespace zeta::io
