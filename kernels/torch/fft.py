"""torch.fft: pocketfft on the CPU, which has no float16/bfloat16 path (cuFFT has float16)."""

import numpy as np

from portability.catalog import FLOATS, Kernel, normal

REAL = ("float32", "float64", "float16", "bfloat16")
#: Real input -> complex spectrum of the matching precision.
TO_COMPLEX = {"float32": "complex64", "float64": "complex128", "float16": "complex32",
              "complex64": "complex64", "complex128": "complex128"}
FFT_TOL = {"float32": (1e-4, 2e-5), "complex64": (1e-4, 2e-5)}
#: Transforms of length 1024 at every size (only the batch grows), so FFT_TOL keeps its meaning.
ROWS = (4, 1024)


def _spectrum(rng):
    shape = rng.dims(ROWS, 513)
    return {"x": rng.standard_normal(shape) + 1j * rng.standard_normal(shape)}


# -- fft.ifft2 -------------------------------------------------------------------------------------

#: The spectrum's precision, seen through view_as_real (complex64 -> float32 pairs): cuFFT turns
#: float16 into complex32, which has no NumPy dtype, so results are read as (real, imag) pairs.
PAIR_DTYPE = {"float32": "float32", "float64": "float64", "float16": "float16", "complex64": "float32",
              "complex128": "float64"}


def _spectra(rng):
    # Transforms of 64x64 at every size (only the batch grows), so FFT_TOL keeps its meaning.
    shape = rng.dims((2, 256), 64, 64)
    return {"re": rng.standard_normal(shape), "im": rng.standard_normal(shape)}


def _ifft2_setup(c, re, im):
    # A complex case gets a complex spectrum (re + i*im); a real case a real one (re).
    x = re + 1j * im if re.is_complex() else re
    return lambda: c.fw.view_as_real(c.fn(x))


def _ifft2_ref(re, im):
    out = np.fft.ifft2(re + 1j * im if np.iscomplexobj(re) else re)
    return np.stack([out.real, out.imag], axis=-1)


KERNELS = [
    Kernel("torch.fft.fft", "fft", normal(ROWS, 1024), dtypes=(*REAL, "complex64", "complex128"),
           reference=np.fft.fft, out_dtype=TO_COMPLEX, tol=FFT_TOL),
    Kernel("torch.fft.rfft", "fft", normal(ROWS, 1024), dtypes=REAL, reference=np.fft.rfft,
           out_dtype=TO_COMPLEX, tol=FFT_TOL),
    Kernel("torch.fft.irfft", "fft", _spectrum, dtypes=("complex64", "complex128"),
           reference=np.fft.irfft, out_dtype={"complex64": "float32", "complex128": "float64"}, tol=FFT_TOL),
    Kernel("torch.fft.fft2", "fft", normal((1, 64), (64, 128), (64, 128)), dtypes=(*REAL, "complex64"),
           reference=np.fft.fft2, out_dtype=TO_COMPLEX, tol=FFT_TOL),
    Kernel("torch.fft.ifft2", "fft", _spectra, dtypes=(*FLOATS, "complex64", "complex128"), setup=_ifft2_setup,
           reference=_ifft2_ref, out_dtype=PAIR_DTYPE, tol=FFT_TOL),
]
