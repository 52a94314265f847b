"""The xtpu Python API: chips, compile, run, checks, errors, stats, stub and docs."""
import ast
import json
import os
import subprocess

import numpy as np
import pytest

import xtpu
from conftest import onnx_embedding, onnx_mlp

HERE = os.path.dirname(os.path.abspath(__file__))


def inputs_2x3(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)


# ---- Chip -------------------------------------------------------------------

def test_chip_presets_and_overrides(tmp_path):
    assert {"v1", "v4", "v5e"} <= set(xtpu.Chip.presets())
    v4 = xtpu.Chip("v4")
    assert v4.name == "v4" and repr(v4) == "Chip('v4')"
    d = v4.to_dict()
    assert d["params"]["mxu.rows"]["value"] == 128
    big = v4.with_overrides(["mxu.rows=256"])
    assert big.to_dict()["params"]["mxu.rows"]["value"] == 256 and big.overrides == ["mxu.rows=256"]
    assert xtpu.Chip("v4", overrides=["mxu.rows=256"]) == big and big != v4
    assert "mxu.rows" in v4.describe()
    path = tmp_path / "mine.chip"  # any name: from_file does not need .toml
    path.write_text(big.to_toml())
    assert xtpu.Chip.from_file(str(path)) == big
    assert xtpu.Chip.from_toml(big.to_toml()) == big


def test_chip_errors_name_the_problem(tmp_path):
    with pytest.raises(xtpu.Error, match="unknown chip 'v99'"):
        xtpu.Chip("v99")
    with pytest.raises(xtpu.Error, match="mxu.rows"):
        xtpu.Chip("v4", overrides=["mxu.rows=-3"])
    with pytest.raises(xtpu.Error, match="nope.toml"):
        xtpu.Chip.from_file(str(tmp_path / "nope.toml"))
    assert issubclass(xtpu.Error, RuntimeError)


# ---- Compile and run --------------------------------------------------------

def test_compile_tir_and_run_matches_numpy(tir_path):
    exe = xtpu.compile(tir_path, chip="v4", precision="highest")
    assert [(s.name, s.dtype, s.shape) for s in exe.inputs] == [("x", "float32", (2, 3)), ("y", "float32", (2, 3))]
    assert [s.shape for s in exe.outputs] == [(2, 3), (2, 3)]
    assert exe.precision == "highest" and exe.chip.name == "v4" and exe.num_instructions > 0
    x, y = inputs_2x3()
    m, s = exe(x, y)
    np.testing.assert_array_equal(s, x + y)
    np.testing.assert_allclose(m, (x + y) * x, rtol=1e-6)
    # By name, and through run() with a dict, give the same values.
    m2, s2 = exe(y=y, x=x)
    m3, s3 = exe.run({"x": x, "y": y})
    np.testing.assert_array_equal(m, m2)
    np.testing.assert_array_equal(m, m3)
    assert isinstance(m, np.ndarray) and m.dtype == np.float32


def test_onnx_bytes_and_path_and_chip_object(tmp_path):
    model = onnx_mlp(batch=8, width=64, layers=2)
    path = tmp_path / "mlp.onnx"
    path.write_bytes(model)
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    a = xtpu.compile(model, chip=xtpu.Chip("v5e"), precision="highest")
    b = xtpu.compile(path, chip="v5e", precision="highest")  # os.PathLike
    assert a.chip.name == "v5e" and b.source == str(path) and a.source == "<onnx bytes>"
    (ya,), (yb,) = a(x), b(x)
    np.testing.assert_array_equal(ya, yb)
    (ref,) = xtpu.run_reference(model, [x])
    assert np.linalg.norm(ya - ref) / np.linalg.norm(ref) <= 1e-5


def test_precision_changes_accuracy():
    model = onnx_mlp(batch=16, width=128, layers=2)
    x = np.random.default_rng(2).standard_normal((16, 128)).astype(np.float32)
    (ref,) = xtpu.run_reference(model, {"x": x})
    errs = {}
    for p in ("default", "high", "highest"):
        (y,) = xtpu.compile(model, precision=p)(x)
        errs[p] = np.linalg.norm(y - ref) / np.linalg.norm(ref)
    assert errs["highest"] <= 1e-5 < errs["default"] <= 2e-2
    assert errs["high"] <= 1e-3 and errs["high"] < errs["default"]


def test_int64_input_and_reference():
    model = onnx_embedding()
    ids = np.array([[0, 1, 2, 3, 4], [15, 14, 13, 12, 11]], np.int64)
    exe = xtpu.compile(model, precision="highest")
    assert exe.inputs[0].dtype == "int64" and exe.inputs[0].model_dtype == "s64"
    (got,) = exe(ids)
    (ref,) = xtpu.run_reference(model, [ids])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    # Lists are converted to the input's dtype.
    (from_list,) = exe(ids.tolist())
    np.testing.assert_array_equal(from_list, got)


def test_save_and_load(tmp_path, tir_path):
    exe = xtpu.compile(tir_path)
    path = str(tmp_path / "twoout.xtpu")
    exe.save(path)
    loaded = xtpu.load(path)
    assert loaded.source == path and [s.name for s in loaded.inputs] == ["x", "y"]
    x, y = inputs_2x3(3)
    for a, b in zip(exe(x, y), loaded(x, y)):
        np.testing.assert_array_equal(a, b)


# ---- Input checks -----------------------------------------------------------

