"""jax.scipy.stats distribution functions."""

from scipy import stats

from portability.catalog import FLOATS, Kernel, normal, paper

N = (64 * 1024, 1 << 20)


KERNELS = [
    Kernel("jax.scipy.stats.norm.cdf", "distribution", normal(N, scale=3.0), dtypes=FLOATS,
           reference=stats.norm.cdf, **paper(30, 2)),
]
