"""TensorFlow neural-network ops: convolutions, pooling, normalisation, activations, losses, embeddings, image
adjustments and TF1's raw_rnn.
"""

import numpy as np
import scipy.special
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, normal, paper, strict_graph

#: conv3d sums 216 products per output (3x3x3x8), like a K=216 matmul: the matmul-style low-precision tolerance.
CONV_TOL = {"float16": (2e-2, 4e-3), "bfloat16": (5e-2, 2e-2)}
#: Softmax / cross-entropy rows of 1000 logits at both sizes; --size sets the number of rows.
ROWS = (4, 1024)
#: The kernel's default colour table (draw_bounding_box_op.cc), cycled over a batch's boxes.
_COLORS = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1],
                    [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]])
N = (BIG_SIDE, BIG_SIDE)
DROP_RATE = 0.25
#: Each output of the transposed convolution sums about 27 / 8 * 32 = 108 products (3x3x3 kernel,
#: stride 2, 32 input channels): half precision rounds each partial sum, as matmul does.
CONV_TRANSPOSE_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}


def conv2d_ref(x, w):
    """NHWC input, HWIO filter, stride 1, VALID."""
    win = sliding_window_view(x, w.shape[:2], axis=(1, 2))  # N, Ho, Wo, C, kh, kw
    return np.einsum("nhwcij,ijco->nhwo", win, w)


def conv3d_ref(x, w):
    """NDHWC input, DHWIO filter, stride 1, VALID."""
    win = sliding_window_view(x, w.shape[:3], axis=(1, 2, 3))  # N, Do, Ho, Wo, C, kd, kh, kw
    return np.einsum("ndhwcijk,ijkco->ndhwo", win, w)


def conv2d_transpose_ref(x, w, stride):
    """NHWC input, filter [kh, kw, out_c, in_c], VALID: each input pixel scatters a filter patch."""
    n, h, wd, _ = x.shape
    kh, kw, oc, _ = w.shape
    out = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kw, oc))
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + (h - 1) * stride + 1:stride, j:j + (wd - 1) * stride + 1:stride, :] += \
                np.einsum("nhwc,oc->nhwo", x, w[i, j])
    return out


def _conv_inputs(xshape, wshape, xscale=1.0):
    """Dimensions may be (small, medium) pairs; the filter (so the sum per output) is the same at both sizes."""

    def build(rng):
        fan_in = np.prod(wshape[:-1])
        return {"x": rng.standard_normal(rng.dims(*xshape)) * xscale,
                "w": rng.standard_normal(wshape) / np.sqrt(fan_in)}

    return build


