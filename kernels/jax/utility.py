"""JAX utilities: dtypes and casts, pytrees, device and backend queries, abstract values and profiler
annotations.

The harness already runs every call under ``jax.default_device(<the case's device>)``, so the backend and
device queries check what the API itself decides, against what JAX reports elsewhere. Classes and functions
that users define once are defined once here too (in ``setup``), so a timed call reuses JAX's trace and
compilation caches as a user's repeated call would.
"""

import dataclasses
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, normal, nothing, pair, paper, same, unchecked, uniform

CASTS = (*FLOATS, "complex64", "int32", "int8", "bool")
#: Conversions are exactly specified (round to nearest even; truncation toward zero for integers):
#: any difference from NumPy's cast of the same value is an error.
EXACT = {d: (0.0, 0.0) for d in CASTS}
QUERY = (*FLOATS, "complex64", "int32", "bool")
#: (mantissa bits, largest exponent, smallest normal exponent, total bits) of the IEEE-style
#: formats: eps = 2**-m, max = (2 - eps) * 2**emax, tiny = 2**emin.
FORMATS = {"float16": (10, 15, -14, 16), "bfloat16": (7, 127, -126, 16),
           "float32": (23, 127, -126, 32), "float64": (52, 1023, -1022, 64)}
PLATFORMS = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "rocm": "gpu", "tpu": "tpu"}
SOME = ("float32", "float64", "bfloat16")  # for utilities whose numerics are not the point
SHAPE = ((64, 1024), 1024)  # 64x1024 at small, 1M elements at medium


def _master_weights(rng):
    """float32 'master' values (some exactly zero) and the same values as the case's input.

    The values are float32-exact, so the harness's cast of ``x`` to the case dtype rounds them
    once, as a correct float32 -> dtype conversion of ``w`` must.
    """
    dims = rng.dims(BIG_SIDE, BIG_SIDE)
    values = rng.uniform(-100.0, 100.0, dims).astype(np.float32)
    values[rng.random(dims) < 0.05] = 0.0
    return {"x": values.astype(np.float64), "w": Keep(values)}


def _astype(c, x, w):
    # The corpus's use: float32 parameters cast to the compute dtype (mixed precision).
    return c.fn(w, c.fw.numpy.dtype(c.dtype))


def _activations(rng):
    # float32-exact values: a float64 case that JAX narrows to float32 (without x64) truncates alike.
    return {"x": _master_weights(rng)["x"]}


def _convert(c, x):
    jnp = c.fw.numpy
    return c.fn(x, jnp.float32), c.fn(x, jnp.int32), c.fn(x, jnp.bool_)


def _check_convert(out, x):
    wide, ints, flags = (np.asarray(o) for o in out)
    got = (wide.dtype.name, ints.dtype.name, flags.dtype.name)
    assert got == ("float32", "int32", "bool"), f"output dtypes {got}, expected (float32, int32, bool)"
    x = np.asarray(x, dtype=np.float64)
    # every value of the swept dtypes (within +-100) is exact in float32
    assert np.array_equal(wide, x.astype(np.float32)), f"{int(np.sum(wide != x))} values changed on the way to float32"
    bad = int(np.sum(ints != np.trunc(x)))
    assert bad == 0, f"{bad} of {x.size} values not truncated toward zero in the int32 conversion"
    bad = int(np.sum(flags != (x != 0)))
    assert bad == 0, f"{bad} of {x.size} values give the wrong truth value in the bool conversion"


def _int_values(rng):
    return {"x": rng.integers(-100, 100, (64, 64)).astype(np.float64)}


def _full_like_dtype(c, x):
    # The corpus's use: make a constant in an array's own dtype.
    return c.fw.numpy.full(x.shape, 1.5, dtype=c.fn(x))


def _finfo(c, x):
    # The corpus's use: the most negative value of an activation's dtype fills masked positions.
    info = c.fn(x.dtype)
    filled = c.fw.numpy.where(x > 0, x, info.min)
    return (c.dtype, str(info.dtype), float(info.eps), float(info.max), float(info.min), float(info.tiny),
            int(info.bits), filled)


