"""Tensor creation, conversion, reshaping and scatter: tf.constant, tf.fill, tf.range, tf.reshape ..."""

import numpy as np

from portability.builders import normal, nothing
from portability.catalog import Keep, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
ALL = (*FLOATS, "int32", "int64", "bool")


def _from_host(c, x):
    """tf.constant / tf.convert_to_tensor take a host NumPy array: make it untimed, time the call."""
    host = x.numpy()
    return lambda: c.fn(host)


def _fill_inputs(rng):
    return {"value": np.asarray(rng.uniform(1.0, 9.0))}


def _scatter_inputs(rng):
    rows = rng.choice(1024, size=128, replace=False)
    return {
        "tensor": rng.integers(-20, 20, (1024, 64)).astype(np.float64),
        "indices": Keep(rows.reshape(-1, 1).astype(np.int32)),
        "updates": rng.integers(-20, 20, (128, 64)).astype(np.float64),
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
    return {"lengths": rng.integers(0, 65, 512).astype(np.float64)}


KERNELS = [
    Kernel("tf.constant", "creation", normal(256, 1024, scale=10.0), dtypes=ALL, setup=_from_host,
           reference=lambda x: x, tags=("paper",), decile=100, frequency=3231,
           note="a host NumPy array of the case dtype becomes a tensor (placed by the device scope)"),
    Kernel("tf.convert_to_tensor", "creation", normal(256, 1024, scale=10.0), dtypes=ALL, setup=_from_host,
           reference=lambda x: x, tags=("paper",), decile=100, frequency=819),
    Kernel("tf.zeros", "creation", nothing(), dtypes=(*ALL, "complex64"),
           call=lambda c: c.fn((256, 1024), dtype=c.dtype), reference=lambda: np.zeros((256, 1024)),
           tags=("paper",), decile=100, frequency=1843),
    Kernel("tf.fill", "creation", _fill_inputs, dtypes=ALL,
           call=lambda c, value: c.fn([256, 1024], value), reference=lambda value: np.full((256, 1024), value),
           tags=("paper",), decile=90, frequency=115),
    Kernel("tf.range", "creation", nothing(), dtypes=("int32", "int64", "float32", "float64", "float16", "bfloat16"),
           call=lambda c: c.fn(-3000, 3000, 3, dtype=c.dtype), reference=lambda: np.arange(-3000, 3000, 3),
           tags=("paper",), decile=100, frequency=4152,
           note="start/limit/delta are converted to the requested dtype before the length is computed"),
    Kernel("tf.reshape", "shape", normal(64, 4096, scale=10.0), dtypes=(*ALL, "complex64"),
           call=lambda c, x: c.fn(x, [256, -1]), reference=lambda x: np.reshape(x, (256, -1)),
           tags=("paper",), decile=100, frequency=3073),
    Kernel("tf.sequence_mask", "creation", _sequence_mask_inputs, dtypes=("int32", "int64"), out_dtype="bool",
           call=lambda c, lengths: c.fn(lengths, 64),
           reference=lambda lengths: np.arange(64)[None, :] < lengths[:, None],
           tags=("paper",), decile=70, frequency=23),
    Kernel("tf.tensor_scatter_nd_update", "indexing", _scatter_inputs, dtypes=ALL, reference=_scatter_ref,
           tags=("paper",), decile=10, frequency=1),
    Kernel("tf.experimental.numpy.diagflat", "creation", normal(256, scale=10.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"), reference=np.diagflat,
           tags=("paper",), decile=20, frequency=2),
    Kernel("tf.compat.v1.space_to_batch", "shape", normal(4, 64, 64, 8, scale=10.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "bool"),
           call=lambda c, x: c.fn(x, [[0, 0], [0, 0]], 2), reference=_space_to_batch_ref,
           tags=("paper",), decile=10, frequency=1),
    Kernel("tf.gather", "indexing",
           lambda rng: {"params": rng.standard_normal((4096, 64)),
                        "indices": Keep(rng.integers(0, 4096, 2048).astype(np.int32))},
           dtypes=ALL, reference=lambda params, indices: params[indices]),
]
