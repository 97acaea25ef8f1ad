"""Which CPUs each framework worker is pinned to (``portability.runner.cpus``): pure choices."""

from __future__ import annotations

import pytest

from portability.runner import cpus


def test_parse_counts_and_all() -> None:
    assert cpus.parse(None, 4) == 1  # the default
    assert cpus.parse("3", 4) == 3
    assert cpus.parse(" ALL ", 4) is None


@pytest.mark.parametrize("value", ["0", "5", "-1", "two", ""])
def test_parse_refuses_with_the_valid_values(value: str) -> None:
    with pytest.raises(ValueError, match=r"^--cpu-threads .* \(4 CPUs usable\); valid: 1-4 or all$"):
        cpus.parse(value, 4)


def test_workers_get_cpus_of_their_own_from_the_top() -> None:
    usable = [0, 1, 2, 3]
    assert cpus.choose(1, 0, usable) == [3]  # a serial run
    assert [cpus.choose(1, slot, usable) for slot in range(4)] == [[3], [2], [1], [0]]  # pytest -n 4
    assert [cpus.choose(2, slot, usable) for slot in range(2)] == [[2, 3], [0, 1]]
    assert cpus.choose(1, 5, usable) == [2]  # more workers than CPUs: they share, in turn
    assert cpus.choose(None, 1, usable) == usable  # all: every worker everywhere
    assert cpus.choose(1, 0, [5, 9]) == [9]  # the allowed set, not 0..n-1
