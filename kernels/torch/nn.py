"""torch.nn modules and functional ops, exercised as users call them."""

import numpy as np

from portability.builders import images, nothing
from portability.catalog import Kernel


def _conv2d_setup(c, x):
    m = c.fn(3, 8, kernel_size=3, padding=1).to(device=c.device, dtype=x.dtype)
    return lambda: m(x)


def _is_permutation(out, *_):
    assert np.array_equal(np.sort(out), np.arange(out.size)), "not a permutation of 0..n-1"


KERNELS = [
    Kernel("torch.nn.Conv2d", "module", images(4, 3, 32, 32), dtypes=("float32", "float64", "bfloat16"),
           setup=_conv2d_setup, tags=("paper",)),
    Kernel("torch.randperm", "random", nothing(), dtypes=("int64",), out_dtype="int64",
           call=lambda c: c.fn(10000, device=c.device), random=True, check=_is_permutation, tags=("paper",)),
]