def _check_finfo(out, x):
    case, name, eps, big, small, tiny, bits, filled = out
    m, emax, emin, nbits = FORMATS[case]
    assert name == case, f"finfo of a {case} array describes {name}"
    want = {"eps": 2.0**-m, "max": (2 - 2.0**-m) * 2.0**emax, "min": -(2 - 2.0**-m) * 2.0**emax,
            "tiny": 2.0**emin, "bits": nbits}
    got = {"eps": eps, "max": big, "min": small, "tiny": tiny, "bits": bits}
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"finfo({case}) (got, expected): {wrong}"
    filled = np.asarray(filled, dtype=np.float64)
    assert np.all(np.isfinite(filled)), "finfo.min is not finite in its own dtype"
    assert np.array_equal(filled == small, ~(x > 0)), "masked positions do not hold finfo.min"


def _issubdtype_table(c, x):
    jnp = c.fw.numpy
    kinds = [jnp.bfloat16, jnp.float16, jnp.float32, jnp.int8, jnp.int32, jnp.uint8, jnp.uint32, jnp.complex64,
             jnp.bool_, x.dtype]
    categories = [jnp.floating, jnp.inexact, jnp.number, jnp.integer, jnp.signedinteger, jnp.unsignedinteger,
                  jnp.complexfloating, jnp.bool_]
    return [[c.fn(k, cat) for cat in categories] for k in kinds]


def _issubdtype_ref(x):
    # NumPy does not know bfloat16 as a float (ml_dtypes registers it outside np.floating): its
    # row must read like float16's.
    kinds = [np.float16, np.float16, np.float32, np.int8, np.int32, np.uint8, np.uint32, np.complex64, np.bool_,
             np.float32]
    categories = [np.floating, np.inexact, np.number, np.integer, np.signedinteger, np.unsignedinteger,
                  np.complexfloating, np.bool_]
    return [[bool(np.issubdtype(k, cat)) for cat in categories] for k in kinds]


def _small(rng):
    return {"x": rng.standard_normal((64, 64))}


#: Why a question to the runtime about its devices is not a compile-only case.
_RUNTIME = "a question to the runtime about its devices, which a compile-only backend does not have"


def _local_device_count(c, x):
    # The corpus's use: split a batch over the local devices and pmap over them.
    count = c.fn(c.backend)
    listed = len(c.fw.local_devices(backend=c.backend))
    shards = x.reshape(count, -1)
    doubled = c.fw.pmap(lambda v: v * 2, backend=c.backend)(shards).reshape(x.shape)
    return count, listed, c.fw.device_count(c.backend), doubled


def _check_local_device_count(out, x):
    count, listed, total, doubled = out
    assert isinstance(count, int) and count >= 1, f"local_device_count() is {count!r}"
    assert count == listed, f"local_device_count() is {count}, jax.local_devices() lists {listed}"
    assert total >= count, f"device_count() {total} is below local_device_count() {count}"
    assert np.array_equal(np.asarray(doubled, dtype=np.float64), 2 * x), "pmap over the local devices gave wrong values"


def _trace_events(logdir, name):
    """(name, step_num) of the events called ``name`` in the trace the profiler wrote."""
    files = list(Path(logdir).rglob("*.trace.json.gz"))
    if not files:
        return [("no trace.json.gz written", "")]
    with gzip.open(files[0]) as f:
        events = json.load(f).get("traceEvents", [])
    return [(e["name"], e.get("args", {}).get("step_num", "")) for e in events if e.get("name") == name]


def _step_annotation_setup(c, x):
    jnp = c.fw.numpy
    step = c.fw.jit(lambda v: jnp.tanh(v @ v) * 0.5)
    step(x).block_until_ready()  # compiled before tracing
    logdir = tempfile.mkdtemp()
    try:
        # The effect of the annotation: a profile of the step carries it, with its step number.
        with c.fw.profiler.trace(logdir), c.fn("train_step", step_num=7):
            step(x).block_until_ready()
        events = _trace_events(logdir, "train_step")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)

    def run():
        with c.fn("train_step", step_num=8):  # the timed call: an annotated step, no profiler running
            out = step(x)
        return events, out

    return run


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


def _platform(array):
    (device,) = array.devices()
    return PLATFORMS.get(device.platform, device.platform)


def _default_backend(c):
    # The corpus's use: pick tolerances or code paths by the platform JAX runs on by default.
    first = c.fw.devices()[0]
    return c.fn(), PLATFORMS.get(first.platform, first.platform), c.backend


