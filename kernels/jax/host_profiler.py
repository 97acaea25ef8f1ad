"""Host transfers, device counts and profiler annotations from the usage sample."""

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from portability.catalog import BIG_SIDE, Keep, Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _state(rng):
    return {"x": rng.standard_normal(rng.dims(BIG_SIDE, BIG_SIDE)), "step": Keep(np.int32(rng.integers(1, 1000)))}


def _device_get(c, x, step):
    # The corpus's use: fetch a pytree of device arrays (metrics, a train state) to NumPy on the host.
    fetched = c.fn({"w": x, "step": step, "lr": 0.5})
    on_host = all(isinstance(v, np.ndarray) and not isinstance(v, c.fw.Array) for v in (fetched["w"], fetched["step"]))
    return on_host, fetched


def _small(rng):
    return {"x": rng.standard_normal((64, 64))}


def _local_device_count(c, x):
    # The corpus's use: split a batch over the local devices and pmap over them.
    count = c.fn(c.backend)
    listed = len(c.fw.local_devices(backend=c.backend))
    shards = x.reshape(count, -1)
    doubled = c.fw.pmap(lambda v: v * 2, backend=c.backend)(shards).reshape(x.shape)
    return count, listed, c.fw.device_count(c.backend), doubled


def _check_local_device_count(out, x):
    count, listed, total, doubled = out
    assert isinstance(count, int) and count >= 1, f"local_device_count() is {count!r}"
    assert count == listed, f"local_device_count() is {count}, jax.local_devices() lists {listed}"
    assert total >= count, f"device_count() {total} is below local_device_count() {count}"
    assert np.array_equal(np.asarray(doubled, dtype=np.float64), 2 * x), "pmap over the local devices gave wrong values"


def _trace_events(logdir, name):
    """(name, step_num) of the events called ``name`` in the trace the profiler wrote."""
    files = list(Path(logdir).rglob("*.trace.json.gz"))
    if not files:
        return [("no trace.json.gz written", "")]
    with gzip.open(files[0]) as f:
        events = json.load(f).get("traceEvents", [])
    return [(e["name"], e.get("args", {}).get("step_num", "")) for e in events if e.get("name") == name]


def _step_annotation_setup(c, x):
    jnp = c.fw.numpy
    step = c.fw.jit(lambda v: jnp.tanh(v @ v) * 0.5)
    step(x).block_until_ready()  # compiled before tracing
    logdir = tempfile.mkdtemp()
    try:
        # The effect of the annotation: a profile of the step carries it, with its step number.
        with c.fw.profiler.trace(logdir), c.fn("train_step", step_num=7):
            step(x).block_until_ready()
        events = _trace_events(logdir, "train_step")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)

    def run():
        with c.fn("train_step", step_num=8):  # the timed call: an annotated step, no profiler running
            out = step(x)
        return events, out

    return run


KERNELS = [
    # A transfer: every dtype, at full size.
    Kernel("jax.device_get", "io", _state, dtypes=FLOATS, call=_device_get,
           reference=lambda x, step: (True, {"w": x, "step": step, "lr": 0.5})),
    # A device query: one small size; the count is checked against jax.local_devices.
    Kernel("jax.local_device_count", "utility", _small, dtypes=("float32",), call=_local_device_count,
           check=_check_local_device_count, out_dtype=None),
    Kernel("jax.profiler.StepTraceAnnotation", "utility", _small, dtypes=("float32",), setup=_step_annotation_setup,
           reference=lambda x: ([("train_step", "7")], np.tanh(x @ x) * 0.5)),
]
