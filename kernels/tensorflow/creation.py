"""TensorFlow tensor creation: constants, conversions, fills, ranges, masks, one_hot, variables and sparse
tensors.

Sparse outputs are checked as their (indices, values, dense_shape).
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, normal, paper, sparse_coo

ALL = (*FLOATS, "int32", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)
DEPTH = 100
NUMERIC = (*FLOATS, "int32", "int64")


def _shape(rng):
    """The output shape of tf.zeros / tf.fill: 4096 or 1M elements."""
    return {"shape": rng.dims(BIG_SIDE, BIG_SIDE)}


def _from_host(c, x):
    """tf.constant / tf.convert_to_tensor take a host NumPy array: make it untimed, time the call."""
    host = x.numpy()
    return lambda: c.fn(host)


def _fill_inputs(rng):
    return {"value": np.asarray(rng.uniform(1.0, 9.0)), **_shape(rng)}


def _range_inputs(rng):
    """range(-limit, limit, 3): 2048 values, or at medium 20480, about the longest such range float16
    can hold (its largest finite value is 65504). The limits are exact in float16 and bfloat16 (3072 =
    1.5 x 2^11, 30720 = 1.875 x 2^14): a limit the dtype rounds (3000 is 3008 in bfloat16) would make
    the range longer than the reference's, and that would be the kernel's error, not TensorFlow's."""
    return {"limit": rng.pick(3072, 30720)}


def _sequence_mask_inputs(rng):
    return {"lengths": rng.integers(0, 65, rng.pick(64, 16384)).astype(np.float64)}


def _one_hot_inputs(rng):
    return {"indices": Keep(rng.integers(0, DEPTH, rng.pick(40, 10000)).astype(np.int32))}


#: About 5% of a (rows, 1024) matrix in COO form: 64x1024 or 1024x1024 dense.
_coo = sparse_coo((64, 1024), 1024, 0.05)


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


def _to_dense_setup(c, indices, values, dense_shape):
    sp = c.fw.sparse.SparseTensor(indices, values, dense_shape)
    fill = c.fw.constant(-1, values.dtype)
    return lambda: c.fn(sp, default_value=fill, validate_indices=True)


KERNELS = [
    Kernel("tf.constant", "creation", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=ALL, setup=_from_host,
           reference=lambda x: x, **paper(100, 3231),
           note="a host NumPy array of the case dtype becomes a tensor (placed by the device scope)"),
    Kernel("tf.convert_to_tensor", "creation", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=ALL, setup=_from_host,
           reference=lambda x: x, **paper(100, 819)),
    Kernel("tf.zeros", "creation", _shape, dtypes=(*ALL, "complex64"),
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), reference=np.zeros,
           **paper(100, 1843)),
    Kernel("tf.fill", "creation", _fill_inputs, dtypes=ALL,
           call=lambda c, value, shape: c.fn(shape, value), reference=lambda value, shape: np.full(shape, value),
           **paper(90, 115)),
    Kernel("tf.range", "creation", _range_inputs,
           dtypes=("int32", "int64", "float32", "float64", "float16", "bfloat16"),
           call=lambda c, limit: c.fn(-limit, limit, 3, dtype=c.dtype),
           reference=lambda limit: np.arange(-limit, limit, 3),
           **paper(100, 4152),
           note="start/limit/delta are converted to the requested dtype before the length is computed"),
    Kernel("tf.sequence_mask", "creation", _sequence_mask_inputs, dtypes=("int32", "int64"), out_dtype="bool",
           call=lambda c, lengths: c.fn(lengths, 64),
           reference=lambda lengths: np.arange(64)[None, :] < lengths[:, None],
           **paper(70, 23)),
    Kernel("tf.experimental.numpy.diagflat", "creation", normal(BIG_SIDE, scale=10.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"), reference=np.diagflat,
           **paper(20, 2)),
    Kernel("tf.ones", "creation", _shape, dtypes=(*ALL, "complex64"),
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), reference=np.ones),
    Kernel("tf.compat.v1.zeros", "creation", _shape, dtypes=(*ALL, "complex64"),
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), reference=np.zeros),
    Kernel("tf.ones_like", "creation", normal(*N, scale=10.0), dtypes=(*ALL, "complex64"), reference=np.ones_like),
    Kernel("tf.one_hot", "creation", _one_hot_inputs, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, indices: c.fn(indices, DEPTH, dtype=c.dtype),
           reference=lambda indices: np.eye(DEPTH)[indices], note="integer labels to rows of depth 100"),
    Kernel("tf.Variable", "creation", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=(*FLOATS, "int32", "bool"),
           setup=lambda c, x: lambda: c.fn(x), reference=lambda x: x, **paper(100, 1875)),
    Kernel("tf.zeros_like", "creation", normal(*N, scale=10.0), dtypes=(*ALL, "complex64"), reference=np.zeros_like),
    Kernel("tf.SparseTensor", "creation", _coo, dtypes=NUMERIC, call=_sparse_tensor_call, reference=_sparse_tensor_ref,
           note="5% of a (rows, 1024) matrix; densified and summed by row"),
    Kernel("tf.compat.v1.sparse.to_dense", "creation", _coo, dtypes=NUMERIC, setup=_to_dense_setup,
           reference=lambda indices, values, dense_shape: _dense(indices, values, dense_shape, -1),
           note="default value -1, indices validated (sorted, unique)"),
]
