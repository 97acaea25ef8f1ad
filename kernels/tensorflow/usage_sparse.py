"""Sparse tensors drawn in the usage sample: building a tf.SparseTensor, tf.sparse.slice and
tf.compat.v1.sparse.to_dense. Sparse outputs are checked as their (indices, values, dense_shape)."""

import numpy as np

from portability.catalog import Keep, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "int32", "int64")


def _coo(rng):
    """About 5% of a (rows, 1024) matrix, in row-major order: 64x1024 or 1024x1024 dense."""
    rows = rng.pick(64, 1024)
    flat = np.flatnonzero(rng.uniform(size=rows * 1024) < 0.05)
    return {"indices": Keep(np.stack([flat // 1024, flat % 1024], 1).astype(np.int64)),
            "values": rng.standard_normal(flat.size) * 10,
            "dense_shape": Keep(np.array([rows, 1024], dtype=np.int64))}


def _dense(indices, values, dense_shape, fill=0.0):
    out = np.full(tuple(dense_shape), fill, dtype=values.dtype)
    out[indices[:, 0], indices[:, 1]] = values
    return out


def _sparse_tensor_call(c, indices, values, dense_shape):
    """Build, then use as models do: densify, and sum each row with a sparse reduction."""
    sp = c.fn(indices, values, dense_shape)
    return c.fw.sparse.to_dense(sp), c.fw.sparse.reduce_sum(sp, axis=1), sp.dense_shape


def _sparse_tensor_ref(indices, values, dense_shape):
    dense = _dense(indices, values, dense_shape)
    return dense, dense.sum(axis=1), dense_shape


#: The box tf.sparse.slice cuts: it runs past the last column, so the result's shape is clipped.
START, SIZE = (5, 700), (40, 500)


def _slice_setup(c, indices, values, dense_shape):
    sp = c.fw.sparse.SparseTensor(indices, values, dense_shape)

    def step():
        out = c.fn(sp, START, SIZE)
        return out.indices, out.values, out.dense_shape

    return step


def _slice_ref(indices, values, dense_shape):
    lo, hi = np.array(START), np.minimum(np.array(START) + SIZE, dense_shape)
    inside = np.all((indices >= lo) & (indices < hi), axis=1)
    return indices[inside] - lo, values[inside], (hi - lo).astype(np.int64)


def _to_dense_setup(c, indices, values, dense_shape):
    sp = c.fw.sparse.SparseTensor(indices, values, dense_shape)
    fill = c.fw.constant(-1, values.dtype)
    return lambda: c.fn(sp, default_value=fill, validate_indices=True)


KERNELS = [
    Kernel("tf.SparseTensor", "creation", _coo, dtypes=ALL, call=_sparse_tensor_call, reference=_sparse_tensor_ref,
           note="5% of a (rows, 1024) matrix; densified and summed by row"),
    Kernel("tf.sparse.slice", "indexing", _coo, dtypes=ALL, setup=_slice_setup, reference=_slice_ref,
           note="rows 5..44, columns 700..1023 of the sparse matrix"),
    Kernel("tf.compat.v1.sparse.to_dense", "creation", _coo, dtypes=ALL, setup=_to_dense_setup,
           reference=lambda indices, values, dense_shape: _dense(indices, values, dense_shape, -1),
           note="default value -1, indices validated (sorted, unique)"),
]
