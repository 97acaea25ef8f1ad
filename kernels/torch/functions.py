"""torch functions from the usage sample: creation, elementwise math, comparisons, einsum, inverse
and the complex view used by rotary embeddings, called with the arguments models pass them."""

import numpy as np
import scipy.special as sp

from portability.catalog import BIG_SIDE, SIDE, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "complex64", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}
#: erfinv is a rational approximation plus Newton steps: good to a few float32 ulps, not to one.
F32 = {"float32": (2e-4, 2e-5)}


def _dtype(c):
    return getattr(c.fw, c.dtype)


def _same(dtypes):
    return {d: d for d in dtypes}


def _grid(*shape, names=("x",), scale=4.0):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {n: np.round(rng.standard_normal(rng.dims(*shape)) * scale) for n in names}


def _tenths(rng):
    """Pairs on a 0.1 grid: ties between x and y occur, and survive rounding to any dtype."""
    shape = rng.dims(*N)
    return {"x": np.round(rng.standard_normal(shape) * 3, 1), "y": np.round(rng.standard_normal(shape) * 3, 1)}


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


# -- einsum ----------------------------------------------------------------------------------------

def _einsum_inputs(rng):
    b, h, s, d = rng.dims((1, 2), (2, 8), (32, 256), 64)
    return {"q": rng.standard_normal((b, h, s, d)), "k": rng.standard_normal((b, h, s, d)),
            "p": rng.uniform(0, 2.0 / s, (b, h, s, s)),  # attention-probability-like weights
            "t": np.arange(s, dtype=np.float64), "inv_freq": 1.0 / 10000 ** (np.arange(0, d, 2) / d)}


def _einsum_call(c, q, k, p, t, inv_freq):
    return (c.fn("bhqd,bhkd->bhqk", q, k), c.fn("bhqk,bhkd->bhqd", p, k),
            c.fn("i,j->ij", t, inv_freq))  # rotary frequencies: an outer product


def _einsum_ref(q, k, p, t, inv_freq):
    return np.einsum("bhqd,bhkd->bhqk", q, k), np.einsum("bhqk,bhkd->bhqd", p, k), np.outer(t, inv_freq)


# -- allclose --------------------------------------------------------------------------------------

def _allclose_inputs(rng):
    x = rng.standard_normal(rng.dims(*N))
    nan = x.copy()
    nan.reshape(-1)[::101] = np.nan
    return {"x": x, "near": x * (1 + 1e-3), "far": x * (1 + 5e-2), "nan": nan}


CLOSE_ARGS = ({}, {"rtol": 1e-2, "atol": 0.0}, {"rtol": 0.0, "atol": 1e-1})


def _allclose_call(c, x, near, far, nan):
    # Outputs in a test suite: allclose(actual, expected) at the default and at loose tolerances.
    out = [c.fn(x, x.clone())]
    for kwargs in CLOSE_ARGS:
        out += [c.fn(near, x, **kwargs), c.fn(far, x, **kwargs)]
    return out + [c.fn(nan, nan), c.fn(nan, nan, equal_nan=True), c.fn(x, x[:1])]  # broadcasts


def _allclose_ref(x, near, far, nan):
    out = [True]
    for kwargs in CLOSE_ARGS:
        out += [np.allclose(near, x, **kwargs), np.allclose(far, x, **kwargs)]
    return out + [False, True, np.allclose(x, x[:1])]


# -- linspace --------------------------------------------------------------------------------------

def _linspace_call(c, n):
    dt = _dtype(c)
    betas = c.fn(1e-4, 0.02, n, dtype=dt, device=c.device)  # DDPM's linear beta schedule
    grid = c.fn(-1, 1, n, dtype=dt, device=c.device)
    rates = [x.item() for x in c.fn(0, 0.1, 12, dtype=dt, device=c.device)]  # timm's drop-path rates
    return betas, grid, rates


def _linspace_ref(n):
    return np.linspace(1e-4, 0.02, n), np.linspace(-1, 1, n), list(np.linspace(0, 0.1, 12))


# -- clamp -----------------------------------------------------------------------------------------

def _clamp_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape) * 3, "lo": rng.uniform(-2, -0.5, shape[1]),
            "hi": rng.uniform(0.5, 2, shape[1])}


def _clamp_call(c, x, lo, hi):
    return c.fn(x, -1, 2), c.fn(x, min=0.01), c.fn(x, max=1), c.fn(x, lo, hi)  # per-column tensor bounds


def _clamp_ref(x, lo, hi):
    return np.clip(x, -1, 2), np.maximum(x, 0.01), np.minimum(x, 1), np.minimum(np.maximum(x, lo), hi)


