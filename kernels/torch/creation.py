"""torch tensor creation: zeros, ones, arange, range, linspace, tensor, from_numpy, the *_like functions and a
constant initializer, over every dtype users store in tensors.
"""

import ml_dtypes
import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Kernel, copy_params, dense_layers, nothing, paper

ZEROS_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "uint8", "bool")
RANGE_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64")
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
WIDTH = (64, 512)  # layer widths: 512x512 weights at medium
ALL = (*FLOATS, "complex64", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
SCALAR_DTYPES = (*FLOATS, "int64", "int32", "bool")


def _same(dtypes):
    return {d: d for d in dtypes}


def _dtype(c):
    return getattr(c.fw, c.dtype)


def _as_list(rng):
    """A nested Python list, as torch.tensor is mostly called; integer-valued so every dtype holds it."""
    return {"x": rng.integers(-100, 100, rng.dims(BIG_SIDE, BIG_SIDE)).astype(np.float64).tolist()}


def _side(rng):
    return {"n": rng.pick(64, 1024)}


# -- nn.init.constant_ -----------------------------------------------------------------------------

def _constant_setup(c, x, w0, b0):
    lin = copy_params(c.fw.nn.Linear(w0.shape[1], w0.shape[0], device=c.device, dtype=x.dtype), weight=w0, bias=b0)

    def run():
        returned = c.fn(lin.weight, 0.5)
        c.fn(lin.bias, -1.25)
        flags = [returned is lin.weight, lin.weight.is_leaf, lin.weight.requires_grad, lin.weight.grad_fn is None]
        return lin.weight.detach().clone(), lin(x).detach(), flags

    return run


def _constant_ref(x, w0, b0):
    out = np.broadcast_to(0.5 * x.sum(axis=1, keepdims=True) - 1.25, (x.shape[0], w0.shape[0]))
    return np.full(w0.shape, 0.5), out, [True] * 4


def _grid(*shape, names=("x",), scale=4.0):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {n: np.round(rng.standard_normal(rng.dims(*shape)) * scale) for n in names}


def _length(rng):
    return {"n": rng.pick(4096, 1 << 20)}  # powers of two


# -- arange ----------------------------------------------------------------------------------------

def _arange_call(c, n):
    positions = c.fn(n, device=c.device)  # position ids: int64 by default
    exponents = c.fn(0, 128, 2, dtype=_dtype(c), device=c.device)  # rotary: arange(0, dim, 2) / dim
    # n points of [0, 1): n is a power of two, so the step and every point are exact.
    grid = c.fn(0.0, 1.0, 1.0 / n, dtype=_dtype(c), device=c.device)
    return positions, exponents, grid, str(positions.dtype)


def _arange_ref(n):
    return np.arange(n), np.arange(0, 128, 2), np.arange(n) / n, "torch.int64"


# -- ones ------------------------------------------------------------------------------------------

ONES_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "uint8", "bool")


def _ones_call(c, n):
    dt = _dtype(c)
    return c.fn(n, n, dtype=dt, device=c.device), c.fn((2, n), dtype=dt, device=c.device), \
        c.fn(0, 3, dtype=dt, device=c.device)


# -- zeros_like ------------------------------------------------------------------------------------

def _zeros_like_call(c, x):
    torch = c.fw
    z = c.fn(x)
    zt = c.fn(x.t())  # preserve_format: a transposed input gives transposed strides
    zl = c.fn(x, dtype=torch.int64)
    flags = [z.dtype == x.dtype, z.device == x.device, zt.stride() == x.t().stride(), z.data_ptr() != x.data_ptr(),
             zl.dtype == torch.int64, zl.device == x.device]
    return z, zt, zl, flags


def _zeros_like_ref(x):
    return np.zeros(x.shape), np.zeros(x.T.shape), np.zeros(x.shape, dtype=np.int64), [True] * 6


# -- linspace --------------------------------------------------------------------------------------

def _linspace_call(c, n):
    dt = _dtype(c)
    betas = c.fn(1e-4, 0.02, n, dtype=dt, device=c.device)  # DDPM's linear beta schedule
    grid = c.fn(-1, 1, n, dtype=dt, device=c.device)
    rates = [x.item() for x in c.fn(0, 0.1, 12, dtype=dt, device=c.device)]  # timm's drop-path rates
    return betas, grid, rates


def _linspace_ref(n):
    return np.linspace(1e-4, 0.02, n), np.linspace(-1, 1, n), list(np.linspace(0, 0.1, 12))


# -- scalar_tensor ---------------------------------------------------------------------------------

#: Python numbers as users pass them; 0.1 is not exact in any binary format (the cast rounds it).
VALUES = (3.5, -2.25, 0.1, 0.0, 1000.0, -7.0)


