"""jax.random: keys and samplers, and the initializers and PRNG configuration built on them. JAX has no global
RNG state: keys come from ``ctx.seed``.
"""

import numpy as np

from portability.catalog import FLOATS, Kernel, nothing, paper

#: The standard deviation of a standard normal truncated to [-2, 2]: variance_scaling divides by it.
TRUNCATED_STD = 0.87962566103423978
STDDEV = 0.02
SHAPE = (256, 256)


def _shape(rng):
    """The sample shape: 65536 draws at small, 1M at medium (the checks' bounds hold for both)."""
    return {"shape": rng.dims((256, 1024), (256, 1024))}


def _count(small, medium):
    return lambda rng: {"n": rng.pick(small, medium)}


def _sampler(**kwargs):
    """setup: build the key untimed, time the draw of samples of the given shape in the case dtype."""

    def setup(c, shape):
        key = c.fw.random.key(c.seed)
        return lambda: c.fn(key, shape, dtype=c.dtype, **kwargs)

    return setup


def _check_normal(out, shape):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == shape, f"shape {x.shape}, expected {shape}"
    assert np.all(np.isfinite(x)), "non-finite samples"
    assert abs(x.mean()) < 0.02, f"mean {x.mean():.4f} is not ~0"
    assert abs(x.std() - 1) < 0.02, f"std {x.std():.4f} is not ~1"
    # P(|x| > 3) = 0.0027: about 177 of 65536 samples (sd ~13) lie beyond three sigma; the
    # bounds only get safer with more samples.
    tail = np.mean(np.abs(x) > 3)
    assert 0.0018 < tail < 0.0036, (f"fraction beyond 3 sigma {tail:.5f}, expected 0.0027"
                                    f" (max |x| {np.abs(x).max():.2f}): the tails are cut")


def _check_uniform(out, shape):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == shape, f"shape {x.shape}, expected {shape}"
    assert x.min() >= 0.0 and x.max() < 1.0, f"samples outside [0, 1): [{x.min()}, {x.max()}]"
    assert abs(x.mean() - 0.5) < 0.01, f"mean {x.mean():.4f} is not ~0.5"
    assert abs(x.var() - 1 / 12) < 0.005, f"variance {x.var():.4f} is not ~1/12"


def _check_randint(out, shape):
    x = np.asarray(out)
    assert x.shape == shape, f"shape {x.shape}, expected {shape}"
    assert x.dtype.kind == "i", f"dtype {x.dtype} is not an integer"
    assert x.min() >= -5 and x.max() < 10, f"samples outside [-5, 10): [{x.min()}, {x.max()}]"
    counts = np.bincount(x.ravel() + 5, minlength=15)
    assert counts.min() > 0.9 * x.size / 15, f"value counts far from uniform: {counts.tolist()}"


def _check_permutation(out, n):
    x = np.asarray(out)
    assert np.array_equal(np.sort(x), np.arange(n)), f"not a permutation of 0..{n - 1}"
    assert not np.array_equal(x, np.arange(n)), "the identity permutation"


def _check_bernoulli(out, shape):
    x = np.asarray(out)
    assert x.dtype == np.bool_, f"dtype {x.dtype}, expected bool"
    assert x.shape == shape, f"shape {x.shape}, expected {shape}"
    assert abs(x.mean() - 0.3) < 0.01, f"frequency {x.mean():.4f} is not ~0.3"


def _check_categorical(out, logits, n):
    x = np.asarray(out)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert x.shape == (n,), f"shape {x.shape}, expected ({n},)"
    assert x.min() >= 0 and x.max() < logits.size, "category out of range"
    freq = np.bincount(x, minlength=logits.size) / x.size
    worst = np.max(np.abs(freq - p))
    assert worst < 0.015, f"frequencies differ from softmax(logits) by {worst:.4f}"


def _seed(rng):
    return {"seed": int(rng.integers(0, 2**31))}


def _seed_and_count(rng):
    return {**_seed(rng), "n": rng.pick(1000, 1 << 20)}


