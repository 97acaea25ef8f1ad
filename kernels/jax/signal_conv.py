"""Signal processing, spectral, convolution-layer and linear-algebra helpers from the usage sample."""

import numpy as np
import scipy.signal

from portability.catalog import Keep, Kernel, normal, same, spd

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: JAX has no complex32: half-precision inputs transform in complex64, as they would be stored.
COMPLEX_OF = {"float32": "complex64", "float64": "complex128", "float16": "complex64", "bfloat16": "complex64",
              "complex64": "complex64", "complex128": "complex128"}
#: Sums of a few hundred products rounded in half precision (as for the catalog's matmul and convolve).
HALF_SUMS = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}


def _correlate_inputs(mode):
    def build(rng):
        return {"a": rng.standard_normal(rng.pick(4096, 1 << 20)), "v": rng.standard_normal(64), "mode": mode}

    return build


def _transpose_inputs(rng):
    n, hw, ch = rng.dims((2, 8), (16, 32), (8, 32))
    # NHWC images and an HWIO kernel scaled by 1/sqrt(fan-in): outputs of order one at every size.
    return {"x": rng.standard_normal((n, hw, hw, ch)), "w": rng.standard_normal((3, 3, ch, ch)) / np.sqrt(9 * ch)}


def _conv_transpose(c, x, w):
    # Flax's ConvTranspose: stride 2, SAME padding, NHWC / HWIO, kernel not flipped.
    return c.fn(x, w, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_transpose_ref(x, w):
    """The input dilated by the stride, padded as JAX pads a SAME transposed convolution
    (k + s - 2 in all, ceil of half before when s <= k - 1), then cross-correlated with w."""
    s, (kh, kw) = 2, w.shape[:2]
    n, h, wd, ch = x.shape
    dilated = np.zeros((n, (h - 1) * s + 1, (wd - 1) * s + 1, ch))
    dilated[:, ::s, ::s, :] = x
    pads = []
    for k in (kh, kw):
        total = k + s - 2
        before = k - 1 if s > k - 1 else int(np.ceil(total / 2))
        pads.append((before, total - before))
    xp = np.pad(dilated, ((0, 0), *pads, (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # N H W C kh kw
    return np.einsum("nhwcij,ijco->nhwo", win, w, optimize=True)


def _patches_ref(x):
    """3x3 VALID patches of NCHW images; features ordered channel first, then filter row, column."""
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # N C H W kh kw
    n, ch, h, w = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, ch * 9, h, w)


def _pivots(rng):
    """LAPACK-style row swaps: at step i, row i is swapped with a row p >= i."""
    batch, n = rng.dims((16, 2048), (64, 512))
    steps = np.arange(n)
    return {"pivots": Keep((steps + rng.integers(0, n - steps, (batch, n))).astype(np.int32))}


def _permutation_ref(pivots):
    batch, n = pivots.shape
    perm = np.tile(np.arange(n, dtype=np.int32), (batch, 1))
    rows = np.arange(batch)
    for i in range(n):
        p = pivots[:, i]
        perm[rows, i], perm[rows, p] = perm[rows, p], perm[rows, i].copy()
    return perm


KERNELS = [
    Kernel("jax.numpy.correlate", "linalg", {"valid": _correlate_inputs("valid"), "full": _correlate_inputs("full")},
           dtypes=(*FLOATS, "complex64"), reference=np.correlate, tol=HALF_SUMS),
    Kernel("jax.numpy.fft.fftn", "fft", normal((8, 64), (16, 128), (32, 128)),
           dtypes=(*FLOATS, "complex64", "complex128"), reference=np.fft.fftn, out_dtype=COMPLEX_OF),
    Kernel("jax.scipy.signal.stft", "fft", normal((4096, 1 << 20)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, nperseg=256)[2], reference=lambda x: scipy.signal.stft(x, nperseg=256)[2],
           out_dtype=COMPLEX_OF),
    Kernel("jax.numpy.linalg.eigvalsh", "linalg", spd((64, 512)), dtypes=FLOATS, reference=np.linalg.eigvalsh),
    Kernel("jax.lax.linalg.lu_pivots_to_permutation", "linalg", _pivots, dtypes=("int32",),
           call=lambda c, pivots: c.fn(pivots, pivots.shape[-1]), reference=_permutation_ref, out_dtype="int32"),
    Kernel("jax.lax.conv_transpose", "nn", _transpose_inputs, dtypes=FLOATS, call=_conv_transpose,
           reference=_conv_transpose_ref, tol=HALF_SUMS),
    # Patch extraction only copies values (JAX runs it as a convolution with a one-hot kernel).
    Kernel("jax.lax.conv_general_dilated_patches", "nn", normal((2, 8), (3, 8), (16, 64), (16, 64)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, (3, 3), (1, 1), "VALID"), reference=_patches_ref, out_dtype=same(*FLOATS)),
]
