"""TensorFlow elementwise math, comparisons, casts and complex parts: tf.math.*, tf.cast, TF-NumPy clip and
rad2deg.

Functions that take complex numbers are swept over complex dtypes too: their builders draw a real and an
imaginary part, joined untimed in ``setup`` when the case is complex (``_complex_setup``).
"""

import numpy as np
import scipy.special

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, pair, paper, positive, same, uniform

N = (BIG_SIDE, BIG_SIDE)
COMPLEX_OF = {"float32": "complex64", "float64": "complex128"}
COMPLEX = ("complex64", "complex128")
REAL_OF = {"complex64": "float32", "complex128": "float64"}


def _truediv_inputs(rng):
    n = rng.dims(*N)
    return {"x": rng.uniform(0.0, 100.0, n), "y": rng.uniform(1.0, 9.0, n)}


def _add_inputs(rng):
    n = rng.dims(*N)
    return {"x": rng.uniform(0.0, 250.0, n), "y": rng.uniform(0.0, 250.0, n)}


def _complex(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape) + 1j * rng.standard_normal(shape)}


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


def _bools(rng):
    return {"x": rng.integers(0, 2, rng.dims(*N)).astype(np.float64)}


def _joined(c, x, y):
    """x, or x + iy for a complex case (both parts arrive as complex with zero imaginary parts)."""
    tf = c.fw
    if c.dtype.startswith("complex"):
        return tf.complex(tf.math.real(x), tf.math.real(y))
    return x


def _joined_ref(x, y):
    return x.real + 1j * y.real if x.dtype.kind == "c" else x


def _complex_setup(c, x, y):
    z = _joined(c, x, y)
    return lambda: c.fn(z)


def _unary(np_fn):
    return lambda x, y: np_fn(_joined_ref(x, y))


def _parts(scale=1.0, low=None, high=None):
    """A real part (normal, or uniform in [low, high)) and an imaginary part, both of BIG_SIDE^2."""

    def build(rng):
        shape = rng.dims(*N)
        x = rng.standard_normal(shape) * scale if low is None else rng.uniform(low, high, shape)
        return {"x": x, "y": rng.standard_normal(shape) * scale}

    return build


def _ties(rng):
    """Integer values in [-8, 8): equal elements are common, in every dtype."""
    shape = rng.dims(*N)
    return {"x": rng.integers(-8, 8, shape).astype(np.float64), "y": rng.integers(-8, 8, shape).astype(np.float64)}


def _bool_pair(rng):
    shape = rng.dims(*N)
    return {"x": rng.integers(0, 2, shape).astype(np.float64), "y": rng.integers(0, 2, shape).astype(np.float64)}


KERNELS = [
    # The case dtype is the source dtype; the target is float32, the commonest cast.
    Kernel("tf.cast", "elementwise", uniform(*N, low=0.0, high=250.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8", "bool"),
           out_dtype="float32", call=lambda c, x: c.fn(x, c.fw.float32),
           reference=lambda x: np.asarray(x).astype(np.float32),
           **paper(100, 1622)),
    # NumPy semantics: integer inputs with float bounds promote to float64 (as np.clip does).
    Kernel("tf.experimental.numpy.clip", "elementwise", normal(*N, scale=2.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
           call=lambda c, x: c.fn(x, -1.5, 1.5), reference=lambda x: np.clip(x, -1.5, 1.5),
           **paper(90, 79)),
    # int8/uint8/int16 divide in float32, int32/int64 in float64 (tf.math.truediv's documented rule).
    Kernel("tf.math.truediv", "elementwise", _truediv_inputs,
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8"),
           out_dtype={"float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "bfloat16",
                      "int32": "float64", "int64": "float64", "uint8": "float32"},
           reference=np.true_divide, **paper(20, 2),
           # Integer cases produce floats: judge them with the output's float tolerance.
           tol={"uint8": (1e-6, 0.0), "int32": (1e-12, 0.0), "int64": (1e-12, 0.0)}),
    # uint8 wraps around modulo 256, as NumPy's uint8 addition does.
    Kernel("tf.math.add", "elementwise", _add_inputs,
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8"), reference=np.add),
    Kernel("tf.math.exp", "elementwise", normal(*N, scale=2.0), dtypes=FLOATS, reference=np.exp),
    Kernel("tf.math.sigmoid", "elementwise", normal(*N, scale=4.0), dtypes=FLOATS, reference=scipy.special.expit),
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
    Kernel("tf.experimental.numpy.rad2deg", "elementwise", normal(BIG_SIDE, BIG_SIDE, scale=3.0), dtypes=FLOATS,
           reference=np.rad2deg, **paper(40, 6)),
    Kernel("tf.equal", "elementwise", _ties, dtypes=(*FLOATS, "int32", "int64", "bool"), out_dtype="bool",
           reference=np.equal),
    Kernel("tf.not_equal", "elementwise", _ties, dtypes=(*FLOATS, "int32", "int64", "bool"), out_dtype="bool",
           reference=np.not_equal),
    Kernel("tf.math.abs", "elementwise", _parts(scale=10.0), dtypes=(*FLOATS, "int32", "int64", *COMPLEX),
           out_dtype={**same(*FLOATS, "int32", "int64"), **REAL_OF}, setup=_complex_setup, reference=_unary(np.abs),
           note="complex cases: the modulus of x + iy"),
    Kernel("tf.exp", "elementwise", _parts(scale=2.0), dtypes=(*FLOATS, *COMPLEX), setup=_complex_setup,
           reference=_unary(np.exp)),
    Kernel("tf.math.rsqrt", "elementwise", _parts(low=1e-2, high=1e2), dtypes=(*FLOATS, *COMPLEX),
           setup=_complex_setup, reference=_unary(lambda z: 1 / np.sqrt(z))),
    Kernel("tf.math.tanh", "elementwise", _parts(scale=3.0), dtypes=(*FLOATS, *COMPLEX), setup=_complex_setup,
           reference=_unary(np.tanh)),
    Kernel("tf.math.real", "elementwise", _parts(scale=10.0), dtypes=(*FLOATS, *COMPLEX),
           out_dtype={**same(*FLOATS), **REAL_OF}, setup=_complex_setup, reference=_unary(np.real),
           note="a real input comes back unchanged"),
    Kernel("tf.math.negative", "elementwise", _parts(scale=10.0), dtypes=(*FLOATS, "int32", "int64", *COMPLEX),
           setup=_complex_setup, reference=_unary(np.negative)),
    Kernel("tf.math.logical_xor", "elementwise", _bool_pair, dtypes=("bool",), out_dtype="bool",
           reference=np.logical_xor),
]
