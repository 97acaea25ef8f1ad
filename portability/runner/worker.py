"""The worker process: imports one framework once, then runs cases sent by the pytest process.

Started with the ``spawn`` method (a fresh interpreter: no device runtime is ever forked). It
answers each case with *facts* (what happened: exception, output devices and dtypes, check
results, timings); the pytest process turns facts into an outcome (``verdicts.case_outcome``).
"""

from __future__ import annotations

import faulthandler
import gc
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from portability.catalog import Draw, Keep, Kernel
from portability.catalog.load import find_kernel, load_kernels
from portability.runner import backends, timing
from portability.verdicts import first_line
from portability.vocabulary import DEFAULT_SIZE, DEFAULT_TOL, FRAMEWORKS

_NP_DTYPES: dict[str, Any] = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
    "complex64": np.complex64,
    "complex128": np.complex128,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "bool": np.bool_,
}


class StageError(Exception):
    """An exception raised while a stage of a case ran; ``stage`` says which."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.stage = stage
        self.exc = exc


@dataclass
class Ctx:
    """What a kernel's callables receive: the resolved API and the framework, placed on a device."""

    fn: Any
    fw: Any
    device: Any
    backend: str
    dtype: str
    seed: int
    adapter: backends.Backend

    def to(self, array: Any) -> Any:
        """Put a NumPy array on the case's device with its own dtype (for inputs made in setup)."""
        return self.adapter.to_device(np.asarray(array), self.device)


def resolve(api: str) -> tuple[Any, Any]:
    """The object a qualified API names, and its framework's top module.

    ``tf.compat.v1.placeholder`` -> tensorflow.compat.v1.placeholder. Submodules that are not
    attributes until imported (``jax.scipy.special``) are imported along the way.
    """
    import importlib

    prefix, *parts = api.split(".")
    top_name = next(f.module for f in FRAMEWORKS.values() if f.prefix == prefix)
    top = importlib.import_module(top_name)
    obj: Any = top
    path = top_name
    for part in parts:
        path = f"{path}.{part}"
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module(path)
            except ImportError:
                raise AttributeError(f"{api} does not exist ('{part}' not found in {path.rsplit('.', 1)[0]})") from None
    return obj, top


def cast_input(value: Any, dtype: str) -> tuple[Any, Any]:
    """(array for the framework, array for the reference) from one builder value.

    Floating arrays take the case dtype; the reference gets the same rounded values widened to
    float64/complex128 so input rounding is not counted as the function's error.
    """
    if isinstance(value, Keep):
        return np.asarray(value.value), np.asarray(value.value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        framework_arr = value.astype(_NP_DTYPES[dtype])
        if framework_arr.dtype.kind == "c" or (value.dtype.kind == "c" and dtype.startswith("complex")):
            ref = framework_arr.astype(np.complex128)
        elif dtype in ("float16", "bfloat16", "float32", "float64"):
            ref = framework_arr.astype(np.float64)
        else:
            ref = framework_arr
        return framework_arr, ref
    return value, value


def flatten(adapter: backends.Backend, out: Any) -> list[Any]:
    """Leaves of an output: framework arrays, NumPy arrays and Python scalars, in order."""
    if adapter.is_array(out):
        return [out]
    if isinstance(out, Mapping):
        return [leaf for k in sorted(out, key=str) for leaf in flatten(adapter, out[k])]
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in flatten(adapter, item)]
    return [out]


def to_host(adapter: backends.Backend, leaves: list[Any]) -> list[Any]:
    return [adapter.to_numpy(x) if adapter.is_array(x) else x for x in leaves]


def host_leaves(out: Any) -> list[Any]:
    """Leaves of a NumPy/Python reference output, shaped like ``flatten``'s."""
    if isinstance(out, Mapping):
        return [leaf for k in sorted(out, key=str) for leaf in host_leaves(out[k])]
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in host_leaves(item)]
    return [out]


