# Regenerates the tiny NumPy files read by tests/unit/npy_test.cc:
#   /usr/bin/python3 tests/data/npy/make_npy_data.py
# Values are small and fixed so the test can spell them out.
import os
import numpy as np
from numpy.lib import format as npf

here = os.path.dirname(os.path.abspath(__file__))
p = lambda name: os.path.join(here, name)

np.save(p("f32_2x3.npy"), np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5)
np.save(p("f16_4.npy"), np.array([0.5, -1.0, 2.0, 65504.0], dtype=np.float16))
np.save(p("b1_3.npy"), np.array([True, False, True]))
np.save(p("i1_3.npy"), np.array([-128, 0, 127], dtype=np.int8))
np.save(p("u1_3.npy"), np.array([0, 1, 255], dtype=np.uint8))
np.save(p("i4_2x2.npy"), np.array([[1, -2], [3, -4]], dtype=np.int32))
np.save(p("i8_scalar.npy"), np.array(-7, dtype=np.int64))
np.save(p("f32_empty.npy"), np.zeros((0, 5), dtype=np.float32))
np.save(p("f8_2.npy"), np.array([1.0, 2.0]))
np.save(p("c8_2.npy"), np.array([1 + 2j, 3], dtype=np.complex64))
np.save(p("f4_big_endian.npy"), np.array([1.0, 2.0], dtype=">f4"))
np.save(p("f32_fortran.npy"), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
for version in [(2, 0), (3, 0)]:
    with open(p("f32_v%d.npy" % version[0]), "wb") as f:
        npf.write_array(f, np.array([1.5, -2.5], dtype=np.float32), version=version)
a = np.arange(4, dtype=np.float32)
b = np.array([[1, 2], [3, 4]], dtype=np.int64)
np.savez(p("savez.npz"), a=a, b=b)
np.savez_compressed(p("savez_compressed.npz"), a=a, b=b)


# A zip written to a pipe-like stream: deflated members with data descriptors
# (general purpose flag bit 3) and sizes known only after the data.
class Unseekable:
    def __init__(self, f):
        self.f = f

    def write(self, b):
        return self.f.write(b)

    def flush(self):
        self.f.flush()


import io
import zipfile

with open(p("streamed.npz"), "wb") as raw:
    with zipfile.ZipFile(Unseekable(raw), "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in [("a", a), ("b", b)]:
            buf = io.BytesIO()
            np.save(buf, arr)
            with z.open(name + ".npy", "w") as member:
                member.write(buf.getvalue())
assert (np.load(p("streamed.npz"))["b"] == b).all()
