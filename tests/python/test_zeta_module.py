#!/usr/bin/python3
"""analysis/zeta.py on real outputs of every command (small, fast inputs) and
the plot scripts on them (ctest python_module).

    test_zeta_module.py ZETA MPIEXEC SOURCE_DIR

Runs sample (a 2-D mixture with its landscape on 2 ranks, an RBM), temper (Ising,
and a mixture with 2 ladder copies), free-energy, ais (with the reverse pass),
train (an RBM with its checkpoint, an MLP by DSM with its density grid) in a
scratch directory, and checks: the configuration against the keys given, the
arrays against the JSON figures, zeta.u_kn through pymbar's MBAR against
`zeta free-energy` (same samples, same estimator: ln Z and its error to 1e-9),
burn-in and thinning counts, the trimming of an interrupted run's rows, the
/summary figures (typed) against the JSON line, describe(), the errors, and
that each plot script writes its PNGs with axis labels (plot_samples on an RBM:
the two coordinates of highest variance, not two constant border pixels).
"""
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

zeta_bin, mpiexec, source = sys.argv[1], sys.argv[2], sys.argv[3]
analysis = os.path.join(source, "analysis")
sys.path.insert(0, analysis)
import zeta  # noqa: E402

failures = []


def check(cond, what):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures.append(what)
    return cond


def run(*args, ranks=1, ok=True):
    quiet = ["--run.progress_every=0"] if args[0] in ("sample", "temper", "ais", "train") else []
    cmd = ([mpiexec, "-np", str(ranks)] if ranks > 1 else []) + [zeta_bin, *args, *quiet]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(f"FAIL {' '.join(cmd)} exited {p.returncode}:\n{p.stderr}")
        sys.exit(1)
    return p


def close(a, b, tol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol))


def same_value(a, b):
    """A /summary value against the JSON one: NaN stands for null, arrays as lists; a
    number the JSON prints without a decimal point (0) may be a float64 (0.0) in the file."""
    if b is None:
        return isinstance(a, float) and math.isnan(a)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(b, bool) or isinstance(a, bool):
        return a is b
    if isinstance(b, (int, float)):
        return isinstance(a, (int, float)) and (a == b or (math.isnan(a) and math.isnan(b)))
    return type(a) is type(b) and a == b


TIMING = ("wall_s",)


def check_summary(out, figures, must):
    """/summary against the JSON line when the file has one (every figure both have, but
    timings, equal and typed as JSON types it; the command's key figures there); {} when
    the file predates /summary."""
    if not out.summary:
        check(out.summary == {} and "summary" not in out,
              f"{out.command}: no /summary in '{out.path}': summary is {{}}")
        return
    common = [k for k in figures if k in out.summary and k not in TIMING and not k.endswith("_per_s")
              and "fraction" not in k]
    bad = [k for k in common if not same_value(out.summary[k], figures[k])]
    check(not bad, f"{out.command}: /summary equals the JSON line on {len(common)} figures" +
          (f" (differ: {', '.join(f'{k}: {out.summary[k]!r} vs {figures[k]!r}' for k in bad)})" if bad else ""))
    missing = [k for k in must if k not in out.summary]
    check(not missing, f"{out.command}: /summary has {', '.join(must)}" + (f" (missing {missing})" if missing else ""))


def plot(script, *args):
    """Runs a plot script; returns the PNG files it printed."""
    p = subprocess.run(["/usr/bin/python3", os.path.join(analysis, script), *args], capture_output=True, text=True)
    files = [line.split()[0] for line in p.stdout.splitlines() if line.endswith(".png") or ".png " in line]
    ok = p.returncode == 0 and files and all(os.path.getsize(f) > 0 for f in files)
    check(ok, f"{script} {' '.join(args)}: exit {p.returncode}, wrote {', '.join(files) or 'nothing'}"
          + ("" if ok else f"\n{p.stderr}"))
    return files


