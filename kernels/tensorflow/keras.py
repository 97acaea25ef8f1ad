"""tf.keras (Keras 3) layers and optimizers, built in the case dtype with weights taken from the inputs.

Weights are assigned from the seeded builder inputs, so the case and its reference see the same
parameters; the forward pass (or one optimizer step) is what is timed.
"""

import numpy as np

from portability.catalog import BIG_SIDE, SIDE, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _dense_inputs(rng):
    m, k, n = rng.dims(SIDE, SIDE, SIDE)
    return {"x": rng.standard_normal((m, k)), "w": rng.standard_normal((k, n)) / np.sqrt(k),
            "b": rng.standard_normal(n)}


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


def _adam_inputs(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.standard_normal(shape), "grad": rng.standard_normal(shape)}


def _adam_setup(c, x, grad):
    tf = c.fw
    var = tf.Variable(x)
    opt = c.fn(learning_rate=0.01)
    opt.build([var])
    initial = [v.numpy() for v in opt.variables]

    def step():
        var.assign(x)
        for v, value in zip(opt.variables, initial, strict=True):  # iteration 0, zero moments: every round is step 1
            v.assign(value)
        opt.apply_gradients([(grad, var)])
        return var

    return step


def _adam_ref(x, grad, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    m = (1 - b1) * grad
    v = (1 - b2) * grad * grad
    alpha = lr * np.sqrt(1 - b2) / (1 - b1)
    return x - alpha * m / (np.sqrt(v) + eps)


KERNELS = [
    Kernel("tf.keras.layers.Dense", "module", _dense_inputs, dtypes=FLOATS, setup=_dense_setup,
           reference=lambda x, w, b: x @ w + b),
    Kernel("tf.keras.layers.Conv2D", "module", _conv_inputs, dtypes=FLOATS, setup=_conv_setup,
           reference=_conv_ref),
    Kernel("tf.keras.layers.LayerNormalization", "module", normal((4, 1024), 1024, scale=3.0), dtypes=FLOATS,
           setup=_layernorm_setup, reference=_layernorm_ref),
    Kernel("tf.keras.optimizers.Adam", "optimizer", _adam_inputs, dtypes=FLOATS, setup=_adam_setup,
           reference=_adam_ref, note="one apply_gradients step (Keras defaults, learning_rate=0.01)"),
]
