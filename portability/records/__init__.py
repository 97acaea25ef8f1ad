"""The records a run writes and reads, defined once: a worker's facts about a case, the case record
in ``cases.jsonl``, and ``run.json``; the case key; and the migration of older run files.

Every module writes and reads these shapes through the types here. A run file carries its schema
version; an older one is migrated on read (as asv migrates its result files), never refused.

Schema history:
  1. Case records keyed by ``id``, the pytest node id ``kernels/<fw>/<file>.py::<api>[<dtype>(-<variant>)-<backend>]``.
  2. Case records keyed by ``key``, ``<api>[(<variant>-)<dtype>-<backend>]``, which holds no file name
     (a kernel can move between catalog files); ``id`` stays the pytest node id, for the repro command.
  3. Case records gain ``device_only`` (the device kind an API is tied to, "" for none) and ``compile``
     (what a compile-only backend's compiler did); ``run.json`` gains ``compile_targets`` (per framework:
     the compiler, its version, the topology and the chip). Older records get "" and None.
  4. Case records gain ``mode`` (``eager`` or ``compiled``); a compiled case's key ends in ``-compiled``
     (``torch.abs[float32-cpu-compiled]``), an eager case's key is unchanged. Older records are eager.
  5. Case records gain ``host_fallbacks``: the ops the framework ran on the host CPU instead of the
     case's device, as it counts them (torch_xla's fallback counters); ``[]`` none, ``None`` where
     nothing counts them (older records: None).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:  # only read by type checkers: the class bodies' annotations are never evaluated
    from typing import NotRequired

SCHEMA_VERSION = 5
KIND = "portability-run"
#: Status values of run.json. A run whose status is still "running" when read, and whose
#: process is gone, was killed: readers report it as interrupted.
COMPLETE, INTERRUPTED, RUNNING = "complete", "interrupted", "running"
#: Ended on its own before every collected case finished (``-x``, ``--maxfail``, a second Ctrl-C that
#: pytest took as the end): the cases it holds are real, but the run is not the whole selection.
INCOMPLETE = "incomplete"

DEFAULT_VARIANT = "default"
DEFAULT_MODE = "eager"


# -- what a worker reports about one case ---------------------------------------------------------

class ErrorFacts(TypedDict):
    """An exception a case raised, and the stage it was in (resolve, inputs, call, check, rounds...)."""

    stage: str
    type: str
    message: str
    traceback: NotRequired[str]


class CheckFacts(TypedDict, total=False):
    """The output check: ``ok``, and why not; ``tolerance_used`` is the worst (rtol, atol) share used."""

    ok: bool
    message: str
    tolerance_used: Any
    expected: str
    got: str


class TimingFacts(TypedDict, total=False):
    """Timed rounds in the worker: seconds per call in each round, and the first (untimed) call."""

    first_call_s: float
    samples_s: list[float]
    calls_per_round: int
    interleaved: bool
    error: str
    # pytest-benchmark's statistics of samples_s (portability.stats.summarize)
    rounds: int
    median_s: float | None
    iqr_s: float | None
    q1_s: float
    q3_s: float
    min_s: float
    max_s: float
    mean_s: float
    stddev_s: float
    outliers: str


class CompileFacts(TypedDict, total=False):
    """A compile-only case: the seconds each stage took, where the program was compiled for (checked
    on the compiled executable, never assumed), and what the compiler says it needs on the chip.
    A case of ``--mode compiled``: the stages its framework times apart (JAX), and its first call,
    which compiles where compiling waits for it (torch.compile, tf.function)."""

    target: str  # the device kind: tpu
    device_kind: str  # the chip as the compiler names it: "TPU v5 lite"
    topology: str
    trace_s: float
    lower_s: float
    compile_s: float
    memory: dict[str, int]  # bytes: arguments, outputs, temporaries, generated code
    first_call_s: float


class Terminated(TypedDict):
    """A case whose worker died (``crash``) or outlived the case time limit (``timeout``)."""

    reason: str
    message: str


class Facts(TypedDict, total=False):
    """Everything a worker observed about one case; verdicts are drawn from these alone."""

    backend: str
    dtype: str
    pid: int
    size: str
    error: ErrorFacts
    warnings: list[str]
    devices_used: list[str]
    output_dtypes: list[str]
    dtype_check: CheckFacts | None
    numerics: CheckFacts | None
    check: str | None
    check_s: float
    reference_timing: TimingFacts
    timing: TimingFacts
    worker_s: float
    terminated: Terminated
    compile: CompileFacts
    #: ``compiled`` for a case of ``--mode compiled`` (absent: eager)
    mode: str
    #: why the case cannot be expressed on the backend although nothing failed (a host callback in a
    #: program compiled for a device): the case is ``unavailable`` with this reason
    unavailable: str
    #: the ops its first call ran on the host CPU instead of the device (``Backend.host_fallbacks``)
    host_fallbacks: list[str]


class WorkerInfo(TypedDict):
    """A worker's first message: its framework, what it sees, and how it is set up."""

    kind: str
    framework: str
    pid: int
    import_s: float
    visible: dict[str, str]
    reasons: dict[str, str]
    versions: dict[str, str]
    numerics: dict[str, Any]
    cpus: list[int]
    threads: int | None
    #: framework settings chosen for timing (``Backend.timing_settings``: JAX's CPU async dispatch)
    timing_settings: NotRequired[dict[str, Any]]
    #: the glibc malloc settings the worker made (``runner.allocator``), None where it could not
    allocator: NotRequired[dict[str, int] | None]
    #: compile-only backends this framework reaches: the compiler, its version, topology and chip
    compile_targets: NotRequired[dict[str, dict[str, str]]]


