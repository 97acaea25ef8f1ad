"""TensorFlow indexing: where, boolean_mask, unique, gather, scatter updates, sparse slices and a lookup-table
initializer.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, paper, sparse_coo

ALL = (*FLOATS, "int32", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)
NUMERIC = (*FLOATS, "int32", "int64")
#: The box tf.sparse.slice cuts: it runs past the last column, so the result's shape is clipped.
START, SIZE = (5, 700), (40, 500)


def _where_inputs(rng):
    shape = rng.dims(*N)
    return {"cond": Keep(rng.uniform(size=shape) < 0.3), "x": rng.standard_normal(shape) * 10,
            "y": rng.standard_normal(shape) * 10}


def _where_call(c, cond, x, y):
    """Both forms: select between x and y, and the coordinates of the true elements."""
    return c.fn(cond, x, y), c.fn(cond)


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


def _row_mask_inputs(rng):
    rows = rng.pick(64, 16384)
    return {"x": rng.standard_normal((rows, 64)) * 10, "mask": Keep(rng.uniform(size=rows) < 0.4)}


def _scatter_inputs(rng):
    n, k = rng.pick(64, 16384), rng.pick(8, 2048)  # rows of 64, k of them updated
    rows = rng.choice(n, size=k, replace=False)
    return {
        "tensor": rng.integers(-20, 20, (n, 64)).astype(np.float64),
        "indices": Keep(rows.reshape(-1, 1).astype(np.int32)),
        "updates": rng.integers(-20, 20, (k, 64)).astype(np.float64),
    }


def _scatter_ref(tensor, indices, updates):
    out = np.array(tensor, copy=True)
    out[indices[:, 0]] = updates
    return out


def _gather_inputs(rng):
    rows = rng.pick(1024, 16384)
    return {"params": rng.standard_normal((rows, 64)),
            "indices": Keep(rng.integers(0, rows, rng.pick(64, 16384)).astype(np.int32))}


# -- tf.lookup.KeyValueTensorInitializer of a StaticHashTable -------------------------------------

def _table(rng):
    n = rng.pick(4096, 1 << 20)
    keys = rng.permutation(2 * n)[:n]  # distinct; queries below hit about half of them
    return {"keys": keys.astype(np.float64), "values": Keep(rng.integers(-1000, 1000, n)),
            "queries": rng.integers(0, 2 * n, n).astype(np.float64)}


def _table_setup(c, keys, values, queries):
    tf = c.fw

    def step():
        table = tf.lookup.StaticHashTable(c.fn(keys, values), default_value=-1)
        return table.lookup(queries)

    return step


def _table_ref(keys, values, queries):
    mapping = dict(zip(keys.tolist(), values.tolist(), strict=True))
    return np.array([mapping.get(q, -1) for q in queries.tolist()], dtype=np.int64)


#: About 5% of a (rows, 1024) matrix in COO form: 64x1024 or 1024x1024 dense.
_coo = sparse_coo((64, 1024), 1024, 0.05)


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


KERNELS = [
    Kernel("tf.where", "indexing", _where_inputs, dtypes=ALL, call=_where_call,
           reference=lambda cond, x, y: (np.where(cond, x, y), np.argwhere(cond).astype(np.int64)),
           note="select (cond, x, y) and coordinates of the true elements (cond)"),
    Kernel("tf.boolean_mask", "indexing", _mask_inputs, dtypes=ALL, reference=lambda x, mask: x[mask],
           note="a mask of x's own shape: the selected elements, flattened"),
    Kernel("tf.unique", "indexing", _unique_inputs, dtypes=(*FLOATS, "int32", "int64"), reference=_unique_ref,
           note="values in order of first occurrence, and int32 positions of each element in them"),
    Kernel("tf.compat.v1.boolean_mask", "indexing", _row_mask_inputs, dtypes=ALL,
           reference=lambda x, mask: x[mask], note="rows of 64 selected by a row mask"),
    Kernel("tf.tensor_scatter_nd_update", "indexing", _scatter_inputs, dtypes=ALL, reference=_scatter_ref,
           **paper(10, 1)),
    Kernel("tf.gather", "indexing", _gather_inputs, dtypes=ALL, reference=lambda params, indices: params[indices]),
    Kernel("tf.lookup.KeyValueTensorInitializer", "indexing", _table, dtypes=("int64", "int32"),
           setup=_table_setup, reference=_table_ref, out_dtype="int64", **paper(50, 7),
           note="int64 values; keys of the case dtype (the upstream test expects int32 keys to fail)"),
    Kernel("tf.sparse.slice", "indexing", _coo, dtypes=NUMERIC, setup=_slice_setup, reference=_slice_ref,
           note="rows 5..44, columns 700..1023 of the sparse matrix"),
]
