"""torch elementwise math, comparisons, bitwise ops, casts and clamps, as functions and as Tensor methods, over
floats and the integer types users feed them.

In-place methods are checked for returning ``self``; methods of ``nn.Parameter`` through a backward pass,
since a parameter exists to receive a gradient.
"""

import numpy as np
import scipy.special as sp

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, normal, paper, unchecked, uniform

N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
#: log1p of integer tensors promotes to the default float dtype (float32).
_PROMOTE = {**{d: d for d in FLOATS}, "int64": "float32", "uint8": "float32"}
_INT_TOL = {"int64": (1e-6, 1e-7), "uint8": (1e-6, 1e-7)}
M = ((64, 1024), (64, 1024))  # 64x64 at small, 1024x1024 at medium


def _counts(rng):
    """Non-negative values: valid for log1p and exact when cast to uint8/int64."""
    return {"x": rng.uniform(0.0, 200.0, rng.dims(*N))}


def _bits(rng):
    return {"x": rng.integers(0, 128, rng.dims(*N)).astype(np.float64)}


def _where_inputs(rng):
    shape = rng.dims(*N)
    return {
        "cond": Keep(rng.uniform(size=shape) < 0.5),
        "x": rng.standard_normal(shape) * 10,
        "y": rng.standard_normal(shape) * 10,
    }


def _tenths(rng):
    """Pairs on a 0.1 grid: ties between x and y occur, and survive rounding to any dtype."""
    shape = rng.dims(*N)
    return {"x": np.round(rng.standard_normal(shape) * 3, 1), "y": np.round(rng.standard_normal(shape) * 3, 1)}


def _grid(*shape, names=("x",), scale=4.0):
    """Values on a coarse grid with zeros: exact in every dtype, interesting for ints and bools."""
    return lambda rng: {n: np.round(rng.standard_normal(rng.dims(*shape)) * scale) for n in names}


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


# -- expm1 -----------------------------------------------------------------------------------------

def _expm1_inputs(rng):
    shape = rng.dims(*N)
    # Two outputs, so that the small arguments (where expm1 beats exp - 1) have their own scale.
    return {"x": rng.uniform(-10, 10, shape), "small": rng.standard_normal(shape) * 1e-3}


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


# -- Tensor.to -------------------------------------------------------------------------------------

def _to_call(c, x):
    torch = c.fw
    host = c.fn(x, "cpu")
    back = c.fn(host, c.device)
    half = c.fn(x, torch.float16)
    single = c.fn(x, dtype=torch.float32)
    both = c.fn(host, device=c.device, dtype=torch.float64)
    like = c.fn(half, x)  # to(other): other's dtype and device
    ints = c.fn(x, torch.int64)
    flags = [
        c.fn(x, x.dtype) is x, c.fn(x, c.device) is x,  # nothing to do: self, no copy
        c.fn(x, x.dtype, copy=True) is not x, host.device.type == "cpu", back.device == x.device,
        str(half.dtype) == "torch.float16", str(single.dtype) == "torch.float32", str(both.dtype) == "torch.float64",
        like.dtype == x.dtype and like.device == x.device, str(ints.dtype) == "torch.int64",
        c.fn(x, non_blocking=True, device=c.device) is x,
    ]
    return back, half, single, both, like, ints, flags


def _to_ref(x):
    half = x.astype(np.float16)
    return x, half, x.astype(np.float32), x, half, np.trunc(x).astype(np.int64), [True] * 11


# -- Tensor.sigmoid --------------------------------------------------------------------------------

def _logits(rng):
    x = rng.standard_normal(rng.dims(*N)) * 4
    flat = x.reshape(-1)
    flat[::97] = rng.choice([-60.0, 60.0], flat[::97].shape)  # saturated: 0 and 1
    return {"x": x}


# -- Tensor.where ----------------------------------------------------------------------------------

def _rounded_where_inputs(rng):
    shape = rng.dims(*N)
    return {"x": np.round(rng.standard_normal(shape) * 8), "cond": Keep(rng.uniform(size=shape) < 0.5),
            "y": np.round(rng.standard_normal(shape) * 8)}


# -- Tensor.ge_ ------------------------------------------------------------------------------------