work = tempfile.mkdtemp(prefix="zeta_python_")
os.chdir(work)
try:
    # ---- sample: a 2-D mixture with its landscape, on 2 ranks
    p = run("sample", os.path.join(source, "input/gmm_2d.ini"), "--run.steps=400", "--run.burn_in=100",
            "--run.save_every=10", "--sampler.chains=32", "--output.file=gmm.h5", "--output.landscape=true",
            "--output.landscape_n=16", ranks=2)
    fig = zeta.read_json(p.stdout)
    with zeta.open("gmm.h5") as out:
        check(out.command == "sample" and out.attrs.get("ranks") == 2 and not out.checkpoint,
              f"sample: command {out.command!r}, ranks {out.attrs.get('ranks')!r}")
        check(out.config["model.type"] == "gmm" and out.config.get_int("run.steps") == 400 and
              out.config.get_int("sampler.chains") == 32 and out.config.get_int("output.landscape_n") == 16,
              "sample: config holds the keys given on the command line and in the INI")
        check(out.config.section("run")["save_every"] == "10" and "[run]" in out.config.text,
              "sample: config.section and config.text")
        x, e = out["samples/x"], out["samples/energy"]
        check(x.shape == (30, 32, 2) and e.shape == (30, 32) and out.saved == 30,
              f"sample: /samples/x {x.shape}, /samples/energy {e.shape}, saved {out.saved} ((400 - 100) / 10 rows)")
        check(isinstance(x, np.ndarray) and x.dtype == np.float64 and np.all(np.isfinite(x)), "sample: arrays are numpy")
        check(out["landscape/energy"].shape == (16, 16) and "landscape/x" in out and "/landscape/y" in out,
              "sample: /landscape (with and without the leading /)")
        names = out.datasets()
        check(names == sorted(names) and {"samples/x", "samples/energy", "landscape/energy"} <= set(names)
              and out.datasets("landscape") == ["landscape/energy", "landscape/x", "landscape/y"],
              f"sample: datasets() {names}")
        d = out.describe("samples/energy")
        check(isinstance(d, dict) and all(isinstance(d[k], str) for k in ("units", "description") if k in d),
              f"sample: describe(samples/energy) = {d}")
        u = d.get("units", "u")
        check(out.label("samples/energy", "E", "u") == ("E" if u == "1" else f"E [{u}]"),
              f"sample: label() = {out.label('samples/energy', 'E', 'u')!r}")
        check_summary(out, fig, ["mean_energy", "mean_energy_stderr", "tau_int", "acceptance"])
    plot("plot_samples.py", "gmm.h5")

    # ---- train: an RBM on Fashion-MNIST (images) with a checkpoint; then sample it
    fashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    with open("rbm.ini", "w") as f:
        f.write("[model]\ntype = rbm\nhidden = 16\n[data]\ntype = idx\npath = %s\nlimit = 300\n"
                "binarize = threshold\n[train]\nobjective = pcd\nbatch = 32\nchains = 32\neval_every = 50\n" % fashion)
    p = run("train", "rbm.ini", "--run.steps=100", "--output.file=rbm.h5", "--checkpoint.file=rbm.ckpt")
    fig = zeta.read_json(p.stdout)
    with zeta.open("rbm.h5") as out:
        check(out.command == "train" and out["model/rbm/W"].shape == (784, 16) and out["model/rbm/c"].shape == (16,),
              "train: /model/rbm/W [784, 16]")
        steps = out["train/step"]
        check(steps.ndim == 1 and steps.size >= 2 and out["train/recon_error"].shape == steps.shape and
              close(out["train/recon_error"][-1], fig["recon_error"], 0),
              f"train: /train/step {steps.tolist()}, last recon_error = the JSON's")
        check(out.describe("model/rbm").get("kind") == "bernoulli", "train: describe(group) gives its attributes")
        check_summary(out, fig, ["steps", "recon_error"])
    with zeta.open("rbm.ckpt") as ck:
        check(ck.checkpoint and ck.command == "train" and ck.config.get_int("model.hidden") == 16 and
              ck["train/chains"].shape == (32, 784) and "zeta_crc32" not in ck.describe("model/rbm/W"),
              f"checkpoint: command {ck.command!r}, config from its signature, /train/chains")
    plot("plot_train.py", "rbm.h5", "--checkpoint", "rbm.ckpt")
    p = run("sample", "--model.type=rbm", "--model.params=rbm.h5", "--sampler.type=gibbs", "--sampler.chains=16",
            "--run.steps=150", "--run.burn_in=50", "--run.save_every=5", "--output.file=rbm_samples.h5")
    import plot_samples  # noqa: E402 (analysis/, for its choice of coordinates)
    with zeta.open("rbm_samples.h5") as out:
        pts = out["samples/x"].reshape(-1, 784)
        var = pts.var(axis=0)
        i, j = plot_samples.top_variance_pair(pts)
        check(var[0] == 0 and var[1] == 0 and var[i] > 0 and var[j] > 0 and
              min(var[i], var[j]) >= np.sort(var)[-2],
              f"plot_samples on an RBM: pixels 0, 1 are constant (var {var[0]}, {var[1]}); it shows "
              f"x_{i}, x_{j} (var {var[i]:.3f}, {var[j]:.3f}), the two of highest variance")
    files = plot("plot_samples.py", "rbm_samples.h5")
    check(any(f.endswith("_images.png") for f in files), "plot_samples on an RBM: the image grid")

    # ---- train: an MLP by PCD on the ring of Gaussians (density grid, /landscape, /eval)
    p = run("train", "--model.type=mlp", "--model.layers=2,8,1", "--data.type=synthetic", "--data.shape=ring8",
            "--data.examples=500", "--data.heldout_examples=100", "--train.objective=pcd", "--run.steps=50",
            "--train.eval_every=25", "--train.batch=32", "--train.grid_points=16", "--output.file=pcd.h5")
    fig = zeta.read_json(p.stdout)
    with zeta.open("pcd.h5") as out:
        check(out["model/layer_0/weight"].shape == (8, 2) and out["landscape/energy"].shape == (16, 16) and
              out["eval/samples"].shape[1] == 2 and close(out["train/energy_data"][-1], fig["energy_data"], 0),
              "train mlp: /model/layer_0/weight [8, 2], /landscape [16, 16], /eval, last energy_data = the JSON's")
        check_summary(out, fig, ["steps", "energy_data"])
    files = plot("plot_train.py", "pcd.h5")
    check(len(files) == 4, "plot_train.py on an MLP by PCD: curves, density, energies, samples")

    # ---- a bare model.params file (an MLP's layers, as a user writes them)
    import h5py  # noqa: E402
    with h5py.File("params.h5", "w") as f:
        f["model/layer_0/weight"] = np.ones((4, 2))
        f["model/layer_0/bias"] = np.zeros(4)
    with zeta.open("params.h5") as out:
        check(out.command is None and out.config == {} and out.summary == {} and not out.checkpoint and
              out.datasets() == ["model/layer_0/bias", "model/layer_0/weight"],
              "model.params file: no command, empty config and summary, its datasets")

    # ---- temper: Ising, one ladder; and a mixture with 2 ladder copies ([saved, copies, K])
    from pymbar import MBAR  # noqa: E402
    temper_runs = [
        ("ising", ["--model.type=ising", "--model.L=4", "--sampler.type=heatbath", "--temper.count=5",
                   "--temper.beta_min=0.25", "--temper.beta_max=0.55", "--run.steps=3000", "--run.burn_in=300",
                   "--run.save_every=3"], 1),
        ("mixture", [os.path.join(source, "input/temper_mixture.ini"), "--run.steps=1200", "--run.burn_in=200",
                     "--run.save_every=2", "--temper.copies=2", "--temper.count=6", "--checkpoint.file=",
                     "--checkpoint.every_steps=0"], 2),
    ]
    for name, args, copies in temper_runs:
        p = run("temper", *args, f"--output.file={name}.h5")
        fig = zeta.read_json(p.stdout)
        out = zeta.open(f"{name}.h5")
        K = fig["levels"]
        e = out["temper/energy"]
        rows = (out.config.get_int("run.steps") - out.config.get_int("run.burn_in")) // out.config.get_int(
            "run.save_every")
        check(e.shape == ((rows, K) if copies == 1 else (rows, copies, K)) and out.saved == rows,
              f"temper {name}: /temper/energy {e.shape}")
        check(close(out["temper/betas"], fig["betas"], 0) and close(out["temper/tau_int"], fig["tau_int"], 0) and
              close(out["temper/mean_energy"], fig["mean_energy"], 0),
              f"temper {name}: betas, tau_int, mean_energy = the JSON's")
        check_summary(out, fig, ["betas", "round_trip_rate", "log_z_bar"])
        plot("plot_temper.py", f"{name}.h5")

        for thin in ("auto", 3):
            u, N_k = zeta.u_kn(out, thin=thin)
            extra = [] if thin == "auto" else [f"--free_energy.thin={thin}"]
            fe = zeta.read_json(run("free-energy", f"{name}.h5", *extra).stdout)
            check(u.shape == (K, N_k.sum()) and N_k.sum() == fe["samples"],
                  f"temper {name}, thin {thin}: u_kn {u.shape}, {N_k.sum()} samples as free-energy's")
            mbar = MBAR(u, N_k, relative_tolerance=1e-13, verbose=False)
            df, ddf = mbar.getFreeEnergyDifferences(compute_uncertainty=True, return_dict=False)[:2]
            lz = np.array(fe["log_z"])
            dev = np.max(np.abs((lz - lz[0]) + df[0]))
            check(dev < 1e-9, f"temper {name}, thin {thin}: pymbar on zeta.u_kn = zeta free-energy's ln Z "
                  f"(max |difference| {dev:.2e} over {K} levels, ln Z(beta_K) - ln Z(beta_0) = {lz[-1] - lz[0]:.6f})")
            dev = np.max(np.abs(np.array(fe["log_z_stderr"]) - ddf[0]))
            check(dev < 1e-9, f"temper {name}, thin {thin}: and its standard errors (max |difference| {dev:.2e})")
            if "output" in fe:  # free-energy writes a result file
                with zeta.open(fe["output"]) as fo:
                    check(fo.command == "free-energy", f"free-energy output '{fe['output']}' opens")
                    check_summary(fo, fe, ["log_z", "log_z_stderr"])

        # burn_in and a fixed stride: the rows kept and the reduced potentials themselves.
        betas, levels = zeta.temper_energies(out, burn_in=10, thin=4)
        u, N_k = zeta.u_kn(out, burn_in=10, thin=4)
        want = -(-(rows - 10) // 4) * copies
        e3 = e.reshape(rows, copies, K)
        check(np.all(N_k == want) and close(levels[1], e3[10::4, :, 1].reshape(-1), 0) and
              close(u[2, :N_k[0]], betas[2] * e3[10::4, :, 0].reshape(-1), 0),
              f"temper {name}: burn_in 10, thin 4: {want} samples per level, u_kn = beta_k E")
        out.close()

    # ---- an interrupted run: only the first samples_saved rows hold data
    for hours in ("1e-4", "1e-3", "1e-2"):
        p = run("temper", "--model.type=ising", "--model.L=16", "--sampler.type=heatbath", "--temper.count=8",
                "--temper.adapt=none", "--run.steps=400000", "--run.burn_in=20", "--run.save_every=200",
                f"--run.max_hours={hours}", "--output.file=cut.h5")
        with zeta.open("cut.h5") as out:
            if zeta.read_json(p.stdout)["status"] == "interrupted" and 0 < out.saved:
                check(out["temper/energy"].shape == (out.saved, 8) and out.saved < (400000 - 20) // 200 and
                      out["temper/replica"].shape[0] == out.saved and out["temper/betas"].shape == (8,),
                      f"interrupted temper: its {out.saved} saved rows of {(400000 - 20) // 200}")
                break
    else:
        check(False, "interrupted temper: no run stopped by run.max_hours with saved rows")

    # ---- ais with the reverse pass
    p = run("ais", os.path.join(source, "input/ais_ising.ini"), "--model.L=4", "--ais.steps=200", "--ais.chains=128",
            "--ais.reverse=true", "--output.file=ais.h5")
    fig = zeta.read_json(p.stdout)
    with open("ais.json", "w") as f:
        f.write(p.stdout)
    with zeta.open("ais.h5") as out:
        w = out["ais/log_weights"]
        lme = float(np.max(w) + np.log(np.mean(np.exp(w - np.max(w)))))
        check(w.shape == (128,) and out["ais/betas"].shape == (201,) and out["ais/reverse_log_weights"].shape == (128,)
              and abs(fig["base_log_z"] + lme - fig["log_z"]) < 1e-9,
              f"ais: ln Z_0 + log-mean-exp(/ais/log_weights) = the JSON's log_z ({fig['log_z']:.6f})")
        check(out.config.get_float("ais.beta") == fig["beta"], "ais: config ais.beta = the JSON's beta")
        check_summary(out, fig, ["log_z", "log_z_stderr", "ess"])
    plot("plot_log_z.py", "ais.h5", "ais.json")

    # ---- ais.method = smc: /smc/ per step of each replicate, and its schedule / ESS plot
    ps = run("ais", "--model.type=ising", "--model.L=4", "--sampler.type=heatbath", "--ais.beta=0.44068679350977147",
             "--ais.method=smc", "--ais.chains=64", "--ais.replicates=2", "--output.file=smc.h5")
    smc = zeta.read_json(ps.stdout)
    with h5py.File("smc.h5", "r") as f:
        rep, betas, inc = f["smc/replicate"][:], f["smc/betas"][:], f["smc/log_z_increment"][:]
        ends = [betas[rep == k][-1] for k in (0, 1)]
        sums = [smc["base_log_z"] + inc[rep == k].sum() for k in (0, 1)]
        check(rep.shape == betas.shape == f["smc/ess"].shape and int(rep.size) == smc["steps"] and
              all(b == smc["beta"] for b in ends) and close(sums, smc["log_z_replicates"], 1e-9),
              f"smc: {rep.size} steps over 2 replicates, each ending at beta, ln Z_0 + its increments = its ln Z")
    files = plot("plot_log_z.py", "smc.h5")
    check(files == ["smc_smc.png"], f"plot_log_z.py smc.h5: the schedule / ESS plot smc_smc.png ({files})")

    # ---- JSON lines
    both = open("ais.json").read() + "zeta: a stderr line\n" + run("--help", ok=False).stdout + p.stdout
    check(len(zeta.read_json_lines(both)) == 2 and zeta.read_json(both)["command"] == "ais" and
          zeta.read_json(p.stdout.encode())["log_z"] == fig["log_z"], "read_json, read_json_lines (text and bytes)")

    # ---- /summary and describe() typed as OutputFile::write_summary and describe write them
    with h5py.File("typed.h5", "w") as f:
        f.attrs["command"] = "sample"
        g = f.create_group("summary")
        g.attrs["status"] = "ok"                           # variable-length UTF-8
        g.attrs["mean_energy"] = np.float64(1.5)
        g.attrs["tau_int"] = np.float64("nan")             # a JSON null
        g.attrs["chains"] = np.int64(64)
        g.attrs["converged"] = np.bool_(True)              # h5py's bool: an int8 enum FALSE/TRUE
        g.attrs["betas"] = np.array([0.5, 1.0])
        d = f.create_dataset("samples/energy", data=np.zeros((3, 2)))
        d.attrs["units"] = "1"
        d.attrs["description"] = "energy of each chain"
        d.attrs["axes"] = np.array(["saved", "chain"], dtype=h5py.string_dtype())
        f["train/step"] = np.arange(3)
        f["train/step"].attrs["units"] = "step"
    with zeta.open("typed.h5") as out:
        s = out.summary
        check(s["status"] == "ok" and s["mean_energy"] == 1.5 and type(s["mean_energy"]) is float and
              math.isnan(s["tau_int"]) and s["chains"] == 64 and type(s["chains"]) is int and s["converged"] is True
              and s["betas"] == [0.5, 1.0] and type(s["betas"][0]) is float, f"summary typed: {s}")
        check(out.describe("samples/energy") == {"units": "1", "description": "energy of each chain",
                                                 "axes": ["saved", "chain"]} and
              out.label("samples/energy", "E") == "E", f"describe: {out.describe('samples/energy')}")
        check(out.label("train/step", "step") == "step" and out.label("train/step", "tau") == "tau [step]" and
              out.label("train/nope", "E", "kT") == "E [kT]" and out.units("train/nope") is None,
              "label: the units unless dimensionless or the text itself; the default where the file has none")

    # ---- rows past samples_saved (files that hold more rows than were written) are left out
    with h5py.File("rows.h5", "w") as f:
        f.attrs["command"] = "temper"
        f.attrs["samples_saved"] = np.int64(2)
        f["temper/energy"] = np.arange(10.0).reshape(5, 2)
        f["temper/betas"] = np.array([0.5, 1.0])
        f["temper/tau_int"] = np.array([0.5, 0.5])
    with zeta.open("rows.h5") as out:
        u, N_k = zeta.u_kn(out)
        check(out["temper/energy"].tolist() == [[0, 1], [2, 3]] and out.array("temper/energy", all_rows=True).shape ==
              (5, 2) and out["temper/betas"].shape == (2,) and N_k.tolist() == [2, 2] and
              u.tolist() == [[0, 1, 0.5, 1.5], [0, 2, 1, 3]],
              "samples_saved = 2 of 5 rows: 2 rows given (all_rows: 5), and to u_kn")

    # ---- errors name the file and the dataset
    def error_of(fn):
        try:
            fn()
        except zeta.Error as e:
            return str(e)
        return ""
    with open("text.h5", "w") as f:
        f.write("not hdf5\n")
    msgs = [error_of(lambda: zeta.open("missing.h5")), error_of(lambda: zeta.open("text.h5")),
            error_of(lambda: zeta.open("gmm.h5")["samples/nope"]), error_of(lambda: zeta.u_kn("gmm.h5")),
            error_of(lambda: zeta.u_kn("ising.h5", thin=0)), error_of(lambda: zeta.open("gmm.h5")["samples"]),
            error_of(lambda: zeta.open("gmm.h5").datasets("temper"))]
    check("'missing.h5': no such file" in msgs[0] and "'text.h5' is not a readable HDF5 file" in msgs[1] and
          "/samples/nope: no such dataset" in msgs[2] and "samples/x" in msgs[2] and
          "not a zeta temper output" in msgs[3] and "thin" in msgs[4] and "a group, not a dataset" in msgs[5] and
          "'gmm.h5': no group /temper" in msgs[6],
          "errors: " + " | ".join(msgs))
    p = subprocess.run(["/usr/bin/python3", os.path.join(analysis, "plot_temper.py"), "gmm.h5"], capture_output=True,
                       text=True)
    check(p.returncode == 1 and p.stderr.startswith("plot_temper.py: error: 'gmm.h5'"),
          f"plot_temper.py on a sample output: {p.stderr.strip()}")
finally:
    os.chdir("/")
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all python module checks passed")
