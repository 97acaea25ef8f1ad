"""jax.numpy.fft: complex and real transforms, and jax.scipy.signal.stft."""

import numpy as np
import scipy.signal

from portability.catalog import FLOATS, Kernel, normal

#: JAX has no complex32: half-precision inputs transform in complex64, as they would be stored.
COMPLEX_OF = {"float32": "complex64", "float64": "complex128", "float16": "complex64", "bfloat16": "complex64",
              "complex64": "complex64", "complex128": "complex128"}
#: Only the batch grows with --size: the transform lengths (4096, 128x128) and their error stay.
ROWS = (16, 256)


KERNELS = [
    Kernel("jax.numpy.fft.fft", "fft", normal(ROWS, 4096), dtypes=(*FLOATS, "complex64", "complex128"),
           reference=np.fft.fft, out_dtype=COMPLEX_OF),
    Kernel("jax.numpy.fft.rfft", "fft", normal(ROWS, 4096), dtypes=FLOATS, reference=np.fft.rfft,
           out_dtype=COMPLEX_OF),
    Kernel("jax.numpy.fft.ifft", "fft", normal(ROWS, 4096), dtypes=("complex64", "complex128", "float32"),
           reference=np.fft.ifft, out_dtype=COMPLEX_OF),
    Kernel("jax.numpy.fft.fft2", "fft", normal((4, 64), 128, 128), dtypes=(*FLOATS, "complex64"),
           reference=np.fft.fft2, out_dtype=COMPLEX_OF),
    Kernel("jax.numpy.fft.fftn", "fft", normal((8, 64), (16, 128), (32, 128)),
           dtypes=(*FLOATS, "complex64", "complex128"), reference=np.fft.fftn, out_dtype=COMPLEX_OF),
    Kernel("jax.scipy.signal.stft", "fft", normal((4096, 1 << 20)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, nperseg=256)[2], reference=lambda x: scipy.signal.stft(x, nperseg=256)[2],
           out_dtype=COMPLEX_OF),
]
