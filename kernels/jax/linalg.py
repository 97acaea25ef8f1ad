"""jax.numpy.linalg and matrix products."""

import numpy as np

from portability.builders import matmul, well_conditioned
from portability.catalog import Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")

KERNELS = [
    Kernel("jax.numpy.matmul", "linalg", matmul(256, 256, 256), dtypes=FLOATS, reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("jax.numpy.linalg.inv", "linalg", well_conditioned(64), dtypes=FLOATS, reference=np.linalg.inv),
]
