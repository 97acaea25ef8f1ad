"""Pytree utilities from the usage sample: jax.tree.map, tree_leaves, tree.transpose, custom nodes."""

from portability.catalog import BIG_SIDE, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _params_and_grads(rng):
    """A small model's parameters and their gradients: a matrix, a bias, a list of two vectors."""
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    shapes = {"w": (rows, cols), "b": (cols,), "u": (cols,), "v": (rows,)}
    out = {k: rng.standard_normal(s) for k, s in shapes.items()}
    out.update({f"d{k}": rng.standard_normal(s) for k, s in shapes.items()})
    return out


def _dense_and_grads(rng):
    rows, cols = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"w": rng.standard_normal((rows, cols)), "b": rng.standard_normal(cols),
            "dw": rng.standard_normal((rows, cols)), "db": rng.standard_normal(cols)}


def _tree(w, b, u, v):
    return {"dense": {"kernel": w, "bias": b}, "scales": [u, v]}


def _sgd(c, w, b, u, v, dw, db, du, dv):
    # The corpus's most common use: an update rule applied leaf by leaf to two trees of one structure.
    return c.fn(lambda p, g: p - 0.1 * g, _tree(w, b, u, v), _tree(dw, db, du, dv))


def _sgd_ref(w, b, u, v, dw, db, du, dv):
    return _tree(w - 0.1 * dw, b - 0.1 * db, u - 0.1 * du, v - 0.1 * dv)


def _four(rng):
    return {k: rng.standard_normal((64, 64)) for k in ("x", "y", "z", "t")}


def _leaves(c, x, y, z, t):
    # Dict keys are visited sorted; None is an empty subtree, not a leaf.
    return c.fn({"opt": [x, None, (y, {"count": t})], "params": {"w": z}, "aux": None})


def _pytree_class_setup(c, w, b, dw, db):
    @c.fn
    class Dense:
        def __init__(self, kernel, bias, name):
            self.kernel, self.bias, self.name = kernel, bias, name

        def tree_flatten(self):
            return (self.kernel, self.bias), self.name  # children, static aux data

        @classmethod
        def tree_unflatten(cls, name, children):
            return cls(*children, name)

    # The instance goes through jit as an argument and comes back as one.
    step = c.fw.jit(lambda layer, grad: c.fw.tree.map(lambda p, g: p - 0.1 * g, layer, grad))
    layer, grad = Dense(w, b, "dense"), Dense(dw, db, "dense")

    def run():
        out = step(layer, grad)
        return isinstance(out, Dense) and out.name == "dense", out.kernel, out.bias

    return run


def _transpose(c, x, y, z, t):
    # As in optax's per-example clipping: a tree of (a, b) pairs becomes a pair of trees.
    tree = c.fw.tree
    return c.fn(tree.structure({"w": 0, "b": 0}), tree.structure((0, 0)), {"w": (x, y), "b": (z, t)})


KERNELS = [
    Kernel("jax.tree.map", "utility", _params_and_grads, dtypes=FLOATS, call=_sgd, reference=_sgd_ref),
    # Leaves are the arrays themselves, unchanged: only their selection and order are checked.
    Kernel("jax.tree_util.tree_leaves", "utility", _four, dtypes=("float32",), call=_leaves,
           reference=lambda x, y, z, t: [x, y, t, z]),
    Kernel("jax.tree_util.register_pytree_node_class", "utility", _dense_and_grads, dtypes=FLOATS,
           setup=_pytree_class_setup, reference=lambda w, b, dw, db: (True, w - 0.1 * dw, b - 0.1 * db)),
    Kernel("jax.tree.transpose", "utility", _four, dtypes=("float32",), call=_transpose,
           reference=lambda x, y, z, t: ({"w": x, "b": z}, {"w": y, "b": t})),
]
