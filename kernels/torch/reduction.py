"""torch reductions, scans, sorts and selections: sum, cumsum, logsumexp, median, quantile, max/argmax,
min/argmin, argsort, allclose ...
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Kernel, paper

#: Rows of 512 at every size (only their number grows), so row-wise accumulations keep their length.
ROWS = ((8, 2048), 512)
#: A reduction (of 64 to 1M terms) rounds its float32/float16 result once but accumulates in a wider
#: type on the CPU; these bounds leave room for the accumulation order, not for wrong sums.
SUM_TOL = {"float32": (1e-4, 1e-5), "float16": (1e-2, 4e-3), "bfloat16": (4e-2, 1.5e-2)}
N = (BIG_SIDE, BIG_SIDE)  # 64x64 at small, 1024x1024 at medium
CLOSE_ARGS = ({}, {"rtol": 1e-2, "atol": 0.0}, {"rtol": 0.0, "atol": 1e-1})
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _rows(rng):
    return {"x": rng.standard_normal(rng.dims(*ROWS))}


def _ints(dim):
    """Small integer entries (exact in every dtype, and a full sum that fits in float16: about
    +-6000 for 1M entries); ``dim`` None sums everything."""
    return lambda rng: {"x": rng.integers(-10, 11, rng.dims((64, 1024), (64, 1024))).astype(np.float64), "dim": dim}


def _sum(c, x, dim):
    return c.fn(x) if dim is None else c.fn(x, dim=dim)


def _sort_keys(rng):
    """Keys on a coarse grid: duplicates are common, so only a stable sort is well defined."""
    return {"x": np.round(rng.standard_normal(rng.dims((4, 1024), 1024)) * 20)}


def _odd(rng):
    return {"x": rng.standard_normal(rng.pick(4095, (1 << 20) - 1))}


# -- allclose --------------------------------------------------------------------------------------

def _allclose_inputs(rng):
    x = rng.standard_normal(rng.dims(*N))
    nan = x.copy()
    nan.reshape(-1)[::101] = np.nan
    return {"x": x, "near": x * (1 + 1e-3), "far": x * (1 + 5e-2), "nan": nan}


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


# -- cosine_similarity -----------------------------------------------------------------------------

def _cosine_inputs(rng):
    x1 = rng.standard_normal(rng.dims((64, 4096), 256))
    x1[3] = 0.0  # a zero vector: eps keeps the result finite (0)
    return {"x1": x1, "x2": rng.standard_normal(x1.shape) + 0.5 * x1}


def _cosine_ref(x1, x2):
    dot = np.sum(x1 * x2, axis=1)
    return dot / np.maximum(np.linalg.norm(x1, axis=1) * np.linalg.norm(x2, axis=1), 1e-8)


# -- nansum ----------------------------------------------------------------------------------------

def _with_nans(rng):
    """Small integers (exact in every dtype; the full sum fits in float16) with 10% NaN."""
    x = rng.integers(-10, 11, rng.dims((8, 2048), 512)).astype(np.float64)
    x[rng.uniform(size=x.shape) < 0.1] = np.nan
    return {"x": x}


# -- min / argmin over rows of distinct values -----------------------------------------------------

def _distinct_rows_inputs(rng):
    """Rows that are permutations of -128..127 (exact in every dtype, so no ties), plus one -200
    and one 200 placed at random: the whole tensor has a unique minimum and maximum."""
    rows = rng.pick(16, 4096)
    x = np.stack([rng.permutation(256) - 128.0 for _ in range(rows)])
    flat = x.reshape(-1)
    lo, hi = rng.choice(flat.size, 2, replace=False)
    flat[lo], flat[hi] = -200.0, 200.0
    return {"x": x}


def _min_call(c, x):
    values, indices = c.fn(x, dim=1)
    kept = c.fn(x, dim=1, keepdim=True)
    return c.fn(x), values, indices, kept.values


def _min_ref(x):
    return x.min(), x.min(axis=1), x.argmin(axis=1), x.min(axis=1, keepdims=True)


KERNELS = [
    Kernel("torch.sum", "reduction", {"all": _ints(None), "dim": _ints(1)},
           dtypes=("int64", "float32", "float64", "float16", "bfloat16", "bool"),
           call=_sum, reference=lambda x, dim: np.sum(x, axis=dim), out_dtype={"int64": "int64", "bool": "int64",
                                                   "float32": "float32", "float64": "float64",
                                                   "float16": "float16", "bfloat16": "bfloat16"},
           tol=SUM_TOL, **paper(100, 2636),
           note="integer and bool sums promote to int64"),
    Kernel("torch.argsort", "reduction", _sort_keys, dtypes=(*FLOATS, "int64"),
           call=lambda c, x: c.fn(x, dim=-1, stable=True), reference=lambda x: np.argsort(x, axis=-1, kind="stable"),
           out_dtype="int64", **paper(90, 111)),
    Kernel("torch.cumsum", "reduction", _rows, dtypes=FLOATS, call=lambda c, x: c.fn(x, dim=1),
           reference=lambda x: np.cumsum(x, axis=1), tol=SUM_TOL),
    Kernel("torch.logsumexp", "reduction", _rows, dtypes=FLOATS, call=lambda c, x: c.fn(x, dim=1),
           reference=lambda x: np.log(np.sum(np.exp(x), axis=1))),
    Kernel("torch.median", "reduction", _odd, dtypes=(*FLOATS, "int64"), reference=np.median,
           note="an odd count: the median is one of the elements"),
    Kernel("torch.quantile", "reduction", _rows, dtypes=FLOATS, call=lambda c, x: c.fn(x, 0.9, dim=1),
           reference=lambda x: np.quantile(x, 0.9, axis=1)),
    Kernel("torch.allclose", "reduction", _allclose_inputs, dtypes=FLOATS, call=_allclose_call,
           reference=_allclose_ref, note="default and loose tolerances, NaN with and without equal_nan, broadcasting"),
    Kernel("torch.max", "reduction", _distinct_rows(with_y=True), dtypes=(*FLOATS, "int64", "int32"),
           call=_max_call, reference=_max_ref, note="the global maximum, (values, indices) along rows, elementwise"),
    Kernel("torch.argmax", "reduction", _distinct_rows(), dtypes=(*FLOATS, "int64", "int32"),
           call=lambda c, x: (c.fn(x), c.fn(x, dim=-1), c.fn(x, dim=1, keepdim=True)),
           reference=lambda x: (x.argmax(), x.argmax(axis=-1), x.argmax(axis=1)[:, None]), out_dtype="int64"),
    # torch bug: in float16 the default eps (1e-8) that guards a zero vector rounds to 0 (float16's
    # smallest subnormal is 6e-8), so the zero row gives 0/0 = NaN, where float32 and bfloat16 give 0.
    Kernel("torch.cosine_similarity", "reduction", _cosine_inputs, dtypes=FLOATS,
           call=lambda c, x1, x2: c.fn(x1, x2, dim=1), reference=_cosine_ref, tol=DOT_TOL),
    Kernel("torch.nansum", "reduction", _with_nans, dtypes=FLOATS,
           call=lambda c, x: (c.fn(x), c.fn(x, dim=1)),
           reference=lambda x: (np.nansum(x), np.nansum(x, axis=1)), tol=SUM_TOL),
    Kernel("torch.Tensor.amax", "reduction", lambda rng: {"x": rng.standard_normal(rng.dims((4, 16), (32, 256),
                                                                                        (32, 256))) * 10},
           dtypes=(*FLOATS, "int64"),
           call=lambda c, x: (c.fn(x, dim=-1, keepdim=True), c.fn(x, dim=(1, 2)), c.fn(x)),
           reference=lambda x: (x.max(axis=-1, keepdims=True), x.max(axis=(1, 2)), x.max())),
    Kernel("torch.Tensor.min", "reduction", _distinct_rows_inputs, dtypes=(*FLOATS, "int64", "int32"), call=_min_call,
           reference=_min_ref, note="the global minimum, and (values, indices) along rows"),
    Kernel("torch.Tensor.argmin", "reduction", _distinct_rows_inputs, dtypes=(*FLOATS, "int64", "int32"),
           call=lambda c, x: (c.fn(x), c.fn(x, dim=1), c.fn(x, dim=-1, keepdim=True)),
           reference=lambda x: (x.argmin(), x.argmin(axis=1), x.argmin(axis=-1)[:, None]), out_dtype="int64"),
]
