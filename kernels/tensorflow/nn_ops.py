"""Neural-network ops drawn in the usage sample: activations, dropout, pooling, soft-label
cross-entropy, random crops and generators seeded from the OS."""

import numpy as np
import scipy.special
from numpy.lib.stride_tricks import sliding_window_view

from portability.catalog import BIG_SIDE, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)
#: Rows of 1000 logits at both sizes; --size sets the number of rows.
ROWS = (4, 1024)
DROP_RATE = 0.25
#: 262144 samples per generator at both sizes: _check_normal's fixed bounds need many samples.
GEN_SHAPE = (256, 1024)


def _check_dropout(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape}, expected {x.shape}"
    assert np.all(np.isfinite(out)), "non-finite outputs"
    kept = out != 0
    n, frac = out.size, kept.mean()
    bound = 6 * np.sqrt(DROP_RATE * (1 - DROP_RATE) / n)
    assert abs(frac - (1 - DROP_RATE)) < bound, f"{frac:.4f} of values kept, expected {1 - DROP_RATE}"
    scaled = x[kept] / (1 - DROP_RATE)
    # 1e-2 covers bfloat16 rounding of the scale and the product; an unscaled value is 33% off.
    bad = np.abs(out[kept] - scaled) > 1e-2 * np.abs(scaled)
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


def _crop_inputs(rng):
    batch, side = rng.dims((2, 16), (32, 160))
    return {"image": rng.uniform(0.0, 255.0, (batch, side, side, 3))}


def _crop_setup(c, image):
    b, h, w, ch = image.shape
    size = [b, h * 3 // 4, w * 3 // 4, ch]
    return lambda: [c.fn(image, size) for _ in range(4)]


def _check_crops(out, image):
    """Each of 4 crops is a window of the image (same offset for the whole batch); not all at one offset."""
    b, h, w, ch = image.shape
    ch_, cw = h * 3 // 4, w * 3 // 4
    offsets = []
    for crop in out:
        crop = np.asarray(crop, dtype=np.float64)
        assert crop.shape == (b, ch_, cw, ch), f"crop shape {crop.shape}, expected {(b, ch_, cw, ch)}"
        candidates = np.argwhere(image[0, :h - ch_ + 1, :w - cw + 1, 0] == crop[0, 0, 0, 0])
        found = [(int(i), int(j)) for i, j in candidates
                 if np.array_equal(image[:, i:i + ch_, j:j + cw, :], crop)]
        assert found, "a crop is not a window of the image"
        offsets.append(found[0])
    assert len(set(offsets)) > 1, f"4 crops all at offset {offsets[0]}: not random"


def _generator_setup(c):
    def run():
        a, b = c.fn(), c.fn()
        return a.normal(GEN_SHAPE, dtype=c.dtype), b.normal(GEN_SHAPE, dtype=c.dtype)

    return run


def _check_normal(x):
    x = np.asarray(x, dtype=np.float64).ravel()
    assert np.all(np.isfinite(x)), "non-finite samples"
    assert abs(x.mean()) < 6 / np.sqrt(x.size), f"mean {x.mean():.4g} is not 0"
    assert abs(x.std() - 1) < 0.02, f"std {x.std():.4g} is not 1"
    inside = np.mean(np.abs(x) < 1)
    assert abs(inside - 0.6827) < 0.01, f"{inside:.4f} of samples within 1 sigma, expected 0.6827"


def _check_generators(out):
    a, b = (np.asarray(o, dtype=np.float64) for o in out)
    assert a.shape == GEN_SHAPE and b.shape == GEN_SHAPE, f"shapes {a.shape}, {b.shape}"
    _check_normal(a)
    _check_normal(b)
    assert np.mean(a == b) < 0.01, "two generators from non-deterministic state drew the same samples"


KERNELS = [
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
    Kernel("tf.image.random_crop", "random", _crop_inputs, dtypes=(*FLOATS, "uint8"), setup=_crop_setup,
           random=True, check=_check_crops, out_dtype="same",
           note="4 crops of 3/4 of the side from a batch of images"),
    Kernel("tf.random.Generator.from_non_deterministic_state", "random", lambda rng: {}, dtypes=FLOATS,
           setup=_generator_setup, random=True, check=_check_generators,
           note="two generators seeded from the OS, 262144 normal samples each"),
]
