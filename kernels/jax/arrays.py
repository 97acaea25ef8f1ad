"""jax.numpy / jax.lax creation, shape and indexing APIs from the usage sample."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, integers, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
SHAPE_DTYPES = (*FLOATS, "int32")
NUMERIC = (*FLOATS, "complex64", "int32", "int64")
ALL = (*NUMERIC, "bool")


def ints(*shape):
    """Small integer values: exact in every swept dtype (bfloat16 holds integers up to 256)."""
    return integers(*shape, low=-100, high=100)


def _shape(rng):
    return {"shape": rng.dims(BIG_SIDE, BIG_SIDE)}


def _iota_length(rng):
    # float16 holds no integer above 65504: a longer iota would only measure overflow to inf.
    return {"n": rng.pick(4096, 65504)}


def _side(rng):
    return {"n": rng.pick(64, 1024)}


def _where_inputs(rng):
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"cond": Keep(rng.random(dims) < 0.5), "x": rng.integers(-100, 100, dims).astype(np.float64),
            "y": rng.integers(-100, 100, dims).astype(np.float64)}


def _three(rng):
    dims = rng.dims((64, 512), (64, 1024))
    return {k: rng.integers(-100, 100, dims).astype(np.float64) for k in ("x", "y", "z")}


def _append_inputs(rng):
    rows, cols = rng.pick(64, 1024), rng.pick(64, 1024)
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "y": rng.integers(-100, 100, (rows // 4, cols)).astype(np.float64)}


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


KERNELS = [
    Kernel("jax.numpy.where", "indexing", _where_inputs, dtypes=(*FLOATS, "complex64", "int32"),
           reference=np.where, out_dtype=same(*FLOATS, "complex64", "int32")),
    Kernel("jax.numpy.reshape", "shape", ints(BIG_SIDE, BIG_SIDE), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, (-1, 4, 16)), reference=lambda x: np.reshape(x, (-1, 4, 16)),
           out_dtype=same(*SHAPE_DTYPES)),
    # Integer-valued fill: exact in every dtype, so the float64 reference holds for integer cases too.
    Kernel("jax.numpy.full", "creation", _shape, dtypes=NUMERIC,
           call=lambda c, shape: c.fn(shape, -3.0, dtype=c.dtype), reference=lambda shape: np.full(shape, -3.0),
           out_dtype=same(*NUMERIC)),
    Kernel("jax.numpy.zeros_like", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL, reference=np.zeros_like,
           out_dtype=same(*ALL)),
    Kernel("jax.numpy.full_like", "creation", ints(BIG_SIDE, BIG_SIDE), dtypes=ALL,
           call=lambda c, x: c.fn(x, 2.0), reference=lambda x: np.full_like(x, 2.0), out_dtype=same(*ALL)),
    Kernel("jax.numpy.identity", "creation", _side, dtypes=(*FLOATS, "complex64", "int32", "bool"),
           call=lambda c, n: c.fn(n, dtype=c.dtype), reference=np.identity,
           out_dtype=same(*FLOATS, "complex64", "int32", "bool")),
    Kernel("jax.lax.iota", "creation", _iota_length, dtypes=(*FLOATS, "int32"),
           call=lambda c, n: c.fn(c.dtype, n), reference=lambda n: np.arange(float(n)),
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.numpy.squeeze", "shape", ints(BIG_SIDE, 1, BIG_SIDE), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.squeeze(x, axis=1),
           out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.Array.squeeze", "shape", ints(1, BIG_SIDE, 1, BIG_SIDE), dtypes=SHAPE_DTYPES,
           call=lambda c, x: x.squeeze(), reference=np.squeeze, out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.append", "shape", _append_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, y: c.fn(x, y, axis=0), reference=lambda x, y: np.append(x, y, axis=0),
           out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.vstack", "shape", _three, dtypes=SHAPE_DTYPES, call=lambda c, x, y, z: c.fn([x, y, z]),
           reference=lambda x, y, z: np.vstack([x, y, z]), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.lax.dynamic_slice", "indexing",
           {"default": _slice_inputs((0.25, 0.5)), "clamped": _slice_inputs((0.75, 0.9))}, dtypes=SHAPE_DTYPES,
           call=lambda c, x, i, j, size: c.fn(x, (i, j), size), reference=_dynamic_slice_ref,
           out_dtype=same(*SHAPE_DTYPES)),
    # As in tensorflow-probability: one column picked by a device index, its axis dropped.
    Kernel("jax.lax.dynamic_index_in_dim", "indexing", _index_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, i: c.fn(x, i, axis=1, keepdims=False), reference=lambda x, i: x[:, int(i)],
           out_dtype=same(*SHAPE_DTYPES)),
]
