"""torch I/O and data loading: datasets, DataLoader, torch.load and the distributed checkpoint, as training loops
use them.

Dataset, Subset and ConcatDataset hold tensors already on the case's device, so the batches a DataLoader
collates from them (torch.stack of device tensors) must come back on that device; every sample and every batch
size is compared exactly with NumPy indexing of the same arrays. Files go to a temporary directory removed
with the timed callable, and each check reads back what was written.
"""

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from portability.catalog import FLOATS, Keep, Kernel, one_rank_group, paper

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


def _scratch_dir(owner):
    """A temporary directory removed when ``owner`` (the timed callable) is freed."""
    path = tempfile.mkdtemp(prefix="portability-")
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return Path(path)


# -- distributed.checkpoint.save_state_dict --------------------------------------------------------

def _checkpoint_inputs(rng):
    n = rng.pick(64, 1024)
    return {"w": rng.standard_normal((n, n)), "b": rng.standard_normal(n)}


def _save_state_dict_setup(c, w, b):
    torch = c.fw
    dcp = torch.distributed.checkpoint

    def run():
        state = {"model": {"weight": w, "bias": b}, "step": torch.tensor(7, device=c.device)}
        # accelerate's FSDP checkpointing: save_state_dict(state_dict=..., storage_writer=FileSystemWriter(dir))
        c.fn(state_dict=state, storage_writer=dcp.FileSystemWriter(path))
        fresh = {"model": {"weight": torch.zeros_like(w), "bias": torch.zeros_like(b)},
                 "step": torch.tensor(0, device=c.device)}
        dcp.load(fresh, storage_reader=dcp.FileSystemReader(path))
        model = fresh["model"]
        flags = [(path / ".metadata").exists(), model["weight"].device == w.device, model["weight"].dtype == w.dtype]
        return model["weight"], model["bias"], fresh["step"], flags

    one_rank_group(c, run)
    path = _scratch_dir(run)
    return run


# -- torch.load ------------------------------------------------------------------------------------

def _load_inputs(rng):
    n = rng.pick(64, 1024)
    return {"w": np.round(rng.standard_normal((n, n)) * 8) / 4, "b": np.round(rng.standard_normal(n) * 8) / 4}


def _load_setup(c, w, b):
    torch = c.fw
    state = {"model": {"weight": w, "bias": b, "weight_view": w[1:3]}, "step": 7, "name": "layer",
             "history": [0.5, 0.25]}

    def run():
        loaded = c.fn(path, map_location=c.device, weights_only=True)
        model = loaded["model"]
        shared = model["weight_view"].untyped_storage().data_ptr() == model["weight"].untyped_storage().data_ptr()
        return model["weight"], model["bias"], model["weight_view"], loaded["step"], loaded["name"], \
            loaded["history"], shared

    path = _scratch_dir(run) / "checkpoint.pt"
    torch.save(state, path)
    return run


def _load_ref(w, b):
    return w, b, w[1:3], 7, "layer", [0.5, 0.25], True


# -- DataLoader ------------------------------------------------------------------------------------

def _loader_samples(rng):
    # Not a multiple of BATCH: the last batch is a partial one.
    n = rng.pick(500, 8100)
    return {"x": np.round(rng.standard_normal((n, rng.pick(16, 128))) * 8), "idx": Keep(np.arange(n))}


def _loader_setup(c, x, idx):
    torch = c.fw
    # Datasets live on the host; batches go to the device in the training loop.
    ds = torch.utils.data.TensorDataset(x.cpu(), idx.cpu())

    def run():
        loader = c.fn(ds, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))
        xs, ids, sizes = [], [], []
        for bx, bi in loader:
            xs.append(bx.to(c.device, non_blocking=True))
            ids.append(bi.to(c.device, non_blocking=True))
            sizes.append(len(bi))
        seen = torch.cat(ids)
        order = torch.argsort(seen)
        shuffled = bool((seen != torch.arange(len(seen), device=seen.device)).any())
        return torch.cat(xs)[order], seen[order], sizes, len(loader), shuffled

    return run


def _loader_ref(x, idx):
    n = len(idx)
    sizes = [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])
    return x, idx, sizes, len(sizes), True


KERNELS = [
    Kernel("torch.utils.data.Dataset", "io", _samples, dtypes=("float32",), setup=_dataset_setup,
           reference=_dataset_ref, **paper(80, 36),
           note="a Dataset subclass returning dict samples, batched by a DataLoader"),
    Kernel("torch.utils.data.Subset", "io", _subset_inputs, dtypes=("float32", "int64"), setup=_subset_setup,
           reference=_subset_ref, **paper(60, 12),
           note="a Subset of a Subset of a TensorDataset, read through a DataLoader and by index"),
    Kernel("torch.utils.data.ConcatDataset", "io", _concat_inputs, dtypes=("float32", "int64"),
           setup=_concat_setup, reference=_concat_ref, **paper(60, 12),
           note="four TensorDatasets (one empty, one of a single row): DataLoader pass, cd[-1], IndexError"),
    Kernel("torch.distributed.checkpoint.save_state_dict", "io", _checkpoint_inputs, dtypes=FLOATS,
           setup=_save_state_dict_setup, reference=lambda w, b: (w, b, 7, [True] * 3),
           note="deprecated alias of dcp.save: a nested state dict saved to a directory, loaded back in place"),
    Kernel("torch.load", "io", _load_inputs, dtypes=(*FLOATS, "int64"), setup=_load_setup,
           reference=_load_ref, note="a torch.save'd checkpoint dict, map_location the case's device, weights_only"),
    Kernel("torch.utils.data.DataLoader", "io", _loader_samples, dtypes=("float32", "int64"), setup=_loader_setup,
           reference=_loader_ref, note="shuffled host batches moved to the device; every sample seen once"),
]
