"""Elementwise math, reductions, histograms, segments and matrix products drawn in the usage sample:
tf.math.log, tf.maximum, tf.reduce_sum, tf.argmax, tf.matmul, LinearOperatorFullMatrix.matvec ..."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, integers, normal, pair, positive

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)
#: Rows of a fixed reduced length: --size sets the number of rows, so the tolerances keep their meaning.
ROWS = (4, 1024)
#: Sums of 256 (matmul) or 512 (matvec) products: linalg.py's matmul tolerances for half precision.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
COMPLEX_OF = {"float32": "complex64", "float64": "complex128"}


def _complex(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape) + 1j * rng.standard_normal(shape)}


def _batched_matmul(rng):
    """a @ b^T as attention scores: (B, M, 256) x (B, M, 256); 256 products per output at both sizes."""
    b, m = rng.dims((1, 8), (64, 512))
    return {"a": rng.standard_normal((b, m, 256)), "b": rng.standard_normal((b, m, 256))}


def _spread_pair(rng):
    """Normal draws of sd 50: integer cases (truncated) still hold many distinct values."""
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape) * 50, "y": rng.standard_normal(shape) * 50}


def _xdivy_inputs(rng):
    shape = rng.dims(*N)
    x = rng.standard_normal(shape) * 3
    zero = rng.uniform(size=shape) < 0.1
    x[zero] = 0.0
    y = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    y[zero & (rng.uniform(size=shape) < 0.5)] = 0.0  # 0 / 0 is 0 for xdivy, not NaN
    return {"x": x, "y": y}


def _xdivy_ref(x, y):
    return np.where(x == 0, 0.0, x / np.where(y == 0, 1.0, y))


def _hist_inputs(rng):
    """Values near the centres of the 10 bins of [-4, 4] (never within 0.08 of an edge, so half precision
    rounding cannot move one), normally spread over the bins, and 1% far outside the range."""
    n = rng.pick(4096, 1 << 20)
    k = np.clip(np.floor((rng.standard_normal(n) * 2 + 4) / 0.8), 0, 9)
    x = -4 + (k + 0.5 + rng.uniform(-0.4, 0.4, n)) * 0.8
    out = rng.uniform(size=n) < 0.01
    x[out] = rng.choice([-1.0, 1.0], int(out.sum())) * rng.uniform(5.0, 50.0, int(out.sum()))
    return {"x": x}


def _hist_call(c, x):
    value_range = c.fw.cast(c.fw.constant([-4.0, 4.0]), x.dtype)
    return c.fn(x, value_range, nbins=10)


def _hist_ref(x, lo=-4.0, hi=4.0, nbins=10):
    """The kernel's rule: bin = floor((max(x, lo) - lo) / step), at most nbins - 1."""
    idx = np.minimum(np.floor((np.maximum(x, lo) - lo) / ((hi - lo) / nbins)), nbins - 1).astype(np.int64)
    return np.bincount(idx, minlength=nbins).astype(np.int32)


