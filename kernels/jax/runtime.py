"""Backend, default-device and PRNG-implementation configuration from the usage sample.

The harness already runs every call under ``jax.default_device(<the case's device>)``, so these
kernels check what the API itself decides, against what JAX reports elsewhere.
"""

import numpy as np

from portability.catalog import Kernel, nothing

PLATFORMS = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "rocm": "gpu", "tpu": "tpu"}


def _platform(array):
    (device,) = array.devices()
    return PLATFORMS.get(device.platform, device.platform)


def _default_backend(c):
    # The corpus's use: pick tolerances or code paths by the platform JAX runs on by default.
    first = c.fw.devices()[0]
    return c.fn(), PLATFORMS.get(first.platform, first.platform), c.backend


def _check_default_backend(out):
    default, first_device, case = out
    assert default in ("cpu", "gpu", "tpu"), f"default_backend() is {default!r}"
    assert default == first_device, f"default_backend() is {default!r}, jax.devices()[0] is a {first_device}"
    # JAX prefers an accelerator: a case on one means it is the default backend
    assert case == "cpu" or default == case, f"default_backend() is {default!r} on a machine with a {case}"


def _default_device_setup(c):
    jnp = c.fw.numpy
    cpu = c.fw.devices("cpu")[0]
    target = c.fw.devices(c.backend)[0]

    def run():
        with c.fn(cpu):  # the corpus's use: initialise on the host first
            host = jnp.arange(8.0)
        with c.fn(target):
            placed = jnp.arange(4096.0) * 0.5
        return _platform(host), _platform(placed), c.backend, placed

    return run


def _check_default_device(out):
    host, placed, case, values = out
    assert host == "cpu", f"an array made under default_device(cpu) is on {host}"
    assert placed == case, f"an array made under default_device({case}) is on {placed}"
    assert np.array_equal(np.asarray(values), np.arange(4096.0) * 0.5), "arange(4096) * 0.5 has wrong values"


SHAPE = (256, 256)


def _prng_impl_setup(c):
    def run():
        with c.fn("rbg"):  # as in haiku's tests: keys made inside use the RBG generator
            legacy = c.fw.random.PRNGKey(c.seed % 2**31)
            typed = c.fw.random.key(c.seed % 2**31)
            samples = c.fw.random.normal(typed, SHAPE)
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
    Kernel("jax.default_backend", "utility", nothing(), dtypes=("float32",), call=_default_backend,
           check=_check_default_backend, out_dtype=None),
    Kernel("jax.default_device", "utility", nothing(), dtypes=("float32",), setup=_default_device_setup,
           check=_check_default_device),
    Kernel("jax.default_prng_impl", "random", nothing(), dtypes=("float32",), setup=_prng_impl_setup,
           random=True, check=_check_prng_impl, out_dtype=None),
]
