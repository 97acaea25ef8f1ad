"""Command-line options, each defined once here and added to both front ends by ``add_options``
(the pytest plugin's ``portability catalog`` group, and ``portability compare`` for the two timing
options), as pytest-benchmark shares its display options.

Parsing is pure and raises ``ValueError`` with one line that names the bad value and the valid
ones; the plugin turns that into ``pytest.UsageError``, the CLI into ``portability: error: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portability.runner import cpus, remote, timing
from portability.verdicts import DEFAULT_BASELINE_NOISE, DEFAULT_CHANGE_THRESHOLD, DEFAULT_THRESHOLD
from portability.vocabulary import (
    BACKENDS,
    DEFAULT_MODE,
    DEFAULT_SIZE,
    DEFAULT_TPU_TOPOLOGY,
    DTYPES,
    FRAMEWORKS,
    MODES,
    SIZES,
)

DEFAULT_CASE_TIMEOUT = 120.0
DEFAULT_RESULTS_DIR = "reports"
#: Percent of the machine's memory one framework worker may hold: with three frameworks' workers alive
#: at once (a few hundred MB each when idle), one runaway case still leaves the machine half its memory.
DEFAULT_WORKER_MEMORY = 50


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    default: Any = None
    metavar: str | None = None
    #: older spellings ``portability compare`` still accepts (``--threshold``)
    aliases: tuple[str, ...] = ()


OPTIONS: tuple[Option, ...] = (
    Option("--backend", "comma list of backends to run: cpu, gpu, tpu, tpu-compile (compile each case for a TPU "
           "with the TPU compiler, nothing runs: needs the tpu-compile extra), xla-cpu (PyTorch through torch_xla "
           "on the host CPU, ops without an XLA lowering counted as host fallbacks: tox -e xla); the first is the "
           "reference of the portability view (default: cpu)", "cpu", "LIST"),
    Option("--mode", "comma list of execution modes: eager (the API called as written), compiled (the whole call "
           "compiled as users do: torch.compile(fullgraph=True), jax.jit, tf.function(jit_compile=True); its output "
           "checked as eager's and its time compared with eager's in the same worker) (default: eager)",
           "eager", "LIST"),
    Option("--tpu-topology", "the TPU --backend=tpu-compile compiles for, as jax.experimental.topologies names it: "
           f"v5e:1x1, v6e:1x1, v5p:1x1x1, v4:1x1x1, v5e:2x2... (default: {DEFAULT_TPU_TOPOLOGY}, one TPU v5e "
           "chip)", DEFAULT_TPU_TOPOLOGY, "NAME"),
    Option("--jax-x64", "on: JAX computes 64-bit types, so a float64 case asks the hardware for float64; off: "
           "JAX's default configuration, where a 64-bit case silently computes in 32 bits (fail:downcast) "
           "(default: on)", "on", "on|off"),
    Option("--framework", "comma list of frameworks: torch, jax, tensorflow (default: every installed one)",
           None, "LIST"),
    Option("--dtype", "run only these dtypes, a comma list (default: every dtype a kernel sweeps)", None, "LIST"),
    Option("--size", f"input size: {', '.join(SIZES)} (default: {DEFAULT_SIZE}; small is quick, medium is "
           "large enough that compute, not dispatch, dominates)", DEFAULT_SIZE, "SIZE"),
    Option("--baseline", "a stored run directory whose timings are the slowdown reference (default: none; an "
           "accelerator case is timed against the host cpu, a cpu case has no slowdown verdict)", None, "RUN_DIR"),
    Option("--against", "the Python interpreter of another environment with this project and other framework "
           "releases installed: each case runs here (A) and there (B), their rounds interleaved, and gets a change "
           "(failure introduced or fixed, slower or faster...) of B against A (default: none)", None, "PYTHON"),
    Option("--against-same-versions", "let --against name an environment with the same framework versions (an A/A "
           "run, to measure the comparison's own noise) (default: refused)", False, None),
    Option("--change-threshold", "with --against: a case is slower (faster) when the 95%% interval of its B/A "
           f"time ratio lies above this (below its inverse) (default: {DEFAULT_CHANGE_THRESHOLD:g}, measured: README "
           "'How we time')", DEFAULT_CHANGE_THRESHOLD, "RATIO"),
    Option("--fail-on", "with --against: failure (a case fails when it fails here, as in any run) or regression "
           "(a case fails only when B introduced a failure or is slower, so pytest exits 1 only then) "
           "(default: failure)", "failure", "failure|regression"),
    Option("--slowdown-threshold", "a case is a slowdown (slower, in compare) when the lower end of the 95%% "
           f"confidence interval of its time ratio exceeds this (default: {DEFAULT_THRESHOLD:g})",
           DEFAULT_THRESHOLD, "RATIO", aliases=("--threshold",)),
    Option("--baseline-noise", "run-to-run timing noise of this machine as a factor: against another run a case "
           "is slower only when its ratio's interval lies above threshold x this "
           f"(default: {DEFAULT_BASELINE_NOISE:g})",
           DEFAULT_BASELINE_NOISE, "FACTOR", aliases=("--noise",)),
    Option("--case-timeout", f"seconds a case may run before it is fail:timeout (default: {DEFAULT_CASE_TIMEOUT:g})",
           DEFAULT_CASE_TIMEOUT, "SECONDS"),
    Option("--timing-budget", f"seconds of steady-state rounds per case (default: {timing.BUDGET_S:g})",
           timing.BUDGET_S, "SECONDS"),
    Option("--timing-precision", "stop a case's rounds once the 95%% interval of its median time spans at most "
           "this share of the median (0.02: 2%%), the budget being the most it spends; 0 spends the whole "
           f"budget (default: {timing.PRECISION:g})", timing.PRECISION, "SHARE"),
    Option("--cpu-threads", "CPUs, and threads, for each framework worker: N or all (default: 1, one pinned CPU: "
           "no parallel region waits for a second thread, so microsecond timings are repeatable; all: the "
           "frameworks' own thread pools on every CPU)", cpus.DEFAULT, "N"),
    Option("--worker-memory", "the most memory a framework worker may hold while it runs a case (its resident "
           "set, with the processes its kernels start): a size (8G, 512M), a share of this machine's memory "
           f"(50%%), or off; a case that goes over is fail:oom and its worker is replaced, so a runaway kernel "
           f"never reaches the kernel's OOM killer (default: {DEFAULT_WORKER_MEMORY}%% of this machine; off where "
           "the machine does not say its memory)", None, "SIZE"),
    Option("--expectations", "a folder of <framework>-<backend>.txt files listing known failing cases: those fail "
           "as expected (xfail), any other failure fails the session, a listed case that passes is reported fixed "
           "(default: none)", None, "DIR"),
    Option("--no-report", "do not write the HTML report (RESULTS_DIR/index.html, from every run there) at the end "
           "(default: write it)", False, None),
    Option("--results-dir", f"where runs are written, under runs/ (default: {DEFAULT_RESULTS_DIR}/)",
           DEFAULT_RESULTS_DIR, "DIR"),
)


def _choices(value: str, valid: Sequence[str], what: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise ValueError(f"empty --{what} list; valid: {', '.join(valid)}")
    for item in items:
        if item not in valid:
            raise ValueError(f"unknown {what} {item!r}; valid: {', '.join(valid)}")
    return tuple(dict.fromkeys(items))


def parse_backends(value: str) -> tuple[str, ...]:
    return _choices(value, BACKENDS, "backend")


def parse_modes(value: str | None) -> tuple[str, ...]:
    return _choices(value or DEFAULT_MODE, MODES, "mode")


_TOPOLOGY = re.compile(r"^[A-Za-z0-9_ ]+[=_:][0-9]+(x[0-9]+)*(_twisted|_untwisted)?$")


def parse_topology(value: str | None) -> str:
    """A TPU topology name as libtpu reads it (``v5e:1x1``); whether the chip exists is libtpu's to say."""
    value = DEFAULT_TPU_TOPOLOGY if value is None else value.strip()
    if not _TOPOLOGY.match(value):
        raise ValueError(f"--tpu-topology {value!r} is not a topology name; valid: <chip>:<dims>, for example "
                         "v5e:1x1, v6e:1x1, v5p:1x1x1, v4:1x1x1, v5e:2x2")
    return value


