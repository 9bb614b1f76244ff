//! A model added the way docs/extending.md says (one header, models/banana.hpp, and
//! one line in models/registry.hpp) runs through every command that samples a
//! continuous model, with no command file touched: zeta sample (MALA, HMC), zeta
//! temper and zeta ais, each against the banana's exact answers ⟨E⟩_β = 1/β and
//! ln Z(β) = ln(2π a s / β), within 4 of the run's own standard errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/apps.hpp"

namespace zeta {
namespace {

const char* kBanana = R"(
[model]
type = banana
banana_a = 1.2
banana_b = 0.5
banana_s = 0.8
)";
const double kA = 1.2, kS = 0.8;

template <class Declare, class Run>
auto run_command(Declare declare, Run run, std::vector<std::string> args) {
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  declare(cfg);
  args.push_back("--run.progress_every=1000");
  args.push_back("--output.file=");
  cfg.parse_text(kBanana, args);
  return run(cfg, self);
}

TEST(ExtensionBanana, SampleMeanEnergyIsOneOverBeta) {
  for (const char* sampler : {"mala", "hmc"})
    for (double beta : {1.0, 2.0}) {
      const auto r = run_command(apps::declare_sample_keys, apps::sample,
                                 {std::string("--sampler.type=") + sampler, "--sampler.beta=" + std::to_string(beta),
                                  "--sampler.chains=128", "--sampler.step_size=0.25", "--run.steps=20000",
                                  "--run.burn_in=2000", "--run.save_every=0"});
      EXPECT_EQ(r.status, "ok");
      EXPECT_GT(r.acceptance_min, 0.5) << sampler;
      EXPECT_GT(r.mean_energy_stderr, 0.0);
      EXPECT_LT(r.mean_energy_stderr, 0.01 / beta) << "too few samples for a meaningful check";
      EXPECT_NEAR(r.mean_energy, 1 / beta, 4 * r.mean_energy_stderr)
          << sampler << " beta " << beta << ": <E> = " << r.mean_energy << " +- " << r.mean_energy_stderr;
      std::printf("%s beta %.1f: <E> = %.5f +- %.5f, exact %.5f\n", sampler, beta, r.mean_energy,
                  r.mean_energy_stderr, 1 / beta);
    }
}

TEST(ExtensionBanana, TemperMeanEnergyPerLevelIsOneOverBeta) {
  const auto r = run_command(apps::declare_temper_app_keys, apps::temper,
                             {"--sampler.type=hmc", "--sampler.step_size=0.25", "--temper.betas=0.5,0.7,1.0",
                              "--temper.copies=4", "--run.steps=20000", "--run.burn_in=2000", "--run.save_every=0"});
  EXPECT_EQ(r.status, "ok");
  ASSERT_EQ(r.mean_energy.size(), 3u);
  EXPECT_GT(r.acceptance[0], 0.1);
  for (std::size_t k = 0; k < 3; ++k) {
    const double exact = 1 / r.betas[k];
    EXPECT_GT(r.mean_energy_stderr[k], 0.0);
    EXPECT_NEAR(r.mean_energy[k], exact, 4 * r.mean_energy_stderr[k])
        << "beta " << r.betas[k] << ": <E> = " << r.mean_energy[k] << " +- " << r.mean_energy_stderr[k];
    std::printf("temper beta %.1f: <E> = %.5f +- %.5f, exact %.5f\n", r.betas[k], r.mean_energy[k],
                r.mean_energy_stderr[k], exact);
  }
}

TEST(ExtensionBanana, AisLogZIsClosedForm) {
  for (double beta : {1.0, 2.0}) {
    const auto r = run_command(apps::declare_ais_app_keys, apps::ais,
                               {"--ais.beta=" + std::to_string(beta), "--ais.steps=500", "--ais.chains=512",
                                "--sampler.type=hmc", "--sampler.step_size=0.25", "--sampler.leapfrog=5"});
    const double exact = std::log(2 * M_PI * kA * kS / beta);
    EXPECT_GT(r.log_z_stderr, 0.0);
    EXPECT_LT(r.log_z_stderr, 0.05);
    EXPECT_LT(std::fabs(r.log_z - exact), 4 * r.log_z_stderr)
        << "beta " << beta << ": ln Z " << r.log_z << " +- " << r.log_z_stderr << ", exact " << exact;
    std::printf("ais beta %.1f: ln Z = %.5f +- %.5f, exact %.5f\n", beta, r.log_z, r.log_z_stderr, exact);
  }
}

}  // namespace
}  // namespace zeta
