"""(a) Timing accuracy: our timer's median for reference kernels against each framework's own timer,
measured in the same process, interleaved (ours, theirs, ours, ...) so machine drift hits both.
Target: ratio ours/theirs within 0.95-1.05.

Backend: cpu by default; BENCH_BACKEND=gpu runs the same on a GPU (torch.utils.benchmark.Timer and
a block_until_ready loop then synchronise the device, as our timer does).
"""

from __future__ import annotations

import os
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from portability.runner import backends, timing

from .conftest import FIGURES

BACKEND = os.environ.get("BENCH_BACKEND", "cpu")
REPEATS = 21  # interleaved measurements of each timer; the figure is the median of their medians
BUDGET_S = 0.25  # per measurement


def _kernels(framework: str, adapter: Any, device: Any) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((512, 512)).astype(np.float32) for _ in range(2))
    img = rng.standard_normal((8, 16, 64, 64)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    vec = rng.standard_normal(1 << 22).astype(np.float32)
    if framework == "torch":
        import torch

        ta, tb, timg, tw, tv = (adapter.to_device(x, device) for x in (a, b, img, w, vec))
        return {"matmul512": lambda: torch.matmul(ta, tb),
                "conv2d": lambda: torch.nn.functional.conv2d(timg, tw, padding=1),
                "sum4M": lambda: torch.sum(tv)}
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        ja, jb, jimg, jw, jv = (adapter.to_device(x, device) for x in (a, b, img, w, vec))
        conv = jax.jit(lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME"))
        mm, sm = jax.jit(jnp.matmul), jax.jit(jnp.sum)
        return {"matmul512": lambda: mm(ja, jb), "conv2d": lambda: conv(jimg, jw), "sum4M": lambda: sm(jv)}
    import tensorflow as tf

    with tf.device(device):
        fa, fb, fv = (adapter.to_device(x, device) for x in (a, b, vec))
        fimg = adapter.to_device(img.transpose(0, 2, 3, 1).copy(), device)
        fw = adapter.to_device(w.transpose(2, 3, 1, 0).copy(), device)
    return {"matmul512": lambda: tf.linalg.matmul(fa, fb),
            "conv2d": lambda: tf.nn.conv2d(fimg, fw, 1, "SAME"),
            "sum4M": lambda: tf.math.reduce_sum(fv)}


def _theirs(framework: str, thunk: Callable[[], Any], budget: float) -> float:
    """Median seconds per call by the framework's own recommended timer."""
    if framework == "torch":
        import torch.utils.benchmark as tb

        sync = "torch.cuda.synchronize()" if BACKEND == "gpu" else ""
        torch = __import__("torch")
        # Timer defaults to one thread; the kernel under test runs with torch's usual thread count
        timer = tb.Timer(stmt=f"f(); {sync}" if sync else "f()", globals={"f": thunk, "torch": torch},
                         num_threads=torch.get_num_threads())
        return float(timer.blocked_autorange(min_run_time=budget).median)
    if framework == "jax":
        import jax

        call = lambda: jax.block_until_ready(thunk())  # noqa: E731
    else:
        import tensorflow as tf

        # TF's own device sync on an accelerator; on the CPU eager ops finish before they return,
        # and sync_devices would add its own cost (~0.1 ms) to every call.
        def synced() -> Any:
            out = thunk()
            tf.test.experimental.sync_devices()
            return out

        call = thunk if BACKEND == "cpu" else synced
    n = max(1, int(0.01 / max(timeit.timeit(call, number=3) / 3, 1e-7)))
    runs = max(5, int(budget / 0.01))
    return statistics.median(t / n for t in timeit.repeat(call, number=n, repeat=runs))


# framework outermost: one framework's thread pools are idle before the next one is measured
@pytest.mark.parametrize("kernel", ["matmul512", "conv2d", "sum4M"])
@pytest.mark.parametrize("framework", ["torch", "jax", "tensorflow"])
def test_timing_accuracy(benchmark: Any, framework: str, kernel: str) -> None:
    if framework not in backends.installed():
        pytest.skip(f"{framework} is not installed")
    adapter = backends.load(framework)
    if BACKEND not in adapter.visible():
        pytest.skip(f"{framework} cannot see {BACKEND}: {adapter.unavailable_reason(BACKEND)}")
    device = adapter.device(BACKEND)
    thunk = _kernels(framework, adapter, device)[kernel]
    for _ in range(3):  # compile and warm up
        adapter.sync(thunk())
    ours, theirs = [], []
    for _ in range(REPEATS):
        samples, _ = timing.measure(thunk, adapter.sync, budget_s=BUDGET_S, max_rounds=10_000)
        ours.append(statistics.median(samples))
        theirs.append(_theirs(framework, thunk, BUDGET_S))
    # Each (ours, theirs) pair was measured back to back: the median of the pair ratios cancels
    # the drift of this shared machine between pairs.
    ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
    benchmark.extra_info.update({"ours_median_s": statistics.median(ours), "theirs_median_s": statistics.median(theirs),
                                 "ratio": ratio, "ours_all": ours, "theirs_all": theirs, "backend": BACKEND})
    # pytest-benchmark's own timing of the same synchronised call: a third opinion in its table
    benchmark.pedantic(lambda: adapter.sync(thunk()), rounds=50, warmup_rounds=2)
    FIGURES.append(f"accuracy {framework:<10} {kernel:<9} {BACKEND}: ours {statistics.median(ours) * 1e3:8.3f} ms, "
                   f"framework timer {statistics.median(theirs) * 1e3:8.3f} ms, ratio {ratio:.3f}")
    assert 0.95 <= ratio <= 1.05, f"{framework} {kernel}: ratio {ratio:.3f} outside 0.95-1.05"
