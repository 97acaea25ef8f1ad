"""torch functions from the usage sample: math, stacking, reductions, complex numbers, the NumPy
bridge, an inverse FFT and least squares, over the dtypes users feed them."""

import ml_dtypes
import numpy as np

from portability.catalog import BIG_SIDE, Kernel, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "complex64", "int64", "bool")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
#: Sums of ~500 terms accumulate in a wider type on the CPU; the bounds allow for the order.
SUM_TOL = {"float32": (1e-4, 1e-5), "float16": (1e-2, 4e-3), "bfloat16": (4e-2, 1.5e-2)}
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium


def _same(dtypes):
    return {d: d for d in dtypes}


def _grid(*shape, names=("x",)):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {n: np.round(rng.standard_normal(rng.dims(*shape)) * 4) for n in names}


# -- log: positive values, zeros (-inf) and negatives (NaN) ----------------------------------------

def _log_inputs(rng):
    x = rng.uniform(1e-3, 100.0, rng.dims(*N))
    flat = x.reshape(-1)
    flat[::101] = 0.0
    flat[1::101] *= -1
    return {"x": x}


def _log_ref(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


# -- max / argmax over rows of distinct values -----------------------------------------------------

def _distinct_rows(with_y=False):
    """Rows that are permutations of -128..127 (exact in every dtype, so no ties), plus one -200
    and one 200 at random places: the whole tensor has a unique minimum and maximum."""

    def build(rng):
        rows = rng.pick(16, 4096)
        x = np.stack([rng.permutation(256) - 128.0 for _ in range(rows)])
        flat = x.reshape(-1)
        lo, hi = rng.choice(flat.size, 2, replace=False)
        flat[lo], flat[hi] = -200.0, 200.0
        out = {"x": x}
        if with_y:
            out["y"] = np.round(rng.standard_normal(x.shape) * 64)
        return out

    return build


def _max_call(c, x, y):
    values, indices = c.fn(x, dim=1)
    return c.fn(x), values, indices, c.fn(x, y)


def _max_ref(x, y):
    return x.max(), x.max(axis=1), x.argmax(axis=1), np.maximum(x, y)


# -- stacking --------------------------------------------------------------------------------------

def _hstack_inputs(rng):
    rows, n1, n2 = rng.dims((64, 512), (32, 1024), (16, 512))

    def grid(*shape):
        return np.round(rng.standard_normal(shape) * 4)

    return {"a": grid(rows * n1), "b": grid(rows * n2), "m1": grid(rows, n1), "m2": grid(rows, n2)}


# -- diagonal --------------------------------------------------------------------------------------

def _diagonal_call(c, x):
    main = c.fn(x, dim1=-2, dim2=-1)
    upper = c.fn(x, 1, -2, -1)
    return main, upper.contiguous(), main.data_ptr() == x.data_ptr()


def _diagonal_ref(x):
    return np.diagonal(x, 0, -2, -1), np.diagonal(x, 1, -2, -1), True


# -- cosine_similarity -----------------------------------------------------------------------------

def _cosine_inputs(rng):
    x1 = rng.standard_normal(rng.dims((64, 4096), 256))
    x1[3] = 0.0  # a zero vector: eps keeps the result finite (0)
    return {"x1": x1, "x2": rng.standard_normal(x1.shape) + 0.5 * x1}


def _cosine_ref(x1, x2):
    dot = np.sum(x1 * x2, axis=1)
    return dot / np.maximum(np.linalg.norm(x1, axis=1) * np.linalg.norm(x2, axis=1), 1e-8)


# -- bmm -------------------------------------------------------------------------------------------

def _bmm_inputs(rng):
    b, n, k, m = rng.dims((4, 16), (32, 256), (32, 256), (32, 256))
    return {"a": rng.standard_normal((b, n, k)), "b": rng.standard_normal((b, k, m))}


# -- scalar_tensor ---------------------------------------------------------------------------------

#: Python numbers as users pass them; 0.1 is not exact in any binary format (the cast rounds it).
VALUES = (3.5, -2.25, 0.1, 0.0, 1000.0, -7.0)
SCALAR_DTYPES = (*FLOATS, "int64", "int32", "bool")


def _scalar_tensor_call(c, v):
    # v: VALUES as the case dtype holds them, for the reference; the call converts the Python numbers.
    return [c.fn(value, dtype=v.dtype, device=c.device) for value in VALUES]


# -- complex / polar: complex results viewed as (real, imag) pairs ---------------------------------
# float16 inputs give complex32, which has no NumPy dtype: view_as_real (an O(1) view) makes every
# result readable as its real dtype, float16 included, and keeps the dtype check meaningful.

def _complex_ref(re, im):
    return np.stack([re, im], axis=-1)


def _polar_inputs(rng):
    shape = rng.dims(*N)
    return {"r": rng.uniform(0.1, 3.0, shape), "theta": rng.uniform(-np.pi, np.pi, shape)}


def _polar_ref(r, theta):
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1)