def _scalar_tensor_call(c, v):
    # v: VALUES as the case dtype holds them, for the reference; the call converts the Python numbers.
    return [c.fn(value, dtype=v.dtype, device=c.device) for value in VALUES]


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


# -- torch.cuda.FloatTensor ------------------------------------------------------------------------

def _float_tensor_call(c, values):
    # accelerate's Megatron loop: torch.cuda.FloatTensor([0.0]) accumulators. A CUDA-only legacy
    # constructor: a CPU-only build raises "Torch not compiled with CUDA enabled"; with CUDA, a cpu
    # case gets a cuda tensor (host_fallback's mirror image). Both are honest failures.
    total = c.fn([0.0])
    for v in values:
        total = total + c.fn([v])
    return c.fn(values), total, c.fn(2, 3).shape


KERNELS = [
    Kernel("torch.zeros", "creation", _side, dtypes=ZEROS_DTYPES,
           call=lambda c, n: c.fn(n, n, dtype=_dtype(c), device=c.device),
           reference=lambda n: np.zeros((n, n)), out_dtype=_same(ZEROS_DTYPES),
           **paper(100, 1845)),
    # One size: float16 holds the integers only up to 2048 (and overflows at 65504), and an int64
    # range cannot take a fractional step, so a longer range would test the dtypes, not torch.range.
    Kernel("torch.range", "creation", nothing(), dtypes=RANGE_DTYPES,
           call=lambda c: c.fn(0, 999, dtype=_dtype(c), device=c.device),
           reference=lambda: np.arange(0.0, 1000.0), out_dtype=_same(RANGE_DTYPES),
           **paper(100, 4495),
           note="deprecated (end-inclusive); 0..999 is exact in float16, rounded in bfloat16"),
    Kernel("torch.tensor", "creation", _as_list, dtypes=("float32", "float64", "float16", "bfloat16", "int64"),
           call=lambda c, x: c.fn(x, dtype=_dtype(c), device=c.device), reference=np.asarray,
           out_dtype=_same(("float32", "float64", "float16", "bfloat16", "int64")),
           **paper(100, 1597)),
    Kernel("torch.nn.init.constant_", "creation", dense_layers(WIDTH, WIDTH), dtypes=FLOATS, setup=_constant_setup,
           reference=_constant_ref, tol=DOT_TOL, note="fills a Linear's weight and bias in place, outside autograd"),
    Kernel("torch.arange", "creation", _length, dtypes=FLOATS, call=_arange_call, reference=_arange_ref,
           note="int64 position ids, arange(0, 128, 2) in the case dtype, and a fractional step"),
    Kernel("torch.ones", "creation", lambda rng: {"n": rng.pick(64, 1024)}, dtypes=ONES_DTYPES, call=_ones_call,
           reference=lambda n: (np.ones((n, n)), np.ones((2, n)), np.ones((0, 3))), out_dtype=_same(ONES_DTYPES)),
    Kernel("torch.zeros_like", "creation", _grid(*N), dtypes=ALL, call=_zeros_like_call, reference=_zeros_like_ref,
           note="keeps dtype, device and (preserve_format) the strides of its input; dtype= overrides"),
    # torch bug: float16 linspace on the CPU degrades with its length (linspace(1e-4, 0.02, n)):
    # at n = 4096 it is off by up to 6e-5 and not monotonic (within float16's tolerance here), at
    # 65536 every point is either start or end, and at 131072 the middle points are NaN (917536 NaNs
    # of 1048576 at --size medium, where the float16 case fails). bfloat16 and float32 are fine.
    Kernel("torch.linspace", "creation", _length, dtypes=FLOATS, call=_linspace_call, reference=_linspace_ref),
    Kernel("torch.scalar_tensor", "creation", lambda rng: {"v": np.array(VALUES)}, dtypes=SCALAR_DTYPES,
           call=_scalar_tensor_call, reference=lambda v: list(v), out_dtype=_same(SCALAR_DTYPES)),
    Kernel("torch.from_numpy", "creation", _host_arrays, dtypes=(*FLOATS, "int64", "int32", "uint8"),
           setup=_from_numpy_setup, reference=lambda host: (host["x"], [True] * 4),
           out_dtype=_same((*FLOATS, "int64", "int32", "uint8")),
           # NumPy has no bfloat16: an ml_dtypes.bfloat16 array (what JAX hands over) is refused.
           note="shares memory with the array; negative strides refused; then moved to the device"),
    Kernel("torch.cuda.FloatTensor", "creation", lambda rng: {"values": [0.5, 1.25, -2.0]}, dtypes=("float32",),
           call=_float_tensor_call, reference=lambda values: (np.array(values), np.array([sum(values)]), (2, 3)),
           device_only="cuda"),
]
