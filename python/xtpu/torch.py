"""PyTorch modules on the simulated chip: xtpu.torch.compile.

    import torch, torchvision, xtpu.torch
    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 224, 224)
    run = xtpu.torch.compile(model, (x,), chip="v4", precision="default")
    logits = run(x)                       # a torch.Tensor, computed by the simulated chip
    print(run.executable.summary())

The module is exported with torch.onnx.export (static shapes: the batch size
is the example's), compiled with xtpu.compile, and wrapped in a callable that
takes and returns torch tensors.
"""
# This file is xtpu/torch.py; `import torch` below is an absolute import and
# finds PyTorch itself, never this module.
from __future__ import annotations

import inspect
import io
from typing import Any, Sequence, Tuple, Union

import numpy as np
import torch

import xtpu

__all__ = ["compile", "CompiledModule"]


def _input_names(module: torch.nn.Module, count: int) -> list:
    """The forward() parameter names when they fit, else input0, input1, ..."""
    try:
        params = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:count]]
    if len(names) != count or len(set(names)) != count:
        names = [f"input{i}" for i in range(count)]
    return names


class CompiledModule:
    """A PyTorch module compiled for a chip: call it with torch tensors.

    It takes the same positional tensors as the module's forward() (shapes and
    dtypes as exported) and returns a tensor, or a tuple of tensors if the
    module returns a tuple or list. The values come from the simulated chip;
    `executable` is the underlying xtpu.Executable (last_run, summary()).
    """

    def __init__(self, executable: xtpu.Executable, example_inputs: Tuple[torch.Tensor, ...], multiple_outputs: bool,
                 output_type: type):
        self.executable = executable
        self._shapes = [tuple(t.shape) for t in example_inputs]
        self._dtypes = [t.dtype for t in example_inputs]
        self._multiple = multiple_outputs
        self._output_type = output_type

    @property
    def last_run(self) -> Any:
        """Stats of the last run as a dict (see xtpu.Executable.last_run), or None."""
        return self.executable.last_run

    def summary(self, layers: int = 10) -> str:
        """The performance summary of the last run (see xtpu.Executable.summary)."""
        return self.executable.summary(layers)

    def __call__(self, *inputs: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        specs = self.executable.inputs
        if len(inputs) != len(specs):
            raise TypeError(f"xtpu.torch: the compiled module takes {len(specs)} tensor(s) "
                            f"({', '.join(s.name for s in specs)}), {len(inputs)} were given")
        arrays = []
        for t, spec, shape, dtype in zip(inputs, specs, self._shapes, self._dtypes):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"xtpu.torch: input '{spec.name}' must be a torch.Tensor, not {type(t).__name__}")
            if tuple(t.shape) != shape:
                batch = ""
                if len(shape) == t.dim() and len(shape) > 0 and tuple(t.shape[1:]) == shape[1:]:
                    batch = (f"; the batch size is fixed when the module is exported ({shape[0]}): compile again "
                             f"with example inputs of batch {t.shape[0]}")
                raise ValueError(f"xtpu.torch: input '{spec.name}' has shape {tuple(t.shape)}, the module was "
                                 f"exported with {shape}{batch}")
            if t.dtype != dtype:
                raise ValueError(f"xtpu.torch: input '{spec.name}' has dtype {t.dtype}, the module was exported "
                                 f"with {dtype}")
            arrays.append(t.detach().to("cpu").contiguous().numpy())
        outs = [torch.from_numpy(np.asarray(a)) for a in self.executable(*arrays)]
        if not self._multiple:
            return outs[0]
        return tuple(outs) if self._output_type is tuple else list(outs)

    def __repr__(self) -> str:
        return f"<xtpu.torch.CompiledModule {self.executable!r}>"


def compile(module: torch.nn.Module, example_inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
            chip: Union[str, xtpu.Chip] = "v4", precision: str = "default", *, opset: int = 17) -> CompiledModule:
    """Compiles a PyTorch module for a chip; returns a CompiledModule (call it with tensors).

    module: a torch.nn.Module (exported in eval mode; its mode is restored).
    example_inputs: a tensor or a tuple of tensors for forward(); their shapes
      and dtypes, batch size included, are the compiled ones.
    chip: a preset name ('v4'), a .toml path or an xtpu.Chip.
    precision: 'default', 'high' or 'highest' (see xtpu.compile).
    opset: the ONNX opset torch.onnx.export writes (11-17).
    Export problems raise PyTorch's exceptions; compile errors raise xtpu.Error.
    """
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    for i, t in enumerate(example_inputs):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"xtpu.torch.compile: example input {i} must be a torch.Tensor, not {type(t).__name__}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            expected = module(*example_inputs)
        if isinstance(expected, torch.Tensor):
            multiple, output_type, count = False, torch.Tensor, 1
        elif isinstance(expected, (tuple, list)) and expected and all(isinstance(o, torch.Tensor) for o in expected):
            multiple, output_type, count = True, type(expected), len(expected)
        else:
            raise TypeError("xtpu.torch.compile: the module must return a tensor or a tuple/list of tensors, "
                            f"not {type(expected).__name__}")
        names = _input_names(module, len(example_inputs))
        buffer = io.BytesIO()
        # Exported with autograd on, as models/export.py does: PyTorch's fused
        # inference fast path (TransformerEncoderLayer) is not exportable.
        torch.onnx.export(module, example_inputs, buffer, input_names=names,
                          output_names=[f"output{i}" for i in range(count)] if multiple else ["output"],
                          opset_version=opset, do_constant_folding=True)
    finally:
        module.train(was_training)
    exe = xtpu.compile(buffer.getvalue(), chip=chip, precision=precision)
    if len(exe.inputs) != len(example_inputs):
        raise xtpu.Error(f"xtpu.torch.compile: the exported model has {len(exe.inputs)} input(s), forward() was "
                         f"given {len(example_inputs)}; inputs that forward() does not use are dropped by "
                         "torch.onnx.export: remove them from the example inputs")
    return CompiledModule(exe, example_inputs, multiple, output_type)
