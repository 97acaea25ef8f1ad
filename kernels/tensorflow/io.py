"""TensorFlow I/O: checkpoints, SavedModels, summaries, TFRecords, files, protos, CSV and string ops, tf.data
pipelines, and TF1 queues, readers and session hooks.

Everything written goes to a temporary directory made in ``setup`` and removed with the timed callable; every
check reads back what was written (a restored variable, the parsed records, a summary file's events). A
tf.data pipeline is built once in ``setup`` and each timed call iterates it to the end, as a training loop
consumes an epoch; tf.data runs its pipelines on the host, so elements are read back as NumPy. Protos and
files are host objects, and parsers, readers and string ops have host kernels only: on an accelerator their
outputs stay on the host (the harness reports fail:host_fallback), unless the kernel's own last step moves
them.
"""

import glob
import os
import re
import shutil
import struct
import tempfile
import weakref

import ml_dtypes
import numpy as np

from portability.catalog import (
    BIG_SIDE,
    FLOATS,
    VEC,
    Keep,
    Kernel,
    monitored_steps,
    normal,
    nothing,
    paper,
    step_graph,
    strict_graph,
    strict_session,
    tmpdir,
)

N = (BIG_SIDE, BIG_SIDE)
#: Examples of 64 floats: 4096 or 1M values.
EXAMPLES = (64, 16384)
WIDTH = 64
CSV_COLUMNS = 16
WINDOW = 32
BUCKETS = 4
HOST = "/CPU:0"
_M = np.uint64(0xC6A4A7935BD1E995)
_R = np.uint64(47)


# -- checkpoints -------------------------------------------------------------------------------

def _checkpoint_setup(c, x):
    tf = c.fw
    model = tf.Module()
    model.w = tf.Variable(x)
    step = tf.Variable(7, dtype=tf.int64)
    zeros = tf.zeros_like(x)

    def run():
        ckpt = c.fn(model=model, step=step)
        path = ckpt.save(prefix)
        model.w.assign(zeros)  # a fresh model: restore must bring the saved values back
        step.assign(-1)
        ckpt.restore(path).assert_consumed()
        for f in glob.glob(path + ".*"):  # keep one checkpoint on disk across the timed rounds
            os.remove(f)
        return model.w.read_value(), step.read_value()

    prefix = os.path.join(tmpdir(run, "tf_ckpt_"), "ckpt")
    return run


def _checkpoint_read_setup(c, x):
    tf = c.fw
    saved = tf.Module()
    saved.w = tf.Variable(x)
    path = tf.train.Checkpoint(model=saved).write(os.path.join(tempfile.mkdtemp(prefix="tf_ckpt_read_"), "ckpt"))
    fresh = tf.Module()
    fresh.w = tf.Variable(tf.zeros_like(x))
    ckpt = tf.train.Checkpoint(model=fresh)
    zeros = tf.zeros_like(x)

    def run():
        fresh.w.assign(zeros)
        c.fn(ckpt, path).assert_consumed()
        return fresh.w.read_value()

    weakref.finalize(run, shutil.rmtree, os.path.dirname(path), ignore_errors=True)
    return run


# -- tf.train.Example parsing ------------------------------------------------------------------

def _example_inputs(rng):
    n = rng.pick(*EXAMPLES)
    return {"x": rng.standard_normal((n, WIDTH)), "label": Keep(rng.integers(0, 10, n).astype(np.int64)),
            "weighted": Keep(rng.uniform(size=n) < 0.5), "weight": Keep(rng.uniform(0.5, 2.0, n).astype(np.float32))}


def _serialize(tf, x, label, weighted, weight):
    """tf.train.Example protos: x (64 floats), label (int64), weight (float, only in some examples)."""
    train = tf.train
    out = []
    for row, lab, has, wt in zip(x.numpy(), label.numpy(), weighted.numpy(), weight.numpy(), strict=True):
        feature = {"x": train.Feature(float_list=train.FloatList(value=row)),
                   "label": train.Feature(int64_list=train.Int64List(value=[lab]))}
        if has:
            feature["weight"] = train.Feature(float_list=train.FloatList(value=[wt]))
        out.append(train.Example(features=train.Features(feature=feature)).SerializeToString())
    return out


def _example_ref(x, label, weighted, weight):
    return {"label": label, "weight": np.where(weighted, weight, 1.0), "x": x}


def _fixed_len_setup(c, x, label, weighted, weight):
    tf = c.fw
    serialized = tf.constant(_serialize(tf, x, label, weighted, weight))

    def run():
        return tf.io.parse_example(serialized, {
            "x": c.fn([WIDTH], tf.float32),
            "label": c.fn([], tf.int64),
            "weight": c.fn([], tf.float32, default_value=1.0),
        })

    return run


