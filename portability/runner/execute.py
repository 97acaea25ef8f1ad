"""Running one case in a worker: resolve the API, build and place its inputs, make the first call,
check its output (``portability.runner.checks``) and time its rounds (``portability.runner.timing``).
The result is the case's facts (``portability.records.Facts``); verdicts are drawn elsewhere."""

from __future__ import annotations

import gc
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from portability import stats
from portability.catalog import Draw, Keep, Kernel
from portability.catalog.load import find_kernel, load_kernels
from portability.runner import backends, compiling, timing
from portability.runner.backends import StageError
from portability.runner.calls import Ctx, error_facts, placed, resolve
from portability.runner.checks import (
    cast_input,
    compare,
    dtype_check,
    flatten,
    host_leaves,
    is_downcast,
    reference_dtypes,
    to_host,
    tolerance_dtype,
    unwrap,
)
from portability.verdicts import first_line
from portability.vocabulary import COMPILE_ONLY, DEFAULT_MODE, DEFAULT_SIZE


class CaseRunner:
    """Runs cases for one framework; catalog files are loaded once per worker."""

    def __init__(self, adapter: backends.Backend) -> None:
        self.adapter = adapter
        self._kernels: dict[tuple[str, str], Kernel] = {}
        #: the current kernel's inputs as drawn, per (variant, size): ``inputs``
        self._drawn: tuple[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = (("", ""), {})
        #: the last case's NumPy reference, for the next case of the same kernel, variant, dtype and
        #: size on another target or in another mode: ``check_output``
        self._reference: tuple[tuple[str, ...], list[Any]] | None = None
        #: ``--against``: the case's timed call and its calls per round, kept until the pytest process
        #: has asked for its rounds (interleaved with the other environment's worker) and ends it
        self.pending: tuple[Callable[[], Any], int] | None = None
        # JAX in its default configuration narrows every 64-bit type: its own category, not the hardware's
        self.narrows_64bit = adapter.numerics().get("jax_enable_x64") is False

    def kernel(self, path: str, api: str) -> Kernel:
        """A catalog entry, its file loaded and validated once per worker, not once per case."""
        key = (path, api)
        if key not in self._kernels:
            self._kernels.update({(path, k.api): k for k in load_kernels(Path(path))})
        return self._kernels[key] if key in self._kernels else find_kernel(Path(path), api)

    def inputs(self, path: str, kernel: Kernel, variant: str, size: str) -> dict[str, Any]:
        """A variant's inputs as its builder draws them (seeded by the variant, whatever the dtype).

        A kernel's cases follow one another, one per dtype (four or more for most), and their
        draws are the same: the builder runs once per variant and each case gets a deep copy, for a
        case may change its inputs in place. Only plain data is kept, copied as cheaply as it is
        drawn (``_plain``): arrays (a memcpy, where a draw costs random numbers and the builder's
        work), numbers, strings and short containers of them; anything else, a long Python list
        included (copying one costs more than building it), is drawn again for every case."""
        owner = (path, kernel.api)
        if self._drawn[0] != owner:
            self._drawn = (owner, {})
        kept = self._drawn[1]
        if (variant, size) in kept:
            return {k: _copy(v) for k, v in kept[(variant, size)].items()}
        raw = dict(kernel.variants[variant](Draw(np.random.default_rng(kernel.seed(variant)), size)))
        if all(_plain(v) for v in raw.values()):
            kept[(variant, size)] = {k: _copy(v) for k, v in raw.items()}
        return raw

    def release(self) -> None:
        """After a case, once ``run`` has returned (its frames hold the case's objects until then):
        release what the case left behind, its cyclic garbage (and with it device buffers), then
        the framework's cached device memory (``Backend.free``). The survivors are frozen out of
        later collections: they are the worker's long-lived objects (jit caches, compiled and
        traced functions), and a full collection walking all of them after every case cost 64 ms
        per JAX case; frozen, each collection walks only what the last case made."""
        self.adapter.free()
        gc.freeze()

    def prepare(
        self, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str, seed: int
    ) -> tuple[Ctx, dict[str, Any]]:
        """The kernel's context and its inputs cast to the case's dtype and placed on its device."""
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
        return ctx, inputs

    def thunk(
        self, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str, seed: int,
        prepared: tuple[Ctx, dict[str, Any]] | None = None,
    ) -> Callable[[], Any]:
        """The case's call, its setup done: what is timed."""
        adapter = self.adapter
        ctx, inputs = prepared or self.prepare(fn, fw, raw, dtype, backend, seed)
        device = ctx.device
        try:
            adapter.seed(seed)
            with adapter.placement(device):
                if kernel.setup is not None:
                    thunk = kernel.setup(ctx, **inputs)
                else:
                    call = kernel.call
                    if call is None:
                        args = tuple(inputs.values())
                        return placed(adapter, device, lambda: fn(*args))
                    return placed(adapter, device, lambda: call(ctx, **inputs))
        except Exception as exc:
            raise StageError("setup", exc) from exc
        return placed(adapter, device, thunk)

    def execute(
        self, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str, seed: int
    ) -> tuple[Callable[[], Any], Any, float]:
        """Prepare a case and make its first call: (thunk, output, first-call seconds)."""
        thunk = self.thunk(kernel, fn, fw, raw, dtype, backend, seed)
        self.adapter.host_fallbacks()  # forget what the inputs' placement and setup counted
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
        raw = self.inputs(case["path"], kernel, variant, config.get("size", DEFAULT_SIZE))
        if backend in COMPILE_ONLY:
            return compiling.compile_only(self, kernel, fn, fw, raw, dtype, backend, seed, facts)
        rounds = {k: config[k] for k in ("min_rounds", "max_rounds", "budget_s", "precision") if k in config}
        if case.get("mode", DEFAULT_MODE) == "compiled":
            facts["mode"] = "compiled"
            return compiling.compiled_mode(self, kernel, fn, fw, raw, dtype, backend, seed, facts, rounds,
                                           same=self.same_inputs(case, config))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                thunk, out, first = self.execute(kernel, fn, fw, raw, dtype, backend, seed)
        except StageError as err:
            facts["error"] = error_facts(err.stage, err.exc)
            return facts
        facts["warnings"] = sorted({first_line(str(w.message)) for w in caught})[:3]
        fallbacks = self.adapter.host_fallbacks()  # the first call's, before any reference runs
        if fallbacks is not None and backend != "cpu":  # a host case has no host to fall back to
            facts["host_fallbacks"] = fallbacks

        # The first call's output is the one checked (the reference is a first call too); the
        # timed rounds that follow only time.
        t_check = time.perf_counter()
        leaves = flatten(self.adapter, out)
        arrays = [x for x in leaves if self.adapter.is_array(x)]
        facts["devices_used"] = sorted({self.adapter.device_kind(x) for x in arrays})
        # NumPy outputs (a TF1 Session.run) have a dtype too, though no device to check
        facts["output_dtypes"] = [self.adapter.dtype_name(x) if self.adapter.is_array(x) else x.dtype.name
                                  for x in leaves if self.adapter.is_array(x) or isinstance(x, np.ndarray)]
        facts["dtype_check"] = self.dtype_check(kernel, dtype, facts["output_dtypes"])
        facts["numerics"], facts["check"] = self.check_output(kernel, fn, fw, raw, dtype, backend, seed, leaves,
                                                              same=self.same_inputs(case, config))
        facts["check_s"] = time.perf_counter() - t_check
        del out, leaves, arrays

        if config.get("rounds_by_request"):
            # --against: the rounds are asked for one at a time, in turn with the other environment's
            # worker (``round``), so that drift hits both releases alike
            # the least of three calibrations: one disturbed call would leave this side with rounds of
            # a call or two, timed unlike the other side's (the pytest process gives both the larger)
            calls = max(timing.calibrate(thunk, self.adapter.sync, rounds.get("budget_s", timing.BUDGET_S))
                        for _ in range(3))
            self.pending = (thunk, calls)
            facts["pending_timing"] = {"first_call_s": first, "calls_per_round": calls}
            return facts

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
                                             **stats.summarize(ref_samples)}
            else:
                samples, calls = timing.measure(thunk, self.adapter.sync, **rounds)
        except Exception as exc:  # a later call failed where the first succeeded
            facts["error"] = error_facts("rounds", exc)
            return facts
        facts["timing"] = {"first_call_s": first, "samples_s": samples, "calls_per_round": calls,
                           **stats.summarize(samples)}
        return facts

    def round(self, calls: int) -> dict[str, Any]:
        """One timed round of ``calls`` calls of the pending case: seconds per call, or the error a call raised."""
        assert self.pending is not None
        thunk = self.pending[0]
        try:
            t0 = time.perf_counter()
            for _ in range(calls):
                self.adapter.sync(thunk())
            return {"s": (time.perf_counter() - t0) / calls}
        except Exception as exc:  # a later call failed where the first succeeded
            return {"error": error_facts("rounds", exc)}

    @staticmethod
    def same_inputs(case: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[str, ...]:
        """What a case's reference depends on (its kernel, variant, dtype and input size), not its
        target or mode: cases alike in these have the same reference."""
        return (case["path"], case["api"], case["variant"], case["dtype"], str(config.get("size", DEFAULT_SIZE)))

    def dtype_check(self, kernel: Kernel, dtype: str, got: list[str]) -> dict[str, Any] | None:
        result = dtype_check(kernel, dtype, got)
        if result is not None and not result["ok"] and self.narrows_64bit:
            result["downcast"] = is_downcast(result["expected"], result["got"])
        return result

    def check_output(
        self, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str,
        seed: int, leaves: list[Any], host: list[Any] | None = None, eager: list[Any] | None = None,
        same: tuple[str, ...] | None = None,
    ) -> tuple[dict[str, Any] | None, str]:
        """Check the output; returns (result, which check ran). ``host``: the output's leaves as
        NumPy/Python values when the caller has them (the catalog self-test hands in altered ones).
        ``eager``: a compiled case's eager output leaves, its reference where an eager case would
        have been its own (the host CPU at the case's dtype). ``same``: the case's ``same_inputs``;
        a NumPy reference is then computed once for the cases that share them (the cases of one
        function and dtype on each target and in each mode follow one another) and kept until the
        next."""
        if host is None:
            host = to_host(self.adapter, leaves)
        canon = kernel.canonical or (lambda x: x)
        rtol, atol = kernel.tolerance(tolerance_dtype(kernel, dtype, host))
        if kernel.reference is not None:
            if same is None or self._reference is None or self._reference[0] != same:
                self._reference = None  # freed before the next is computed
                ref_args = [cast_input(v, dtype)[1] for v in raw.values()]
                want = host_leaves(canon(kernel.reference(*ref_args)))
                if same is not None:
                    self._reference = (same, want)
            else:
                want = self._reference[1]
            return compare(host_leaves(canon(unwrap(host, leaves))), want, rtol, atol), "numpy"
        ref_inputs = {k: cast_input(v, dtype)[1] for k, v in raw.items()}
        if kernel.check is not None:
            try:
                kernel.check(unwrap(host, leaves), *ref_inputs.values())
            except AssertionError as exc:
                message = f"property check failed: {first_line(str(exc)) or 'assertion'}"
                return {"ok": False, "message": message}, "property"
            return {"ok": True, "message": ""}, "property"
        # The same API on the host CPU at the highest precision it accepts.
        for ref_dtype in reference_dtypes(dtype):
            if backend == "cpu" and ref_dtype == dtype:
                if eager is None:
                    return {"ok": True, "message": ""}, "self"
                want = to_host(self.adapter, eager)
                return compare(host_leaves(canon(unwrap(host, leaves))), host_leaves(canon(unwrap(want, eager))),
                               rtol, atol), "eager"
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
                host_leaves(canon(unwrap(host, leaves))), host_leaves(canon(unwrap(ref_host, ref_leaves))), rtol, atol
            )
            return result, f"cpu-{ref_dtype}"
        return None, "unverified: no reference ran on the CPU"




#: The most items a list, tuple or dict of inputs may hold to be kept (``CaseRunner.inputs``).
SHORT = 64


def _plain(value: Any) -> bool:
    """Whether an input is data that ``_copy`` reproduces exactly and cheaply."""
    if isinstance(value, np.ndarray):
        return bool(value.dtype.kind != "O")
    if isinstance(value, (bool, int, float, complex, str, bytes, np.generic)) or value is None:
        return True
    if isinstance(value, Keep):
        return _plain(value.value)
    if isinstance(value, (tuple, list)):
        return len(value) <= SHORT and all(_plain(v) for v in value)
    if isinstance(value, dict):
        return len(value) <= SHORT and all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _copy(value: Any) -> Any:
    """A copy of plain data (``_plain``) that shares nothing mutable with it."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Keep):
        return Keep(_copy(value.value))
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value  # immutable
