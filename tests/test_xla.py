"""``--backend=xla-cpu``: PyTorch through torch_xla on the host CPU, its ops without an XLA lowering
counted as host fallbacks.

torch_xla pins its own torch, so CI never has it: there the adapter's logic is tested on its own and
with a stand-in for torch_xla's Python surface (``tests/fixtures/torch_xla_stub``), and the run's
one-line error without it. ``tox -e xla`` runs this file first with the real torch_xla, where the tests
marked ``real`` run a scratch catalog through it."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from scratch import FAST, only_run, write_kernels

from portability import verdicts
from portability.harness.parallel import plan

pytest_plugins = ["pytester"]

STUB = Path(__file__).parent / "fixtures" / "torch_xla_stub"
HAS_TORCH_XLA = importlib.util.find_spec("torch_xla") is not None
real = pytest.mark.skipif(not HAS_TORCH_XLA, reason="torch_xla is not installed (tox -e xla runs these)")
stub_only = pytest.mark.skipif(HAS_TORCH_XLA, reason="the real torch_xla is installed")


@pytest.mark.parametrize(("asked", "environ", "starts", "pjrt"), [
    (["cpu"], {}, False, None),  # a run that does not ask for it never imports torch_xla
    (["cpu", "xla-cpu"], {}, True, "CPU"),
    (["cpu", "xla-cpu"], {"PJRT_DEVICE": "TPU"}, True, "TPU"),  # the user's choice stands
    (["cpu", "tpu"], {}, True, None),  # torch_xla finds its TPU itself
    (["tpu", "xla-cpu"], {}, True, None),  # one runtime per process: not forced onto the CPU
])
def test_torch_xla_starts_only_when_asked_and_on_the_cpu_for_xla_cpu(
        asked: list[str], environ: dict[str, str], starts: bool, pjrt: str | None) -> None:
    pytest.importorskip("torch")
    from portability.runner.backends.torch import xla_start

    assert xla_start(asked, environ) is starts
    assert environ.get("PJRT_DEVICE") == pjrt


def test_fallback_ops_are_the_executed_list_and_the_aten_counters_once_each() -> None:
    pytest.importorskip("torch")
    from portability.runner.backends.torch import fallback_ops

    assert fallback_ops(["aten::linalg_eig"], ["CreateXlaTensor", "aten::linalg_eig", "aten::nonzero",
                                               "xla::mm", "MarkStep"]) == ["aten::linalg_eig", "aten::nonzero"]
    assert fallback_ops([], ["xla::mm", "UncachedCompile"]) == []


@pytest.mark.parametrize(("fallbacks", "outcome", "message"), [
    (["aten::linalg_eig"], "fail:host_fallback",
     "1 op(s) fell back to the host CPU instead of running on xla-cpu: aten::linalg_eig"),
    ([], "pass", ""),
    (None, "pass", ""),  # nothing counted them (another framework or backend)
])
def test_a_case_whose_ops_fell_back_to_the_host_fails_naming_them(
        fallbacks: list[str] | None, outcome: str, message: str) -> None:
    facts = {"backend": "xla-cpu", "devices_used": ["xla-cpu"], "host_fallbacks": fallbacks,
             "numerics": {"ok": True, "message": ""}}
    assert verdicts.case_outcome(facts) == verdicts.Verdict(outcome, message)


def test_an_output_left_on_the_host_is_a_fallback_too() -> None:
    facts = {"backend": "xla-cpu", "devices_used": ["cpu"], "host_fallbacks": []}
    assert verdicts.case_outcome(facts) == verdicts.Verdict(
        "fail:host_fallback", "output on cpu instead of the requested xla-cpu")


def test_xla_cpu_workers_share_the_host_under_xdist() -> None:
    assert plan(["cpu", "xla-cpu"], 2, gpus=[]) == {"workers": 2, "shared": "cpu", "devices": None}


@pytest.fixture
def stub_torch_xla(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(STUB))
    monkeypatch.delenv("PJRT_DEVICE", raising=False)
    yield
    for name in [m for m in sys.modules if m == "torch_xla" or m.startswith("torch_xla.")]:
        del sys.modules[name]


@stub_only
@pytest.mark.usefixtures("stub_torch_xla")
def test_the_torch_adapter_on_torch_xla_sees_xla_cpu_counts_and_clears_fallbacks() -> None:
    pytest.importorskip("torch")
    from portability.runner import backends

    adapter = backends.load("torch", {"backends": ["cpu", "xla-cpu"]})
    assert os.environ["PJRT_DEVICE"] == "CPU"
    assert adapter.visible() == {"cpu": "cpu", "xla-cpu": "xla:0 (torch_xla, PJRT CPU)"}
    assert adapter.versions()["torch_xla"] == "0.0-stub" and adapter.versions()["xla_device_type"] == "CPU"
    assert adapter.unavailable_reason("tpu") == "torch_xla sees device type CPU, not TPU"
    import torch_xla.debug.metrics as met

    met.fallen[:] = ["aten::nonzero", "aten::linalg_eig"]
    assert adapter.host_fallbacks() == ["aten::linalg_eig", "aten::nonzero"]
    assert adapter.host_fallbacks() == []  # cleared: each case counts its own
    assert "compiles every call with XLA already" in adapter.jit_unavailable("xla-cpu")


@stub_only
@pytest.mark.usefixtures("stub_torch_xla")
def test_xla_cpu_is_unavailable_where_torch_xla_was_told_to_run_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from portability.runner import backends

    monkeypatch.setenv("PJRT_DEVICE", "CUDA")
    adapter = backends.load("torch", {"backends": ["cpu", "xla-cpu"]})
    assert "xla-cpu" not in adapter.visible()
    assert adapter.unavailable_reason("xla-cpu") == ("torch_xla runs on CUDA here (PJRT_DEVICE=CUDA); "
                                                     "xla-cpu is torch_xla on the CPU: PJRT_DEVICE=CPU")


@stub_only
@pytest.mark.usefixtures("stub_torch_xla")
def test_a_run_that_does_not_ask_for_xla_never_starts_torch_xla() -> None:
    pytest.importorskip("torch")
    from portability.runner import backends

    adapter = backends.load("torch", {"backends": ["cpu"]})
    assert "torch_xla" not in sys.modules and "PJRT_DEVICE" not in os.environ
    assert adapter.host_fallbacks() is None and "torch_xla" not in adapter.versions()
    assert adapter.unavailable_reason("xla-cpu") == "not asked for (--backend)"


ONE = """
    import numpy as np
    from portability.catalog import Kernel, normal
    KERNELS = [Kernel("torch.exp", "elementwise", normal(8), reference=np.exp)]
