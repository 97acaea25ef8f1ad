"""jax.scipy.special and jax.scipy.stats: special functions and distribution functions."""

from scipy import special as sps
from scipy import stats

from portability.builders import normal, positive, uniform
from portability.catalog import Kernel, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = 64 * 1024


KERNELS = [
    Kernel("jax.scipy.special.gammaln", "special", positive(N, low=0.1, high=50.0), dtypes=FLOATS,
           reference=sps.gammaln, **paper(70, 23)),
    Kernel("jax.scipy.special.ndtr", "special", normal(N, scale=3.0), dtypes=FLOATS, reference=sps.ndtr,
           **paper(10, 1)),
    Kernel("jax.scipy.stats.norm.cdf", "distribution", normal(N, scale=3.0), dtypes=FLOATS,
           reference=stats.norm.cdf, **paper(30, 2)),
    Kernel("jax.scipy.special.erfinv", "special", uniform(N, low=-0.99, high=0.99), dtypes=FLOATS,
           reference=sps.erfinv),
    Kernel("jax.scipy.special.digamma", "special", positive(N, low=0.1, high=50.0), dtypes=FLOATS,
           reference=sps.digamma),
    Kernel("jax.scipy.special.logsumexp", "special", normal(256, 256, scale=10.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: sps.logsumexp(x, axis=-1)),
    Kernel("jax.scipy.special.gammainc", "special",
           lambda rng: {"a": rng.uniform(0.5, 10.0, N // 4), "x": rng.uniform(0.0, 15.0, N // 4)},
           dtypes=FLOATS, reference=sps.gammainc),
]
