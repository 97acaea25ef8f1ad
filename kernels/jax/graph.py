"""JAX tracing and transformations: jit, vmap, make_jaxpr, eval_shape, partial evaluation, vectorize and function
flattening.

Functions that users define once are defined once here too (in ``setup``), so a timed call reuses JAX's trace
and compilation caches as a user's repeated call would.
"""

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, pair, paper

SOME = ("float32", "float64", "bfloat16")  # for utilities whose numerics are not the point
SHAPE = ((64, 1024), 1024)  # 64x1024 at small, 1M elements at medium


def _f(np_or_jnp, x):
    return np_or_jnp.sin(x) * x + 1.0


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


def _partial_val_known(c, x):
    # As in flax's lazy_init: a concrete input becomes a known partial value.
    pv = c.fn(x)
    aval = pv.get_aval()
    return pv.is_known(), pv.get_known(), c.fw.numpy.zeros(aval.shape, aval.dtype)


def _vectorize_setup(c, a, b):
    # The corpus's use: a function of single vectors, mapped over the leading batch axes.
    dot = c.fn(lambda u, v: c.fw.numpy.sum(u * v), signature="(n),(n)->()")
    return lambda: dot(a, b)


def _batch_of_vectors(rng):
    dims = rng.dims((64, 16384), 64)
    return {"a": rng.standard_normal(dims), "b": rng.standard_normal(dims)}


def _eval_shape_inputs(rng):
    return {"x": rng.standard_normal((32, 64)), "w": rng.standard_normal((64, 16))}


def _eval_shape(c, x, w):
    jnp = c.fw.numpy

    def layer(v, kernel):
        return {"hidden": jnp.tanh(v @ kernel), "active": jnp.sum(v > 0)}

    # The corpus's use: shapes and dtypes of a function's outputs without running it (one
    # argument a real array, one only described), then buffers allocated to match.
    shapes = c.fn(layer, x, c.fw.ShapeDtypeStruct(w.shape, w.dtype))
    return {k: jnp.zeros(s.shape, s.dtype) for k, s in shapes.items()}


def _eval_shape_ref(x, w):
    return {"hidden": np.zeros((x.shape[0], w.shape[1])), "active": np.zeros((), dtype=np.int32)}


def _scaled_pair(rng):
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"x": rng.standard_normal(dims) * 10.0, "y": rng.standard_normal(dims)}


def _flatten_fun(c, x, y):
    # As in libraries that write their own transformations: trace a pytree function on flat leaves.
    from jax import api_util
    from jax.extend import linear_util as lu

    tree_util = c.fw.tree_util

    def affine(params, v):
        return {"out": params["w"] * v + params["b"], "neg": -v}

    args = ({"w": x, "b": y}, x)
    flat_args, in_tree = tree_util.tree_flatten(args)
    wrapped = lu.wrap_init(affine, debug_info=api_util.debug_info("flatten", affine, args, {}))
    flat_fun, out_tree = c.fn(wrapped, in_tree)
    flat_out = flat_fun.call_wrapped(*flat_args)
    return tree_util.tree_unflatten(out_tree(), flat_out)


KERNELS = [
    Kernel("jax.jit", "graph", normal(*SHAPE), dtypes=FLOATS, setup=_jit_setup, reference=lambda x: _f(np, x)),
    Kernel("jax.vmap", "graph", _batched_matvec, dtypes=FLOATS, call=lambda c, a, b: c.fn(c.fw.numpy.dot)(a, b),
           reference=lambda a, b: np.einsum("bij,bj->bi", a, b),
           tol={"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}),
    # Tracing sees shapes, not values: one size (here and for the aval and partial-eval utilities).
    Kernel("jax.make_jaxpr", "graph", normal(64, 32), dtypes=("float32", "float16"),
           call=lambda c, x: c.fn(lambda v: _f(c.fw.numpy, v))(x), check=_check_jaxpr,
           **paper(60, 13)),
    Kernel("jax.disable_jit", "graph", normal(*SHAPE), dtypes=SOME, setup=_disable_jit_setup,
           reference=lambda x: _f(np, x), **paper(40, 4)),
    Kernel("jax.named_call", "graph", normal(*SHAPE), dtypes=SOME, setup=_named_call_setup,
           reference=lambda x: _f(np, x), **paper(60, 10)),
    Kernel("jax.core.eval_context", "graph", pair(*SHAPE), dtypes=SOME, setup=_eval_context_setup,
           reference=lambda x, y: x * (y + 1.0), **paper(30, 3)),
    Kernel("jax.interpreters.partial_eval.PartialVal", "graph", normal(16, 8), dtypes=("float32", "float16"),
           call=_partial_val, reference=lambda x: (np.zeros_like(x), False), **paper(50, 6)),
    # The paper staged an identity on a DShapedArray; jax.core.DShapedArray (dynamic shapes) is gone in 0.10.
    Kernel("jax.interpreters.partial_eval.trace_to_jaxpr_dynamic", "graph", normal(16, 8), dtypes=("float32", "int32"),
           call=_trace_to_jaxpr_dynamic, check=_check_staged, **paper(10, 1)),
    Kernel("jax.interpreters.partial_eval.PartialVal.known", "graph", normal(16, 8), dtypes=("float32", "float16"),
           call=_partial_val_known, reference=lambda x: (True, x, np.zeros_like(x))),
    Kernel("jax.numpy.vectorize", "graph", _batch_of_vectors, dtypes=FLOATS, setup=_vectorize_setup,
           reference=lambda a, b: np.sum(a * b, axis=-1)),
    # Shapes, not values: one small size.
    Kernel("jax.eval_shape", "graph", _eval_shape_inputs, dtypes=FLOATS, call=_eval_shape, reference=_eval_shape_ref),
    Kernel("jax.api_util.flatten_fun_nokwargs", "graph", _scaled_pair, dtypes=SOME, call=_flatten_fun,
           reference=lambda x, y: {"out": x * x + y, "neg": -x}),
]
