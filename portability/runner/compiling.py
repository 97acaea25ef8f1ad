"""The two compiled paths of a case in a worker: a compile-only backend (``--backend=tpu-compile``:
traced, lowered and compiled for the device, nothing run) and ``--mode compiled`` (compiled as its
framework's users compile, run, checked as eager is, and timed against the eager call)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from portability import stats
from portability.catalog import Kernel
from portability.runner import timing
from portability.runner.backends import StageError
from portability.runner.calls import Ctx, error_facts, placed, whole_call
from portability.runner.checks import cast_input, flatten
from portability.verdicts import first_line

if TYPE_CHECKING:
    from portability.runner.execute import CaseRunner


def compile_only(runner: CaseRunner, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str, backend: str,
                 seed: int, facts: dict[str, Any]) -> dict[str, Any]:
    """A compile-only case: the kernel's whole call, setup included, traced as one function of its
    array inputs (their shapes and dtypes) and compiled for the backend's device. Nothing runs, so
    there are no numerics and no timings; the output dtypes are the program's."""
    if kernel.host_only:
        facts["unavailable"] = f"a host-side API, nothing to compile: {kernel.host_only}"
        return facts
    cast = {k: cast_input(v, dtype)[0] for k, v in raw.items()}
    names = [k for k, v in cast.items() if isinstance(v, np.ndarray)]
    ctx = Ctx(fn=fn, fw=fw, device=runner.adapter.device(backend), backend=backend, dtype=dtype, seed=seed,
              adapter=runner.adapter)
    where = {"in": "call"}
    program = whole_call(kernel, fn, ctx, cast, names, where)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with runner.adapter.placement(ctx.device):
                compiled = runner.adapter.compile(backend, program, [cast[k] for k in names])
    except StageError as err:
        # the kernel's own preparation, not the API, could not be traced: said apart
        stage = "trace-setup" if err.stage == "trace" and where["in"] == "setup" else err.stage
        facts["error"] = error_facts(stage, err.exc)
        return facts
    facts["warnings"] = sorted({first_line(str(w.message)) for w in caught})[:3]
    facts["compile"] = compiled.facts
    facts["output_dtypes"] = compiled.output_dtypes
    facts["dtype_check"] = runner.dtype_check(kernel, dtype, compiled.output_dtypes)
    facts["check"] = "compile only: no numerics"
    if compiled.callbacks:
        facts["unavailable"] = (f"calls back into Python on the host ({', '.join(compiled.callbacks)}): "
                                "compiling it says nothing of the TPU")
    return facts


def compiled_mode(runner: CaseRunner, kernel: Kernel, fn: Any, fw: Any, raw: Mapping[str, Any], dtype: str,
                  backend: str, seed: int, facts: dict[str, Any], rounds: Mapping[str, Any],
                  same: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``--mode compiled``: the case compiled as its framework's users compile it
    (``Backend.jit``), its output checked as eager's would be, and its steady-state time measured
    against the eager call in this worker, rounds interleaved. The first compiled call (which
    compiles) is timed apart, as every first call is."""
    adapter = runner.adapter
    if kernel.host_only:
        facts["unavailable"] = f"a host-side API, nothing to compile: {kernel.host_only}"
        return facts
    reason = adapter.jit_unavailable(backend)
    if reason:
        facts["unavailable"] = reason
        return facts
    where = {"in": "call"}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prepared = runner.prepare(fn, fw, raw, dtype, backend, seed)
            thunk = runner.thunk(kernel, fn, fw, raw, dtype, backend, seed, prepared)
            eager: Callable[[], Any] | None = thunk
            try:
                eager_out = thunk()
                adapter.sync(eager_out)
            except Exception:
                eager, eager_out = None, None  # the eager case says why; the compiled one is still tried
            if eager is not None:
                why = not_compilable_output(adapter, flatten(adapter, eager_out))
                if why:
                    facts["unavailable"] = why
                    return facts
            ctx, inputs = prepared
            names = [k for k, v in inputs.items() if adapter.is_array(v)]
            program = whole_call(kernel, fn, ctx, inputs, names, where)
            compiled, compile_facts = adapter.jit(thunk, program, [inputs[k] for k in names])
            compiled = placed(adapter, ctx.device, compiled)
            t0 = time.perf_counter()
            out = compiled()
            adapter.sync(out)
            first = time.perf_counter() - t0
    except StageError as err:
        # the kernel's own preparation, not the API, could not be traced: said apart
        stage = "trace-setup" if err.stage == "trace" and where["in"] == "setup" else err.stage
        facts["error"] = error_facts(stage, err.exc)
        return facts
    except Exception as exc:
        facts["error"] = error_facts("compile", exc)
        return facts
    facts["warnings"] = sorted({first_line(str(w.message)) for w in caught})[:3]
    facts["compile"] = {**compile_facts, "first_call_s": first}
    t_check = time.perf_counter()
    leaves = flatten(adapter, out)
    arrays = [x for x in leaves if adapter.is_array(x)]
    facts["devices_used"] = sorted({adapter.device_kind(x) for x in arrays})
    facts["output_dtypes"] = [adapter.dtype_name(x) if adapter.is_array(x) else x.dtype.name
                              for x in leaves if adapter.is_array(x) or isinstance(x, np.ndarray)]
    facts["dtype_check"] = runner.dtype_check(kernel, dtype, facts["output_dtypes"])
    facts["numerics"], facts["check"] = runner.check_output(
        kernel, fn, fw, raw, dtype, backend, seed, leaves,
        eager=flatten(adapter, eager_out) if eager is not None else None, same=same)
    facts["check_s"] = time.perf_counter() - t_check
    del out, leaves, arrays, eager_out
    try:
        if eager is not None:
            (samples, calls), (ref_samples, ref_calls) = timing.measure_interleaved(
                [compiled, eager], adapter.sync, **rounds)
            facts["reference_timing"] = {"samples_s": ref_samples, "calls_per_round": ref_calls,
                                         "interleaved": True, **stats.summarize(ref_samples)}
        else:
            samples, calls = timing.measure(compiled, adapter.sync, **rounds)
    except Exception as exc:
        facts["error"] = error_facts("rounds", exc)
        return facts
    facts["timing"] = {"first_call_s": first, "samples_s": samples, "calls_per_round": calls,
                       **stats.summarize(samples)}
    return facts


def not_compilable_output(adapter: Any, leaves: list[Any]) -> str:
    """Why an eager output says its call cannot be one compiled program ("" when it can): it holds
    no array of the framework, or host NumPy values (a ``Session.run``, a copy to the host), a step
    a compiled program cannot contain."""
    if not any(adapter.is_array(x) for x in leaves):
        kinds = sorted({type(x).__name__ for x in leaves}) or ["nothing"]
        return (f"returns no array ({', '.join(kinds)}): a compiled program computes arrays, so there is nothing "
                "to compile")
    host = sorted({type(x).__name__ for x in leaves if isinstance(x, (np.ndarray, np.generic))})
    if host:
        return (f"returns host NumPy values ({', '.join(host)}: a Session.run or a copy to the host), a step a "
                "compiled program cannot contain")
    checks = sorted({type(x).__name__ for x in leaves if isinstance(x, (bool, str))})
    if checks:
        return (f"returns Python {' and '.join(checks)} values: its call checks properties in Python (flags, "
                "names, raised errors), which a compiled program does not compute")
    return ""
