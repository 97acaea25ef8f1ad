"""JAX adapter: backends are JAX platforms, resolved with ``jax.devices('cpu'|'gpu'|'tpu')``, and
``tpu-compile``: a TPU described by ``jax.experimental.topologies`` (libtpu's compiler, no TPU needed),
for which each case is compiled ahead of time and never run (docs/tpu-compile-findings.md).

64-bit types are on (``jax_enable_x64``) unless the run asks for JAX's default configuration
(``--jax-x64 off``), where a float64 case silently computes in float32 (``fail:downcast``).
"""

from __future__ import annotations

import gc
import importlib.util
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from importlib import metadata
from typing import Any

# Without this JAX takes 75% of a GPU's memory at start-up, leaving nothing to the other
# frameworks' workers on the same device. Set before jax is imported; a user's value wins.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jaxlib  # noqa: E402
import numpy as np  # noqa: E402

from portability.runner.backends import Compiled, StageError  # noqa: E402
from portability.verdicts import first_line  # noqa: E402
from portability.vocabulary import DEFAULT_TPU_TOPOLOGY  # noqa: E402

#: What libtpu needs to describe a TPU on a machine without one, quietly (docs/tpu-compile-findings.md,
#: Q1 and Q4): an accelerator type and worker host so its start-up prints no errors, no log files under
#: /tmp/tpu_logs, no metadata-server query, and no /tmp/libtpu_lockfile, which would let only one
#: process on the machine (one xdist worker) compile at a time. Set only where no real TPU is asked for.
COMPILE_ENV = {
    "TPU_ACCELERATOR_TYPE": "v5litepod-1",
    "TPU_WORKER_HOSTNAMES": "localhost",
    "TPU_LOG_DIR": "disabled",
    "TPU_SKIP_MDS_QUERY": "1",
    "ALLOW_MULTIPLE_LIBTPU_LOAD": "1",
}
#: Primitives that call back into Python on the host from a compiled program.
_CALLBACKS = ("pure_callback", "io_callback", "debug_callback", "callback")

_PLATFORM_KIND = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "rocm": "gpu", "METAL": "gpu", "tpu": "tpu"}


def _one_cpu() -> bool:
    """Whether this process may run on one CPU only (the worker's pinning)."""
    return hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) == 1