def _batched_features_setup(c, x, label, weighted, weight):
    tf = c.fw

    def run():
        ds = c.fn(path, batch_size=64, num_epochs=1, shuffle=False, features={
            "x": tf.io.FixedLenFeature([WIDTH], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.int64),
            "weight": tf.io.FixedLenFeature([], tf.float32, default_value=1.0),
        })
        batches = list(ds)
        return {k: tf.concat([b[k] for b in batches], 0) for k in ("label", "weight", "x")}

    path = os.path.join(tmpdir(run, "tf_batched_"), "examples.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in _serialize(tf, x, label, weighted, weight):
            writer.write(record)
    return run


# -- TFRecord files ----------------------------------------------------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def _masked_crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _tfrecord_setup(c, x):
    tf = c.fw
    records = [row.tobytes() for row in x.numpy()]

    def run():
        with tf.io.TFRecordWriter(path) as writer:
            for record in records:
                c.fn(writer, record)
        with open(path, "rb") as f:  # the file as written, for the check to parse
            return f.read()

    path = os.path.join(tmpdir(run, "tf_records_"), "rows.tfrecord")
    return run


def _check_tfrecord(blob, x):
    """The file is the TFRecord framing of each row's float32 bytes: length, masked CRC-32C of the
    length, data, masked CRC-32C of the data (data CRCs checked for the first 4 records)."""
    assert isinstance(blob, bytes), f"the file's contents are a {type(blob).__name__}"
    pos = 0
    for i, row in enumerate(x.astype(np.float32)):
        expected = row.tobytes()
        assert pos + 12 <= len(blob), f"file ends after {i} of {len(x)} records"
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        assert length_crc == _masked_crc32c(header), f"record {i}: bad length CRC"
        assert length == len(expected), f"record {i}: length {length}, expected {len(expected)}"
        data = blob[pos + 12:pos + 12 + length]
        assert data == expected, f"record {i}: data differs from the row written"
        (data_crc,) = struct.unpack("<I", blob[pos + 12 + length:pos + 16 + length])
        if i < 4:
            assert data_crc == _masked_crc32c(data), f"record {i}: bad data CRC"
        pos += 16 + length
    assert pos == len(blob), f"{len(blob) - pos} bytes after the last record"


# -- tf.data -----------------------------------------------------------------------------------

def _one_shot_setup(c, x):
    tf = c.fw
    ds = tf.data.Dataset.from_tensor_slices(x).batch(64)
    batches = -(-x.shape[0] // 64)

    def run():
        it = c.fn(ds)
        parts = [it.get_next() for _ in range(batches)]
        return tf.concat(parts, 0), it.get_next_as_optional().has_value()

    return run


def _window_inputs(rng):
    return {"x": rng.integers(0, 1000, rng.pick(1024, 65536)).astype(np.float64)}


def _group_by_window_setup(c, x):
    tf = c.fw
    ds = tf.data.Dataset.from_tensor_slices(x)

    def run():
        grouped = ds.apply(c.fn(key_func=lambda v: v % BUCKETS, reduce_func=lambda _, w: w.batch(WINDOW),
                                window_size=WINDOW))
        windows = list(grouped)
        return tf.concat(windows, 0), tf.constant([int(w.shape[0]) for w in windows], dtype=tf.int64)

    return run


def _check_windows(out, x):
    values, sizes = (np.asarray(o) for o in out)
    assert sizes.sum() == len(x) == len(values), f"{sizes.sum()} elements in windows, {len(x)} in the dataset"
    assert np.array_equal(np.sort(values), np.sort(x)), "windows do not hold the dataset's elements"
    keys = x % BUCKETS
    counts = {}
    for w in np.split(values, np.cumsum(sizes)[:-1]):
        assert 0 < len(w) <= WINDOW, f"a window of {len(w)} elements (window_size {WINDOW})"
        assert len(set((w % BUCKETS).tolist())) == 1, "a window mixes keys"
        counts[int(w[0] % BUCKETS)] = counts.get(int(w[0] % BUCKETS), 0) + 1
    for k in range(BUCKETS):
        n = int(np.sum(keys == k))
        assert counts.get(k, 0) == -(-n // WINDOW), f"key {k}: {counts.get(k, 0)} windows for {n} elements"


# -- CSV, strings ------------------------------------------------------------------------------

def _csv_inputs(rng):
    rows = rng.pick(256, 65536)
    return {"x": rng.standard_normal((rows, CSV_COLUMNS)) * 100,
            "blank": Keep(rng.uniform(size=(rows, CSV_COLUMNS)) < 0.01)}


def _csv_setup(c, x, blank):
    tf = c.fw
    host = x.numpy()
    # repr of the value widened to a Python float (or int) parses back to the same value.
    values = (host if host.dtype.kind in "iu" else host.astype(np.float64)).tolist()
    lines = [",".join("" if e else repr(v) for v, e in zip(row, miss, strict=True))
             for row, miss in zip(values, blank.numpy().tolist(), strict=True)]
    records = tf.constant(lines)
    defaults = [tf.constant([-1], dtype=x.dtype)] * CSV_COLUMNS  # a blank field takes the default

    return lambda: c.fn(records, defaults)


def _csv_ref(x, blank):
    return list(np.where(blank, -1, x).T)


# -- files, tables -----------------------------------------------------------------------------

def _remove_setup(c, x):
    tf = c.fw
    payload = x.numpy().tobytes()

    def run():
        path = os.path.join(directory, "scratch.bin")
        with open(path, "wb") as f:
            f.write(payload)
        existed = os.path.exists(path)
        c.fn(path)
        gone = not os.path.exists(path)
        try:
            c.fn(path)
            again = "removed twice without an error"
        except tf.errors.NotFoundError:
            again = "NotFoundError"
        return existed, gone, again

    directory = tmpdir(run, "tf_gfile_")
    return run


# -- tf.data.experimental.dense_to_ragged_batch: variable-length rows into ragged batches --------

BATCH = 4


def _ragged_rows(rng):
    rows = rng.pick(19, 1023)  # not a multiple of BATCH: the last batch is partial
    lengths = rng.integers(0, rng.pick(40, 2048), rows)
    return {"values": rng.standard_normal(int(lengths.sum())) * 10, "lengths": Keep(lengths)}


def _dense_to_ragged_setup(c, values, lengths):
    tf = c.fw
    host_lengths = lengths.numpy()
    starts = tf.constant(np.concatenate([[0], np.cumsum(host_lengths)[:-1]]))
    rows = tf.data.Dataset.range(len(host_lengths)).map(lambda i: values[starts[i]:starts[i] + lengths[i]])
    batches = rows.apply(c.fn(BATCH))

    def step():
        flat, row_lengths = [], []
        for batch in batches:  # tf.RaggedTensor batches
            flat.append(batch.flat_values.numpy())
            row_lengths.append(batch.row_lengths().numpy())
        return np.concatenate(flat), np.concatenate(row_lengths), [len(r) for r in row_lengths]

    return step


def _dense_to_ragged_ref(values, lengths):
    n = len(lengths)
    sizes = [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])
    return values, lengths, sizes


# -- tf.data.experimental.from_list of (features, label) tuples -------------------------------------

def _samples(rng):
    rows, cols = rng.dims((20, 1000), (64, 1024))
    return {"x": rng.uniform(0.0, 100.0, (rows, cols)), "labels": Keep(rng.integers(0, 10, rows))}  # uint8 too


def _from_list_setup(c, x, labels):
    host, host_labels = x.numpy(), labels.numpy()
    elements = [(row, int(label)) for row, label in zip(host, host_labels, strict=True)]
    batches = c.fn(elements).batch(64)

    def step():
        xs, ys = [], []
        for bx, by in batches.as_numpy_iterator():
            xs.append(bx)
            ys.append(by)
        return np.concatenate(xs), np.concatenate(ys)

    return step


# -- tf.data.Dataset.shard --------------------------------------------------------------------------

SHARDS, INDEX = 4, 1


def _rows(rng):
    return {"x": rng.standard_normal(rng.dims((250, 4094), (16, 256))) * 10}


def _shard_setup(c, x):
    tf = c.fw
    batches = c.fn(tf.data.Dataset.from_tensor_slices(x), SHARDS, INDEX).batch(256)
    return lambda: np.concatenate(list(batches.as_numpy_iterator()))


# -- tf.data.experimental.shuffle_and_repeat ----------------------------------------------------------

EPOCHS = 2


def _shuffle_and_repeat_setup(c, x):
    tf = c.fw
    n = int(x.shape[0])
    # Unseeded: each pass over the dataset (each call) draws new orders.
    shuffled = tf.data.Dataset.from_tensor_slices(x).apply(c.fn(buffer_size=n, count=EPOCHS)).batch(n)
    return lambda: np.concatenate(list(shuffled.as_numpy_iterator()))


def _check_shuffle_and_repeat(out, x):
    n = len(x)
    out = np.asarray(out).astype(np.float64)
    assert out.shape == (EPOCHS * n,), f"shape {out.shape}, expected ({EPOCHS * n},): {EPOCHS} epochs of {n}"
    for e in range(EPOCHS):
        epoch = out[e * n:(e + 1) * n]
        assert np.array_equal(np.sort(epoch), np.sort(x)), f"epoch {e} is not a permutation of the input"
        # A full-buffer shuffle leaves a fixed element in place with chance 1/n: expect about one.
        fixed = int(np.sum(epoch == x))
        assert fixed < n // 4, f"epoch {e}: {fixed} of {n} elements left in place: not shuffled"
    assert not np.array_equal(out[:n], out[n:]), "both epochs in the same order: not reshuffled"


# -- train.QueueRunner: a thread fills a FIFOQueue, the session dequeues a batch ------------------

def _queue_runner_setup(c, x):
    tf = c.fw
    host = x.numpy()
    rows = host.shape[0]
    g = tf.Graph()
    with g.as_default():
        with tf.device(c.device):
            data = tf.identity(tf.constant(host))
        with tf.device(HOST):
            queue = tf.queue.FIFOQueue(capacity=rows, dtypes=[x.dtype], shapes=[host.shape[1:]])
            enqueue = queue.enqueue_many([data])
            batch = queue.dequeue_many(rows)
        with tf.device(c.device):
            out = tf.identity(batch)
        runner = c.fn(queue, [enqueue])

    def step():
        with strict_session(c, g) as sess:  # the runner closes the queue when stopped
            coord = tf.compat.v1.train.Coordinator()
            threads = runner.create_threads(sess, coord=coord, start=True)
            got = sess.run(out)
            coord.request_stop()
            coord.join(threads)
        return got

    return step


# -- ReaderBase.restore_state: IdentityReader state round trip, as the upstream test ------------

def _restore_state_setup(c):
    tf = c.fw
    g, sess = strict_graph(c)
    with g.as_default(), tf.device(HOST):
        reader = tf.compat.v1.IdentityReader()
        queue = tf.queue.FIFOQueue(8, [tf.string], shapes=[()])
        first = queue.enqueue_many([[b"X", b"Y", b"Z"]])
        again = queue.enqueue_many([[b"Y", b"Z"]])
        key, value = reader.read(queue)
        produced = reader.num_records_produced()
        state = reader.serialize_state()
        saved = tf.compat.v1.placeholder(tf.string, shape=[])
        restore = c.fn(reader, saved)
        reset = reader.reset()

    def step():
        sess.run(reset)
        sess.run(first)
        out = [sess.run([key, value]), sess.run(produced)]
        snapshot = sess.run(state)
        out += [sess.run(key), sess.run(key), sess.run(produced)]
        sess.run(again)
        sess.run(restore, {saved: snapshot})
        out += [sess.run(produced), sess.run(key), sess.run(key), sess.run(produced)]
        return out

    return step


# -- train.CheckpointSaverHook: save_steps=2 over 5 steps, with a listener ----------------------

def _checkpoint_hook_setup(c, x):
    tf = c.fw
    host = x.numpy()
    g, train = step_graph(c)
    with g.as_default(), tf.device(c.device):
        # Fed at initialisation, not a graph constant: the hook writes the graph to disk as text.
        initial = tf.compat.v1.placeholder(x.dtype, shape=host.shape)
        tf.compat.v1.Variable(initial, name="v")
    saved = []

    class Listener(tf.compat.v1.train.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            saved.append(int(global_step_value))

    def step():
        saved.clear()
        with g.as_default():
            hook = c.fn(directory, save_steps=2, listeners=[Listener()])
            scaffold = tf.compat.v1.train.Scaffold(init_feed_dict={initial: host})
        monitored_steps(c, g, train, hook, 5, scaffold)  # saves at steps 0 (initialised), 2, 4 and 5 (end)
        return [directory, *saved]

    directory = tmpdir(step, "tf_checkpoint_hook_")
    return step


def _check_checkpoint_hook(out, x):
    import tensorflow as tf

    directory, *saved = out
    assert saved == [0, 2, 4, 5], f"listener saw saves at steps {saved}, expected [0, 2, 4, 5]"
    state = tf.train.get_checkpoint_state(directory)
    assert state is not None, f"no checkpoint state in {directory}: {os.listdir(directory)}"
    steps = [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]
    assert steps == [0, 2, 4, 5], f"checkpoints kept for steps {steps}"
    latest = state.model_checkpoint_path
    assert tf.train.load_variable(latest, "global_step") == 5, "latest checkpoint's global_step is not 5"
    restored = np.asarray(tf.train.load_variable(latest, "v"))
    assert restored.shape == x.shape, f"restored v has shape {restored.shape}, saved {x.shape}"
    bad = int(np.sum(restored.astype(np.float64) != x))
    assert bad == 0, f"{bad} of {x.size} restored values differ from the saved ones"


# -- tf.train.list_variables of a checkpoint written by a TF1 Saver --------------------------------

_CKPT_VARS = {"dense/kernel": (64, 32), "dense/bias": (32,), "embedding/table": (1000, 16), "step": ()}


def _list_variables_setup(c):
    tf = c.fw

    def step():
        return c.fn(prefix)

    directory = tmpdir(step, "tf_list_variables_")
    g = tf.Graph()
    with g.as_default():
        with tf.device(c.device):
            for name, shape in _CKPT_VARS.items():
                tf.compat.v1.Variable(tf.zeros(shape, tf.int64 if name == "step" else tf.float32), name=name)
        saver = tf.compat.v1.train.Saver()
        init = tf.compat.v1.global_variables_initializer()
    with strict_session(c, g) as sess:
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
    directory = tmpdir(step, "tf_summary_flush_")
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
    sess = strict_session(c, g)
    sess.run(init)
    exports = []

    def step():
        if exports:  # keep one export: each call needs a directory that does not exist yet
            shutil.rmtree(exports[-1], ignore_errors=True)
        exports.append(os.path.join(root, f"export_{len(exports)}"))
        with g.as_default():
            c.fn(sess, exports[-1], inputs={"x": inp}, outputs={"y": out})
        return exports[-1]

    root = tmpdir(step, "tf_simple_save_")
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


# -- tf.print to a file, inside a tf.function --------------------------------------------------------

def _print_setup(c, x):
    tf = c.fw

    @tf.function
    def show(v):
        c.fn("x:", v, output_stream=f"file://{path}")  # summarize=3: the first and last three values

    def step():
        show(x)
        return path, c.dtype

    directory = tempfile.mkdtemp(prefix="tf_print_")
    weakref.finalize(step, shutil.rmtree, directory, ignore_errors=True)
    path = os.path.join(directory, "out.txt")
    return step


def _check_print(out, x):
    path, dtype = out
    with open(path) as f:
        line = f.readline().rstrip("\n")
    assert line.startswith("x: [") and line.endswith("]"), f"printed {line[:80]!r}"
    tokens = line[len("x: ["):-1].split()
    assert len(tokens) == 7 and tokens[3] == "...", f"printed {line[:80]!r}: expected 3 values, ..., 3 values"
    # TF prints the digits that identify a value in its own dtype: read back in that dtype, exactly.
    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    shown = np.array([float(t) for t in tokens[:3] + tokens[4:]]).astype(np_dtype)
    expected = np.concatenate([x[:3], x[-3:]]).astype(np_dtype)
    assert np.array_equal(shown, expected), f"printed {tokens}, the tensor holds {expected.tolist()}"


class _Written:
    """A fresh directory that a kernel returns for its check to read: removed once both the timed
    callable and the checked output are gone (a harness may drop the callable before checking)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)
        weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)


# -- tf.io.gfile.GFile: binary and text round trips, seek and size --------------------------------

_LINES = ["first line", "second: 2", "", "last line without newline"]


def _gfile_setup(c, x):
    payload = x.numpy()
    offset, count = 1000, 24  # elements read back after a seek

    def step():
        blob, text = os.path.join(directory, "blob.bin"), os.path.join(directory, "notes.txt")
        with c.fn(blob, "wb") as f:
            f.write(payload.tobytes())
        with c.fn(text, "w") as f:
            f.write("\n".join(_LINES))
        with c.fn(blob, "rb") as f:
            whole = f.read()
            f.seek(offset * payload.itemsize)
            part = f.read(count * payload.itemsize)
        with c.fn(text, "r") as f:
            lines = [line.rstrip("\n") for line in f]
        return (np.frombuffer(whole, payload.dtype), np.frombuffer(part, payload.dtype), lines,
                c.fn(blob).size())

    directory = tmpdir(step, "tf_gfile_")
    return step


# -- tf.compat.v1.io.tf_record_iterator over plain and GZIP files ----------------------------------

def _records_setup(c, x):
    tf = c.fw
    rows = x.numpy()

    def step():
        out = []
        for path, options in files:
            records = list(c.fn(path, options=options))
            out += [np.frombuffer(b"".join(records), rows.dtype).reshape(rows.shape), len(records)]
        return out

    directory = tmpdir(step, "tf_records_")
    files = [(os.path.join(directory, "rows.tfrecord"), None),
             (os.path.join(directory, "rows.tfrecord.gz"), tf.io.TFRecordOptions(compression_type="GZIP"))]
    for path, options in files:
        with tf.io.TFRecordWriter(path, options=options) as writer:
            for row in rows:
                writer.write(row.tobytes())
    return step


# -- tf.train.Feature in an Example, parsed back ------------------------------------------------------

def _feature_inputs(rng):
    n = rng.pick(4096, 1 << 18)
    return {"x": rng.standard_normal(n), "labels": Keep(rng.integers(-(2**40), 2**40, 64)),
            "name": Keep(np.array(b"sample \x00\xff bytes", dtype=object))}


def _feature_setup(c, x, labels, name):
    tf = c.fw
    train = tf.train
    values, ints, raw = x.numpy(), labels.numpy().tolist(), name.numpy()
    spec = {"x": tf.io.FixedLenFeature([values.size], tf.float32),
            "labels": tf.io.FixedLenFeature([len(ints)], tf.int64), "name": tf.io.FixedLenFeature([], tf.string)}

    def step():
        feature = {"x": c.fn(float_list=train.FloatList(value=values)),
                   "labels": c.fn(int64_list=train.Int64List(value=ints)),
                   "name": c.fn(bytes_list=train.BytesList(value=[raw]))}
        serialized = train.Example(features=train.Features(feature=feature)).SerializeToString()
        return {k: v.numpy() for k, v in tf.io.parse_single_example(serialized, spec).items()}

    return step


# -- tf.strings.regex_replace and tf.strings.to_hash_bucket ------------------------------------------

def _log_lines(rng):
    """Log-like lines of 10 to 60 characters: digits, words, runs of spaces, some non-ASCII bytes."""
    n = rng.pick(4096, 1 << 18)
    words = np.array([b"user", b"page", b"id", b"caf\xc3\xa9", b"GET", b"/a/b", b"  ", b"ok", b"\xff"], dtype=object)
    lines = []
    for k, w, d in zip(rng.integers(1, 6, n), rng.integers(0, len(words), (n, 5)), rng.integers(0, 10**6, (n, 5)),
                       strict=True):
        lines.append(b" ".join(words[w[i]] + b"_" + str(d[i]).encode() for i in range(k)))
    return {"lines": Keep(np.array(lines, dtype=object))}


def _regex_call(c, lines):
    return c.fn(lines, r"\d+", "#"), c.fn(lines, r"\s+", "_", replace_global=False)


def _regex_ref(lines):
    return (np.array([re.sub(rb"\d+", b"#", s) for s in lines], dtype=object),
            np.array([re.sub(rb"\s+", b"_", s, count=1) for s in lines], dtype=object))


def _hash64(strings, seed=0xDECAFCAFFE):
    """TensorFlow's Hash64 (tensorflow/core/platform/hash.cc, a MurmurHash64A), vectorized over the
    strings of each length: 8-byte little-endian blocks, then the tail bytes, then the final mix."""
    lengths = np.array([len(s) for s in strings])
    out = np.zeros(len(strings), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for n in np.unique(lengths):
            pick = np.flatnonzero(lengths == n)
            data = np.frombuffer(b"".join(strings[i] for i in pick), np.uint8).reshape(len(pick), n)
            h = np.full(len(pick), (seed ^ (int(n) * int(_M))) & (2**64 - 1), dtype=np.uint64)
            blocks = n // 8
            if blocks:
                words = np.ascontiguousarray(data[:, : blocks * 8]).view("<u8")
                for j in range(blocks):
                    k = words[:, j] * _M
                    k = (k ^ (k >> _R)) * _M
                    h = (h ^ k) * _M
            if n % 8:
                tail = data[:, blocks * 8:].astype(np.uint64)
                for j in range(n % 8):
                    h ^= tail[:, j] << np.uint64(8 * j)
                h = h * _M
            h = (h ^ (h >> _R)) * _M
            out[pick] = h ^ (h >> _R)
    return out


def _hash_ref(lines):
    h = _hash64(list(lines))
    return (h % np.uint64(1000)).astype(np.int64), (h % np.uint64(2**33)).astype(np.int64)


# -- tf.summary.image, read back from the event file -------------------------------------------------

def _images(rng):
    return {"images": rng.uniform(0.0, 1.0, rng.dims((4, 8), (32, 256), (32, 256), 3))}


def _image_summary_setup(c, images):
    tf = c.fw

    def step():
        with writer.as_default():
            written = c.fn("samples", images, step=0, max_outputs=3)
        writer.flush()
        return directory, bool(written)

    directory = _Written("tf_summary_image_")
    writer = tf.summary.create_file_writer(directory.path)
    return step


def _check_image_summary(out, images):
    import tensorflow as tf

    directory, written = out
    assert written is True, "tf.summary.image returned False: no default writer took the summary"
    files = glob.glob(os.path.join(directory.path, "events.out.tfevents.*"))
    assert len(files) == 1, f"expected one event file in {directory}, found {files}"
    values = [v for e in tf.compat.v1.train.summary_iterator(files[0]) for v in e.summary.value]
    assert values and values[0].tag == "samples", f"summary values {[v.tag for v in values]}"
    t = tf.make_ndarray(values[0].tensor)
    n, height, width, _ = images.shape
    assert list(t[:2]) == [str(width).encode(), str(height).encode()], f"width, height {t[:2]}"
    assert len(t) == 2 + min(n, 3), f"{len(t) - 2} images stored, max_outputs=3 of {n}"
    for i, png in enumerate(t[2:]):
        got = tf.io.decode_png(png).numpy().astype(np.int64)
        # convert_image_dtype to uint8: floor(x * 255.5), saturated; one level off where the
        # product rounds across an integer in the case's precision
        want = np.minimum(np.floor(images[i] * 255.5), 255).astype(np.int64)
        bad = int(np.sum(np.abs(got - want) > 1))
        assert got.shape == want.shape and bad == 0, f"image {i}: {bad} of {want.size} values off by more than 1"


KERNELS = [
    Kernel("tf.train.Checkpoint", "io", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32"), setup=_checkpoint_setup,
           reference=lambda x: (x, np.int64(7)),
           note="save a module's variable and a step counter, zero them, restore (assert_consumed)"),
    Kernel("tf.train.Checkpoint.read", "io", normal(*N, scale=10.0), dtypes=(*FLOATS, "int32"),
           setup=_checkpoint_read_setup, reference=lambda x: x,
           note="read a checkpoint written untimed into a fresh zeroed module"),
    Kernel("tf.io.FixedLenFeature", "io", _example_inputs, setup=_fixed_len_setup, reference=_example_ref,
           note="parse_example of serialized tf.train.Example protos; weight is absent from some (default 1.0)"),
    Kernel("tf.data.experimental.make_batched_features_dataset", "io", _example_inputs,
           setup=_batched_features_setup, reference=_example_ref,
           note="a TFRecord file of tf.train.Example protos read back in order (shuffle=False), batches of 64"),
    Kernel("tf.io.TFRecordWriter.write", "io", normal((64, 1024), 1024), setup=_tfrecord_setup,
           check=_check_tfrecord,
           note="one record per row, written to a file that is read back; its framing is parsed in Python"),
    Kernel("tf.compat.v1.data.make_one_shot_iterator", "io", normal(EXAMPLES, WIDTH), setup=_one_shot_setup,
           reference=lambda x: (x, False), note="get_next over every batch of 64, then an exhausted iterator"),
    Kernel("tf.data.experimental.group_by_window", "io", _window_inputs, dtypes=("int64",),
           setup=_group_by_window_setup, check=_check_windows,
           note="key = value % 4, windows of 32 batched; the order of windows is the implementation's"),
    Kernel("tf.io.decode_csv", "io", _csv_inputs, dtypes=(*FLOATS, "int32", "int64"), setup=_csv_setup,
           reference=_csv_ref, note="16 columns typed by record_defaults in the case dtype; 1% blank fields"),
    Kernel("tf.compat.v1.gfile.Remove", "io", normal(64, 64), setup=_remove_setup,
           reference=lambda x: (True, True, "NotFoundError"),
           note="write a file, remove it, then removing it again must raise NotFoundError"),
    Kernel("tf.data.experimental.dense_to_ragged_batch", "io", _ragged_rows, dtypes=(*FLOATS, "int64"),
           setup=_dense_to_ragged_setup, reference=_dense_to_ragged_ref, **paper(10, 1),
           note=f"rows of different lengths (some empty) batched {BATCH} at a time, drop_remainder=False"),
    Kernel("tf.data.experimental.from_list", "io", _samples, dtypes=(*FLOATS, "int32", "uint8"),
           setup=_from_list_setup, reference=lambda x, labels: (x, labels), **paper(60, 11)),
    Kernel("tf.data.Dataset.shard", "io", _rows, dtypes=(*FLOATS, "int32", "int64"), setup=_shard_setup,
           reference=lambda x: x[INDEX::SHARDS], **paper(70, 28)),
    Kernel("tf.data.experimental.shuffle_and_repeat", "io",
           # 64K elements at medium: the shuffle moves one element at a time (about 6 us each here).
           lambda rng: {"x": rng.standard_normal(rng.pick(4096, 1 << 16)) * 100}, dtypes=(*FLOATS, "int64"),
           setup=_shuffle_and_repeat_setup, random=True, check=_check_shuffle_and_repeat, **paper(40, 5)),
    Kernel("tf.compat.v1.train.QueueRunner", "io", normal((64, 4096), 256), dtypes=(*FLOATS, "int32"),
           setup=_queue_runner_setup, reference=lambda x: x, **paper(70, 21),
           note="one enqueue thread refills the queue; one dequeue_many of every row, in order"),
    Kernel("tf.compat.v1.ReaderBase.restore_state", "io", nothing(), dtypes=("int64",),
           setup=_restore_state_setup,
           reference=lambda: [[b"X", b"X"], 1, b"Y", b"Z", 3, 1, b"Y", b"Z", 3], **paper(60, 17)),
    Kernel("tf.compat.v1.train.CheckpointSaverHook", "io", normal(BIG_SIDE, BIG_SIDE), dtypes=FLOATS,
           setup=_checkpoint_hook_setup, check=_check_checkpoint_hook, **paper(30, 4),
           note="save_steps=2 over 5 steps saves at 0, 2, 4 and (at the end) 5; the last checkpoint restores v"),
    Kernel("tf.train.list_variables", "io", nothing(), dtypes=("float32",), setup=_list_variables_setup,
           reference=_list_variables_ref, **paper(60, 10)),
    Kernel("tf.summary.SummaryWriter.flush", "io", normal(8, 1024), dtypes=FLOATS, setup=_flush_setup,
           check=_check_flush, **paper(90, 163),
           note="eight tensor summaries written to a writer that never flushes on its own, then flush()"),
    Kernel("tf.compat.v1.saved_model.simple_save", "io",
           lambda rng: {"x": rng.standard_normal(rng.dims((64, 512), (64, 512))),
                        "w": rng.standard_normal(rng.dims((64, 512), (64, 512)))},
           dtypes=FLOATS, setup=_simple_save_setup, check=_check_simple_save, **paper(10, 1),
           note="save a session with two variables; the check loads it and runs the serving signature"),
    Kernel("tf.io.parse_single_sequence_example", "io", _sequence_example, dtypes=("float32",), setup=_parse_setup,
           reference=_parse_ref, **paper(60, 11),
           note="float32 is the only floating type a tf.train.FloatList holds"),
    Kernel("tf.strings.as_string", "io", _formatted, dtypes=(*FLOATS, "int8", "int32", "int64", "bool"),
           reference=_as_string_ref, **paper(90, 189, name="decode")),
    Kernel("tf.print", "io", normal(VEC, scale=100.0), dtypes=(*FLOATS, "int64"), setup=_print_setup,
           check=_check_print, **paper(100, 6807)),
    Kernel("tf.io.gfile.GFile", "io", normal(VEC), setup=_gfile_setup,
           reference=lambda x: (x, x[1000:1024], _LINES, x.size * 4),
           note="binary write/read of the array, a seek and partial read, text lines, size()"),
    Kernel("tf.compat.v1.io.tf_record_iterator", "io", normal((64, 1024), 1024), setup=_records_setup,
           reference=lambda x: [x, len(x), x, len(x)], note="one record per row, plain and GZIP files"),
    Kernel("tf.train.Feature", "io", _feature_inputs, setup=_feature_setup,
           reference=lambda x, labels, name: {"labels": labels, "name": name.item(), "x": x},
           note="float, int64 and bytes features in an Example, parsed back with parse_single_example"),
    Kernel("tf.strings.regex_replace", "io", _log_lines, call=_regex_call, reference=_regex_ref, out_dtype="string",
           note="every digit run to '#', and the first whitespace run to '_'"),
    Kernel("tf.strings.to_hash_bucket", "io", _log_lines, call=lambda c, lines: (c.fn(lines, 1000), c.fn(lines, 2**33)),
           reference=_hash_ref, out_dtype="int64", note="checked bit-exactly against TensorFlow's Hash64"),
    # TensorFlow 2.21 no longer depends on tensorboard; without it the call raises TBNotInstalledError.
    Kernel("tf.summary.image", "io", _images, dtypes=("float32", "float64", "float16", "bfloat16"),
           setup=_image_summary_setup, check=_check_image_summary,
           note="three of a batch of RGB images written as PNGs; the check decodes them from the event file"),
]
