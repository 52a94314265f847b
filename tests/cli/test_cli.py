"""Tests of the `xtpu` command line: good runs and bad input.

Run by ctest (tests/cli/CMakeLists.txt) or by hand:
  /usr/bin/python3 tests/cli/test_cli.py --xtpu build/xtpu [-v] [-k pattern]

Every bad input must end with exit code 1 and exactly one stderr line
"xtpu: error: ..." that names the file and the problem: never a traceback,
an abort or a signal. Test models are made in a temp dir: .tir text inline,
.onnx with onnx.helper, .npy/.npz with NumPy.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

XTPU = None
SOURCE_DIR = None

# x + y and (x + y) * x, both f32[2,3].
TIR_TWO_OUTPUTS = """HloModule twoout

ENTRY main {
  x = f32[2,3] parameter(0)
  y = f32[2,3] parameter(1)
  s = f32[2,3] add(x, y)
  m = f32[2,3] multiply(s, x)
  ROOT out = (f32[2,3], f32[2,3]) tuple(s, m)
}
"""

# Identity on three inputs of different types, to see the random inputs.
TIR_IDENTITY = """HloModule ident

ENTRY main {
  f = f32[1000] parameter(0)
  i = s32[1000] parameter(1)
  p = pred[64] parameter(2)
  ROOT out = (f32[1000], s32[1000], pred[64]) tuple(f, i, p)
}
"""

# y = (x + 0) * x with a dead negate, for `xtpu opt --passes`.
TIR_PASSES = """HloModule passes

ENTRY main {
  x = f32[2,3] parameter(0)
  zero = f32[] constant(0)
  zeros = f32[2,3] broadcast(zero), dimensions={}
  s = f32[2,3] add(x, zeros)
  dead = f32[2,3] negate(s)
  y = f32[2,3] multiply(s, x)
  ROOT out = (f32[2,3]) tuple(y)
}
"""

# Two matmuls with a fused relu, then a floor: MXU, VPU and DMA work.
TIR_MLP = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mlp.tir")).read()

TIR_UNKNOWN_OP = """HloModule bad

ENTRY main {
  x = f32[2] parameter(0)
  y = f32[2] frobnicate(x)
  ROOT out = (f32[2]) tuple(y)
}
"""

TIR_SYNTAX_ERROR = """HloModule bad

