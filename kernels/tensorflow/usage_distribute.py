"""Distribution and session set-up drawn in the usage sample: tf.distribute.TPUStrategy,
TPUClusterResolver.cluster_spec and tf.compat.v1.train.ChiefSessionCreator.

Each runs in its single-process form: a TPUStrategy over the local TPU system, resolvers given
their address directly (no network is contacted: a grpc:// address is taken as it is), a chief
session restored from a checkpoint on local disk.
"""

import os
import shutil
import tempfile
import weakref

import numpy as np

from portability.catalog import BIG_SIDE, Kernel, nothing

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)


def _tmpdir(owner, prefix):
    """A fresh directory, removed when ``owner`` (the timed callable) is collected."""
    path = tempfile.mkdtemp(prefix=prefix)
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path


# -- tf.distribute.TPUStrategy: one replicated step over the local TPU system ------------------------

def _tpu_strategy_setup(c, x):
    """The recipe of TPU programs: resolve the local TPU, initialise its system (unless the harness
    already has), build the strategy, run a step on every replica. Where there is no TPU,
    initialize_tpu_system raises NotFoundError (no kernel for ConfigureDistributedTPU): an honest
    failure of a TPU-only API on another backend."""
    tf = c.fw
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    if not tf.config.list_logical_devices("TPU"):
        tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = c.fn(resolver)

    @tf.function
    def replicated(v):
        return strategy.run(lambda t: t * 2 + 1, args=(v,))

    def step():
        local = strategy.experimental_local_results(replicated(x))
        first = local[0].numpy()
        agree = all(np.array_equal(first, r.numpy()) for r in local[1:])
        return local[0], agree, len(local) == strategy.num_replicas_in_sync

    return step


# -- TPUClusterResolver.cluster_spec -------------------------------------------------------------------

def _cluster_spec_setup(c):
    resolver = c.fw.distribute.cluster_resolver.TPUClusterResolver
    resolvers = [resolver(tpu="grpc://localhost:8470"), resolver(tpu="grpc://localhost:8470", job_name="tpu_worker"),
                 resolver(tpu="local")]

    def step():
        specs = [c.fn(r) for r in resolvers]
        return ([s.as_dict() for s in specs], specs[0].num_tasks("worker"), specs[0].task_address("worker", 0),
                specs[2].jobs)

    return step


# -- tf.compat.v1.train.ChiefSessionCreator: a session restored from the latest checkpoint ------------

def _chief_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    with g.as_default():
        with tf.device(c.device):
            weights = tf.compat.v1.Variable(tf.zeros(x.shape, x.dtype), name="weights")
            doubled = weights * 2
        global_step = tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
        assign = [weights.assign(x.numpy()), global_step.assign(7)]

    def step():
        with g.as_default():
            # A fresh session each call; the variables are restored, never initialised to zeros.
            sess = c.fn(checkpoint_dir=directory).create_session()
        try:
            return sess.run([doubled, global_step])
        finally:
            sess.close()

    directory = _tmpdir(step, "tf_chief_session_")
    with tf.compat.v1.Session(graph=g) as sess:
        sess.run(init)
        sess.run(assign)
        saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=7)
    return step


KERNELS = [
    # Runs only where a TPU is attached (see _tpu_strategy_setup): on cpu and gpu it fails, honestly.
    Kernel("tf.distribute.TPUStrategy", "utility", lambda rng: {"x": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, setup=_tpu_strategy_setup, reference=lambda x: (2 * x + 1, True, True), device_only="tpu",
           note="strategy.run of 2x + 1 in a tf.function on every replica; replica 0's output and agreement"),
    Kernel("tf.distribute.cluster_resolver.TPUClusterResolver.cluster_spec", "utility", nothing(),
           setup=_cluster_spec_setup,
           reference=lambda: ([{"worker": ["localhost:8470"]}, {"tpu_worker": ["localhost:8470"]}, {}], 1,
                              "localhost:8470", []),
           note="a grpc:// address, the same under another job name, and tpu='local' (no cluster)"),
    Kernel("tf.compat.v1.train.ChiefSessionCreator", "graph", lambda rng: {"x": rng.standard_normal(rng.dims(*N))},
           dtypes=FLOATS, setup=_chief_setup, reference=lambda x: [2 * x, 7],
           note="create_session() restores weights and global step 7 from checkpoint_dir, then runs 2 * weights"),
]
