"""Distribution, sessions, build queries, mixed precision and model export drawn in the usage
sample: tf.distribute.get_strategy, DTensor's DVariable, TF1's WorkerSessionCreator and TPU
CrossShardOptimizer, tf.test.is_built_with_cuda, Keras mixed-precision policies and TFLite conversion.

Multi-device APIs run in their single-process, single-device form: the default strategy, a
1-device DTensor mesh of the case's backend, a worker session on an in-process local server.
"""

import numpy as np

from portability.catalog import BIG_SIDE, SIDE, Kernel, normal, pair

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)
#: Dense layers sum 64 or 512 products per output: linalg.py's matmul tolerances for half precision.
MATMUL_TOL = {"float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}
#: The Keras policy a user sets to compute in each case dtype (variables stay float32 under mixed policies).
POLICY = {"float32": "float32", "float64": "float64", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def _strategy_setup(c, x):
    tf = c.fw

    def run():
        strategy = c.fn()
        per_replica = strategy.run(lambda t: t * 2.0 + 1.0, args=(x,))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return total, strategy.num_replicas_in_sync

    return run


def _cuda_build_ref():
    """What the build information says: the reference runs in the worker, where TensorFlow is imported."""
    import tensorflow as tf

    return bool(tf.sysconfig.get_build_info().get("is_cuda_build", False))


def _dvariable_setup(c, x, y):
    tf = c.fw
    dtensor = tf.experimental.dtensor
    kind = c.backend.upper()
    mesh = dtensor.create_mesh([("batch", 1)], devices=[f"{kind}:0"], device_type=kind)
    layout = dtensor.Layout.batch_sharded(mesh, "batch", rank=2)
    dx, dy = dtensor.copy_to_mesh(x, layout), dtensor.copy_to_mesh(y, layout)

    def run():
        v = c.fn(dx)
        v.assign_add(dy)
        return dtensor.unpack(v.read_value())[0]

    return run


def _sgd_inputs(rng):
    shape = rng.dims(*N)
    return {"x": rng.standard_normal(shape), "grad": rng.standard_normal(shape)}


def _cross_shard_setup(c, x, grad):
    tf = c.fw
    graph = tf.Graph()
    with graph.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(x.numpy())
        loss = tf.reduce_sum(v * tf.constant(grad.numpy()))  # d loss / d v = grad
        train = c.fn(tf.compat.v1.train.GradientDescentOptimizer(0.1)).minimize(loss)
        with tf.control_dependencies([train]):
            read = tf.identity(v.read_value())
    # no soft placement: an op without a kernel on the case's device must fail, not move to the host
    sess = tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(allow_soft_placement=False))

    def run():
        sess.run(v.initializer)  # every round is the first step from x
        return sess.run(read)

    return run


def _worker_session_setup(c, x):
    """A chief session initialises the variable on an in-process server; the worker's session on
    the same server must find it initialised and read it."""
    tf = c.fw
    server = tf.distribute.Server.create_local_server()
    graph = tf.Graph()
    with graph.as_default():
        with tf.device(c.device):
            v = tf.compat.v1.Variable(x.numpy())
            out = v.read_value() * 2.0 + 1.0
        chief = tf.compat.v1.train.ChiefSessionCreator(master=server.target).create_session()

    def run():
        with graph.as_default():
            sess = c.fn(master=server.target).create_session()
        try:
            return sess.run(out)
        finally:
            sess.close()

    run.keep = (server, chief)  # the server and the chief's session live as long as the case
    return run


def _dense_inputs(rng):
    m, k, n = rng.dims(SIDE, SIDE, SIDE)
    return {"x": rng.standard_normal((m, k)), "w": rng.standard_normal((k, n)) / np.sqrt(k),
            "b": rng.standard_normal(n)}


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


def _tflite_setup(c, x, w, b):
    tf = c.fw
    module = tf.Module()
    module.w, module.b = tf.Variable(w), tf.Variable(b)

    @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    def forward(t):
        return tf.nn.relu(tf.matmul(t, module.w) + module.b)

    concrete = forward.get_concrete_function()
    host = x.numpy()

    def run():
        model = c.fn([concrete], module).convert()
        interpreter = tf.lite.Interpreter(model_content=model)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], host)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    return run


KERNELS = [
    Kernel("tf.distribute.get_strategy", "utility", normal(*N), setup=_strategy_setup,
           reference=lambda x: (x * 2 + 1, 1),
           note="the default strategy: run a step per replica and SUM-reduce it (one replica)"),
    Kernel("tf.test.is_built_with_cuda", "utility", lambda rng: {}, reference=_cuda_build_ref, out_dtype=None,
           note="must agree with tf.sysconfig.get_build_info()['is_cuda_build'] (True on the CUDA build the gpu "
                "backend runs)"),
    Kernel("tf.experimental.dtensor.DVariable", "utility", pair(*N), dtypes=FLOATS, setup=_dvariable_setup,
           reference=lambda x, y: x + y,
           note="a batch-sharded DVariable on a 1-device mesh of the case's backend; assign_add then read"),
    # CrossReplicaSum has kernels only inside a TPU computation (TPUEstimator, tpu.rewrite): there
    # is no single-device form on the CPU or a GPU, so these cases fail, honestly, with no kernel.
    Kernel("tf.compat.v1.tpu.CrossShardOptimizer", "optimizer", _sgd_inputs, setup=_cross_shard_setup,
           reference=lambda x, grad: x - 0.1 * grad, device_only="tpu",
           note="wraps GradientDescentOptimizer(0.1); one minimize step in a TF1 session"),
    Kernel("tf.compat.v1.train.WorkerSessionCreator", "graph", normal(*N), setup=_worker_session_setup,
           reference=lambda x: x * 2 + 1,
           note="a worker session on a local in-process server, after the chief initialised the variable"),
    Kernel("tf.compat.v2.keras.mixed_precision.set_global_policy", "module", _dense_inputs, dtypes=FLOATS,
           setup=_policy_setup, reference=lambda x, w, b: (x @ w + b, True), tol=MATMUL_TOL,
           note="the policy for the case dtype (mixed_float16 / mixed_bfloat16 / float32 / float64), a Dense "
                "layer built under it, the previous policy restored"),
    Kernel("tf.lite.TFLiteConverter.from_concrete_functions", "graph", _dense_inputs, setup=_tflite_setup,
           reference=lambda x, w, b: np.maximum(x @ w + b, 0),
           note="convert relu(x @ w + b) and run it in the TFLite interpreter (on the host)"),
]
