"""Checkpoints, files, records, tf.data pipelines, CSV and string ops, and lookup tables drawn in
the usage sample.

Everything written goes to a ``tempfile.mkdtemp()`` directory made in ``setup`` and removed when
the timed callable is collected; every check reads back what was written (a restored variable,
the parsed records, the bytes of a TFRecord file). Parsers, readers, string ops and lookup tables
have host kernels only in TensorFlow: on an accelerator their outputs stay on the host (the
harness reports fail:host_fallback), unless the kernel's own last step (a tf.concat) moves them.
"""

import glob
import os
import shutil
import struct
import tempfile
import weakref

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel, normal

FLOATS = ("float32", "float64", "float16", "bfloat16")
N = (BIG_SIDE, BIG_SIDE)
#: Examples of 64 floats: 4096 or 1M values.
EXAMPLES = (64, 16384)
WIDTH = 64
CSV_COLUMNS = 16
WINDOW = 32
BUCKETS = 4


def _tmpdir(owner, prefix):
    """A fresh directory, removed when ``owner`` (the timed callable) is collected."""
    path = tempfile.mkdtemp(prefix=prefix)
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path


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

    prefix = os.path.join(_tmpdir(run, "tf_ckpt_"), "ckpt")
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

    path = os.path.join(_tmpdir(run, "tf_batched_"), "examples.tfrecord")
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

    path = os.path.join(_tmpdir(run, "tf_records_"), "rows.tfrecord")
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


ALPHABET = list("abcdefghij ") + ["é", "ß", "中", "🙂"]


def _words(rng):
    """Words drawn from a pool of 1024 random mixed-script words."""
    lengths = rng.integers(0, 13, 1024)
    chars = rng.choice(ALPHABET, int(lengths.sum()))
    pool = ["".join(w) for w in np.split(chars, np.cumsum(lengths)[:-1])]
    return {"words": [pool[i] for i in rng.integers(0, len(pool), rng.pick(4096, 262144))]}


def _length_setup(c, words):
    t = c.fw.constant(words)
    return lambda: (c.fn(t), c.fn(t, unit="UTF8_CHAR"))


def _length_ref(words):
    return (np.array([len(w.encode()) for w in words], dtype=np.int32),
            np.array([len(w) for w in words], dtype=np.int32))


VOCAB = ["the", "cat", "sat", "on", "a", "mat", "über", "東京", "!"]


def _sentences(rng):
    rows = rng.pick(64, 16384)
    return {"tokens": [list(rng.choice(VOCAB, int(k))) for k in rng.integers(1, 33, rows)]}


def _ngrams_setup(c, tokens):
    rt = c.fw.ragged.constant(tokens)

    def run():
        grams = c.fn(rt, 2, separator=" ")
        return grams.flat_values, grams.row_splits

    return run


def _ngrams_ref(tokens):
    grams = [[f"{a} {b}".encode() for a, b in zip(s, s[1:], strict=False)] for s in tokens]
    flat = np.array([g for s in grams for g in s], dtype=object)
    return flat, np.concatenate([[0], np.cumsum([len(s) for s in grams])]).astype(np.int64)


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

    directory = _tmpdir(run, "tf_gfile_")
    return run


def _table_inputs(rng):
    """Distinct int64 keys (a shuffled range times an odd constant, mod 2**40: a bijection), half of
    the queries present, half absent."""
    n = rng.pick(4096, 1 << 18)
    ids = (rng.permutation(n + n // 2).astype(np.int64) * 2654435761) % (1 << 40) - (1 << 39)
    keys, absent = ids[:n], ids[n:]
    return {"keys": Keep(keys), "values": rng.standard_normal(n) * 10,
            "queries": Keep(rng.permutation(np.concatenate([keys[: n // 2], absent])))}


def _table_setup(c, keys, values, queries):
    tf = c.fw
    table = c.fn(key_dtype=tf.int64, value_dtype=values.dtype, default_value=-1)

    def run():
        table.insert(keys, values)
        return table.lookup(queries)

    return run


def _table_ref(keys, values, queries):
    order = np.argsort(keys)
    ordered = keys[order]
    pos = np.minimum(np.searchsorted(ordered, queries), len(keys) - 1)
    return np.where(ordered[pos] == queries, values[order[pos]], -1)


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
           check=_check_tfrecord, out_dtype=None,
           note="one record per row, written to a file that is read back; its framing is parsed in Python"),
    Kernel("tf.compat.v1.data.make_one_shot_iterator", "io", normal(EXAMPLES, WIDTH), setup=_one_shot_setup,
           reference=lambda x: (x, False), note="get_next over every batch of 64, then an exhausted iterator"),
    Kernel("tf.data.experimental.group_by_window", "io", _window_inputs, dtypes=("int64",),
           setup=_group_by_window_setup, check=_check_windows,
           note="key = value % 4, windows of 32 batched; the order of windows is the implementation's"),
    Kernel("tf.io.decode_csv", "io", _csv_inputs, dtypes=(*FLOATS, "int32", "int64"), setup=_csv_setup,
           reference=_csv_ref, note="16 columns typed by record_defaults in the case dtype; 1% blank fields"),
    Kernel("tf.strings.length", "utility", _words, dtypes=("int32",), out_dtype="int32", setup=_length_setup,
           reference=_length_ref, note="byte lengths and UTF-8 character lengths of mixed-script words"),
    Kernel("tf.strings.ngrams", "utility", _sentences, setup=_ngrams_setup, out_dtype=None, reference=_ngrams_ref,
           note="bigrams of ragged token lists; checked as (flat_values, row_splits)"),
    Kernel("tf.compat.v1.gfile.Remove", "io", normal(64, 64), setup=_remove_setup, out_dtype=None,
           reference=lambda x: (True, True, "NotFoundError"),
           note="write a file, remove it, then removing it again must raise NotFoundError"),
    Kernel("tf.lookup.experimental.MutableHashTable", "utility", _table_inputs,
           dtypes=(*FLOATS, "int32", "int64"), setup=_table_setup, reference=_table_ref,
           note="insert int64 keys, look up half present and half absent keys (default -1)"),
]
