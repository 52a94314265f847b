#!/usr/bin/env python3
"""Surveys every torchvision classification model through xtpu's reference backend.

For each model (tv:NAME, see models/export.py --list), in list order:
  1. export it at batch 1 with models/export.py (in its own process);
  2. xtpu run tv_NAME.onnx --backend reference (killed after --timeout seconds);
     if that fails, xtpu import tv_NAME.onnx tells an import failure from a
     run failure;
  3. compare with PyTorch's outputs: max|xtpu - torch| / max|torch| <= 1e-4.

Writes one line per model to --table (models/torchvision_models.txt):
  name exports imports reference params note
with yes/no columns and a short reason for every "no". Results are cached in
--cache (JSON), so an interrupted survey resumes where it stopped; delete the
cache (or pass --redo NAME) to measure a model again.

Usage: survey_torchvision.py --xtpu PATH --models DIR --table FILE [NAME...]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.join(HERE, "..", "..", "models", "export.py")
TOLERANCE = 1e-4
ENV = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive")


def first_line(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower() or "FAILED" in l]
    line = (errors or lines or [""])[-1]
    line = line.split("xtpu: error: ", 1)[-1]
    if ".onnx: " in line:  # drop the file name
        line = line.split(".onnx: ", 1)[1]
    return line[:200]


def run(cmd, timeout):
    """(returncode or None on timeout, combined output, seconds)."""
    t = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)
        return p.returncode, p.stdout + p.stderr, time.time() - t
    except subprocess.TimeoutExpired:
        return None, "", time.time() - t


def param_count(name):
    import export
    return sum(p.numel() for p in export.torchvision_model(name).parameters())


def survey(name, a):
    r = {"name": name, "exports": "no", "imports": "no", "reference": "no", "note": ""}
    r["params"] = param_count(name)
    stem = os.path.join(a.models, "tv_" + name)
    code, out, secs = run([sys.executable, EXPORT, a.models, "tv:" + name, "--force"], a.export_timeout)
    if code is None:
        r["note"] = f"export took > {a.export_timeout} s"
        return r
    if "export: skipped" in out:
        r["note"] = "skipped: " + out.split(f"export: skipped tv:{name}:", 1)[1].strip().splitlines()[0]
        return r
    if code != 0:
        r["note"] = "export failed: " + first_line(out).replace(f"export: FAILED tv:{name}: ", "")
        return r
    r["exports"] = "yes"
    if "warning:" in out:
        r["warning"] = out.split("warning:", 1)[1].splitlines()[0].strip()
    r["export_s"] = round(secs, 1)
    result = os.path.join(a.models, "e2e", "tv_" + name + ".out.npz")
    os.makedirs(os.path.dirname(result), exist_ok=True)
    code, out, secs = run([a.xtpu, "run", stem + ".onnx", "--backend", "reference", "--inputs",
                           stem + ".inputs.npz", "--output", result, "--quiet"], a.timeout)
    if code != 0:
        icode, iout, _ = run([a.xtpu, "import", stem + ".onnx", "-o", os.devnull], a.timeout)
        if icode == 0:
            r["imports"] = "yes"
        elif icode is not None:
            r["note"] = "import failed: " + first_line(iout)
            return r
        r["note"] = (f"reference run skipped: > {a.timeout} s" if code is None else
                     "reference run failed: " + first_line(out))
        return r
    r["imports"] = "yes"
    r["run_s"] = round(secs, 1)
    expected, got = np.load(stem + ".expected.npz"), np.load(result)
    errs = []
    for k in expected.files:
        e = expected[k]
        if k not in got.files or got[k].shape != e.shape:
            r["note"] = f"output {k}: missing or wrong shape"
            return r
        errs.append(float(np.max(np.abs(got[k].astype(np.float64) - e)) / max(np.max(np.abs(e)), 1e-30)))
    os.remove(result)
    r["max_rel_err"] = max(errs)
    r["reference"] = "yes" if max(errs) <= TOLERANCE else "no"
    r["note"] = f"max rel err {max(errs):.2g}; run {secs:.0f} s" + ("; " + r["warning"] if "warning" in r else "")
    return r


def write_table(results, names, path):
    lines = [
        "# torchvision 0.14 classification models (PyTorch 1.13, opset 17, batch 1, random weights)",
        "# through xtpu's ONNX importer and reference evaluator; written by",
        "# tests/e2e/survey_torchvision.py. reference = outputs within max|d|/max|ref| <= 1e-4.",
        "# name                 exports imports reference params      note",
    ]
    for n in names:
        if n not in results:
            continue
        r = results[n]
        lines.append(f"{n:<22} {r['exports']:<7} {r['imports']:<7} {r['reference']:<9} "
                     f"{r['params']:<11} {r['note']}".rstrip())
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xtpu", required=True)
    ap.add_argument("--models", required=True, help="directory for the exported files")
    ap.add_argument("--table", required=True)
    ap.add_argument("--cache", help="JSON cache of results (default: MODELS/torchvision_survey.json)")
    ap.add_argument("--timeout", type=int, default=180, help="seconds allowed for one reference run")
    ap.add_argument("--export-timeout", type=int, default=1200)
    ap.add_argument("--redo", action="store_true", help="measure the named models again")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    sys.path.insert(0, os.path.dirname(EXPORT))
    import export
    all_names = export.torchvision_names()
    cache = a.cache or os.path.join(a.models, "torchvision_survey.json")
    results = json.load(open(cache)) if os.path.exists(cache) else {}
    for name in a.names or all_names:
        if name in results and not (a.redo and a.names):
            continue
        t = time.time()
        results[name] = r = survey(name, a)
        print(f"{name}: exports {r['exports']}, imports {r['imports']}, reference {r['reference']}; "
              f"{r['note']} ({time.time() - t:.0f} s)", flush=True)
        with open(cache, "w") as f:
            json.dump(results, f, indent=1)
        write_table(results, all_names, a.table)
    write_table(results, all_names, a.table)


if __name__ == "__main__":
    main()
