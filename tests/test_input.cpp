//! Bad input is refused with one clear error that names the key or file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/factory.hpp"

namespace zeta {
namespace {

//! Runs `zeta sample` in-process on one rank and returns the error text ("" if none).
std::string sample_error(const std::string& ini, const std::vector<std::string>& overrides = {}) {
  Config cfg;
  apps::declare_sample_keys(cfg);
  parallel::Comm self(MPI_COMM_SELF);
  try {
    cfg.parse_text(ini, overrides);
    apps::sample(cfg, self);
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective()) << "input errors must be raised identically on every rank";
    return e.what();
  }
  return "";
}

const char* kBase = "[run]\nsteps = 20\nburn_in = 5\nsave_every = 0\nprogress_every = 1000\n[output]\nfile =\n";

TEST(BadInput, ValidRunHasNoError) { EXPECT_EQ(sample_error(kBase), ""); }

TEST(BadInput, UnknownKeyInFile) {
  EXPECT_NE(sample_error(std::string(kBase) + "[sampler]\nstep_sise = 0.1\n").find("sampler.step_sise"),
            std::string::npos);
}

TEST(BadInput, UnknownKeyOnCommandLine) {
  EXPECT_NE(sample_error(kBase, {"--model.nonsense=3"}).find("model.nonsense"), std::string::npos);
}

TEST(BadInput, WrongType) {
  const auto e = sample_error(kBase, {"--sampler.chains=many"});
  EXPECT_NE(e.find("sampler.chains"), std::string::npos) << e;
  EXPECT_NE(e.find("many"), std::string::npos) << e;
  EXPECT_NE(sample_error(kBase, {"--sampler.step_size=0.1x"}).find("sampler.step_size"), std::string::npos);
  EXPECT_NE(sample_error(kBase, {"--output.landscape=maybe"}).find("output.landscape"), std::string::npos);
}

TEST(BadInput, NegativeStepSize) {
  const auto e = sample_error(kBase, {"--sampler.step_size=-0.1"});
  EXPECT_NE(e.find("sampler.step_size"), std::string::npos) << e;
  EXPECT_NE(e.find("> 0"), std::string::npos) << e;
}

TEST(BadInput, ImpossibleSizes) {
  EXPECT_NE(sample_error(kBase, {"--sampler.chains=0"}).find("sampler.chains"), std::string::npos);
  EXPECT_NE(sample_error(kBase, {"--run.burn_in=50"}).find("run.burn_in"), std::string::npos);
  // (2,8,3 is a classifier of 3 logits with the energy −logsumexp f: training/jem.hpp.)
  EXPECT_NE(sample_error(kBase, {"--model.type=mlp", "--model.layers=2,8,0"}).find("model.layers"),
            std::string::npos);
  EXPECT_NE(sample_error(kBase, {"--model.type=mlp", "--model.layers=2"}).find("model.layers"), std::string::npos);
  EXPECT_NE(sample_error(kBase, {"--model.dim=3", "--model.sigma=1,2"}).find("model.sigma"), std::string::npos);
  EXPECT_NE(sample_error(kBase, {"--model.type=gmm", "--model.weights=1,1", "--model.means=0,0"})
                .find("model.means"),
            std::string::npos);
}

TEST(BadInput, SamplerOptionsThatBreakDetailedBalance) {
  EXPECT_NE(sample_error(kBase, {"--sampler.type=mala", "--sampler.clip_grad=1"}).find("sampler.clip_grad"),
            std::string::npos);
}

TEST(BadInput, MissingParamsFile) {
  const auto e = sample_error(kBase, {"--model.type=mlp", "--model.layers=2,4,1", "--model.params=no_such.h5"});
  EXPECT_NE(e.find("no_such.h5"), std::string::npos) << e;
}

TEST(BadInput, ParamsWithWrongLayerShapes) {
  const std::string f = "bad_shapes_params.h5";
  io::write_mlp_params(f, models::Mlp<Kokkos::DefaultHostExecutionSpace>::random_params({2, 5, 1}, 3));
  const auto e = sample_error(kBase, {"--model.type=mlp", "--model.layers=2,4,1", "--model.params=" + f});
  EXPECT_NE(e.find(f), std::string::npos) << e;
  EXPECT_NE(e.find("layer_0/weight"), std::string::npos) << e;
  // Too many layers in the file is refused too.
  io::write_mlp_params(f, models::Mlp<Kokkos::DefaultHostExecutionSpace>::random_params({2, 1, 1}, 3));
  const auto e2 = sample_error(kBase, {"--model.type=mlp", "--model.layers=2,1", "--model.params=" + f});
  EXPECT_NE(e2.find(f), std::string::npos) << e2;
  std::remove(f.c_str());
}

TEST(BadInput, CorruptParamsFile) {
  const std::string f = "corrupt_params.h5";
  std::ofstream(f) << "this is not HDF5";
  const auto e = sample_error(kBase, {"--model.type=mlp", "--model.layers=2,4,1", "--model.params=" + f});
  EXPECT_NE(e.find(f), std::string::npos) << e;
  std::remove(f.c_str());
}

// model.params of the other model kind (an rbm's for model.type = mlp, an mlp's for
// model.type = rbm) is refused by load_model_params with one error naming the key and
// the file, not a missing dataset.
TEST(BadInput, ParamsOfTheOtherModelType) {
  const std::string rbm_file = "other_type_rbm.h5", mlp_file = "other_type_mlp.h5";
  io::RbmParams r;
  r.visible = 2;
  r.hidden = 3;
  r.W.assign(6, 0.1);
  r.b.assign(2, 0.0);
  r.c.assign(3, 0.0);
  io::write_rbm_params(rbm_file, r);
  io::write_mlp_params(mlp_file, models::Mlp<Kokkos::DefaultHostExecutionSpace>::random_params({2, 4, 1}, 3));
  const auto e = sample_error(kBase, {"--model.type=mlp", "--model.layers=2,4,1", "--model.params=" + rbm_file});
  EXPECT_EQ(e.rfind("model.params: '" + rbm_file + "' holds rbm parameters", 0), 0u) << e;
  EXPECT_NE(e.find("model.type = mlp"), std::string::npos) << e;
  const auto e2 = sample_error(kBase, {"--model.type=rbm", "--sampler.type=gibbs", "--model.params=" + mlp_file});
  EXPECT_EQ(e2.rfind("model.params: '" + mlp_file + "' holds mlp parameters", 0), 0u) << e2;
  EXPECT_NE(e2.find("model.type = rbm"), std::string::npos) << e2;
  // Each file still runs as its own kind.
  EXPECT_EQ(sample_error(kBase, {"--model.type=mlp", "--model.layers=2,4,1", "--model.params=" + mlp_file}), "");
  EXPECT_EQ(sample_error(kBase, {"--model.type=rbm", "--sampler.type=gibbs", "--model.params=" + rbm_file}), "");
  std::remove(rbm_file.c_str());
  std::remove(mlp_file.c_str());
}

// A checkpoint written before a key existed restarts when the run leaves that key at
// its default (Config::defaults_ini), and is refused when the run sets it otherwise;
// any other difference is still refused.
TEST(CheckpointSignature, KeysNewerThanTheCheckpointPassAtTheirDefaults) {
  Config cfg;
  apps::declare_temper_app_keys(cfg);
  cfg.parse_text("[model]\ntype = ising\nL = 8\n", {});
  const std::vector<std::string> prefixes = {"model.", "temper."};
  const std::string current = io::config_signature(cfg.resolved_ini(), prefixes);
  const std::string defaults = io::config_signature(cfg.defaults_ini(), prefixes);
  ASSERT_NE(current.find("model.banana_a = 1\n"), std::string::npos);
  std::string older;  // the same run's signature without the banana keys
  std::istringstream in(current);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model.banana_", 0) != 0) older += line + "\n";
  EXPECT_NO_THROW(io::check_signature(older, current, "ck.h5", defaults));
  EXPECT_THROW(io::check_signature(older, current, "ck.h5"), Error);  // no defaults: refused as before
  Config set;
  apps::declare_temper_app_keys(set);
  set.parse_text("[model]\ntype = ising\nL = 8\nbanana_a = 2\n", {});
  try {
    io::check_signature(older, io::config_signature(set.resolved_ini(), prefixes), "ck.h5", defaults);
    ADD_FAILURE() << "a new key set away from its default was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.banana_a = (absent)"), std::string::npos) << e.what();
  }
  Config other;
  apps::declare_temper_app_keys(other);
  other.parse_text("[model]\ntype = ising\nL = 16\n", {});
  EXPECT_THROW(io::check_signature(older, io::config_signature(other.resolved_ini(), prefixes), "ck.h5", defaults),
               Error);
}

