"""tf.signal: FFTs and cosine transforms.

TensorFlow's FFT ops take complex64/complex128 (rfft: float32/float64) only; float16 and bfloat16 inputs are
refused in Python before any kernel runs.
"""

import numpy as np
import scipy.fft

from portability.catalog import FLOATS, Kernel, normal, paper

COMPLEX_OF = {"float32": "complex64", "float64": "complex128", "float16": "complex64", "bfloat16": "complex64"}
#: Batches of length-512 transforms: the transform length (and so its rounding error) is the same at
#: both sizes; --size sets the number of rows (4096 or 1M elements).
ROWS = (8, 2048)


def _complex_signal(rng):
    shape = rng.dims(ROWS, 512)
    return {"x": rng.standard_normal(shape) + 1j * rng.standard_normal(shape)}


KERNELS = [
    Kernel("tf.signal.fft", "fft", _complex_signal, dtypes=("complex64", "complex128"),
           reference=lambda x: np.fft.fft(x, axis=-1)),
    Kernel("tf.signal.rfft", "fft", normal(ROWS, 512), dtypes=FLOATS, out_dtype=COMPLEX_OF,
           reference=lambda x: np.fft.rfft(x, axis=-1)),
    Kernel("tf.signal.irfft", "fft", lambda rng: {"x": np.fft.rfft(rng.standard_normal(rng.dims(ROWS, 512)), axis=-1)},
           dtypes=("complex64", "complex128"), out_dtype={"complex64": "float32", "complex128": "float64"},
           reference=lambda x: np.fft.irfft(x, n=512, axis=-1)),
    # idct(type=2, norm=None) is TF's unnormalised DCT-III, as scipy.fft.dct(type=3).
    Kernel("tf.signal.idct", "fft", normal(ROWS, 512), dtypes=FLOATS,
           reference=lambda x: scipy.fft.dct(x, type=3, axis=-1), **paper(20, 2)),
]
