"""xtpu.torch.compile on the five foundation models (built as models/export.py
builds them) against each module's own outputs, at each precision; and the
wrapper's behaviour on small modules.

Tolerances (relative L2 of the outputs) as tests/e2e/check_chip.py: default
2e-2, high 1e-3, highest 1e-5; classifiers must keep PyTorch's top-1, and
per-position logits (GPT-2) wherever PyTorch's top two are not a near tie.
Every model runs at every precision (about a minute in all on 2 cores; the
slowest case, GPT-2 at highest, takes ~7 s).
"""
import functools
import os
import sys

import numpy as np
import pytest
import torch

import xtpu
import xtpu.torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
import export  # noqa: E402  (models/export.py: the foundation models' definitions)

TOLERANCE = {"default": 2e-2, "high": 1e-3, "highest": 1e-5}
CASES = [(name, precision) for name in export.MODELS for precision in ("default", "high", "highest")]

torch.set_num_threads(2)


@functools.lru_cache(maxsize=1)
def foundation(name):
    """The model (eval mode), its example input and its own output."""
    model, x, _, _ = export.make(name)
    model.eval()
    with torch.no_grad():
        expected = model(x)
    return model, x, expected


def check_close(name, precision, got, want):
    assert isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype
    x, y = got.double().numpy(), want.double().numpy()
    rel = np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30)
    assert rel <= TOLERANCE[precision], f"{name} ({precision}): relative L2 error {rel:.3g}"
    if name in ("resnet18", "resnet50", "mobilenet_v2"):
        assert (x.argmax(-1) == y.argmax(-1)).all(), f"{name} ({precision}): top-1 differs"
    elif name == "gpt2":
        xs, ys = x.reshape(-1, y.shape[-1]), y.reshape(-1, y.shape[-1])
        srt = np.sort(ys, -1)
        decided = (srt[:, -1] - srt[:, -2]) > 1e-3 * (ys.max() - ys.min())
        agree = (xs.argmax(-1) == ys.argmax(-1))[decided]
        assert agree.all(), f"{name} ({precision}): top-1 differs on {(~agree).sum()} of {decided.sum()} positions"
    return rel


@pytest.mark.parametrize("name,precision", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_foundation_model(name, precision):
    model, x, expected = foundation(name)
    run = xtpu.torch.compile(model, (x,), chip="v4", precision=precision)
    assert not model.training  # the mode is restored
    got = run(x)
    rel = check_close(name, precision, got, expected)
    perf = run.last_run["performance"]
    assert perf["cycles"] > 0 and run.executable.precision == precision
    print(f"{name} ({precision}): relative L2 {rel:.2e}, {perf['cycles']} cycles")


class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(16, 4)
        self.b = torch.nn.Linear(16, 2)

    def forward(self, features, scale):
        h = torch.relu(features) * scale
        return self.a(h), self.b(h).softmax(-1)


def test_small_module_tuple_outputs_names_and_training_mode():
    torch.manual_seed(0)
    m = TwoHeads().train()
    x, s = torch.randn(3, 16), torch.rand(3, 1)
    run = xtpu.torch.compile(m, (x, s), precision="highest")
    assert m.training  # restored after export
    assert [i.name for i in run.executable.inputs] == ["features", "scale"]
    got = run(x, s)
    with torch.no_grad():
        want = m.eval()(x, s)
    assert isinstance(got, tuple) and len(got) == 2
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    assert "cycles" in run.summary()


def test_batch_and_dtype_are_as_exported():
    lin = torch.nn.Linear(8, 3)
    run = xtpu.torch.compile(lin, torch.randn(2, 8))
    out = run(torch.randn(2, 8))
    assert out.shape == (2, 3) and out.dtype == torch.float32
    with pytest.raises(ValueError, match=r"batch size is fixed when the module is exported \(2\).*batch 5"):
        run(torch.randn(5, 8))
    with pytest.raises(ValueError, match="dtype torch.float64"):
        run(torch.randn(2, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match="takes 1 tensor"):
        run(torch.randn(2, 8), torch.randn(2, 8))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        run(np.zeros((2, 8), np.float32))


def test_xtpu_torch_does_not_shadow_torch():
    import importlib
    real = importlib.import_module("torch")
    assert real is torch and hasattr(real, "nn") and real.__name__ == "torch"
    assert xtpu.torch.torch is real  # the submodule uses PyTorch itself
    assert xtpu.torch.__name__ == "xtpu.torch" and xtpu.torch is sys.modules["xtpu.torch"]
    assert xtpu.torch.compile.__doc__ and xtpu.torch.CompiledModule.__doc__
