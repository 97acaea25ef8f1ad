"""tf.math special functions (gamma family, error functions, Bessel functions, lbeta)."""

import numpy as np
import scipy.special

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, paper, positive, uniform

N = (BIG_SIDE, BIG_SIDE)


def _two_positive(lo_a, hi_a, lo_x, hi_x, names=("a", "x")):
    def build(rng):
        n = rng.dims(*N)
        return {names[0]: rng.uniform(lo_a, hi_a, n), names[1]: rng.uniform(lo_x, hi_x, n)}

    return build


def _betainc_inputs(rng):
    n = rng.dims(*N)
    return {"a": rng.uniform(0.5, 5.0, n), "b": rng.uniform(0.5, 5.0, n), "x": rng.uniform(0.0, 1.0, n)}


KERNELS = [
    Kernel("tf.math.igammac", "special", _two_positive(0.5, 5.0, 0.1, 6.0), dtypes=FLOATS,
           reference=scipy.special.gammaincc, **paper(10, 1)),
    Kernel("tf.math.lgamma", "special", positive(*N, low=0.1, high=10.0), dtypes=FLOATS,
           reference=scipy.special.gammaln),
    Kernel("tf.math.digamma", "special", positive(*N, low=0.1, high=10.0), dtypes=FLOATS,
           reference=scipy.special.digamma),
    Kernel("tf.math.erf", "special", normal(*N, scale=1.5), dtypes=FLOATS, reference=scipy.special.erf),
    Kernel("tf.math.erfinv", "special", uniform(*N, low=-0.99, high=0.99), dtypes=FLOATS,
           reference=scipy.special.erfinv),
    Kernel("tf.math.betainc", "special", _betainc_inputs, dtypes=FLOATS, reference=scipy.special.betainc),
    Kernel("tf.math.special.bessel_j0", "special", uniform(*N, low=0.0, high=20.0), dtypes=FLOATS,
           reference=scipy.special.j0),
    Kernel("tf.math.bessel_i0e", "special", normal(*N, scale=3.0), dtypes=FLOATS, reference=scipy.special.i0e),
    Kernel("tf.math.lbeta", "special", positive((4, 1 << 16), 16, low=0.5, high=5.0), dtypes=FLOATS,
           reference=lambda x: np.sum(scipy.special.gammaln(x), axis=-1) - scipy.special.gammaln(np.sum(x, axis=-1)),
           note="log of the multivariate beta function over rows of 16"),
]
