"""Elementwise math and casts: tf.cast, tf.math.*, TF-NumPy clip."""

import numpy as np
import scipy.special

from portability.catalog import BIG_SIDE, Kernel, normal, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)


def _truediv_inputs(rng):
    n = rng.dims(*N)
    return {"x": rng.uniform(0.0, 100.0, n), "y": rng.uniform(1.0, 9.0, n)}


def _add_inputs(rng):
    n = rng.dims(*N)
    return {"x": rng.uniform(0.0, 250.0, n), "y": rng.uniform(0.0, 250.0, n)}


KERNELS = [
    # The case dtype is the source dtype; the target is float32, the commonest cast.
    Kernel("tf.cast", "elementwise", uniform(*N, low=0.0, high=250.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8", "bool"),
           out_dtype="float32", call=lambda c, x: c.fn(x, c.fw.float32),
           reference=lambda x: np.asarray(x).astype(np.float32),
           tags=("paper",), decile=100, frequency=1622),
    # NumPy semantics: integer inputs with float bounds promote to float64 (as np.clip does).
    Kernel("tf.experimental.numpy.clip", "elementwise", normal(*N, scale=2.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, -1.5, 1.5), reference=lambda x: np.clip(x, -1.5, 1.5),
           tags=("paper",), decile=90, frequency=79),
    # int8/uint8/int16 divide in float32, int32/int64 in float64 (tf.math.truediv's documented rule).
    Kernel("tf.math.truediv", "elementwise", _truediv_inputs,
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8"),
           out_dtype={"float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "bfloat16",
                      "int32": "float64", "int64": "float64", "uint8": "float32"},
           reference=np.true_divide, tags=("paper",), decile=20, frequency=2,
           # Integer cases produce floats: judge them with the output's float tolerance.
           tol={"uint8": (1e-6, 0.0), "int32": (1e-12, 0.0), "int64": (1e-12, 0.0)}),
    # uint8 wraps around modulo 256, as NumPy's uint8 addition does.
    Kernel("tf.math.add", "elementwise", _add_inputs,
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8"), reference=np.add),
    Kernel("tf.math.exp", "elementwise", normal(*N, scale=2.0), dtypes=FLOATS, reference=np.exp),
    Kernel("tf.math.sigmoid", "elementwise", normal(*N, scale=4.0), dtypes=FLOATS, reference=scipy.special.expit),
]