# -- pow -------------------------------------------------------------------------------------------

def _pow_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.uniform(0.1, 4, shape), "y": rng.uniform(0, 3, shape), "e": np.arange(0, 128, 2) / 128}


def _pow_call(c, x, y, e):
    # 1 / pow(10000, arange(0, dim, 2) / dim): a Python base, a tensor exponent (rotary frequencies)
    return c.fn(x, 2), c.fn(x, 0.5), c.fn(x, y), c.fn(10000, e)


def _pow_ref(x, y, e):
    return x**2, np.sqrt(x), x**y, 10000.0**e


# -- flatten ---------------------------------------------------------------------------------------

IMAGES = ((2, 8), (8, 32), (16, 64), (16, 64))  # 2x8x16x16 at small, 8x32x64x64 at medium


def _flatten_call(c, x):
    features = c.fn(x, 1)  # after global pooling: (n, c, h, w) -> (n, c*h*w)
    tokens = c.fn(x, start_dim=2).transpose(1, 2)  # ViT patch embedding: (n, h*w, c)
    everything = c.fn(x)
    nhwc = c.fn(x.permute(0, 2, 3, 1), 1)  # not viewable: a copy
    flags = [features.data_ptr() == x.data_ptr(), everything.data_ptr() == x.data_ptr(),
             nhwc.data_ptr() != x.data_ptr(), tuple(c.fn(x[0, 0, 0, 0]).shape) == (1,)]
    return features, tokens, everything, nhwc, flags


def _flatten_ref(x):
    n, ch = x.shape[:2]
    return (x.reshape(n, -1), x.reshape(n, ch, -1).transpose(0, 2, 1), x.reshape(-1),
            x.transpose(0, 2, 3, 1).reshape(n, -1), [True] * 4)


# -- expm1 -----------------------------------------------------------------------------------------

def _expm1_inputs(rng):
    shape = rng.dims(*N)
    # Two outputs, so that the small arguments (where expm1 beats exp - 1) have their own scale.
    return {"x": rng.uniform(-10, 10, shape), "small": rng.standard_normal(shape) * 1e-3}


# -- inverse ---------------------------------------------------------------------------------------

def _inverse_inputs(rng):
    n, b = rng.dims(SIDE, (64, 4096))
    a = rng.standard_normal((n, n)) + n * np.eye(n)  # well conditioned: low precision judged fairly
    rot, _ = np.linalg.qr(rng.standard_normal((b, 3, 3)))
    poses = np.zeros((b, 4, 4))  # camera-to-world poses: rotation, translation, [0 0 0 1]
    poses[:, :3, :3], poses[:, :3, 3], poses[:, 3, 3] = rot, rng.standard_normal((b, 3)), 1.0
    return {"a": a, "poses": poses}


# -- view_as_complex -------------------------------------------------------------------------------

def _rotary_inputs(rng):
    b, s, h, d = rng.dims((1, 4), (16, 256), (4, 8), (32, 64))
    theta = np.outer(np.arange(s), 1.0 / 10000 ** (np.arange(0, d, 2) / d))
    return {"x": rng.standard_normal((b, s, h, d)), "cos": np.cos(theta), "sin": np.sin(theta)}


def _view_as_complex_call(c, x, cos, sin):
    torch = c.fw
    # Llama's rotary embedding: pairs of features as complex numbers, times polar(1, theta).
    xc = c.fn(x.reshape(*x.shape[:-1], -1, 2))
    freqs = c.fn(torch.stack([cos, sin], dim=-1))
    rotated = torch.view_as_real(xc * freqs[None, :, None, :]).flatten(3)
    return xc.real, xc.imag, rotated, [xc.data_ptr() == x.data_ptr(), xc.is_complex()]


def _view_as_complex_ref(x, cos, sin):
    xc = x[..., 0::2] + 1j * x[..., 1::2]
    r = xc * (cos + 1j * sin)[None, :, None, :]
    return xc.real, xc.imag, np.stack([r.real, r.imag], axis=-1).reshape(x.shape), [True, True]


# -- erfinv ----------------------------------------------------------------------------------------

def _erfinv_inputs(rng):
    x = rng.uniform(-0.99, 0.99, rng.dims(*N))
    x.reshape(-1)[:4] = [-1.0, 1.0, 1.5, 0.0]  # -inf, inf, NaN (outside the domain), 0
    return {"x": x}


def _erfinv_ref(x):
    with np.errstate(invalid="ignore"):
        return sp.erfinv(x)


