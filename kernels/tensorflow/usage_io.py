"""Files, records, protos, strings, summaries and the profiler, drawn in the usage sample:
tf.io.gfile.GFile, tf.compat.v1.io.tf_record_iterator, tf.train.Feature,
tf.core.framework.attr_value_pb2.AttrValue.ListValue, tf.strings.regex_replace,
tf.strings.to_hash_bucket, tf.summary.image and tf.profiler.experimental.start.

Files go to a fresh temporary directory made in ``setup`` and removed with the timed callable; the
check reads them back. Protos and files are host objects: their kernels return NumPy values (no
device to check), except the string ops, whose outputs are tensors like any op's.
"""

import glob
import os
import re
import shutil
import tempfile
import weakref

import numpy as np

from portability.catalog import VEC, Keep, Kernel, normal


def _tmpdir(owner, prefix):
    """A fresh directory, removed when ``owner`` (the timed callable) is collected."""
    path = tempfile.mkdtemp(prefix=prefix)
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path


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

    directory = _tmpdir(step, "tf_gfile_")
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

    directory = _tmpdir(step, "tf_records_")
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


# -- AttrValue.ListValue: built, serialized, parsed, and set on a graph op ---------------------------

def _list_value_setup(c, x):
    tf = c.fw
    values = x.numpy()

    def step():
        lv = c.fn(f=values, i=[-3, 0, 2**40], s=[b"loc:@anchor", b""], b=[True, False],
                  type=[tf.float32.as_datatype_enum, tf.int64.as_datatype_enum],
                  shape=[tf.TensorShape([None, 3]).as_proto(), tf.TensorShape([]).as_proto()])
        parsed = c.fn.FromString(lv.SerializeToString())
        g = tf.Graph()
        with g.as_default():
            anchor = tf.constant(0.0, name="anchor")
            follower = tf.identity(anchor, name="follower")
            # colocation as TF's own graph rewrites record it: a "_class" list of "loc:@name" strings
            follower.op._set_attr("_class", tf.compat.v1.AttrValue(list=c.fn(s=[b"loc:@anchor"])))
            follower.op._set_attr("_scales", tf.compat.v1.AttrValue(list=c.fn(f=values)))
        return [np.array(parsed.f, np.float32), list(parsed.i), list(parsed.s), list(parsed.b),
                [tf.as_dtype(t).name for t in parsed.type], [tf.TensorShape(s).as_list() for s in parsed.shape],
                follower.op.colocation_groups(), np.array(follower.op.get_attr("_scales"), np.float32)]

    return step


def _list_value_ref(x):
    return [x, [-3, 0, 2**40], [b"loc:@anchor", b""], [True, False], ["float32", "int64"], [[None, 3], []],
            [b"loc:@anchor"], x]


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


_M = np.uint64(0xC6A4A7935BD1E995)
_R = np.uint64(47)


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


# -- tf.profiler.experimental.start: a profiled matmul leaves a trace naming it ---------------------

def _profiler_setup(c, a, b):
    tf = c.fw
    runs = []

    def step():
        if runs:  # keep one trace directory
            shutil.rmtree(os.path.join(root.path, runs[-1]), ignore_errors=True)
        runs.append(f"run_{len(runs)}")
        c.fn(os.path.join(root.path, runs[-1]))
        try:
            y = tf.matmul(a, b)
            host = y.numpy()  # the op has finished before the profiler stops
        finally:
            tf.profiler.experimental.stop()
        return host, root, runs[-1]

    root = _Written("tf_profiler_")
    return step


def _check_profile(out, a, b):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    y, root, run = out
    logdir = os.path.join(root.path, run)
    ref = a @ b
    err = float(np.max(np.abs(y - ref)))
    assert err <= 1e-4 * float(np.max(np.abs(ref))), f"profiled matmul off by {err:.3g}"
    files = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
    assert len(files) == 1, f"expected one .xplane.pb trace under {logdir}, found {files}"
    space = xplane_pb2.XSpace()
    with open(files[0], "rb") as f:
        space.ParseFromString(f.read())
    names = {m.name for plane in space.planes for m in plane.event_metadata.values()}
    assert any("MatMul" in name for name in names), f"no MatMul event in the trace: {sorted(names)[:12]}"


KERNELS = [
    Kernel("tf.io.gfile.GFile", "io", normal(VEC), setup=_gfile_setup,
           reference=lambda x: (x, x[1000:1024], _LINES, x.size * 4),
           note="binary write/read of the array, a seek and partial read, text lines, size()"),
    Kernel("tf.compat.v1.io.tf_record_iterator", "io", normal((64, 1024), 1024), setup=_records_setup,
           reference=lambda x: [x, len(x), x, len(x)], note="one record per row, plain and GZIP files"),
    Kernel("tf.train.Feature", "io", _feature_inputs, setup=_feature_setup,
           reference=lambda x, labels, name: {"labels": labels, "name": name.item(), "x": x},
           note="float, int64 and bytes features in an Example, parsed back with parse_single_example"),
    Kernel("tf.core.framework.attr_value_pb2.AttrValue.ListValue", "utility", normal((256, 65536)),
           setup=_list_value_setup, reference=_list_value_ref, out_dtype=None,
           note="every field, a serialize/parse round trip, and lists set as attrs on a graph op"),
    Kernel("tf.strings.regex_replace", "io", _log_lines, call=_regex_call, reference=_regex_ref, out_dtype="string",
           note="every digit run to '#', and the first whitespace run to '_'"),
    Kernel("tf.strings.to_hash_bucket", "io", _log_lines, call=lambda c, lines: (c.fn(lines, 1000), c.fn(lines, 2**33)),
           reference=_hash_ref, out_dtype="int64", note="checked bit-exactly against TensorFlow's Hash64"),
    # TensorFlow 2.21 no longer depends on tensorboard; without it the call raises TBNotInstalledError.
    Kernel("tf.summary.image", "io", _images, dtypes=("float32", "float64", "float16", "bfloat16"),
           setup=_image_summary_setup, check=_check_image_summary, out_dtype=None,
           note="three of a batch of RGB images written as PNGs; the check decodes them from the event file"),
    Kernel("tf.profiler.experimental.start", "utility",
           lambda rng: {"a": rng.standard_normal(rng.dims((64, 512), (64, 512))),
                        "b": rng.standard_normal(rng.dims((64, 512), (64, 512)))},
           setup=_profiler_setup, check=_check_profile, out_dtype=None,
           note="start, a matmul, stop; the check finds the MatMul in the .xplane.pb trace"),
]
