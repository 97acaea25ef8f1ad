"""torch.linalg and matrix products."""

import numpy as np

from portability.builders import matmul, spd, well_conditioned
from portability.catalog import Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")

KERNELS = [
    Kernel("torch.matmul", "linalg", matmul(256, 256, 256), dtypes=FLOATS, reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    Kernel("torch.linalg.inv", "linalg", well_conditioned(64), dtypes=FLOATS, reference=np.linalg.inv),
    Kernel("torch.linalg.cholesky", "linalg", spd(64), dtypes=FLOATS, reference=np.linalg.cholesky),
    Kernel("torch.linalg.svd", "linalg", well_conditioned(64), dtypes=FLOATS,
           call=lambda c, a: c.fn(a, full_matrices=False),
           reference=lambda a: np.linalg.svd(a, full_matrices=False),
           canonical=lambda out: out[1], tags=("paper",)),
]
