"""Pytest collection of the catalog: a catalog file is a collector, each case an item.

Node ids are ``kernels/<framework>/<file>.py::<key>``, where the case key
``<api>[(<variant>-)<dtype>-<backend>(-<mode>)]`` names the case's stored results (``portability.records``);
the key must not change for the same case, the file may.

This module knows nothing of the run: items ask the executor in ``config.stash[EXECUTOR_KEY]``
(one of ``portability.harness.session``'s roles) to run their case.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from portability import outcomes, verdicts
from portability.catalog import CatalogError, Kernel
from portability.catalog.cases import Case, cases
from portability.catalog.load import framework_of, load_kernels
from portability.options import Settings
from portability.records import CaseRecord
from portability.usage import inventory


@dataclass
class Collection:
    """What collection needs to know and remembers across catalog files."""

    frameworks: Sequence[str]
    backends: Sequence[str]
    dtypes: Sequence[str] | None
    modes: Sequence[str] = ("eager",)
    apis: dict[str, str] = field(default_factory=dict)  # qualified API -> the catalog file that defines it
    usage: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # catalog folder -> inventory.usage


class CaseExecutor(Protocol):
    settings: Settings

    def execute(self, item: CaseItem) -> CaseRecord: ...


class CaseFailure(Exception):
    """Raised by a case whose outcome is a failure; its text is the one-line verdict."""


class CatalogFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        seen = self.config.stash[COLLECTION_KEY]
        if framework_of(self.path) not in seen.frameworks:
            return
        kernels = load_kernels(self.path)
        folder = str(self.path.parent)
        if folder not in seen.usage:
            seen.usage[folder] = inventory.usage(self.path.parent)
        for kernel in kernels:
            # One entry per API across the catalog: the API names the function in every summary.
            first = seen.apis.setdefault(kernel.api, str(self.path))
            if first != str(self.path):
                raise CatalogError(f"{self.path}: entry {kernel.api!r} is already defined in {first}")
            for case in cases(self.path, kernel, seen.backends, seen.dtypes, seen.modes):
                yield CaseItem.from_parent(self, name=f"{kernel.api}[{case.param}]", case=case, kernel=kernel,
                                           usage=seen.usage[folder].get(kernel.api))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CatalogError):
            return f"malformed catalog entry: {excinfo.value}"
        return super().repr_failure(excinfo)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, kernel: Kernel, usage: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.kernel = kernel
        #: calls and decile in the mined frequency table, and how our usage sample drew it (if it did)
        self.usage = usage
        self.record: CaseRecord | None = None
        for tag in kernel.tags:
            self.add_marker(tag)
        if usage and usage.get("sampled"):
            self.add_marker("sample")
        self.add_marker(case.framework)

    def runtest(self) -> None:
        executor = self.config.stash[EXECUTOR_KEY]
        self.record = record = executor.execute(self)
        self.user_properties.append(("outcome", record["outcome"]))
        change = record.get("change")
        if change is not None:
            self.user_properties.append(("change", change["change"]))
            if executor.settings.fail_on == "regression":
                # --against --fail-on regression: the item says what B changed, not how A ends
                if change["change"] in verdicts.REGRESSIONS:
                    raise CaseFailure(f"{self.case.api} [{self.case.dtype}, {self.case.backend}]: "
                                      f"{change['change']}: {change['detail']}")
                return
        if record["outcome"] == outcomes.UNAVAILABLE:
            pytest.skip(f"{self.case.framework} {record['message']}")
        if outcomes.is_failure(record["outcome"]) and record.get("expected"):
            pytest.xfail(f"expected failure (listed as {record['expected']}): {record['outcome']}: {record['message']}")
        if outcomes.is_failure(record["outcome"]):
            raise CaseFailure(f"{self.case.api} [{self.case.dtype}, {self.case.backend}]: "
                              f"{record['outcome']}: {record['message']}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.case.api}[{self.case.param}]"


COLLECTION_KEY = pytest.StashKey[Collection]()
EXECUTOR_KEY = pytest.StashKey[CaseExecutor]()
