"""Elementwise math, comparisons, reductions and small linear algebra drawn in the usage sample:
tf.exp, tf.math.abs, tf.equal, tf.reduce_mean, tf.einsum, tf.math.log_softmax, tf.math.lbeta,
tf.compat.v1.reduce_sum, tf.linalg.normalize, LinearOperatorKronecker.to_dense, XLA's variadic
reduce and TF-NumPy's randint.

Functions that take complex numbers are swept over complex dtypes too: their builders draw a real
and an imaginary part, joined untimed in ``setup`` when the case is complex (``_complex_setup``).
"""

import numpy as np
import scipy.special

from portability.catalog import BIG_SIDE, Kernel, integers, normal, positive, same, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
COMPLEX = ("complex64", "complex128")
N = (BIG_SIDE, BIG_SIDE)
#: Rows of a fixed reduced length: --size sets the number of rows, so the tolerances keep their meaning.
ROWS = (4, 1024)
#: Sums of 64 products per output (einsum over the head dimension): half precision rounds each
#: partial sum, as linalg.py's matmul tolerances allow for.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
REAL_OF = {"complex64": "float32", "complex128": "float64"}


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


def _mean_ref(x):
    if x.dtype.kind in "iu":
        # TensorFlow's integer mean divides the integer sum by the count, truncating toward zero.
        return np.fix(np.sum(x.astype(np.int64), axis=-1) / x.shape[-1]).astype(x.dtype)
    return np.mean(x, axis=-1)


def _attention(rng):
    """Scores of attention heads, q @ k^T over a head dimension of 64: 64K or 1M outputs."""
    b, h, t = rng.dims((2, 8), (4, 8), (32, 128))
    return {"q": rng.standard_normal((b, h, t, 64)), "k": rng.standard_normal((b, h, t, 64))}


def _prod_call(c, x):
    """Products of rows of 64 factors near 1, and the element count of x as reduce_prod(tf.shape(x))."""
    return c.fn(x, axis=-1), c.fn(c.fw.shape(x))


def _sparse_true(rng):
    """Rows of 1024 booleans with about one true element per row: some rows hold none."""
    return {"x": (rng.uniform(size=rng.dims(ROWS, 1024)) < 1 / 1024).astype(np.float64)}


def _bools(rng):
    shape = rng.dims(*N)
    return {"x": rng.integers(0, 2, shape).astype(np.float64), "y": rng.integers(0, 2, shape).astype(np.float64)}


def _normalize_ref(x):
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / norm, norm


def _kron_inputs(rng):
    """Two square factors whose Kronecker product is 64x64 or 1024x1024."""
    a, b = rng.dims((8, 32), (8, 32))
    return {"a": rng.standard_normal((a, a)), "b": rng.standard_normal((b, b))}


def _kron_setup(c, a, b):
    linalg = c.fw.linalg
    op = linalg.LinearOperatorKronecker([linalg.LinearOperatorFullMatrix(a), linalg.LinearOperatorFullMatrix(b)])
    return lambda: c.fn(op)


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


def _randint_setup(c, rows):
    dtype = c.fw.as_dtype(c.dtype).as_numpy_dtype
    return lambda: c.fn(-7, 25, size=(rows, 1024), dtype=dtype)


def _check_randint(out, rows):
    """Integers in [-7, 25): all 32 values about equally frequent, mean 8.5, variance (32^2 - 1) / 12,
    and neighbours equal about once in 32 (no repeated or correlated draws). Bounds at 5 sigma."""
    x = np.asarray(out)
    assert x.shape == (rows, 1024), f"shape {x.shape}, asked for ({rows}, 1024)"
    assert x.dtype.kind == "i", f"dtype {x.dtype}"
    assert x.min() >= -7 and x.max() < 25, f"values in [{x.min()}, {x.max()}], asked for [-7, 25)"
    n, var = x.size, (32**2 - 1) / 12
    counts = np.bincount((x + 7).ravel(), minlength=32)
    chi2 = float(np.sum((counts - n / 32) ** 2 / (n / 32)))
    assert chi2 < 80, f"value counts far from uniform: chi2 = {chi2:.1f} on 31 degrees of freedom"
    assert abs(x.mean() - 8.5) < 5 * np.sqrt(var / n), f"mean {x.mean():.3f}, expected 8.5"
    assert abs(x.var() - var) < 5 * var * np.sqrt(0.8 / n), f"variance {x.var():.2f}, expected {var:.2f}"
    same_next = float(np.mean(x.ravel()[1:] == x.ravel()[:-1]))
    assert abs(same_next - 1 / 32) < 5 * np.sqrt(1 / 32 / n), f"neighbours equal {same_next:.4f} of the time"


