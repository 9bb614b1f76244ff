#!/usr/bin/python3
"""Checks one Zeta output against the JSON line of its run (tests/cli/h5_results.sh).

Usage: h5_results.py NAME RUN.json OUTPUT.h5

- /summary holds every figure of the JSON line but "output" (the name the file
  was published under, known only after), with the same value and nothing else:
  strings, integers, booleans and numbers exactly (null = NaN), arrays element
  by element;
- every dataset has non-empty string attributes `units` and `description`, and
  `axes`, one non-empty name per dimension (a dataset of one value may go without);
- integer columns (steps, indices, counts) are integers.
Prints one line per problem and exits 1 if there is any.
"""
import json
import math
import sys

import h5py
import numpy as np

# Datasets that hold integers, by name.
INTEGER = ("/temper/replica", "/temper/round_trips")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def same_number(a, b):
    """JSON value a (None for null) against the attribute's value b."""
    if a is None:
        return isinstance(b, (float, np.floating)) and math.isnan(b)
    return a == b


def check_summary(f, figures, problems):
    if "summary" not in f:
        problems.append("no /summary group")
        return
    attrs = f["summary"].attrs
    for key, want in figures.items():
        if key == "output":
            continue
        if key not in attrs:
            problems.append(f"/summary lacks {key!r}")
            continue
        got = attrs[key]
        if isinstance(want, str):
            ok = isinstance(got, (str, bytes)) and text(got) == want
        elif isinstance(want, bool):
            ok = isinstance(got, np.bool_) and bool(got) == want
        elif isinstance(want, int):
            # (a whole float64 figure prints as an integer too)
            ok = isinstance(got, (np.integer, np.floating)) and not isinstance(got, np.bool_) and got == want
        elif isinstance(want, list):
            arr = np.asarray(got)
            ok = arr.ndim == 1 and len(arr) == len(want) and all(same_number(a, b) for a, b in zip(want, arr))
        else:
            ok = same_number(want, got)
        if not ok:
            problems.append(f"/summary {key!r} is {got!r}, the JSON line says {want!r}")
    for key in attrs:
        if key not in figures:
            problems.append(f"/summary {key!r} is not in the JSON line")


def check_datasets(f, problems):
    datasets = []
    f.visititems(lambda n, o: datasets.append(("/" + n, o)) if isinstance(o, h5py.Dataset) else None)
    if not datasets:
        problems.append("no datasets")
    for name, d in datasets:
        for attr in ("units", "description"):
            if attr not in d.attrs or not text(d.attrs[attr]).strip():
                problems.append(f"{name}: no {attr}")
        if "axes" in d.attrs:
            axes = [text(a) for a in np.atleast_1d(d.attrs["axes"])]
            if len(axes) != d.ndim or not all(a.strip() for a in axes):
                problems.append(f"{name}: axes {axes} for shape {d.shape}")
        elif d.size > 1:
            problems.append(f"{name}: no axes (shape {d.shape})")
        integral = name in INTEGER or name.endswith("step")
        if integral and not np.issubdtype(d.dtype, np.integer):
            problems.append(f"{name}: {d.dtype}, not an integer type")
    return len(datasets)


def main():
    name, json_file, h5_file = sys.argv[1:4]
    with open(json_file) as j:
        line = next(l for l in j if l.startswith("{"))
    figures = json.loads(line)
    problems = []
    if figures.get("output") != h5_file:
        problems.append(f"the JSON line's output is {figures.get('output')!r}, not {h5_file!r}")
    with h5py.File(h5_file, "r") as f:
        check_summary(f, figures, problems)
        n = check_datasets(f, problems)
    for p in problems:
        print(f"FAIL {name}: {p}")
    if not problems:
        print(f"ok   {name}: {len(figures) - 1} figures in /summary, {n} datasets described")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
