"""jax.scipy.special and the special functions in jax.numpy and jax.lax."""

import numpy as np
from scipy import special as sps

from portability.catalog import FLOATS, Kernel, normal, paper, positive, uniform

N = (64 * 1024, 1 << 20)


def _gammainc_inputs(rng):
    # 256K at medium: the series runs until its slowest element converges, so a float64 call
    # grows faster than n (on this 2-core CPU with x64: 0.24 s at 256K, 1.9 s at 1M).
    n = rng.pick(16 * 1024, 1 << 18)
    return {"a": rng.uniform(0.5, 10.0, n), "x": rng.uniform(0.0, 15.0, n)}


KERNELS = [
    Kernel("jax.scipy.special.gammaln", "special", positive(N, low=0.1, high=50.0), dtypes=FLOATS,
           reference=sps.gammaln, **paper(70, 23)),
    Kernel("jax.scipy.special.ndtr", "special", normal(N, scale=3.0), dtypes=FLOATS, reference=sps.ndtr,
           **paper(10, 1)),
    Kernel("jax.scipy.special.erfinv", "special", uniform(N, low=-0.99, high=0.99), dtypes=FLOATS,
           reference=sps.erfinv),
    Kernel("jax.scipy.special.digamma", "special", positive(N, low=0.1, high=50.0), dtypes=FLOATS,
           reference=sps.digamma),
    # Rows of 256 at every size (only their number grows): the sum inside keeps its length.
    Kernel("jax.scipy.special.logsumexp", "special", normal((256, 4096), 256, scale=10.0), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: sps.logsumexp(x, axis=-1)),
    Kernel("jax.scipy.special.gammainc", "special", _gammainc_inputs, dtypes=FLOATS, reference=sps.gammainc),
    Kernel("jax.numpy.i0", "special", uniform(N, low=-5.0, high=5.0), dtypes=FLOATS, reference=np.i0,
           **paper(10, 1)),
    # lax: strict, no implicit promotion.
    Kernel("jax.lax.erf", "special", normal(N, scale=2.0), dtypes=FLOATS, reference=sps.erf, **paper(10, 1)),
]