def _segment_inputs(rng):
    """Sorted ids, about 16 rows per segment (some ids unused: empty segments come out as 0)."""
    rows = rng.pick(256, 16384)
    ids = np.sort(rng.integers(0, rows // 16, rows))
    return {"data": rng.standard_normal((rows, 64)) * 10, "segment_ids": Keep(ids.astype(np.int32))}


def _segment_mean_ref(data, segment_ids):
    n = int(segment_ids.max()) + 1
    sums = np.zeros((n, data.shape[1]))
    np.add.at(sums, segment_ids, data.astype(np.float64))
    counts = np.bincount(segment_ids, minlength=n)[:, None]
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    if data.dtype.kind in "iu":
        # TensorFlow's integer mean divides the integer sum by the count, truncating toward zero.
        return np.fix(mean).astype(data.dtype)
    return mean


def _matvec_inputs(rng):
    """An (rows, 512) operator times a 512-vector: 512 products per output at both sizes."""
    (rows,) = rng.dims((8, 2048))
    return {"a": rng.standard_normal((rows, 512)), "x": rng.standard_normal(512)}


def _matvec_setup(c, a, x):
    op = c.fw.linalg.LinearOperatorFullMatrix(a)
    return lambda: c.fn(op, x)


def _bools(rng):
    return {"x": rng.integers(0, 2, rng.dims(*N)).astype(np.float64)}


KERNELS = [
    Kernel("tf.math.log", "elementwise", positive(*N, low=1e-3, high=1e3), dtypes=FLOATS, reference=np.log),
    Kernel("tf.tanh", "elementwise", normal(*N, scale=3.0), dtypes=FLOATS, reference=np.tanh),
    Kernel("tf.math.ceil", "elementwise", normal(*N, scale=10.0), dtypes=FLOATS, reference=np.ceil),
    Kernel("tf.maximum", "elementwise", _spread_pair, dtypes=(*FLOATS, "int32", "int64"), reference=np.maximum),
    Kernel("tf.minimum", "elementwise", _spread_pair, dtypes=(*FLOATS, "int32", "int64"), reference=np.minimum),
    Kernel("tf.math.xdivy", "elementwise", _xdivy_inputs, dtypes=FLOATS, reference=_xdivy_ref),
    Kernel("tf.logical_not", "elementwise", _bools, dtypes=("bool",), out_dtype="bool", reference=np.logical_not),
    Kernel("tf.math.conj", "elementwise", _complex, dtypes=("complex64", "complex128"), reference=np.conj),
    Kernel("tf.math.imag", "elementwise", _complex, dtypes=("complex64", "complex128"),
           out_dtype={"complex64": "float32", "complex128": "float64"}, reference=np.imag),
    # TensorFlow builds complex numbers from float32 or float64 parts only.
    Kernel("tf.dtypes.complex", "elementwise", pair(*N, names=("real", "imag")), dtypes=FLOATS,
           out_dtype=COMPLEX_OF, reference=lambda real, imag: real + 1j * imag),
    Kernel("tf.reduce_sum", "reduction", normal((4, 256), 32, 32, 4, scale=10.0),
           dtypes=(*FLOATS, "int32", "int64"), call=lambda c, x: c.fn(x, axis=[1, 2]),
           reference=lambda x: np.sum(x, axis=(1, 2)), note="sum over the spatial axes of NHWC maps"),
    # Products of 8 integers in 1..3 (at most 6561): within float16's range, exact in the integer cases.
    Kernel("tf.math.reduce_prod", "reduction", integers((512, 131072), 8, low=1, high=4),
           dtypes=(*FLOATS, "int32", "int64"), call=lambda c, x: c.fn(x, axis=-1),
           reference=lambda x: np.prod(x, axis=-1)),
    Kernel("tf.argmax", "reduction", normal(ROWS, 1000, scale=1000.0), dtypes=(*FLOATS, "int32"), out_dtype="int64",
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.argmax(x, axis=1),
           note="class predictions from rows of 1000 logits; ties (half precision) to the lower index"),
    # The op's type list is int32, int64, float32, float64: half-precision inputs are refused.
    Kernel("tf.histogram_fixed_width", "reduction", _hist_inputs, dtypes=(*FLOATS, "int32"), out_dtype="int32",
           call=_hist_call, reference=_hist_ref),
    Kernel("tf.math.segment_mean", "reduction", _segment_inputs, dtypes=(*FLOATS, "int32"),
           reference=_segment_mean_ref),
    Kernel("tf.matmul", "linalg", _batched_matmul, dtypes=FLOATS,
           call=lambda c, a, b: c.fn(a, b, transpose_b=True),
           reference=lambda a, b: a @ np.swapaxes(b, -1, -2), tol=MATMUL_TOL),
    # The operator's constructor refuses bfloat16 matrices in Python (its dtype list stops at float16).
    Kernel("tf.linalg.LinearOperatorFullMatrix.matvec", "linalg", _matvec_inputs, dtypes=FLOATS,
           setup=_matvec_setup, reference=lambda a, x: a @ x, tol=MATMUL_TOL,
           note="operator built untimed from the matrix; matvec timed"),
]
