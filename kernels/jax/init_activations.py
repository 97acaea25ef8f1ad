"""Initializers, activations and key cloning from the usage sample (jax.nn, jax.random)."""

import numpy as np
from scipy import special as sps

from portability.catalog import Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (64 * 1024, 1 << 20)
#: The standard deviation of a standard normal truncated to [-2, 2]: variance_scaling divides by it.
TRUNCATED_STD = 0.87962566103423978


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


def _shape(rng):
    return {"shape": rng.dims((256, 1024), (256, 1024))}


KERNELS = [
    Kernel("jax.nn.initializers.variance_scaling", "random",
           {"fan_in_truncated": _init_inputs("fan_in", "truncated_normal"),
            "fan_avg_uniform": _init_inputs("fan_avg", "uniform")},
           dtypes=FLOATS, setup=_variance_scaling_setup, random=True, check=_check_variance_scaling),
    Kernel("jax.nn.hard_sigmoid", "nn", normal(N, scale=4.0), dtypes=FLOATS,
           reference=lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0),
    Kernel("jax.nn.silu", "nn", normal(N, scale=4.0), dtypes=FLOATS, reference=lambda x: x * sps.expit(x)),
    Kernel("jax.random.clone", "random", _shape, dtypes=FLOATS, setup=_clone_setup, random=True, check=_check_clone),
]