# -- the stored case record ------------------------------------------------------------------------

class RatioRecord(TypedDict, total=False):
    """A time ratio against a reference (``host cpu`` or ``baseline``) with its bootstrap interval."""

    ratio: float
    ci_low: float
    ci_high: float
    reference: str
    threshold: float
    noise: float
    confirmation: RatioRecord | None


class CaseOutcome(TypedDict):
    """How a case ended and the facts behind it: the part of a record each side of an ``--against``
    run has (side B's is ``CaseRecord.against``)."""

    outcome: str
    failure: str | None
    message: str
    exception: str | None
    stage: str | None
    traceback: str | None
    device_used: list[str] | None
    host_fallbacks: list[str] | None
    output_dtypes: list[str] | None
    check: str | None
    tolerance_used: Any
    warnings: list[str]
    timing: TimingFacts | None
    worker_pid: int | None
    check_s: float | None
    worker_s: float | None


class ChangeRecord(TypedDict):
    """``--against``: what side B changed against side A (``verdicts.change``), with the B/A time ratio."""

    change: str
    detail: str
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: float
    #: a change of time is measured twice: the second measurement's change (``harness.against.confirmed``)
    confirmation: NotRequired[ChangeRecord]


class CaseRecord(CaseOutcome):
    """One line of ``cases.jsonl``: one case, its verdict and the facts behind it."""

    key: str
    id: str
    framework: str
    api: str
    category: str
    dtype: str
    variant: str
    backend: str
    mode: str
    reference_timing: TimingFacts | None
    ratio: RatioRecord | None
    tags: list[str]
    device_only: str
    compile: CompileFacts | None
    paper: bool
    paper_name: str
    decile: int | None
    frequency: int | None
    usage: dict[str, Any] | None
    size: str | None
    duration_s: float
    repro: str
    expected: NotRequired[str | None]
    xdist_worker: NotRequired[str]
    #: ``--against`` runs only: side B, and what it changed
    against: NotRequired[CaseOutcome | None]
    change: NotRequired[ChangeRecord | None]


class RunMeta(TypedDict, total=False):
    """``run.json``: what was asked, on what machine, with which frameworks, and how it ended."""

    schema: int
    kind: str
    run_id: str
    status: str
    started: str
    ended: str | None
    pid: int
    command: list[str]
    options: dict[str, Any]
    machine: dict[str, Any]
    parallel: dict[str, Any] | None
    frameworks: dict[str, dict[str, Any]]
    numerics: dict[str, Any]
    compile_targets: dict[str, dict[str, dict[str, str]]]
    collected: int | None
    cases: int
    wall_s: float
    load_average_end: Any
    workers_started: int
    worker_startup_s: list[float]
    xdist_cpus: dict[str, Any]
    #: why the run stopped before its end (a run file it could not write); absent when it did not
    stopped: str
    migrated_from: int
    #: ``--against``: the other environment: its interpreter, Python and what its workers reported
    against: dict[str, Any]


# -- text from frameworks --------------------------------------------------------------------------