def _max_pool3d_ref(x):
    n, d, h, w, c = x.shape
    return x.reshape(n, d // 2, 2, h // 2, 2, w // 2, 2, c).max(axis=(2, 4, 6))


def _fused_bn_inputs(rng):
    return {"x": rng.standard_normal(rng.dims((2, 8), (16, 64), (16, 64), 16)) * 2 + 1,
            "scale": Keep(rng.uniform(0.5, 2.0, 16).astype(np.float32)),
            "offset": Keep(rng.standard_normal(16).astype(np.float32))}


def _fused_bn_ref(x, scale, offset):
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    return (x - mean) / np.sqrt(var + 1e-3) * scale + offset


def _sce_inputs(rng):
    (rows,) = rng.dims(ROWS)
    return {"labels": Keep(rng.integers(0, 1000, rows).astype(np.int32)),
            "logits": rng.standard_normal((rows, 1000)) * 3}


def _sce_ref(labels, logits):
    return scipy.special.logsumexp(logits, axis=-1) - logits[np.arange(len(labels)), labels]


def _brightness_inputs(rng):
    return {"image": rng.uniform(0.0, 255.0, rng.dims((2, 4), (32, 256), (32, 256), 3))}


def _brightness_ref(image):
    if image.dtype == np.uint8:
        # convert_image_dtype to float32 (x/255), add delta, back with saturate_cast(x * 255.5).
        flt = image.astype(np.float32) * np.float32(1.0 / 255.0) + np.float32(0.1)
        return np.clip(flt * np.float32(255.5), 0, 255).astype(np.uint8)
    return image + 0.1


# -- nn.raw_rnn: a tanh cell over variable-length sequences ----------------------------------------

def _rnn_inputs(rng):
    t, b, d, h = rng.dims((8, 16), (4, 64), (16, 256), (16, 256))
    return {
        "inputs": rng.standard_normal((t, b, d)),
        "w": rng.standard_normal((d, h)) / np.sqrt(d),
        "u": rng.standard_normal((h, h)) / np.sqrt(h),
        "lengths": Keep(rng.integers(1, t + 1, b).astype(np.int32)),
    }


def _raw_rnn_setup(c, inputs, w, u, lengths):
    tf = c.fw
    steps, batch, _ = inputs.shape
    hidden = w.shape[1]
    dtype = inputs.dtype

    # tf.compat.v1.nn.rnn_cell.LSTMCell (the upstream test's cell) is not available with Keras 3,
    # so the cell is a minimal object with the RNNCell interface raw_rnn asserts.
    class TanhCell:
        output_size = hidden
        state_size = hidden

        def zero_state(self, n, dt):
            return tf.zeros([n, hidden], dt)

        def __call__(self, x_t, h):
            h = tf.math.tanh(tf.linalg.matmul(x_t, w_t) + tf.linalg.matmul(h, u_t))
            return h, h

    g, sess = strict_graph(c)
    with g.as_default(), tf.device(c.device):
        x_all = tf.constant(inputs.numpy())
        w_t, u_t = tf.constant(w.numpy()), tf.constant(u.numpy())
        seq_len = tf.constant(lengths.numpy())
        inputs_ta = tf.TensorArray(dtype, size=steps).unstack(x_all)
        cell = TanhCell()

        def loop_fn(time, cell_output, cell_state, loop_state):
            emit = cell_output  # None at time 0: raw_rnn then takes the emit structure from output_size
            state = cell.zero_state(batch, dtype) if cell_output is None else cell_state
            finished = time >= seq_len
            next_input = tf.cond(tf.math.reduce_all(finished), lambda: tf.zeros([batch, inputs.shape[2]], dtype),
                                 lambda: inputs_ta.read(time))
            return finished, next_input, state, emit, None

        outputs_ta, final_state, _ = c.fn(cell, loop_fn)
        outputs = outputs_ta.stack()
    return lambda: sess.run([outputs, final_state])


def _raw_rnn_ref(inputs, w, u, lengths):
    steps, batch, _ = inputs.shape
    h = np.zeros((batch, w.shape[1]))
    outs = np.zeros((steps, batch, w.shape[1]))
    for t in range(steps):
        live = (t < lengths)[:, None]
        new = np.tanh(inputs[t] @ w + h @ u)
        outs[t] = np.where(live, new, 0.0)  # finished sequences emit zeros and keep their state
        h = np.where(live, new, h)
    return [outs[: lengths.max()], h]


# -- tf.compat.v1.image.draw_bounding_boxes ----------------------------------------------------------

def _boxes_inputs(rng):
    n, side = rng.dims((2, 8), (64, 256))
    ys, xs = (np.sort(rng.uniform(-0.1, 1.1, (n, 6, 2)), axis=-1) for _ in range(2))  # some edges outside
    boxes = np.stack([ys[..., 0], xs[..., 0], ys[..., 1], xs[..., 1]], axis=-1)  # [ymin, xmin, ymax, xmax]
    return {"images": rng.uniform(0.0, 1.0, (n, side, side, 3)), "boxes": Keep(boxes.astype(np.float32))}


def _draw_boxes_ref(images, boxes):
    out = images.copy()
    _, height, width, depth = images.shape
    for b, image_boxes in enumerate(boxes):
        for k, (ymin, xmin, ymax, xmax) in enumerate(image_boxes):
            color = _COLORS[k % len(_COLORS), :depth]
            # The kernel scales in float32 and truncates to an integer pixel index.
            top, bottom = (int(np.float32(v) * np.float32(height - 1)) for v in (ymin, ymax))
            left, right = (int(np.float32(v) * np.float32(width - 1)) for v in (xmin, xmax))
            if top > bottom or left > right or top >= height or bottom < 0 or left >= width or right < 0:
                continue
            rows = slice(max(top, 0), min(bottom, height - 1) + 1)
            cols = slice(max(left, 0), min(right, width - 1) + 1)
            if top >= 0:
                out[b, top, cols] = color
            if bottom < height:
                out[b, bottom, cols] = color
            if left >= 0:
                out[b, rows, left] = color
            if right < width:
                out[b, rows, right] = color
    return out


def _check_dropout(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape}, expected {x.shape}"
    assert np.all(np.isfinite(out)), "non-finite outputs"
    kept = out != 0
    n, frac = out.size, kept.mean()
    bound = 6 * np.sqrt(DROP_RATE * (1 - DROP_RATE) / n)
    assert abs(frac - (1 - DROP_RATE)) < bound, f"{frac:.4f} of values kept, expected {1 - DROP_RATE}"
    scaled = x[kept] / (1 - DROP_RATE)
    # 1e-2 covers bfloat16 rounding of the scale and the product; an unscaled value is 33% off. A
    # float16 subnormal product is rounded to a step of 2^-24 (the smallest subnormal), which is more
    # than 1% of it: that step is the absolute floor.
    floor = float(np.finfo(np.float16).smallest_subnormal)
    bad = np.abs(out[kept] - scaled) > 1e-2 * np.abs(scaled) + floor
    assert not np.any(bad), f"{int(bad.sum())} kept values are not x / (1 - rate)"


def _avg_pool_ref(x, k=3, s=2):
    """3x3 windows, stride 2, SAME padding: the mean over the window's elements inside the image."""
    n, h, w, c = x.shape
    ph, pw = (max((-(-d // s) - 1) * s + k - d, 0) for d in (h, w))
    top, left = ph // 2, pw // 2
    xp = np.zeros((n, h + ph, w + pw, c))
    xp[:, top:top + h, left:left + w] = x
    inside = np.zeros((1, h + ph, w + pw, 1))
    inside[:, top:top + h, left:left + w] = 1.0
    total = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s].sum(axis=(-2, -1))
    count = sliding_window_view(inside, (k, k), axis=(1, 2))[:, ::s, ::s].sum(axis=(-2, -1))
    return total / count


def _soft_ce_inputs(rng):
    (rows,) = rng.dims(ROWS)
    return {"labels": scipy.special.softmax(rng.standard_normal((rows, 1000)) * 2, axis=-1),
            "logits": rng.standard_normal((rows, 1000)) * 3}


def _soft_ce_ref(labels, logits):
    return -np.sum(labels * scipy.special.log_softmax(logits, axis=-1), axis=-1)


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


KERNELS = [
    Kernel("tf.nn.conv3d", "nn", _conv_inputs(((1, 4), (8, 32), (8, 32), (8, 32), 8), (3, 3, 3, 8, 16)), dtypes=FLOATS,
           call=lambda c, x, w: c.fn(x, w, strides=[1, 1, 1, 1, 1], padding="VALID"), reference=conv3d_ref,
           tol=CONV_TOL, **paper(70, 28)),
    Kernel("tf.compat.v1.nn.conv2d_transpose", "nn",
           _conv_inputs(((2, 8), (8, 64), (8, 64), 16), (3, 3, 8, 16), xscale=2.0),
           dtypes=(*FLOATS, "int32"),
           call=lambda c, x, w: c.fn(x, w, [x.shape[0], 2 * x.shape[1] + 1, 2 * x.shape[2] + 1, 8], [1, 2, 2, 1],
                                     padding="VALID"),
           reference=lambda x, w: conv2d_transpose_ref(x, w, 2),
           **paper(80, 68),
           note="int32 inputs are the normal draws truncated to small integers (checked exactly)"),
    Kernel("tf.nn.conv2d", "nn", _conv_inputs(((2, 8), (16, 64), (16, 64), 16), (3, 3, 16, 32)), dtypes=FLOATS,
           call=lambda c, x, w: c.fn(x, w, strides=1, padding="VALID"), reference=conv2d_ref),
    Kernel("tf.nn.max_pool3d", "nn", normal((1, 4), (8, 32), (8, 32), (8, 32), 8), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, ksize=2, strides=2, padding="VALID"), reference=_max_pool3d_ref),
    Kernel("tf.nn.softmax", "nn", normal(ROWS, 1000, scale=3.0), dtypes=FLOATS,
           reference=lambda x: scipy.special.softmax(x, axis=-1)),
    Kernel("tf.nn.gelu", "nn", normal(BIG_SIDE, BIG_SIDE, scale=3.0), dtypes=FLOATS,
           reference=lambda x: 0.5 * x * scipy.special.erfc(-x / np.sqrt(2))),
    Kernel("tf.compat.v1.nn.fused_batch_norm", "nn", _fused_bn_inputs, dtypes=FLOATS,
           call=lambda c, x, scale, offset: c.fn(x, scale, offset, is_training=True)[0], reference=_fused_bn_ref,
           note="training mode, the normalised output only (batch mean/variance come back in float32 by design)"),
    Kernel("tf.nn.sparse_softmax_cross_entropy_with_logits", "nn", _sce_inputs, dtypes=FLOATS,
           call=lambda c, labels, logits: c.fn(labels=labels, logits=logits), reference=_sce_ref),
    Kernel("tf.image.adjust_brightness", "nn", _brightness_inputs,
           dtypes=("uint8", "float32", "float64", "float16", "bfloat16"),
           call=lambda c, image: c.fn(image, 0.1), reference=_brightness_ref,
           **paper(10, 1),
           note="uint8 images go through float32 and back with saturation; float images just add delta"),
    Kernel("tf.compat.v1.nn.raw_rnn", "nn", _rnn_inputs, dtypes=FLOATS, setup=_raw_rnn_setup,
           reference=_raw_rnn_ref, **paper(20, 2)),
    Kernel("tf.compat.v1.image.draw_bounding_boxes", "nn", _boxes_inputs, dtypes=FLOATS,
           reference=_draw_boxes_ref, **paper(40, 5), note="six boxes per image, some partly outside"),
    Kernel("tf.nn.relu", "nn", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32"),
           reference=lambda x: np.maximum(x, 0)),
    Kernel("tf.nn.dropout", "nn", normal(*N), dtypes=FLOATS, call=lambda c, x: c.fn(x, rate=DROP_RATE),
           random=True, check=_check_dropout,
           note="rate 0.25: a quarter of the values zeroed, the rest scaled by 4/3"),
    Kernel("tf.compat.v1.nn.avg_pool", "nn", normal((2, 8), (16, 128), (16, 128), (16, 8)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME"),
           reference=_avg_pool_ref, note="3x3 windows, stride 2, SAME (padding excluded from the mean)"),
    Kernel("tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2", "nn", _soft_ce_inputs, dtypes=FLOATS,
           call=lambda c, labels, logits: c.fn(labels=labels, logits=logits), reference=_soft_ce_ref,
           note="soft labels (a softmax per row) against rows of 1000 logits"),
    Kernel("tf.math.log_softmax", "nn", normal(ROWS, 1000, scale=10.0), dtypes=FLOATS,
           reference=lambda x: scipy.special.log_softmax(x, axis=-1), note="rows of 1000 logits"),
    Kernel("tf.nn.log_poisson_loss", "nn", _poisson_inputs, dtypes=FLOATS, call=_poisson_call,
           reference=_poisson_ref, note="counts 0..11 against log rates; plain and compute_full_loss=True"),
    Kernel("tf.compat.v1.nn.conv3d_transpose", "nn", _conv3d_t_inputs, dtypes=FLOATS, call=_conv3d_t_call,
           reference=_conv3d_t_ref, tol=CONV_TRANSPOSE_TOL,
           note="NDHWC volumes of 32 channels upsampled 2x to 16 channels, 3x3x3 kernel, SAME padding"),
    Kernel("tf.image.adjust_hue", "nn", _rgb_images, dtypes=FLOATS, call=lambda c, image: c.fn(image, 0.3),
           reference=_adjust_hue_ref,
           note="hue rotated by 0.3 of a turn; TF computes float64 images in float32 (adjust_hue converts them)"),
    Kernel("tf.nn.safe_embedding_lookup_sparse", "nn", _embedding_inputs, dtypes=FLOATS, setup=_embedding_setup,
           reference=_embedding_ref,
           note="weighted mean of up to 8 ids per row; invalid ids pruned, empty rows give zeros"),
]
