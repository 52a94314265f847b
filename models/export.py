#!/usr/bin/env python3
"""Exports xtpu's test models from PyTorch to ONNX, with reference data.

For each model NAME this writes, into the output directory:
  NAME.onnx          the model (torch.onnx.export, Debian's PyTorch 1.13)
  NAME.inputs.npz    the example inputs, keyed by ONNX input name
  NAME.expected.npz  PyTorch's own outputs for those inputs, keyed by output name

Weights are randomly initialised from a fixed seed (no pretrained weights can
be downloaded here), so outputs are reproducible on every machine.

Besides the named models above, any torchvision classification model can be
exported as tv:NAME (e.g. tv:alexnet, tv:vit_b_16; tv:all for every one, --list
to print them). Its files are named tv_NAME.*; the input is "input"
[batch, 3, 224, 224] (299 for inception_v3) and the output "logits".

Run with Debian's interpreter: /usr/bin/python3 models/export.py OUTDIR [NAME...]
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

SEQ = 128
VOCAB = 8192
HIDDEN = 768
HEADS = 12
LAYERS = 4


class BertStyleEncoder(nn.Module):
    """Token + position embeddings, LayerNorm, then torch.nn.TransformerEncoder."""

    def __init__(self, layers=LAYERS):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, HIDDEN)
        self.pos = nn.Embedding(SEQ, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN)
        layer = nn.TransformerEncoderLayer(d_model=HIDDEN, nhead=HEADS, dim_feedforward=4 * HIDDEN,
                                           dropout=0.1, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.register_buffer("positions", torch.arange(SEQ).unsqueeze(0), persistent=False)

    def forward(self, input_ids):
        x = self.tok(input_ids) + self.pos(self.positions)
        return self.encoder(self.norm(x))


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.proj = nn.Linear(HIDDEN, HIDDEN)
        mask = torch.tril(torch.ones(SEQ, SEQ, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, SEQ, SEQ), persistent=False)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(HIDDEN, dim=2)
        hd = c // HEADS
        q = q.view(b, t, HEADS, hd).transpose(1, 2)
        k = k.view(b, t, HEADS, hd).transpose(1, 2)
        v = v.view(b, t, HEADS, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~self.mask[:, :, :t, :t], float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        return self.proj(y)


class GptBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(HIDDEN)
        self.attn = CausalSelfAttention()
        self.ln2 = nn.LayerNorm(HIDDEN)
        self.mlp = nn.Sequential(nn.Linear(HIDDEN, 4 * HIDDEN), nn.GELU(), nn.Linear(4 * HIDDEN, HIDDEN))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Gpt2StyleDecoder(nn.Module):
    """A GPT-2-style decoder stack in plain torch: causal attention, GELU, LayerNorm."""

    def __init__(self, layers=LAYERS):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, HIDDEN)
        self.pos = nn.Embedding(SEQ, HIDDEN)
        self.blocks = nn.Sequential(*[GptBlock() for _ in range(layers)])
        self.ln_f = nn.LayerNorm(HIDDEN)
        self.head = nn.Linear(HIDDEN, VOCAB, bias=False)
        self.register_buffer("positions", torch.arange(SEQ).unsqueeze(0), persistent=False)

    def forward(self, input_ids):
        x = self.tok(input_ids) + self.pos(self.positions)
        return self.head(self.ln_f(self.blocks(x)))


def image_input(batch, size=224):
    g = torch.Generator().manual_seed(1)
    return (torch.rand(batch, 3, size, size, generator=g) - 0.5) / 0.25


def token_input(batch):
    g = torch.Generator().manual_seed(2)
    return torch.randint(0, VOCAB, (batch, SEQ), generator=g)


def randomize(model):
    """Gives every parameter and normalization statistic its own random value.

    Default inits leave LayerNorm/BatchNorm as identities and
    nn.TransformerEncoder's deep-copied layers identical, which would hide
    bugs that mix up layers or drop an affine term."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm2d, nn.LayerNorm)):
                if mod.weight is not None:
                    mod.weight.copy_(1 + 0.1 * torch.randn(mod.weight.shape, generator=g))
                    mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))
                if isinstance(mod, nn.BatchNorm2d):
                    mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                    mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
        if not hasattr(model, "fc") and not hasattr(model, "classifier"):  # transformers
            for name, p in model.named_parameters():
                if p.dim() >= 2 and "norm" not in name and "ln" not in name:
                    bound = math.sqrt(3.0 / p.shape[-1])
                    p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
                elif "bias" in name and "norm" not in name and "ln" not in name:
                    p.copy_(0.02 * torch.randn(p.shape, generator=g))
    return model


