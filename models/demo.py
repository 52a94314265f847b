#!/usr/bin/env python3
"""The main job: ResNet-18 from PyTorch, run by xtpu, top-5 beside PyTorch's.

Exports torchvision's ResNet-18 (random weights from a fixed seed: no
pretrained weights can be downloaded here) to ONNX, runs it with
`xtpu run`, and prints the top-5 ImageNet classes from both side by side,
with the max relative error between the two logit vectors.
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
    a = ap.parse_args()
    os.makedirs(a.models, exist_ok=True)
    stem = os.path.join(a.models, a.model)
    if not os.path.exists(stem + ".onnx"):
        print(f"exporting {a.model} from PyTorch ...", flush=True)
        export.export(a.model, a.models)
    out = stem + ".xtpu_out.npz"
    t = time.time()
    p = subprocess.run([a.xtpu, "run", stem + ".onnx", "--inputs", stem + ".inputs.npz", "--output", out])
    if p.returncode != 0:
        sys.exit(p.returncode)
    secs = time.time() - t
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
    print(f"{'rank':<5}{'xtpu (reference backend)':<40}{'PyTorch':<40}")
    for r, (x, y) in enumerate(zip(top5(ours), top5(theirs)), 1):
        print(f"{r:<5}{f'{x[0]:4d} {x[1][:24]} {x[2]:.4f}':<40}{f'{y[0]:4d} {y[1][:24]} {y[2]:.4f}':<40}")
    err = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
    same = [t[0] for t in top5(ours)] == [t[0] for t in top5(theirs)]
    print(f"\nmax relative error of logits: {err:.2e}; top-5 {'identical' if same else 'DIFFER'}; "
          f"xtpu run took {secs:.1f} s")
    if not same or err > 1e-4:
        sys.exit(1)


if __name__ == "__main__":
    main()
