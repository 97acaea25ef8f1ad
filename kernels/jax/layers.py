"""Layer building blocks from the usage sample: an initializer, relu6, image resizing, convolutions
with explicit dimension numbers and locally connected (unshared-weight) convolutions."""

import numpy as np

from portability.catalog import Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (4096, 1 << 20)
STDDEV = 0.02


def _init_shape(rng):
    # 65536 samples at least: enough to see the tails of the distribution
    return {"shape": rng.dims((256, 1024), (256, 1024))}


def _init_setup(c, shape):
    # The corpus's use (transformers' Flax models): kernel_init=jax.nn.initializers.normal(std),
    # called by flax with a key, the parameter's shape and its dtype.
    init = c.fn(STDDEV)
    key = c.fw.random.key(c.seed)
    return lambda: init(key, shape, c.dtype)


def _check_init(out, shape):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == tuple(shape), f"shape {x.shape}, expected {tuple(shape)}"
    assert np.all(np.isfinite(x)), "non-finite samples"
    n = x.size
    # Five standard errors: the mean's is std/sqrt(n), the standard deviation's about std/sqrt(2n).
    assert abs(x.mean()) < 5 * STDDEV / np.sqrt(n), f"mean {x.mean():.3g} is not ~0"
    assert abs(x.std() / STDDEV - 1) < 5 / np.sqrt(2 * n), f"std {x.std():.4g} is not ~{STDDEV}"
    p = 0.0027  # P(|x| > 3 std) for a normal: the tails are not cut
    tail = np.mean(np.abs(x) > 3 * STDDEV)
    assert abs(tail - p) < 5 * np.sqrt(p / n), (f"fraction beyond 3 std {tail:.5f}, expected {p}"
                                               f" (max |x| {np.abs(x).max() / STDDEV:.2f} std)")


def _resize_inputs(method):
    def build(rng):
        n, side, ch = rng.dims((2, 8), (16, 128), (4, 8))
        return {"x": rng.standard_normal((n, side, side, ch)), "method": method}

    return build


def _resize_call(c, x, method):
    # As in diffusers' Flax upsampling blocks: NHWC, twice the height and width.
    n, h, w, ch = x.shape
    return c.fn(x, (n, 2 * h, 2 * w, ch), method=method)


def _resize_weights(n_in, n_out, method):
    """Rows: output pixels; columns: input pixels. Half-pixel centres (output o samples the
    input at (o + 0.5) * n_in / n_out - 0.5); linear weights renormalised at the edges."""
    centre = (np.arange(n_out) + 0.5) * n_in / n_out
    if method == "nearest":
        return np.eye(n_in)[np.floor(centre).astype(int)]
    w = np.maximum(0.0, 1.0 - np.abs(centre[:, None] - 0.5 - np.arange(n_in)[None, :]))
    return w / w.sum(axis=1, keepdims=True)


def _resize_ref(x, method):
    _, h, w, _ = x.shape
    rows = np.einsum("oh,nhwc->nowc", _resize_weights(h, 2 * h, method), x)
    return np.einsum("nowc,pw->nopc", rows, _resize_weights(w, 2 * w, method))


def _conv_inputs(rng):
    n, ch, side, out = rng.dims((2, 8), (4, 32), (16, 64), (8, 32))
    return {"x": rng.standard_normal((n, side, side, ch)),
            "w": rng.standard_normal((3, 3, ch, out)) / (3 * np.sqrt(ch))}


def _conv_dn(c, x, w):
    # As in flax's and haiku's convolutions: NHWC images, HWIO kernels, as axis permutations.
    dn = c.fn(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    return c.fw.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)


def _conv_nhwc_ref(x, w):
    """NHWC x HWIO, stride 1, SAME padding (cross-correlation)."""
    kh, kw = w.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # N H W C kh kw
    return np.einsum("nhwcij,ijco->nhwo", win, w)


def _local_inputs(rng):
    """One 3x3 kernel per output pixel (VALID): weights of shape (H', W', C*3*3, O)."""
    n, ch, side, out = rng.dims((2, 8), (4, 16), (12, 32), (8, 32))
    k = 3
    return {"x": rng.standard_normal((n, side, side, ch)),
            "w": rng.standard_normal((side - k + 1, side - k + 1, ch * k * k, out)) / (k * np.sqrt(ch))}


def _conv_local(c, x, w):
    # As in flax's LocallyConnected layer.
    return c.fn(x, w, window_strides=(1, 1), padding="VALID", filter_shape=(3, 3),
                dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_local_ref(x, w):
    """The input dimension of the weights fuses the input channel with the window position, channel
    first ("C" then the spatial dimensions, in the rhs spec's order, per the documentation)."""
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # N H' W' C 3 3
    patches = win.reshape(*win.shape[:3], -1)  # N H' W' (C*3*3), channel major
    return np.einsum("nhwi,hwio->nhwo", patches, w)


KERNELS = [
    Kernel("jax.nn.initializers.normal", "random", _init_shape, dtypes=FLOATS, setup=_init_setup, random=True,
           check=_check_init),
    Kernel("jax.nn.relu6", "nn", normal(N, scale=4.0), dtypes=FLOATS, reference=lambda x: np.clip(x, 0.0, 6.0)),
    Kernel("jax.image.resize", "nn", {"nearest": _resize_inputs("nearest"), "bilinear": _resize_inputs("bilinear")},
           dtypes=FLOATS, call=_resize_call, reference=_resize_ref),
    Kernel("jax.lax.ConvDimensionNumbers", "nn", _conv_inputs, dtypes=FLOATS, call=_conv_dn,
           reference=_conv_nhwc_ref),
    Kernel("jax.lax.conv_general_dilated_local", "nn", _local_inputs, dtypes=FLOATS, call=_conv_local,
           reference=_conv_local_ref),
]