def make(name, batch=1):
    import torchvision
    torch.manual_seed(0)
    if name.startswith("tv:"):
        return make_torchvision(name[3:], batch)
    if name in ("resnet18", "resnet50", "mobilenet_v2"):
        model = randomize(getattr(torchvision.models, name)(weights=None))
        return model, image_input(batch), "input", "logits"
    if name == "bert":
        return randomize(BertStyleEncoder()), token_input(batch), "input_ids", "hidden"
    if name == "gpt2":
        return randomize(Gpt2StyleDecoder()), token_input(batch), "input_ids", "logits"
    raise SystemExit(f"export.py: unknown model '{name}' (known: {', '.join(MODELS)})")


MODELS = ["resnet18", "resnet50", "mobilenet_v2", "bert", "gpt2"]

# torchvision models whose float32 weights exceed this are not exported by
# default (slow to export and run on a small machine; ONNX files stop at 2 GB).
MAX_WEIGHT_BYTES = 600 * 1000 * 1000


class SkipModel(Exception):
    """The model is deliberately not exported; the message says why."""


def torchvision_names():
    """Every torchvision classification model (not detection, segmentation, video...)."""
    import torchvision.models as tvm
    return tvm.list_models(module=tvm)


def torchvision_input_size(name):
    return 299 if name == "inception_v3" else 224


