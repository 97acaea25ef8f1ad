"""torch.utils.data: datasets indexed directly and iterated through a DataLoader, as training loops do.

The datasets hold tensors already on the case's device, so the batches a DataLoader collates
(torch.stack of device tensors) must come back on that device; every sample and every batch
size is compared exactly with NumPy indexing of the same arrays.
"""

import numpy as np

from portability.catalog import Keep, Kernel, paper

BATCH = 64


def _batch_sizes(n, batch=BATCH):
    return [batch] * (n // batch) + ([n % batch] if n % batch else [])


def _loaded(loader):
    """Every batch of a DataLoader pass: (features, labels, batch sizes), concatenated."""
    xs, ys, sizes = [], [], []
    for bx, by in loader:
        xs.append(bx)
        ys.append(by)
        sizes.append(len(bx))
    return xs, ys, sizes


# -- Dataset: a user subclass returning dict samples ---------------------------------------------

def _samples(rng):
    # Not a multiple of BATCH: the last batch is a partial one.
    n = rng.pick(1000, 8100)
    return {"x": rng.standard_normal((n, rng.pick(16, 128))), "y": Keep(rng.integers(0, 10, n))}


def _dataset_setup(c, x, y):
    torch = c.fw

    class Samples(c.fn):
        def __init__(self, features, labels):
            self.features, self.labels = features, labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return {"features": self.features[i], "label": self.labels[i]}

    def run():
        ds = Samples(x, y)
        xs, ys, sizes, keys = [], [], [], set()
        for batch in torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=False):
            keys.update(batch)
            xs.append(batch["features"])
            ys.append(batch["label"])
            sizes.append(len(batch["label"]))
        return torch.cat(xs), torch.cat(ys), sizes, sorted(keys), len(ds), ds[len(ds) - 1]["label"]

    return run


def _dataset_ref(x, y):
    return x, y, _batch_sizes(len(y)), ["features", "label"], len(y), y[-1]


# -- Subset: of a TensorDataset, and of a Subset -------------------------------------------------

def _subset_inputs(rng):
    n = rng.pick(1024, 16384)
    outer = rng.permutation(n)[: n // 2]
    return {"x": np.round(rng.standard_normal((n, 64)) * 8), "y": Keep(rng.integers(0, 10, n)),
            "outer": Keep(outer), "inner": Keep(rng.permutation(n // 2)[: n // 4 + 3])}


def _subset_setup(c, x, y, outer, inner):
    torch = c.fw
    ds = torch.utils.data.TensorDataset(x, y)
    outer_idx, inner_idx = outer.tolist(), inner.tolist()  # users pass Python lists of indices

    def run():
        sub = c.fn(ds, outer_idx)
        nested = c.fn(sub, inner_idx)
        xs, ys, sizes = _loaded(torch.utils.data.DataLoader(nested, batch_size=BATCH))
        first_x, first_y = nested[0]
        return torch.cat(xs), torch.cat(ys), sizes, len(sub), len(nested), first_x, first_y

    return run


def _subset_ref(x, y, outer, inner):
    idx = outer[inner]
    return x[idx], y[idx], _batch_sizes(len(idx)), len(outer), len(idx), x[idx[0]], y[idx[0]]


# -- ConcatDataset: parts of different lengths, one of them empty --------------------------------

PART_ROWS = ((300, 5000), (0, 0), (1, 1), (723, 20000))


def _concat_inputs(rng):
    rows = [rng.pick(*r) for r in PART_ROWS]
    out = {}
    for i, n in enumerate(rows):
        out[f"x{i}"] = np.round(rng.standard_normal((n, 16)) * 8)
        out[f"y{i}"] = Keep(rng.integers(0, 10, n))
    return out


def _concat_setup(c, **parts):
    torch = c.fw
    datasets = [torch.utils.data.TensorDataset(parts[f"x{i}"], parts[f"y{i}"]) for i in range(len(PART_ROWS))]

    def run():
        cd = c.fn(datasets)
        xs, ys, sizes = _loaded(torch.utils.data.DataLoader(cd, batch_size=BATCH))
        try:
            cd[len(cd)]
            raised = False
        except IndexError:
            raised = True
        last_x, _ = cd[-1]
        return torch.cat(xs), torch.cat(ys), sizes, list(cd.cumulative_sizes), last_x, raised

    return run


def _concat_ref(*arrays):
    xs, ys = arrays[0::2], arrays[1::2]
    x, y = np.concatenate(xs), np.concatenate(ys)
    return x, y, _batch_sizes(len(y)), np.cumsum([len(p) for p in ys]).tolist(), x[-1], True


KERNELS = [
    # From the paper's sample.
    Kernel("torch.utils.data.Dataset", "io", _samples, dtypes=("float32",), setup=_dataset_setup,
           reference=_dataset_ref, **paper(80, 36),
           note="a Dataset subclass returning dict samples, batched by a DataLoader"),
    Kernel("torch.utils.data.Subset", "io", _subset_inputs, dtypes=("float32", "int64"), setup=_subset_setup,
           reference=_subset_ref, **paper(60, 12),
           note="a Subset of a Subset of a TensorDataset, read through a DataLoader and by index"),
    Kernel("torch.utils.data.ConcatDataset", "io", _concat_inputs, dtypes=("float32", "int64"),
           setup=_concat_setup, reference=_concat_ref, **paper(60, 12),
           note="four TensorDatasets (one empty, one of a single row): DataLoader pass, cd[-1], IndexError"),
]
