"""Function transformations (jit, grad, vjp, vmap, make_jaxpr), pytrees, tracing utilities and I/O.

Functions that users define once are defined once here too (in ``setup``), so a timed call
reuses JAX's trace and compilation caches as a user's repeated call would.
"""

import io

import numpy as np

from portability.catalog import Kernel, normal, pair, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
SOME = ("float32", "float64", "bfloat16")  # for utilities whose numerics are not the point
SHAPE = ((64, 1024), 1024)  # 64x1024 at small, 1M elements at medium


def _f(np_or_jnp, x):
    return np_or_jnp.sin(x) * x + 1.0


def _df(x):
    return np.cos(x) * x + np.sin(x)


def _vjp(c, x):
    y, pullback = c.fn(lambda v: _f(c.fw.numpy, v), x)
    return y, pullback(c.fw.numpy.full_like(y, 2.0))


def _grad(c, x):
    return c.fn(lambda v: c.fw.numpy.sum(_f(c.fw.numpy, v)))(x)


def _jit_setup(c, x):
    f = c.fn(lambda v: _f(c.fw.numpy, v))
    return lambda: f(x)


def _disable_jit_setup(c, x):
    f = c.fw.jit(lambda v: _f(c.fw.numpy, v))

    def run():
        with c.fn():
            return f(x)  # runs op by op

    return run


def _named_call_setup(c, x):
    f = c.fw.jit(c.fn(lambda v: _f(c.fw.numpy, v), name="step"))
    return lambda: f(x)


def _eval_context_setup(c, x, y):
    def f(v):
        with c.fn():  # evaluate eagerly inside a trace: y + 1 is a constant of the jitted function
            eager = c.fw.numpy.add(y, 1.0)
        return v * eager

    g = c.fw.jit(f)
    return lambda: g(x)


def _check_jaxpr(out, x):
    text = str(out)
    assert "sin" in text and "mul" in text, f"jaxpr lacks sin/mul: {text[:200]}"
    assert f"[{','.join(map(str, x.shape))}]" in text, f"jaxpr lacks the input shape {x.shape}: {text[:200]}"


def _batched_matvec(rng):
    batch = rng.pick(32, 256)
    return {"a": rng.standard_normal((batch, 64, 64)), "b": rng.standard_normal((batch, 64))}


def _tree_map(c, x, y):
    return c.fn(lambda a, b: a * b + 1, {"a": x, "b": [y, x]}, {"a": y, "b": [y, y]})


def _tree_unflatten(c, x, y):
    leaves, treedef = c.fw.tree_util.tree_flatten({"w": x, "layers": [(y, x), {"bias": y}]})
    return c.fn(treedef, [2 * leaf for leaf in leaves])


def _tree_unflatten_ref(x, y):
    return {"w": 2 * x, "layers": [(2 * y, 2 * x), {"bias": 2 * y}]}


def _partial_setup(c, x, y):
    # Partial is a pytree: a function with bound array arguments that can be passed through jit.
    apply = c.fw.jit(lambda p, v: p(v))
    return lambda: apply(c.fn(c.fw.numpy.add, x), y)


def _typeof(c, x):
    aval = c.fn(x)
    return c.fw.numpy.zeros(aval.shape, aval.dtype)  # an array with the aval's shape and dtype


def _save_load(c, x):
    buf = io.BytesIO()
    c.fn(buf, x)
    buf.seek(0)
    return c.fw.numpy.load(buf)


def _check_isscalar(out, x):
    assert out == [True, False], f"isscalar(0-d array), isscalar(2-d array) gave {out}, expected [True, False]"


def _partial_val(c, x):
    pv = c.fn.unknown(c.fw.core.ShapedArray(x.shape, x.dtype))
    aval = pv.get_aval()
    return c.fw.numpy.zeros(aval.shape, aval.dtype), pv.is_known()


def _trace_to_jaxpr_dynamic(c, x):
    """Stage out v*v + 1 on the aval of x, as the paper's test staged a function on avals."""
    from jax import api_util
    from jax.extend import linear_util as lu

    def square_plus_one(v):
        return [v * v + 1]  # the traced function returns a flat list of outputs

    aval = c.fw.core.ShapedArray(x.shape, x.dtype)
    wrapped = lu.wrap_init(square_plus_one, debug_info=api_util.debug_info("test", square_plus_one, (aval,), {}))
    return c.fn(wrapped, [aval])  # (jaxpr, output avals, constants)


