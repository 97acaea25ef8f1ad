"""jax.numpy array creation, shape manipulation and indexing."""

import numpy as np

from portability.catalog import Keep, Kernel, integers, paper, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "complex64", "int32", "int64", "bool")
WIDE = ((512, 1024), (256, 1024))  # 512x256 at small, 1024x1024 at medium
SQUARE = ((256, 1024), (256, 1024))


def ints(*shape):
    """Small integer values: exact in every dtype the kernels sweep (int8 and bfloat16 included)."""
    return integers(*shape, low=-100, high=100)


def _shape(rng):
    return {"shape": rng.dims(*SQUARE)}


def _arange_length(rng):
    # float16 holds no integer above 65504: a longer arange would only measure overflow to inf.
    return {"n": rng.pick(4096, 65504)}


def _python_list(rng):
    # Converting a Python list is host work (~0.5 s per 1M ints): 512x512 at medium.
    return {"x": rng.integers(-100, 100, rng.dims((32, 512), (32, 512))).tolist()}


def _stack_inputs(rng):
    return {k: rng.integers(-100, 100, rng.dims((256, 576), (256, 576))).astype(np.float64) for k in ("x", "y", "z")}


def _delete_inputs(rng):
    rows, cols, n = rng.pick(512, 2048), rng.pick(256, 512), rng.pick(100, 400)
    return {"x": rng.integers(-100, 100, (rows, cols)).astype(np.float64),
            "idx": Keep(np.sort(rng.choice(rows, n, replace=False)).astype(np.int32))}


def _compress_inputs(rng):
    rows, cols = rng.pick(512, 2048), rng.pick(256, 512)
    return {"cond": Keep(rng.random(rows) < 0.5), "x": rng.integers(-100, 100, (rows, cols)).astype(np.float64)}


def _triu_args(rng):
    return {"n": rng.pick(256, 1024), "m": rng.pick(200, 800)}


SHAPE_DTYPES = (*FLOATS, "int32")

KERNELS = [
    Kernel("jax.numpy.ones", "creation", _shape, dtypes=ALL, call=lambda c, shape: c.fn(shape, dtype=c.dtype),
           reference=np.ones, out_dtype=same(*ALL), **paper(100, 919)),
    Kernel("jax.numpy.zeros", "creation", _shape, dtypes=ALL, call=lambda c, shape: c.fn(shape, dtype=c.dtype),
           reference=np.zeros, out_dtype=same(*ALL), **paper(100, 1060)),
    Kernel("jax.numpy.arange", "creation", _arange_length, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, n: c.fn(n, dtype=c.dtype), reference=lambda n: np.arange(float(n)),
           out_dtype=same(*FLOATS, "int32", "int64"), **paper(100, 525)),
    Kernel("jax.numpy.array", "creation", _python_list, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, x: c.fn(x, dtype=c.dtype), reference=lambda x: np.array(x, dtype=np.float64),
           out_dtype=same(*FLOATS, "int32", "int64"), **paper(100, 2437)),
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
    # Index functions: only the shape of x matters; indices come back in JAX's default int.
    Kernel("jax.numpy.tril_indices_from", "indexing", ints(*SQUARE), dtypes=("float32",),
           call=lambda c, x: c.fn(x, k=1), reference=lambda x: np.tril_indices_from(x, k=1), out_dtype=None,
           **paper(10, 1)),
    Kernel("jax.numpy.triu_indices", "indexing", _triu_args, dtypes=("int32",),
           call=lambda c, n, m: c.fn(n, k=1, m=m), reference=lambda n, m: np.triu_indices(n, k=1, m=m),
           out_dtype=None, **paper(10, 1)),
    Kernel("jax.numpy.delete", "indexing", _delete_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, idx: c.fn(x, idx, axis=0), reference=lambda x, idx: np.delete(x, idx, axis=0),
           out_dtype=same(*SHAPE_DTYPES), **paper(100, 999)),
    Kernel("jax.numpy.compress", "indexing", _compress_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, cond, x: c.fn(cond, x, axis=0), reference=lambda cond, x: np.compress(cond, x, axis=0),
           out_dtype=same(*SHAPE_DTYPES), **paper(70, 28)),
    Kernel("jax.lax.slice_in_dim", "indexing", ints((256, 1024), 1024), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, 16, 1000, 3, axis=1), reference=lambda x: x[:, 16:1000:3],
           out_dtype=same(*SHAPE_DTYPES), **paper(40, 4)),
]
