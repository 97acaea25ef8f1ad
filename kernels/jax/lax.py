"""jax.lax primitives: top_k, sort, slicing, control flow, collectives under vmap, reductions."""

import numpy as np

from portability.catalog import Kernel, matmul, normal, nothing, paper, same

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _distinct_rows(rng):
    """Rows that are permutations of -128..127: exact and tie-free in every swept dtype."""
    return {"x": rng.permuted(np.tile(np.arange(-128.0, 128.0), (rng.pick(32, 4096), 1)), axis=1)}


def _top_k_ref(x):
    idx = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[:, :8]  # -x overflows in int8
    return np.take_along_axis(x, idx, axis=-1), idx


def _pmax(c, x):
    return c.fw.vmap(lambda v: c.fn(v, "i"), axis_name="i")(x)


def _all_gather(c, x):
    return c.fw.vmap(lambda v: c.fn(v, "i"), axis_name="i")(x)


def _stop_gradient(c, x):
    # d/dv sum(v * sg(v)**2) = sg(v)**2 = x**2 (3 x**2 if the gradient leaked through)
    return c.fw.grad(lambda v: c.fw.numpy.sum(v * c.fn(v) ** 2))(x)


def _infeed(c):
    # The paper's use: infeed of a ShapedArray tuple inside jit (removed from jax.lax in JAX 0.7).
    shape = c.fw.core.ShapedArray((3, 4), c.fw.numpy.float32)
    return c.fw.jit(lambda: c.fn(c.fw.lax.create_token(), shape=(shape,))[0])()


def _scan_setup(c, x):
    def step(carry, v):  # the running sum; defined once, so repeated calls reuse the compiled loop
        return carry + v, carry + v

    init = c.fw.numpy.zeros_like(x[0])
    return lambda: c.fn(step, init, x)


def _fori_setup(c, x):
    tanh = c.fw.numpy.tanh

    def body(i, v):
        return 0.9 * v + 0.1 * tanh(v)

    return lambda: c.fn(0, 10, body, x)


def _fori_ref(x):
    for _ in range(10):
        x = 0.9 * x + 0.1 * np.tanh(x)
    return x


def _maxpool_ref(x):
    n, ch, h, w = x.shape
    return x.reshape(n, ch, h // 2, 2, w // 2, 2).max(axis=(3, 5))


SORT_DTYPES = (*FLOATS, "int32", "int8")
#: Rows of 1024 at every size (only their number grows): row-wise work keeps its length.
ROWS = ((64, 1024), 1024)

KERNELS = [
    Kernel("jax.lax.top_k", "reduction", _distinct_rows, dtypes=SORT_DTYPES, call=lambda c, x: c.fn(x, 8),
           reference=_top_k_ref, out_dtype=None, **paper(70, 23)),
    Kernel("jax.lax.sort", "reduction", normal((16, 1024), 1024), dtypes=(*FLOATS, "int32"), reference=np.sort,
           out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.lax.stop_gradient", "autodiff", normal(*ROWS), dtypes=FLOATS, call=_stop_gradient,
           reference=np.square, **paper(80, 65)),
    Kernel("jax.lax.pmax", "reduction", normal(16, (4096, 1 << 16)), dtypes=(*FLOATS, "int32"), call=_pmax,
           reference=lambda x: np.broadcast_to(x.max(axis=0), x.shape), out_dtype=same(*FLOATS, "int32"),
           **paper(10, 1)),
    Kernel("jax.lax.all_gather", "shape", normal(16, (1024, 4096)), dtypes=(*FLOATS, "int32"), call=_all_gather,
           reference=lambda x: np.broadcast_to(x, (16, *x.shape)), out_dtype=same(*FLOATS, "int32"),
           **paper(70, 19)),
    Kernel("jax.lax.infeed", "io", nothing(), dtypes=("float32",), call=_infeed, **paper(50, 5),
           removed="removed in jax 0.7 (deprecated in 0.6) with lax.outfeed and Device.transfer_to_infeed;"
                   " no replacement: pass host data as jit arguments or through jax.experimental.io_callback"),
    # 64 steps at every size (a longer running sum would round more in half precision): the carry widens.
    Kernel("jax.lax.scan", "control", normal(64, (1024, 1 << 14)), dtypes=(*FLOATS, "int32"), setup=_scan_setup,
           reference=lambda x: (x.sum(axis=0), np.cumsum(x, axis=0)), out_dtype=same(*FLOATS, "int32")),
    Kernel("jax.lax.fori_loop", "control", normal(*ROWS), dtypes=FLOATS, setup=_fori_setup, reference=_fori_ref),
    Kernel("jax.lax.reduce_window", "nn", normal((4, 8), (16, 32), 64, 64), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, -np.inf, c.fw.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"),
           reference=_maxpool_ref),
    Kernel("jax.lax.dot_general", "linalg", matmul((256, 512), (256, 512), (256, 512)), dtypes=FLOATS,
           call=lambda c, a, b: c.fn(a, b, (((1,), (0,)), ((), ()))), reference=np.matmul,
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
]
