"""Reductions, scans and selections: tf.math.reduce_*, cumsum, argmax, top_k, TF-NumPy cumprod."""

import numpy as np
import scipy.special

from portability.catalog import Kernel, integers, normal, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
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


KERNELS = [
    Kernel("tf.math.reduce_mean", "reduction", integers(ROWS, 1024, low=-100, high=100),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=_mean_ref,
           tags=("paper",), decile=100, frequency=1295),
    Kernel("tf.math.reduce_sum", "reduction", normal(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.sum(x, axis=-1)),
    Kernel("tf.math.reduce_logsumexp", "reduction", normal(ROWS, 1024, scale=3.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: scipy.special.logsumexp(x, axis=-1),
           tags=("paper",), decile=60, frequency=12),
    Kernel("tf.math.cumsum", "reduction", normal(SCAN_ROWS, 256),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.cumsum(x, axis=-1)),
    Kernel("tf.experimental.numpy.cumprod", "reduction", uniform(SCAN_ROWS, 256, low=0.9, high=1.1),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"),
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.cumprod(x, axis=1),
           tags=("paper",), decile=20, frequency=2,
           note="int32 inputs are 0/1 here; TF-NumPy widens integer cumprod to int64 as NumPy does"),
    Kernel("tf.math.argmax", "reduction", normal(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"), out_dtype="int64",
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.argmax(x, axis=-1)),
    Kernel("tf.math.top_k", "reduction", normal(ROWS, 1024),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32"),
           call=lambda c, x: c.fn(x, k=8), reference=_top_k_ref,
           note="values keep the input dtype, indices are int32 (checked exactly, ties to the lower index)"),
]
