"""The catalog's self-test: every kernel resolves, runs and is checked by a check that can fail.

For each kernel of one framework, on the CPU at ``--size small`` in float32 (or the first dtype it
sweeps when float32 is not one of them), every input variant:

1. the API resolves, or the kernel says which version removed it (``removed=``), and not both;
2. inputs, setup and the first call run without an exception (for a kernel whose API only works on
   one kind of device, ``device_only=``, or that fails on the CPU by the framework's doing,
   ``cpu_failure=``, an exception in the framework or a failed check is its honest result on the
   CPU; only its input builder must work, and it must not pass);
3. the output has the dtype the kernel expects and passes the kernel's own check, which must be a
   real one (a NumPy reference, a property check or the CPU float64 run; never the output
   compared with itself);
4. the same check rejects an altered output: floating values scaled and shifted, integers shifted,
   booleans negated, anything else replaced by an object no check could accept. A check that still
   passes cannot fail, whatever the framework does.

Run it in a process of its own per framework (``run_in_subprocess``): frameworks are imported here.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np

from portability.catalog import Draw, Kernel
from portability.catalog.load import framework_of, load_kernels
from portability.runner.backends import StageError
from portability.verdicts import first_line


class _Altered:
    """Stands for an output leaf that cannot be altered numerically."""

    def __repr__(self) -> str:
        return "<altered output>"


def alter(value: Any) -> Any:
    """A wrong version of one output leaf (see the module docstring)."""
    if isinstance(value, (bool, np.bool_)):
        return not value
    if isinstance(value, (int, np.integer)):
        return value + 1
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        return value * 1.5 + 1
    if isinstance(value, np.ndarray) and value.size:
        if value.dtype.kind == "b":
            return ~value
        if value.dtype.kind in "iu":
            return value + np.ones((), value.dtype)
        if value.dtype.kind in "fc":
            return value * 1.5 + 1
    return _Altered()


def check_kernel(runner: Any, kernel: Kernel, size: str = "small") -> list[str]:
    """Problems with one kernel (empty when it is sound)."""
    from portability.runner import calls  # here, not at import: it is the worker's machinery

    dtype = "float32" if "float32" in kernel.dtypes else kernel.dtypes[0]
    try:
        fn, fw = calls.resolve(kernel.api)
    except (AttributeError, ImportError) as exc:
        if kernel.removed:
            return []  # a real fail:missing, declared with its version
        return [f"{kernel.api}: does not resolve ({exc}) and does not say removed="]
    if kernel.removed:
        return [f"{kernel.api}: resolves, yet says removed={kernel.removed!r}"]
    problems = []
    for variant, builder in kernel.variants.items():
        try:
            problems += _check_variant(runner, kernel, fn, fw, dtype, variant, builder, size)
        finally:
            runner.release()  # as the worker does after every case: what a case left behind goes
    return problems


def _check_variant(runner: Any, kernel: Kernel, fn: Any, fw: Any, dtype: str, variant: str, builder: Any,
                   size: str) -> list[str]:
    from portability.runner import checks

    problems: list[str] = []
    where = f"{kernel.api}[{dtype}-{variant}]"
    seed = kernel.seed(variant)
    try:
        raw = dict(builder(Draw(np.random.default_rng(seed), size)))
        # the timed callable lives through the checks, as in the worker: a kernel may tie what its
        # check reads (a temporary folder, a process group) to that callable's lifetime
        thunk, out, _ = runner.execute(kernel, fn, fw, raw, dtype, "cpu", seed)
    except StageError as err:
        if kernel.device_only or kernel.cpu_failure:
            return problems  # failing on the CPU inside the framework: as declared
        problems.append(f"{where}: {err.stage} failed on the CPU: {type(err.exc).__name__}: "
                        f"{first_line(str(err.exc))}")
        return problems
    except Exception as exc:  # noqa: BLE001 - a builder bug is a problem to report, not a crash
        problems.append(f"{where}: input builder failed: {type(exc).__name__}: {first_line(str(exc))}")
        return problems
    leaves = checks.flatten(runner.adapter, out)
    host = checks.to_host(runner.adapter, leaves)
    try:
        result, check = runner.check_output(kernel, fn, fw, raw, dtype, "cpu", seed, leaves, host)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{where}: the check raised {type(exc).__name__}: {first_line(str(exc))}")
        return problems
    if result is None or check == "self":
        problems.append(f"{where}: no check that can fail (check: {check})")
        return problems
    adapter = runner.adapter
    got = [adapter.dtype_name(x) if adapter.is_array(x) else x.dtype.name
           for x in leaves if adapter.is_array(x) or isinstance(x, np.ndarray)]
    dtype_check = checks.dtype_check(kernel, dtype, got)
    if dtype_check is not None and not dtype_check["ok"]:
        result = {"ok": False, "message": f"output dtype {dtype_check['got']}, expected {dtype_check['expected']}"}
    if kernel.device_only or kernel.cpu_failure:
        if result["ok"]:
            said = f"device_only={kernel.device_only!r}" if kernel.device_only else "cpu_failure=..."
            problems.append(f"{where}: says {said}, yet passes on the CPU")
        return problems  # e.g. a CUDA RNG call that does nothing without CUDA: its check says so
    if not result["ok"]:
        problems.append(f"{where}: the CPU output fails its own check ({check}): {result['message']}")
        return problems
    try:
        wrong, _ = runner.check_output(kernel, fn, fw, raw, dtype, "cpu", seed, leaves, [alter(x) for x in host])
        rejected = wrong is None or not wrong["ok"]
    except Exception:  # noqa: BLE001 - a check that raises on a wrong output has rejected it
        rejected = True
    if not rejected:
        problems.append(f"{where}: its check ({check}) accepts an altered output: it cannot fail")
    return problems


def check_framework(framework: str, kernels_dir: str, size: str = "small") -> dict[str, Any]:
    """Every kernel of one framework; runs in the process that imports the framework."""
    from portability.runner import backends, execute

    adapter = backends.load(framework, {"backends": ["cpu"]})
    runner = execute.CaseRunner(adapter)
    problems: list[str] = []
    checked = 0
    for path in sorted(Path(kernels_dir, framework).glob("*.py")):
        if framework_of(path) != framework:
            continue
        for kernel in load_kernels(path):
            checked += 1
            problems += [f"{path.name}: {p}" for p in check_kernel(runner, kernel, size)]
    return {"framework": framework, "checked": checked, "problems": problems,
            "version": adapter.versions().get(framework)}


def run_in_subprocess(framework: str, kernels_dir: str, size: str = "small") -> dict[str, Any]:
    """``check_framework`` in a spawned process, so frameworks never share one."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(check_framework, (framework, kernels_dir, size))
    return result
