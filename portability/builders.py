"""Seeded NumPy input builders for catalog entries (``Kernel(inputs=...)``).

Each returns a builder: a function of a ``numpy.random.Generator`` returning the named inputs.
Values are float64; the harness casts floating arrays to the case's dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Builder = Callable[[np.random.Generator], dict[str, Any]]


def normal(*shape: int, name: str = "x", scale: float = 1.0) -> Builder:
    return lambda rng: {name: rng.standard_normal(shape) * scale}


def uniform(*shape: int, low: float = 0.0, high: float = 1.0, name: str = "x") -> Builder:
    return lambda rng: {name: rng.uniform(low, high, shape)}


def positive(*shape: int, low: float = 0.1, high: float = 4.0, name: str = "x") -> Builder:
    return uniform(*shape, low=low, high=high, name=name)


def integers(*shape: int, low: int = -50, high: int = 50, name: str = "x") -> Builder:
    """Integer-valued float64 arrays (cast to an integer case dtype exactly)."""
    return lambda rng: {name: rng.integers(low, high, shape).astype(np.float64)}


def pair(*shape: int, names: tuple[str, str] = ("x", "y")) -> Builder:
    return lambda rng: {names[0]: rng.standard_normal(shape), names[1]: rng.standard_normal(shape)}


def matmul(m: int, k: int, n: int) -> Builder:
    return lambda rng: {"a": rng.standard_normal((m, k)), "b": rng.standard_normal((k, n))}


def well_conditioned(n: int, batch: tuple[int, ...] = (), name: str = "a") -> Builder:
    """Square matrices n*I + noise: far from singular, so low precision is judged fairly."""
    return lambda rng: {name: rng.standard_normal((*batch, n, n)) + n * np.eye(n)}


def spd(n: int, name: str = "a") -> Builder:
    """Symmetric positive definite matrices (for Cholesky and friends)."""

    def build(rng: np.random.Generator) -> dict[str, Any]:
        m = rng.standard_normal((n, n))
        return {name: m @ m.T / n + np.eye(n)}

    return build


def images(n: int, c: int, h: int, w: int, name: str = "x") -> Builder:
    return normal(n, c, h, w, name=name)


def nothing() -> Builder:
    return lambda rng: {}
