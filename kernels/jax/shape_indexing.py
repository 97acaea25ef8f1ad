"""jax.numpy / jax.lax / jax.Array shape, conversion and indexing APIs from the usage sample."""

import numpy as np

from portability.catalog import BIG_SIDE, VEC, Keep, Kernel, integers, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
SHAPE_DTYPES = (*FLOATS, "int32")
ALL = (*FLOATS, "complex64", "int32", "bool")


def ints(*shape):
    """Small integer values: exact in every swept dtype (bfloat16 holds integers up to 256)."""
    return integers(*shape, low=-100, high=100)


def _row(rng):
    (side,) = rng.dims(BIG_SIDE)
    return {"x": rng.integers(-100, 100, (1, side)).astype(np.float64), "shape": (side, side)}


def _asarray_setup(c, x):
    host = np.asarray(c.fw.device_get(x))  # the corpus converts host (NumPy) data to device arrays

    def run():
        out = c.fn(host)
        return isinstance(out, c.fw.Array), out

    return run


def _cube(rng):
    return {"x": rng.integers(-100, 100, rng.dims((16, 64), (16, 128), (16, 128))).astype(np.float64)}


def _three(rng):
    rows = rng.pick(64, 1024)
    return {k: rng.integers(-100, 100, (rows, rng.pick(w, 4 * w))).astype(np.float64)
            for k, w in (("x", 16), ("y", 32), ("z", 16))}


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


def _distinct_rows(rng):
    """Rows that are permutations of -128..127: exact and tie-free in every swept dtype."""
    return {"x": rng.permuted(np.tile(np.arange(-128.0, 128.0), (rng.pick(16, 4096), 1)), axis=1)}


def _take_inputs(rng):
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    # Negative indices count from the end, as in NumPy; all are in range (JAX fills out-of-range ones).
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "idx": Keep(rng.integers(-rows, rows, rows).astype(np.int32))}


def _vector(rng):
    return {"x": rng.integers(-100, 100, rng.dims(VEC)).astype(np.float64), "n": rng.pick(16, 64)}


KERNELS = [
    # As in the corpus: a row of biases broadcast against a batch.
    Kernel("jax.numpy.broadcast_to", "shape", _row, dtypes=ALL, reference=np.broadcast_to, out_dtype=same(*ALL)),
    Kernel("jax.numpy.asarray", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL, setup=_asarray_setup,
           reference=lambda x: (True, x), out_dtype=same(*ALL)),
    Kernel("jax.numpy.ones_like", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL, reference=np.ones_like,
           out_dtype=same(*ALL)),
    Kernel("jax.numpy.expand_dims", "shape", ints(BIG_SIDE, BIG_SIDE), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, -1), reference=lambda x: np.expand_dims(x, -1), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.concatenate", "shape", _three, dtypes=SHAPE_DTYPES,
           call=lambda c, x, y, z: c.fn([x, y, z], axis=-1),
           reference=lambda x, y, z: np.concatenate([x, y, z], axis=-1), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.lax.dynamic_update_slice", "indexing",
           {"default": _update_inputs((0.25, 0.5)), "clamped": _update_inputs((0.75, 0.9))}, dtypes=SHAPE_DTYPES,
           call=lambda c, x, u, i, j: c.fn(x, u, (i, j)), reference=_update_ref, out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.transpose", "shape", _cube, dtypes=SHAPE_DTYPES,
           call=lambda c, x: (c.fn(x, (2, 0, 1)), c.fn(x)),
           reference=lambda x: (np.transpose(x, (2, 0, 1)), np.transpose(x)), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.atleast_2d", "shape", _vector, dtypes=SHAPE_DTYPES,
           call=lambda c, x, n: c.fn(x, x[n], x.reshape(n, -1)),
           reference=lambda x, n: np.atleast_2d(x, x[n], x.reshape(n, -1)), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.ravel", "shape", _cube, dtypes=SHAPE_DTYPES, call=lambda c, x: (c.fn(x), c.fn(x, order="F")),
           reference=lambda x: (np.ravel(x), np.ravel(x, order="F")), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.take_along_axis", "indexing", _gather_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, idx: c.fn(x, idx, axis=-1),
           reference=lambda x, idx: np.take_along_axis(x, idx, axis=-1), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.nonzero", "indexing", _sparse, dtypes=(*SHAPE_DTYPES, "bool"), reference=np.nonzero,
           out_dtype="int32"),
    Kernel("jax.Array.argsort", "reduction", _distinct_rows, dtypes=(*SHAPE_DTYPES, "int8"),
           call=lambda c, x: x.argsort(axis=-1), reference=lambda x: np.argsort(x, axis=-1), out_dtype="int32"),
    Kernel("jax.Array.take", "indexing", _take_inputs, dtypes=SHAPE_DTYPES, call=lambda c, x, idx: x.take(idx, axis=0),
           reference=lambda x, idx: np.take(x, idx, axis=0), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.lax.broadcast", "shape", ints(BIG_SIDE), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, x.shape),
           reference=lambda x: np.broadcast_to(x, (*x.shape, *x.shape)), out_dtype=same(*SHAPE_DTYPES)),
]
