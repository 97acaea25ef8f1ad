"""torch indexing: gather, as a function and as a Tensor method, and one_hot."""

import numpy as np

from portability.catalog import FLOATS, Keep, Kernel


def _gather_inputs(rng):
    rows, cols, k = rng.dims((64, 1024), (128, 2048), (64, 1024))
    return {"x": rng.standard_normal((rows, cols)), "idx": Keep(rng.integers(0, cols, (rows, k)))}


# -- Tensor.gather ---------------------------------------------------------------------------------

def _logp_gather_inputs(rng):
    rows, classes, k = rng.dims((64, 1024), (128, 1024), (8, 64))
    return {"logp": np.round(rng.standard_normal((rows, classes)) * 8) / 4,
            "labels": Keep(rng.integers(0, classes, (rows, 1))), "idx": Keep(rng.integers(0, classes, (rows, k)))}


def _gather_call(c, logp, labels, idx):
    # The log-probability of each label: logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).
    return c.fn(logp, -1, labels).squeeze(-1), c.fn(logp, 1, idx), c.fn(logp, dim=0, index=idx % logp.shape[0])


def _gather_ref(logp, labels, idx):
    rows = idx % logp.shape[0]
    return (np.take_along_axis(logp, labels, axis=-1)[:, 0], np.take_along_axis(logp, idx, axis=1),
            np.take_along_axis(logp[:, :idx.shape[1]], rows, axis=0))  # torch reads the first k columns


KERNELS = [
    Kernel("torch.gather", "indexing", _gather_inputs, dtypes=("float32", "float64", "bfloat16", "int64"),
           call=lambda c, x, idx: c.fn(x, 1, idx), reference=lambda x, idx: np.take_along_axis(x, idx, axis=1)),
    Kernel("torch.nn.functional.one_hot", "indexing",
           lambda rng: {"t": Keep(rng.integers(0, 100, rng.pick(256, 10240)))}, dtypes=("int64",),
           call=lambda c, t: c.fn(t, 100), reference=lambda t: np.eye(100, dtype=np.int64)[t], out_dtype="int64"),
    Kernel("torch.Tensor.gather", "indexing", _logp_gather_inputs, dtypes=(*FLOATS, "int64"), call=_gather_call,
           reference=_gather_ref, note="the log-probability of each label, k indices per row, along dim 0"),
]