#: C0 and C1 control characters but newline and tab: ESC starts the terminal sequences that clear a
#: screen, set a window title or hide text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """A framework's text as a record keeps it: valid UTF-8 (a lone surrogate from undecodable bytes
    becomes '?') with every control character but newline and tab shown as its escape (``\x1b``),
    so no terminal or page ever interprets it."""
    valid = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", valid)


# -- case keys -------------------------------------------------------------------------------------

def case_param(variant: str, dtype: str, backend: str, mode: str = DEFAULT_MODE) -> str:
    """``[<variant>-]<dtype>-<backend>[-<mode>]``: the input variant leads where it is not the default,
    the mode ends it where it is not eager (so an eager case keeps the key it always had)."""
    return "-".join(([variant] if variant != DEFAULT_VARIANT else []) + [dtype, backend]
                    + ([mode] if mode != DEFAULT_MODE else []))


def case_key(api: str, variant: str, dtype: str, backend: str, mode: str = DEFAULT_MODE) -> str:
    """``<api>[<param>]``: the name of a case's stored results, the same whichever file defines it."""
    return f"{api}[{case_param(variant, dtype, backend, mode)}]"


_V1_ID = re.compile(r"^(?:.*::)?(?P<api>[^\[\]]+)\[(?P<param>[^\[\]]+)\]$")


def key_of(name: str) -> str:
    """The key a case name refers to: a key is returned as it is; a schema-1 node id
    (``kernels/torch/linalg.py::torch.linalg.cholesky[float16-cpu]``, whose param is
    ``<dtype>(-<variant>)-<backend>``) becomes its key. ``ValueError`` for anything else."""
    m = _V1_ID.match(name.strip())
    if not m:
        raise ValueError(f"not a case key or node id: {name!r}")
    api, parts = m["api"], m["param"].split("-")
    if "::" not in name:
        return f"{api}[{m['param']}]"
    if len(parts) < 2:
        raise ValueError(f"not a case node id: {name!r} (expected <api>[<dtype>-<backend>])")
    dtype, backend, variant = parts[0], parts[-1], "-".join(parts[1:-1]) or DEFAULT_VARIANT
    return case_key(api, variant, dtype, backend)


# -- migration of older run files ------------------------------------------------------------------

class SchemaError(ValueError):
    """A run file written by a newer version of this suite than the one reading it."""


def migrate_meta(meta: dict[str, Any]) -> RunMeta:
    """``run.json`` of any known schema in today's form; ``migrated_from`` says where it came from."""
    schema = meta.get("schema")
    if not isinstance(schema, int) or schema < 1:
        raise SchemaError(f"schema version {schema!r} is not one this suite ever wrote")
    if schema > SCHEMA_VERSION:
        raise SchemaError(f"schema version {schema} is newer than this version reads ({SCHEMA_VERSION}): upgrade")
    if schema == SCHEMA_VERSION:
        return meta  # type: ignore[return-value]
    # 1 -> 2: run.json itself is unchanged; its cases gain a key. 2 -> 3: no compile-only backend existed.
    # 3 -> 4: every case ran eagerly. 4 -> 5: only case records changed
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    return {**meta, "schema": SCHEMA_VERSION, "migrated_from": schema,  # type: ignore[typeddict-item]
            "compile_targets": meta.get("compile_targets", {}),
            "options": {**options, "modes": options.get("modes", [DEFAULT_MODE])}}


def migrate_case(record: dict[str, Any], schema: int) -> CaseRecord:
    """A case record of ``schema`` in today's form."""
    if schema < 2 and "key" not in record:
        api, variant = record.get("api"), record.get("variant") or DEFAULT_VARIANT
        dtype, backend = record.get("dtype"), record.get("backend")
        if isinstance(api, str) and isinstance(variant, str) and isinstance(dtype, str) and isinstance(backend, str):
            record = {**record, "key": case_key(api, variant, dtype, backend)}
        # else the record gets no key, and the check of the record says so
    if schema < 3:
        # the catalog said which APIs are tied to a device, but records did not keep it
        record = {**record, "device_only": record.get("device_only", ""), "compile": record.get("compile")}
    if schema < 4:
        record = {**record, "mode": record.get("mode", DEFAULT_MODE)}
    if schema < 5:
        record = {**record, "host_fallbacks": record.get("host_fallbacks")}
    return record  # type: ignore[return-value]
