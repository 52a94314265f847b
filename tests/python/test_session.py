"""xtpu in a Python session: the GIL is released, Ctrl-C stops a long
simulation cleanly, and one executable serves several threads at once."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import xtpu
from conftest import onnx_mlp

# A simulation of a few seconds that compiles in under a second: 4 layers of
# [1024, 2048] x [2048, 2048] at highest precision (6 bf16 passes).
LONG = dict(batch=1024, width=2048, layers=4)


@pytest.fixture(scope="module")
def long_exe():
    return xtpu.compile(onnx_mlp(**LONG), precision="highest")


@pytest.fixture(scope="module")
def long_input():
    return np.random.default_rng(5).standard_normal((LONG["batch"], LONG["width"])).astype(np.float32)


@pytest.fixture(scope="module")
def long_expected(long_exe, long_input):
    t = time.monotonic()
    (y,) = long_exe(long_input)
    return y, time.monotonic() - t


def test_ctrl_c_stops_a_long_simulation_and_the_module_stays_usable(long_exe, long_input, long_expected):
    expected, full_seconds = long_expected
    assert full_seconds > 1.0, f"the 'long' simulation took only {full_seconds:.2f} s; make it longer"
    stats_before = long_exe.last_run
    delay = 0.3
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    t = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        long_exe(long_input)
    stopped_after = time.monotonic() - t
    timer.join()
    # Stopped soon after the signal, long before the run would have ended.
    assert stopped_after < delay + 1.5 and stopped_after < full_seconds * 0.8, (stopped_after, full_seconds)
    # The interrupted run left no stats behind; the next run is complete and exact.
    assert long_exe.last_run == stats_before
    (y,) = long_exe(long_input)
    np.testing.assert_array_equal(y, expected)


def test_ctrl_c_with_a_custom_handler_that_does_not_raise(long_exe, long_input, long_expected):
    # A handler that only records the signal does not stop the run.
    seen = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        (y,) = long_exe(long_input)
        timer.join()
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen == [signal.SIGINT]
    np.testing.assert_array_equal(y, long_expected[0])


def test_two_threads_share_an_executable_and_the_gil_is_free(long_exe, long_input, long_expected):
    other = -long_input
    (other_expected,) = long_exe(other)
    results, errors = {}, []

    def work(key, x):
        try:
            results[key] = long_exe(x)[0]
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=("a", long_input)), threading.Thread(target=work, args=("b", other))]
    for th in threads:
        th.start()
    # While both simulate, this thread keeps running Python code.
    ticks = 0
    while any(th.is_alive() for th in threads):
        ticks += 1
        time.sleep(0.001)
    for th in threads:
        th.join()
    assert not errors, errors
    np.testing.assert_array_equal(results["a"], long_expected[0])
    np.testing.assert_array_equal(results["b"], other_expected)
    assert ticks > 100, f"the main thread ran only {ticks} times during two runs: is the GIL held?"
    assert long_exe.last_run["performance"]["cycles"] > 0


def test_compile_releases_the_gil():
    model = onnx_mlp(**LONG)
    box = {}
    th = threading.Thread(target=lambda: box.update(exe=xtpu.compile(model)))
    ticks = 0
    th.start()
    while th.is_alive():
        ticks += 1
        time.sleep(0.001)
    th.join()
    assert isinstance(box["exe"], xtpu.Executable)
    # Compiling takes ~0.5 s; holding the GIL, this loop would not run at all.
    assert ticks > 50, ticks
