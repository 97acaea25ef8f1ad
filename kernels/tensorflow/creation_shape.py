"""Tensor creation, conversion, reshaping and scatter: tf.constant, tf.fill, tf.range, tf.reshape ..."""

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "int32", "int64", "bool")


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
    """range(-limit, limit, 3): 2000 values, or at medium the longest integer-step range float16 can
    hold (its largest finite value is 65504): 20000 values."""
    return {"limit": rng.pick(3000, 30000)}


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


def _space_to_batch_ref(x, block=2):
    n, h, w, ch = x.shape
    y = x.reshape(n, h // block, block, w // block, block, ch).transpose(2, 4, 0, 1, 3, 5)
    return y.reshape(block * block * n, h // block, w // block, ch)


def _sequence_mask_inputs(rng):
    return {"lengths": rng.integers(0, 65, rng.pick(64, 16384)).astype(np.float64)}


def _gather_inputs(rng):
    rows = rng.pick(1024, 16384)
    return {"params": rng.standard_normal((rows, 64)),
            "indices": Keep(rng.integers(0, rows, rng.pick(64, 16384)).astype(np.int32))}


KERNELS = [
    Kernel("tf.constant", "creation", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=ALL, setup=_from_host,
           reference=lambda x: x, tags=("paper",), decile=100, frequency=3231,
           note="a host NumPy array of the case dtype becomes a tensor (placed by the device scope)"),
    Kernel("tf.convert_to_tensor", "creation", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=ALL, setup=_from_host,
           reference=lambda x: x, tags=("paper",), decile=100, frequency=819),
    Kernel("tf.zeros", "creation", _shape, dtypes=(*ALL, "complex64"),
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), reference=np.zeros,
           tags=("paper",), decile=100, frequency=1843),
    Kernel("tf.fill", "creation", _fill_inputs, dtypes=ALL,
           call=lambda c, value, shape: c.fn(shape, value), reference=lambda value, shape: np.full(shape, value),
           tags=("paper",), decile=90, frequency=115),
    Kernel("tf.range", "creation", _range_inputs,
           dtypes=("int32", "int64", "float32", "float64", "float16", "bfloat16"),
           call=lambda c, limit: c.fn(-limit, limit, 3, dtype=c.dtype),
           reference=lambda limit: np.arange(-limit, limit, 3),
           tags=("paper",), decile=100, frequency=4152,
           note="start/limit/delta are converted to the requested dtype before the length is computed"),
    Kernel("tf.reshape", "shape", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=(*ALL, "complex64"),
           call=lambda c, x: c.fn(x, [256, -1]), reference=lambda x: np.reshape(x, (256, -1)),
           tags=("paper",), decile=100, frequency=3073),
    Kernel("tf.sequence_mask", "creation", _sequence_mask_inputs, dtypes=("int32", "int64"), out_dtype="bool",
           call=lambda c, lengths: c.fn(lengths, 64),
           reference=lambda lengths: np.arange(64)[None, :] < lengths[:, None],
           tags=("paper",), decile=70, frequency=23),
    Kernel("tf.tensor_scatter_nd_update", "indexing", _scatter_inputs, dtypes=ALL, reference=_scatter_ref,
           tags=("paper",), decile=10, frequency=1),
    Kernel("tf.experimental.numpy.diagflat", "creation", normal(BIG_SIDE, scale=10.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"), reference=np.diagflat,
           tags=("paper",), decile=20, frequency=2),
    Kernel("tf.compat.v1.space_to_batch", "shape", normal((2, 8), (16, 64), (16, 64), (8, 32), scale=10.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "bool"),
           call=lambda c, x: c.fn(x, [[0, 0], [0, 0]], 2), reference=_space_to_batch_ref,
           tags=("paper",), decile=10, frequency=1),
    Kernel("tf.gather", "indexing", _gather_inputs, dtypes=ALL, reference=lambda params, indices: params[indices]),
]
