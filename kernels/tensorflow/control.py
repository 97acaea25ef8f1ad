"""TensorFlow control flow: switch_case, smart_cond, cond and tuple.

Functions a user traces once are traced in ``setup``; the timed call reuses the trace.
"""

from portability.catalog import BIG_SIDE, FLOATS, Kernel, normal, pair, paper

N = (BIG_SIDE, BIG_SIDE)


def _switch_case_setup(c, x):
    tf = c.fw

    @tf.function
    def pick(t, i):
        return c.fn(i, [lambda: t * 2, lambda: tf.square(t), lambda: -t])

    indices = [tf.constant(i) for i in (0, 1, 2, 7)]  # 7 is out of range: the last branch runs
    pick(x, indices[0])

    def run():
        return [pick(x, i) for i in indices] + [c.fn(indices[1], [lambda: x * 2, lambda: tf.square(x)])]

    return run


def _switch_case_ref(x):
    return [x * 2, x * x, -x, -x, x * x]


# -- smart_cond in graph mode: static and placeholder predicates, as the upstream test ------------

def _smart_cond_setup(c, x):
    tf = c.fw
    g = tf.Graph()
    # TF1's strict placement (TF2 sessions default to soft): a cond op with no kernel on the device fails.
    sess = tf.compat.v1.Session(graph=g, config=tf.compat.v1.ConfigProto(allow_soft_placement=False))
    with g.as_default(), tf.device(c.device):
        v = tf.constant(x.numpy())
        pred = tf.compat.v1.placeholder(tf.bool, shape=[])
        static = c.fn(True, lambda: v * 2, lambda: v + 1)
        n_static = len(g.get_operations())
        dynamic = c.fn(pred, lambda: v * 2, lambda: v + 1)
    # A Python predicate picks its branch while the graph is built (only the Mul is added); a tensor
    # predicate adds a conditional (StatelessIf in control flow v2, Switch/Merge in v1).
    conds = {op.type for op in g.get_operations()[n_static:]} & {"If", "StatelessIf", "Switch", "Merge"}
    direct = static.op.type == "Mul" and bool(conds)
    return lambda: [direct, *sess.run([static, dynamic], {pred: True}), sess.run(dynamic, {pred: False})]


def _smart_cond_ref(x):
    return [True, 2 * x, 2 * x, x + 1]


# -- tf.cond, eagerly and traced ------------------------------------------------------------------

def _cond_setup(c, x):
    tf = c.fw

    @tf.function
    def traced(p, v):
        return c.fn(p, lambda: v * 2, lambda: v + 1)

    yes, no = tf.constant(True), tf.constant(False)
    traced(yes, x)
    return lambda: [c.fn(yes, lambda: x * 2, lambda: x + 1), c.fn(no, lambda: x * 2, lambda: x + 1),
                    traced(yes, x), traced(no, x)]


# -- tf.tuple: fetching one output runs every input (TF1 graph) --------------------------------------

def _tuple_setup(c, x, y):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        v = tf.compat.v1.Variable(tf.zeros(x.shape, x.dtype))
        bumped = v.assign_add(tf.constant(x.numpy()))
        doubled = tf.constant(y.numpy()) * 2
        _, gated = c.fn([bumped, doubled])
        read = v.read_value()
    sess = tf.compat.v1.Session(graph=g)

    def step():
        sess.run(v.initializer)
        out = sess.run(gated)  # only the second output is fetched: the assign_add still runs
        return c.fn([x, y]), out, sess.run(read)

    return step


KERNELS = [
    Kernel("tf.switch_case", "control", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32"),
           setup=_switch_case_setup, reference=_switch_case_ref,
           note="a traced switch over 3 branches for indices 0, 1, 2 and out-of-range 7, then one eager call"),
    Kernel("tf.__internal__.smart_cond.smart_cond", "control", normal(BIG_SIDE, BIG_SIDE, scale=10.0),
           dtypes=(*FLOATS, "int32"), setup=_smart_cond_setup, reference=_smart_cond_ref, **paper(30, 4),
           note="a static predicate (no cond op), and a placeholder predicate fed True, then False"),
    Kernel("tf.cond", "control", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32", "int64"), setup=_cond_setup,
           reference=lambda x: [x * 2, x + 1, x * 2, x + 1], note="eager and traced, with a tensor predicate"),
    Kernel("tf.tuple", "control", pair(*N), dtypes=(*FLOATS, "int32", "int64"), setup=_tuple_setup,
           reference=lambda x, y: ([x, y], 2 * y, x),
           note="eagerly; and in a Session, fetching one output of tf.tuple runs the other input's assign_add"),
]
