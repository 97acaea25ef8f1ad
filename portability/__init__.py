"""Measure how portable PyTorch, JAX and TensorFlow functions are across CPU, GPU and TPU."""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def load_runs(paths: Any) -> "pd.DataFrame":
    """Every case of the given run directories as a pandas DataFrame, one row per case
    (columns: ``portability.results.frames.COLUMNS``). pandas is imported on first use."""
    from portability.results.frames import load_runs as _load

    return _load(paths)
