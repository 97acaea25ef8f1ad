"""Neural-network ops drawn in the usage sample: a Poisson loss, a 3-D transposed convolution, hue
adjustment, sparse embedding lookups and the Keras momentum update as Keras applies it to sparse
gradients (tf.raw_ops.ResourceSparseApplyKerasMomentum)."""

import numpy as np

from portability.catalog import Keep, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Each output of the transposed convolution sums about 27 / 8 * 32 = 108 products (3x3x3 kernel,
#: stride 2, 32 input channels): half precision rounds each partial sum, as matmul does.
CONV_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}


# -- tf.nn.log_poisson_loss, with and without the Stirling term -----------------------------------

def _poisson_inputs(rng):
    shape = rng.dims((64, 1024), (64, 1024))
    return {"targets": rng.integers(0, 12, shape).astype(np.float64), "log_input": rng.uniform(-2.0, 2.5, shape)}


def _poisson_call(c, targets, log_input):
    return c.fn(targets, log_input), c.fn(targets, log_input, compute_full_loss=True)


def _poisson_ref(targets, log_input):
    loss = np.exp(log_input) - log_input * targets
    z = np.where(targets > 1, targets, 1.0)
    stirling = np.where(targets > 1, z * np.log(z) - z + 0.5 * np.log(2 * np.pi * z), 0.0)
    return loss, loss + stirling


# -- tf.compat.v1.nn.conv3d_transpose (NDHWC, SAME, stride 2) ----------------------------------------

def _conv3d_t_inputs(rng):
    """Batches of two volumes: 2x2x2x2x32 or 2x12x12x12x32 (float64 with a batch above 1 takes a path
    about 40x slower than float32 on the CPU; 12^3 keeps it near a second)."""
    n, side = rng.dims((2, 2), (2, 12))
    return {"value": rng.standard_normal((n, side, side, side, 32)),
            "filters": rng.standard_normal((3, 3, 3, 16, 32)) / 10}


def _conv3d_t_call(c, value, filters):
    n, d, h, w, _ = value.shape
    return c.fn(value, filters, [n, 2 * d, 2 * h, 2 * w, filters.shape[3]], strides=[1, 2, 2, 2, 1], padding="SAME")


