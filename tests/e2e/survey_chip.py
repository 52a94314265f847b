#!/usr/bin/env python3
"""Surveys the torchvision classification models on the simulated chip.

For every model that runs on the reference backend ("reference yes" in
models/torchvision_models.txt, written by survey_torchvision.py), smallest
first by parameter count, and for each configuration (chip, precision) in
--configs (default v4/default, v4/highest, v5e/default, v5e/highest), runs

  check_chip.py --xtpu XTPU --models WORK --chip CHIP --precision P tv_NAME

(compile, run on the simulated chip, compare with PyTorch: relative L2 error
<= 2e-2 at default precision, <= 1e-5 at highest, and the same top-1 class),
killed after --timeout seconds ("timeout"). WORK is a directory of symbolic
links to the exported files in --models, so the compiled programs and outputs
(WORK/chip/) are this survey's own; they are deleted after each run.

Records per run: status (ok / wrong / compile / run / timeout), relative L2
error, top-1 agreement, cycles, % of peak, compile and run seconds, and the
first error line. Results are cached in --cache (JSON) so the survey resumes
where it stopped (--redo measures the named models again). Writes --table
(models/torchvision_chip.txt), one line per model, and prints a summary.

Usage: survey_chip.py --xtpu PATH --models DIR --table FILE [--list FILE] [--notes FILE] [NAME...]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_chip.py")
LIST = os.path.join(HERE, "..", "..", "models", "torchvision_models.txt")
CONFIGS = ["v4/default", "v4/highest", "v5e/default", "v5e/highest"]


def reference_models(path):
    """[(name, params)] of the "reference yes" models, smallest first."""
    out = []
    for line in open(path):
        f = line.split()
        if line.startswith("#") or len(f) < 5:
            continue
        if f[3] == "yes":
            out.append((f[0], int(f[4])))
    return sorted(out, key=lambda x: x[1])


def link_inputs(models, work, stem):
    os.makedirs(work, exist_ok=True)
    for ext in (".onnx", ".inputs.npz", ".expected.npz"):
        src, dst = os.path.join(models, stem + ext), os.path.join(work, stem + ext)
        if not os.path.lexists(dst):
            os.symlink(os.path.abspath(src), dst)


def error_line(text):
    """The first line of check_chip's output that says what went wrong."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        if "xtpu: error:" in l or l.startswith("error:"):
            return l.split("error: ", 1)[1][:240]
    for i, l in enumerate(lines):
        if l.startswith("FAILED:") and i + 1 < len(lines):
            return lines[i + 1][:240]
    for l in lines:
        if "Traceback" in l or "Error" in l or "error" in l or "Abort" in l or "CHECK" in l:
            return l[:240]
    return (lines[-1] if lines else "")[:240]


def run_one(stem, chip, precision, a, work):
    cmd = ["nice", "-n", "5", sys.executable, CHECK, "--xtpu", a.xtpu, "--models", work, "--chip", chip,
           "--precision", precision, stem]
    r = {"status": "", "cmd": " ".join(cmd[3:])}
    t = time.time()
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=env,
                           start_new_session=True)
        out, code = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        code = None
    r["wall_s"] = round(time.time() - t, 1)
    for f in glob.glob(os.path.join(work, "chip", f"{stem}.{chip}.{precision}.*")):
        os.remove(f)
    m = re.findall(r"relative L2 error ([0-9.e+-]+|nan|inf)", out)
    if m:
        r["rel_l2"] = max(float(x) for x in m)
    m = re.search(r"top-1 agrees on (\d+)/(\d+) rows", out)
    if m:
        r["top1"] = f"{m.group(1)}/{m.group(2)}"
    m = re.search(r"compile ([0-9.]+) s, run ([0-9.]+) s; (\d+) cycles, ([0-9.]+)% of peak", out)
    if m:
        r["compile_s"], r["run_s"] = float(m.group(1)), float(m.group(2))
        r["cycles"], r["peak_pct"] = int(m.group(3)), float(m.group(4))
    if code is None:
        r["status"] = "timeout"
        r["error"] = f"killed after {a.timeout} s"
    elif code == 0 and out.rstrip().endswith("OK"):
        r["status"] = "ok"
    else:
        r["error"] = error_line(out)
        if "FAILED (" in out and " compile " in out.split("FAILED (", 1)[1].splitlines()[0]:
            r["status"] = "compile"
        elif "FAILED (" in out:
            r["status"] = "run"
        else:
            r["status"] = "wrong"
        r["output"] = out[-2000:]
    return r


def cell(r):
    if r is None:
        return "-"
    s = r["status"]
    if s == "ok":
        return f"ok {r['rel_l2']:.1e}"
    if s == "wrong" and "rel_l2" in r:
        return f"WRONG {r['rel_l2']:.1e}" + ("" if r.get("top1", "1/1") == "1/1" else " top1")
    return s.upper()


def read_notes(path):
    """{name: note} from lines "NAME: note" (the diagnosed cause of a failure; # comments)."""
    notes = {}
    if path and os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#") and ":" in line:
                name, note = line.split(":", 1)
                notes[name.strip()] = note.strip()
    return notes


