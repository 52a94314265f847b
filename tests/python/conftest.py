"""Shared set-up of the Python tests (tests/python/CMakeLists.txt runs them).

The package is found through PYTHONPATH=<build>/python (set by ctest, or by
hand as in docs/python.md); XTPU_CLI names the built `xtpu` binary, for the
tests that compare with the command line.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

# (x + y) * x and x + y, both f32[2,3]: two inputs, two outputs.
TIR_TWO_OUTPUTS = """HloModule twoout

ENTRY main {
  x = f32[2,3] parameter(0)
  y = f32[2,3] parameter(1)
  s = f32[2,3] add(x, y)
  m = f32[2,3] multiply(s, x)
  ROOT out = (f32[2,3], f32[2,3]) tuple(m, s)
}
"""


def onnx_mlp(batch, width, layers, seed=0):
    """An ONNX MLP (MatMul + Add + Relu per layer) as bytes, with its weights.

    Input 'x' f32[batch, width], output 'y'. Big sizes make long simulations
    that compile in well under a second."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = (0.1 * rng.standard_normal(width)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "y" if i == layers - 1 else f"h{i}"
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
                  helper.make_node("Relu", [f"a{i}"], [out])]
        prev = out
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def onnx_embedding(seed=0):
    """Gather from a table by int64 ids, then a sum: input 'ids' s64[2,5], output 'pooled' f32[2,8]."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((16, 8)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], axis=0),
             helper.make_node("ReduceSum", ["e", "axes"], ["pooled"], keepdims=0)]
    graph = helper.make_graph(nodes, "emb", [helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 5])],
                              [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [2, 8])],
                              [numpy_helper.from_array(table, "table"),
                               numpy_helper.from_array(np.array([1], np.int64), "axes")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.fixture(scope="session")
def tir_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("models") / "twoout.tir"
    p.write_text(TIR_TWO_OUTPUTS)
    return str(p)


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("XTPU_CLI")
    if not path or not os.path.exists(path):
        pytest.skip("XTPU_CLI (the built xtpu binary) is not set")
    return path