def _conv3d_t_ref(value, filters):
    """The gradient of a SAME, stride-2 conv3d: each input voxel scatters value @ W[kd, kh, kw]^T into
    the output at 2 * i + k - pad_before, pad_before = ((i_max * 2 + k) - out) // 2."""
    n, d, h, w, _ = value.shape
    k, s = filters.shape[0], 2
    full = np.zeros((n, (d - 1) * s + k, (h - 1) * s + k, (w - 1) * s + k, filters.shape[3]))
    for kd in range(k):
        for kh in range(k):
            for kw in range(k):
                contrib = np.einsum("ndhwi,oi->ndhwo", value, filters[kd, kh, kw])
                full[:, kd:kd + (d - 1) * s + 1:s, kh:kh + (h - 1) * s + 1:s, kw:kw + (w - 1) * s + 1:s] += contrib
    out = (d * s, h * s, w * s)
    pads = [(f - o) // 2 for f, o in zip(full.shape[1:4], out, strict=True)]
    return full[:, pads[0]:pads[0] + out[0], pads[1]:pads[1] + out[1], pads[2]:pads[2] + out[2]]


# -- tf.image.adjust_hue ---------------------------------------------------------------------------

def _rgb_images(rng):
    """RGB images in [0, 1]: 4096 or 1M pixels."""
    return {"image": rng.uniform(0.0, 1.0, rng.dims((4, 16), (32, 128), (32, 512), 3))}


def _adjust_hue_ref(image, delta=0.3):
    """RGB -> HSV, hue rotated by delta (wrapped to [0, 1)), -> RGB."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    v = image.max(-1)
    chroma = v - image.min(-1)
    safe = np.where(chroma > 0, chroma, 1.0)
    h = np.where(v == r, (g - b) / safe, np.where(v == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    h = np.where(chroma > 0, h / 6.0, 0.0)
    h = np.mod(h + delta, 1.0) * 6.0
    s = np.where(v > 0, chroma / np.where(v > 0, v, 1.0), 0.0)
    sector = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return np.stack([np.select([sector == i for i in range(6)], [row[ch] for row in table]) for ch in range(3)], -1)


# -- tf.nn.safe_embedding_lookup_sparse: weighted mean, pruned ids, empty rows ----------------------

def _embedding_inputs(rng):
    """A vocabulary of 1000 x 64 and batch rows of up to 8 ids: some rows empty, some ids invalid (-1)."""
    batch = rng.pick(64, 16384)
    lengths = rng.integers(0, 9, batch)
    lengths[::7] = 0
    rows = np.repeat(np.arange(batch), lengths)
    cols = np.concatenate([np.arange(n) for n in lengths])
    ids = rng.integers(0, 1000, rows.size)
    ids[rng.uniform(size=ids.size) < 0.1] = -1
    return {"table": rng.standard_normal((1000, 64)),
            "indices": Keep(np.stack([rows, cols], 1).astype(np.int64)), "ids": Keep(ids.astype(np.int64)),
            "weights": rng.uniform(0.5, 2.0, ids.size), "dense_shape": Keep(np.array([batch, 8], dtype=np.int64))}


def _embedding_setup(c, table, indices, ids, weights, dense_shape):
    sp = c.fw.sparse.SparseTensor
    sp_ids, sp_weights = sp(indices, ids, dense_shape), sp(indices, weights, dense_shape)
    return lambda: c.fn(table, sp_ids, sp_weights)


def _embedding_ref(table, indices, ids, weights, dense_shape):
    """combiner="mean": sum(w * E[id]) / sum(w) over a row's valid ids; zeros for rows left empty."""
    keep = ids >= 0
    rows, ids, weights = indices[keep, 0], ids[keep], weights[keep]
    sums = np.zeros((dense_shape[0], table.shape[1]))
    np.add.at(sums, rows, weights[:, None] * table[ids])
    totals = np.bincount(rows, weights=weights, minlength=dense_shape[0])[:, None]
    return np.where(totals > 0, sums / np.where(totals > 0, totals, 1.0), 0.0)


# -- tf.raw_ops.ResourceSparseApplyKerasMomentum ---------------------------------------------------

def _momentum_inputs(nesterov):
    def build(rng):
        rows = rng.pick(64, 16384)
        idx = rng.permutation(rows)[: rows // 4]  # unique rows, unordered: Keras dedups sparse gradients
        return {"var": rng.standard_normal((rows, 64)), "accum": rng.standard_normal((rows, 64)) / 10,
                "grad": rng.standard_normal((idx.size, 64)), "indices": Keep(idx.astype(np.int64)),
                "nesterov": nesterov}

    return build


def _momentum_setup(c, var, accum, grad, indices, nesterov):
    tf = c.fw
    v, a = tf.Variable(var), tf.Variable(accum)
    lr, momentum = tf.constant(0.1, var.dtype), tf.constant(0.9, var.dtype)

    def step():
        v.assign(var)  # every round is the same first step
        a.assign(accum)
        c.fn(var=v.handle, accum=a.handle, lr=lr, grad=grad, indices=indices, momentum=momentum,
             use_nesterov=nesterov)
        return v.read_value(), a.read_value()

    return step


def _momentum_ref(var, accum, grad, indices, nesterov, lr=0.1, momentum=0.9):
    var, accum = var.copy(), accum.copy()
    accum[indices] = accum[indices] * momentum - lr * grad
    var[indices] += accum[indices] * momentum - lr * grad if nesterov else accum[indices]
    return var, accum


KERNELS = [
    Kernel("tf.nn.log_poisson_loss", "nn", _poisson_inputs, dtypes=FLOATS, call=_poisson_call,
           reference=_poisson_ref, note="counts 0..11 against log rates; plain and compute_full_loss=True"),
    Kernel("tf.compat.v1.nn.conv3d_transpose", "nn", _conv3d_t_inputs, dtypes=FLOATS, call=_conv3d_t_call,
           reference=_conv3d_t_ref, tol=CONV_TOL,
           note="NDHWC volumes of 32 channels upsampled 2x to 16 channels, 3x3x3 kernel, SAME padding"),
    Kernel("tf.image.adjust_hue", "nn", _rgb_images, dtypes=FLOATS, call=lambda c, image: c.fn(image, 0.3),
           reference=_adjust_hue_ref,
           note="hue rotated by 0.3 of a turn; TF computes float64 images in float32 (adjust_hue converts them)"),
    Kernel("tf.nn.safe_embedding_lookup_sparse", "nn", _embedding_inputs, dtypes=FLOATS, setup=_embedding_setup,
           reference=_embedding_ref,
           note="weighted mean of up to 8 ids per row; invalid ids pruned, empty rows give zeros"),
    Kernel("tf.raw_ops.ResourceSparseApplyKerasMomentum", "optimizer",
           {"momentum": _momentum_inputs(False), "nesterov": _momentum_inputs(True)}, dtypes=FLOATS,
           setup=_momentum_setup, reference=_momentum_ref,
           note="lr 0.1, momentum 0.9 on a quarter of the rows of a (rows, 64) variable; returns var and accum"),
]
