"""torch.special and the special functions in the torch namespace, against SciPy.

On the CPU torch has float16/bfloat16 kernels for the common ones (lgamma, digamma, erfinv, i0e) and none for
others (ndtri, bessel_j0, zeta, erfcx): the same function family splits into two support levels.
"""

import numpy as np
import scipy.special as sp

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, uniform

N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
#: Series/recurrence evaluations in float32 are good to a few ulps, not to one.
F32 = {"float32": (2e-4, 2e-5)}


def _two_positive(low_x, high_x, low_q, high_q):
    def build(rng):
        shape = rng.dims(*N)
        return {"x": rng.uniform(low_x, high_x, shape), "q": rng.uniform(low_q, high_q, shape)}

    return build


# -- erfinv ----------------------------------------------------------------------------------------

def _erfinv_inputs(rng):
    x = rng.uniform(-0.99, 0.99, rng.dims(*N))
    x.reshape(-1)[:4] = [-1.0, 1.0, 1.5, 0.0]  # -inf, inf, NaN (outside the domain), 0
    return {"x": x}


def _erfinv_ref(x):
    with np.errstate(invalid="ignore"):
        return sp.erfinv(x)


KERNELS = [
    Kernel("torch.lgamma", "special", uniform(*N, low=0.05, high=20.0), dtypes=FLOATS, reference=sp.gammaln,
           tol=F32),
    Kernel("torch.digamma", "special", uniform(*N, low=0.05, high=20.0), dtypes=FLOATS, reference=sp.digamma,
           tol=F32),
    Kernel("torch.special.erfinv", "special", uniform(*N, low=-0.99, high=0.99), dtypes=FLOATS,
           reference=sp.erfinv, tol=F32),
    Kernel("torch.special.i0e", "special", normal(*N, scale=5.0), dtypes=FLOATS, reference=sp.i0e, tol=F32),
    Kernel("torch.special.ndtri", "special", uniform(*N, low=0.001, high=0.999), dtypes=FLOATS,
           reference=sp.ndtri, tol=F32),
    Kernel("torch.special.erfcx", "special", uniform(*N, low=-3.0, high=30.0), dtypes=FLOATS,
           reference=sp.erfcx, tol=F32),
    # float64 is off by up to 4e-7 (absolute) for 5 <= x < 8 (checked against mpmath): a real
    # accuracy defect of torch's j0 in double precision, not a tolerance artefact.
    Kernel("torch.special.bessel_j0", "special", uniform(*N, low=0.0, high=30.0), dtypes=FLOATS,
           reference=sp.j0, tol=F32),
    Kernel("torch.special.zeta", "special", _two_positive(1.5, 6.0, 0.5, 4.0), dtypes=FLOATS,
           reference=sp.zeta, tol=F32),
    Kernel("torch.erfinv", "special", _erfinv_inputs, dtypes=FLOATS, reference=_erfinv_ref, tol=F32,
           note="includes -1, 1 (infinities) and 1.5 (NaN)"),
]