def write_table(results, models, configs, path, built, notes=None):
    lines = [
        "# torchvision 0.14 classification models (PyTorch 1.13, opset 17, batch 1, random weights) on the",
        "# simulated chip; written by tests/e2e/survey_chip.py with check_chip.py per model and configuration.",
        "# pass = top-1 as PyTorch and relative L2 error <= 2e-2 (default) / 1e-5 (highest). Cells: ok|WRONG rel-L2,",
        "# COMPILE/RUN/TIMEOUT (error), - not measured. cycles and %peak are v4/default's. The note of a",
        "# failing model is its diagnosed cause (--notes file) or else the first error line of each config.",
        f"# xtpu built {built}.",
        "# name                 params      " + " ".join(f"{c:<16}" for c in configs) + " v4 cycles   %peak  note",
    ]
    for name, params in models:
        rs = results.get(name, {})
        if not rs:
            continue
        base = rs.get(configs[0]) or {}
        note = []
        for c in configs:
            r = rs.get(c)
            if r and r["status"] != "ok":
                note.append(f"{c}: {r.get('error', '')}")
        if note and (notes or {}).get(name):
            note = [notes[name]]
        cyc = str(base.get("cycles", "-"))
        pk = f"{base['peak_pct']:.1f}" if "peak_pct" in base else "-"
        lines.append(f"{name:<22} {params:<11} " + " ".join(f"{cell(rs.get(c)):<16}" for c in configs) +
                     f" {cyc:<11} {pk:<6} " + "; ".join(note))
    with open(path, "w") as f:
        f.write("\n".join(l.rstrip() for l in lines) + "\n")


def markdown(results, models, configs, notes):
    """The table as Markdown (for docs/models.md)."""
    out = ["| model | params | " + " | ".join(configs) + " | v4 cycles | % of peak | note |",
           "|---" * (len(configs) + 5) + "|"]
    for name, params in models:
        rs = results.get(name, {})
        if not rs:
            continue
        base = rs.get(configs[0]) or {}
        bad = [c for c in configs if rs.get(c) and rs[c]["status"] != "ok"]
        note = (notes.get(name) or "; ".join(f"{c}: {rs[c].get('error', '')}" for c in bad)) if bad else ""
        pk = f"{base['peak_pct']:.1f}" if "peak_pct" in base else "-"
        out.append(f"| {name} | {params / 1e6:.1f} M | " + " | ".join(cell(rs.get(c)) for c in configs) +
                   f" | {base.get('cycles', '-')} | {pk} | {note} |")
    return "\n".join(out)


def summary(results, models, configs):
    for c in configs:
        st = [results.get(n, {}).get(c) for n, _ in models]
        st = [r["status"] for r in st if r]
        counts = {k: st.count(k) for k in ("ok", "wrong", "compile", "run", "timeout")}
        print(f"{c:<12} measured {len(st):>2}/{len(models)}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xtpu", required=True)
    ap.add_argument("--models", required=True, help="directory with the exported tv_NAME.* files")
    ap.add_argument("--work", help="directory for links and outputs (default: MODELS/../chip-survey)")
    ap.add_argument("--table", required=True)
    ap.add_argument("--list", default=LIST, help="survey_torchvision.py's table")
    ap.add_argument("--cache", help="JSON cache (default: WORK/torchvision_chip.json)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated CHIP/PRECISION")
    ap.add_argument("--timeout", type=int, default=300, help="seconds allowed for one check_chip run")
    ap.add_argument("--built", default="?", help="when/what xtpu binary was built (for the table header)")
    ap.add_argument("--redo", action="store_true", help="measure the named models again")
    ap.add_argument("--notes", default=os.path.join(HERE, "..", "..", "models", "torchvision_chip_notes.txt"),
                    help="diagnosed causes of failures, lines NAME: note")
    ap.add_argument("--summary", action="store_true", help="only rewrite the table and print the summary")
    ap.add_argument("--markdown", action="store_true", help="with --summary: also print the table as Markdown")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    configs = a.configs.split(",")
    models = reference_models(a.list)
    work = a.work or os.path.join(os.path.dirname(os.path.abspath(a.models)), "chip-survey")
    cache = a.cache or os.path.join(work, "torchvision_chip.json")
    os.makedirs(work, exist_ok=True)
    results = json.load(open(cache)) if os.path.exists(cache) else {}
    todo = [n for n, _ in models if not a.names or n in a.names]
    for name in [] if a.summary else todo:
        stem = "tv_" + name
        link_inputs(a.models, work, stem)
        for c in configs:
            if c in results.get(name, {}) and not (a.redo and a.names):
                continue
            chip, precision = c.split("/")
            r = run_one(stem, chip, precision, a, work)
            results.setdefault(name, {})[c] = r
            print(f"{name} {c}: {r['status']} rel_l2 {r.get('rel_l2', '-')} top1 {r.get('top1', '-')} "
                  f"cycles {r.get('cycles', '-')} compile {r.get('compile_s', '-')} s run {r.get('run_s', '-')} s "
                  f"({r['wall_s']} s) {r.get('error', '')}", flush=True)
            with open(cache + ".tmp", "w") as f:
                json.dump(results, f, indent=1)
            os.replace(cache + ".tmp", cache)
            write_table(results, models, configs, a.table, a.built, read_notes(a.notes))
    write_table(results, models, configs, a.table, a.built, read_notes(a.notes))
    summary(results, models, configs)
    if a.markdown:
        print(markdown(results, models, configs, read_notes(a.notes)))


if __name__ == "__main__":
    main()