class Adapter:
    framework = "jax"
    scope_calls = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        options = options or {}
        asked = tuple(options.get("backends", ()))
        if "tpu-compile" in asked and "tpu" not in asked:
            for name, value in COMPILE_ENV.items():
                os.environ.setdefault(name, value)
        jax.config.update("jax_enable_x64", bool(options.get("jax_x64", True)))
        # JAX runs a CPU computation on a thread of its own and returns at once (async dispatch). On a
        # worker pinned to one CPU (``--cpu-threads 1``) that thread and the caller take turns on the
        # same CPU at every call (about 1,000 thread switches a second of rounds, 47 without): an A/A of
        # the JAX catalog at the default size had 23 cases 2.5x apart with it, 6 without, and calls are
        # faster (a 256x256 relu 135 -> 112 us). One thread then does all the work, as torch and
        # TensorFlow do under the same setting (openxla/xla#18608 saw the cost with more CPUs too).
        self._async_dispatch = not _one_cpu()
        jax.config.update("jax_cpu_enable_async_dispatch", self._async_dispatch)
        if asked and set(asked) <= {"cpu", "tpu-compile"} and not os.environ.get("JAX_PLATFORMS"):
            # JAX starts every platform plugin it finds at its first use, libtpu included, unless told
            # which: a run on the host needs only the CPU (the TPU compiler loads on its own, below)
            jax.config.update("jax_platforms", "cpu")
        self._devices: dict[str, Any] = {}
        self._reasons: dict[str, str] = {}
        self._target: dict[str, str] = {}
        # Only what the run asks for: with libtpu installed and no TPU, asking for the "tpu" platform
        # starts libtpu, which prints initialisation errors and installs its own signal handlers.
        for backend in ("cpu", "gpu", "tpu"):
            if asked and backend != "cpu" and backend not in asked:
                self._reasons[backend] = "not asked for (--backend)"
                continue
            try:
                self._devices[backend] = jax.devices(backend)[0]
            except RuntimeError as exc:
                self._reasons[backend] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._reasons["tpu-compile"] = "not asked for (--backend)"
        self._reasons["xla-cpu"] = ("PyTorch through torch_xla only: JAX's own cpu backend already runs every op "
                                    "through XLA")
        if "tpu-compile" in asked:
            self._describe_tpu(options.get("tpu_topology") or DEFAULT_TPU_TOPOLOGY)

    def _describe_tpu(self, topology: str) -> None:
        """The TPU of ``--tpu-topology`` as libtpu describes it, or why it cannot be had."""
        if importlib.util.find_spec("libtpu") is None:
            self._reasons["tpu-compile"] = ("libtpu, the TPU compiler, is not installed: "
                                            "pip install -c constraints.txt -e '.[tpu-compile]'")
            return
        from jax.experimental import topologies

        dims = topology.rsplit(":", 1)[-1].split("_")[0]
        # A one-chip topology has to say so: libtpu's default host is 2x2 chips.
        single = math.prod(int(d) for d in dims.split("x") if d.isdigit()) == 1
        try:
            desc = topologies.get_topology_desc(topology, platform="tpu",
                                                **({"chips_per_host_bounds": (1, 1, 1)} if single else {}))
        except Exception as exc:  # noqa: BLE001 - libtpu's refusal, whatever its type, is the reason
            self._reasons["tpu-compile"] = f"libtpu cannot describe TPU topology {topology!r}: {first_line(str(exc))}"
            return
        device = desc.devices[0]
        self._devices["tpu-compile"] = device
        self._target = {"compiler": "libtpu", "version": metadata.version("libtpu"), "topology": topology,
                        "chip": str(getattr(device, "device_kind", "?")), "devices": str(len(desc.devices))}

    def visible(self) -> dict[str, str]:
        seen = {b: f"{d.platform}:{d.id} {d.device_kind}" for b, d in self._devices.items()}
        if self._target:
            t = self._target
            seen["tpu-compile"] = f"{t['chip']} ({t['topology']}), compile only, libtpu {t['version']}"
        return seen

    def unavailable_reason(self, backend: str) -> str:
        return self._reasons.get(backend, "unknown backend")

    def versions(self) -> dict[str, str]:
        v = {"jax": jax.__version__, "jaxlib": jaxlib.__version__}  # type: ignore[attr-defined]
        if self._target:
            v["libtpu"] = self._target["version"]
        for backend, dev in self._devices.items():
            if backend not in ("cpu", "tpu-compile"):
                v[f"{backend}_runtime"] = str(getattr(dev.client, "platform_version", ""))
        return v

    def numerics(self) -> dict[str, Any]:
        return {
            "jax_enable_x64": bool(getattr(jax.config, "jax_enable_x64")),  # noqa: B009 - untyped flag
            "jax_default_matmul_precision": getattr(jax.config, "jax_default_matmul_precision"),  # noqa: B009
        }

    def threads(self) -> int | None:
        return None

    def timing_settings(self) -> dict[str, Any]:
        return {"jax_cpu_enable_async_dispatch": self._async_dispatch}

    def device(self, backend: str) -> Any:
        return self._devices[backend]

    def placement(self, device: Any) -> AbstractContextManager[Any]:
        return jax.default_device(device)

    def to_device(self, array: np.ndarray, device: Any) -> Any:
        return jax.device_put(array, device)

    def is_array(self, value: Any) -> bool:
        return isinstance(value, jax.Array)

    def device_kind(self, array: Any) -> str:
        kinds = {_PLATFORM_KIND.get(d.platform, d.platform) for d in array.devices()}
        return kinds.pop() if len(kinds) == 1 else "+".join(sorted(kinds))

    def dtype_name(self, array: Any) -> str:
        return str(array.dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        if jax.dtypes.issubdtype(array.dtype, jax.dtypes.prng_key):  # type: ignore[attr-defined]
            array = jax.random.key_data(array)  # typed keys have no NumPy form; their data does
        out = np.asarray(jax.device_get(array))
        return out.astype(np.float32) if out.dtype.name == "bfloat16" else out

    def sync(self, output: Any) -> None:
        jax.block_until_ready(output)

    def seed(self, seed: int) -> None:
        """JAX has no global random state: kernels build keys from ``ctx.seed``."""

    def free(self) -> None:
        gc.collect()

    def host_fallbacks(self) -> list[str] | None:
        return None

    def jit_unavailable(self, backend: str) -> str:
        return ""

    def jit(self, thunk: Callable[[], Any], program: Callable[..., Any],
            args: Sequence[Any]) -> tuple[Callable[[], Any], dict[str, Any]]:
        # As users compile: jax.jit of the whole call with the arrays as its arguments (closed over,
        # they would be constants XLA may fold away), ahead of time so each stage is timed apart.
        times: list[float] = []
        traced = _stage("trace", times, lambda: jax.jit(program).trace(*args))
        lowered = _stage("lower", times, traced.lower)
        compiled = _stage("compile", times, lowered.compile)
        return (lambda: compiled(*args)), {"trace_s": times[0], "lower_s": times[1], "compile_s": times[2]}

    def compile_targets(self) -> dict[str, dict[str, str]]:
        return {"tpu-compile": dict(self._target)} if self._target else {}

    def compile(self, backend: str, fn: Callable[..., Any], args: Sequence[np.ndarray]) -> Compiled:
        device = self._devices[backend]
        sharding = jax.sharding.SingleDeviceSharding(device)
        # Every argument and output carries the TPU's sharding: without it jax.jit compiles for its
        # default backend, the host CPU, and says nothing (docs/tpu-compile-findings.md, Q3).
        specs = [jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding) for a in args]
        jitted = jax.jit(fn, out_shardings=sharding)
        times: list[float] = []
        traced = _stage("trace", times, lambda: jitted.trace(*specs))
        callbacks = sorted({name for name in _primitives(traced.jaxpr) if name in _CALLBACKS})
        lowered = _stage("lower", times, traced.lower)
        compiled = _stage("compile", times, lowered.compile)
        shardings = jax.tree.leaves((compiled.input_shardings, compiled.output_shardings))
        platforms = {d.platform for s in shardings for d in s.device_set}
        if platforms - {"tpu"}:
            raise RuntimeError(f"compiled for {sorted(platforms)}, not for the TPU asked for")
        memory = compiled.memory_analysis()
        facts = {
            "target": "tpu", "device_kind": str(device.device_kind), "topology": self._target["topology"],
            "trace_s": times[0], "lower_s": times[1], "compile_s": times[2],
            "memory": {k: int(getattr(memory, f"{k}_size_in_bytes", 0) or 0)
                       for k in ("argument", "output", "temp", "generated_code")},
        }
        out = [str(x.dtype) for x in jax.tree.leaves(compiled.out_info)]
        return Compiled(facts, out, callbacks)  # type: ignore[arg-type]


def _stage(name: str, times: list[float], step: Callable[[], Any]) -> Any:
    """One stage of compiling (trace, lower, compile), timed; its exception says which stage it was."""
    t0 = time.perf_counter()
    try:
        result = step()
    except Exception as exc:
        raise StageError(name, exc) from exc
    times.append(time.perf_counter() - t0)
    return result


def _primitives(jaxpr: Any) -> Iterator[str]:
    """The names of every primitive in a jaxpr and the jaxprs nested in its equations (jit, cond,
    scan, custom derivatives)."""
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    yield from _primitives(inner)
                elif hasattr(sub, "eqns"):
                    yield from _primitives(sub)
