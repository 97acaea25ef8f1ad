"""The pytest plugin (registered once, through the ``pytest11`` entry point ``portability``).

Thin: options, catalog collection, and session start/finish; the work is in ``session``.
A pytest run that collects no catalog file is left exactly as it was.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from portability import options
from portability.catalog.load import framework_of
from portability.harness import parallel
from portability.harness import session as roles
from portability.harness.collect import COLLECTION_KEY, EXECUTOR_KEY, CaseItem, CatalogFile, Collection
from portability.harness.session import COLLECTED_KEY, Controller, RunSession
from portability.results import compare, storage, summary
from portability.runner import backends, cpus, procs
from portability.vocabulary import FRAMEWORKS


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser.getgroup("portability", "portability catalog").addoption)


def _left_as_asked(config: pytest.Config) -> str | None:
    """Why a run is not to get xdist workers by default, read from the options parsed so far."""
    ns = config.known_args_namespace
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return "an xdist worker"
    if not config.pluginmanager.has_plugin("xdist"):
        return "pytest-xdist is not installed or is turned off (-p no:xdist)"
    if getattr(ns, "numprocesses", None) is not None or getattr(ns, "dist", "no") != "no" or getattr(ns, "tx", None):
        return "-n given"
    for name, why in (("usepdb", "--pdb"), ("trace", "--trace"), ("collectonly", "--collect-only"),
                      ("help", "--help"), ("version", "--version"), ("showfixtures", "--fixtures"),
                      ("show_fixtures_per_test", "--fixtures-per-test"), ("markers", "--markers")):
        if getattr(ns, name, False):
            return why
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """A catalog run uses the machine: unless it says otherwise, it gets one xdist worker per CPU
    (``parallel.default_workers``), as if ``-n N`` had been given (pytest's documented way to add
    options: the arguments are changed in place before they are parsed)."""
    ns = early_config.known_args_namespace
    try:
        workers, why = parallel.default_workers(
            list(getattr(ns, "file_or_dir", None) or []), early_config.getini("testpaths"),
            getattr(ns, "backend", None), getattr(ns, "cpu_threads", None), _left_as_asked(early_config),
            os.environ, len(cpus.allowed()), procs.machine_memory())
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if workers > 1:
        args[:0] = ["-n", str(workers)]
        early_config.stash[DEFAULT_WORKERS_KEY] = f"{workers} workers by default ({why}; -n 0 runs one process)"


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(SESSION_KEY, None)
    if state is None:
        return None
    lines = [options.header(state.settings)]
    default = config.stash.get(DEFAULT_WORKERS_KEY, None)
    if default:
        lines.append(f"portability: {default}")
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        lines.append("portability: SIGINT is ignored in this process (started as a background job of a script, "
                     f"as POSIX shells start them): Ctrl-C does not stop it; kill -TERM {os.getpid()} does, "
                     "and keeps every finished case")
    return lines


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _stop_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (``kill``, a CI job's timeout) ends the run as Ctrl-C does: finished cases kept, run
    marked interrupted, exit code 2. Python's default would die at once and leave run.json
    ``running``. A handler someone else installed is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _terminate)

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    config.add_cleanup(restore)


def _check_rootdir(config: pytest.Config) -> None:
    """pytest takes an existing directory given as a separate token after an option (``--baseline
    /tmp/run``) for a test path when it determines the rootdir: outside the project, the run would
    lose the project's configuration (its testpaths) and collect whatever lies in the current
    directory. Say so instead. Under ``pytest -n`` a results folder that does not exist yet is caught
    too: the controller creates it, and each xdist worker, reading the same arguments, would then take
    it for a test path."""
    args = list(config.invocation_params.args)
    xdist_controller = bool(config.getoption("numprocesses", None)) and not hasattr(config, "workerinput")
    for flag in ("--baseline", "--expectations", "--results-dir"):
        if flag in args[:-1]:
            value = args[args.index(flag) + 1]
            lost = config.inipath is None and Path(value).is_dir()
            if lost or (xdist_controller and flag == "--results-dir" and not value.startswith("-")):
                raise pytest.UsageError(
                    f"{flag} {value}: pytest took this directory for a test path and lost the project's "
                    f"configuration; write {flag}={value} (with '=')")


def pytest_configure(config: pytest.Config) -> None:
    try:
        settings = options.settings(config.getoption, backends.installed(), procs.machine_memory())
        workers = config.getoption("numprocesses", None) if not hasattr(config, "workerinput") else None
        plan = parallel.plan(settings.backends, int(workers)) if workers else None
        if plan is not None:
            plan["chosen"] = config.stash.get(DEFAULT_WORKERS_KEY, None) or "-n given"
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    _check_rootdir(config)
    _check_cache_options(config)
    _stop_on_sigterm(config)
    state = roles.for_config(config, settings, plan)
    config.stash[SESSION_KEY] = state
    config.stash[EXECUTOR_KEY] = state
    config.stash[COLLECTION_KEY] = Collection(settings.frameworks, settings.backends, settings.dtypes,
                                                 settings.modes)
    if isinstance(state, roles.XdistWorker):
        parallel.pin(state.workerinput)
    for fw in FRAMEWORKS:
        config.addinivalue_line("markers", f"{fw}: a catalog case of {fw}")
    config.addinivalue_line("markers", "paper: a function sampled by Mince et al. 2023")
    config.addinivalue_line("markers", "sample: a function drawn in our usage sample (kernels/<framework>/sample.json)")


#: pytest's options that read the last run's failures from its cache (cacheprovider, stepwise)
_CACHE_OPTIONS = (("lf", "--lf"), ("failedfirst", "--ff"), ("stepwise", "--sw"), ("stepwise_skip", "--sw-skip"))


def _check_cache_options(config: pytest.Config) -> None:
    """The project runs pytest without its cache (``-p no:cacheprovider``), where --lf, --ff and --sw
    silently rerun everything: refuse them in one line rather than run what was not asked."""
    if config.pluginmanager.has_plugin("cacheprovider"):
        return
    for dest, flag in _CACHE_OPTIONS:
        if config.getoption(dest, None):
            raise pytest.UsageError(
                f"{flag} needs pytest's cache, which this project turns off (-p no:cacheprovider); "
                "rerun failing cases by node id (portability cases RUN_DIR --outcome fail lists them)")


def _python_plugin_collects(path: Path, parent: pytest.Collector) -> bool:
    """Whether pytest's Python plugin will also want this file (named on the command line, or
    matching ``python_files``): then it asks ``pytest_pycollect_makemodule`` below instead."""
    if parent.session.isinitpath(path):
        return True
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in parent.config.getini("python_files"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if framework_of(file_path) is None or _python_plugin_collects(file_path, parent):
        return None
    collector: CatalogFile = CatalogFile.from_parent(parent, path=file_path)
    return collector


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A catalog file named on the command line is still a catalog file, never imported as a test
    module: that import would put ``kernels/<fw>`` on ``sys.path``, which spawned workers inherit,
    and a catalog file named like a standard module (``random.py``) would shadow it there."""
    if framework_of(module_path) is None:
        return None
    collector: CatalogFile = CatalogFile.from_parent(parent, path=module_path)
    return collector


