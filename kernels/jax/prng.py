"""jax.random: keys and samplers. JAX has no global RNG state: keys come from ``ctx.seed``."""

import numpy as np

from portability.builders import nothing
from portability.catalog import Kernel, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
SHAPE = (256, 256)


def _sampler(**kwargs):
    """setup: build the key untimed, time the draw of SHAPE samples in the case dtype."""

    def setup(c):
        key = c.fw.random.key(c.seed)
        return lambda: c.fn(key, SHAPE, dtype=c.dtype, **kwargs)

    return setup


def _check_normal(out, *_):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == SHAPE, f"shape {x.shape}, expected {SHAPE}"
    assert np.all(np.isfinite(x)), "non-finite samples"
    assert abs(x.mean()) < 0.02, f"mean {x.mean():.4f} is not ~0"
    assert abs(x.std() - 1) < 0.02, f"std {x.std():.4f} is not ~1"
    # P(|x| > 3) = 0.0027: about 177 of 65536 samples (sd ~13) lie beyond three sigma.
    tail = np.mean(np.abs(x) > 3)
    assert 0.0018 < tail < 0.0036, (f"fraction beyond 3 sigma {tail:.5f}, expected 0.0027"
                                    f" (max |x| {np.abs(x).max():.2f}): the tails are cut")


def _check_uniform(out, *_):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == SHAPE, f"shape {x.shape}, expected {SHAPE}"
    assert x.min() >= 0.0 and x.max() < 1.0, f"samples outside [0, 1): [{x.min()}, {x.max()}]"
    assert abs(x.mean() - 0.5) < 0.01, f"mean {x.mean():.4f} is not ~0.5"
    assert abs(x.var() - 1 / 12) < 0.005, f"variance {x.var():.4f} is not ~1/12"


def _check_randint(out, *_):
    x = np.asarray(out)
    assert x.shape == SHAPE, f"shape {x.shape}, expected {SHAPE}"
    assert x.dtype.kind == "i", f"dtype {x.dtype} is not an integer"
    assert x.min() >= -5 and x.max() < 10, f"samples outside [-5, 10): [{x.min()}, {x.max()}]"
    counts = np.bincount(x.ravel() + 5, minlength=15)
    assert counts.min() > 0.9 * x.size / 15, f"value counts far from uniform: {counts.tolist()}"


def _check_permutation(out, *_):
    x = np.asarray(out)
    assert np.array_equal(np.sort(x), np.arange(10000)), "not a permutation of 0..9999"
    assert not np.array_equal(x, np.arange(10000)), "the identity permutation"


def _check_bernoulli(out, *_):
    x = np.asarray(out)
    assert x.dtype == np.bool_, f"dtype {x.dtype}, expected bool"
    assert x.shape == SHAPE, f"shape {x.shape}, expected {SHAPE}"
    assert abs(x.mean() - 0.3) < 0.01, f"frequency {x.mean():.4f} is not ~0.3"


def _check_categorical(out, logits):
    x = np.asarray(out)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert x.shape == (20000,), f"shape {x.shape}, expected (20000,)"
    assert x.min() >= 0 and x.max() < logits.size, "category out of range"
    freq = np.bincount(x, minlength=logits.size) / x.size
    worst = np.max(np.abs(freq - p))
    assert worst < 0.015, f"frequencies differ from softmax(logits) by {worst:.4f}"


def _check_split(out, *_):
    x = np.asarray(out)
    assert x.shape == (1000, 2) and x.dtype == np.uint32, f"got {x.dtype}{list(x.shape)}, expected uint32[1000, 2]"
    assert len({tuple(r) for r in x.tolist()}) == 1000, "split keys repeat"


def _check_key_data(out, *_):
    x = np.asarray(out)
    assert x.shape == (2,) and x.dtype == np.uint32, f"got {x.dtype}{list(x.shape)}, expected uint32[2]"


def _categorical_setup(c, logits):
    key = c.fw.random.key(c.seed)
    return lambda: c.fn(key, logits, shape=(20000,))


KERNELS = [
    # Legacy raw uint32 keys: the threefry key of seed s is [0, s] for 0 <= s < 2**32.
    Kernel("jax.random.PRNGKey", "random", nothing(), dtypes=("int32",), call=lambda c: c.fn(1234),
           reference=lambda: np.array([0, 1234], dtype=np.uint32), out_dtype="uint32", **paper(100, 747)),
    # Typed keys cannot be copied to NumPy: the kernel returns their raw data (jax.random.key_data).
    Kernel("jax.random.key", "random", nothing(), dtypes=("int32",),
           call=lambda c: c.fw.random.key_data(c.fn(c.seed % 2**31)), random=True, check=_check_key_data,
           out_dtype="uint32"),
    Kernel("jax.random.split", "random", nothing(), dtypes=("int32",),
           setup=lambda c: (lambda key: lambda: c.fn(key, 1000))(c.fw.random.PRNGKey(c.seed % 2**31)),
           random=True, check=_check_split, out_dtype="uint32"),
    Kernel("jax.random.normal", "random", nothing(), dtypes=FLOATS, setup=_sampler(), random=True,
           check=_check_normal),
    Kernel("jax.random.uniform", "random", nothing(), dtypes=FLOATS, setup=_sampler(),
           random=True, check=_check_uniform),
    Kernel("jax.random.randint", "random", nothing(), dtypes=("int32", "int64", "int8"),
           setup=lambda c: (lambda key: lambda: c.fn(key, SHAPE, -5, 10, dtype=c.dtype))(c.fw.random.key(c.seed)),
           random=True, check=_check_randint, out_dtype={"int32": "int32", "int64": "int64", "int8": "int8"}),
    Kernel("jax.random.permutation", "random", nothing(), dtypes=("int32",),
           setup=lambda c: (lambda key: lambda: c.fn(key, 10000))(c.fw.random.key(c.seed)),
           random=True, check=_check_permutation, out_dtype="int32"),
    Kernel("jax.random.bernoulli", "random", nothing(), dtypes=("float32",),
           setup=lambda c: (lambda key: lambda: c.fn(key, 0.3, SHAPE))(c.fw.random.key(c.seed)),
           random=True, check=_check_bernoulli, out_dtype="bool"),
    Kernel("jax.random.categorical", "random", lambda rng: {"logits": rng.standard_normal(20)},
           dtypes=("float32", "float16", "bfloat16"), setup=_categorical_setup, random=True,
           check=_check_categorical, out_dtype=None),
]
