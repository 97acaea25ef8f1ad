"""Shape, creation and indexing ops drawn in the usage sample: tf.where, tf.concat, tf.stack,
tf.tile, tf.transpose, tf.expand_dims, tf.boolean_mask, tf.unique, tf.broadcast_dynamic_shape ..."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, normal, same

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "int32", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)
#: Rows of 1024 at both sizes; --size sets the number of rows.
ROWS = (4, 1024)


def _where_inputs(rng):
    shape = rng.dims(*N)
    return {"cond": Keep(rng.uniform(size=shape) < 0.3), "x": rng.standard_normal(shape) * 10,
            "y": rng.standard_normal(shape) * 10}


def _where_call(c, cond, x, y):
    """Both forms: select between x and y, and the coordinates of the true elements."""
    return c.fn(cond, x, y), c.fn(cond)


def _concat_inputs(rng):
    rows = rng.pick(*ROWS)
    return {f"p{i}": rng.standard_normal((rows, w)) * 10 for i, w in enumerate((256, 512, 256))}


def _stack_inputs(rng):
    shape = rng.dims((64, 512), (16, 512))
    return {f"p{i}": rng.standard_normal(shape) * 10 for i in range(4)}


def _nhwc(rng):
    """NHWC feature maps: 4096 or 1M elements."""
    return {"x": rng.standard_normal(rng.dims((2, 16), (16, 64), (16, 64), (8, 16))) * 10}


def _mask_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape) * 10, "mask": Keep(rng.uniform(size=shape) < 0.5)}


def _unique_inputs(rng):
    """Integer values in [-500, 500): many repeats (and exact in every dtype up to bfloat16's rounding,
    which the reference sees too)."""
    return {"x": rng.integers(-500, 500, rng.pick(4096, 1 << 20)).astype(np.float64)}


def _unique_ref(x):
    values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    order = np.argsort(first)  # tf.unique lists values in order of first occurrence
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return values[order], rank[inverse.ravel()].astype(np.int32)


def _broadcast_shapes(rng):
    """Two pairs of shapes (cast to the case's integer dtype): ranks 4 and 3 with unit dimensions
    here and there; the second pair broadcasts a zero-length dimension."""
    base = rng.integers(2, 9, 4)
    a, b = base.copy(), base[1:].copy()
    a[rng.integers(0, 4)] = 1
    b[rng.integers(0, 3)] = 1
    zero = np.array([3, 0, 1], dtype=np.int64)
    return {"a": a.astype(np.float64), "b": b.astype(np.float64), "p": zero.astype(np.float64),
            "q": np.array([1, 5], dtype=np.float64)}


def _broadcast_call(c, a, b, p, q):
    return c.fn(a, b), c.fn(p, q)


def _broadcast_ref(a, b, p, q):
    return (np.array(np.broadcast_shapes(tuple(a), tuple(b)), dtype=a.dtype),
            np.array(np.broadcast_shapes(tuple(p), tuple(q)), dtype=p.dtype))


KERNELS = [
    Kernel("tf.where", "indexing", _where_inputs, dtypes=ALL, call=_where_call,
           reference=lambda cond, x, y: (np.where(cond, x, y), np.argwhere(cond).astype(np.int64)),
           note="select (cond, x, y) and coordinates of the true elements (cond)"),
    Kernel("tf.concat", "shape", _concat_inputs, dtypes=(*ALL, "complex64"),
           call=lambda c, **p: c.fn(list(p.values()), axis=-1),
           reference=lambda *p: np.concatenate(p, axis=-1), note="three feature blocks of 256, 512, 256 columns"),
    Kernel("tf.expand_dims", "shape", normal(*N, scale=10.0), dtypes=ALL, call=lambda c, x: c.fn(x, axis=1),
           reference=lambda x: np.expand_dims(x, 1)),
    Kernel("tf.transpose", "shape", _nhwc, dtypes=ALL, call=lambda c, x: c.fn(x, perm=[0, 3, 1, 2]),
           reference=lambda x: np.transpose(x, (0, 3, 1, 2)), note="NHWC to NCHW"),
    Kernel("tf.zeros_like", "creation", normal(*N, scale=10.0), dtypes=(*ALL, "complex64"), reference=np.zeros_like),
    Kernel("tf.stack", "shape", _stack_inputs, dtypes=ALL, call=lambda c, **p: c.fn(list(p.values()), axis=1),
           reference=lambda *p: np.stack(p, axis=1)),
    Kernel("tf.tile", "shape", normal((16, 1024), 256, scale=10.0), dtypes=ALL,
           call=lambda c, x: c.fn(x, [2, 4]), reference=lambda x: np.tile(x, (2, 4))),
    Kernel("tf.identity", "shape", normal(*N, scale=10.0), dtypes=(*ALL, "complex64"), reference=lambda x: x),
    Kernel("tf.boolean_mask", "indexing", _mask_inputs, dtypes=ALL, reference=lambda x, mask: x[mask],
           note="a mask of x's own shape: the selected elements, flattened"),
    Kernel("tf.unique", "indexing", _unique_inputs, dtypes=(*FLOATS, "int32", "int64"), reference=_unique_ref,
           note="values in order of first occurrence, and int32 positions of each element in them"),
    Kernel("tf.broadcast_dynamic_shape", "shape", _broadcast_shapes, dtypes=("int32", "int64"),
           out_dtype=same("int32", "int64"), call=_broadcast_call, reference=_broadcast_ref),
]