def _ge_setup(c, x, y):
    def run():
        a, b = x.clone(), x.clone()
        r = c.fn(a, y)
        c.fn(b, 0.5)  # a Python scalar
        return r, b, [r is a, r.dtype == x.dtype]

    return run


def _ge_ref(x, y):
    return (x >= y).astype(np.float64), (x >= 0.5).astype(np.float64), [True, True]


# -- nn.Parameter.tanh -----------------------------------------------------------------------------

def _param_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.uniform(-3, 3, shape), "g": rng.standard_normal(shape)}


def _param_tanh_setup(c, x, g):
    torch = c.fw
    p = torch.nn.Parameter(x.clone())  # a gate, as in gated cross-attention: self.gate.tanh()

    def run():
        p.grad = None
        y = c.fn(p)
        (y * g).sum().backward()
        return y.detach(), p.grad, [y.requires_grad, type(y) is torch.Tensor, not y.is_leaf]

    return run


def _param_tanh_ref(x, g):
    y = np.tanh(x)
    return y, g * (1 - y * y), [True] * 3


# -- casts -----------------------------------------------------------------------------------------

CAST_FROM = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool")


def _magnitudes(rng):
    """Fractions of every size, a few beyond float16's range (65504) and a few below its normals."""
    x = rng.standard_normal(rng.dims(*M)) * 300
    flat = x.reshape(-1)
    flat[::97] = rng.choice([-1.0, 1.0], flat[::97].shape) * 1e5
    flat[1::97] *= 1e-8
    return {"x": x}


def _nonnegative(rng):
    """Non-negative values (exact in uint8) that are not on float32's grid."""
    return {"x": rng.uniform(0, 250, rng.dims(*M))}


def _half_ref(x):
    with np.errstate(over="ignore"):
        return x.astype(np.float16)


def _long_ref(x):
    return x.astype(np.int64) if x.dtype.kind in "biu" else np.trunc(x).astype(np.int64)


# -- lerp ------------------------------------------------------------------------------------------

def _lerp_inputs(rng):
    shape = rng.dims(*M)
    return {"start": rng.standard_normal(shape), "end": rng.standard_normal(shape), "w": rng.uniform(0, 1, shape)}


def _lerp_call(c, start, end, w):
    # diffusers: log-sigma midpoints (0.5) and classifier-free guidance (weight 4, extrapolating).
    return c.fn(start, end, 0.5), c.fn(start, end, 4.0), c.fn(start, end, w)


def _lerp_ref(start, end, w):
    return tuple(start + t * (end - start) for t in (0.5, 4.0, w))