# -- nansum ----------------------------------------------------------------------------------------

def _with_nans(rng):
    """Small integers (exact in every dtype; the full sum fits in float16) with 10% NaN."""
    x = rng.integers(-10, 11, rng.dims((8, 2048), 512)).astype(np.float64)
    x[rng.uniform(size=x.shape) < 0.1] = np.nan
    return {"x": x}


# -- from_numpy ------------------------------------------------------------------------------------

NP_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16,
             "int64": np.int64, "int32": np.int32, "uint8": np.uint8}


def _host_arrays(rng):
    # A dict, not an array: the harness would move an array to the device. Integers 0..200 are
    # exact in every dtype swept.
    return {"host": {"x": rng.integers(0, 201, rng.dims(*N)).astype(np.float64)}}


def _from_numpy_setup(c, host):
    base = host["x"].astype(NP_DTYPES[c.dtype])
    arr = base.copy()

    def run():
        t = c.fn(arr)
        shares = t.data_ptr() == arr.ctypes.data
        arr[0, 0] = 7  # a write through NumPy is seen by the tensor: they share memory
        seen = t[0, 0].item() == 7
        arr[0, 0] = base[0, 0]
        try:
            c.fn(arr[::-1])
            negative_refused = False
        except ValueError:  # "At least one stride in the given numpy array is negative"
            negative_refused = True
        return t.to(c.device), [shares, seen, negative_refused, t.device.type == "cpu"]

    return run


# -- fft.ifft2 -------------------------------------------------------------------------------------

#: The spectrum's precision, seen through view_as_real (complex64 -> float32 pairs): cuFFT turns
#: float16 into complex32, which has no NumPy dtype, so results are read as (real, imag) pairs.
PAIR_DTYPE = {"float32": "float32", "float64": "float64", "float16": "float16", "complex64": "float32",
              "complex128": "float64"}
FFT_TOL = {"float32": (1e-4, 2e-5), "complex64": (1e-4, 2e-5)}


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


# -- linalg.lstsq ----------------------------------------------------------------------------------

def _lstsq_inputs(rng):
    m, n, k = rng.dims((128, 1024), (64, 512), (8, 64))
    return {"a": rng.standard_normal((m, n)) / np.sqrt(m), "b": rng.standard_normal((m, k))}


