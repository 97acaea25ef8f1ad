"""Cases: one kernel x dtype x input variant x backend x mode, and the key that names its stored results."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from portability.catalog.kernel import Kernel
from portability.catalog.load import framework_of
from portability.records import case_param
from portability.vocabulary import COMPILE_ONLY, DEFAULT_MODE


@dataclass(frozen=True)
class Case:
    """One kernel x dtype x input variant x backend x mode: one pytest item, one line in cases.jsonl."""

    path: str
    framework: str
    api: str
    dtype: str
    variant: str
    backend: str
    mode: str = DEFAULT_MODE

    @property
    def param(self) -> str:
        """``[<variant>-]<dtype>-<backend>[-<mode>]``: the input variant leads where there is more than
        the default; the mode ends it where it is not eager (``records.case_param``)."""
        return case_param(self.variant, self.dtype, self.backend, self.mode)

    @property
    def key(self) -> str:
        """``<api>[<param>]``: the name of this case's stored results. It holds no file name, so a
        kernel can move between catalog files and still be compared with every older run."""
        return f"{self.api}[{self.param}]"


def cases(
    path: Path, kernel: Kernel, backends: Sequence[str], dtypes: Sequence[str] | None,
    modes: Sequence[str] = (DEFAULT_MODE,),
) -> Iterator[Case]:
    """The cases of a kernel, in a stable order: dtype, then variant, then backend, then mode. A
    compile-only backend compiles by nature: it has one case, under the eager key it always had."""
    framework = framework_of(path)
    assert framework is not None
    for dtype in kernel.dtypes:
        if dtypes and dtype not in dtypes:
            continue
        for variant in kernel.variants:
            for backend in backends:
                for mode in ((DEFAULT_MODE,) if backend in COMPILE_ONLY else modes):
                    yield Case(str(path), framework, kernel.api, dtype, variant, backend, mode)
