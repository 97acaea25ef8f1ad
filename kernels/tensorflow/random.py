"""TensorFlow random sampling (tf.random, TF-NumPy random, random crops, generators seeded from the OS), checked
by moments.
"""

import numpy as np

from portability.catalog import FLOATS, Kernel, nothing, paper, same

#: 65536 samples at small, not fewer: _check_normal's fixed bounds (0.02 on the std, 0.01 on the
#: one-sigma fraction) are 7 and 5.5 standard errors there, but under 2 at 4096 samples.
SHAPE = ((256, 1024), (256, 1024))
#: Gamma draws per shape parameter, 20000 at small, not fewer: _check_gamma's 10% variance bound is
#: 5 standard errors there (alpha = 1), 2.5 at 5000.
GAMMA_N = (20000, 1 << 18)
#: 262144 samples per generator at both sizes: _check_normal's fixed bounds need many samples.
GEN_SHAPE = (256, 1024)
#: Rows of a fixed reduced length: --size sets the number of rows, so the tolerances keep their meaning.
ROWS = (4, 1024)


def _shape(rng):
    return {"shape": rng.dims(*SHAPE)}


def _check_normal(out, *_):
    x = np.asarray(out, dtype=np.float64).ravel()
    assert np.all(np.isfinite(x)), "non-finite samples"
    n = x.size
    assert abs(x.mean()) < 6 / np.sqrt(n), f"mean {x.mean():.4g} is not 0"
    assert abs(x.std() - 1) < 0.02, f"std {x.std():.4g} is not 1"
    inside = np.mean(np.abs(x) < 1)
    assert abs(inside - 0.6827) < 0.01, f"{inside:.4f} of samples within 1 sigma, expected 0.6827"


def _check_uniform(out, *_):
    x = np.asarray(out)
    if x.dtype.kind in "iu":
        assert x.min() >= -3 and x.max() <= 4, f"integer samples outside [-3, 5): {x.min()}..{x.max()}"
        counts = np.bincount((x.ravel() + 3).astype(np.int64), minlength=8) / x.size
        assert np.all(np.abs(counts - 1 / 8) < 0.01), f"integer frequencies {np.round(counts, 4)} are not uniform"
        return
    x = x.astype(np.float64).ravel()
    assert x.min() >= -3 and x.max() < 5, f"samples outside [-3, 5): {x.min()}..{x.max()}"
    # Six standard errors of the sample mean and variance of U[-3, 5) (sd 8/sqrt(12)).
    n = x.size
    assert abs(x.mean() - 1) < 6 * 8 / np.sqrt(12 * n), f"mean {x.mean():.4g} is not 1"
    assert abs(x.var() - 64 / 12) < 6 * np.sqrt((8**4 / 80 - 8**4 / 144) / n), f"variance {x.var():.4g} is not 16/3"


def _gamma_inputs(rng):
    return {"alpha": rng.uniform(1.0, 5.0, 4), "n": rng.pick(*GAMMA_N)}


def _check_gamma(out, alpha, n):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == (n, 4), f"shape {x.shape}"
    assert np.all(np.isfinite(x)) and np.all(x >= 0), "samples negative or non-finite"
    mean, var = x.mean(axis=0), x.var(axis=0)
    assert np.all(np.abs(mean - alpha) < 6 * np.sqrt(alpha / n) + 0.01 * alpha), f"means {mean} for alpha {alpha}"
    assert np.all(np.abs(var - alpha) < 0.1 * alpha), f"variances {var} for alpha {alpha}"


def _tnp_setup(c, shape):
    c.fw.experimental.numpy.random.seed(c.seed)
    return lambda: c.fn(size=shape)


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


def _check_generators(out):
    a, b = (np.asarray(o, dtype=np.float64) for o in out)
    assert a.shape == GEN_SHAPE and b.shape == GEN_SHAPE, f"shapes {a.shape}, {b.shape}"
    _check_normal(a)
    _check_normal(b)
    assert np.mean(a == b) < 0.01, "two generators from non-deterministic state drew the same samples"


def _randint_setup(c, rows):
    dtype = c.fw.as_dtype(c.dtype).as_numpy_dtype
    return lambda: c.fn(-7, 25, size=(rows, 1024), dtype=dtype)


def _check_randint(out, rows):
    """Integers in [-7, 25): all 32 values about equally frequent, mean 8.5, variance (32^2 - 1) / 12,
    and neighbours equal about once in 32 (no repeated or correlated draws). Bounds at 5 sigma."""
    x = np.asarray(out)
    assert x.shape == (rows, 1024), f"shape {x.shape}, asked for ({rows}, 1024)"
    assert x.dtype.kind == "i", f"dtype {x.dtype}"
    assert x.min() >= -7 and x.max() < 25, f"values in [{x.min()}, {x.max()}], asked for [-7, 25)"
    n, var = x.size, (32**2 - 1) / 12
    counts = np.bincount((x + 7).ravel(), minlength=32)
    chi2 = float(np.sum((counts - n / 32) ** 2 / (n / 32)))
    assert chi2 < 80, f"value counts far from uniform: chi2 = {chi2:.1f} on 31 degrees of freedom"
    assert abs(x.mean() - 8.5) < 5 * np.sqrt(var / n), f"mean {x.mean():.3f}, expected 8.5"
    assert abs(x.var() - var) < 5 * var * np.sqrt(0.8 / n), f"variance {x.var():.2f}, expected {var:.2f}"
    same_next = float(np.mean(x.ravel()[1:] == x.ravel()[:-1]))
    assert abs(same_next - 1 / 32) < 5 * np.sqrt(1 / 32 / n), f"neighbours equal {same_next:.4f} of the time"


KERNELS = [
    Kernel("tf.random.normal", "random", _shape, dtypes=FLOATS,
           call=lambda c, shape: c.fn(shape, dtype=c.dtype), random=True, check=_check_normal),
    Kernel("tf.random.uniform", "random", _shape, dtypes=(*FLOATS, "int32", "int64"),
           call=lambda c, shape: c.fn(shape, minval=-3, maxval=5, dtype=c.dtype), random=True,
           check=_check_uniform),
    Kernel("tf.random.gamma", "random", _gamma_inputs, dtypes=FLOATS,
           call=lambda c, alpha, n: c.fn([n], alpha, dtype=c.dtype), random=True, check=_check_gamma,
           **paper(50, 7)),
    # No dtype argument: TF-NumPy samples in its default float type, float64.
    Kernel("tf.experimental.numpy.random.standard_normal", "random", _shape, dtypes=("float64",),
           setup=_tnp_setup, random=True, check=_check_normal, **paper(30, 4)),
    Kernel("tf.image.random_crop", "random", _crop_inputs, dtypes=(*FLOATS, "uint8"), setup=_crop_setup,
           random=True, check=_check_crops, out_dtype="same",
           note="4 crops of 3/4 of the side from a batch of images"),
    Kernel("tf.random.Generator.from_non_deterministic_state", "random", nothing(), dtypes=FLOATS,
           setup=_generator_setup, random=True, check=_check_generators,
           note="two generators seeded from the OS, 262144 normal samples each"),
    Kernel("tf.experimental.numpy.random.randint", "random", lambda rng: {"rows": rng.pick(*ROWS)},
           dtypes=("int32", "int64"), out_dtype=same("int32", "int64"), setup=_randint_setup, check=_check_randint,
           random=True, note="rows of 1024 draws from [-7, 25)"),
]