// A file key names the same file as the checkpoint's, written otherwise (./x, or from
// another directory through the canonical path the checkpoint recorded): a restart.
TEST(CheckpointSignature, FileKeysCompareAsCanonicalPaths) {
  const std::string stored = "data.path = data/x.csv\nmodel.L = 8\n";
  EXPECT_NO_THROW(io::check_signature(stored, "data.path = ./data/../data/x.csv\nmodel.L = 8\n", "ck.h5"));
  EXPECT_THROW(io::check_signature(stored, "data.path = data/y.csv\nmodel.L = 8\n", "ck.h5"), Error);
  EXPECT_THROW(io::check_signature("model.L = 8\ndata.path = x\n", "model.L = ./8\ndata.path = x\n", "ck.h5"), Error);
  const std::string recorded = "data.path = /somewhere/data/x.csv\n";
  EXPECT_NO_THROW(
      io::check_signature(stored, "data.path = /somewhere/./data/x.csv\nmodel.L = 8\n", "ck.h5", "", recorded));
  EXPECT_THROW(io::check_signature(stored, "data.path = /elsewhere/data/x.csv\nmodel.L = 8\n", "ck.h5", "", recorded),
               Error);
}

// sampler.type's default follows model.type, so the resolved configuration (the
// output's /config, the echo, the checkpoint) names the move that runs; a checkpoint
// written when every model stored "mala" still restarts an ising or rbm run at the new
// default, and nothing else.
TEST(CheckpointSignature, SamplerTypeDefaultFollowsTheModel) {
  auto resolved_sampler = [](const std::string& model) {
    Config cfg;
    apps::declare_temper_app_keys(cfg);
    cfg.parse_text("[model]\ntype = " + model + "\n", {});
    return cfg.get_string("sampler.type");
  };
  EXPECT_EQ(resolved_sampler("ising"), "metropolis");
  EXPECT_EQ(resolved_sampler("rbm"), "gibbs");
  EXPECT_EQ(resolved_sampler("gaussian"), "mala");
  const std::string ising = "model.type = ising\nsampler.type = ", rbm = "model.type = rbm\nsampler.type = ";
  EXPECT_NO_THROW(io::check_signature(ising + "mala\n", ising + "metropolis\n", "ck.h5"));
  EXPECT_NO_THROW(io::check_signature(rbm + "mala\n", rbm + "gibbs\n", "ck.h5"));
  EXPECT_THROW(io::check_signature(ising + "mala\n", ising + "heatbath\n", "ck.h5"), Error);
  EXPECT_THROW(io::check_signature(ising + "heatbath\n", ising + "metropolis\n", "ck.h5"), Error);
  const std::string gauss = "model.type = gaussian\nsampler.type = ";
  EXPECT_THROW(io::check_signature(gauss + "mala\n", gauss + "metropolis\n", "ck.h5"), Error);
}

