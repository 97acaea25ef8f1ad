"""TensorFlow reductions, scans, segments, histograms and selections: tf.math.reduce_*, cumsum, argmax, top_k,
TF-NumPy cumprod and XLA's variadic reduce.
"""

import numpy as np
import scipy.special

from portability.catalog import FLOATS, Keep, Kernel, integers, normal, paper, uniform

#: Rows of 1024 (reductions, selections) or 256 (scans): the reduced length stays the same at both
#: sizes, so the tolerances keep their meaning; --size sets the number of rows.
ROWS = (4, 1024)
SCAN_ROWS = (16, 4096)


def _mean_ref(x):
    if x.dtype.kind in "iu":
        # TensorFlow's integer mean divides the integer sum by the count, truncating toward zero.
        return np.fix(np.sum(x.astype(np.int64), axis=-1) / x.shape[-1]).astype(x.dtype)
    return np.mean(x, axis=-1)


def _top_k_ref(x):
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :8]
    return np.take_along_axis(x, idx, axis=-1), idx


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


def _prod_call(c, x):
    """Products of rows of 64 factors near 1, and the element count of x as reduce_prod(tf.shape(x))."""
    return c.fn(x, axis=-1), c.fn(c.fw.shape(x))


def _sparse_true(rng):
    """Rows of 1024 booleans with about one true element per row: some rows hold none."""
    return {"x": (rng.uniform(size=rng.dims(ROWS, 1024)) < 1 / 1024).astype(np.float64)}


def _compensated_sum_setup(c, x):
    """A compensated row sum, as the upstream test's Kahan sum: (value, error) pairs reduced with a
    traced reducer, compiled with XLA. The reducer is Knuth's TwoSum, which is exact whichever
    order XLA combines partial results in (the upstream Kahan reducer is not commutative, and XLA
    leaves the order unspecified): the result is the correctly rounded sum."""
    tf = c.fw

    @tf.function
    def two_sum(t0, t1):
        (s0, c0), (s1, c1) = t0, t1
        s = s0 + s1
        b = s - s0
        return s, (c0 + c1) + ((s0 - (s - b)) + (s1 - b))

    zero = tf.zeros([], x.dtype)
    reducer = two_sum.get_concrete_function((zero, zero), (zero, zero))

    @tf.function(jit_compile=True)
    def row_sums(v):
        s, err = c.fn((v, tf.zeros_like(v)), init_values=(zero, zero), dimensions_to_reduce=[1], reducer=reducer)
        return s + err

    row_sums(x)
    return lambda: row_sums(x)


KERNELS = [
    Kernel("tf.math.reduce_mean", "reduction", integers(ROWS, 1024, low=-100, high=100),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=_mean_ref,
           **paper(100, 1295)),
    Kernel("tf.math.reduce_sum", "reduction", normal(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.sum(x, axis=-1)),
    Kernel("tf.math.reduce_logsumexp", "reduction", normal(ROWS, 1024, scale=3.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: scipy.special.logsumexp(x, axis=-1),
           **paper(60, 12)),
    Kernel("tf.math.cumsum", "reduction", normal(SCAN_ROWS, 256),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.cumsum(x, axis=-1)),
    Kernel("tf.experimental.numpy.cumprod", "reduction", uniform(SCAN_ROWS, 256, low=0.9, high=1.1),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"),
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.cumprod(x, axis=1),
           **paper(20, 2),
           note="int32 inputs are 0/1 here; TF-NumPy widens integer cumprod to int64 as NumPy does"),
    Kernel("tf.math.argmax", "reduction", normal(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"), out_dtype="int64",
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.argmax(x, axis=-1)),
    Kernel("tf.math.top_k", "reduction", normal(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"),
           call=lambda c, x: c.fn(x, k=8), reference=_top_k_ref,
           note="values keep the input dtype, indices are int32 (checked exactly, ties to the lower index)"),
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
    Kernel("tf.reduce_mean", "reduction", integers(ROWS, 1024, low=-100, high=100),
           dtypes=(*FLOATS, "int32", "int64"), call=lambda c, x: c.fn(x, axis=-1), reference=_mean_ref),
    Kernel("tf.reduce_prod", "reduction", uniform((64, 16384), 64, low=0.9, high=1.1), dtypes=FLOATS, call=_prod_call,
           reference=lambda x: (np.prod(x, axis=-1), np.int32(x.size)),
           note="rows of 64 factors, and reduce_prod(tf.shape(x)) as models count elements"),
    Kernel("tf.argmin", "reduction", normal(ROWS, 1000, scale=1000.0), dtypes=(*FLOATS, "int32", "int64"),
           out_dtype="int64", call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.argmin(x, axis=1),
           note="rows of 1000; ties (half precision) to the lower index"),
    Kernel("tf.compat.v1.reduce_sum", "reduction", normal(ROWS, 1024), dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=1, keepdims=True), reference=lambda x: np.sum(x, axis=1, keepdims=True)),
    Kernel("tf.compat.v1.reduce_any", "reduction", _sparse_true, dtypes=("bool",), out_dtype="bool",
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.any(x, axis=1)),
    Kernel("tf.compiler.tf2xla.python.xla.variadic_reduce", "reduction", normal(ROWS, 1024, scale=10.0),
           dtypes=FLOATS, setup=_compensated_sum_setup, reference=lambda x: np.sum(x, axis=1),
           note="compensated row sums of 1024 as (sum, error) pairs, in a jit_compile tf.function"),
]