KERNELS = [
    Kernel("torch.arange", "creation", _length, dtypes=FLOATS, call=_arange_call, reference=_arange_ref,
           note="int64 position ids, arange(0, 128, 2) in the case dtype, and a fractional step"),
    Kernel("torch.ones", "creation", lambda rng: {"n": rng.pick(64, 1024)}, dtypes=ONES_DTYPES, call=_ones_call,
           reference=lambda n: (np.ones((n, n)), np.ones((2, n)), np.ones((0, 3))), out_dtype=_same(ONES_DTYPES)),
    Kernel("torch.zeros_like", "creation", _grid(*N), dtypes=ALL, call=_zeros_like_call, reference=_zeros_like_ref,
           note="keeps dtype, device and (preserve_format) the strides of its input; dtype= overrides"),
    Kernel("torch.einsum", "linalg", _einsum_inputs, dtypes=FLOATS, call=_einsum_call, reference=_einsum_ref,
           tol=DOT_TOL, note="attention scores, probabilities times values, the rotary outer product"),
    Kernel("torch.allclose", "reduction", _allclose_inputs, dtypes=FLOATS, call=_allclose_call,
           reference=_allclose_ref, note="default and loose tolerances, NaN with and without equal_nan, broadcasting"),
    # torch bug: float16 linspace on the CPU degrades with its length (linspace(1e-4, 0.02, n)):
    # at n = 4096 it is off by up to 6e-5 and not monotonic (within float16's tolerance here), at
    # 65536 every point is either start or end, and at 131072 the middle points are NaN (917536 NaNs
    # of 1048576 at --size medium, where the float16 case fails). bfloat16 and float32 are fine.
    Kernel("torch.linspace", "creation", _length, dtypes=FLOATS, call=_linspace_call, reference=_linspace_ref),
    Kernel("torch.clamp", "elementwise", _clamp_inputs, dtypes=(*FLOATS, "int64"), call=_clamp_call,
           reference=_clamp_ref, note="scalar bounds, min only, max only, and per-column tensor bounds"),
    Kernel("torch.pow", "elementwise", _pow_inputs, dtypes=(*FLOATS, "int64"), call=_pow_call, reference=_pow_ref,
           note="square, square root, tensor exponents, and a Python base with a tensor exponent"),
    Kernel("torch.flatten", "shape", _grid(*IMAGES), dtypes=ALL, call=_flatten_call, reference=_flatten_ref,
           note="from dim 1 (a view), from dim 2 (ViT tokens), everything, a permuted input (a copy), a scalar"),
    Kernel("torch.expm1", "elementwise", _expm1_inputs, dtypes=FLOATS, call=lambda c, x, small: (c.fn(x), c.fn(small)),
           reference=lambda x, small: (np.expm1(x), np.expm1(small))),
    Kernel("torch.inverse", "linalg", _inverse_inputs, dtypes=FLOATS, call=lambda c, a, poses: (c.fn(a), c.fn(poses)),
           reference=lambda a, poses: (np.linalg.inv(a), np.linalg.inv(poses)),
           note="a well-conditioned matrix and a batch of 4x4 camera poses"),
    Kernel("torch.view_as_complex", "shape", _rotary_inputs, dtypes=FLOATS, call=_view_as_complex_call,
           reference=_view_as_complex_ref,
           note="rotary embeddings: a complex view of feature pairs (float16 -> complex32; no bfloat16 complex)"),
    Kernel("torch.erfinv", "special", _erfinv_inputs, dtypes=FLOATS, reference=_erfinv_ref, tol=F32,
           note="includes -1, 1 (infinities) and 1.5 (NaN)"),
    Kernel("torch.less_equal", "elementwise", _tenths, dtypes=(*FLOATS, "int64"),
           call=lambda c, x, y: (c.fn(x, y), c.fn(x, 0.5), c.fn(x, y[:1])),
           reference=lambda x, y: (x <= y, x <= 0.5, x <= y[:1]), out_dtype="bool"),
    Kernel("torch.logical_xor", "elementwise", _grid(*N, names=("a", "b"), scale=1.0),
           dtypes=("bool", *FLOATS, "int64"), call=lambda c, a, b: (c.fn(a, b), c.fn(a, b[:1])),
           reference=lambda a, b: (np.logical_xor(a, b), np.logical_xor(a, b[:1])), out_dtype="bool",
           note="nonzero numbers count as True"),
    Kernel("torch.not_equal", "elementwise", _tenths, dtypes=(*FLOATS, "int64", "bool"),
           call=lambda c, x, y: (c.fn(x, y), c.fn(x, 0.5)), reference=lambda x, y: (x != y, x != 0.5),
           out_dtype="bool"),
]