def _check_default_backend(out):
    default, first_device, case = out
    assert default in ("cpu", "gpu", "tpu"), f"default_backend() is {default!r}"
    assert default == first_device, f"default_backend() is {default!r}, jax.devices()[0] is a {first_device}"
    # JAX prefers an accelerator: a case on one means it is the default backend
    assert case == "cpu" or default == case, f"default_backend() is {default!r} on a machine with a {case}"


def _default_device_setup(c):
    jnp = c.fw.numpy
    cpu = c.fw.devices("cpu")[0]
    target = c.fw.devices(c.backend)[0]

    def run():
        with c.fn(cpu):  # the corpus's use: initialise on the host first
            host = jnp.arange(8.0)
        with c.fn(target):
            placed = jnp.arange(4096.0, dtype=c.dtype) * 0.5
        return _platform(host), _platform(placed), c.backend, placed

    return run


def _check_default_device(out):
    host, placed, case, values = out
    assert host == "cpu", f"an array made under default_device(cpu) is on {host}"
    assert placed == case, f"an array made under default_device({case}) is on {placed}"
    assert np.array_equal(np.asarray(values), np.arange(4096.0) * 0.5), "arange(4096) * 0.5 has wrong values"


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


def _check_isscalar(out, x):
    assert out == [True, False], f"isscalar(0-d array), isscalar(2-d array) gave {out}, expected [True, False]"


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


def _four_params(rng):
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


