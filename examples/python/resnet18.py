#!/usr/bin/env python3
"""ResNet-18 from PyTorch on the simulated TPU-v4-like chip, from Python.

Compiles torchvision's ResNet-18 (random weights from a fixed seed, as
models/export.py makes it: no pretrained weights can be downloaded here) with
xtpu.torch.compile, runs it on the simulated chip, and prints the top-5
ImageNet classes beside PyTorch's own, the relative L2 error of the logits,
and the chip's performance summary. models/demo.py does the same through the
`xtpu` command line.

Run (after building, see docs/python.md):
  PYTHONPATH=build/python /usr/bin/python3 examples/python/resnet18.py [--chip v4] [--precision default]
Exits 1 if the top-1 class differs from PyTorch's or the error is above the
precision's tolerance.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch

import xtpu
import xtpu.torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import export  # noqa: E402  (models/export.py: the same model and input as the e2e tests)

TOLERANCE = {"default": 2e-2, "high": 1e-3, "highest": 1e-5}


def top5(logits, categories):
    v = logits.astype(np.float64)
    prob = np.exp(v - v.max())
    prob /= prob.sum()
    return [(int(i), categories[i], float(prob[i])) for i in np.argsort(-v, kind="stable")[:5]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chip", default="v4", help="chip preset or .toml (default v4)")
    ap.add_argument("--precision", default="default", choices=sorted(TOLERANCE))
    ap.add_argument("--layers", type=int, default=5, help="kernels shown in the performance table")
    a = ap.parse_args()
    torch.set_num_threads(2)
    # torch.onnx.export's tracer warns about Python floats in torchvision's code; harmless here.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)

    model, image, _, _ = export.make("resnet18")
    model.eval()
    with torch.no_grad():
        theirs = model(image)[0].numpy()

    t = time.time()
    run = xtpu.torch.compile(model, (image,), chip=a.chip, precision=a.precision)
    compile_s = time.time() - t
    t = time.time()
    ours = run(image)[0].numpy()
    run_s = time.time() - t

    from torchvision.models import ResNet18_Weights
    categories = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    print(f"resnet18: top-5 classes (random weights, fixed seed; input: seeded random image)")
    print(f"{'rank':<5}{f'xtpu (simulated {a.chip}, {a.precision})':<40}{'PyTorch':<40}")
    for r, (x, y) in enumerate(zip(top5(ours, categories), top5(theirs, categories)), 1):
        print(f"{r:<5}{f'{x[0]:4d} {x[1][:24]} {x[2]:.4f}':<40}{f'{y[0]:4d} {y[1][:24]} {y[2]:.4f}':<40}")
    err = float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))
    same1 = int(np.argmax(ours)) == int(np.argmax(theirs))
    print(f"\nrelative L2 error of logits: {err:.2e} (precision {a.precision}); "
          f"top-1 {'identical' if same1 else 'DIFFERS'}; "
          f"host time: export + compile {compile_s:.1f} s, simulate {run_s:.1f} s\n")
    print(f"performance on the simulated chip ({a.chip}):")
    print(run.summary(a.layers), end="")
    perf = run.last_run["performance"]
    print(f"(last_run['performance']: {perf['cycles']} cycles, MXU utilization {perf['mxu_utilization']:.3f})")
    if not same1 or err > TOLERANCE[a.precision]:
        sys.exit(1)


if __name__ == "__main__":
    main()
