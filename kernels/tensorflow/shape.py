"""TensorFlow shape manipulation: reshape, concat, stack, split, tile, transpose, broadcasting, ragged and
TensorArray conversions, space_to_batch and shape queries.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, VEC, Keep, Kernel, normal, paper, same

ALL = (*FLOATS, "int32", "int64", "bool")
N = (BIG_SIDE, BIG_SIDE)
#: Rows of 1024 at both sizes; --size sets the number of rows.
ROWS = (4, 1024)


def _images(rng):
    """NHWC maps: 4096 or 1M elements."""
    return {"x": rng.standard_normal(rng.dims((2, 16), (16, 128), (16, 128), (8, 4))) * 10}


def _broadcast_inputs(rng):
    rows, cols = rng.dims(*N)
    return {"x": rng.standard_normal((1, cols)) * 10, "shape": (rows, cols)}


def _identity_n_inputs(rng):
    side = rng.pick(64, 512)
    return {"a": rng.standard_normal(rng.pick(*VEC)) * 10, "b": rng.standard_normal((side, side)) * 10,
            "d": rng.standard_normal((2, 3)) * 10}


def _space_to_batch_inputs(rng):
    """Integer-valued: a 3-d spatial shape, block shape and base paddings (cast to the case's int dtype)."""
    return {"input_shape": rng.integers(5, 300, 3).astype(np.float64),
            "block_shape": rng.integers(2, 6, 3).astype(np.float64),
            "base_paddings": rng.integers(0, 4, (3, 2)).astype(np.float64)}


def _required_paddings_ref(input_shape, block_shape, base_paddings):
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


def _space_to_batch_ref(x, block=2):
    n, h, w, ch = x.shape
    y = x.reshape(n, h // block, block, w // block, block, ch).transpose(2, 4, 0, 1, 3, 5)
    return y.reshape(block * block * n, h // block, w // block, ch)


# -- Tensor.get_shape on static, partial, unknown, scalar and set_shape tensors ------------------

def _get_shape_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        full = tf.constant(x.numpy())
        partial = tf.compat.v1.placeholder(x.dtype, shape=[None, x.shape[1]])
        unknown = tf.compat.v1.placeholder(x.dtype)
        scalar = tf.math.reduce_sum(full)
        narrowed = tf.compat.v1.placeholder(x.dtype, shape=[None, None])
        narrowed.set_shape(x.shape)
    tensors = (full, partial, unknown, scalar, narrowed, x)  # the last one eager
    return lambda: [str(c.fn(t)) for t in tensors]


def _get_shape_ref(x):
    rows, cols = x.shape
    full = f"({rows}, {cols})"
    return [full, f"(None, {cols})", "<unknown>", "()", full, full]


# -- tf.TensorArray.concat of ragged pieces, one of them empty, in a tf.function ------------------

def _pieces(rng):
    cols = rng.pick(16, 256)
    rows = rng.pick((100, 0, 60, 96), (1500, 0, 1000, 1596))
    return {f"p{i}": rng.standard_normal((r, cols)) * 10 for i, r in enumerate(rows)}


def _ta_concat_setup(c, **pieces):
    tf = c.fw
    parts = list(pieces.values())

    @tf.function
    def concat(*ps):
        ta = tf.TensorArray(ps[0].dtype, size=len(ps), infer_shape=False)
        for i, p in enumerate(ps):
            ta = ta.write(i, p)
        return c.fn(ta)

    return lambda: concat(*parts)


def _concat_inputs(rng):
    rows = rng.pick(*ROWS)
    return {f"p{i}": rng.standard_normal((rows, w)) * 10 for i, w in enumerate((256, 512, 256))}


def _stack_inputs(rng):
    shape = rng.dims((64, 512), (16, 512))
    return {f"p{i}": rng.standard_normal(shape) * 10 for i in range(4)}


def _nhwc(rng):
    """NHWC feature maps: 4096 or 1M elements."""
    return {"x": rng.standard_normal(rng.dims((2, 16), (16, 64), (16, 64), (8, 16))) * 10}


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
    Kernel("tf.shape", "shape", _images, dtypes=ALL, out_dtype="int32",
           reference=lambda x: np.array(x.shape, dtype=np.int32)),
    Kernel("tf.broadcast_to", "shape", _broadcast_inputs, dtypes=ALL, reference=np.broadcast_to),
    Kernel("tf.squeeze", "shape", normal(*N, 1, scale=10.0), dtypes=ALL, call=lambda c, x: c.fn(x, axis=-1),
           reference=lambda x: np.squeeze(x, axis=-1)),
    Kernel("tf.split", "shape", normal(ROWS, 1024, scale=10.0), dtypes=ALL,
           call=lambda c, x: c.fn(x, 4, axis=1), reference=lambda x: np.split(x, 4, axis=1)),
    Kernel("tf.identity_n", "shape", _identity_n_inputs, dtypes=ALL,
           call=lambda c, a, b, d: c.fn([a, b, d]), reference=lambda a, b, d: [a, b, d]),
    # int32 only: the API documents int32 shapes (what tf.shape returns) and converts its inputs to int32.
    Kernel("tf.required_space_to_batch_paddings", "shape", _space_to_batch_inputs, dtypes=("int32",),
           reference=_required_paddings_ref),
    Kernel("tf.RaggedTensor.from_tensor", "shape", _ragged_inputs, dtypes=ALL, call=_ragged_call,
           reference=_ragged_ref, note="padded rows and their lengths; checked as (flat_values, row_splits)"),
    Kernel("tf.reshape", "shape", normal(BIG_SIDE, BIG_SIDE, scale=10.0), dtypes=(*ALL, "complex64"),
           call=lambda c, x: c.fn(x, [256, -1]), reference=lambda x: np.reshape(x, (256, -1)),
           **paper(100, 3073)),
    Kernel("tf.compat.v1.space_to_batch", "shape", normal((2, 8), (16, 64), (16, 64), (8, 32), scale=10.0),
           dtypes=("float32", "float64", "float16", "bfloat16", "int32", "bool"),
           call=lambda c, x: c.fn(x, [[0, 0], [0, 0]], 2), reference=_space_to_batch_ref,
           **paper(10, 1)),
    Kernel("tf.Tensor.get_shape", "shape", normal(BIG_SIDE, 64), dtypes=("float32",), setup=_get_shape_setup,
           reference=_get_shape_ref, **paper(100, 1750)),
    Kernel("tf.TensorArray.concat", "shape", _pieces, dtypes=(*FLOATS, "int32", "int64"), setup=_ta_concat_setup,
           reference=lambda *pieces: np.concatenate(pieces), **paper(100, 1304),
           note="a TensorArray of four pieces of different lengths, one empty, in a tf.function"),
    Kernel("tf.concat", "shape", _concat_inputs, dtypes=(*ALL, "complex64"),
           call=lambda c, **p: c.fn(list(p.values()), axis=-1),
           reference=lambda *p: np.concatenate(p, axis=-1), note="three feature blocks of 256, 512, 256 columns"),
    Kernel("tf.expand_dims", "shape", normal(*N, scale=10.0), dtypes=ALL, call=lambda c, x: c.fn(x, axis=1),
           reference=lambda x: np.expand_dims(x, 1)),
    Kernel("tf.transpose", "shape", _nhwc, dtypes=ALL, call=lambda c, x: c.fn(x, perm=[0, 3, 1, 2]),
           reference=lambda x: np.transpose(x, (0, 3, 1, 2)), note="NHWC to NCHW"),
    Kernel("tf.stack", "shape", _stack_inputs, dtypes=ALL, call=lambda c, **p: c.fn(list(p.values()), axis=1),
           reference=lambda *p: np.stack(p, axis=1)),
    Kernel("tf.tile", "shape", normal((16, 1024), 256, scale=10.0), dtypes=ALL,
           call=lambda c, x: c.fn(x, [2, 4]), reference=lambda x: np.tile(x, (2, 4))),
    Kernel("tf.identity", "shape", normal(*N, scale=10.0), dtypes=(*ALL, "complex64"), reference=lambda x: x),
    Kernel("tf.broadcast_dynamic_shape", "shape", _broadcast_shapes, dtypes=("int32", "int64"),
           out_dtype=same("int32", "int64"), call=_broadcast_call, reference=_broadcast_ref),
]
