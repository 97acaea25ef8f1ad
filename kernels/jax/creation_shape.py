"""jax.numpy array creation, shape manipulation and indexing."""

import numpy as np

from portability.builders import integers, nothing
from portability.catalog import Keep, Kernel, paper, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "complex64", "int32", "int64", "bool")


def ints(*shape):
    """Small integer values: exact in every dtype the kernels sweep (int8 and bfloat16 included)."""
    return integers(*shape, low=-100, high=100)


def _python_list(rng):
    return {"x": rng.integers(-100, 100, (32, 32)).tolist()}


def _stack_inputs(rng):
    return {k: rng.integers(-100, 100, (256, 256)).astype(np.float64) for k in ("x", "y", "z")}


def _delete_inputs(rng):
    return {"x": rng.integers(-100, 100, (512, 256)).astype(np.float64),
            "idx": Keep(np.sort(rng.choice(512, 100, replace=False)).astype(np.int32))}


def _compress_inputs(rng):
    return {"cond": Keep(rng.random(512) < 0.5), "x": rng.integers(-100, 100, (512, 256)).astype(np.float64)}


SHAPE_DTYPES = (*FLOATS, "int32")

KERNELS = [
    Kernel("jax.numpy.ones", "creation", nothing(), dtypes=ALL, call=lambda c: c.fn((256, 256), dtype=c.dtype),
           reference=lambda: np.ones((256, 256)), out_dtype=same(*ALL), **paper(100, 919)),
    Kernel("jax.numpy.zeros", "creation", nothing(), dtypes=ALL, call=lambda c: c.fn((256, 256), dtype=c.dtype),
           reference=lambda: np.zeros((256, 256)), out_dtype=same(*ALL), **paper(100, 1060)),
    Kernel("jax.numpy.arange", "creation", nothing(), dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c: c.fn(4096, dtype=c.dtype), reference=lambda: np.arange(4096.0),
           out_dtype=same(*FLOATS, "int32", "int64"), **paper(100, 525)),
    Kernel("jax.numpy.array", "creation", _python_list, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, x: c.fn(x, dtype=c.dtype), reference=lambda x: np.array(x, dtype=np.float64),
           out_dtype=same(*FLOATS, "int32", "int64"), **paper(100, 2437)),
    Kernel("jax.numpy.flip", "shape", ints(512, 256), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, axis=0),
           reference=lambda x: np.flip(x, axis=0), out_dtype=same(*SHAPE_DTYPES), **paper(70, 17)),
    Kernel("jax.numpy.fliplr", "shape", ints(512, 256), dtypes=SHAPE_DTYPES, reference=np.fliplr,
           out_dtype=same(*SHAPE_DTYPES), **paper(30, 2)),
    Kernel("jax.numpy.split", "shape", ints(512, 256), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, 4, axis=1),
           reference=lambda x: np.split(x, 4, axis=1), out_dtype=same(*SHAPE_DTYPES), **paper(100, 2605)),
    Kernel("jax.numpy.stack", "shape", _stack_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, y, z: c.fn([x, y, z], axis=1), reference=lambda x, y, z: np.stack([x, y, z], axis=1),
           out_dtype=same(*SHAPE_DTYPES), **paper(90, 174)),
    Kernel("jax.Array.reshape", "shape", ints(256, 1024), dtypes=SHAPE_DTYPES,
           call=lambda c, x: x.reshape(512, 4, 128), reference=lambda x: x.reshape(512, 4, 128),
           out_dtype=same(*SHAPE_DTYPES), **paper(100, 940)),
    Kernel("jax.numpy.tril", "shape", ints(256, 256), dtypes=SHAPE_DTYPES, call=lambda c, x: c.fn(x, k=-1),
           reference=lambda x: np.tril(x, k=-1), out_dtype=same(*SHAPE_DTYPES), **paper(50, 6)),
    # Index functions: only the shape of x matters; indices come back in JAX's default int.
    Kernel("jax.numpy.tril_indices_from", "indexing", ints(256, 256), dtypes=("float32",),
           call=lambda c, x: c.fn(x, k=1), reference=lambda x: np.tril_indices_from(x, k=1), out_dtype=None,
           **paper(10, 1)),
    Kernel("jax.numpy.triu_indices", "indexing", nothing(), dtypes=("int32",),
           call=lambda c: c.fn(256, k=1, m=200), reference=lambda: np.triu_indices(256, k=1, m=200),
           out_dtype=None, **paper(10, 1)),
    Kernel("jax.numpy.delete", "indexing", _delete_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, x, idx: c.fn(x, idx, axis=0), reference=lambda x, idx: np.delete(x, idx, axis=0),
           out_dtype=same(*SHAPE_DTYPES), **paper(100, 999)),
    Kernel("jax.numpy.compress", "indexing", _compress_inputs, dtypes=SHAPE_DTYPES,
           call=lambda c, cond, x: c.fn(cond, x, axis=0), reference=lambda cond, x: np.compress(cond, x, axis=0),
           out_dtype=same(*SHAPE_DTYPES), **paper(70, 28)),
    Kernel("jax.lax.slice_in_dim", "indexing", ints(256, 1024), dtypes=SHAPE_DTYPES,
           call=lambda c, x: c.fn(x, 16, 1000, 3, axis=1), reference=lambda x: x[:, 16:1000:3],
           out_dtype=same(*SHAPE_DTYPES), **paper(40, 4)),
]
