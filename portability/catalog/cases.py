"""Cases: one kernel x dtype x input variant x backend, and the key that names its stored results."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from portability.catalog.kernel import Kernel
from portability.catalog.load import framework_of


@dataclass(frozen=True)
class Case:
    """One kernel x dtype x input variant x backend: one pytest item, one line in cases.jsonl."""

    path: str
    framework: str
    api: str
    dtype: str
    variant: str
    backend: str

    @property
    def param(self) -> str:
        """``[<variant>-]<dtype>-<backend>``: the input variant leads where there is more than the default."""
        parts = ([self.variant] if self.variant != "default" else []) + [self.dtype, self.backend]
        return "-".join(parts)

    @property
    def key(self) -> str:
        """``<api>[<param>]``: the name of this case's stored results. It holds no file name, so a
        kernel can move between catalog files and still be compared with every older run."""
        return f"{self.api}[{self.param}]"


def cases(
    path: Path, kernel: Kernel, backends: Sequence[str], dtypes: Sequence[str] | None
) -> Iterator[Case]:
    """The cases of a kernel, in a stable order: dtype, then variant, then backend."""
    framework = framework_of(path)
    assert framework is not None
    for dtype in kernel.dtypes:
        if dtypes and dtype not in dtypes:
            continue
        for variant in kernel.variants:
            for backend in backends:
                yield Case(str(path), framework, kernel.api, dtype, variant, backend)