TEST(Params, RoundTripReproducesEnergies) {
  const std::string f = "roundtrip_params.h5";
  const auto p = models::Mlp<Kokkos::DefaultHostExecutionSpace>::random_params({3, 6, 1}, 42);
  io::write_mlp_params(f, p);
  const auto q = io::read_mlp_params(f, {3, 6, 1});
  EXPECT_EQ(p.weight, q.weight);
  EXPECT_EQ(p.bias, q.bias);
  std::remove(f.c_str());
}

TEST(BadInput, ExistingOutputIsKept) {
  const std::string f = "existing_output.h5";
  std::ofstream(f) << "precious";
  EXPECT_EQ(sample_error(kBase, {"--output.file=" + f}), "");
  std::ifstream kept(f + ".~1~");
  std::string s;
  kept >> s;
  EXPECT_EQ(s, "precious");
  std::remove(f.c_str());
  std::remove((f + ".~1~").c_str());
}

TEST(BadInput, FailedRunLeavesNoOutput) {
  const std::string f = "failed_output.h5";
  std::remove(f.c_str());
  EXPECT_NE(sample_error(kBase, {"--output.file=" + f, "--output.landscape=true", "--model.dim=3"}), "");
  EXPECT_FALSE(std::ifstream(f).good());
  for (const auto& e : std::filesystem::directory_iterator("."))  // partial files: f.partial.HOST.PID.RANDOM
    EXPECT_NE(e.path().filename().string().rfind(f + ".partial", 0), 0u) << e.path();
}

}  // namespace
}  // namespace zeta

