#!/usr/bin/env python3
"""The main job: ResNet-18 from PyTorch, compiled for a TPU-v4-like chip and
run on the simulated chip, top-5 beside PyTorch's, with the performance.

Exports torchvision's ResNet-18 (random weights from a fixed seed: no
pretrained weights can be downloaded here) to ONNX, compiles it with
`xtpu compile --chip v4`, runs the executable with `xtpu run` (functional
simulation for the values, the timing model for the cycles), and prints the
top-5 ImageNet classes from both side by side, the relative L2 error between
the two logit vectors, and the chip's performance summary.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xtpu", default=os.path.join(HERE, "..", "build", "xtpu"))
    ap.add_argument("--models", default=os.path.join(HERE, "..", "build", "models"))
    ap.add_argument("--model", default="resnet18", choices=["resnet18", "resnet50", "mobilenet_v2"])
    ap.add_argument("--chip", default="v4", help="chip preset or .toml (default v4)")
    ap.add_argument("--precision", default="default", choices=["default", "high", "highest"])
    a = ap.parse_args()
    os.makedirs(a.models, exist_ok=True)
    stem = os.path.join(a.models, a.model)
    if not os.path.exists(stem + ".onnx"):
        print(f"exporting {a.model} from PyTorch ...", flush=True)
        export.export(a.model, a.models)
    out = stem + ".xtpu_out.npz"
    exe = f"{stem}.{a.chip}.xtpu"
    t = time.time()
    p = subprocess.run([a.xtpu, "compile", stem + ".onnx", "--chip", a.chip, "--precision", a.precision, "-o", exe])
    if p.returncode != 0:
        sys.exit(p.returncode)
    p = subprocess.run([a.xtpu, "run", exe, "--inputs", stem + ".inputs.npz", "--output", out, "--layers", "5"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        sys.exit(p.returncode)
    secs = time.time() - t
    perf = "".join(line + "\n" for line in p.stdout.splitlines() if not line.startswith("logits:"))
    ours = np.load(out)["logits"][0]
    theirs = np.load(stem + ".expected.npz")["logits"][0]
    from torchvision.models import ResNet18_Weights
    cats = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]

    def top5(v):
        e = np.exp(v.astype(np.float64) - v.max())
        prob = e / e.sum()
        idx = np.argsort(-v, kind="stable")[:5]
        return [(int(i), cats[i], float(prob[i])) for i in idx]

    print(f"\n{a.model}: top-5 classes (random weights, fixed seed; input: seeded random image)")
    print(f"{'rank':<5}{f'xtpu (simulated {a.chip}, {a.precision})':<40}{'PyTorch':<40}")
    for r, (x, y) in enumerate(zip(top5(ours), top5(theirs)), 1):
        print(f"{r:<5}{f'{x[0]:4d} {x[1][:24]} {x[2]:.4f}':<40}{f'{y[0]:4d} {y[1][:24]} {y[2]:.4f}':<40}")
    err = float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))
    same1 = int(np.argmax(ours)) == int(np.argmax(theirs))
    same5 = [t[0] for t in top5(ours)] == [t[0] for t in top5(theirs)]
    print(f"\nrelative L2 error of logits: {err:.2e} (bf16 matmuls at precision {a.precision}); "
          f"top-1 {'identical' if same1 else 'DIFFERS'}, top-5 {'identical' if same5 else 'differ in order'}; "
          f"compile + simulate took {secs:.1f} s on the host\n")
    print(f"performance on the simulated chip ({a.chip}):")
    print(perf, end="")
    limit = {"default": 2e-2, "high": 1e-3, "highest": 1e-5}[a.precision]
    if not same1 or err > limit:
        sys.exit(1)


if __name__ == "__main__":
    main()
