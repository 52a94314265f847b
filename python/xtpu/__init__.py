"""xtpu from Python: compile models for a simulated TPU-class chip and run them.

    import numpy as np
    import xtpu

    exe = xtpu.compile("resnet18.onnx", chip="v4", precision="default")
    (logits,) = exe(np.zeros((1, 3, 224, 224), np.float32))
    print(exe.summary())          # cycles, utilization, top kernels
    exe.last_run["performance"]   # the stats of that run as a dict

    ref = xtpu.run_reference("resnet18.onnx", [x])   # the host evaluator (oracle)

PyTorch modules compile through xtpu.torch.compile(module, example_inputs).
Set-up, API and behaviour (threads, Ctrl-C): docs/python.md.
"""
import importlib as _importlib

from xtpu._xtpu import (  # noqa: F401
    Chip,
    Error,
    Executable,
    TensorSpec,
    __version__,
    compile,
    load,
    run_reference,
)

__all__ = ["Chip", "Error", "Executable", "TensorSpec", "compile", "load", "run_reference", "torch", "__version__"]


def __getattr__(name):
    # `import xtpu; xtpu.torch.compile(...)` works without importing PyTorch
    # for users who never touch it (importing torch takes seconds).
    if name == "torch":
        return _importlib.import_module("xtpu.torch")
    raise AttributeError(f"module 'xtpu' has no attribute '{name}'")