namespace zeta {
namespace {

TEST(Interrupt, MaxHoursStopsAtASafePointWithStatusInterrupted) {
  Config cfg;
  apps::declare_sample_keys(cfg);
  cfg.parse_text(kBase, {"--run.steps=1000", "--run.max_hours=1e-12", "--output.file=interrupted.h5",
                         "--run.save_every=1"});
  parallel::Comm self(MPI_COMM_SELF);
  const auto r = apps::sample(cfg, self);
  EXPECT_EQ(r.status, "interrupted");
  EXPECT_EQ(r.steps_done, 16);  // the stop is checked every 16 steps
  EXPECT_NE(r.json.str().find("\"status\": \"interrupted\""), std::string::npos);
  std::vector<hsize_t> dims;
  const auto e = io::read_doubles("interrupted.h5", "/samples/energy", dims);
  EXPECT_EQ(dims[0], 11u);  // the rows saved (samples_saved), not the 995 of a full run
  EXPECT_NE(e[10 * dims[1]], 0.0);
  std::remove("interrupted.h5");
}

//! The progress lines one Progress prints to stderr over `steps` updates.
int progress_lines(double interval_s, int steps) {
  testing::internal::CaptureStderr();
  Progress p("zeta test", steps, 1.0, "steps", true, interval_s);
  for (int s = 1; s <= steps; ++s) p.update(s);
  const std::string out = testing::internal::GetCapturedStderr();
  return static_cast<int>(std::count(out.begin(), out.end(), '\n'));
}

TEST(Progress, ZeroIntervalPrintsNoLinesAndALongOneOnlyTheLast) {
  EXPECT_EQ(progress_lines(0.0, 5), 0);  // run.progress_every = 0: off, not a line per step
  EXPECT_EQ(progress_lines(1000.0, 5), 1);
  EXPECT_EQ(progress_lines(1e-12, 5), 5);
}

//! The JSON figures go into /summary with their types, and describe() labels a dataset.
TEST(OutputFile, SummaryAndDescriptionAttributesRoundTrip) {
  const std::string path = (std::filesystem::temp_directory_path() / "zeta_test_summary.h5").string();
  std::filesystem::remove(path);
  parallel::Comm self(MPI_COMM_SELF);
  JsonSummary j;
  j.add("command", "sample");
  j.add("mean_energy", 1.25);
  j.add("steps", std::int64_t(1000));
  j.add("converged", true);
  j.add("log_z", std::vector<double>{0.5, -1.5});
  {
    io::OutputFile out(self, path);
    const double v[3] = {1, 2, 3};
    out.write_root_double("/sample/energy", {3}, v);
    out.describe("/sample/energy", "1", "energy E(x) of each chain, in units of kT at beta = 1", {"chain"});
    out.write_summary(j);
    out.finish();
  }
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto read_double = [&](const char* obj, const char* name, std::size_t n) {
    std::vector<double> v(n, NAN);
    const hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(a, 0) << obj << " " << name;
    EXPECT_GE(H5Aread(a, H5T_NATIVE_DOUBLE, v.data()), 0);
    H5Aclose(a);
    return v;
  };
  EXPECT_EQ(read_double("/summary", "mean_energy", 1)[0], 1.25);
  EXPECT_EQ(read_double("/summary", "steps", 1)[0], 1000.0);
  EXPECT_EQ(read_double("/summary", "log_z", 2), (std::vector<double>{0.5, -1.5}));
  const hid_t b = H5Aopen_by_name(f, "/summary", "converged", H5P_DEFAULT, H5P_DEFAULT);
  const hid_t bt = H5Aget_type(b);
  EXPECT_EQ(H5Tget_class(bt), H5T_ENUM);
  std::int8_t bv = 0;
  EXPECT_GE(H5Aread(b, H5T_NATIVE_INT8, &bv), 0);
  EXPECT_EQ(bv, 1);
  H5Tclose(bt);
  H5Aclose(b);
  const hid_t st = H5Aopen_by_name(f, "/summary", "steps", H5P_DEFAULT, H5P_DEFAULT);
  const hid_t stt = H5Aget_type(st);
  EXPECT_EQ(H5Tget_class(stt), H5T_INTEGER);
  H5Tclose(stt);
  H5Aclose(st);
  const hid_t d = H5Dopen2(f, "/sample/energy", H5P_DEFAULT);
  EXPECT_GT(H5Aexists(d, "units"), 0);
  EXPECT_GT(H5Aexists(d, "description"), 0);
  EXPECT_GT(H5Aexists(d, "axes"), 0);
  H5Dclose(d);
  const hid_t c = H5Aopen_by_name(f, "/summary", "command", H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(c, 0);
  H5Aclose(c);
  H5Fclose(f);
  std::filesystem::remove(path);
}

// A job restarted at step 60 of 100: the lines give the absolute step (61 .. 100 of
// 100) and the fraction of the whole run, not this job's 1 .. 40 of 40.
TEST(Progress, ARestartCountsFromItsStepToTheEnd) {
  testing::internal::CaptureStderr();
  Progress p("zeta test", 100, 1.0, "steps", true, 1e-12, 60);
  for (int s = 61; s <= 100; ++s) p.update(s);
  const std::string out = testing::internal::GetCapturedStderr();
  std::istringstream in(out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 40u) << out;
  EXPECT_EQ(lines.front().rfind("zeta test: step 61/100 ( 61.0%)", 0), 0u) << lines.front();
  EXPECT_EQ(lines.back().rfind("zeta test: step 100/100 (100.0%)", 0), 0u) << lines.back();
}

// A default per the value of another key: the selector's value (given or at its own
// default) picks it, an explicit value wins, and the resolved INI and --help show it.
TEST(Config, PerValueDefaultsFollowTheSelector) {
  const auto make = [] {
    Config cfg;
    cfg.declare("model.type", "rbm", "kind");
    cfg.declare_per_value("train.lr", "model.type", {{"rbm", "0.1"}, {"mlp", "1e-3"}}, "0.5", "rate");
    return cfg;
  };
  Config a = make();
  a.parse_text("", {});
  EXPECT_EQ(a.get_double("train.lr"), 0.1);
  EXPECT_FALSE(a.given("train.lr"));
  EXPECT_NE(a.resolved_ini().find("lr = 0.1\n"), std::string::npos) << a.resolved_ini();
  Config b = make();
  b.parse_text("[model]\ntype = mlp\n", {});
  EXPECT_EQ(b.get_double("train.lr"), 1e-3);
  EXPECT_NE(b.resolved_ini().find("lr = 1e-3\n"), std::string::npos) << b.resolved_ini();
  Config c = make();
  c.parse_text("[model]\ntype = mlp\n", {"--train.lr=0.25"});
  EXPECT_EQ(c.get_double("train.lr"), 0.25);
  Config d = make();
  d.parse_text("", {"--model.type=other"});
  EXPECT_EQ(d.get_double("train.lr"), 0.5);
  EXPECT_NE(a.help_text().find("train.lr = rbm: 0.1, mlp: 1e-3, other: 0.5\n"), std::string::npos) << a.help_text();
}

}  // namespace
}  // namespace zeta
