#!/usr/bin/python3
"""Generates the small ONNX test models for tests/unit/onnx_importer_test.cc.

Each case is a folder tests/onnx/cases/<name>/ laid out like ONNX's own
backend test data: model.onnx, input_<i>.pb and output_<i>.pb (TensorProto),
the expected outputs computed here with numpy (or PyTorch for conv/pool and
for the exported models). Error cases are single files in tests/onnx/errors/.

usage: /usr/bin/python3 tests/onnx/make_test_models.py   (rewrites the files)
"""
import os
import shutil

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
ERRORS = os.path.join(HERE, "errors")
rng = np.random.default_rng(0)

NP_TO_ONNX = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.int32: TensorProto.INT32,
              np.bool_: TensorProto.BOOL, np.float64: TensorProto.DOUBLE, np.uint8: TensorProto.UINT8,
              np.int8: TensorProto.INT8, np.float16: TensorProto.FLOAT16}


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def vinfo(name, arr):
    return helper.make_tensor_value_info(name, NP_TO_ONNX[arr.dtype.type], list(arr.shape))


def case(name, nodes, inputs, outputs, opset=13, inits=None, output_names=None):
    """inputs: dict name -> array; outputs: list of expected arrays."""
    inits = inits or {}
    output_names = output_names or [f"y{i}" if len(outputs) > 1 else "y" for i in range(len(outputs))]
    graph = helper.make_graph(
        nodes, name,
        [vinfo(k, v) for k, v in inputs.items()],
        [vinfo(n, o) for n, o in zip(output_names, outputs)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    save(name, model, list(inputs.values()), outputs)


def save(name, model, inputs, outputs):
    d = os.path.join(CASES, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, a in enumerate(inputs):
        with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(a)).SerializeToString())
    for i, a in enumerate(outputs):
        with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(a)).SerializeToString())


N = helper.make_node
T = lambda a: torch.from_numpy(a)