def test_wrong_shape_dtype_and_count(tir_path):
    exe = xtpu.compile(tir_path)
    x, y = inputs_2x3()
    with pytest.raises(ValueError, match=r"input 'y': expected shape \(2, 3\), got \(3, 2\)"):
        exe(x, y.T.copy())
    with pytest.raises(ValueError, match=r"input 'x': expected dtype float32 \(model f32\), got float64"):
        exe(x.astype(np.float64), y)
    with pytest.raises(TypeError, match="input 'y' is missing"):
        exe(x)
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \(x, y\), 3 were given"):
        exe(x, y, x)
    with pytest.raises(TypeError, match="unknown input 'z'"):
        exe(x, z=y)
    with pytest.raises(ValueError, match="input 'x'"):
        xtpu.run_reference(tir_path, [x[:1], y])
    # Non-contiguous arrays are fine.
    xt = np.asfortranarray(x)
    np.testing.assert_array_equal(exe(xt, y)[1], x + y)


# ---- Errors carry the CLI's message -----------------------------------------

def cli_error(cli, *args):
    p = subprocess.run([cli, *args], capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    line = p.stderr.strip()
    assert line.startswith("xtpu: error: ")
    return line[len("xtpu: error: "):]


def test_errors_are_the_cli_messages(tmp_path, cli):
    missing = str(tmp_path / "missing.onnx")
    with pytest.raises(xtpu.Error) as e:
        xtpu.compile(missing)
    assert str(e.value) == cli_error(cli, "compile", missing, "-o", str(tmp_path / "m.xtpu"))

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(xtpu.Error) as e:
        xtpu.compile(str(bad))
    assert str(e.value) == cli_error(cli, "compile", str(bad), "-o", str(tmp_path / "m.xtpu"))

    with pytest.raises(xtpu.Error) as e:
        xtpu.compile(str(bad), precision="extreme")
    assert str(e.value) == cli_error(cli, "compile", str(bad), "--precision", "extreme", "-o", str(tmp_path / "m.xtpu"))

    with pytest.raises(xtpu.Error) as e:
        xtpu.Chip("v99")
    assert str(e.value) == cli_error(cli, "chip", "show", "v99")

    (tmp_path / "bad.xtpu").write_bytes(b"XTPUEXEC garbage")
    with pytest.raises(xtpu.Error) as e:
        xtpu.load(str(tmp_path / "bad.xtpu"))
    assert str(e.value) == cli_error(cli, "run", str(tmp_path / "bad.xtpu"))

    with pytest.raises(TypeError, match="model must be a path"):
        xtpu.compile(12)


# ---- Stats, summary, trace --------------------------------------------------

def test_last_run_stats_summary_and_trace(tmp_path, tir_path, cli):
    exe = xtpu.compile(tir_path)
    assert exe.last_run is None
    with pytest.raises(ValueError, match="no run yet"):
        exe.summary()
    x, y = inputs_2x3()
    exe(x, y)
    stats = exe.last_run
    for key in ("timing", "functional", "performance", "config", "host_seconds", "precision", "model_flops"):
        assert key in stats, key
    assert stats["performance"]["cycles"] > 0 and stats["config"]["name"] == "v4"
    assert stats["model"] == tir_path and "trace" not in stats
    assert "cycles" in exe.summary() and f"chip v4: {stats['performance']['cycles']} cycles" in exe.summary(0)

    # The same run through the CLI gives the same cycles and counts.
    np.savez(tmp_path / "in.npz", x=x, y=y)
    cli_stats = tmp_path / "cli.json"
    subprocess.run([cli, "run", tir_path, "--inputs", str(tmp_path / "in.npz"), "--stats", str(cli_stats), "-q"],
                   check=True, capture_output=True)
    want = json.loads(cli_stats.read_text())
    assert stats["timing"] == want["timing"] and stats["functional"] == want["functional"]
    assert set(want) - set(stats) <= {"model"} and set(stats) - set(want) == set()

    trace = tmp_path / "trace.json"
    exe.run([x, y], trace=str(trace))
    events = json.loads(trace.read_text())
    assert events["traceEvents"] and exe.last_run["trace"] == str(trace)

    assert exe.run([x, y], timing_only=True) == []
    assert exe.last_run["timing_only"] is True
    assert exe.last_run["performance"]["cycles"] == stats["performance"]["cycles"]
    exe.run([x, y], timing=False)
    assert "timing" not in exe.last_run
    with pytest.raises(ValueError, match="no timing"):
        exe.summary()
    with pytest.raises(ValueError, match="trace needs the timing model"):
        exe.run([x, y], timing=False, trace=str(trace))


# ---- Stub and docs ----------------------------------------------------------

def stub_names():
    path = os.path.join(os.path.dirname(xtpu.__file__), "_xtpu.pyi")
    tree = ast.parse(open(path).read())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
    return top, members


def test_stub_matches_module_and_everything_has_a_docstring():
    from xtpu import _xtpu
    top, members = stub_names()
    public = {n for n in dir(_xtpu) if not n.startswith("_")} | {"__version__"}
    assert public <= top, f"missing from _xtpu.pyi: {sorted(public - top)}"
    assert top <= public, f"in _xtpu.pyi but not in the module: {sorted(top - public)}"
    for name in public - {"__version__"}:
        obj = getattr(_xtpu, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            mine = {n for n in vars(obj) if not n.startswith("_") or n == "__call__"}
            assert mine <= members[name], f"{name}: missing from the stub: {sorted(mine - members[name])}"
            extra = members[name] - mine - {"__init__", "__eq__"}
            assert not extra, f"{name}: in the stub but not in the module: {sorted(extra)}"
            for m in mine:
                assert getattr(obj, m).__doc__, f"{name}.{m} has no docstring"
    for name in xtpu.__all__:
        assert hasattr(xtpu, name), name
