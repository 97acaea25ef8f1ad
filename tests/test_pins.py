"""The pins: each package pinned in one file, and tox's release matrix named after the releases it installs.

constraints-base.txt pins everything the frameworks do not decide; constraints.txt (the framework
releases this suite is tested with) and constraints-xla.txt (``tox -e xla``) bring it in with a line
``-c constraints-base.txt`` and pin only their framework releases. The release matrix's environments
(``tox -e torch-2.14.1`` and the like) either use constraints.txt, for the release it pins, or pin
their release in ``deps`` over constraints-base.txt."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE = "-c constraints-base.txt"
#: a release environment's name: the framework as tox spells it, then its release as pip does
RELEASE_ENV = re.compile(r"testenv:(torch|jax|tf)-(\d+\.\d+\.\d+)")
PACKAGE = {"torch": "torch", "jax": "jax", "tf": "tensorflow-cpu"}
KERNELS = {"torch": "torch", "jax": "jax", "tf": "tensorflow"}


def pins(lines: str | Path) -> dict[str, str]:
    """``name==version`` lines (a file, or the text of tox's ``deps``), names normalised as pip does."""
    text = lines.read_text() if isinstance(lines, Path) else lines
    found = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            found[m[1].lower().replace("_", "-")] = m[2]
    return found


@pytest.mark.parametrize("name", ["constraints.txt", "constraints-xla.txt"])
def test_a_constraints_file_brings_in_the_base_pins_and_pins_nothing_of_them_again(name: str) -> None:
    path = ROOT / name
    assert BASE in path.read_text().splitlines()
    assert not pins(path).keys() & pins(ROOT / "constraints-base.txt").keys()


def test_the_xla_pins_are_the_project_pins_but_torch_and_torch_xla() -> None:
    # torch_xla needs its own torch release; the rest comes from constraints-base.txt (checked above)
    assert pins(ROOT / "constraints-xla.txt") == {"torch": "2.9.0", "torch-xla": "2.9.0"}


def _release_envs() -> dict[str, configparser.SectionProxy]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    return {section: tox[section] for section in tox.sections() if RELEASE_ENV.fullmatch(section)}


def test_the_release_matrix_has_two_releases_of_each_framework() -> None:
    frameworks = [section.split(":")[1].split("-")[0] for section in _release_envs()]
    assert sorted(frameworks) == sorted(list(PACKAGE) * 2)


@pytest.mark.parametrize("section", sorted(_release_envs()))
def test_a_release_environment_installs_the_release_it_is_named_after(section: str) -> None:
    env = _release_envs()[section]
    framework, release = section.split(":")[1].split("-")
    if "set_env" in env:  # another release: pinned here over the project's other pins
        assert "PIP_CONSTRAINT = {toxinidir}/constraints-base.txt" in env["set_env"]
        assert pins(env["deps"])[PACKAGE[framework]] == release
    else:  # the release constraints.txt pins, which [testenv] installs with
        assert "deps" not in env
        assert pins(ROOT / "constraints.txt")[PACKAGE[framework]] == release
    assert env["commands"].startswith(f"pytest kernels/{KERNELS[framework]} ")