def parse_switch(value: Any, flag: str, default: bool = True) -> bool:
    if value is None:
        return default
    text = str(value).strip().lower()
    if text not in ("on", "off"):
        raise ValueError(f"{flag} {value!r}; valid: on, off")
    return text == "on"


def parse_frameworks(value: str | None, installed: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        if not installed:
            raise ValueError(f"no framework installed; install one of: {', '.join(FRAMEWORKS)}")
        return tuple(installed)
    chosen = _choices(value, tuple(FRAMEWORKS), "framework")
    missing = [f for f in chosen if f not in installed]
    if missing:
        raise ValueError(
            f"framework {missing[0]!r} is not installed; installed: {', '.join(installed) or 'none'}"
        )
    return chosen


def parse_dtypes(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else _choices(value, DTYPES, "dtype")


def parse_size(value: str | None) -> str:
    if value is None:
        return DEFAULT_SIZE
    if value not in SIZES:
        raise ValueError(f"unknown size {value!r}; valid: {', '.join(SIZES)}")
    return value


#: The longest wait a worker's pipe accepts (a 32-bit count of milliseconds, about 24.8 days): a longer
#: --case-timeout made every case crash in the harness.
MAX_WAIT_S = 2_147_483.0


def _share(value: Any, flag: str) -> float:
    """A share from 0 (off) up to 1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a number from 0 to 1, got {value!r}") from None
    if not 0 <= number <= 1:  # NaN too
        raise ValueError(f"{flag} must be a number from 0 to 1, got {value!r}")
    return number


def _positive(value: Any, flag: str, minimum: float = 0.0, maximum: float = MAX_WAIT_S) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a number, got {value!r}") from None
    if number != number:  # NaN
        raise ValueError(f"{flag} must be a number, got {value!r}")
    if not number > minimum:
        raise ValueError(f"{flag} must be greater than {minimum:g}, got {value!r}")
    if not number <= maximum:
        raise ValueError(f"{flag} must be at most {maximum:g}, got {value!r}")
    return number


def parse_threshold(value: Any) -> float:
    return _positive(value, "--slowdown-threshold", 1.0, 1e9)


def parse_noise(value: Any) -> float:
    number = _positive(value, "--baseline-noise", 0.0, 1e9)
    if number < 1.0:
        raise ValueError(f"--baseline-noise must be at least 1, got {value!r}")
    return number


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$", re.IGNORECASE)


def parse_memory(value: Any, machine_bytes: int | None) -> int | None:
    """``--worker-memory``: bytes, or None for off. A share (``50%``) needs the machine's memory; where
    the machine does not say (no /proc/meminfo), the default is off."""
    if value is None:
        value = f"{DEFAULT_WORKER_MEMORY}%" if machine_bytes is not None else "off"
    text = str(value).strip()
    valid = "valid: a size such as 8G or 512M, a share of this machine's memory such as 50%, or off"
    if text.lower() == "off":
        return None
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            raise ValueError(f"--worker-memory {value!r}; {valid}") from None
        if not 0 < share <= 100:
            raise ValueError(f"--worker-memory {value!r}: a share must be over 0% and at most 100%")
        if machine_bytes is None:
            raise ValueError(f"--worker-memory {value!r}: this machine does not say how much memory it has; "
                             "give a size such as 8G, or off")
        return int(machine_bytes * share / 100)
    m = _SIZE.match(text)
    if not m or float(m[1]) <= 0:
        raise ValueError(f"--worker-memory {value!r}; {valid}")
    return int(float(m[1]) * 1024 ** " KMGT".index(m[2].upper() or " "))


@dataclass(frozen=True)
class Settings:
    backends: tuple[str, ...]
    frameworks: tuple[str, ...]
    dtypes: tuple[str, ...] | None
    size: str
    baseline: Path | None
    threshold: float
    baseline_noise: float
    case_timeout: float
    timing_budget: float
    results_dir: Path
    timing_precision: float = timing.PRECISION
    expectations: Path | None = None
    #: CPUs per framework worker; None: every CPU, the frameworks' own thread counts
    cpu_threads: int | None = 1
    report: bool = True
    tpu_topology: str = DEFAULT_TPU_TOPOLOGY
    jax_x64: bool = True
    #: bytes a framework worker may hold while it runs a case; None: no limit
    worker_memory: int | None = None
    modes: tuple[str, ...] = (DEFAULT_MODE,)
    #: ``--against``: the other environment's interpreter and what ``remote.probe`` found there
    against: str | None = None
    against_info: dict[str, Any] | None = None
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD
    fail_on: str = "failure"

    def worker_options(self) -> dict[str, Any]:
        """What a framework worker needs to know before it imports its framework."""
        return {"backends": list(self.backends), "tpu_topology": self.tpu_topology, "jax_x64": self.jax_x64}


def _expectations(value: str | None) -> Path | None:
    if value is None:
        return None
    from portability.results import expectations

    try:
        expectations.read(Path(value))
    except expectations.ExpectationsError as exc:
        raise ValueError(str(exc)) from None
    return Path(value)


def settings(get: Callable[[str], Any], installed: Sequence[str], machine_bytes: int | None = None) -> Settings:
    """Validated settings; ``get("backend")`` returns the raw value of ``--backend``."""
    baseline = get("baseline")
    if baseline is not None:
        baseline = Path(baseline)
        if not (baseline / "run.json").is_file():
            raise ValueError(
                f"--baseline {str(baseline)!r} is not a run directory (expected reports/runs/<run-id>/run.json)"
            )
    frameworks = parse_frameworks(get("framework"), installed)
    against, info = get("against"), None
    if against is not None:
        info = remote.probe(against)
        problem = remote.against_problem(against, info, remote.here_versions(), frameworks,
                                         bool(get("against_same_versions")))
        if problem:
            raise ValueError(problem)
    fail_on = get("fail_on") or "failure"
    if fail_on not in ("failure", "regression"):
        raise ValueError(f"--fail-on {fail_on!r}; valid: failure, regression")
    if fail_on == "regression" and against is None:
        raise ValueError("--fail-on regression needs --against PYTHON (a regression is B against A)")
    return Settings(
        backends=parse_backends(get("backend")),
        frameworks=frameworks,
        dtypes=parse_dtypes(get("dtype")),
        size=parse_size(get("size")),
        baseline=baseline,
        threshold=parse_threshold(get("slowdown_threshold")),
        baseline_noise=parse_noise(get("baseline_noise")),
        case_timeout=_positive(get("case_timeout"), "--case-timeout"),
        timing_budget=_positive(get("timing_budget"), "--timing-budget"),
        timing_precision=_share(timing.PRECISION if get("timing_precision") is None else get("timing_precision"),
                                "--timing-precision"),
        results_dir=Path(get("results_dir")),
        expectations=_expectations(get("expectations")),
        cpu_threads=cpus.parse(get("cpu_threads"), len(cpus.allowed())),
        report=not get("no_report"),
        tpu_topology=parse_topology(get("tpu_topology")),
        jax_x64=parse_switch(get("jax_x64"), "--jax-x64"),
        worker_memory=parse_memory(get("worker_memory"), machine_bytes),
        modes=parse_modes(get("mode")),
        against=against,
        against_info=info,
        change_threshold=_positive(DEFAULT_CHANGE_THRESHOLD if get("change_threshold") is None
                                   else get("change_threshold"), "--change-threshold", 1.0, 1e9),
        fail_on=fail_on,
    )


def dest(option: Option) -> str:
    return option.flag.lstrip("-").replace("-", "_")


def add_options(addoption: Callable[..., Any], prefix: str = "", only: Sequence[str] | None = None,
                aliases: bool = False) -> None:
    """Add the options (all, or those whose ``dest`` is in ``only``) through ``addoption``: a pytest
    option group's ``addoption`` or an argparse parser's ``add_argument``; ``aliases`` adds their
    older spellings too. Values arrive as given on the command line; ``settings`` and the
    ``parse_*`` functions check them."""
    chosen = OPTIONS if only is None else tuple(o for o in OPTIONS if dest(o) in only)
    for opt in chosen:
        flags = [opt.flag.replace("--", f"--{prefix}", 1), *(opt.aliases if aliases else ())]
        if opt.default is False:  # a flag
            addoption(*flags, dest=dest(opt), action="store_true", help=opt.help)
        else:
            addoption(*flags, dest=dest(opt), default=opt.default, metavar=opt.metavar, help=opt.help)


def header(s: Settings) -> str:
    """The line pytest prints in its header: what this run covers and how it is timed."""
    threads = "all CPUs (the frameworks' own thread pools)" if s.cpu_threads is None else \
        f"{s.cpu_threads} pinned CPU{'s' if s.cpu_threads != 1 else ''}, {s.cpu_threads} thread" \
        f"{'s' if s.cpu_threads != 1 else ''}"
    target = f" (a TPU {s.tpu_topology}, compiled, nothing run)" if "tpu-compile" in s.backends else ""
    x64 = "" if s.jax_x64 or "jax" not in s.frameworks else "; jax x64 off (JAX's default configuration)"
    modes = f"; modes {', '.join(s.modes)}" if s.modes != (DEFAULT_MODE,) else ""
    if s.against is not None:
        theirs = (s.against_info or {}).get("versions", {})
        modes += (f"; against {s.against} ({', '.join(f'{d} {v}' for d, v in theirs.items()) or '?'}), rounds "
                  f"interleaved, change threshold {s.change_threshold:g}x")
    return (f"portability: frameworks {', '.join(s.frameworks)}; backends {', '.join(s.backends)}{target}{modes}; "
            f"size {s.size}; cpu threads per worker: {threads}{x64}")