KERNELS = [
    Kernel("jax.numpy.astype", "utility", _master_weights, dtypes=CASTS, call=_astype, reference=lambda x, w: x,
           out_dtype=same(*CASTS), tol=EXACT),
    Kernel("jax.lax.convert_element_type", "utility", _activations, dtypes=(*FLOATS, "int32", "int8", "bool"),
           call=_convert, check=_check_convert,
           out_dtype=unchecked("converts to float32, int32 and bool: the check reads each result's dtype")),
    # A dtype query: one small size.
    Kernel("jax.lax.dtype", "utility", _int_values, dtypes=(*FLOATS, "int32", "bool"), call=_full_like_dtype,
           reference=lambda x: np.full_like(x, 1.5), out_dtype=same(*FLOATS, "int32", "bool")),
    # The corpus's use: upcast an activation to float32 before a numerically sensitive op.
    Kernel("jax.Array.astype", "utility", uniform(BIG_SIDE, BIG_SIDE, low=-100.0, high=100.0),
           dtypes=(*FLOATS, "int32", "int8", "bool"), call=lambda c, x: x.astype(c.fw.numpy.float32),
           reference=lambda x: x, out_dtype="float32"),
    Kernel("jax.numpy.issubdtype", "utility", normal(16, 16), dtypes=("float32",), call=_issubdtype_table,
           reference=_issubdtype_ref),
    Kernel("jax.numpy.finfo", "utility", normal(64, 64), dtypes=FLOATS, call=_finfo, check=_check_finfo),
    # Truncates toward zero, as NumPy's cast does. Without jax_enable_x64 (JAX's default) the
    # result is int32, with a warning: the dtype check reports it, as for every float64 case.
    # without x64 (--jax-x64 off, JAX's default) jnp.int64 casts to int32 with only a warning: fail:downcast
    Kernel("jax.numpy.int64", "utility", uniform(BIG_SIDE, BIG_SIDE, low=-100.0, high=100.0),
           dtypes=(*FLOATS, "int32", "int8"), reference=lambda x: x.astype(np.int64), out_dtype="int64"),
    Kernel("jax.numpy.iscomplexobj", "utility", normal(16, 16), dtypes=QUERY,
           call=lambda c, x: (c.fn(x), c.fn(x[0])), reference=lambda x: (np.iscomplexobj(x), np.iscomplexobj(x[0]))),
    Kernel("jax.numpy.isrealobj", "utility", normal(16, 16), dtypes=QUERY,
           call=lambda c, x: (c.fn(x), c.fn(x[0])), reference=lambda x: (np.isrealobj(x), np.isrealobj(x[0]))),
    # A device query: one small size; the count is checked against jax.local_devices.
    Kernel("jax.local_device_count", "utility", _small, dtypes=("float32",), call=_local_device_count,
           check=_check_local_device_count, host_only=_RUNTIME),
    Kernel("jax.profiler.StepTraceAnnotation", "utility", _small, dtypes=("float32",), setup=_step_annotation_setup,
           reference=lambda x: ([("train_step", "7")], np.tanh(x @ x) * 0.5)),
    Kernel("jax.tree.map", "utility", _params_and_grads, dtypes=FLOATS, call=_sgd, reference=_sgd_ref),
    # Leaves are the arrays themselves, unchanged: only their selection and order are checked.
    Kernel("jax.tree_util.tree_leaves", "utility", _four, dtypes=("float32",), call=_leaves,
           reference=lambda x, y, z, t: [x, y, t, z]),
    Kernel("jax.tree_util.register_pytree_node_class", "utility", _dense_and_grads, dtypes=FLOATS,
           setup=_pytree_class_setup, reference=lambda w, b, dw, db: (True, w - 0.1 * dw, b - 0.1 * db)),
    Kernel("jax.tree.transpose", "utility", _four, dtypes=("float32",), call=_transpose,
           reference=lambda x, y, z, t: ({"w": x, "b": z}, {"w": y, "b": t})),
    Kernel("jax.default_backend", "utility", nothing(), dtypes=("float32",), call=_default_backend, host_only=_RUNTIME,
           check=_check_default_backend),
    Kernel("jax.default_device", "utility", nothing(), dtypes=("float32",), setup=_default_device_setup,
           check=_check_default_device, host_only="placement of eager calls: a compiled program's is its shardings'"),
    Kernel("jax.core.get_aval", "utility", normal(64, 64), dtypes=("float32",), call=_typeof,
           reference=np.zeros_like, **paper(60, 9),
           removed="removed in jax 0.10 (deprecated in 0.8.2); use jax.typeof"),
    Kernel("jax.typeof", "utility", normal(64, 64), dtypes=SOME, call=_typeof, reference=np.zeros_like),
    Kernel("jax.tree_util.tree_map", "utility", pair(*SHAPE), dtypes=("float32", "float64"), call=_tree_map,
           reference=lambda x, y: {"a": x * y + 1, "b": [y * y + 1, x * y + 1]}, **paper(100, 491)),
    Kernel("jax.tree_util.tree_unflatten", "utility", pair((64, 1024), (64, 1024)), dtypes=("float32", "float64"),
           call=_tree_unflatten, reference=_tree_unflatten_ref, **paper(80, 47)),
    Kernel("jax.tree_util.Partial", "utility", pair(*SHAPE), dtypes=("float32", "float64"), setup=_partial_setup,
           reference=np.add, **paper(100, 871)),
    # Queries of rank and size: one size.
    Kernel("jax.numpy.isscalar", "utility", normal(16, 16), dtypes=(*FLOATS, "int32"),
           call=lambda c, x: [c.fn(x[0, 0]), c.fn(x)], check=_check_isscalar, **paper(60, 8)),
    Kernel("jax.numpy.size", "utility", normal(16, 32), dtypes=("float32", "int32"),
           call=lambda c, x: (c.fn(x), c.fn(x, 1)), reference=lambda x: (np.size(x), np.size(x, 1)),
           **paper(80, 38)),
    Kernel("jax.tree_util.register_pytree_node", "utility", _dense_and_grads, dtypes=FLOATS,
           setup=_register_node_setup, reference=lambda w, b, dw, db: (True, w - 0.1 * dw, b - 0.1 * db)),
    Kernel("jax.tree_util.register_dataclass", "utility", _dense_and_grads, dtypes=FLOATS,
           setup=_register_dataclass_setup,
           reference=lambda w, b, dw, db: (True, {"w": w - 0.1 * dw, "b": b - 0.1 * db}, np.int32(1))),
    Kernel("jax.tree_util.tree_map_with_path", "utility", _four_params, dtypes=FLOATS, call=_weight_decay,
           reference=_weight_decay_ref),
    # Leaves are the arrays themselves, unchanged: only their paths, selection and order are checked.
    Kernel("jax.tree_util.tree_leaves_with_path", "utility", _small_four, dtypes=("float32",), call=_leaves_with_path,
           reference=_leaves_with_path_ref),
]