def _case_items(session: pytest.Session) -> list[CaseItem]:
    return [it for it in session.items if isinstance(it, CaseItem)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    items = _case_items(session)
    if not items or session.config.option.collectonly:
        return
    session.config.stash[SESSION_KEY].start(items)


# pytest-xdist (``pytest -n N``): the controller makes one run directory, each worker appends to it.
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash[SESSION_KEY]
    assert isinstance(state, Controller)
    try:
        node.workerinput["portability_run_dir"] = str(state.open_for_workers())
    except storage.RunWriteError as exc:
        raise pytest.UsageError(f"--results-dir {str(state.settings.results_dir)!r}: {exc}") from None
    devices = state.plan.get("devices")
    if devices:
        index = int(str(node.workerinput["workerid"]).removeprefix("gw"))
        node.workerinput["portability_device"] = devices[index]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    node.config.stash[COLLECTED_KEY] = len(ids)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.finish(int(exitstatus))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state: RunSession | None = config.stash.get(SESSION_KEY, None)
    if state is None or state.writer is None:
        return
    tr = terminalreporter
    tr.write_sep("=", "portability summary (functions per framework and backend)")
    for line in summary.render(state.records, state.settings.backends):
        tr.write_line(line)
    if state.settings.expectations is not None:
        for line in summary.expectation_lines(state.records, state.expected):
            tr.write_line(line)
    if state.settings.against is not None:
        meta = state.writer.meta.get("against") or state.against_meta()
        tr.write_sep("=", "changes of the other environment (B) against this one (A), case by case")
        a_label = ", ".join(f"{fw} {m['versions'].get(fw, '?')}" for fw, m in (state.writer.meta.get("frameworks")
                                                                              or {}).items())
        b_label = ", ".join(f"{fw} {m['versions'].get(fw, '?')}" for fw, m in meta["frameworks"].items())
        for line in compare.render_against(compare.from_against(state.records), a_label or "?", b_label or "?"):
            tr.write_line(line)
    if state.stopped:
        tr.write_line(f"run stopped: {state.stopped}; its {len(state.records)} finished cases are in "
                      f"{state.writer.dir} (no report written)")
        return
    tr.write_line(f"run written to {state.writer.dir}")
    if state.settings.report:
        from portability.results import report

        out = state.settings.results_dir / "index.html"
        try:
            runs = storage.find_runs(state.settings.results_dir)
            skipped: list[str] = []
            notes: list[str] = []
            report.write(runs, out, skipped=skipped, notes=notes)
            tr.write_line(f"report of {len(runs) - len(skipped)} runs written to {out}")
            for line in skipped:
                tr.write_line(f"report: left out {line}")
            for line in notes:
                tr.write_line(f"report: note: {line}")
        except Exception as exc:  # noqa: BLE001 - the run is stored; a failed page must not hide it
            tr.write_line(f"report not written: {type(exc).__name__}: {exc} (the run files are complete; "
                          "portability report renders them)")


SESSION_KEY = pytest.StashKey[RunSession]()
DEFAULT_WORKERS_KEY = pytest.StashKey[str]()
