"""jax.numpy / jax.lax indexing: index functions, where and select, dynamic slices and updates, take and nonzero."""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, integers, paper, same

SQUARE = ((256, 1024), (256, 1024))
SHAPE_DTYPES = (*FLOATS, "int32")
N = (64 * 1024, 1 << 20)  # elements in the big elementwise arrays


def ints(*shape):
    """Small integer values: exact in every dtype the kernels sweep (int8 and bfloat16 included)."""
    return integers(*shape, low=-100, high=100)


def _delete_inputs(rng):
    rows, cols, n = rng.pick(512, 2048), rng.pick(256, 512), rng.pick(100, 400)
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "idx": Keep(np.sort(rng.choice(rows, n, replace=False)).astype(np.int32))}


def _compress_inputs(rng):
    rows, cols = rng.pick(512, 2048), rng.pick(256, 512)
    return {"cond": Keep(rng.random(rows) < 0.5), "x": rng.integers(-100, 100, (rows, cols)).astype(np.float64)}


def _triu_args(rng):
    return {"n": rng.pick(256, 1024), "m": rng.pick(200, 800)}


def _where_inputs(rng):
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"cond": Keep(rng.random(dims) < 0.5), "x": rng.integers(-100, 100, dims).astype(np.float64),
            "y": rng.integers(-100, 100, dims).astype(np.float64)}


def _slice_inputs(start):
    """A matrix and the start of a (side/2, side/4) window; ``start`` is a fraction of the side,
    past 1 - window for the clamped variant (lax.dynamic_slice clamps it back into range)."""

    def build(rng):
        (side,) = rng.dims(BIG_SIDE)
        x = rng.integers(-100, 100, (side, side)).astype(np.float64)
        return {"x": x, "i": Keep(np.int32(start[0] * side)), "j": Keep(np.int32(start[1] * side)),
                "size": (side // 2, side // 4)}

    return build


def _dynamic_slice_ref(x, i, j, size):
    i = min(max(int(i), 0), x.shape[0] - size[0])
    j = min(max(int(j), 0), x.shape[1] - size[1])
    return x[i:i + size[0], j:j + size[1]]


def _index_inputs(rng):
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.integers(-100, 100, dims).astype(np.float64), "i": Keep(np.int32(dims[1] // 3))}


def _select_inputs(rng):
    (n,) = rng.dims(N)
    return {"pred": Keep(rng.random(n) < 0.5), "x": rng.standard_normal(n), "y": rng.standard_normal(n)}


def _update_inputs(start):
    """A matrix, a (side/2, side/4) block and its start as fractions of the side; the clamped
    variant starts past the end (lax.dynamic_update_slice clamps the start so the block fits)."""

    def build(rng):
        (side,) = rng.dims(BIG_SIDE)
        return {"x": rng.integers(-100, 100, (side, side)).astype(np.float64),
                "u": rng.integers(-100, 100, (side // 2, side // 4)).astype(np.float64),
                "i": Keep(np.int32(start[0] * side)), "j": Keep(np.int32(start[1] * side))}

    return build


def _update_ref(x, u, i, j):
    i = min(max(int(i), 0), x.shape[0] - u.shape[0])
    j = min(max(int(j), 0), x.shape[1] - u.shape[1])
    out = x.copy()
    out[i:i + u.shape[0], j:j + u.shape[1]] = u
    return out


def _gather_inputs(rng):
    """Scores and, per row, 8 column indices to pick (as in picking the logits of chosen labels)."""
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "idx": Keep(rng.integers(0, cols, (rows, 8)).astype(np.int32))}


def _sparse(rng):
    """About one entry in ten nonzero."""
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": np.where(rng.random(dims) < 0.1, rng.integers(1, 100, dims).astype(np.float64), 0.0)}


def _take_inputs(rng):
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    # Negative indices count from the end, as in NumPy; all are in range (JAX fills out-of-range ones).
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "idx": Keep(rng.integers(-rows, rows, rows).astype(np.int32))}


KERNELS = [
    # Index functions: only the shape of x matters; indices come back in JAX's default int.
    Kernel("jax.numpy.tril_indices_from", "indexing", ints(*SQUARE), dtypes=("float32",),
           call=lambda c, x: c.fn(x, k=1), reference=lambda x: np.tril_indices_from(x, k=1),
           **paper(10, 1)),
    Kernel("jax.numpy.triu_indices", "indexing", _triu_args, dtypes=("int32",),
           call=lambda c, n, m: c.fn(n, k=1, m=m), reference=lambda n, m: np.triu_indices(n, k=1, m=m), **paper(10, 1)),
    Kernel("jax.numpy.delete", "indexing", _delete_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, idx: c.fn(x, idx, axis=0), reference=lambda x, idx: np.delete(x, idx, axis=0),
           out_dtype=same(*SHAPE_DTYPES), **paper(100, 999)),
    Kernel("jax.numpy.compress", "indexing", _compress_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, cond, x: c.fn(cond, x, axis=0), reference=lambda cond, x: np.compress(cond, x, axis=0),
           out_dtype=same(*SHAPE_DTYPES), **paper(70, 28)),
    Kernel("jax.lax.slice_in_dim", "indexing", ints((256, 1024), 1024), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, 16, 1000, 3, axis=1), reference=lambda x: x[:, 16:1000:3],
           out_dtype=same(*SHAPE_DTYPES), **paper(40, 4)),
    Kernel("jax.numpy.where", "indexing", _where_inputs, dtypes=(*FLOATS, "complex64", "int32"),
           reference=np.where, out_dtype=same(*FLOATS, "complex64", "int32")),
    Kernel("jax.lax.dynamic_slice", "indexing",
           {"default": _slice_inputs((0.25, 0.5)), "clamped": _slice_inputs((0.75, 0.9))}, dtypes=SHAPE_DTYPES,
           call=lambda c, x, i, j, size: c.fn(x, (i, j), size), reference=_dynamic_slice_ref,
           out_dtype=same(*SHAPE_DTYPES)),
    # As in tensorflow-probability: one column picked by a device index, its axis dropped.
    Kernel("jax.lax.dynamic_index_in_dim", "indexing", _index_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, i: c.fn(x, i, axis=1, keepdims=False), reference=lambda x, i: x[:, int(i)],
           out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.lax.select", "indexing", _select_inputs, dtypes=(*FLOATS, "int32"),
           reference=np.where, out_dtype=same(*FLOATS, "int32"), **paper(90, 172)),
    Kernel("jax.lax.dynamic_update_slice", "indexing",
           {"default": _update_inputs((0.25, 0.5)), "clamped": _update_inputs((0.75, 0.9))}, dtypes=SHAPE_DTYPES,
           call=lambda c, x, u, i, j: c.fn(x, u, (i, j)), reference=_update_ref, out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.take_along_axis", "indexing", _gather_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, idx: c.fn(x, idx, axis=-1),
           reference=lambda x, idx: np.take_along_axis(x, idx, axis=-1), out_dtype=same(*SHAPE_DTYPES)),
    # indices in JAX's default integer type: int64 with 64-bit types on (int32 without: fail:downcast)
    Kernel("jax.numpy.nonzero", "indexing", _sparse, dtypes=(*SHAPE_DTYPES, "bool"), reference=np.nonzero,
           out_dtype="int64"),
    Kernel("jax.Array.take", "indexing", _take_inputs, dtypes=SHAPE_DTYPES, call=lambda c, x, idx: x.take(idx, axis=0),
           reference=lambda x, idx: np.take(x, idx, axis=0), out_dtype=same(*SHAPE_DTYPES)),
]
