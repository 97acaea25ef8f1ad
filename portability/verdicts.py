"""Every rule that turns facts into a verdict, as pure functions (tested as tables in
``tests/test_verdicts.py`` and ``tests/test_classify.py``):

- a case's outcome from what its worker observed (``case_outcome``, ``classify_exception``);
- a slowdown, against the host CPU timed in the same worker or a baseline run (``judge_slowdown``);
- whether two runs' times can be compared at all (``run_conditions``, ``timing_mismatch``);
- the change of a case between two runs (``change``), which ``portability compare`` reports;
- the thresholds these rules use by default.

Frameworks signal the same failure in many words. The exception rules below are matched in order
against ``"<ExceptionType>: <message>"``; the first that matches wins. Each rule was written from a
message a framework really raises (``tests/test_classify.py`` holds them, one per row).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portability import outcomes
from portability.records import CaseRecord, Facts, RatioRecord, RunMeta
from portability.stats import Ratio, paired_ratio_ci, ratio_ci

#: A case is slower when the lower end of its time ratio's 95% interval exceeds this.
DEFAULT_THRESHOLD = 1.5
#: Run-to-run noise allowed for when timings come from another run (--baseline, compare): in identical
#: catalog runs on the 2-core development VM the lower bound of a case's ratio interval reached
#: 2.2 (ratios up to 2.6); the A/A benchmark measures it, see README "How we time".
DEFAULT_BASELINE_NOISE = 2.0
#: ``--against``: a case is slower (faster) when its B/A interval lies beyond this. Both releases are
#: timed in one run, rounds interleaved, so no run-to-run allowance applies; the value is the
#: smallest at which the A/A runs of every framework's catalog flagged nothing (README "How we time").
DEFAULT_CHANGE_THRESHOLD = 1.1

# (category, regex). Order matters: memory first (an OOM inside an unimplemented path is still
# an OOM), then dtype refusals, then missing kernels/lowerings. "not implemented for" is how torch
# words a kernel missing for a dtype ('"cholesky_cpu" not implemented for \'Half\''): the outcome
# words put it under not_implemented; explicit dtype refusals go to dtype.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(rx, re.IGNORECASE | re.DOTALL))
    for cat, rx in (
        ("oom", r"^(MemoryError|OutOfMemoryError|ResourceExhaustedError)\b"),
        ("oom", r"out of memory|\bOOM when allocating|RESOURCE_EXHAUSTED|can't allocate memory"
                r"|failed to allocate|not enough memory"),
        ("data_dependent", r"^(ConcretizationTypeError|NonConcreteBooleanIndexError|TracerBoolConversionError"
                           r"|TracerIntegerConversionError)\b|data[- ]dependent|must be a compile-time constant"
                           r"|must be statically specified"),
        ("dtype", r"low precision dtypes? not supported|unsupported dtype|dtype .{0,40}(is )?not supported"
                  r"|not supported for (the )?(dtype|type)|does not support (dtype|the dtype|\w*float|half|bfloat)"
                  r"|expected scalar type|not in (the )?list of allowed values"
                  r"|(requires|only supports|expects|must be|must have) (either )?(a )?"
                  r"(floating|float|complex|integer|real)[- ]?(point )?(dtype|type|input|tensor)"
                  r"|not supported for the input types|dtypes? .{0,40}not (implemented|available)"
                  r"|unsupported (element|data) ?type|type .{0,30}not supported|does not accept dtype"
                  r"|input dtype must be|could not infer output dtype|to have the same dtype"
                  r"|requires tf\.(b?float|complex|u?int)\d*|components have incorrect types"
                  r"|does not support (matrices|tensors|inputs) of type|\bnot inexact\b"
                  r"|dtype=.{0,60} is not (handled|supported)|only .{0,40}inputs are supported"
                  r"|(doesn't|does not|only) handles? types? other than|must be (either )?(float|double)"
                  r"|cannot be converted to type \S+ without overflow"
                  r"|expected .{0,40}to be (half|float|double)[\w ,]{0,40}tensors? but got"
                  r"|the only supported types are|must have dtype in \["
                  r"|is only supported for (half|float|double|floating)"
                  # a Python wrapper with no branch for the input's dtype dies before the op can refuse it
                  # (tf.linalg.eig in float16: its result dtype is never set): the dtype is not supported
                  r"|^UnboundLocalError: .{0,60}'\w*dtype\w*'"
                  # XLA's TPU compiler: no FFT of complex128 ("Unexpected operand type for FFT:
                  # c128[1024]{0}"), and 64-bit ops its rewrite to 32-bit pairs cannot express
                  r"|unexpected operand type for \w+: [a-z]+\d+\[|to not contain X\W{0,2}64"
                  r"|only [\w ,]{1,40} types are implemented in"),
        ("not_implemented", r"^(NotImplementedError|UnimplementedError|NotFoundError: Could not find device)\b"),
        # torch.compile(fullgraph=True) meets what it cannot capture in one graph (a graph break)
        ("not_implemented", r"^Unsupported: "),
        ("not_implemented", r"not implemented for|could not find device for node|no registered .{0,80}opkernel"
                            r"|could not run '[^']+' with arguments from the|mlir translation rule .{0,80}not found"
                            r"|\bUNIMPLEMENTED\b|not (yet )?implemented|no kernel image is available"
                            r"|is not supported on (this |the )?(device|platform|backend|cpu|gpu|tpu)"
                            r"|not currently (implemented|supported) for the \w+ device|lowering .{0,60}not"
                            r"|could not satisfy (explicit )?device specification|no opkernel was registered"
                            r"|not compiled with (cuda|rocm|xpu|mps)( enabled)?"
                            # a CPU-only torch build lacks the CUDA entry points themselves
                            r"|has no attribute '_cuda_\w+'"),
    )
)

#: Errors JAX raises while tracing a function for ``jit`` because the function is not one pure
#: function of arrays (a Python value depends on an array's contents, an array is turned into NumPy
#: or a Python scalar, an output is no array): the case cannot be compiled as one program on any
#: backend, which is not a verdict on the hardware.
TRACE_ERRORS = ("ConcretizationTypeError", "TracerArrayConversionError", "TracerBoolConversionError",
                "TracerIntegerConversionError", "UnexpectedTracerError", "NonConcreteBooleanIndexError")
_NOT_A_PROGRAM = re.compile(r"is not a valid JAX type|(abstract|traced) (array|value)|tracer", re.IGNORECASE)


#: What a compiled call can never hold, by its nature: a copy to host NumPy (I/O, printing), an output
#: that is no array, a side effect that lets a traced value escape (JAX), variables created anew on
#: every call (TensorFlow's state lives outside ``tf.function``), a checkpoint written from inside one.
_NEVER_COMPILED = re.compile(r"^TracerArrayConversionError\b|is not a valid JAX type|^UnexpectedTracerError\b"
                             r"|failed to lift variable creations|only supports singleton tf\.Variables"
                             r"|could not be lifted out of a `tf\.function`"
                             r"|\.save\(\) from a function is not supported",
                             re.IGNORECASE)


def untraceable(error: Mapping[str, Any], compiled_mode: bool = False) -> bool:
    """Whether an error raised while tracing a case means the case is no single compiled function
    (``unavailable``), rather than a refusal by the framework. For a compile-only backend every
    tracer error says so. In ``--mode compiled`` only what no compiled call can hold does; a call
    that needs array values fixed (``nonzero``'s output shape) is a failure of the mode
    (``data_dependent``), since eager runs it and other compilers may too."""
    text = f"{error.get('type')}: {first_line(error.get('message', ''))}"
    if compiled_mode:
        return error.get("stage") == "trace-setup" or bool(_NEVER_COMPILED.search(text))
    if error.get("stage") not in ("trace", "trace-setup"):
        return False
    return error.get("type") in TRACE_ERRORS or bool(_NOT_A_PROGRAM.search(first_line(error.get("message", ""))))


def classify_exception(exc_type: str, message: str) -> str:
    """Failure category for an exception raised by framework code: one of
    ``outcomes.FAILURE_CATEGORIES`` (never ``timeout``/``crash``/``missing``/``host_fallback``,
    which come from the harness's own observations)."""
    text = f"{exc_type}: {message}"
    for category, rx in _RULES:
        if rx.search(text):
            return category
    return "error"


def first_line(message: str, limit: int = 300) -> str:
    """The first non-empty line of an error message, shortened: what run files keep."""
    for line in message.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str


def case_outcome(facts: Facts | Mapping[str, Any]) -> Verdict:
    """The outcome of one case from the facts a worker reported (see ``worker.run_case``).

    The order is the order of the checks (docs/architecture.md, "The path of one case"): an
    exception decides alone; then where the output lives, its dtype, and its values. Slowdown is
    decided afterwards by the caller, which holds the timing reference (``judge_slowdown``).
    """
    terminated = facts.get("terminated")
    if terminated:
        return Verdict(outcomes.fail(terminated["reason"]), terminated["message"])

    error = facts.get("error")
    if error and untraceable(error, facts.get("mode") == "compiled"):
        where = ("the kernel's setup (its preparation, not the API) needs concrete values, so the API was not "
                 "compiled" if error.get("stage") == "trace-setup" else "cannot be compiled as one function of "
                 "its arrays")
        return Verdict(outcomes.UNAVAILABLE, f"{where}: {error['type']}: {first_line(error['message'])}")
    if error:
        stage = error.get("stage", "call")
        text = f"{error['type']}: {first_line(error['message'])}"
        if stage == "resolve":
            return Verdict(outcomes.fail("missing"), error["message"])
        if stage == "harness":  # our bug, not the framework's behaviour: never classified further
            return Verdict(outcomes.fail("error"), f"harness error: {text}")
        return Verdict(outcomes.fail(classify_exception(error["type"], error["message"])), text)

    if facts.get("unavailable"):
        return Verdict(outcomes.UNAVAILABLE, str(facts["unavailable"]))

    requested = facts["backend"]
    fallbacks = facts.get("host_fallbacks")
    if fallbacks:
        return Verdict(outcomes.fail("host_fallback"),
                       f"{len(fallbacks)} op(s) fell back to the host CPU instead of running on {requested}: "
                       + ", ".join(fallbacks))
    used = facts.get("devices_used") or []
    wrong = sorted({d for d in used if d != requested})
    if wrong:
        return Verdict(
            outcomes.fail("host_fallback"),
            f"output on {', '.join(wrong)} instead of the requested {requested}",
        )

    dtype = facts.get("dtype_check")
    if dtype and not dtype["ok"] and dtype.get("downcast"):
        return Verdict(
            outcomes.fail("downcast"),
            f"expected output dtype {dtype['expected']}, got {dtype['got']}: JAX computes 64-bit types "
            "in 32 bits unless jax_enable_x64 is set (--jax-x64 off)",
        )
    if dtype and not dtype["ok"]:
        return Verdict(
            outcomes.fail("dtype"),
            f"expected output dtype {dtype['expected']}, got {dtype['got']} (silently changed)",
        )

    numerics = facts.get("numerics")
    if numerics and not numerics["ok"]:
        return Verdict(outcomes.fail("numerical"), numerics["message"])

    compiled = facts.get("compile")
    if compiled is not None and facts.get("mode") != "compiled":  # compile-only: nothing ran
        return Verdict(outcomes.COMPILED, f"compiled for {compiled.get('device_kind', '?')} "
                       f"({compiled.get('topology', '?')}) in {compiled.get('compile_s', 0.0):.2f} s; nothing ran")
    return Verdict(outcomes.PASS, "")


# -- slowdowns ---------------------------------------------------------------------------------------

def is_slowdown(ratio: Ratio, threshold: float) -> bool:
    """Significantly slower by at least ``threshold``: the whole interval lies above it."""
    return ratio.low > threshold


def judge_slowdown(
    verdict: Verdict, facts: Facts | Mapping[str, Any], baseline: CaseRecord | None, threshold: float,
    baseline_noise: float = 1.0,
) -> tuple[Verdict, RatioRecord | None]:
    """Turn a pass into a slowdown when the time ratio's interval lies above the threshold.

    Reference: the same case in the ``--baseline`` run if given, else the host CPU timed in the
    same worker (accelerator backends only, rounds interleaved), or for a compiled case the eager
    call timed in the same worker, rounds interleaved. Without either, there is no
    slowdown verdict. The bootstrap interval only knows the noise inside one run; against
    another run the machine's run-to-run noise is added: the interval's lower end, divided by
    ``baseline_noise``, must still exceed the threshold.
    """
    samples = (facts.get("timing") or {}).get("samples_s")
    ref_samples, reference = None, None
    base_samples = ((baseline["timing"] or {}).get("samples_s") if baseline is not None else None)
    if base_samples:
        ref_samples, reference = base_samples, "baseline"
    elif (facts.get("reference_timing") or {}).get("samples_s"):
        ref_samples = facts["reference_timing"]["samples_s"]
        reference = "eager call" if facts.get("mode") == "compiled" else "host cpu"
    if not samples or not ref_samples:
        return verdict, None
    r = ratio_ci(samples, ref_samples)
    noise = baseline_noise if reference == "baseline" else 1.0
    ratio: RatioRecord = {"ratio": r.ratio, "ci_low": r.low, "ci_high": r.high, "reference": str(reference),
                          "threshold": threshold, "noise": noise}
    if verdict.outcome == outcomes.PASS and is_slowdown(r, threshold * noise):
        allowance = f", run-to-run noise {noise:g}x" if noise != 1.0 else ""
        return Verdict(
            outcomes.SLOWDOWN,
            f"{r.ratio:.2f}x slower than the {reference} (95% CI {r.low:.2f}-{r.high:.2f}x, "
            f"threshold {threshold:g}x{allowance})",
        ), ratio
    return verdict, ratio


# -- two runs ----------------------------------------------------------------------------------------

def run_conditions(meta: RunMeta | Mapping[str, Any]) -> dict[str, Any]:
    """What a run's timings depend on besides the code: its input size and CPU threads per worker.
    Runs from before ``--cpu-threads`` existed used the frameworks' own thread counts (``all``)."""
    opts = meta.get("options") or {}
    threads = opts.get("cpu_threads", None)
    return {"size": opts.get("size", "medium"), "cpu threads": "all" if threads is None else threads}


def timing_mismatch(base_meta: RunMeta | Mapping[str, Any], new_meta: RunMeta | Mapping[str, Any]) -> str | None:
    """Why the two runs' times cannot be compared (one line), or None when they can."""
    base, new = run_conditions(base_meta), run_conditions(new_meta)
    differ = [f"{k} {base[k]} vs {new[k]}" for k in base if base[k] != new[k]]
    return f"timed under different conditions: {', '.join(differ)}" if differ else None


INTRODUCED = "failure introduced"
FIXED = "failure fixed"
CHANGED = "failure changed"
SLOWER = "slower"
FASTER = "faster"
NOT_SIGNIFICANT = "not significant"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not comparable"
CHANGES = (INTRODUCED, FIXED, CHANGED, SLOWER, FASTER, NOT_SIGNIFICANT, UNCHANGED, NOT_COMPARABLE)
#: What ``--fail-on regression`` exits non-zero on.
REGRESSIONS = (INTRODUCED, SLOWER)


def change(base: CaseRecord | None, new: CaseRecord | None, threshold: float = DEFAULT_THRESHOLD,
           noise: float = DEFAULT_BASELINE_NOISE, mismatch: str | None = None,
           paired: bool = False) -> tuple[str, str, Ratio | None]:
    """How one case changed from BASE to NEW: (change, one-line detail, time ratio NEW/BASE if computed).

    ``mismatch``: why the runs' times cannot be compared (``timing_mismatch``); outcomes still compare.
    ``paired``: the two sides' rounds were taken in turn (``--against``): the ratio is the median of
    per-round ratios (``stats.paired_ratio_ci``), so what the machine did at each moment cancels out.
    """
    b = base["outcome"] if base is not None else None
    n = new["outcome"] if new is not None else None
    if base is None or new is None or b is None or n is None:
        return NOT_COMPARABLE, "only in NEW" if base is None else "only in BASE", None
    if outcomes.UNAVAILABLE in (b, n):
        return NOT_COMPARABLE, "backend unavailable in one run", None
    b_fail, n_fail = outcomes.is_failure(b), outcomes.is_failure(n)
    if n_fail and not b_fail:
        return INTRODUCED, str(new.get("message") or n), None
    if b_fail and not n_fail:
        return FIXED, f"was {b}: {base.get('message') or ''}".rstrip(": "), None
    if b_fail and n_fail:
        return (CHANGED, f"{b} -> {n}: {new.get('message') or ''}", None) if b != n else (UNCHANGED, "", None)
    if outcomes.COMPILED in (b, n):  # compile-only: nothing was timed
        return (UNCHANGED, "", None) if b == n else (NOT_COMPARABLE, f"{b} -> {n}", None)
    # passes (or slowdowns) on both sides: compare times
    if mismatch:
        return NOT_COMPARABLE, mismatch, None
    ts, bs = (new.get("timing") or {}).get("samples_s"), (base.get("timing") or {}).get("samples_s")
    if not ts or not bs:
        return NOT_COMPARABLE, "no timing samples", None
    r = paired_ratio_ci(ts, bs) if paired and len(ts) == len(bs) else ratio_ci(ts, bs)
    bar = threshold * noise
    text = f"{r.ratio:.2f}x (95% CI {r.low:.2f}-{r.high:.2f}x)"
    if r.low > bar:
        return SLOWER, f"{text} slower, beyond {bar:g}x", r
    if r.high < 1 / bar:
        return FASTER, f"{text}, faster beyond 1/{bar:g}", r
    if r.low > 1 or r.high < 1:
        return NOT_SIGNIFICANT, f"{text}, within the noise allowance {bar:g}x", r
    if b == n:
        return UNCHANGED, "", r
    return NOT_SIGNIFICANT, f"{b} -> {n}, {text}", r