def randomize_torchvision(model):
    """Randomizes what a torchvision model's default init leaves constant.

    Normalization layers get random affine terms and running statistics (as
    randomize() does), and every other parameter that the default init leaves
    at one value (zero biases, ViT's zero head and class token, ConvNeXt's
    1e-6 layer scale) gets a random one, so that each layer shows in the output."""
    g = torch.Generator().manual_seed(3)
    norms = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    done = set()
    with torch.no_grad():
        for mod in model.modules():
            if not isinstance(mod, norms):
                continue
            if getattr(mod, "weight", None) is not None:
                mod.weight.copy_(1 + 0.1 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))
                done.update((id(mod.weight), id(mod.bias)))
            if getattr(mod, "running_mean", None) is not None:
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
        for name, p in model.named_parameters():
            if id(p) in done or p.numel() == 0 or float(p.max()) != float(p.min()):
                continue
            if "layer_scale" in name:
                p.copy_(0.05 + 0.1 * torch.rand(p.shape, generator=g))
            elif float(p.max()) != 0.0:
                p.mul_(1 + 0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                bound = math.sqrt(3.0 / (p.numel() // p.shape[0]))
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


def register_missing_symbolics():
    """Teaches PyTorch 1.13's exporter ops that torchvision models use but it lacks.

    aten::zero comes from Tensor.zero_(), which Swin V2 applies to a slice of
    its qkv bias; it becomes zeros of the same shape and dtype."""
    from torch.onnx import symbolic_opset9 as opset9

    def zero(g, self):
        return opset9.zeros_like(g, self)
    torch.onnx.register_custom_op_symbolic("aten::zero", zero, 9)


def torchvision_model(name):
    """The model with torchvision's default (untrained) init; nothing is downloaded."""
    import torchvision.models as tvm
    if name not in torchvision_names():
        raise SystemExit(f"export.py: unknown torchvision model '{name}' (see --list)")
    kwargs = {"init_weights": True} if name in ("inception_v3", "googlenet") else {}
    return tvm.get_model(name, weights=None, **kwargs)


def make_torchvision(name, batch):
    register_missing_symbolics()
    model = torchvision_model(name)
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    if nbytes > MAX_WEIGHT_BYTES:
        raise SkipModel(f"{nbytes / 1e6:.0f} MB of weights (limit {MAX_WEIGHT_BYTES / 1e6:.0f} MB)")
    return randomize_torchvision(model), image_input(batch, torchvision_input_size(name)), "input", "logits"


def file_stem(name):
    """tv:alexnet -> tv_alexnet; other names are their own stem."""
    return name.replace(":", "_")


def expand(names):
    """Replaces tv:all by every torchvision classification model."""
    out = []
    for n in names:
        out += ["tv:" + m for m in torchvision_names()] if n == "tv:all" else [n]
    return out


class Bf16Model(nn.Module):
    """A bfloat16 copy of `model` (weights and activations, as TPU models are
    usually run) with float32 inputs and outputs: the ONNX graph casts at its
    edges, so the .npz files stay float32."""

    def __init__(self, model):
        super().__init__()
        self.model = model.to(torch.bfloat16)

    def forward(self, x):
        if x.is_floating_point():
            x = x.to(torch.bfloat16)
        return self.model(x).float()


def export(name, outdir, opset=17, batch=1, suffix="", bf16=False):
    model, x, in_name, out_name = make(name, batch)
    if bf16:
        model = Bf16Model(model)
    model.eval()
    stem = os.path.join(outdir, file_stem(name) + suffix)
    with torch.no_grad():
        expected = model(x)
    if not torch.isfinite(expected).all() or float(expected.max()) == float(expected.min()):
        print(f"export: warning: {name}: PyTorch's outputs are not finite or all equal", file=sys.stderr)
    # Exported with autograd on: PyTorch's fused inference fast path for
    # TransformerEncoderLayer (not exportable) is only taken without it.
    torch.onnx.export(model, (x,), stem + ".onnx", input_names=[in_name], output_names=[out_name],
                      opset_version=opset, do_constant_folding=True)
    np.savez(stem + ".inputs.npz", **{in_name: x.numpy()})
    np.savez(stem + ".expected.npz", **{out_name: expected.numpy()})
    return stem + ".onnx"


def main():
    global MAX_WEIGHT_BYTES
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir")
    p.add_argument("models", nargs="*", default=MODELS)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--suffix", default="", help="appended to each file stem")
    p.add_argument("--bf16", action="store_true",
                   help="export a bfloat16 copy of each model (float32 inputs and outputs, cast in the graph)")
    p.add_argument("--force", action="store_true", help="re-export even if the files exist")
    p.add_argument("--max-weight-mb", type=float, default=MAX_WEIGHT_BYTES / 1e6,
                   help="skip torchvision models with more float32 weights than this (default %(default)g)")
    p.add_argument("--list", action="store_true", help="print the torchvision model names and exit")
    if "--list" in sys.argv[1:]:
        print("\n".join("tv:" + n for n in torchvision_names()))
        return
    a = p.parse_args()
    MAX_WEIGHT_BYTES = a.max_weight_mb * 1e6
    os.makedirs(a.outdir, exist_ok=True)
    torch.set_num_threads(2)
    failed = False
    for name in expand(a.models):
        stem = os.path.join(a.outdir, file_stem(name) + a.suffix)
        if not a.force and all(os.path.exists(stem + e) for e in (".onnx", ".inputs.npz", ".expected.npz")):
            print(f"export: {stem}.onnx exists")
            continue
        t = time.time()
        try:
            export(name, a.outdir, a.opset, a.batch, a.suffix, a.bf16)
        except SkipModel as e:
            print(f"export: skipped {name}: {e}")
            continue
        except Exception as e:  # report and go on with the other models
            first = (str(e).strip().splitlines() or [""])[0]
            print(f"export: FAILED {name}: {type(e).__name__}: {first}", file=sys.stderr)
            failed = True
            continue
        print(f"export: {stem}.onnx (opset {a.opset}, batch {a.batch}{', bf16' if a.bf16 else ''}) in {time.time() - t:.1f} s")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
