"""Random sampling (tf.random, TF-NumPy random) and tf.compat.v1.distributions, checked by moments."""

import numpy as np
import scipy.stats

from portability.catalog import BIG_SIDE, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: 65536 samples at small, not fewer: _check_normal's fixed bounds (0.02 on the std, 0.01 on the
#: one-sigma fraction) are 7 and 5.5 standard errors there, but under 2 at 4096 samples.
SHAPE = ((256, 1024), (256, 1024))
#: Gamma draws per shape parameter, 20000 at small, not fewer: _check_gamma's 10% variance bound is
#: 5 standard errors there (alpha = 1), 2.5 at 5000.
GAMMA_N = (20000, 1 << 18)


def _shape(rng):
    return {"shape": rng.dims(*SHAPE)}


def _check_normal(out, *_):
    x = np.asarray(out, dtype=np.float64).ravel()
    assert np.all(np.isfinite(x)), "non-finite samples"
    n = x.size
    assert abs(x.mean()) < 6 / np.sqrt(n), f"mean {x.mean():.4g} is not 0"
    assert abs(x.std() - 1) < 0.02, f"std {x.std():.4g} is not 1"
    inside = np.mean(np.abs(x) < 1)
    assert abs(inside - 0.6827) < 0.01, f"{inside:.4f} of samples within 1 sigma, expected 0.6827"


def _check_uniform(out, *_):
    x = np.asarray(out)
    if x.dtype.kind in "iu":
        assert x.min() >= -3 and x.max() <= 4, f"integer samples outside [-3, 5): {x.min()}..{x.max()}"
        counts = np.bincount((x.ravel() + 3).astype(np.int64), minlength=8) / x.size
        assert np.all(np.abs(counts - 1 / 8) < 0.01), f"integer frequencies {np.round(counts, 4)} are not uniform"
        return
    x = x.astype(np.float64).ravel()
    assert x.min() >= -3 and x.max() < 5, f"samples outside [-3, 5): {x.min()}..{x.max()}"
    # Six standard errors of the sample mean and variance of U[-3, 5) (sd 8/sqrt(12)).
    n = x.size
    assert abs(x.mean() - 1) < 6 * 8 / np.sqrt(12 * n), f"mean {x.mean():.4g} is not 1"
    assert abs(x.var() - 64 / 12) < 6 * np.sqrt((8**4 / 80 - 8**4 / 144) / n), f"variance {x.var():.4g} is not 16/3"


def _gamma_inputs(rng):
    return {"alpha": rng.uniform(1.0, 5.0, 4), "n": rng.pick(*GAMMA_N)}


def _check_gamma(out, alpha, n):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == (n, 4), f"shape {x.shape}"
    assert np.all(np.isfinite(x)) and np.all(x >= 0), "samples negative or non-finite"
    mean, var = x.mean(axis=0), x.var(axis=0)
    assert np.all(np.abs(mean - alpha) < 6 * np.sqrt(alpha / n) + 0.01 * alpha), f"means {mean} for alpha {alpha}"
    assert np.all(np.abs(var - alpha) < 0.1 * alpha), f"variances {var} for alpha {alpha}"


def _normal_params(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"loc": rng.standard_normal(shape), "scale": rng.uniform(0.5, 2.0, shape),
            "x": rng.standard_normal(shape) * 2}


def _tnp_setup(c, shape):
    c.fw.experimental.numpy.random.seed(c.seed)
    return lambda: c.fn(size=shape)


KERNELS = [
    Kernel("tf.random.normal", "random", _shape, dtypes=FLOATS,
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), random=True, check=_check_normal),
    Kernel("tf.random.uniform", "random", _shape, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, shape: c.fn(shape, minval=-3, maxval=5, dtype=c.dtype), random=True,
           check=_check_uniform),
    Kernel("tf.random.gamma", "random", _gamma_inputs, dtypes=FLOATS,
           call=lambda c, alpha, n: c.fn([n], alpha, dtype=c.dtype), random=True, check=_check_gamma,
           tags=("paper",), decile=50, frequency=7),
    # No dtype argument: TF-NumPy samples in its default float type, float64.
    Kernel("tf.experimental.numpy.random.standard_normal", "random", _shape, dtypes=("float64",),
           setup=_tnp_setup, random=True, check=_check_normal, tags=("paper",), decile=30, frequency=4),
    Kernel("tf.compat.v1.distributions.Normal", "distribution", _normal_params, dtypes=FLOATS,
           call=lambda c, loc, scale, x: c.fn(loc=loc, scale=scale).log_prob(x),
           reference=lambda loc, scale, x: scipy.stats.norm.logpdf(x, loc, scale),
           tags=("paper",), decile=100, frequency=241, note="construct the distribution and evaluate log_prob"),
    Kernel("tf.compat.v1.distributions.Normal.survival_function", "distribution", _normal_params, dtypes=FLOATS,
           setup=lambda c, loc, scale, x: (lambda d: lambda: c.fn(d, x))(
               c.fw.compat.v1.distributions.Normal(loc=loc, scale=scale)),
           reference=lambda loc, scale, x: scipy.stats.norm.sf(x, loc, scale),
           tags=("paper",), decile=30, frequency=3),
    Kernel("tf.compat.v1.distributions.Laplace.log_survival_function", "distribution", _normal_params,
           dtypes=FLOATS,
           setup=lambda c, loc, scale, x: (lambda d: lambda: c.fn(d, x))(
               c.fw.compat.v1.distributions.Laplace(loc=loc, scale=scale)),
           reference=lambda loc, scale, x: scipy.stats.laplace.logsf(x, loc, scale),
           tags=("paper",), decile=30, frequency=3),
]