KERNELS = [
    Kernel("torch.stack", "shape", _grid(*N, names=("a", "b", "d")), dtypes=ALL,
           call=lambda c, a, b, d: (c.fn([a, b, d]), c.fn([a, b, d], dim=-1)),
           reference=lambda a, b, d: (np.stack([a, b, d]), np.stack([a, b, d], axis=-1)), out_dtype=_same(ALL)),
    Kernel("torch.log", "elementwise", _log_inputs, dtypes=FLOATS, reference=_log_ref,
           note="includes zeros (-inf) and negatives (NaN)"),
    Kernel("torch.sin", "elementwise", uniform(*N, low=-20.0, high=20.0), dtypes=FLOATS, reference=np.sin),
    Kernel("torch.max", "reduction", _distinct_rows(with_y=True), dtypes=(*FLOATS, "int64", "int32"),
           call=_max_call, reference=_max_ref, note="the global maximum, (values, indices) along rows, elementwise"),
    Kernel("torch.reshape", "shape", _grid(*N), dtypes=ALL,
           call=lambda c, x: (c.fn(x, (-1, 16)), c.fn(x.mT, (-1,))),
           reference=lambda x: (x.reshape(-1, 16), x.T.reshape(-1)), out_dtype=_same(ALL),
           note="of a contiguous tensor (a view) and of a transposed one (a copy)"),
    Kernel("torch.argmax", "reduction", _distinct_rows(), dtypes=(*FLOATS, "int64", "int32"),
           call=lambda c, x: (c.fn(x), c.fn(x, dim=-1), c.fn(x, dim=1, keepdim=True)),
           reference=lambda x: (x.argmax(), x.argmax(axis=-1), x.argmax(axis=1)[:, None]), out_dtype="int64"),
    # torch bug: in float16 the default eps (1e-8) that guards a zero vector rounds to 0 (float16's
    # smallest subnormal is 6e-8), so the zero row gives 0/0 = NaN, where float32 and bfloat16 give 0.
    Kernel("torch.cosine_similarity", "reduction", _cosine_inputs, dtypes=FLOATS,
           call=lambda c, x1, x2: c.fn(x1, x2, dim=1), reference=_cosine_ref, tol=DOT_TOL),
    Kernel("torch.hstack", "shape", _hstack_inputs, dtypes=ALL,
           call=lambda c, a, b, m1, m2: (c.fn([a, b]), c.fn((m1, m2))),
           reference=lambda a, b, m1, m2: (np.hstack([a, b]), np.hstack([m1, m2])), out_dtype=_same(ALL)),
    Kernel("torch.diagonal", "shape", _grid((4, 4), (64, 1024), (64, 1024)), dtypes=ALL, call=_diagonal_call,
           reference=_diagonal_ref, out_dtype=_same(ALL), note="batched main diagonal (a view) and offset 1"),
    Kernel("torch.bmm", "linalg", _bmm_inputs, dtypes=(*FLOATS, "complex64"), reference=np.matmul, tol=DOT_TOL),
    Kernel("torch.scalar_tensor", "creation", lambda rng: {"v": np.array(VALUES)}, dtypes=SCALAR_DTYPES,
           call=_scalar_tensor_call, reference=lambda v: list(v), out_dtype=_same(SCALAR_DTYPES)),
    Kernel("torch.complex", "elementwise", lambda rng: {"re": rng.standard_normal(rng.dims(*N)),
                                                        "im": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, call=lambda c, re, im: c.fw.view_as_real(c.fn(re, im)), reference=_complex_ref,
           note="float16 gives complex32; there is no bfloat16 complex type"),
    Kernel("torch.polar", "elementwise", _polar_inputs, dtypes=FLOATS,
           call=lambda c, r, theta: c.fw.view_as_real(c.fn(r, theta)), reference=_polar_ref,
           note="diffusers' rotary embeddings: polar(ones, freqs)"),
    Kernel("torch.nansum", "reduction", _with_nans, dtypes=FLOATS,
           call=lambda c, x: (c.fn(x), c.fn(x, dim=1)),
           reference=lambda x: (np.nansum(x), np.nansum(x, axis=1)), tol=SUM_TOL),
    Kernel("torch.from_numpy", "creation", _host_arrays, dtypes=(*FLOATS, "int64", "int32", "uint8"),
           setup=_from_numpy_setup, reference=lambda host: (host["x"], [True] * 4),
           out_dtype=_same((*FLOATS, "int64", "int32", "uint8")),
           # NumPy has no bfloat16: an ml_dtypes.bfloat16 array (what JAX hands over) is refused.
           note="shares memory with the array; negative strides refused; then moved to the device"),
    Kernel("torch.fft.ifft2", "fft", _spectra, dtypes=(*FLOATS, "complex64", "complex128"), setup=_ifft2_setup,
           reference=_ifft2_ref, out_dtype=PAIR_DTYPE, tol=FFT_TOL),
    Kernel("torch.linalg.lstsq", "linalg", _lstsq_inputs, dtypes=FLOATS,
           call=lambda c, a, b: c.fn(a, b).solution,
           reference=lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
           note="a tall system (m = 2n), the solution only: residuals depend on the driver"),
]
