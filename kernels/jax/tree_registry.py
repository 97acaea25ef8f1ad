"""Pytree registration and path utilities, shape evaluation, custom JVP rules and function
flattening from the usage sample.

Classes and functions that users define once are defined once here too (in ``setup``), so a
timed call reuses JAX's trace and compilation caches as a user's repeated call would.
"""

import dataclasses

import numpy as np

from portability.catalog import BIG_SIDE, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
SOME = ("float32", "float64", "bfloat16")  # for utilities whose numerics are not the point


def _dense_and_grads(rng):
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"w": rng.standard_normal((rows, cols)), "b": rng.standard_normal(cols),
            "dw": rng.standard_normal((rows, cols)), "db": rng.standard_normal(cols)}


def _register_node_setup(c, w, b, dw, db):
    class Dense:
        def __init__(self, kernel, bias, name):
            self.kernel, self.bias, self.name = kernel, bias, name

    # children, then static aux data; unflatten rebuilds the instance from them.
    c.fn(Dense, lambda d: ((d.kernel, d.bias), d.name), lambda name, children: Dense(*children, name))
    step = c.fw.jit(lambda layer, grad: c.fw.tree.map(lambda p, g: p - 0.1 * g, layer, grad))
    layer, grad = Dense(w, b, "dense"), Dense(dw, db, "dense")
    n_leaves = len(c.fw.tree_util.tree_leaves(layer))

    def run():
        out = step(layer, grad)
        return isinstance(out, Dense) and out.name == "dense" and n_leaves == 2, out.kernel, out.bias

    return run


def _register_dataclass_setup(c, w, b, dw, db):
    @dataclasses.dataclass
    class TrainState:
        params: dict
        step: object
        name: str

    c.fn(TrainState, data_fields=["params", "step"], meta_fields=["name"])

    @c.fw.jit
    def update(state, grads):  # as in a training loop: a new state, the static name carried along
        params = c.fw.tree.map(lambda p, g: p - 0.1 * g, state.params, grads)
        return TrainState(params=params, step=state.step + 1, name=state.name)

    state = TrainState(params={"w": w, "b": b}, step=c.fw.numpy.asarray(0, dtype=c.fw.numpy.int32), name="run")
    grads = {"w": dw, "b": db}

    def run():
        out = update(state, grads)
        return isinstance(out, TrainState) and out.name == "run", out.params, out.step

    return run


def _four(rng):
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"w": rng.standard_normal((rows, cols)), "b": rng.standard_normal(cols),
            "u": rng.standard_normal((cols, rows)), "v": rng.standard_normal(rows)}


def _weight_decay(c, w, b, u, v):
    # The corpus's use: decay the kernels only, picked by the last key of their path.
    params = {"dense1": {"kernel": w, "bias": b}, "dense2": {"kernel": u, "bias": v}}
    return c.fn(lambda path, p: p * 0.99 if path[-1].key == "kernel" else p, params)


def _weight_decay_ref(w, b, u, v):
    return {"dense1": {"kernel": w * 0.99, "bias": b}, "dense2": {"kernel": u * 0.99, "bias": v}}


def _small_four(rng):
    return {k: rng.standard_normal((64, 64)) for k in ("x", "y", "z", "t")}


def _leaves_with_path(c, x, y, z, t):
    tree = {"params": {"dense": {"kernel": x, "bias": y}}, "opt": [z, None, (t,)]}
    return [(c.fw.tree_util.keystr(path), leaf) for path, leaf in c.fn(tree)]


def _leaves_with_path_ref(x, y, z, t):
    # Dict keys are visited sorted; None is an empty subtree, not a leaf.
    return [("['opt'][0]", z), ("['opt'][2][0]", t), ("['params']['dense']['bias']", y),
            ("['params']['dense']['kernel']", x)]


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


def _defjvp_setup(c, x, y):
    jnp = c.fw.numpy
    @c.fw.custom_jvp
    def quantize(v):
        return jnp.round(v)

    def straight_through(primals, tangents):
        # The corpus's use: a straight-through estimator. Rounding's own derivative is 0 almost everywhere.
        (v,), (dv,) = primals, tangents
        return jnp.round(v), dv

    c.fn(quantize, straight_through)  # quantize.defjvp(straight_through)
    jvp = c.fw.jit(lambda v, dv: c.fw.jvp(quantize, (v,), (dv,)))
    grad = c.fw.jit(c.fw.grad(lambda v, g: jnp.sum(quantize(v) * g)))

    def run():
        primal, tangent = jvp(x, y)
        return primal, tangent, grad(x, y)

    return run


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
    Kernel("jax.tree_util.register_pytree_node", "utility", _dense_and_grads, dtypes=FLOATS,
           setup=_register_node_setup, reference=lambda w, b, dw, db: (True, w - 0.1 * dw, b - 0.1 * db)),
    Kernel("jax.tree_util.register_dataclass", "utility", _dense_and_grads, dtypes=FLOATS,
           setup=_register_dataclass_setup,
           reference=lambda w, b, dw, db: (True, {"w": w - 0.1 * dw, "b": b - 0.1 * db}, np.int32(1))),
    Kernel("jax.tree_util.tree_map_with_path", "utility", _four, dtypes=FLOATS, call=_weight_decay,
           reference=_weight_decay_ref),
    # Leaves are the arrays themselves, unchanged: only their paths, selection and order are checked.
    Kernel("jax.tree_util.tree_leaves_with_path", "utility", _small_four, dtypes=("float32",), call=_leaves_with_path,
           reference=_leaves_with_path_ref),
    # Shapes, not values: one small size.
    Kernel("jax.eval_shape", "graph", _eval_shape_inputs, dtypes=FLOATS, call=_eval_shape, reference=_eval_shape_ref),
    Kernel("jax.custom_jvp.defjvp", "autodiff", _scaled_pair, dtypes=FLOATS, setup=_defjvp_setup,
           reference=lambda x, y: (np.round(x), y, y)),
    Kernel("jax.api_util.flatten_fun_nokwargs", "graph", _scaled_pair, dtypes=SOME, call=_flatten_fun,
           reference=lambda x, y: {"out": x * x + y, "neg": -x}),
]
