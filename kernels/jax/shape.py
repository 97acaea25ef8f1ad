"""jax.numpy / jax.lax / jax.Array shape manipulation, BCOO's squeeze and the all_gather collective."""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, VEC, Kernel, integers, normal, paper, same, sparse_matrix

WIDE = ((512, 1024), (256, 1024))  # 512x256 at small, 1024x1024 at medium
SQUARE = ((256, 1024), (256, 1024))
SHAPE_DTYPES = (*FLOATS, "int32")
ALL = (*FLOATS, "complex64", "int32", "bool")
DTYPES = (*FLOATS, "int32")
#: about one entry in ten nonzero, small integers: exact in every dtype
_SPARSE = sparse_matrix(BIG_SIDE, BIG_SIDE)


def ints(*shape):
    """Small integer values: exact in every dtype the kernels sweep (int8 and bfloat16 included)."""
    return integers(*shape, low=-100, high=100)


def _stack_inputs(rng):
    return {k: rng.integers(-100, 100, rng.dims((256, 576), (256, 576))).astype(np.float64) for k in ("x", "y", "z")}


def _three(rng):
    dims = rng.dims((64, 512), (64, 1024))
    return {k: rng.integers(-100, 100, dims).astype(np.float64) for k in ("x", "y", "z")}


def _append_inputs(rng):
    rows, cols = rng.pick(64, 1024), rng.pick(64, 1024)
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "y": rng.integers(-100, 100, (rows // 4, cols)).astype(np.float64)}


def _all_gather(c, x):
    return c.fw.vmap(lambda v: c.fn(v, "i"), axis_name="i")(x)


def _row(rng):
    (side,) = rng.dims(BIG_SIDE)
    return {"x": rng.integers(-100, 100, (1, side)).astype(np.float64), "shape": (side, side)}


def _cube(rng):
    return {"x": rng.integers(-100, 100, rng.dims((16, 64), (16, 128), (16, 128))).astype(np.float64)}


def _three_widths(rng):
    rows = rng.pick(64, 1024)
    return {k: rng.integers(-100, 100, (rows, rng.pick(w, 4 * w))).astype(np.float64)
            for k, w in (("x", 16), ("y", 32), ("z", 16))}


def _vector(rng):
    return {"x": rng.integers(-100, 100, rng.dims(VEC)).astype(np.float64), "n": rng.pick(16, 64)}


def _squeeze_setup(c, x):
    mat = c.fw.experimental.sparse.BCOO.fromdense(x[None])  # a leading batch axis of one
    return lambda: c.fn(mat, dimensions=(0,)).todense()


KERNELS = [
    Kernel("jax.numpy.flip", "shape", ints(*WIDE), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, axis=0),
           reference=lambda x: np.flip(x, axis=0), out_dtype=same(*SHAPE_DTYPES), **paper(70, 17)),
    Kernel("jax.numpy.fliplr", "shape", ints(*WIDE), dtypes=SHAPE_DTYPES, reference=np.fliplr,
           out_dtype=same(*SHAPE_DTYPES), **paper(30, 2)),
    Kernel("jax.numpy.split", "shape", ints(*WIDE), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, 4, axis=1),
           reference=lambda x: np.split(x, 4, axis=1), out_dtype=same(*SHAPE_DTYPES), **paper(100, 2605)),
    Kernel("jax.numpy.stack", "shape", _stack_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, y, z: c.fn([x, y, z], axis=1), reference=lambda x, y, z: np.stack([x, y, z], axis=1),
           out_dtype=same(*SHAPE_DTYPES), **paper(90, 174)),
    Kernel("jax.Array.reshape", "shape", ints((256, 1024), 1024), dtypes=SHAPE_DTYPES,
           call=lambda c, x: x.reshape(-1, 4, 128), reference=lambda x: x.reshape(-1, 4, 128),
           out_dtype=same(*SHAPE_DTYPES), **paper(100, 940)),
    Kernel("jax.numpy.tril", "shape", ints(*SQUARE), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, k=-1),
           reference=lambda x: np.tril(x, k=-1), out_dtype=same(*SHAPE_DTYPES), **paper(50, 6)),
    Kernel("jax.numpy.reshape", "shape", ints(BIG_SIDE, BIG_SIDE), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, (-1, 4, 16)), reference=lambda x: np.reshape(x, (-1, 4, 16)),
           out_dtype=same(*SHAPE_DTYPES)),
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
    Kernel("jax.lax.all_gather", "shape", normal(16, (1024, 4096)), dtypes=(*FLOATS, "int32"), call=_all_gather,
           reference=lambda x: np.broadcast_to(x, (16, *x.shape)), out_dtype=same(*FLOATS, "int32"),
           **paper(70, 19)),
    # As in the corpus: a row of biases broadcast against a batch.
    Kernel("jax.numpy.broadcast_to", "shape", _row, dtypes=ALL, reference=np.broadcast_to, out_dtype=same(*ALL)),
    Kernel("jax.numpy.expand_dims", "shape", ints(BIG_SIDE, BIG_SIDE), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, -1), reference=lambda x: np.expand_dims(x, -1), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.concatenate", "shape", _three_widths, dtypes=SHAPE_DTYPES,
           call=lambda c, x, y, z: c.fn([x, y, z], axis=-1),
           reference=lambda x, y, z: np.concatenate([x, y, z], axis=-1), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.transpose", "shape", _cube, dtypes=SHAPE_DTYPES,
           call=lambda c, x: (c.fn(x, (2, 0, 1)), c.fn(x)),
           reference=lambda x: (np.transpose(x, (2, 0, 1)), np.transpose(x)), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.atleast_2d", "shape", _vector, dtypes=SHAPE_DTYPES,
           call=lambda c, x, n: c.fn(x, x[n], x.reshape(n, -1)),
           reference=lambda x, n: np.atleast_2d(x, x[n], x.reshape(n, -1)), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.numpy.ravel", "shape", _cube, dtypes=SHAPE_DTYPES, call=lambda c, x: (c.fn(x), c.fn(x, order="F")),
           reference=lambda x: (np.ravel(x), np.ravel(x, order="F")), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.lax.broadcast", "shape", ints(BIG_SIDE), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, x.shape),
           reference=lambda x: np.broadcast_to(x, (*x.shape, *x.shape)), out_dtype=same(*SHAPE_DTYPES)),
    Kernel("jax.experimental.sparse.bcoo_squeeze", "shape", _SPARSE, dtypes=DTYPES, setup=_squeeze_setup,
           reference=lambda x: x, out_dtype=same(*DTYPES)),
]