"""


@pytest.mark.skipif(HAS_TORCH_XLA or importlib.util.find_spec("torch") is None,
                    reason="needs torch without torch_xla")
def test_without_torch_xla_the_run_stops_with_one_line_saying_where_it_is(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "one", ONE)
    result = pytester.runpytest_subprocess("--backend=cpu,xla-cpu", "--results-dir=out", "kernels")
    errors = [ln for ln in result.stderr.lines if ln.startswith("ERROR:")]
    assert errors == ["ERROR: backend 'xla-cpu' is not available on this machine: torch sees cpu (torch: torch_xla "
                      "is not installed: it needs its own torch (torch-xla 2.9.0 pins torch 2.9.0), so it has its "
                      "own environment, tox -e xla)"], result.stderr.lines
    assert result.ret == 4


REAL = """
    import numpy as np
    from portability.catalog import Kernel, normal
    KERNELS = [Kernel("torch.exp", "elementwise", normal(64), reference=np.exp),
               Kernel("torch.linalg.eigvals", "linalg", normal(6, 6), check=lambda out, x: None,
                      dtypes=("float32",))]
"""


@real
def test_a_torch_catalog_through_torch_xla_on_the_cpu(pytester: pytest.Pytester) -> None:
    write_kernels(pytester, "torch", "xla", REAL)
    pytester.runpytest_subprocess("--backend=cpu,xla-cpu", "--dtype=float32", "--results-dir=out", *FAST, "kernels")
    run = only_run(pytester.path / "out")
    got = {c["key"]: c for c in run.cases}
    exp, eig = got["torch.exp[float32-xla-cpu]"], got["torch.linalg.eigvals[float32-xla-cpu]"]
    assert exp["outcome"] in ("pass", "slowdown") and exp["host_fallbacks"] == [] and exp["device_used"] == ["xla-cpu"]
    assert exp["ratio"]["reference"] == "host cpu" and exp["reference_timing"]["interleaved"] is True
    assert eig["outcome"] == "fail:host_fallback" and "aten::linalg_eig" in eig["host_fallbacks"], eig
    assert got["torch.linalg.eigvals[float32-cpu]"]["host_fallbacks"] is None  # a host case has none to count
    assert run.meta["frameworks"]["torch"]["visible"]["xla-cpu"] == "xla:0 (torch_xla, PJRT CPU)"
    assert run.meta["frameworks"]["torch"]["versions"]["torch_xla"] == "2.9.0"
