"""Creation, shape and indexing ops drawn in the usage sample: tf.shape, tf.ones, tf.split,
tf.one_hot, boolean_mask, RaggedTensor.from_tensor, tf.get_static_value ..."""

import numpy as np

from portability.catalog import BIG_SIDE, VEC, Keep, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "int32", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)
#: Rows of 1024 at both sizes; --size sets the number of rows.
ROWS = (4, 1024)
DEPTH = 100


def _shape(rng):
    return {"shape": rng.dims(*N)}


def _images(rng):
    """NHWC maps: 4096 or 1M elements."""
    return {"x": rng.standard_normal(rng.dims((2, 16), (16, 128), (16, 128), (8, 4))) * 10}


def _broadcast_inputs(rng):
    rows, cols = rng.dims(*N)
    return {"x": rng.standard_normal((1, cols)) * 10, "shape": (rows, cols)}


def _one_hot_inputs(rng):
    return {"indices": Keep(rng.integers(0, DEPTH, rng.pick(40, 10000)).astype(np.int32))}


def _mask_inputs(rng):
    rows = rng.pick(64, 16384)
    return {"x": rng.standard_normal((rows, 64)) * 10, "mask": Keep(rng.uniform(size=rows) < 0.4)}


def _identity_n_inputs(rng):
    side = rng.pick(64, 512)
    return {"a": rng.standard_normal(rng.pick(*VEC)) * 10, "b": rng.standard_normal((side, side)) * 10,
            "d": rng.standard_normal((2, 3)) * 10}


def _space_to_batch_inputs(rng):
    """Integer-valued: a 3-d spatial shape, block shape and base paddings (cast to the case's int dtype)."""
    return {"input_shape": rng.integers(5, 300, 3).astype(np.float64),
            "block_shape": rng.integers(2, 6, 3).astype(np.float64),
            "base_paddings": rng.integers(0, 4, (3, 2)).astype(np.float64)}


def _space_to_batch_ref(input_shape, block_shape, base_paddings):
    start, end = base_paddings[:, 0], base_paddings[:, 1]
    extra = (block_shape - (input_shape + start + end) % block_shape) % block_shape
    paddings = np.stack([start, end + extra], axis=1)
    crops = np.stack([np.zeros_like(extra), extra], axis=1)
    return paddings.astype(input_shape.dtype), crops.astype(input_shape.dtype)


def _ragged_inputs(rng):
    rows = rng.pick(64, 16384)
    return {"x": rng.standard_normal((rows, 64)) * 10, "lengths": Keep(rng.integers(0, 65, rows).astype(np.int64))}


def _ragged_call(c, x, lengths):
    rt = c.fn(x, lengths=lengths)
    return rt.flat_values, rt.row_splits


def _ragged_ref(x, lengths):
    flat = np.concatenate([row[:n] for row, n in zip(x, lengths, strict=True)])
    return flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


KERNELS = [
    Kernel("tf.shape", "shape", _images, dtypes=ALL, out_dtype="int32",
           reference=lambda x: np.array(x.shape, dtype=np.int32)),
    Kernel("tf.ones", "creation", _shape, dtypes=(*ALL, "complex64"),
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), reference=np.ones),
    Kernel("tf.compat.v1.zeros", "creation", _shape, dtypes=(*ALL, "complex64"),
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), reference=np.zeros),
    Kernel("tf.ones_like", "creation", normal(*N, scale=10.0), dtypes=(*ALL, "complex64"), reference=np.ones_like),
    Kernel("tf.one_hot", "creation", _one_hot_inputs, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, indices: c.fn(indices, DEPTH, dtype=c.dtype),
           reference=lambda indices: np.eye(DEPTH)[indices], note="integer labels to rows of depth 100"),
    Kernel("tf.broadcast_to", "shape", _broadcast_inputs, dtypes=ALL, reference=np.broadcast_to),
    Kernel("tf.squeeze", "shape", normal(*N, 1, scale=10.0), dtypes=ALL, call=lambda c, x: c.fn(x, axis=-1),
           reference=lambda x: np.squeeze(x, axis=-1)),
    Kernel("tf.split", "shape", normal(ROWS, 1024, scale=10.0), dtypes=ALL,
           call=lambda c, x: c.fn(x, 4, axis=1), reference=lambda x: np.split(x, 4, axis=1)),
    Kernel("tf.identity_n", "shape", _identity_n_inputs, dtypes=ALL,
           call=lambda c, a, b, d: c.fn([a, b, d]), reference=lambda a, b, d: [a, b, d]),
    Kernel("tf.compat.v1.boolean_mask", "indexing", _mask_inputs, dtypes=ALL,
           reference=lambda x, mask: x[mask], note="rows of 64 selected by a row mask"),
    # int32 only: the API documents int32 shapes (what tf.shape returns) and converts its inputs to int32.
    Kernel("tf.required_space_to_batch_paddings", "shape", _space_to_batch_inputs, dtypes=("int32",),
           reference=_space_to_batch_ref),
    Kernel("tf.RaggedTensor.from_tensor", "shape", _ragged_inputs, dtypes=ALL, call=_ragged_call,
           reference=_ragged_ref, note="padded rows and their lengths; checked as (flat_values, row_splits)"),
    Kernel("tf.get_static_value", "utility", normal(*N, scale=10.0), dtypes=ALL,
           call=lambda c, x: (c.fn(x), c.fn(c.fw.shape(x))),
           reference=lambda x: (x, np.array(x.shape, dtype=np.int32)),
           note="an eager tensor and its dynamic shape come back as NumPy arrays"),
]