def elementwise():
    x, y = r(2, 3, 4), r(4)
    case("add_broadcast", [N("Add", ["x", "b"], ["y"])], {"x": x, "b": y}, [x + y])
    a, b = r(2, 3, 4), np.abs(r(3, 1)) + 0.5
    case("arith_mix", [N("Sub", ["a", "b"], ["s"]), N("Div", ["s", "b"], ["d"]), N("Mul", ["d", "a"], ["m"]),
                       N("Pow", ["b", "two"], ["p"]), N("Add", ["m", "p"], ["y"])],
         {"a": a, "b": b}, [((a - b) / b) * a + b ** 2], inits={"two": np.array(2.0, np.float32)})
    x = r(3, 5)
    unary = {"Abs": np.abs(x), "Neg": -x, "Exp": np.exp(x), "Tanh": np.tanh(x),
             "Sigmoid": 1 / (1 + np.exp(-x)), "Floor": np.floor(x), "Ceil": np.ceil(x),
             "Sign": np.sign(x), "Sin": np.sin(x), "Cos": np.cos(x),
             "Erf": torch.erf(T(x)).numpy(), "Relu": np.maximum(x, 0),
             "Reciprocal": 1 / x, "Softsign": x / (1 + np.abs(x)), "Softplus": np.log(np.exp(x) + 1)}
    for op, want in unary.items():
        case(f"unary_{op.lower()}", [N(op, ["x"], ["y"])], {"x": x}, [want.astype(np.float32)])
    px = np.abs(x) + 0.1
    case("unary_log_sqrt", [N("Log", ["x"], ["l"]), N("Sqrt", ["x"], ["s"]), N("Add", ["l", "s"], ["y"])],
         {"x": px}, [np.log(px) + np.sqrt(px)])
    case("round", [N("Round", ["x"], ["y"])], {"x": np.array([0.5, 1.5, 2.5, -0.5, -1.7, 2.2], np.float32)},
         [np.round(np.array([0.5, 1.5, 2.5, -0.5, -1.7, 2.2], np.float32))])
    acts = [
        ("leakyrelu", N("LeakyRelu", ["x"], ["y"], alpha=0.1), np.where(x < 0, 0.1 * x, x)),
        ("elu", N("Elu", ["x"], ["y"], alpha=0.5), np.where(x < 0, 0.5 * (np.exp(x) - 1), x)),
        ("selu", N("Selu", ["x"], ["y"]), F.selu(T(x)).numpy()),
        ("celu", N("Celu", ["x"], ["y"], alpha=2.0), F.celu(T(x), 2.0).numpy()),
        ("hardsigmoid", N("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4), np.clip(0.3 * x + 0.4, 0, 1)),
        ("hardswish", N("HardSwish", ["x"], ["y"]), F.hardswish(T(x)).numpy()),
    ]
    for name, node, want in acts:
        case(f"act_{name}", [node], {"x": x}, [want.astype(np.float32)], opset=14)
    slope = r(5)
    case("prelu", [N("PRelu", ["x", "s"], ["y"])], {"x": x, "s": slope}, [np.where(x < 0, slope * x, x)])
    case("clip_opset13", [N("Clip", ["x", "lo", "hi"], ["y"])], {"x": x},
         [np.clip(x, -0.5, 0.7)], inits={"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)})
    case("clip_opset6", [N("Clip", ["x"], ["y"], min=-0.5)], {"x": x}, [np.maximum(x, -0.5)], opset=6)
    a, b, c = r(2, 3), r(3), r(1, 3)
    case("variadic", [N("Min", ["a", "b", "c"], ["m"]), N("Max", ["a", "b"], ["M"]), N("Sum", ["a", "b", "c"], ["s"]),
                      N("Mean", ["a", "b", "c"], ["y0"]), N("Add", ["m", "M"], ["t"]), N("Add", ["t", "s"], ["y1"])],
         {"a": a, "b": b, "c": c}, [(a + b + c) / 3, np.minimum(np.minimum(a, b), c) + np.maximum(a, b) + (a + b + c)])
    a, b = r(4, 3), r(3)
    a[0, 0] = b[0]
    case("compare_logic", [N("Less", ["a", "b"], ["lt"]), N("Equal", ["a", "b"], ["eq"]), N("Or", ["lt", "eq"], ["le"]),
                           N("GreaterOrEqual", ["a", "b"], ["ge"]), N("Xor", ["le", "ge"], ["x"]), N("Not", ["x"], ["nx"]),
                           N("And", ["nx", "le"], ["y0"]), N("Where", ["y0", "a", "b"], ["y1"])],
         {"a": a, "b": b}, [(a == b), np.where(a == b, a, b)])
    xi = np.array([[1.7, -2.2, 0.0], [3.9, -0.4, 250.0]], np.float32)
    case("cast", [N("Cast", ["x"], ["i"], to=TensorProto.INT32), N("Cast", ["i"], ["y0"], to=TensorProto.INT64),
                  N("Cast", ["x"], ["y1"], to=TensorProto.BOOL)],
         {"x": xi}, [xi.astype(np.int32).astype(np.int64), xi.astype(bool)])


def matmul():
    a, b = r(2, 1, 3, 4), r(3, 4, 5)
    case("matmul_batched", [N("MatMul", ["a", "b"], ["y"])], {"a": a, "b": b}, [a @ b])
    a, b = r(4), r(4, 5)
    case("matmul_vec_mat", [N("MatMul", ["a", "b"], ["y"])], {"a": a, "b": b}, [a @ b])
    a, b = r(2, 3, 4), r(4)
    case("matmul_mat_vec", [N("MatMul", ["a", "b"], ["y"])], {"a": a, "b": b}, [a @ b])
    a, b = r(2, 3, 4), r(4, 6)
    case("matmul_linear", [N("MatMul", ["a", "w"], ["y"])], {"a": a}, [a @ b], inits={"w": b})
    a, b, c = r(4, 3), r(5, 4), r(1, 5)
    case("gemm_trans", [N("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transA=1, transB=1)],
         {"a": a, "b": b, "c": c}, [0.5 * a.T @ b.T + 2.0 * c])
    a, b, c = r(3, 4), r(4, 5), r(5)
    case("gemm_plain", [N("Gemm", ["a", "b", "c"], ["y"])], {"a": a}, [a @ b + c], inits={"b": b, "c": c})


def conv_pool():
    x, w, bias = r(1, 4, 9, 8), r(6, 2, 3, 3), r(6)
    want = F.conv2d(T(x), T(w), T(bias), stride=2, padding=(1, 2), dilation=(2, 1), groups=2).numpy()
    # Asymmetric pads via explicit pad in torch: here symmetric per dim.
    case("conv_group_stride_dil", [N("Conv", ["x", "w", "b"], ["y"], group=2, strides=[2, 2], pads=[1, 2, 1, 2],
                                      dilations=[2, 1], kernel_shape=[3, 3])],
         {"x": x}, [want], inits={"w": w, "b": bias})
    w2 = r(3, 4, 3, 3)
    # SAME_UPPER, stride 2 on 9x8: out 5x4; total pad h = (5-1)*2+3-9 = 2 -> (1,1); w = (4-1)*2+3-8 = 1 -> (0,1)
    want = F.conv2d(F.pad(T(x), (0, 1, 1, 1)), T(w2), stride=2).numpy()
    case("conv_same_upper", [N("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
         {"x": x}, [want], inits={"w": w2})
    want = F.conv2d(F.pad(T(x), (1, 0, 1, 1)), T(w2), stride=2).numpy()
    case("conv_same_lower", [N("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER", strides=[2, 2])],
         {"x": x}, [want], inits={"w": w2})
    x1, w1 = r(2, 3, 10), r(4, 3, 3)
    case("conv1d", [N("Conv", ["x", "w"], ["y"], pads=[1, 0])], {"x": x1, "w": w1},
         [F.conv1d(F.pad(T(x1), (1, 0)), T(w1)).numpy()])
    x3, w3 = r(1, 2, 4, 5, 6), r(3, 2, 2, 3, 2)
    case("conv3d", [N("Conv", ["x", "w"], ["y"], strides=[1, 2, 1])], {"x": x3, "w": w3},
         [F.conv3d(T(x3), T(w3), stride=(1, 2, 1)).numpy()])
    xt, wt, bt = r(1, 4, 5, 6), r(4, 3, 3, 3), r(6)
    case("conv_transpose", [N("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                               output_padding=[1, 0], group=2)],
         {"x": xt}, [F.conv_transpose2d(T(xt), T(wt), T(bt), stride=2, padding=1, output_padding=(1, 0), groups=2).numpy()],
         inits={"w": wt, "b": bt})
    xp = r(1, 2, 7, 8)
    case("maxpool_ceil_pads", [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
         {"x": xp}, [F.max_pool2d(T(xp), 3, 2, 1, ceil_mode=True).numpy()])
    case("maxpool_dilation", [N("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2])],
         {"x": xp}, [F.max_pool2d(T(xp), 2, 1, 0, dilation=2).numpy()])
    case("avgpool_exclude_pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
         {"x": xp}, [F.avg_pool2d(T(xp), 3, 2, 1, ceil_mode=True, count_include_pad=False).numpy()])
    case("avgpool_include_pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 1, 1, 1],
                                   count_include_pad=1)],
         {"x": xp}, [F.avg_pool2d(T(xp), (3, 2), (2, 1), 1, count_include_pad=True).numpy()])
    case("global_pools", [N("GlobalAveragePool", ["x"], ["y0"]), N("GlobalMaxPool", ["x"], ["y1"])], {"x": xp},
         [xp.mean(axis=(2, 3), keepdims=True), xp.max(axis=(2, 3), keepdims=True)])


def norms():
    x, s, b, m, v = r(2, 3, 4, 5), r(3), r(3), r(3), np.abs(r(3)) + 0.5
    want = (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-3) * s[:, None, None] + b[:, None, None]
    case("batchnorm", [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)], {"x": x},
         [want], inits={"s": s, "b": b, "m": m, "v": v})
    x, s, b = r(2, 4, 6), r(6), r(6)
    case("layernorm", [N("LayerNormalization", ["x", "s", "b"], ["y"])], {"x": x},
         [F.layer_norm(T(x), (6,), T(s), T(b)).numpy()], opset=17, inits={"s": s, "b": b})
    s2 = r(4, 6)
    case("layernorm_axis1", [N("LayerNormalization", ["x", "s"], ["y"], axis=1, epsilon=1e-3)], {"x": x},
         [F.layer_norm(T(x), (4, 6), T(s2), eps=1e-3).numpy()], opset=17, inits={"s": s2})
    x, s, b = r(2, 3, 4, 5), r(3), r(3)
    case("instancenorm", [N("InstanceNormalization", ["x", "s", "b"], ["y"])], {"x": x},
         [F.instance_norm(T(x), weight=T(s), bias=T(b)).numpy()], inits={"s": s, "b": b})
    x = r(2, 3, 4)
    case("softmax13", [N("Softmax", ["x"], ["y0"]), N("LogSoftmax", ["x"], ["y1"], axis=1)], {"x": x},
         [F.softmax(T(x), -1).numpy(), F.log_softmax(T(x), 1).numpy()])
    flat = x.reshape(2, 12)
    case("softmax11_flatten", [N("Softmax", ["x"], ["y"])], {"x": x},
         [F.softmax(T(flat), 1).numpy().reshape(2, 3, 4)], opset=11)
    case("dropout", [N("Dropout", ["x"], ["y"])], {"x": x}, [x])


def i64(*v):
    return np.array(v, np.int64)


def shapes():
    x = r(2, 3, 4)
    # Shape -> Gather -> Unsqueeze -> Concat -> Reshape: folded to constants.
    case("shape_chain", [N("Shape", ["x"], ["s"]), N("Gather", ["s", "i0"], ["d0"], axis=0),
                         N("Unsqueeze", ["d0", "ax0"], ["d0u"]), N("Concat", ["d0u", "m1"], ["shp"], axis=0),
                         N("Reshape", ["x", "shp"], ["y"])],
         {"x": x}, [x.reshape(2, -1)], inits={"i0": np.array(0, np.int64), "ax0": i64(0), "m1": i64(-1)})
    case("shape_start_end", [N("Shape", ["x"], ["y"], start=-2)], {"x": x}, [i64(3, 4)], opset=15)
    case("size", [N("Size", ["x"], ["y"])], {"x": x}, [np.array(24, np.int64)])
    case("reshape_zero", [N("Reshape", ["x", "s"], ["y"])], {"x": x}, [x.reshape(2, 3, 2, 2)], inits={"s": i64(0, 0, 2, -1)})
    case("flatten_transpose", [N("Flatten", ["x"], ["f"], axis=-1), N("Transpose", ["x"], ["y1"], perm=[2, 0, 1]),
                               N("Transpose", ["f"], ["y0"])], {"x": x}, [x.reshape(6, 4).T, x.transpose(2, 0, 1)])
    x1 = r(1, 3, 1, 4)
    case("squeeze_unsqueeze13", [N("Squeeze", ["x", "a"], ["s"]), N("Unsqueeze", ["s", "b"], ["y0"]), N("Squeeze", ["x"], ["y1"])],
         {"x": x1}, [x1.reshape(3, 1, 4, 1), x1.reshape(3, 4)], inits={"a": i64(0, -2), "b": i64(1, -1)})
    case("squeeze_unsqueeze11", [N("Squeeze", ["x"], ["s"], axes=[0]), N("Unsqueeze", ["s"], ["y"], axes=[0, 4])],
         {"x": x1}, [x1.reshape(1, 3, 1, 4, 1)], opset=11)
    a, b = r(2, 3), r(2, 5)
    case("concat", [N("Concat", ["a", "b"], ["y"], axis=-1)], {"a": a, "b": b}, [np.concatenate([a, b], -1)])
    x = r(2, 7)
    case("split13", [N("Split", ["x", "s"], ["y0", "y1", "y2"], axis=1)], {"x": x},
         [x[:, :2], x[:, 2:3], x[:, 3:]], inits={"s": i64(2, 1, 4)})
    case("split11_equal", [N("Split", ["x"], ["y0", "y1"], axis=0)], {"x": x}, [x[:1], x[1:]], opset=11)
    x = r(5, 6, 7)
    case("slice_neg_steps", [N("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], {"x": x},
         [x[-1:0:-2, :, 1:100:3]], inits={"st": i64(-1, 1), "en": i64(0, 100), "ax": i64(0, 2), "sp": i64(-2, 3)})
    case("slice_clamped", [N("Slice", ["x", "st", "en"], ["y"])], {"x": x},
         [x[-100:3, 2:-1]], inits={"st": i64(-100, 2), "en": i64(3, -1)})
    case("slice_reverse_all", [N("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], {"x": x},
         [x[:, ::-1]], inits={"st": i64(-1), "en": i64(-(2 ** 62)), "ax": i64(1), "sp": i64(-1)})
    x = r(5, 4)
    idx = i64(0, -1, 3, -5).reshape(2, 2)
    case("gather_const_neg", [N("Gather", ["x", "i"], ["y"], axis=0)], {"x": x}, [x[idx]], inits={"i": idx})
    case("gather_dynamic", [N("Gather", ["x", "i"], ["y"], axis=1)], {"x": x, "i": i64(-1, 2, 0)}, [x[:, [-1, 2, 0]]])
    case("gather_scalar", [N("Gather", ["x", "i"], ["y"], axis=1)], {"x": x}, [x[:, 2]], inits={"i": np.array(2, np.int64)})
    x = r(3, 1)
    case("expand", [N("Expand", ["x", "s"], ["y"])], {"x": x}, [np.broadcast_to(x, (2, 3, 4))], inits={"s": i64(2, 1, 4)})
    x = r(2, 3)
    case("tile", [N("Tile", ["x", "rp"], ["y"])], {"x": x}, [np.tile(x, (2, 3))], inits={"rp": i64(2, 3)})
    x = r(1, 2, 4, 5)
    pads = i64(0, 0, 1, 2, 0, 0, 2, 1)
    npp = ((0, 0), (0, 0), (1, 2), (2, 1))
    case("pad_constant", [N("Pad", ["x", "p", "v"], ["y"])], {"x": x}, [np.pad(x, npp, constant_values=1.5)],
         inits={"p": pads, "v": np.array(1.5, np.float32)})
    case("pad_reflect", [N("Pad", ["x", "p"], ["y"], mode="reflect")], {"x": x}, [np.pad(x, npp, mode="reflect")],
         inits={"p": pads})
    case("pad_edge", [N("Pad", ["x", "p"], ["y"], mode="edge")], {"x": x}, [np.pad(x, npp, mode="edge")],
         inits={"p": pads})
    case("pad_negative", [N("Pad", ["x", "p"], ["y"])], {"x": x}, [x[:, :, 1:, :-2]],
         inits={"p": i64(0, 0, -1, 0, 0, 0, 0, -2)})
    case("range_cos", [N("Range", ["a", "b", "c"], ["y0"]), N("ConstantOfShape", ["s"], ["y1"], value=numpy_helper.from_array(np.array([7], np.int32)))],
         {}, [np.arange(1, 10, 3, dtype=np.int64), np.full((2, 3), 7, np.int32)],
         inits={"a": np.array(1, np.int64), "b": np.array(10, np.int64), "c": np.array(3, np.int64), "s": i64(2, 3)})
    x = r(2, 3)
    case("constants", [N("Constant", [], ["c1"], value_float=2.0), N("Constant", [], ["c2"], value_floats=[1.0, 2.0, 3.0]),
                       N("Constant", [], ["c3"], value=numpy_helper.from_array(r(2, 3))),
                       N("Mul", ["x", "c1"], ["t"]), N("Add", ["t", "c2"], ["y0"]), N("Constant", [], ["y1"], value_ints=[4, 5])],
         {"x": x}, [x * 2 + np.array([1, 2, 3], np.float32), i64(4, 5)])
    # Outputs that are an input, a constant, or the same value twice need copies.
    case("identity_outputs", [N("Identity", ["x"], ["a"]), N("Neg", ["x"], ["n"]), N("Identity", ["n"], ["b"])],
         {"x": x}, [x, x, -x, -x], output_names=["x", "a", "n", "b"])
    x = r(3, 4)
    x[1, 2] = x[1, 0] = 9.0
    case("reduce13", [N("ReduceMean", ["x"], ["y0"], axes=[1], keepdims=0), N("ReduceSum", ["x", "ax"], ["y1"]),
                      N("ReduceMax", ["x"], ["y2"], axes=[-1]), N("ReduceMin", ["x"], ["y3"], keepdims=0),
                      N("ReduceProd", ["x"], ["y4"], axes=[0]), N("ReduceL2", ["x"], ["y5"], axes=[1]),
                      N("ReduceLogSumExp", ["x"], ["y6"], axes=[0], keepdims=0), N("ReduceL1", ["x"], ["y7"], axes=[1]),
                      N("ReduceSumSquare", ["x"], ["y8"], axes=[1])],
         {"x": x}, [x.mean(1), x.sum(0, keepdims=True), x.max(-1, keepdims=True), np.array(x.min()),
                    x.prod(0, keepdims=True), np.sqrt((x * x).sum(1, keepdims=True)), np.log(np.exp(x).sum(0)),
                    np.abs(x).sum(1, keepdims=True), (x * x).sum(1, keepdims=True)],
         inits={"ax": i64(0)})
    case("argmax", [N("ArgMax", ["x"], ["y0"], axis=1, keepdims=0), N("ArgMax", ["x"], ["y1"], axis=1, select_last_index=1),
                    N("ArgMin", ["x"], ["y2"], axis=0)],
         {"x": x}, [x.argmax(1), (3 - x[:, ::-1].argmax(1)).reshape(3, 1), x.argmin(0).reshape(1, 4)])


def torch_models():
    class Small(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.fc = torch.nn.Linear(8 * 4 * 4, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
            x = F.adaptive_avg_pool2d(x, 4)
            return F.log_softmax(self.fc(x.flatten(1)), -1)

    class Attn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = torch.nn.Linear(16, 48)
            self.ln = torch.nn.LayerNorm(16)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(self.ln(x)).chunk(3, dim=-1)
            q = q.view(b, t, 2, 8).transpose(1, 2)
            k = k.view(b, t, 2, 8).transpose(1, 2)
            v = v.view(b, t, 2, 8).transpose(1, 2)
            mask = torch.ones(t, t).tril() == 0
            att = (q @ k.transpose(-1, -2)).masked_fill(mask, float("-inf")).softmax(-1)
            return F.gelu((att @ v).transpose(1, 2).reshape(b, t, c))

    torch.manual_seed(0)
    for name, m, x, opset, dyn in [("torch_cnn", Small(), torch.randn(2, 3, 8, 8), 13, None),
                                    ("torch_attn_dynamic", Attn(), torch.randn(1, 5, 16), 14,
                                     {"input": {0: "batch"}})]:
        m.eval()
        with torch.no_grad():
            y = m(x)
        d = os.path.join(CASES, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        torch.onnx.export(m, (x,), path, opset_version=opset, input_names=["input"], output_names=["output"],
                          dynamic_axes=dyn)
        save(name, onnx.load(path), [x.numpy()], [y.numpy()])


def einsum_and_dropout():
    """Einsum (two equations from torchvision's maxvit_t and more forms) and
    training-mode Dropout with ratio 0 (Swin's F.dropout(p=0.0))."""
    g = np.random.default_rng(1)

    def rr(*shape):
        return g.standard_normal(shape).astype(np.float32)

    def ein(name, eq, *xs):
        names = ["a", "b"][:len(xs)]
        case(name, [N("Einsum", names, ["y"], equation=eq)], dict(zip(names, xs)),
             [np.einsum(eq, *xs).astype(np.float32)], opset=12)

    ein("einsum_maxvit_qk", "BGHID,BGHJD->BGHIJ", rr(1, 2, 3, 4, 5), rr(1, 2, 3, 6, 5))
    ein("einsum_maxvit_av", "bghij,bghjd->bghid", rr(1, 2, 3, 4, 6), rr(1, 2, 3, 6, 5))
    ein("einsum_implicit", "ij,jk", rr(3, 4), rr(4, 5))
    ein("einsum_spaces_out_order", " bij , bjk -> kbi ", rr(2, 3, 4), rr(2, 4, 5))
    ein("einsum_sum_one_operand", "abc,cd->d", rr(2, 3, 4), rr(4, 5))
    ein("einsum_outer", "i,j->ij", rr(3), rr(4))
    ein("einsum_inner", "i,i", rr(5), rr(5))
    ein("einsum_unary", "ijk->ki", rr(2, 3, 4))
    ein("einsum_ellipsis_broadcast", "...ij,...jk->...ik", rr(2, 1, 3, 4), rr(5, 4, 6))
    x = rr(2, 3, 4)
    case("dropout_training_ratio0", [N("Dropout", ["x", "r", "t"], ["y0", "y1"])], {"x": x},
         [x, np.ones(x.shape, np.bool_)],
         inits={"r": np.array(0.0, np.float32), "t": np.array(True, np.bool_)})


def errors():
    os.makedirs(ERRORS, exist_ok=True)
    x = np.zeros((2, 2), np.float32)

    def err(name, nodes, inputs, opset=13, inits=None, out=x, extra_inputs=()):
        graph = helper.make_graph(nodes, name, [vinfo(k, v) for k, v in inputs.items()] + list(extra_inputs),
                                  [vinfo("y", out)],
                                  initializer=[numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        onnx.save(model, os.path.join(ERRORS, name + ".onnx"))

    err("unsupported_op", [N("FooBar", ["x"], ["y"], name="bar")], {"x": x})
    err("unsupported_attr_value", [N("Pad", ["x", "p"], ["y"], mode="wrap", name="pad0")], {"x": x},
        opset=13, inits={"p": i64(0, 0, 0, 0)})
    err("unknown_attr", [N("Relu", ["x"], ["y"], name="relu0", bogus=3)], {"x": x})
    err("dynamic_reshape", [N("Reshape", ["x", "s"], ["y"], name="foo")], {"x": x, "s": i64(4, 1)})
    err("f64_input", [N("Relu", ["x"], ["y"])], {"x": np.zeros((2,), np.float64)}, out=np.zeros((2,), np.float64))
    err("custom_domain", [N("Gelu", ["x"], ["y"], domain="com.microsoft", name="g")], {"x": x})

    err("einsum_diagonal", [N("Einsum", ["x"], ["y"], equation="ii->i", name="e0")], {"x": x},
        out=np.zeros((2,), np.float32), opset=12)
    err("dropout_training", [N("Dropout", ["x", "r", "t"], ["y"], name="d0")], {"x": x}, inits={
        "r": np.array(0.5, np.float32), "t": np.array(True, np.bool_)})

    # Hostile models (found by fuzzing): each must give a clear error, or import fine.
    big = 2**63 - 1
    x4 = np.zeros((1, 2, 5, 5), np.float32)
    w4 = np.ones((2, 2, 3, 3), np.float32)
    err("pool_stride_zero", [N("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[0, 1], name="pool0")], {"x": x4})
    err("conv_group_zero", [N("Conv", ["x", "w"], ["y"], group=0, name="conv0")], {"x": x4}, inits={"w": w4})
    err("conv_pads_overflow", [N("Conv", ["x", "w"], ["y"], pads=[big, 0, big, 0], name="conv0")], {"x": x4},
        inits={"w": w4})
    err("tile_overflow", [N("Tile", ["x", "r"], ["y"], name="tile0")], {"x": x}, inits={"r": i64(big, big)})
    err("range_too_large", [N("Range", ["s", "l", "d"], ["y"], name="range0")], {},
        inits={"s": np.array(0, np.float32), "l": np.array(1e30, np.float32), "d": np.array(1, np.float32)})
    err("constant_of_shape_huge", [N("ConstantOfShape", ["s"], ["y"], name="c0")], {}, inits={"s": i64(2**40, 2**40)})
    err("pad_overflow", [N("Pad", ["x", "p"], ["y"], name="pad0")], {"x": x}, inits={"p": i64(big, 0, big, 0)})
    err("transpose_bad_perm", [N("Transpose", ["x"], ["y"], perm=[0, 0], name="t0")], {"x": x})
    err("huge_input", [N("Relu", ["x"], ["y"])], {}, extra_inputs=[helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2**40, 2**40])])
    err("split_zero_outputs", [N("Split", ["x"], ["y"], axis=0, num_outputs=0, name="s0")], {"x": x}, opset=18)
    err("slice_min_step", [N("Slice", ["x", "b", "e", "a", "t"], ["y"], name="s0")], {"x": x},
        inits={"b": i64(0), "e": i64(2), "a": i64(0), "t": i64(-2**63)})
    err("reshape_overflow", [N("Reshape", ["x", "s"], ["y"], name="r0")], {"x": x}, inits={"s": i64(2**40, 2**40, -1)})
    err("cast_bad_to", [N("Cast", ["x"], ["y"], to=2**40, name="c0")], {"x": x})
    err("reduce_bool", [N("ReduceSum", ["x"], ["y"], name="r0")], {"x": np.zeros((2,), np.bool_)})
    # These import fine (crashed before): folding a reduce over a zero-sized
    # constant, and an empty raw_data initializer.
    err("argmin_zero_sized", [N("ArgMin", ["c"], ["y"])], {}, inits={"c": np.zeros((1, 0, 3), np.float32)})
    err("empty_initializer", [N("Add", ["x", "c"], ["y"])], {"x": np.zeros((0,), np.float32)},
        inits={"c": np.zeros((0,), np.float32)})


def main():
    shutil.rmtree(CASES, ignore_errors=True)
    shutil.rmtree(ERRORS, ignore_errors=True)
    elementwise()
    matmul()
    conv_pool()
    norms()
    shapes()
    torch_models()
    einsum_and_dropout()
    errors()
    print("wrote", len(os.listdir(CASES)), "cases")


if __name__ == "__main__":
    main()
