#!/usr/bin/env python3
"""Writes xtpu's int8 test models (ONNX, built with onnx.helper), with reference data.

For each model NAME this writes, into the output directory:
  NAME.onnx          the model (opset 17)
  NAME.inputs.npz    the example inputs, keyed by ONNX input name
  NAME.expected.npz  the outputs, keyed by output name, computed here in numpy
                     from the ONNX operator definitions (not by any runtime)
  NAME.expected_int8.npz  (QDQ models) the outputs with each MatMul/Conv run
                     as int8 hardware runs it: the exact int32 product of the
                     quantized values, converted to float32 and scaled once by
                     float32(x_scale * w_scale) -- what the compiler's
                     int8-matmul pass makes of the float definition (see
                     docs/numerics.md, "The int8 path")

Models (weights s8 symmetric, activations u8 with nonzero zero points):
  qdq_mlp        QuantizeLinear/DequantizeLinear around two MatMuls (per-column
                 weight scales on the first), bias, Relu; float output
  qdq_cnn        the same around Conv + Relu + Conv (NCHW, 3x3, padding 1,
                 per-channel weight scales, int32 biases); float output
  qlinear_matmul QuantizeLinear -> QLinearMatMul (u8 out) -> QLinearMatMul (s8 out)
  qlinear_conv   QuantizeLinear -> QLinearConv (u8 out, bias) -> QLinearConv (stride 2, s8 out)

Numerics of the references: quantization divides in float32, rounds half to
even, adds the zero point and saturates; dequantization is (q - zp) * scale in
float32. Float MatMul/Conv of dequantized values sum the exact products in
float64 and round once to float32; integer ones are exact in int64. QLinear ops
scale the int32 accumulator in float32 by (a_scale * b_scale) / y_scale.

Run with Debian's interpreter: /usr/bin/python3 models/export_quantized.py OUTDIR [NAME...]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = np.float32
MODELS = ["qdq_mlp", "qdq_cnn", "qlinear_matmul", "qlinear_conv"]
ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8,
             np.dtype(np.int8): TensorProto.INT8, np.dtype(np.int32): TensorProto.INT32}


# ---- reference numerics (ONNX operator definitions) ----

def quantize(x, scale, zp):
    """QuantizeLinear: saturate(round_half_even(x / scale) + zp), per tensor."""
    zp = np.asarray(zp)
    info = np.iinfo(zp.dtype)
    q = np.rint(x.astype(F32) / F32(scale)) + zp.astype(F32)
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def dequantize(q, scale, zp=None, axis=None, rank=None):
    """DequantizeLinear: (q - zp) * scale in float32; scale per tensor or along `axis`."""
    def along_axis(p):
        if p.ndim != 1:
            return p
        shape = [1] * q.ndim
        shape[axis] = -1
        return p.reshape(shape)

    v = q.astype(F32)
    if zp is not None:
        v = v - along_axis(np.asarray(zp).astype(F32))
    return (v * along_axis(np.asarray(scale, dtype=F32))).astype(F32)


def matmul_f(a, b):
    """Float MatMul: exact products summed in float64, rounded once to float32."""
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(F32)


def im2col(x, kh, kw, stride, pad):
    """x [N,C,H,W] -> cols [N, Ho*Wo, C*kh*kw] (zero padding), Ho, Wo."""
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (w + 2 * pad - kw) // stride + 1
    cols = np.empty((n, ho * wo, c * kh * kw), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            cols[:, i * wo + j, :] = patch.reshape(n, -1)
    return cols, ho, wo


def conv(x, w, stride, pad, dtype):
    """NCHW convolution of x [N,C,H,W] with w [M,C,kh,kw] in `dtype` (float64 or int64)."""
    m, _, kh, kw = w.shape
    cols, ho, wo = im2col(x.astype(dtype), kh, kw, stride, pad)
    y = cols @ w.reshape(m, -1).astype(dtype).T  # [N, Ho*Wo, M]
    return y.transpose(0, 2, 1).reshape(x.shape[0], m, ho, wo)


def requantize(acc, k, zp):
    """QLinear output: saturate(round_half_even(float32(acc) * k) + zp), k float32 (scalar or [M] on dim 1)."""
    zp = np.asarray(zp)
    info = np.iinfo(zp.dtype)
    k = np.asarray(k, dtype=F32)
    if k.ndim == 1:
        k = k.reshape([1, -1] + [1] * (acc.ndim - 2))
    f = np.rint(acc.astype(F32) * k) + zp.astype(F32)
    return np.clip(f, info.min, info.max).astype(zp.dtype)


def int_matmul(q, zp, w):
    """Exact integer (q - zp) @ w in int64."""
    return (q.astype(np.int64) - int(zp)) @ w.astype(np.int64)


def int_scaled(acc, x_scale, w_scale, axis):
    """float32(acc) * float32(x_scale * w_scale), w_scale per tensor or per index along `axis` of acc."""
    s = (F32(x_scale) * np.asarray(w_scale, dtype=F32)).astype(F32)
    if s.ndim == 1:
        shape = [1] * acc.ndim
        shape[axis] = -1
        s = s.reshape(shape)
    return (acc.astype(F32) * s).astype(F32)


# ---- model building ----

class Graph:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, value):
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def model(self, name, inputs, outputs):
        g = helper.make_graph(self.nodes, name,
                              [helper.make_tensor_value_info(n, ONNX_TYPE[a.dtype], a.shape) for n, a in inputs],
                              [helper.make_tensor_value_info(n, ONNX_TYPE[a.dtype], a.shape) for n, a in outputs],
                              initializer=self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="xtpu export_quantized")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def weights_s8(rng, shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def qdq(g, x, name, scale, zp):
    """QuantizeLinear then DequantizeLinear of tensor `x` (per-tensor scale and zero point)."""
    s = g.const(name + ".scale", F32(scale))
    z = g.const(name + ".zp", zp)
    q = g.node("QuantizeLinear", [x, s, z], name + ".q")
    return g.node("DequantizeLinear", [q, s, z], name + ".dq")


def dq_weights(g, name, w, scale, axis):
    """DequantizeLinear of constant s8 weights (zero point 0; per-channel scales along `axis`)."""
    wn = g.const(name, w)
    s = g.const(name + ".scale", np.asarray(scale, dtype=F32))
    z = g.const(name + ".zp", np.zeros(np.asarray(scale).shape, dtype=np.int8))
    return g.node("DequantizeLinear", [wn, s, z], name + ".dq", axis=axis)


def make_qdq_mlp(rng):
    m, k, h, n = 256, 512, 1024, 256
    x = (rng.standard_normal((m, k)) * 1.5).astype(F32)
    w1, w2 = weights_s8(rng, (k, h)), weights_s8(rng, (h, n))
    s1 = (rng.uniform(0.5, 1.5, h) * 1e-3).astype(F32)
    s2 = F32(7e-4)
    b1 = (rng.standard_normal(h) * 0.1).astype(F32)
    sx, zx, sh, zh, sy, zy = F32(0.035), np.uint8(131), F32(0.03), np.uint8(9), F32(0.05), np.uint8(121)
    g = Graph()
    xd = qdq(g, "x", "xq", sx, zx)
    y1 = g.node("MatMul", [xd, dq_weights(g, "w1", w1, s1, 1)], "mm1")
    y1 = g.node("Add", [y1, g.const("b1", b1)], "bias1")
    y1 = g.node("Relu", [y1], "relu1")
    hd = qdq(g, y1, "hq", sh, zh)
    y2 = g.node("MatMul", [hd, dq_weights(g, "w2", w2, s2, 1)], "mm2")
    out = qdq(g, y2, "yq", sy, zy)
    g.nodes[-1].output[0] = "y"
    # Reference.
    r = dequantize(quantize(x, sx, zx), sx, zx)
    r = matmul_f(r, dequantize(w1, s1, np.int8(0), axis=1)) + b1
    r = np.maximum(r, F32(0))
    r = dequantize(quantize(r, sh, zh), sh, zh)
    r = matmul_f(r, dequantize(w2, s2, np.int8(0)))
    y = dequantize(quantize(r, sy, zy), sy, zy)
    # int8 semantics: exact integer products, scaled once.
    xq = quantize(x, sx, zx)
    r = int_scaled(int_matmul(xq, zx, w1), sx, s1, axis=1) + b1
    r = np.maximum(r, F32(0))
    hq = quantize(r, sh, zh)
    r = int_scaled(int_matmul(hq, zh, w2), sh, s2, axis=1)
    y8 = dequantize(quantize(r, sy, zy), sy, zy)
    return g.model("qdq_mlp", [("x", x)], [("y", y)]), {"x": x}, {"y": y}, {"y": y8}


def make_qdq_cnn(rng):
    c0, c1, c2, hw = 32, 64, 64, 32
    x = rng.standard_normal((1, c0, hw, hw)).astype(F32)
    w1, w2 = weights_s8(rng, (c1, c0, 3, 3)), weights_s8(rng, (c2, c1, 3, 3))
    sx, zx, sh, zh, sy, zy = F32(0.019), np.uint8(125), F32(0.03), np.uint8(5), F32(0.06), np.uint8(118)
    s1 = (rng.uniform(0.5, 1.5, c1) * 2e-3).astype(F32)
    s2 = (rng.uniform(0.5, 1.5, c2) * 1e-3).astype(F32)
    # int32 biases dequantized with scale sx * s (the usual QDQ bias form).
    b1 = rng.integers(-2000, 2000, c1).astype(np.int32)
    b2 = rng.integers(-2000, 2000, c2).astype(np.int32)
    bs1, bs2 = (sx * s1).astype(F32), (sh * s2).astype(F32)
    g = Graph()
    xd = qdq(g, "x", "xq", sx, zx)

    def conv_node(inp, name, w, s, b, bs):
        wd = dq_weights(g, name + ".w", w, s, 0)
        bd = g.node("DequantizeLinear", [g.const(name + ".b", b), g.const(name + ".b.scale", bs),
                                         g.const(name + ".b.zp", np.zeros(len(b), np.int32))],
                    name + ".b.dq", axis=0)
        return g.node("Conv", [inp, wd, bd], name, kernel_shape=[3, 3], pads=[1, 1, 1, 1])

    y1 = g.node("Relu", [conv_node(xd, "conv1", w1, s1, b1, bs1)], "relu1")
    hd = qdq(g, y1, "hq", sh, zh)
    y2 = conv_node(hd, "conv2", w2, s2, b2, bs2)
    qdq(g, y2, "yq", sy, zy)
    g.nodes[-1].output[0] = "y"

    def conv_ref(a, w, s, b, bs):
        wf = dequantize(w, s, np.zeros(len(s), np.int8), axis=0)
        bf = dequantize(b, bs, np.zeros(len(b), np.int32), axis=0)
        return conv(a, wf, 1, 1, np.float64).astype(F32) + bf.reshape(1, -1, 1, 1)

    r = dequantize(quantize(x, sx, zx), sx, zx)
    r = np.maximum(conv_ref(r, w1, s1, b1, bs1), F32(0))
    r = dequantize(quantize(r, sh, zh), sh, zh)
    r = conv_ref(r, w2, s2, b2, bs2)
    y = dequantize(quantize(r, sy, zy), sy, zy)
    # int8 semantics.
    bf1 = dequantize(b1, bs1, np.zeros(c1, np.int32), axis=0).reshape(1, -1, 1, 1)
    bf2 = dequantize(b2, bs2, np.zeros(c2, np.int32), axis=0).reshape(1, -1, 1, 1)
    xq = quantize(x, sx, zx)
    r = np.maximum(int_scaled(conv(xq.astype(np.int64) - int(zx), w1, 1, 1, np.int64), sx, s1, axis=1) + bf1, F32(0))
    hq = quantize(r, sh, zh)
    r = int_scaled(conv(hq.astype(np.int64) - int(zh), w2, 1, 1, np.int64), sh, s2, axis=1) + bf2
    y8 = dequantize(quantize(r, sy, zy), sy, zy)
    return g.model("qdq_cnn", [("x", x)], [("y", y)]), {"x": x}, {"y": y}, {"y": y8}


def make_qlinear_matmul(rng):
    m, k, h, n = 128, 256, 512, 128
    x = (rng.standard_normal((m, k)) * 2).astype(F32)
    w1, w2 = weights_s8(rng, (k, h)), weights_s8(rng, (h, n))
    sx, zx = F32(0.04), np.uint8(140)
    sw1, sw2 = F32(0.004), F32(0.0025)
    sh, zh = F32(0.3), np.uint8(100)
    sy, zy = F32(1.0), np.int8(-3)
    g = Graph()
    xq = g.node("QuantizeLinear", ["x", g.const("x.scale", sx), g.const("x.zp", zx)], "xq")
    c = {n_: g.const(n_, v) for n_, v in [("w1", w1), ("w1.scale", sw1), ("w.zp", np.int8(0)), ("w2", w2),
                                           ("w2.scale", sw2), ("h.scale", sh), ("h.zp", zh), ("y.scale", sy),
                                           ("y.zp", zy)]}
    hq = g.node("QLinearMatMul", [xq, "x.scale", "x.zp", c["w1"], c["w1.scale"], c["w.zp"], c["h.scale"],
                                  c["h.zp"]], "h")
    g.node("QLinearMatMul", [hq, "h.scale", "h.zp", c["w2"], c["w2.scale"], c["w.zp"], c["y.scale"], c["y.zp"]], "y")
    q = quantize(x, sx, zx)
    hr = requantize((q.astype(np.int64) - int(zx)) @ w1.astype(np.int64), F32(sx * sw1) / sh, zh)
    y = requantize((hr.astype(np.int64) - int(zh)) @ w2.astype(np.int64), F32(sh * sw2) / sy, zy)
    return g.model("qlinear_matmul", [("x", x)], [("y", y)]), {"x": x}, {"y": y}, None


def make_qlinear_conv(rng):
    c0, c1, c2, hw = 16, 64, 32, 24
    x = (rng.standard_normal((2, c0, hw, hw)) * 2).astype(F32)
    w1, w2 = weights_s8(rng, (c1, c0, 3, 3)), weights_s8(rng, (c2, c1, 3, 3))
    sx, zx = F32(0.04), np.uint8(133)
    sw1 = (rng.uniform(0.5, 1.5, c1) * 3e-3).astype(F32)
    sw2 = F32(0.002)
    b1 = rng.integers(-3000, 3000, c1).astype(np.int32)
    sh, zh = F32(0.15), np.uint8(20)
    sy, zy = F32(0.3), np.int8(4)
    g = Graph()
    xq = g.node("QuantizeLinear", ["x", g.const("x.scale", sx), g.const("x.zp", zx)], "xq")
    for n_, v in [("w1", w1), ("w1.scale", sw1), ("w1.zp", np.int8(0)), ("b1", b1), ("h.scale", sh), ("h.zp", zh),
                  ("w2", w2), ("w2.scale", sw2), ("w2.zp", np.int8(0)), ("y.scale", sy), ("y.zp", zy)]:
        g.const(n_, v)
    hq = g.node("QLinearConv", [xq, "x.scale", "x.zp", "w1", "w1.scale", "w1.zp", "h.scale", "h.zp", "b1"], "h",
                kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("QLinearConv", [hq, "h.scale", "h.zp", "w2", "w2.scale", "w2.zp", "y.scale", "y.zp"], "y",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    q = quantize(x, sx, zx)
    acc = conv(q.astype(np.int64) - int(zx), w1, 1, 1, np.int64) + b1.reshape(1, -1, 1, 1)
    hr = requantize(acc, (sx * sw1).astype(F32) / sh, zh)
    y = requantize(conv(hr.astype(np.int64) - int(zh), w2, 2, 1, np.int64), F32(sh * sw2) / sy, zy)
    return g.model("qlinear_conv", [("x", x)], [("y", y)]), {"x": x}, {"y": y}, None


MAKERS = {"qdq_mlp": make_qdq_mlp, "qdq_cnn": make_qdq_cnn, "qlinear_matmul": make_qlinear_matmul,
          "qlinear_conv": make_qlinear_conv}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outdir")
    p.add_argument("models", nargs="*", default=MODELS, metavar="NAME", help=" ".join(MODELS))
    a = p.parse_args()
    for name in a.models:
        if name not in MODELS:
            p.error(f"unknown model '{name}' (known: {' '.join(MODELS)})")
    os.makedirs(a.outdir, exist_ok=True)
    for i, name in enumerate(MODELS):
        if name not in a.models:
            continue
        model, inputs, expected, expected_int8 = MAKERS[name](np.random.default_rng(1000 + i))
        stem = os.path.join(a.outdir, name)
        onnx.save(model, stem + ".onnx")
        np.savez(stem + ".inputs.npz", **inputs)
        np.savez(stem + ".expected.npz", **expected)
        if expected_int8 is not None:
            np.savez(stem + ".expected_int8.npz", **expected_int8)
        print(f"wrote {stem}.onnx")


if __name__ == "__main__":
    main()