def compare(out: list[Any], ref: list[Any], rtol: float, atol: float) -> dict[str, Any]:
    """Leafwise comparison: exact for integers/booleans, scaled tolerance for floats.

    A float leaf passes when |out - ref| <= rtol*|ref| + atol*max|ref| everywhere, with NaN
    and infinities where the reference has them (and only there).
    """
    if len(out) != len(ref):
        return {"ok": False, "message": f"output has {len(out)} parts, the reference {len(ref)}"}
    worst = 0.0
    for i, (a_raw, b_raw) in enumerate(zip(out, ref, strict=True)):
        a, b = np.asarray(a_raw), np.asarray(b_raw)
        where = f" (part {i})" if len(out) > 1 else ""
        if a.shape != b.shape:
            return {"ok": False, "message": f"shape {a.shape} differs from the reference's {b.shape}{where}"}
        if a.dtype.kind not in "fc" and b.dtype.kind not in "fc":
            if a.dtype.kind in "biu" or b.dtype.kind in "biu":
                if not np.array_equal(a, b):
                    n = int(np.sum(a != b))
                    return {"ok": False, "message": f"{n} of {a.size} values differ from the reference{where}"}
                continue
            if not np.array_equal(a, b) if a.dtype.kind != "O" else a.tolist() != b.tolist():
                return {"ok": False, "message": f"value differs from the reference{where}"}
            continue
        a = a.astype(np.complex128 if a.dtype.kind == "c" or b.dtype.kind == "c" else np.float64)
        b = b.astype(a.dtype)
        a_nan, b_nan = np.isnan(a), np.isnan(b)
        if np.any(a_nan & ~b_nan):
            n = int(np.sum(a_nan & ~b_nan))
            return {"ok": False, "message": f"NaN at {n} of {a.size} elements where the reference has none{where}"}
        if np.any(b_nan & ~a_nan):
            n = int(np.sum(b_nan & ~a_nan))
            return {"ok": False, "message": f"finite at {n} of {a.size} elements where the reference is NaN{where}"}
        finite = np.isfinite(b) & ~b_nan
        if np.any(~finite & ~b_nan & (a != b)):
            return {"ok": False, "message": f"infinities differ from the reference{where}"}
        if not np.any(finite):
            continue
        af, bf = a[finite], b[finite]
        scale = float(np.max(np.abs(bf)))
        err = np.abs(af - bf)
        bound = rtol * np.abs(bf) + atol * scale
        bad = err > bound
        # How much of the tolerance the worst element uses: <= 1 passes.
        used = float(np.max(err / np.maximum(bound, 1e-300)))
        worst = max(worst, used)
        if np.any(bad):
            return {
                "ok": False,
                "message": (
                    f"max |out-ref| = {float(np.max(err)):.3g} exceeds rtol {rtol:g} / atol {atol:g}x{scale:.3g}"
                    f" at {int(np.sum(bad))} of {bf.size} elements{where}"
                ),
                "tolerance_used": used,
            }
    return {"ok": True, "message": "", "tolerance_used": worst}


