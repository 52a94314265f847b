#!/usr/bin/python3
"""Exports the five reference models (torchvision resnet18/resnet50/mobilenet_v2,
a torch.nn.TransformerEncoder, a small GPT-2-style decoder) with
torch.onnx.export at opsets 13 and 17, plus a fixed input and PyTorch's output
as .npy, into OUTDIR. Used to check the ONNX importer end to end; the files
are large and are not checked in.

usage: /usr/bin/python3 tests/onnx/export_models.py OUTDIR [name ...]
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d, heads, seq):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.gelu = nn.GELU()
        self.heads = heads
        self.register_buffer("mask", torch.tril(torch.ones(seq, seq)).view(1, 1, seq, seq))

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.attn(self.ln1(x)).split(c, dim=2)
        hs = c // self.heads
        q = q.view(b, t, self.heads, hs).transpose(1, 2)
        k = k.view(b, t, self.heads, hs).transpose(1, 2)
        v = v.view(b, t, self.heads, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(self.mask[:, :, :t, :t] == 0, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        x = x + self.fc2(self.gelu(self.fc(self.ln2(x))))
        return x


class GPT(nn.Module):
    def __init__(self, vocab=1000, d=768, heads=12, layers=2, seq=128):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(seq, d)
        self.blocks = nn.ModuleList([Block(d, heads, seq) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.wte(idx) + self.wpe(pos)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def make(name):
    torch.manual_seed(0)
    if name in ("resnet18", "resnet50", "mobilenet_v2"):
        import torchvision
        m = getattr(torchvision.models, name)(weights=None)
        x = torch.randn(1, 3, 224, 224)
    elif name == "transformer":
        layer = nn.TransformerEncoderLayer(d_model=768, nhead=12, batch_first=True)
        m = nn.TransformerEncoder(layer, num_layers=2)
        x = torch.randn(1, 128, 768)
    elif name == "gpt":
        m = GPT()
        x = torch.randint(0, 1000, (1, 128))
    else:
        raise SystemExit("unknown model " + name)
    m.eval()
    return m, x


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or ["resnet18", "resnet50", "mobilenet_v2", "transformer", "gpt"]
    os.makedirs(out, exist_ok=True)
    for name in names:
        m, x = make(name)
        with torch.no_grad():
            y = m(x)
        np.save(os.path.join(out, name + ".input.npy"), x.numpy())
        np.save(os.path.join(out, name + ".output.npy"), y.numpy())
        for opset in (13, 17):
            path = os.path.join(out, f"{name}.opset{opset}.onnx")
            torch.onnx.export(m, (x,), path, opset_version=opset,
                              input_names=["input"], output_names=["output"])
            print("wrote", path, flush=True)


if __name__ == "__main__":
    main()
