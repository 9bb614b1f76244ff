//! Config: integer keys in floating notation, and INI errors that name the file and line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/error.hpp"

namespace zeta {
namespace {

Config steps_config(const std::string& value) {
  Config c;
  c.declare("run.steps", "1000", "steps");
  c.parse_text("", {"--run.steps=" + value});
  return c;
}

//! The error that reading run.steps = `value` raises ("" if none).
std::string int_error(const std::string& value) {
  try {
    steps_config(value).get_int("run.steps");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigInt, ExactIntegersInFloatingNotation) {
  EXPECT_EQ(steps_config("1e6").get_int("run.steps"), 1000000);
  EXPECT_EQ(steps_config("2.5e3").get_int("run.steps"), 2500);
  EXPECT_EQ(steps_config("1.0e2").get_int("run.steps"), 100);
  EXPECT_EQ(steps_config("1E6").get_int("run.steps"), 1000000);
  EXPECT_EQ(steps_config("100.").get_int("run.steps"), 100);
  EXPECT_EQ(steps_config("-3e2").get_int("run.steps"), -300);
  EXPECT_EQ(steps_config("0.0").get_int("run.steps"), 0);
  EXPECT_EQ(steps_config("1.25e+2").get_int("run.steps"), 125);
  EXPECT_EQ(steps_config("12500e-2").get_int("run.steps"), 125);
  // Read from the digits, not through a double: 2^53 + 1 stays exact.
  EXPECT_EQ(steps_config("9.007199254740993e15").get_int("run.steps"), 9007199254740993LL);
  EXPECT_EQ(steps_config("9.223372036854775807e18").get_int("run.steps"), 9223372036854775807LL);
  EXPECT_EQ(steps_config("-9.223372036854775808e18").get_int("run.steps"), INT64_MIN);
  // Plain integers as before.
  EXPECT_EQ(steps_config("42").get_int("run.steps"), 42);
  EXPECT_EQ(steps_config("-7").get_int("run.steps"), -7);
}

TEST(ConfigInt, RefusedNamingTheKey) {
  for (const char* bad : {"1.5", "1e-3", "1.00000000000000001", "abc", "", "1e", "1e+", "2.5e3x", "0x10", "1,5",
                          "1e6.5", "--1", "."}) {
    const std::string e = int_error(bad);
    EXPECT_EQ(e.rfind("run.steps: expected an integer, got '" + std::string(bad) + "'", 0), 0u)
        << bad << " -> " << e;
  }
  EXPECT_NE(int_error("1.5").find("not a whole number"), std::string::npos);
  for (const char* big : {"1e30", "9.223372036854775808e18", "-9.223372036854775809e18", "99999999999999999999"}) {
    const std::string e = int_error(big);
    EXPECT_EQ(e, "run.steps: integer '" + std::string(big) + "' is out of range") << e;
  }
}

//! The error that parsing `ini` as file "f.ini" raises ("" if none).
std::string ini_error(const std::string& ini) {
  Config c;
  c.declare("run.steps", "1000", "steps");
  c.declare("run.seed", "1", "seed");
  c.declare("output.file", "x.h5", "file");
  try {
    c.parse_text(ini, {}, "f.ini");
  } catch (const Error& e) {
    EXPECT_TRUE(e.collective());
    return e.what();
  }
  return "";
}

TEST(ConfigIni, TheGrammarOfTheInputFiles) {
  Config c;
  c.declare("run.steps", "1000", "steps");
  c.declare("output.file", "x.h5", "file");
  c.declare("model.means", "", "means");
  c.parse_text(
      "# comment\n\n[run]\n  steps=  2e3   # trailing comment\n[ output ]\nfile =\n[model]\nmeans = 1,0; 0,1\n", {},
      "f.ini");
  EXPECT_EQ(c.get_int("run.steps"), 2000);
  EXPECT_EQ(c.get_string("output.file"), "");
  EXPECT_EQ(c.get_string("model.means"), "1,0; 0,1");
  EXPECT_EQ(ini_error("[run]\r\nsteps = 5\r\n"), "");
}

TEST(ConfigIni, ErrorsNameFileAndLine) {
  EXPECT_EQ(ini_error("[run]\nsteps = 5\nseed 3\n"), "f.ini:3: expected 'key = value', got 'seed 3' (no '=')");
  EXPECT_EQ(ini_error("[run\nsteps = 5\n"), "f.ini:1: bad section header '[run' (expected [section])");
  EXPECT_EQ(ini_error("# x\n[]\n"), "f.ini:2: empty section name '[]'");
  EXPECT_EQ(ini_error("[run]\nsteps = 5\n\n# again\nsteps = 6\n"),
            "f.ini:5: configuration key 'run.steps' is given twice (first on line 2)");
  EXPECT_EQ(ini_error("steps = 5\n[run]\n"), "f.ini:1: key 'steps' comes before any [section]");
  EXPECT_EQ(ini_error("[run]\nstepz = 5\n"), "f.ini:2: unknown configuration key 'run.stepz'");
  EXPECT_EQ(ini_error("[run]\n = 5\n"), "f.ini:2: no key name before '=' in '= 5'");
}

TEST(ConfigIni, CommandLineWinsAndIsCheckedToo) {
  Config c;
  c.declare("run.steps", "1000", "steps");
  c.parse_text("[run]\nsteps = 5\n", {"--run.steps=7"}, "f.ini");
  EXPECT_EQ(c.get_int("run.steps"), 7);
  try {
    c.parse_text("", {"--run.stepz=7"});
    ADD_FAILURE() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "unknown configuration key 'run.stepz'");
  }
}

//! differs_from_default: a key given at the default that applies is as if not given
//! (the resolved configuration runs again), any other value differs.
TEST(ConfigDefaults, DiffersFromTheDefaultThatApplies) {
  const auto differs = [](const std::string& key, const std::vector<std::string>& overrides) {
    Config c;
    c.declare("train.reinit_prob", "0.05", "");
    c.declare("train.sigma", "0.1,0.2", "");
    c.declare("train.projection", "gaussian", "");
    c.declare("train.deterministic", "true", "");
    c.declare("train.box", "", "");
    c.declare("model.type", "rbm", "");
    c.declare_per_value("train.lr", "model.type", {{"rbm", "0.1"}, {"mlp", "1e-3"}}, "", "");
    c.declare_required("data.path", "");
    c.parse_text("", overrides);
    return c.differs_from_default(key);
  };
  EXPECT_FALSE(differs("train.reinit_prob", {}));
  EXPECT_FALSE(differs("train.reinit_prob", {"--train.reinit_prob=0.05"}));
  EXPECT_FALSE(differs("train.reinit_prob", {"--train.reinit_prob=5e-2"}));
  EXPECT_TRUE(differs("train.reinit_prob", {"--train.reinit_prob=0.06"}));
  EXPECT_FALSE(differs("train.sigma", {"--train.sigma=0.1, 2e-1"}));
  EXPECT_TRUE(differs("train.sigma", {"--train.sigma=0.1"}));
  EXPECT_TRUE(differs("train.sigma", {"--train.sigma=0.1,0.2,0.3"}));
  EXPECT_FALSE(differs("train.projection", {"--train.projection=gaussian"}));
  EXPECT_TRUE(differs("train.projection", {"--train.projection=rademacher"}));
  EXPECT_FALSE(differs("train.deterministic", {"--train.deterministic=yes"}));
  EXPECT_TRUE(differs("train.deterministic", {"--train.deterministic=false"}));
  EXPECT_FALSE(differs("train.box", {"--train.box="}));
  EXPECT_TRUE(differs("train.box", {"--train.box=0,1"}));
  // A per-value default: the one of the selector's value.
  EXPECT_FALSE(differs("train.lr", {"--train.lr=0.1"}));
  EXPECT_TRUE(differs("train.lr", {"--train.lr=0.1", "--model.type=mlp"}));
  EXPECT_FALSE(differs("train.lr", {"--train.lr=0.001", "--model.type=mlp"}));
  // A required key has no default: given, it differs.
  EXPECT_FALSE(differs("data.path", {}));
  EXPECT_TRUE(differs("data.path", {"--data.path="}));
}

}  // namespace
}  // namespace zeta