ENTRY main {
  x = f32[2] parameter(0)
  y = f32[2 add(x, x)
  ROOT out = (f32[2]) tuple(y)
}
"""


def make_onnx(path, dims=(2, 3)):
    """relu(a + b) and a * b over f32[2,3] inputs a, b (or other `dims`)."""
    import onnx
    from onnx import TensorProto, helper

    dims = list(dims)
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, dims)
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, dims)
    r = helper.make_tensor_value_info("r", TensorProto.FLOAT, dims)
    p = helper.make_tensor_value_info("p", TensorProto.FLOAT, dims)
    nodes = [
        helper.make_node("Add", ["a", "b"], ["s"], name="add0"),
        helper.make_node("Relu", ["s"], ["r"], name="relu0"),
        helper.make_node("Mul", ["a", "b"], ["p"], name="mul0"),
    ]
    graph = helper.make_graph(nodes, "small", [a, b], [r, p])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def load_json(path):
    import json
    with open(path) as f:
        return json.load(f)


def read_csv(path):
    import csv
    with open(path) as f:
        return list(csv.DictReader(f))


def read_text(path):
    with open(path) as f:
        return f.read()


class CliTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="xtpu_cli_")
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p

    def xtpu(self, *args, stdin=None):
        return subprocess.run([XTPU, *args], capture_output=True, text=True, input=stdin, timeout=120)

    def assert_ok(self, *args):
        r = self.xtpu(*args)
        self.assertEqual(r.returncode, 0, f"xtpu {' '.join(args)} failed: {r.stderr}")
        return r

    def assert_error(self, args, *needles):
        """Exit 1, stderr exactly one 'xtpu: error:' line holding every needle."""
        r = self.xtpu(*args)
        self.assertEqual(r.returncode, 1, f"exit {r.returncode}, stderr: {r.stderr!r}")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"stderr is not one line: {r.stderr!r}")
        self.assertTrue(r.stderr.endswith("\n"))
        self.assertTrue(lines[0].startswith("xtpu: error: "), lines[0])
        for n in needles:
            self.assertIn(n, lines[0])
        return lines[0]

    # ---------------------------------------------------------- help, version

    def test_help_lists_subcommands(self):
        r = self.assert_ok("--help")
        for cmd in ("import", "opt", "run"):
            self.assertIn(cmd, r.stdout)
        for cmd in ("import", "opt", "run"):
            r = self.assert_ok(cmd, "--help")
            self.assertIn("Usage", r.stdout)
        self.assertIn("--backend", self.assert_ok("run", "--help").stdout)

    def test_version(self):
        r = self.assert_ok("--version")
        self.assertTrue(r.stdout.startswith("xtpu "), r.stdout)

    def test_usage_errors_are_one_line(self):
        self.assert_error([], "subcommand")
        self.assert_error(["frobnicate"])
        self.assert_error(["run"], "model")
        self.assert_error(["run", "m.tir", "--seed", "abc"])

    # ---------------------------------------------------------- run: good

    def test_run_tir_with_given_inputs(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
        y = np.full((2, 3), 0.5, dtype=np.float32)
        np.save(self.path("x.npy"), x)
        np.save(self.path("y.npy"), y)
        out = self.path("out.npz")
        r = self.assert_ok("run", model, "--backend", "reference", "--input", "x=" + self.path("x.npy"),
                           "--input", "y=" + self.path("y.npy"), "--output", out)
        with np.load(out) as z:
            self.assertEqual(sorted(z.files), ["m", "s"])
            np.testing.assert_array_equal(z["s"], x + y)
            np.testing.assert_array_equal(z["m"], (x + y) * x)
            self.assertEqual(z["s"].dtype, np.float32)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith("s: f32[2,3]"), lines[0])
        self.assertIn("min=-1.5", lines[0])
        self.assertIn("max=3.5", lines[0])
        self.assertIn("evaluate", r.stderr)  # timings
        r = self.assert_ok("run", model, "--input", "x=" + self.path("x.npy"), "--quiet")
        self.assertEqual(r.stderr, "")

    def test_run_inputs_from_npz(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        x = np.ones((2, 3), dtype=np.float32)
        y = np.arange(6, dtype=np.float32).reshape(2, 3)
        np.savez_compressed(self.path("in.npz"), x=x, y=y)
        out = self.path("out.npz")
        self.assert_ok("run", model, "--inputs", self.path("in.npz"), "--output", out, "-q")
        with np.load(out) as z:
            np.testing.assert_array_equal(z["s"], x + y)

    def test_bf16_inputs_from_f32_npz(self):
        # NumPy has no bf16: f32 arrays feed bf16 inputs (rounded to nearest
        # even) and bf16 outputs are saved as f32, on the chip and the host.
        model = self.write("m.tir", TIR_TWO_OUTPUTS.replace("f32[", "bf16["))
        x = np.array([[1 + 2 ** -9, 1 + 3 * 2 ** -9, 0.5], [2, -3, 4]], dtype=np.float32)  # rounded to nearest bf16
        y = np.zeros((2, 3), dtype=np.float32)
        np.savez(self.path("in.npz"), x=x, y=y)
        for backend in ("chip", "reference"):
            out = self.path(f"out_{backend}.npz")
            self.assert_ok("run", model, "--backend", backend, "--inputs", self.path("in.npz"), "--output", out, "-q")
            with np.load(out) as z:
                self.assertEqual(z["s"].dtype, np.float32)
                np.testing.assert_array_equal(z["s"], [[1, 1 + 2 ** -7, 0.5], [2, -3, 4]])

    def test_random_inputs_are_deterministic_and_in_range(self):
        model = self.write("id.tir", TIR_IDENTITY)
        a, b, c = self.path("a.npz"), self.path("b.npz"), self.path("c.npz")
        self.assert_ok("run", model, "--output", a, "-q")
        self.assert_ok("run", model, "--output", b, "-q", "--seed", "0")
        self.assert_ok("run", model, "--output", c, "-q", "--seed", "1")
        with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
            da, db, dc = fa.read(), fb.read(), fc.read()
        self.assertEqual(da, db)
        self.assertNotEqual(da, dc)
        with np.load(a) as z:
            f, i, p = z["f"], z["i"], z["p"]
            self.assertTrue(((f >= -1) & (f < 1)).all())
            self.assertGreater(f.std(), 0.4)
            self.assertTrue(((i >= 0) & (i < 10)).all())
            self.assertEqual(len(np.unique(i)), 10)
            self.assertEqual(p.dtype, np.bool_)
            self.assertTrue(p.any() and not p.all())

    def test_single_output_npy(self):
        model = self.write("id.tir", TIR_IDENTITY.replace(
            "(f32[1000], s32[1000], pred[64]) tuple(f, i, p)", "(f32[1000]) tuple(f)"))
        self.assert_ok("run", model, "--output", self.path("f.npy"), "-q")
        f = np.load(self.path("f.npy"))
        self.assertEqual(f.shape, (1000,))

    def test_run_onnx(self):
        model = self.path("small.onnx")
        make_onnx(model)
        a = np.array([[1, -2, 3], [-4, 5, -6]], dtype=np.float32)
        b = np.full((2, 3), 1.5, dtype=np.float32)
        np.save(self.path("a.npy"), a)
        np.save(self.path("b.npy"), b)
        out = self.path("out.npz")
        self.assert_ok("run", model, "--input", "a=" + self.path("a.npy"),
                       "--input", "b=" + self.path("b.npy"), "--output", out, "--backend", "reference")
        with np.load(out) as z:
            np.testing.assert_array_equal(z["r"], np.maximum(a + b, 0))
            np.testing.assert_array_equal(z["p"], a * b)

    def test_default_dim(self):
        model = self.path("sym.onnx")
        make_onnx(model, dims=("batch", 3))
        self.assertIn("f32[4,3] parameter(0)", self.assert_ok("import", model, "--default-dim", "4").stdout)
        self.assertIn("f32[1,3] parameter(0)", self.assert_ok("import", model).stdout)
        out = self.path("out.npz")
        self.assert_ok("run", model, "--default-dim", "5", "--output", out, "-q")
        with np.load(out) as z:
            self.assertEqual(z["r"].shape, (5, 3))
        self.assert_error(["run", model, "--default-dim", "0"], "--default-dim")

    def test_import_opt_round_trip(self):
        model = self.path("small.onnx")
        make_onnx(model)
        imported = self.assert_ok("import", model).stdout
        self.assertIn("ENTRY", imported)
        self.assert_ok("import", model, "-o", self.path("a.tir"))
        with open(self.path("a.tir")) as f:
            self.assertEqual(f.read(), imported)
        self.assert_ok("opt", self.path("a.tir"), "-o", self.path("b.tir"))
        with open(self.path("b.tir")) as f:
            self.assertEqual(f.read(), imported)
        self.assertEqual(self.assert_ok("opt", self.path("a.tir")).stdout, imported)
        r = self.xtpu("opt", "-", stdin=imported)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, imported)

    def test_opt_passes_print_after_all(self):
        model = self.write("p.tir", TIR_PASSES)
        r = self.assert_ok("opt", model, "--passes=cse,algsimp,dce", "--print-after-all")
        # Printed module: x + 0 is gone, the dead negate is gone, the output
        # keeps its name.
        self.assertIn("ROOT out = (f32[2,3]) tuple(y)", r.stdout)
        self.assertIn("y = f32[2,3] multiply(x, x)", r.stdout)
        self.assertNotIn("add(", r.stdout)
        self.assertNotIn("negate", r.stdout)
        # stderr: a banner and the module after each pass that changed it;
        # cse had nothing to merge, so it is not printed.
        banners = [l for l in r.stderr.splitlines() if l.startswith("// -----// IR after")]
        self.assertEqual(banners, ["// -----// IR after algsimp //----- //", "// -----// IR after dce //----- //"])
        self.assertEqual(r.stderr.count("HloModule passes"), 2)
        # Without --print-after-all nothing goes to stderr; same result.
        r2 = self.assert_ok("opt", model, "--passes=cse,algsimp,dce")
        self.assertEqual(r2.stderr, "")
        self.assertEqual(r2.stdout, r.stdout)
        # The result runs and gives the same values as the input.
        self.write("q.tir", r.stdout)
        for name in ("p", "q"):
            self.assert_ok("run", self.path(name + ".tir"), "--backend", "reference", "--output",
                           self.path(name + ".npz"), "-q")
        with np.load(self.path("p.npz")) as a, np.load(self.path("q.npz")) as b:
            self.assertEqual(a.files, b.files)
            np.testing.assert_array_equal(a["y"], b["y"])

    def test_opt_list_passes(self):
        r = self.assert_ok("opt", "--list-passes")
        names = [line.split()[0] for line in r.stdout.splitlines()]
        for p in ("dce", "cse", "constant-folding", "algsimp", "canonicalize"):
            self.assertIn(p, names)
        for line in r.stdout.splitlines():
            self.assertGreater(len(line.split()), 1, f"no description: {line!r}")

    def test_opt_pass_errors(self):
        model = self.write("p.tir", TIR_PASSES)
        self.assert_error(["opt", model, "--passes=dce,frobnicate"], "--passes", "unknown pass 'frobnicate'", "dce")
        self.assert_error(["opt", model, "--passes=dce,,cse"], "empty pass name")
        self.assert_error(["opt", model, "--passes=dce", "--chip", "nochip"], "--chip", "nochip")
        self.assert_error(["opt"], "input")
        self.assert_ok("opt", model, "--passes=dce", "--chip", "v4")

    # ---------------------------------------------------------- bad input

    def test_truncated_onnx(self):
        make_onnx(self.path("small.onnx"))
        with open(self.path("small.onnx"), "rb") as f:
            data = f.read()
        bad = self.write("trunc.onnx", data[: len(data) // 2])
        self.assert_error(["run", bad], bad)
        self.assert_error(["import", bad], bad)

    def test_random_bytes_onnx(self):
        rng = np.random.default_rng(0)
        for i in range(5):
            bad = self.write(f"rand{i}.onnx", rng.integers(0, 256, 200 + 100 * i, dtype=np.uint8).tobytes())
            self.assert_error(["run", bad], bad)
        empty = self.write("empty.onnx", b"")
        self.assert_error(["import", empty], empty)

    def test_npy_wrong_shape(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        bad = self.path("x.npy")
        np.save(bad, np.zeros((3, 2), dtype=np.float32))
        line = self.assert_error(["run", model, "--input", "x=" + bad])
        self.assertEqual(line, f"xtpu: error: input 'x' from {bad}: expected f32[2,3], got f32[3,2]")

    def test_npy_wrong_dtype(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        bad = self.path("x.npy")
        np.save(bad, np.zeros((2, 3), dtype=np.int32))
        line = self.assert_error(["run", model, "--input", "x=" + bad])
        self.assertEqual(line, f"xtpu: error: input 'x' from {bad}: expected f32[2,3], got s32[2,3]")
        np.save(bad, np.zeros((2, 3), dtype=np.float64))
        self.assert_error(["run", model, "--input", "x=" + bad], bad, "unsupported dtype '<f8'", "float32")
        np.save(bad, np.zeros((2, 3), dtype=np.complex64))
        self.assert_error(["run", model, "--input", "x=" + bad], bad, "unsupported dtype '<c8'")

    def test_corrupt_npy_and_npz(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        bad = self.write("x.npy", b"\x93NUMPY\x01\x00\x76")
        self.assert_error(["run", model, "--input", "x=" + bad], bad, "truncated header")
        bad = self.write("x2.npy", b"PK\x03\x04garbage")
        self.assert_error(["run", model, "--input", "x=" + bad], bad, "bad magic")
        np.save(self.path("x3.npy"), np.zeros((2, 3), dtype=np.float32))
        with open(self.path("x3.npy"), "rb") as f:
            data = f.read()
        bad = self.write("x3.npy", data[:-4])
        self.assert_error(["run", model, "--input", "x=" + bad], bad, "data size mismatch")
        bad = self.write("in.npz", b"this is not a zip file at all, just text")
        self.assert_error(["run", model, "--inputs", bad], bad, "not a zip archive")

    def test_missing_input_file(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        missing = self.path("nope.npy")
        line = self.assert_error(["run", model, "--input", "x=" + missing])
        self.assertEqual(line, f"xtpu: error: {missing}: cannot open: No such file or directory")
        missing = self.path("nope.npz")
        line = self.assert_error(["run", model, "--inputs", missing])
        self.assertEqual(line, f"xtpu: error: {missing}: cannot open: No such file or directory")

    def test_missing_model(self):
        for name in ("nope.tir", "nope.onnx"):
            missing = self.path(name)
            for cmd in ("run", "import" if name.endswith(".onnx") else "opt"):
                line = self.assert_error([cmd, missing])
                self.assertEqual(line, f"xtpu: error: {missing}: cannot open: No such file or directory")

    def test_model_is_a_directory(self):
        for name in ("dir.onnx", "dir.tir"):
            d = self.path(name)
            os.mkdir(d)
            line = self.assert_error(["run", d])
            self.assertEqual(line, f"xtpu: error: {d}: cannot read: Is a directory")

    def test_unknown_model_extension(self):
        bad = self.write("m.txt", TIR_TWO_OUTPUTS)
        self.assert_error(["run", bad], bad, ".onnx", ".tir")

    def test_unknown_op_in_tir(self):
        bad = self.write("bad.tir", TIR_UNKNOWN_OP)
        self.assert_error(["run", bad], bad, "frobnicate")
        self.assert_error(["opt", bad], bad, "frobnicate")

    def test_tir_syntax_error(self):
        bad = self.write("bad.tir", TIR_SYNTAX_ERROR)
        self.assert_error(["opt", bad], bad + ":5")
        self.assert_error(["run", bad], bad + ":5")

    def test_compile_and_run_on_chip(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
        y = np.full((2, 3), 0.5, dtype=np.float32)
        np.savez(self.path("in.npz"), x=x, y=y)
        # Straight from the model (compiled on the fly) and from an executable.
        out1, out2, exe = self.path("o1.npz"), self.path("o2.npz"), self.path("m.xtpu")
        r = self.assert_ok("run", model, "--inputs", self.path("in.npz"), "--output", out1, "--chip", "v5e")
        self.assertIn("chip v5e:", r.stdout)
        self.assertIn("roofline bound", r.stdout)
        self.assertIn("memory: HBM", r.stdout)
        self.assert_ok("compile", model, "--chip", "v4", "-o", exe, "-q")
        stats, trace = self.path("s.json"), self.path("t.json")
        r = self.assert_ok("run", exe, "--inputs", self.path("in.npz"), "--output", out2, "--stats", stats,
                           "--trace", trace)
        self.assertIn("chip v4:", r.stdout)
        for out in (out1, out2):
            with np.load(out) as z:
                np.testing.assert_array_equal(z["s"], x + y)
                np.testing.assert_array_equal(z["m"], (x + y) * x)
        import json
        j = json.load(open(stats))
        for key in ("timing", "functional", "config", "performance", "model_flops", "host_seconds"):
            self.assertIn(key, j)
        self.assertGreater(j["performance"]["cycles"], 0)
        self.assertIn("traceEvents", json.load(open(trace)))
        # Timing only: the same cycles, no values.
        r = self.assert_ok("run", exe, "--timing-only", "--stats", self.path("s2.json"))
        self.assertNotIn("s: f32", r.stdout)
        self.assertEqual(json.load(open(self.path("s2.json")))["performance"]["cycles"], j["performance"]["cycles"])
        self.assert_error(["run", exe, "--timing-only", "--output", out1], "--timing-only")
        self.assert_error(["run", exe, "--backend", "reference"], exe, "chip only")
        self.assert_error(["run", model, "--precision", "ultra"], "precision", "highest")
        self.assert_error(["compile", model], "-o")
        # A corrupt executable is a clear error.
        data = open(exe, "rb").read()
        bad = self.path("bad.xtpu")
        open(bad, "wb").write(data[: len(data) // 2])
        self.assert_error(["run", bad], bad)
        # Too big for the chip: the error names the tensor, its size and the limit.
        big = self.write("big.tir", """HloModule big

ENTRY main {
  x = f32[1,256] parameter(0)
  w = f32[256,256] iota(), iota_dimension=0
  d = f32[1,256] dot(x, w), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, rhs_contracting_dims={0}
  ROOT out = (f32[1,256]) tuple(d)
}
""")
        self.assert_error(["compile", big, "-o", self.path("x.xtpu"), "--set", "hbm.bytes=64 KiB"],
                          "does not fit in HBM", "64 KiB")

    def test_unknown_backend(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        line = self.assert_error(["run", model, "--backend", "tpu9000"])
        self.assertEqual(line, "xtpu: error: unknown backend 'tpu9000'; valid backends: chip, reference")

    def test_unknown_input_name(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        np.save(self.path("z.npy"), np.zeros((2, 3), dtype=np.float32))
        self.assert_error(["run", model, "--input", "z=" + self.path("z.npy")],
                          "unknown input 'z'", "x, y")
        np.savez(self.path("in.npz"), q=np.zeros((2, 3), dtype=np.float32))
        self.assert_error(["run", model, "--inputs", self.path("in.npz")],
                          "unknown input 'q'", self.path("in.npz"), "x, y")
        self.assert_error(["run", model, "--input", self.path("z.npy")], "NAME=FILE.npy", "x, y")

    def test_input_given_twice(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        x = self.path("x.npy")
        np.save(x, np.zeros((2, 3), dtype=np.float32))
        np.savez(self.path("in.npz"), x=np.zeros((2, 3), dtype=np.float32))
        self.assert_error(["run", model, "--input", "x=" + x, "--input", "x=" + x], "input 'x'", "more than once")
        self.assert_error(["run", model, "--inputs", self.path("in.npz"), "--input", "x=" + x],
                          "input 'x'", "more than once")

    def test_bad_output_paths(self):
        model = self.write("m.tir", TIR_TWO_OUTPUTS)
        self.assert_error(["run", model, "--output", self.path("o.npy")], "2 outputs", ".npz")
        self.assert_error(["run", model, "--output", self.path("o.txt")], ".npz", ".npy")
        bad = os.path.join(self.dir, "no_such_dir", "o.npz")
        self.assert_error(["run", model, "--output", bad], bad, "No such file or directory")


    # ---------------------------------------------------------- chip, asm, sim

    def test_chip_show_presets_and_errors(self):
        r = self.assert_ok("chip", "show", "v4")
        self.assertIn("mxu.peak_bf16", r.stdout)
        self.assertIn("275.3 TFLOP/s", r.stdout)
        r = self.assert_ok("chip", "show", "v4", "--set", "mxu.rows=256", "--json")
        import json
        j = json.loads(r.stdout)
        self.assertEqual(j["params"]["mxu.rows"]["value"], 256)
        self.assertEqual(j["params"]["mxu.rows"]["origin"], "override")
        self.assertAlmostEqual(j["derived"]["mxu.peak_bf16"]["value"], 2 * 256 * 128 * 4 * 2 * 1.05e9)
        self.assert_error(["chip", "show", "nope"], "nope", "presets")
        self.assert_error(["chip", "show", "v4", "--set", "mxu.rows=abc"], "mxu.rows", "integer")
        bad = self.path("bad.toml")
        with open(bad, "w") as f:
            f.write("clock_mhz = 1000\nmxu.rowz = 3\n")
        self.assert_error(["chip", "show", bad], "mxu.rowz", bad)

    def test_asm_disasm_sim_gemm(self):
        src = os.path.join(SOURCE_DIR, "tests", "asm", "gemm_bf16_256.s")
        binary = self.path("g.bin")
        self.assert_ok("asm", src, "-o", binary)
        text = self.assert_ok("disasm", binary).stdout
        again = self.path("again.s")
        with open(again, "w") as f:
            f.write(text)
        binary2 = self.path("g2.bin")
        self.assert_ok("asm", again, "-o", binary2)
        with open(binary, "rb") as a, open(binary2, "rb") as b:
            self.assertEqual(a.read(), b.read(), "asm(disasm(p)) != p")
        rng = np.random.default_rng(0)
        a = rng.standard_normal((256, 256)).astype(np.float32)
        b = rng.standard_normal((256, 256)).astype(np.float32)
        # bf16 inputs are given as f32 values exactly representable in bf16.
        def to_bf16(x):
            u = x.view(np.uint32)
            u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
            return u.view(np.float32)
        a, b = to_bf16(a), to_bf16(b)
        np.save(self.path("a.npy"), a)
        np.save(self.path("b.npy"), b)
        out = self.path("c.npy")
        self.assert_ok("sim", binary, "--chip", "v4", "--input", "A=" + self.path("a.npy"),
                       "--input", "B=" + self.path("b.npy"), "--output", "C=" + out,
                       "--stats", self.path("s.json"))
        c = np.load(out)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        self.assertLess(float(np.max(np.abs(c - ref)) / np.max(np.abs(ref))), 1e-5)
        self.assert_error(["sim", src, "--chip", "v1"], "mxu1", "v1")
        self.assert_error(["sim", self.path("missing.s")], "missing.s", "No such file")
        bad = self.path("bad.s")
        with open(bad, "w") as f:
            f.write(".core 0\nfrobnicate r1\n")
        self.assert_error(["asm", bad, "-o", self.path("x.bin")], "bad.s:2", "frobnicate")

    def test_sim_runaway_program_is_stopped(self):
        prog = self.path("runaway.s")
        with open(prog, "w") as f:
            f.write(".core 0\nloop r1, 100000\nloop r2, 100000\nnop\nendloop\nendloop\nhalt\n")
        self.assert_error(["sim", prog, "--no-timing"], "runaway.s:4", "step budget")


    # ---------------------------------------------------------- profile, sweep

    def test_profile(self):
        model = self.write("mlp.tir", TIR_MLP)
        out = self.path("prof")
        r = self.assert_ok("profile", model, "--chip", "v4", "-o", out, "--layers", "2")
        self.assertIn("chip v4:", r.stdout)
        for f in ("report.html", "ops.csv", "stats.json", "trace.json"):
            self.assertTrue(os.path.getsize(os.path.join(out, f)) > 0, f)
        stats = load_json(os.path.join(out, "stats.json"))
        for key in ("timing", "performance", "config", "profile", "model_flops"):
            self.assertIn(key, stats)
        prof = stats["profile"]
        ops = read_csv(os.path.join(out, "ops.csv"))
        # One CSV row per kernel of the executable, in program order.
        self.assert_ok("compile", model, "-o", self.path("m.xtpu"), "-q")
        kernels = [k["name"] for k in stats["performance"]["kernels"]]
        self.assertEqual([o["name"] for o in ops], kernels)
        self.assertEqual(len(prof["ops"]), len(ops))
        self.assertEqual(sum(int(o["flops"]) for o in ops), stats["model_flops"])
        for o in ops:
            self.assertIn(o["bound"], ("MXU", "VPU", "XLU", "HBM", "VMEM", "overhead"))
            self.assertGreater(float(o["cycles"]), 0)
            self.assertLessEqual(float(o["cycles"]), stats["performance"]["cycles"])
        self.assertEqual(ops[0]["work"], "mxu")  # the first op is the dot
        self.assertEqual(sorted(prof["peaks"]), sorted(["clock_hz", "mxu_flops_per_second", "vpu_ops_per_second",
                                                         "hbm_bytes_per_second", "vmem_bytes_per_second"]))
        # The trace: named processes and tracks (each MXU and DMA engine), events named by op.
        trace = load_json(os.path.join(out, "trace.json"))
        events = trace["traceEvents"]
        tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
        self.assertTrue({"mxu0", "mxu1", "vpu", "dma0"} <= tracks, tracks)
        self.assertIn("core0", {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"})
        names = {e["name"] for e in events if e["ph"] == "X"}
        self.assertEqual(names, set(kernels))
        self.assertTrue(all("instruction" in e["args"] for e in events if e["ph"] == "X"))
        # The same from a compiled executable; --values computes values too, the cycles do not change.
        out2 = self.path("prof2")
        self.assert_ok("profile", self.path("m.xtpu"), "-o", out2, "-q", "--values", "--max-trace-events", "1")
        stats2 = load_json(os.path.join(out2, "stats.json"))
        self.assertEqual(stats2["performance"]["cycles"], stats["performance"]["cycles"])
        trace2 = load_json(os.path.join(out2, "trace.json"))
        self.assertTrue(trace2["otherData"]["coalesced"])
        self.assertEqual(sum(e["args"]["instructions"] for e in trace2["traceEvents"] if e["ph"] == "X"),
                         sum(1 for e in events if e["ph"] == "X"))
        # Errors: one line, non-zero exit.
        self.assert_error(["profile", self.path("nope.onnx"), "-o", out], "nope.onnx")
        self.assert_error(["profile", model, "--chip", "v99", "-o", out], "v99")
        self.assert_error(["profile", model, "--set", "mxu.rows=0", "-o", out], "mxu.rows")
        self.assert_error(["profile", self.path("m.xtpu"), "--set", "mxu.rows=64", "-o", out], "--set")
        self.assert_error(["profile", model], "--output-dir")
        self.write("file", "x")
        self.assert_error(["profile", model, "-o", os.path.join(self.path("file"), "sub")], "cannot create")

    def test_sweep(self):
        model = self.write("mlp.tir", TIR_MLP)
        out = self.path("sweep")
        r = self.assert_ok("sweep", model, "--chip", "v4", "--set", "mxu.cols=0,64,128", "--set",
                           "hbm.bandwidth_gbps=600,1200,2400", "-o", out, "-j", "2")
        self.assertIn("points (3 failed)", r.stderr)
        rows = read_csv(os.path.join(out, "sweep.csv"))
        self.assertEqual(len(rows), 9)
        self.assertEqual(list(rows[0].keys())[:3], ["mxu.cols", "hbm.bandwidth_gbps", "cycles"])
        for col in ("seconds", "throughput", "mxu_utilization", "fraction_of_roofline", "bound", "status", "error"):
            self.assertIn(col, rows[0])
        bad = [x for x in rows if x["status"] == "error"]
        self.assertEqual([x["mxu.cols"] for x in bad], ["0"] * 3)
        self.assertTrue(all("mxu.cols" in x["error"] for x in bad))
        good = {(x["mxu.cols"], x["hbm.bandwidth_gbps"]): int(x["cycles"]) for x in rows if x["status"] == "ok"}
        self.assertEqual(len(good), 6)
        for cols in ("64", "128"):  # more bandwidth is never slower
            self.assertGreaterEqual(good[(cols, "600")], good[(cols, "1200")])
            self.assertGreaterEqual(good[(cols, "1200")], good[(cols, "2400")])
        # The v4 point matches a direct run.
        self.assert_ok("run", model, "--timing-only", "--stats", self.path("s.json"), "-q")
        self.assertEqual(good[("128", "1200")], load_json(self.path("s.json"))["performance"]["cycles"])
        html = read_text(os.path.join(out, "sweep.html"))
        self.assertIn("Chart.js", html)
        self.assertNotIn("<script src", html)
        # Arrays with fewer rows than columns (and more) compile and run.
        out2 = self.path("sweep_rows")
        self.assert_ok("sweep", model, "--chip", "v4", "--set", "mxu.rows=64,128,256", "-o", out2, "-j", "2")
        rows2 = read_csv(os.path.join(out2, "sweep.csv"))
        self.assertEqual([(x["mxu.rows"], x["status"]) for x in rows2], [("64", "ok"), ("128", "ok"), ("256", "ok")])
        # Errors that stop the whole sweep.
        self.assert_error(["sweep", model, "--set", "mxu.frobs=1,2", "-o", out], "mxu.frobs")
        self.assert_error(["sweep", model, "--set", "mxu.rows=", "-o", out], "empty value")
        self.assert_error(["sweep", model, "-o", out], "--set")
        self.assert_error(["sweep", self.path("none.tir"), "--set", "mxu.rows=128", "-o", out], "none.tir")

    def run_on_tty(self, *args):
        """Runs xtpu with stderr on a pseudo-terminal; returns (exit code, stderr text)."""
        import pty
        master, slave = pty.openpty()
        env = dict(os.environ, XTPU_PROGRESS_DELAY="0")  # draw from the start
        p = subprocess.Popen([XTPU, *args], stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            out += data
        os.close(master)
        return p.wait(timeout=120), out.decode()

    def test_progress_bars(self):
        model = self.write("mlp.tir", TIR_MLP)
        code, err = self.run_on_tty("sweep", model, "--set", "hbm.bandwidth_gbps=600,1200", "-o", self.path("sw"))
        self.assertEqual(code, 0, err)
        self.assertRegex(err, r"\r\[sweep\] +\d+% \|[# ]+\| \d/2 points \d+\.\ds elapsed")
        self.assertIn("[sweep] 100%", err)
        # The bar is cleared before the summary line.
        self.assertRegex(err, r"\r +\rxtpu: 2 points")
        code, err = self.run_on_tty("profile", model, "-o", self.path("prof"))
        self.assertEqual(code, 0, err)
        self.assertIn("[compile: lowering]", err)
        self.assertRegex(err, r"\[(simulate|timing)\]")
        # --quiet, or stderr not a terminal: no bar.
        code, err = self.run_on_tty("profile", model, "-o", self.path("prof"), "-q")
        self.assertEqual((code, err), (0, ""))
        r = self.assert_ok("sweep", model, "--set", "hbm.bandwidth_gbps=600,1200", "-o", self.path("sw"))
        self.assertNotIn("[sweep]", r.stderr)
        self.assertNotIn("\r", r.stderr)

def main():
    global XTPU
    parser = argparse.ArgumentParser()
    parser.add_argument("--xtpu", default=os.environ.get("XTPU_BIN"), help="path of the xtpu binary")
    parser.add_argument("--source-dir", default=os.environ.get("XTPU_SOURCE_DIR"))
    args, rest = parser.parse_known_args()
    if not args.xtpu:
        parser.error("give --xtpu PATH (or set XTPU_BIN)")
    XTPU = os.path.abspath(args.xtpu)
    global SOURCE_DIR
    SOURCE_DIR = args.source_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