def _check_staged(out, x):
    jaxpr, out_aval, *consts = out
    assert not consts, f"constants {consts}: v*v + 1 closes over no arrays"
    prims = [e.primitive.name for e in jaxpr.eqns]
    assert prims == ["mul", "add"], f"equations {prims}, expected ['mul', 'add']"
    (invar,), (outvar,) = jaxpr.invars, jaxpr.outvars
    assert invar.aval.shape == x.shape, f"input aval {invar.aval}, expected shape {x.shape}"
    # The check sees float inputs widened to float64: compare kinds, and the output with the input.
    assert np.dtype(invar.aval.dtype).kind == x.dtype.kind, f"input aval {invar.aval} for a {x.dtype} input"
    assert outvar.aval == invar.aval == out_aval, f"output aval {outvar.aval} / {out_aval}, input {invar.aval}"


KERNELS = [
    Kernel("jax.vjp", "autodiff", normal(*SHAPE), dtypes=FLOATS, call=_vjp,
           reference=lambda x: (_f(np, x), (2.0 * _df(x),)), **paper(60, 9)),
    Kernel("jax.grad", "autodiff", normal(*SHAPE), dtypes=FLOATS, call=_grad, reference=_df),
    Kernel("jax.jit", "graph", normal(*SHAPE), dtypes=FLOATS, setup=_jit_setup, reference=lambda x: _f(np, x)),
    Kernel("jax.vmap", "graph", _batched_matvec, dtypes=FLOATS, call=lambda c, a, b: c.fn(c.fw.numpy.dot)(a, b),
           reference=lambda a, b: np.einsum("bij,bj->bi", a, b),
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    # Tracing sees shapes, not values: one size (here and for the aval and partial-eval utilities).
    Kernel("jax.make_jaxpr", "graph", normal(64, 32), dtypes=("float32", "float16"),
           call=lambda c, x: c.fn(lambda v: _f(c.fw.numpy, v))(x), check=_check_jaxpr, out_dtype=None,
           **paper(60, 13)),
    Kernel("jax.disable_jit", "graph", normal(*SHAPE), dtypes=SOME, setup=_disable_jit_setup,
           reference=lambda x: _f(np, x), **paper(40, 4)),
    Kernel("jax.named_call", "graph", normal(*SHAPE), dtypes=SOME, setup=_named_call_setup,
           reference=lambda x: _f(np, x), **paper(60, 10)),
    Kernel("jax.core.eval_context", "graph", pair(*SHAPE), dtypes=SOME, setup=_eval_context_setup,
           reference=lambda x, y: x * (y + 1.0), **paper(30, 3)),
    Kernel("jax.core.get_aval", "utility", normal(64, 64), dtypes=("float32",), call=_typeof,
           reference=np.zeros_like, **paper(60, 9),
           removed="removed in jax 0.10 (deprecated in 0.8.2); use jax.typeof"),
    Kernel("jax.typeof", "utility", normal(64, 64), dtypes=SOME, call=_typeof, reference=np.zeros_like),
    Kernel("jax.interpreters.partial_eval.PartialVal", "graph", normal(16, 8), dtypes=("float32", "float16"),
           call=_partial_val, reference=lambda x: (np.zeros_like(x), False), **paper(50, 6)),
    # The paper staged an identity on a DShapedArray; jax.core.DShapedArray (dynamic shapes) is gone in 0.10.
    Kernel("jax.interpreters.partial_eval.trace_to_jaxpr_dynamic", "graph", normal(16, 8), dtypes=("float32", "int32"),
           call=_trace_to_jaxpr_dynamic, check=_check_staged, out_dtype=None, **paper(10, 1)),
    Kernel("jax.tree_util.tree_map", "utility", pair(*SHAPE), dtypes=("float32", "float64"), call=_tree_map,
           reference=lambda x, y: {"a": x * y + 1, "b": [y * y + 1, x * y + 1]}, **paper(100, 491)),
    Kernel("jax.tree_util.tree_unflatten", "utility", pair((64, 1024), (64, 1024)), dtypes=("float32", "float64"),
           call=_tree_unflatten, reference=_tree_unflatten_ref, **paper(80, 47)),
    Kernel("jax.tree_util.Partial", "utility", pair(*SHAPE), dtypes=("float32", "float64"), setup=_partial_setup,
           reference=np.add, **paper(100, 871)),
    Kernel("jax.numpy.save", "io", normal((256, 1024), (256, 1024)), dtypes=(*FLOATS, "int32"), call=_save_load,
           reference=lambda x: x, out_dtype={d: d for d in (*FLOATS, "int32")}, **paper(100, 3813)),
    # Queries of rank and size: one size.
    Kernel("jax.numpy.isscalar", "utility", normal(16, 16), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: [c.fn(x[0, 0]), c.fn(x)], check=_check_isscalar, out_dtype=None, **paper(60, 8)),
    Kernel("jax.numpy.size", "utility", normal(16, 32), dtypes=("float32", "int32"),
           call=lambda c, x: (c.fn(x), c.fn(x, 1)), reference=lambda x: (np.size(x), np.size(x, 1)), out_dtype=None,
           **paper(80, 38)),
]
