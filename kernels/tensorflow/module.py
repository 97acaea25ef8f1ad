"""tf.keras (Keras 3) layers and the mixed-precision policy, built in the case dtype with weights taken from the
inputs.

Weights are assigned from the seeded builder inputs, so the case and its reference see the same parameters;
the forward pass is what is timed.
"""

import numpy as np

from portability.catalog import FLOATS, SIDE, Kernel, linear_layer, normal

#: Dense layers sum 64 or 512 products per output: linalg.py's matmul tolerances for half precision.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
#: The Keras policy a user sets to compute in each case dtype (variables stay float32 under mixed policies).
POLICY = {"float32": "float32", "float64": "float64", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


#: One Dense layer: a batch, a Keras kernel (in, out) and a bias.
_dense_inputs = linear_layer(SIDE, SIDE, SIDE, layout="in_out", bias_scale=1.0)


def _policy_setup(c, x, w, b):
    tf = c.fw
    keras = tf.compat.v2.keras
    variable_dtype = "float64" if c.dtype == "float64" else "float32"

    def run():
        previous = keras.mixed_precision.global_policy()
        c.fn(POLICY[c.dtype])
        try:
            layer = keras.layers.Dense(w.shape[1])
            layer.build((None, w.shape[0]))
            layer.kernel.assign(tf.cast(w, layer.kernel.dtype))
            layer.bias.assign(tf.cast(b, layer.bias.dtype))
            # The output dtype is checked against the case dtype: the policy's compute dtype.
            return layer(x), layer.variable_dtype == variable_dtype
        finally:
            c.fn(previous)

    return run


def _dense_setup(c, x, w, b):
    layer = c.fn(w.shape[1], dtype=c.dtype)
    layer.build((None, w.shape[0]))
    layer.kernel.assign(w)
    layer.bias.assign(b)
    return lambda: layer(x)


def _conv_inputs(rng):
    """16 input channels at both sizes (a sum of 144 products per output); --size sets batch and image side."""
    return {"x": rng.standard_normal(rng.dims((2, 8), (16, 64), (16, 64), 16)),
            "w": rng.standard_normal((3, 3, 16, 32)) / 12.0, "b": rng.standard_normal(32)}


def _conv_setup(c, x, w, b):
    layer = c.fn(32, 3, dtype=c.dtype)
    layer.build((None, *x.shape[1:]))
    layer.kernel.assign(w)
    layer.bias.assign(b)
    return lambda: layer(x)


def _conv_ref(x, w, b):
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(x, (3, 3), axis=(1, 2))
    return np.einsum("nhwcij,ijco->nhwo", win, w) + b


def _layernorm_setup(c, x):
    layer = c.fn(dtype=c.dtype)
    layer.build(x.shape)
    return lambda: layer(x)


def _layernorm_ref(x):
    return (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-3)


KERNELS = [
    Kernel("tf.compat.v2.keras.mixed_precision.set_global_policy", "module", _dense_inputs, dtypes=FLOATS,
           setup=_policy_setup, reference=lambda x, w, b: (x @ w + b, True), tol=MATMUL_TOL,
           note="the policy for the case dtype (mixed_float16 / mixed_bfloat16 / float32 / float64), a Dense "
                "layer built under it, the previous policy restored"),
    Kernel("tf.keras.layers.Dense", "module", _dense_inputs, dtypes=FLOATS, setup=_dense_setup,
           reference=lambda x, w, b: x @ w + b),
    Kernel("tf.keras.layers.Conv2D", "module", _conv_inputs, dtypes=FLOATS, setup=_conv_setup,
           reference=_conv_ref),
    Kernel("tf.keras.layers.LayerNormalization", "module", normal((4, 1024), 1024, scale=3.0), dtypes=FLOATS,
           setup=_layernorm_setup, reference=_layernorm_ref),
]
