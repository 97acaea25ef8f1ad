"""tf.nn convolutions, pooling, normalisation and losses; tf.image.adjust_brightness."""

import numpy as np
import scipy.special
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, Keep, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: conv3d sums 216 products per output (3x3x3x8), like a K=216 matmul: the matmul-style low-precision tolerance.
CONV_TOL = {"float16": (2e-2, 4e-3), "bfloat16": (5e-2, 2e-2)}
#: Softmax / cross-entropy rows of 1000 logits at both sizes; --size sets the number of rows.
ROWS = (4, 1024)


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


KERNELS = [
    Kernel("tf.nn.conv3d", "nn", _conv_inputs(((1, 4), (8, 32), (8, 32), (8, 32), 8), (3, 3, 3, 8, 16)), dtypes=FLOATS,
           call=lambda c, x, w: c.fn(x, w, strides=[1, 1, 1, 1, 1], padding="VALID"), reference=conv3d_ref,
           tol=CONV_TOL, tags=("paper",), decile=70, frequency=28),
    Kernel("tf.compat.v1.nn.conv2d_transpose", "nn",
           _conv_inputs(((2, 8), (8, 64), (8, 64), 16), (3, 3, 8, 16), xscale=2.0),
           dtypes=(*FLOATS, "int32"),
           call=lambda c, x, w: c.fn(x, w, [x.shape[0], 2 * x.shape[1] + 1, 2 * x.shape[2] + 1, 8], [1, 2, 2, 1],
                                     padding="VALID"),
           reference=lambda x, w: conv2d_transpose_ref(x, w, 2),
           tags=("paper",), decile=80, frequency=68,
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
           tags=("paper",), decile=10, frequency=1,
           note="uint8 images go through float32 and back with saturation; float images just add delta"),
]