KERNELS = [
    Kernel("torch.Tensor.log1p", "elementwise", _counts, dtypes=(*FLOATS, "int64", "uint8"),
           # NumPy computes log1p of uint8 in float16: widen first.
           reference=lambda x: np.log1p(x.astype(np.float64)), out_dtype=_PROMOTE, tol=_INT_TOL,
           **paper(70, 22)),
    Kernel("torch.Tensor.round", "elementwise", normal(*N, scale=100.0), dtypes=(*FLOATS, "int64"),
           reference=np.round, **paper(90, 228),
           note="half-to-even, like NumPy"),
    Kernel("torch.lt", "elementwise", _tenths, dtypes=(*FLOATS, "int64"), reference=np.less,
           out_dtype="bool", **paper(60, 16)),
    Kernel("torch.bitwise_not", "elementwise", _bits, dtypes=("int8", "uint8", "int16", "int32", "int64", "bool"),
           reference=np.invert, out_dtype={d: d for d in ("int8", "uint8", "int16", "int32", "int64", "bool")},
           **paper(10, 1)),
    Kernel("torch.exp", "elementwise", uniform(*N, low=-10.0, high=10.0), dtypes=FLOATS, reference=np.exp),
    Kernel("torch.where", "elementwise", _where_inputs, dtypes=(*FLOATS, "int64"), reference=np.where),
    Kernel("torch.clamp", "elementwise", _clamp_inputs, dtypes=(*FLOATS, "int64"), call=_clamp_call,
           reference=_clamp_ref, note="scalar bounds, min only, max only, and per-column tensor bounds"),
    Kernel("torch.pow", "elementwise", _pow_inputs, dtypes=(*FLOATS, "int64"), call=_pow_call, reference=_pow_ref,
           note="square, square root, tensor exponents, and a Python base with a tensor exponent"),
    Kernel("torch.expm1", "elementwise", _expm1_inputs, dtypes=FLOATS, call=lambda c, x, small: (c.fn(x), c.fn(small)),
           reference=lambda x, small: (np.expm1(x), np.expm1(small))),
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
    Kernel("torch.log", "elementwise", _log_inputs, dtypes=FLOATS, reference=_log_ref,
           note="includes zeros (-inf) and negatives (NaN)"),
    Kernel("torch.sin", "elementwise", uniform(*N, low=-20.0, high=20.0), dtypes=FLOATS, reference=np.sin),
    Kernel("torch.complex", "elementwise", lambda rng: {"re": rng.standard_normal(rng.dims(*N)),
                                                        "im": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, call=lambda c, re, im: c.fw.view_as_real(c.fn(re, im)), reference=_complex_ref,
           note="float16 gives complex32; there is no bfloat16 complex type"),
    Kernel("torch.polar", "elementwise", _polar_inputs, dtypes=FLOATS,
           call=lambda c, r, theta: c.fw.view_as_real(c.fn(r, theta)), reference=_polar_ref,
           note="diffusers' rotary embeddings: polar(ones, freqs)"),
    # torch bug: float64 -> float16 on the CPU rounds twice (through float32), so about 1 value in
    # 20000 lands one float16 ulp from the correctly rounded one (NumPy's): e.g. -42.98437372777596
    # becomes -43.0, not -42.97. Too rare to show at --size small; the medium float64 case fails on it.
    Kernel("torch.Tensor.to", "elementwise", lambda rng: {"x": rng.standard_normal(rng.dims(*N)) * 100},
           dtypes=(*FLOATS, "int64"), call=_to_call, reference=_to_ref,
           out_dtype=unchecked("conversions to float16, float32, float64 and int64; the reference checks their "
                               "values, not their dtypes"),
           note="to(device), to(dtype), to(device, dtype), to(other), copy=True; no-op conversions return self"),
    Kernel("torch.Tensor.sigmoid", "elementwise", _logits, dtypes=FLOATS, reference=sp.expit),
    Kernel("torch.Tensor.where", "elementwise", _rounded_where_inputs, dtypes=(*FLOATS, "int64"),
           call=lambda c, x, cond, y: (c.fn(x, cond, y), c.fn(x, cond, -1)),
           reference=lambda x, cond, y: (np.where(cond, x, y), np.where(cond, x, -1)),
           note="x.where(cond, other): x where cond holds, other elsewhere (a tensor, a scalar)"),
    Kernel("torch.Tensor.ge_", "elementwise", _tenths, dtypes=(*FLOATS, "int64"), setup=_ge_setup, reference=_ge_ref,
           note="in place: 1/0 in self's dtype, ties included; returns self"),
    Kernel("torch.nn.Parameter.tanh", "elementwise", _param_inputs, dtypes=FLOATS, setup=_param_tanh_setup,
           reference=_param_tanh_ref, note="a plain Tensor that requires grad; its backward reaches the parameter"),
    Kernel("torch.Tensor.float", "elementwise", _nonnegative, dtypes=(*CAST_FROM, "uint8"),
           reference=lambda x: x.astype(np.float32), out_dtype="float32"),
    Kernel("torch.Tensor.long", "elementwise", uniform(*M, low=-250.0, high=250.0),
           dtypes=CAST_FROM, reference=_long_ref, out_dtype="int64", note="floats truncate toward zero"),
    Kernel("torch.Tensor.half", "elementwise", _magnitudes, dtypes=CAST_FROM, reference=_half_ref,
           out_dtype="float16", note="round to nearest even; beyond 65504 -> inf; tiny values -> subnormals"),
    Kernel("torch.Tensor.clamp", "elementwise", normal(*M, scale=3.0),
           dtypes=(*FLOATS, "int64", "int32"), call=lambda c, x: (c.fn(x, -1, 2), c.fn(x, min=0), c.fn(x, max=1)),
           reference=lambda x: (np.clip(x, -1, 2), np.maximum(x, 0), np.minimum(x, 1))),
    Kernel("torch.Tensor.lerp", "elementwise", _lerp_inputs, dtypes=FLOATS, call=_lerp_call, reference=_lerp_ref),
]