KERNELS = [
    Kernel("tf.equal", "elementwise", _ties, dtypes=(*FLOATS, "int32", "int64", "bool"), out_dtype="bool",
           reference=np.equal),
    Kernel("tf.not_equal", "elementwise", _ties, dtypes=(*FLOATS, "int32", "int64", "bool"), out_dtype="bool",
           reference=np.not_equal),
    Kernel("tf.reduce_mean", "reduction", integers(ROWS, 1024, low=-100, high=100),
           dtypes=(*FLOATS, "int32", "int64"), call=lambda c, x: c.fn(x, axis=-1), reference=_mean_ref),
    Kernel("tf.einsum", "linalg", _attention, dtypes=(*FLOATS, "complex64"),
           call=lambda c, q, k: c.fn("bhqd,bhkd->bhqk", q, k),
           reference=lambda q, k: np.einsum("bhqd,bhkd->bhqk", q, k), tol=MATMUL_TOL,
           note="attention scores: batch x heads x queries x keys over a head dimension of 64"),
    Kernel("tf.math.abs", "elementwise", _parts(scale=10.0), dtypes=(*FLOATS, "int32", "int64", *COMPLEX),
           out_dtype={**same(*FLOATS, "int32", "int64"), **REAL_OF}, setup=_complex_setup, reference=_unary(np.abs),
           note="complex cases: the modulus of x + iy"),
    Kernel("tf.exp", "elementwise", _parts(scale=2.0), dtypes=(*FLOATS, *COMPLEX), setup=_complex_setup,
           reference=_unary(np.exp)),
    Kernel("tf.reduce_prod", "reduction", uniform((64, 16384), 64, low=0.9, high=1.1), dtypes=FLOATS, call=_prod_call,
           reference=lambda x: (np.prod(x, axis=-1), np.int32(x.size)),
           note="rows of 64 factors, and reduce_prod(tf.shape(x)) as models count elements"),
    Kernel("tf.math.rsqrt", "elementwise", _parts(low=1e-2, high=1e2), dtypes=(*FLOATS, *COMPLEX),
           setup=_complex_setup, reference=_unary(lambda z: 1 / np.sqrt(z))),
    Kernel("tf.math.log_softmax", "nn", normal(ROWS, 1000, scale=10.0), dtypes=FLOATS,
           reference=lambda x: scipy.special.log_softmax(x, axis=-1), note="rows of 1000 logits"),
    Kernel("tf.math.tanh", "elementwise", _parts(scale=3.0), dtypes=(*FLOATS, *COMPLEX), setup=_complex_setup,
           reference=_unary(np.tanh)),
    Kernel("tf.math.real", "elementwise", _parts(scale=10.0), dtypes=(*FLOATS, *COMPLEX),
           out_dtype={**same(*FLOATS), **REAL_OF}, setup=_complex_setup, reference=_unary(np.real),
           note="a real input comes back unchanged"),
    Kernel("tf.math.lbeta", "special", positive((4, 1 << 16), 16, low=0.5, high=5.0), dtypes=FLOATS,
           reference=lambda x: np.sum(scipy.special.gammaln(x), axis=-1) - scipy.special.gammaln(np.sum(x, axis=-1)),
           note="log of the multivariate beta function over rows of 16"),
    Kernel("tf.argmin", "reduction", normal(ROWS, 1000, scale=1000.0), dtypes=(*FLOATS, "int32", "int64"),
           out_dtype="int64", call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.argmin(x, axis=1),
           note="rows of 1000; ties (half precision) to the lower index"),
    Kernel("tf.compat.v1.reduce_sum", "reduction", normal(ROWS, 1024), dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=1, keepdims=True), reference=lambda x: np.sum(x, axis=1, keepdims=True)),
    Kernel("tf.compat.v1.reduce_any", "reduction", _sparse_true, dtypes=("bool",), out_dtype="bool",
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.any(x, axis=1)),
    Kernel("tf.linalg.normalize", "linalg", normal(ROWS, 1024), dtypes=FLOATS, call=lambda c, x: c.fn(x, axis=-1),
           reference=_normalize_ref, note="rows of 1024 to unit Euclidean norm; returns the norms too"),
    Kernel("tf.math.negative", "elementwise", _parts(scale=10.0), dtypes=(*FLOATS, "int32", "int64", *COMPLEX),
           setup=_complex_setup, reference=_unary(np.negative)),
    Kernel("tf.math.logical_xor", "elementwise", _bools, dtypes=("bool",), out_dtype="bool",
           reference=np.logical_xor),
    Kernel("tf.linalg.LinearOperatorKronecker.to_dense", "linalg", _kron_inputs, dtypes=(*FLOATS, *COMPLEX),
           setup=_kron_setup, reference=np.kron, note="operator of two full matrices built untimed; to_dense timed"),
    Kernel("tf.compiler.tf2xla.python.xla.variadic_reduce", "reduction", normal(ROWS, 1024, scale=10.0),
           dtypes=FLOATS, setup=_compensated_sum_setup, reference=lambda x: np.sum(x, axis=1),
           note="compensated row sums of 1024 as (sum, error) pairs, in a jit_compile tf.function"),
    Kernel("tf.experimental.numpy.random.randint", "random", lambda rng: {"rows": rng.pick(*ROWS)},
           dtypes=("int32", "int64"), out_dtype=same("int32", "int64"), setup=_randint_setup, check=_check_randint,
           random=True, note="rows of 1024 draws from [-7, 25)"),
]