class CaseRunner:
    """Runs cases for one framework; catalog files are loaded once per worker."""

    def __init__(self, adapter: backends.Backend) -> None:
        self.adapter = adapter
        self._kernels: dict[tuple[str, str], Kernel] = {}

    def kernel(self, path: str, api: str) -> Kernel:
        """A catalog entry, its file loaded and validated once per worker, not once per case."""
        key = (path, api)
        if key not in self._kernels:
            self._kernels.update({(path, k.api): k for k in load_kernels(Path(path))})
        return self._kernels[key] if key in self._kernels else find_kernel(Path(path), api)

    def release(self) -> None:
        """After a case, once ``run`` has returned (its frames hold the case's objects until then):
        release what the case left behind, its cyclic garbage (and with it device buffers), then
        the framework's cached device memory (``Backend.free``). The survivors are frozen out of
        later collections: they are the worker's long-lived objects (jit caches, compiled and
        traced functions), and a full collection walking all of them after every case cost 64 ms
        per JAX case; frozen, each collection walks only what the last case made."""
        self.adapter.free()
        gc.freeze()

    def _thunk(
        self, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str, seed: int
    ) -> Callable[[], Any]:
        adapter = self.adapter
        device = adapter.device(backend)
        ctx = Ctx(fn=fn, fw=fw, device=device, backend=backend, dtype=dtype, seed=seed, adapter=adapter)
        try:
            with adapter.placement(device):
                inputs = {
                    k: adapter.to_device(v, device) if isinstance(v, np.ndarray) else v
                    for k, v in ((k, cast_input(v, dtype)[0]) for k, v in raw.items())
                }
        except Exception as exc:
            raise StageError("inputs", exc) from exc
        try:
            adapter.seed(seed)
            with adapter.placement(device):
                if kernel.setup is not None:
                    thunk = kernel.setup(ctx, **inputs)
                else:
                    call = kernel.call
                    if call is None:
                        args = tuple(inputs.values())
                        return _placed(adapter, device, lambda: fn(*args))
                    return _placed(adapter, device, lambda: call(ctx, **inputs))
        except Exception as exc:
            raise StageError("setup", exc) from exc
        return _placed(adapter, device, thunk)

    def execute(
        self, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str, seed: int
    ) -> tuple[Callable[[], Any], Any, float]:
        """Prepare a case and make its first call: (thunk, output, first-call seconds)."""
        thunk = self._thunk(kernel, fn, fw, raw, dtype, backend, seed)
        try:
            t0 = time.perf_counter()
            out = thunk()
            self.adapter.sync(out)
            first = time.perf_counter() - t0
        except Exception as exc:
            raise StageError("call", exc) from exc
        return thunk, out, first

    def run(self, case: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
        kernel = self.kernel(case["path"], case["api"])
        dtype, variant, backend = case["dtype"], case["variant"], case["backend"]
        facts: dict[str, Any] = {"backend": backend, "dtype": dtype, "pid": os.getpid(),
                                 "size": config.get("size", DEFAULT_SIZE)}
        try:
            fn, fw = resolve(kernel.api)
        except (AttributeError, ImportError) as exc:
            version = self.adapter.versions().get(self.adapter.framework, "?")
            facts["error"] = {
                "stage": "resolve",
                "type": type(exc).__name__,
                "message": f"{first_line(str(exc))} in {self.adapter.framework} {version}",
            }
            return facts

        seed = kernel.seed(variant)
        raw = dict(kernel.variants[variant](Draw(np.random.default_rng(seed), config.get("size", DEFAULT_SIZE))))
        rounds = {k: config[k] for k in ("min_rounds", "max_rounds", "budget_s") if k in config}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                thunk, out, first = self.execute(kernel, fn, fw, raw, dtype, backend, seed)
        except StageError as err:
            facts["error"] = _error(err.stage, err.exc)
            return facts
        facts["warnings"] = sorted({first_line(str(w.message)) for w in caught})[:3]

        # The first call's output is the one checked (the reference is a first call too); the
        # timed rounds that follow only time.
        t_check = time.perf_counter()
        leaves = flatten(self.adapter, out)
        arrays = [x for x in leaves if self.adapter.is_array(x)]
        facts["devices_used"] = sorted({self.adapter.device_kind(x) for x in arrays})
        # NumPy outputs (a TF1 Session.run) have a dtype too, though no device to check
        facts["output_dtypes"] = [self.adapter.dtype_name(x) if self.adapter.is_array(x) else x.dtype.name
                                  for x in leaves if self.adapter.is_array(x) or isinstance(x, np.ndarray)]
        facts["dtype_check"] = _dtype_check(kernel, dtype, facts["output_dtypes"])
        facts["numerics"], facts["check"] = self._numerics(kernel, fn, fw, raw, dtype, backend, seed, leaves)
        facts["check_s"] = time.perf_counter() - t_check
        del out, leaves, arrays

        # An accelerator case is timed against the same case on the host CPU, the rounds of the
        # two interleaved so that drift (clocks, other load) hits both alike.
        ref_thunk = None
        if backend != "cpu" and config.get("reference_timing", True):
            try:
                ref_thunk, _, ref_first = self.execute(kernel, fn, fw, raw, dtype, "cpu", seed)
            except StageError as err:
                facts["reference_timing"] = {"error": f"{type(err.exc).__name__}: {first_line(str(err.exc))}"}
        try:
            if ref_thunk is not None:
                (samples, calls), (ref_samples, ref_calls) = timing.measure_interleaved(
                    [thunk, ref_thunk], self.adapter.sync, **rounds)
                facts["reference_timing"] = {"first_call_s": ref_first, "samples_s": ref_samples,
                                             "calls_per_round": ref_calls, "interleaved": True,
                                             **timing.summarize(ref_samples)}
            else:
                samples, calls = timing.measure(thunk, self.adapter.sync, **rounds)
        except Exception as exc:  # a later call failed where the first succeeded
            facts["error"] = _error("rounds", exc)
            return facts
        facts["timing"] = {"first_call_s": first, "samples_s": samples, "calls_per_round": calls,
                           **timing.summarize(samples)}
        return facts

    def _numerics(
        self, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str,
        seed: int, leaves: list[Any], host: list[Any] | None = None,
    ) -> tuple[dict[str, Any] | None, str]:
        """Check the output; returns (result, which check ran). ``host``: the output's leaves as
        NumPy/Python values when the caller has them (the catalog self-test hands in altered ones)."""
        if host is None:
            host = to_host(self.adapter, leaves)
        canon = kernel.canonical or (lambda x: x)
        rtol, atol = kernel.tolerance(_tolerance_dtype(kernel, dtype, host))
        ref_inputs = {k: cast_input(v, dtype)[1] for k, v in raw.items()}
        if kernel.reference is not None:
            ref = kernel.reference(*ref_inputs.values())
            return compare(host_leaves(canon(_unwrap(host, leaves))), host_leaves(canon(ref)), rtol, atol), "numpy"
        if kernel.check is not None:
            try:
                kernel.check(_unwrap(host, leaves), *ref_inputs.values())
            except AssertionError as exc:
                message = f"property check failed: {first_line(str(exc)) or 'assertion'}"
                return {"ok": False, "message": message}, "property"
            return {"ok": True, "message": ""}, "property"
        # The same API on the host CPU at the highest precision it accepts.
        for ref_dtype in _reference_dtypes(dtype):
            if backend == "cpu" and ref_dtype == dtype:
                return {"ok": True, "message": ""}, "self"
            try:
                # The case's inputs as rounded to its dtype, so input rounding is not counted.
                _, ref_out, _ = self.execute(kernel, fn, fw, ref_inputs, ref_dtype, "cpu", seed)
            except StageError:
                continue
            ref_leaves = flatten(self.adapter, ref_out)
            got = [self.adapter.dtype_name(x) for x in ref_leaves if self.adapter.is_array(x)]
            if ref_dtype in ("float64", "complex128") and any(g in ("float32", "complex64") for g in got):
                continue  # the framework narrowed the reference (JAX without x64): try the next
            ref_host = to_host(self.adapter, ref_leaves)
            result = compare(
                host_leaves(canon(_unwrap(host, leaves))), host_leaves(canon(_unwrap(ref_host, ref_leaves))), rtol, atol
            )
            return result, f"cpu-{ref_dtype}"
        return None, "unverified: no reference ran on the CPU"


def _error(stage: str, exc: BaseException) -> dict[str, Any]:
    return {
        "stage": stage,
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "traceback": "".join(traceback.format_exception(exc, limit=-4))[-2000:],
    }


def _placed(adapter: backends.Backend, device: Any, thunk: Callable[[], Any]) -> Callable[[], Any]:
    """The timed callable: inside the device scope where the framework needs one for its calls."""
    if not adapter.scope_calls:
        return thunk

    def run() -> Any:
        with adapter.placement(device):
            return thunk()

    return run


def _unwrap(host: list[Any], leaves: list[Any]) -> Any:
    """A single-leaf output is handed to checks as the array itself, not a one-element list."""
    return host[0] if len(leaves) == 1 else host


def _tolerance_dtype(kernel: Kernel, dtype: str, host: list[Any]) -> str:
    """The dtype whose tolerance applies: the case's, or for integer/bool cases with floating
    outputs (uint8 / 2 is float32) the output's, unless the kernel sets one for the case dtype."""
    if dtype in DEFAULT_TOL or dtype in kernel.tol:
        return dtype
    floating = [np.asarray(x).dtype.name for x in host if np.asarray(x).dtype.kind in "fc"]
    return floating[0] if floating else dtype


def _reference_dtypes(dtype: str) -> list[str]:
    if dtype.startswith("complex"):
        return ["complex128", "complex64"]
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        return ["float64", "float32"]
    return [dtype]


def _dtype_check(kernel: Kernel, dtype: str, got: list[str]) -> dict[str, Any] | None:
    """Did the output keep the dtype it should have? Floating leaves only under "same"."""
    expected = kernel.expected_dtype(dtype)
    if expected is None or not got:
        return None
    if kernel.out_dtype == "same":
        if not dtype.startswith(("float", "bfloat", "complex")):
            return None
        got = [g for g in got if g.startswith(("float", "bfloat", "complex"))]
        if not got:
            return None
    wrong = sorted({g for g in got if g != expected})
    return {"ok": not wrong, "expected": expected, "got": ", ".join(wrong) or expected}


def _watch_parent(parent: int) -> None:
    """Exit when the pytest process is gone (killed with SIGKILL): never outlive the run."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main(conn: Any, framework: str, log_path: str, parent_pid: int, pinned: Sequence[int] = ()) -> None:
    """A worker process, after ``pool.entry`` gave it its CPUs (``pinned``, for the record)."""
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    faulthandler.enable(log)
    # Spawn copies the parent's sys.path; catalog folders on it would shadow modules by name.
    sys.path[:] = [p for p in sys.path if not (Path(p).parent.name == "kernels" and Path(p).name in FRAMEWORKS)]
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    t0 = time.perf_counter()
    try:
        adapter = backends.load(framework)
    except BaseException as exc:  # report why the framework cannot start, then die
        conn.send({"kind": "failed", "message": f"{type(exc).__name__}: {first_line(str(exc))}"})
        raise
    # The framework's own objects live as long as the worker: keep them out of every later
    # collection, so freeing memory between cases (gc.collect) costs milliseconds, not 100 ms.
    gc.collect()
    gc.freeze()
    visible = adapter.visible()
    conn.send({
        "kind": "ready",
        "framework": framework,
        "pid": os.getpid(),
        "import_s": time.perf_counter() - t0,
        "visible": visible,
        "reasons": {b: adapter.unavailable_reason(b) for b in ("cpu", "gpu", "tpu") if b not in visible},
        "versions": adapter.versions(),
        "numerics": adapter.numerics(),
        "cpus": list(pinned),
        "threads": adapter.threads(),
    })
    runner = CaseRunner(adapter)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg["kind"] == "stop":
            return
        print(f"--- case {msg['case']['api']} {msg['case']['dtype']} {msg['case']['backend']}", flush=True)
        t0 = time.perf_counter()
        try:
            facts = runner.run(msg["case"], msg["config"])
        except Exception as exc:  # a bug in the harness or a catalog entry, not the framework
            facts = {
                "backend": msg["case"]["backend"],
                "error": {
                    "stage": "harness",
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "traceback": traceback.format_exc()[-2000:],
                },
            }
        runner.release()
        facts["worker_s"] = time.perf_counter() - t0
        conn.send({"kind": "result", "facts": facts})