def _threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32 (20 rounds) on uint32 arrays, as jax._src.random.threefry2x32 lowers it."""
    rotl = lambda v, r: (v << np.uint32(r)) | (v >> np.uint32(32 - r))
    ks = [np.uint32(k1), np.uint32(k2), np.uint32(k1) ^ np.uint32(k2) ^ np.uint32(0x1BD11BDA)]
    x = [x1 + ks[0], x2 + ks[1]]
    for i in range(5):
        for r in ((13, 15, 26, 6), (17, 29, 16, 24))[i % 2]:
            x[0] = x[0] + x[1]
            x[1] = x[0] ^ rotl(x[1], r)
        x[0] = x[0] + ks[(i + 1) % 3]
        x[1] = x[1] + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x


def _split_ref(seed, n):
    """split(PRNGKey(seed), n)[i] = threefry(key=[0, seed], counter=(0, i)): JAX's default
    (jax_threefry_partitionable) split, which hashes the 64-bit index i as two uint32 words."""
    bits = _threefry2x32(0, seed, np.zeros(n, np.uint32), np.arange(n, dtype=np.uint32))
    return np.stack(bits, axis=1)


def _randint_setup(c, shape):
    key = c.fw.random.key(c.seed)
    return lambda: c.fn(key, shape, -5, 10, dtype=c.dtype)


def _categorical_inputs(rng):
    return {"logits": rng.standard_normal(20), "n": rng.pick(20000, 1 << 20)}


def _categorical_setup(c, logits, n):
    key = c.fw.random.key(c.seed)
    return lambda: c.fn(key, logits, shape=(n,))


def _init_inputs(mode, distribution):
    def build(rng):
        # fan_in != fan_out, so a wrong mode shows in the variance: 65536 draws at small, 1M at medium.
        return {"shape": rng.dims((128, 512), (512, 2048)), "mode": mode, "distribution": distribution}

    return build


def _variance_scaling_setup(c, shape, mode, distribution):
    init = c.fn(2.0, mode, distribution)  # He initialisation and its variants
    key = c.fw.random.key(c.seed)
    dtype = c.fw.numpy.dtype(c.dtype)
    return lambda: init(key, shape, dtype)


def _check_variance_scaling(out, shape, mode, distribution):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == tuple(shape), f"shape {x.shape}, expected {tuple(shape)}"
    assert np.all(np.isfinite(x)), "non-finite weights"
    fan_in, fan_out = shape
    fan = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2
    std = np.sqrt(2.0 / fan)
    bound = 2 * std / TRUNCATED_STD if distribution == "truncated_normal" else np.sqrt(3.0) * std
    # 1% margin: the bound itself rounds in half precision
    assert np.abs(x).max() <= bound * 1.01, f"max |w| {np.abs(x).max():.4g} beyond the support bound {bound:.4g}"
    assert abs(x.mean()) < 0.03 * std, f"mean {x.mean():.3g} is not ~0 (std {std:.3g})"
    assert abs(x.std() / std - 1) < 0.03, f"std {x.std():.4g}, expected {std:.4g} for {mode} (fan {fan:g})"


def _clone_setup(c, shape):
    normal_ = c.fw.random.normal

    def run():
        key = c.fw.random.key(c.seed)
        with c.fw.debug_key_reuse(True):  # the checker the corpus clones keys for
            twin = c.fn(key)
            a = normal_(key, shape, dtype=c.dtype)
            b = normal_(twin, shape, dtype=c.dtype)
            try:
                normal_(key, (1,))
                caught = False
            except c.fw.errors.KeyReuseError:
                caught = True
        return a, b, caught

    return run


def _check_clone(out, shape):
    a, b, caught = out
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert caught, "reusing the original key raised no KeyReuseError: the checker was not active"
    assert a.shape == b.shape == tuple(shape), f"shapes {a.shape}, {b.shape}, expected {tuple(shape)}"
    assert np.array_equal(a, b), "a clone of a key draws different samples than the key itself"
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02, f"mean {a.mean():.4f}, std {a.std():.4f}"


def _init_shape(rng):
    # 65536 samples at least: enough to see the tails of the distribution
    return {"shape": rng.dims((256, 1024), (256, 1024))}


def _init_setup(c, shape):
    # The corpus's use (transformers' Flax models): kernel_init=jax.nn.initializers.normal(std),
    # called by flax with a key, the parameter's shape and its dtype.
    init = c.fn(STDDEV)
    key = c.fw.random.key(c.seed)
    return lambda: init(key, shape, c.dtype)


def _check_init(out, shape):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == tuple(shape), f"shape {x.shape}, expected {tuple(shape)}"
    assert np.all(np.isfinite(x)), "non-finite samples"
    n = x.size
    # Five standard errors: the mean's is std/sqrt(n), the standard deviation's about std/sqrt(2n).
    assert abs(x.mean()) < 5 * STDDEV / np.sqrt(n), f"mean {x.mean():.3g} is not ~0"
    assert abs(x.std() / STDDEV - 1) < 5 / np.sqrt(2 * n), f"std {x.std():.4g} is not ~{STDDEV}"
    p = 0.0027  # P(|x| > 3 std) for a normal: the tails are not cut
    tail = np.mean(np.abs(x) > 3 * STDDEV)
    assert abs(tail - p) < 5 * np.sqrt(p / n), (f"fraction beyond 3 std {tail:.5f}, expected {p}"
                                               f" (max |x| {np.abs(x).max() / STDDEV:.2f} std)")


def _prng_impl_setup(c):
    def run():
        with c.fn("rbg"):  # as in haiku's tests: keys made inside use the RBG generator
            legacy = c.fw.random.PRNGKey(c.seed % 2**31)
            typed = c.fw.random.key(c.seed % 2**31)
            samples = c.fw.random.normal(typed, SHAPE, dtype=c.dtype)
        outside = c.fw.random.key(0)
        return (legacy, str(c.fw.random.key_impl(typed)), str(c.fw.random.key_impl(outside)), samples)

    return run


def _check_prng_impl(out):
    legacy, impl, outside, samples = out
    legacy = np.asarray(legacy)
    assert legacy.shape == (4,) and legacy.dtype == np.uint32, f"rbg key data is {legacy.dtype}{list(legacy.shape)}"
    assert "rbg" in impl, f"key made under default_prng_impl('rbg') has impl {impl}"
    assert "threefry" in outside, f"after the context the default impl is {outside}, not threefry"
    x = np.asarray(samples, dtype=np.float64)
    assert x.shape == SHAPE, f"shape {x.shape}, expected {SHAPE}"
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02, f"mean {x.mean():.4f}, std {x.std():.4f}"


KERNELS = [
    # Legacy raw uint32 keys: the threefry key of seed s is [0, s] for 0 <= s < 2**32.
    Kernel("jax.random.PRNGKey", "random", nothing(), dtypes=("int32",), call=lambda c: c.fn(1234),
           reference=lambda: np.array([0, 1234], dtype=np.uint32), out_dtype="uint32", **paper(100, 747)),
    # Typed keys cannot be copied to NumPy: the kernel returns their raw data (jax.random.key_data).
    Kernel("jax.random.key", "random", _seed, dtypes=("int32",), call=lambda c, seed: c.fw.random.key_data(c.fn(seed)),
           reference=lambda seed: np.array([0, seed], dtype=np.uint32), out_dtype="uint32"),
    # Key derivation is deterministic: the split keys are checked bit for bit against NumPy's Threefry.
    Kernel("jax.random.split", "random", _seed_and_count, dtypes=("int32",),
           setup=lambda c, seed, n: (lambda key: lambda: c.fn(key, n))(c.fw.random.PRNGKey(seed)),
           reference=_split_ref, out_dtype="uint32"),
    Kernel("jax.random.normal", "random", _shape, dtypes=FLOATS, setup=_sampler(), random=True,
           check=_check_normal),
    Kernel("jax.random.uniform", "random", _shape, dtypes=FLOATS, setup=_sampler(),
           random=True, check=_check_uniform),
    Kernel("jax.random.randint", "random", _shape, dtypes=("int32", "int64", "int8"), setup=_randint_setup,
           random=True, check=_check_randint, out_dtype={"int32": "int32", "int64": "int64", "int8": "int8"}),
    Kernel("jax.random.permutation", "random", _count(10000, 1 << 20), dtypes=("int32",),
           setup=lambda c, n: (lambda key: lambda: c.fn(key, n))(c.fw.random.key(c.seed)),
           # a permutation of range(n) for a Python int n: JAX's default integer type (int64 with x64 on)
           random=True, check=_check_permutation, out_dtype="int64"),
    Kernel("jax.random.bernoulli", "random", _shape, dtypes=("float32",),
           setup=lambda c, shape: (lambda key: lambda: c.fn(key, 0.3, shape))(c.fw.random.key(c.seed)),
           random=True, check=_check_bernoulli, out_dtype="bool"),
    Kernel("jax.random.categorical", "random", _categorical_inputs,
           dtypes=("float32", "float16", "bfloat16"), setup=_categorical_setup, random=True,
           check=_check_categorical),
    Kernel("jax.nn.initializers.variance_scaling", "random",
           {"fan_in_truncated": _init_inputs("fan_in", "truncated_normal"),
            "fan_avg_uniform": _init_inputs("fan_avg", "uniform")},
           dtypes=FLOATS, setup=_variance_scaling_setup, random=True, check=_check_variance_scaling),
    Kernel("jax.random.clone", "random", _shape, dtypes=FLOATS, setup=_clone_setup, random=True, check=_check_clone),
    Kernel("jax.nn.initializers.normal", "random", _init_shape, dtypes=FLOATS, setup=_init_setup, random=True,
           check=_check_init),
    Kernel("jax.default_prng_impl", "random", nothing(), dtypes=("float32",), setup=_prng_impl_setup,
           random=True, check=_check_prng_impl),
]
