"""What a user meets around ``--backend=tpu-compile`` before any case runs: a bad topology name, a
machine without libtpu, a chip libtpu does not know. The JAX adapter is built in this process (JAX
imports in a second), exactly as a worker builds it."""

from __future__ import annotations

import importlib.util

import pytest

from portability import options
from portability.harness.session import unavailable_error

jax_adapter = pytest.importorskip("portability.runner.backends.jax", reason="needs jax")


@pytest.fixture(autouse=True)
def _jax_config_restored():  # type: ignore[no-untyped-def]
    """An adapter sets JAX's x64 for its process; other tests in this one must not inherit it."""
    jax = jax_adapter.jax
    x64 = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", x64)


@pytest.mark.parametrize("name", ["v5e", "v5litepod-4", "v5e:1x1;rm", ""])
def test_a_name_that_is_no_topology_is_one_line_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match=r"--tpu-topology .* is not a topology name; valid: <chip>:<dims>"):
        options.parse_topology(name)


def test_without_libtpu_the_run_stops_with_one_line_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(jax_adapter.importlib.util, "find_spec",
                        lambda name, *a: None if name == "libtpu" else real(name, *a))
    adapter = jax_adapter.Adapter({"backends": ["cpu", "tpu-compile"]})
    assert "tpu-compile" not in adapter.visible() and adapter.compile_targets() == {}
    info = {"visible": adapter.visible(), "reasons": {"tpu-compile": adapter.unavailable_reason("tpu-compile")}}
    message = unavailable_error(("cpu", "tpu-compile"), {"jax": info})  # type: ignore[dict-item]
    assert message is not None and "\n" not in message
    assert message.startswith("backend 'tpu-compile' is not available on this machine: jax sees cpu")
    assert "pip install -c constraints.txt -e '.[tpu-compile]'" in message


@pytest.mark.skipif(importlib.util.find_spec("libtpu") is None, reason="needs the tpu-compile extra")
def test_a_chip_libtpu_does_not_know_is_its_refusal() -> None:
    adapter = jax_adapter.Adapter({"backends": ["tpu-compile"], "tpu_topology": "v99:1x1"})
    assert "tpu-compile" not in adapter.visible()
    assert adapter.unavailable_reason("tpu-compile").startswith("libtpu cannot describe TPU topology 'v99:1x1': ")


@pytest.mark.skipif(importlib.util.find_spec("libtpu") is None, reason="needs the tpu-compile extra")
def test_the_default_target_is_one_tpu_v5e_chip() -> None:
    adapter = jax_adapter.Adapter({"backends": ["tpu-compile"]})
    target = adapter.compile_targets()["tpu-compile"]
    assert target == {"compiler": "libtpu", "version": "0.0.42.1", "topology": "v5e:1x1", "chip": "TPU v5 lite",
                      "devices": "1"}
    assert adapter.visible()["tpu-compile"] == "TPU v5 lite (v5e:1x1), compile only, libtpu 0.0.42.1"
