"""Checkpoints, summaries, SavedModels, proto parsing, string formatting and images from the
paper's sample.

Files a kernel writes go to a fresh temporary directory made in ``setup`` and removed with the
timed callable. The check reads them back (a checkpoint's variables, a summary file's events, a
SavedModel's signature), so a write that silently lost or changed data fails.
"""

import glob
import os
import shutil
import tempfile
import weakref

import ml_dtypes
import numpy as np

from portability.catalog import VEC, Keep, Kernel, normal, nothing, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _tmpdir(owner, prefix):
    """A fresh directory, removed when ``owner`` (the timed callable) is collected."""
    path = tempfile.mkdtemp(prefix=prefix)
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path


def _strict(tf):
    """TF1's strict placement: TF2 sessions default to soft placement, which would move an op with
    no kernel on the case's device to the host unseen (session outputs are NumPy arrays)."""
    return tf.compat.v1.ConfigProto(allow_soft_placement=False)


# -- tf.train.list_variables of a checkpoint written by a TF1 Saver --------------------------------

_CKPT_VARS = {"dense/kernel": (64, 32), "dense/bias": (32,), "embedding/table": (1000, 16), "step": ()}


def _list_variables_setup(c):
    tf = c.fw

    def step():
        return c.fn(prefix)

    directory = _tmpdir(step, "tf_list_variables_")
    g = tf.Graph()
    with g.as_default():
        with tf.device(c.device):
            for name, shape in _CKPT_VARS.items():
                tf.compat.v1.Variable(tf.zeros(shape, tf.int64 if name == "step" else tf.float32), name=name)
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=g, config=_strict(tf)) as sess:
        sess.run(init)
        prefix = saver.save(sess, os.path.join(directory, "model.ckpt"))
    return step


def _list_variables_ref():
    return [(name, list(_CKPT_VARS[name])) for name in sorted(_CKPT_VARS)]


# -- tf.summary.SummaryWriter.flush: buffered tensor summaries reach the event file ---------------

def _flush_setup(c, x):
    tf = c.fw

    def step():
        with writer.as_default():
            for i in range(steps):
                tf.summary.write("x", x[i], step=i)
        writer.flush()  # SummaryWriter is abstract: its flush is implemented by the writer's own class
        return directory

    steps = int(x.shape[0])
    directory = _tmpdir(step, "tf_summary_flush_")
    # Nothing is flushed on its own: a large queue and a flush interval far beyond the run.
    writer = tf.summary.create_file_writer(directory, max_queue=10_000, flush_millis=10**9)
    return step


def _check_flush(directory, x):
    import tensorflow as tf

    files = glob.glob(os.path.join(directory, "events.out.tfevents.*"))
    assert len(files) == 1, f"expected one event file in {directory}, found {files}"
    events = [e for e in tf.compat.v1.train.summary_iterator(files[0]) if e.summary.value]
    assert len(events) >= len(x), f"{len(events)} summary events on disk after flush, {len(x)} written"
    for i, event in enumerate(events[: len(x)]):
        (value,) = event.summary.value
        got = tf.make_ndarray(value.tensor).astype(np.float64)
        assert event.step == i and value.tag == "x", f"event {i}: step {event.step}, tag {value.tag!r}"
        bad = int(np.sum(got != x[i]))
        assert got.shape == x[i].shape and bad == 0, f"event {i}: {bad} of {x[i].size} values differ from those written"


# -- tf.compat.v1.saved_model.simple_save of a session, loaded back ------------------------------

def _simple_save_setup(c, x, w):
    tf = c.fw
    g = tf.Graph()
    with g.as_default(), tf.device(c.device):
        inp = tf.compat.v1.placeholder(x.dtype, shape=[None, x.shape[1]], name="inp")
        weight = tf.compat.v1.Variable(w.numpy(), name="w")
        bias = tf.compat.v1.Variable(tf.ones([x.shape[1]], x.dtype), name="b")
        out = tf.math.add(inp * weight, bias, name="out")
        init = tf.compat.v1.global_variables_initializer()
    sess = tf.compat.v1.Session(graph=g, config=_strict(tf))
    sess.run(init)
    exports = []

    def step():
        if exports:  # keep one export: each call needs a directory that does not exist yet
            shutil.rmtree(exports[-1], ignore_errors=True)
        exports.append(os.path.join(root, f"export_{len(exports)}"))
        with g.as_default():
            c.fn(sess, exports[-1], inputs={"x": inp}, outputs={"y": out})
        return exports[-1]

    root = _tmpdir(step, "tf_simple_save_")
    return step


def _check_simple_save(export_dir, x, w):
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default(), tf.compat.v1.Session(graph=g) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, [tf.compat.v1.saved_model.tag_constants.SERVING], export_dir)
        sig = meta.signature_def["serving_default"]
        assert set(sig.inputs) == {"x"} and set(sig.outputs) == {"y"}, f"signature {sig}"
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        assert sorted(variables) == ["b", "w"], f"restored variables {sorted(variables)}, saved b and w"
        restored = sess.run(variables["w"])
        bad = int(np.sum(restored.astype(np.float64) != w))
        assert restored.shape == w.shape and bad == 0, f"{bad} of {w.size} restored weights differ from the saved ones"
        y = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: x.astype(restored.dtype)})
    # x * w + 1 in the variables' dtype: two roundings, each within half an ulp of its result.
    eps = float(ml_dtypes.finfo(restored.dtype).eps)
    err = np.abs(y.astype(np.float64) - (x * w + 1))
    assert np.all(err <= eps * (np.abs(x * w) + np.abs(x * w + 1))), f"signature output off by up to {err.max():.3g}"


# -- tf.io.parse_single_sequence_example --------------------------------------------------------------

