"""jax.numpy reductions and selections: sum, mean, max, prod, var, average, all, argmax, partition, cumsum."""

import numpy as np

from portability.catalog import Keep, Kernel, integers, normal, paper, same, uniform

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: Only the number of independent reductions grows with --size, never their length: a sum
#: accumulates the same rounding error at both sizes, so the tolerances keep their meaning.
ROWS = (256, 1024)


def _average_inputs(rng):
    return {"x": rng.standard_normal((rng.pick(256, 2048), 512)), "w": rng.uniform(0.1, 1.0, 512)}


def _all_inputs(rng):
    # Rows mostly True, some with a single False: all() along the last axis is a real mix.
    n, falses = rng.pick(512, 4096), rng.pick(200, 1600)
    m = np.ones((n, 256), dtype=bool)
    rows = rng.choice(n, falses, replace=False)
    m[rows, rng.integers(0, 256, falses)] = False
    return {"x": Keep(m)}


KTH = 100


def _partitioned(out):
    """What partition guarantees: the kth element, and the sets (not orders) on either side of it."""
    out = np.asarray(out)
    return [out[:, KTH], np.sort(out[:, :KTH], axis=1), np.sort(out[:, KTH + 1:], axis=1)]


KERNELS = [
    Kernel("jax.numpy.sum", "reduction", integers(ROWS, 1024, low=-8, high=8),
           dtypes=(*FLOATS, "complex64", "int32", "int64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.sum(x, axis=-1),
           out_dtype={**same(*FLOATS, "int32", "int64"), "complex64": "complex64"}, **paper(100, 1110)),
    Kernel("jax.numpy.mean", "reduction", normal(256, (1024, 4096)), dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=0), reference=lambda x: np.mean(x, axis=0), **paper(100, 529)),
    Kernel("jax.numpy.max", "reduction", normal(ROWS, 1024), dtypes=(*FLOATS, "int32", "uint8"),
           call=lambda c, x: c.fn(x, axis=1, keepdims=True), reference=lambda x: np.max(x, axis=1, keepdims=True),
           out_dtype=same(*FLOATS, "int32", "uint8"), **paper(100, 578)),
    Kernel("jax.numpy.prod", "reduction", uniform((1024, 1 << 16), 16, low=0.5, high=1.5),
           dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.prod(x, axis=1), **paper(90, 115)),
    Kernel("jax.numpy.var", "reduction", normal(ROWS, 1024, scale=3.0), dtypes=(*FLOATS, "complex64"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.var(x, axis=-1),
           # the variance of complex data is real
           out_dtype={**same(*FLOATS), "complex64": "float32"}, **paper(80, 36)),
    Kernel("jax.numpy.average", "reduction", _average_inputs, dtypes=(*FLOATS, "complex64"),
           call=lambda c, x, w: c.fn(x, axis=1, weights=w),
           reference=lambda x, w: np.average(x, axis=1, weights=w), **paper(40, 4)),
    Kernel("jax.numpy.all", "reduction", _all_inputs, dtypes=("bool",),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.all(x, axis=-1), out_dtype="bool",
           **paper(100, 2197)),
    Kernel("jax.numpy.argmax", "reduction", normal((256, 4096), 256), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=1), reference=lambda x: np.argmax(x, axis=1), out_dtype=None),
    Kernel("jax.numpy.partition", "reduction", normal((32, 2048), 512), dtypes=(*FLOATS, "int32", "complex64"),
           call=lambda c, x: c.fn(x, KTH, axis=1), reference=lambda x: np.partition(x, KTH, axis=1),
           canonical=_partitioned, out_dtype={**same(*FLOATS, "int32"), "complex64": "complex64"}),
    Kernel("jax.numpy.cumsum", "reduction", normal((64, 1024), 1024), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: c.fn(x, axis=-1), reference=lambda x: np.cumsum(x, axis=-1),
           out_dtype=same(*FLOATS, "int32")),
]
