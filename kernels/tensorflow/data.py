"""tf.data transformations and a lookup-table initializer from the paper's sample.

A pipeline is built once in ``setup`` (building traces its functions) and each timed call iterates
it to the end, as a training loop consumes an epoch. tf.data runs its pipelines on the host, so
elements are read back as NumPy, as ``as_numpy_iterator`` users read them; the check is exact.
"""

import numpy as np

from portability.catalog import Keep, Kernel, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")


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


# -- tf.lookup.KeyValueTensorInitializer of a StaticHashTable -------------------------------------

def _table(rng):
    n = rng.pick(4096, 1 << 20)
    keys = rng.permutation(2 * n)[:n]  # distinct; queries below hit about half of them
    return {"keys": keys.astype(np.float64), "values": Keep(rng.integers(-1000, 1000, n)),
            "queries": rng.integers(0, 2 * n, n).astype(np.float64)}


def _table_setup(c, keys, values, queries):
    tf = c.fw

    def step():
        table = tf.lookup.StaticHashTable(c.fn(keys, values), default_value=-1)
        return table.lookup(queries)

    return step


def _table_ref(keys, values, queries):
    mapping = dict(zip(keys.tolist(), values.tolist(), strict=True))
    return np.array([mapping.get(q, -1) for q in queries.tolist()], dtype=np.int64)


KERNELS = [
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
    Kernel("tf.lookup.KeyValueTensorInitializer", "indexing", _table, dtypes=("int64", "int32"),
           setup=_table_setup, reference=_table_ref, out_dtype="int64", **paper(50, 7),
           note="int64 values; keys of the case dtype (the upstream test expects int32 keys to fail)"),
]