def _sequence_example(rng):
    steps, dim = rng.dims((64, 4096), (16, 256))
    return {
        "frames": rng.standard_normal((steps, dim)),
        "tokens": Keep(rng.integers(0, 30000, steps)),
        "label": Keep(np.array(b"walking")),
        "length": Keep(np.array(steps)),
    }


def _parse_setup(c, frames, tokens, label, length):
    tf = c.fw
    train = tf.train
    host = frames.numpy()
    example = train.SequenceExample(
        context=train.Features(feature={
            "label": train.Feature(bytes_list=train.BytesList(value=[label.numpy()])),
            "length": train.Feature(int64_list=train.Int64List(value=[int(length)])),
        }),
        feature_lists=train.FeatureLists(feature_list={
            "frames": train.FeatureList(feature=[train.Feature(float_list=train.FloatList(value=row)) for row in host]),
            "tokens": train.FeatureList(
                feature=[train.Feature(int64_list=train.Int64List(value=[int(t)])) for t in tokens.numpy()]),
        }),
    )
    serialized = tf.constant(example.SerializeToString())
    context_spec = {"label": tf.io.FixedLenFeature([], tf.string), "length": tf.io.FixedLenFeature([], tf.int64)}
    sequence_spec = {"frames": tf.io.FixedLenSequenceFeature([host.shape[1]], tf.float32),
                     "tokens": tf.io.FixedLenSequenceFeature([], tf.int64)}
    return lambda: c.fn(serialized, context_features=context_spec, sequence_features=sequence_spec)


def _parse_ref(frames, tokens, label, length):
    return {"label": label, "length": length}, {"frames": frames, "tokens": tokens}


# -- tf.compat.v1.image.draw_bounding_boxes ----------------------------------------------------------

def _boxes_inputs(rng):
    n, side = rng.dims((2, 8), (64, 256))
    ys, xs = (np.sort(rng.uniform(-0.1, 1.1, (n, 6, 2)), axis=-1) for _ in range(2))  # some edges outside
    boxes = np.stack([ys[..., 0], xs[..., 0], ys[..., 1], xs[..., 1]], axis=-1)  # [ymin, xmin, ymax, xmax]
    return {"images": rng.uniform(0.0, 1.0, (n, side, side, 3)), "boxes": Keep(boxes.astype(np.float32))}


#: The kernel's default colour table (draw_bounding_box_op.cc), cycled over a batch's boxes.
_COLORS = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1],
                    [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]])


def _draw_boxes_ref(images, boxes):
    out = images.copy()
    _, height, width, depth = images.shape
    for b, image_boxes in enumerate(boxes):
        for k, (ymin, xmin, ymax, xmax) in enumerate(image_boxes):
            color = _COLORS[k % len(_COLORS), :depth]
            # The kernel scales in float32 and truncates to an integer pixel index.
            top, bottom = (int(np.float32(v) * np.float32(height - 1)) for v in (ymin, ymax))
            left, right = (int(np.float32(v) * np.float32(width - 1)) for v in (xmin, xmax))
            if top > bottom or left > right or top >= height or bottom < 0 or left >= width or right < 0:
                continue
            rows = slice(max(top, 0), min(bottom, height - 1) + 1)
            cols = slice(max(left, 0), min(right, width - 1) + 1)
            if top >= 0:
                out[b, top, cols] = color
            if bottom < height:
                out[b, bottom, cols] = color
            if left >= 0:
                out[b, rows, left] = color
            if right < width:
                out[b, rows, right] = color
    return out


# -- tf.strings.as_string (the paper's "decode" test timed bytes.decode around it) ----------------

def _formatted(rng):
    x = rng.uniform(-120.0, 120.0, rng.pick(*VEC))  # within int8's range
    x[::3] = 0.0  # zeros: "false" for bool
    return {"x": x}


def _as_string_ref(x):
    if x.dtype.kind == "b":
        return np.array([b"true" if v else b"false" for v in x], dtype=object)
    fmt = "%d" if x.dtype.kind in "iu" else "%f"  # the op's defaults: precision -1, not scientific
    return np.array([(fmt % v).encode() for v in x], dtype=object)


KERNELS = [
    Kernel("tf.train.list_variables", "io", nothing(), dtypes=("float32",), setup=_list_variables_setup,
           reference=_list_variables_ref, **paper(60, 10)),
    Kernel("tf.summary.SummaryWriter.flush", "io", normal(8, 1024), dtypes=FLOATS, setup=_flush_setup,
           check=_check_flush, out_dtype=None, **paper(90, 163),
           note="eight tensor summaries written to a writer that never flushes on its own, then flush()"),
    Kernel("tf.compat.v1.saved_model.simple_save", "io",
           lambda rng: {"x": rng.standard_normal(rng.dims((64, 512), (64, 512))),
                        "w": rng.standard_normal(rng.dims((64, 512), (64, 512)))},
           dtypes=FLOATS, setup=_simple_save_setup, check=_check_simple_save, out_dtype=None, **paper(10, 1),
           note="save a session with two variables; the check loads it and runs the serving signature"),
    Kernel("tf.io.parse_single_sequence_example", "io", _sequence_example, dtypes=("float32",), setup=_parse_setup,
           reference=_parse_ref, **paper(60, 11),
           note="float32 is the only floating type a tf.train.FloatList holds"),
    Kernel("tf.compat.v1.image.draw_bounding_boxes", "nn", _boxes_inputs, dtypes=FLOATS,
           reference=_draw_boxes_ref, **paper(40, 5), note="six boxes per image, some partly outside"),
    Kernel("tf.strings.as_string", "io", _formatted, dtypes=(*FLOATS, "int8", "int32", "int64", "bool"),
           reference=_as_string_ref, out_dtype=None, **paper(90, 189, name="decode")),
]
