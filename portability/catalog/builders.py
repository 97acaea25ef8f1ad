"""Seeded NumPy input builders for catalog entries (``Kernel(inputs=...)``).

Each returns a builder: a function of a ``Draw`` (a seeded ``numpy.random.Generator`` plus the
run's ``--size``) returning the named inputs. Values are float64; the harness casts floating
arrays to the case's dtype. A dimension is an int, or a ``(small, medium)`` pair that follows
``--size``: ``normal((64, 1024), (64, 1024))`` is 64x64 at ``small`` and 1024x1024 at ``medium``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from portability.catalog.kernel import Draw, Keep

Dim = int | tuple[int, int]
Builder = Callable[[Draw], dict[str, Any]]

#: Common sizes as (small, medium) pairs.
VEC = (4096, 1 << 20)  # a vector: 1M elements at medium
SIDE = (64, 512)  # a matrix side: 512x512 at medium
BIG_SIDE = (64, 1024)  # a matrix side for elementwise work: 1M elements at medium


def normal(*shape: Dim, name: str = "x", scale: float = 1.0) -> Builder:
    return lambda rng: {name: rng.standard_normal(rng.dims(*shape)) * scale}


def uniform(*shape: Dim, low: float = 0.0, high: float = 1.0, name: str = "x") -> Builder:
    return lambda rng: {name: rng.uniform(low, high, rng.dims(*shape))}


def positive(*shape: Dim, low: float = 0.1, high: float = 4.0, name: str = "x") -> Builder:
    return uniform(*shape, low=low, high=high, name=name)


def integers(*shape: Dim, low: int = -50, high: int = 50, name: str = "x") -> Builder:
    """Integer-valued float64 arrays (cast to an integer case dtype exactly)."""
    return lambda rng: {name: rng.integers(low, high, rng.dims(*shape)).astype(np.float64)}


def pair(*shape: Dim, names: tuple[str, str] = ("x", "y")) -> Builder:
    def build(rng: Draw) -> dict[str, Any]:
        dims = rng.dims(*shape)
        return {names[0]: rng.standard_normal(dims), names[1]: rng.standard_normal(dims)}

    return build


def int_pair(*shape: Dim, low: int = -50, high: int = 50) -> Builder:
    """Integer-valued pairs x, y: exact in every swept dtype, with ties between x and y."""

    def build(rng: Draw) -> dict[str, Any]:
        dims = rng.dims(*shape)
        return {"x": rng.integers(low, high, dims).astype(np.float64),
                "y": rng.integers(low, high, dims).astype(np.float64)}

    return build


def matmul(m: Dim, k: Dim, n: Dim) -> Builder:
    def build(rng: Draw) -> dict[str, Any]:
        m_, k_, n_ = rng.dims(m, k, n)
        return {"a": rng.standard_normal((m_, k_)), "b": rng.standard_normal((k_, n_))}

    return build


def well_conditioned(n: Dim, batch: tuple[Dim, ...] = (), name: str = "a") -> Builder:
    """Square matrices n*I + noise: far from singular, so low precision is judged fairly."""

    def build(rng: Draw) -> dict[str, Any]:
        (side,) = rng.dims(n)
        return {name: rng.standard_normal((*rng.dims(*batch), side, side)) + side * np.eye(side)}

    return build


def spd(n: Dim, name: str = "a") -> Builder:
    """Symmetric positive definite matrices (for Cholesky and friends)."""

    def build(rng: Draw) -> dict[str, Any]:
        (side,) = rng.dims(n)
        m = rng.standard_normal((side, side))
        return {name: m @ m.T / side + np.eye(side)}

    return build


def dense_layers(*widths: Dim) -> Builder:
    """A batch ``x`` and, per layer of these widths, weights ``w{i}`` (out, in) scaled by
    1/sqrt(in) and small biases ``b{i}``: the parameters of a stack of Linear layers."""

    def build(rng: Draw) -> dict[str, Any]:
        sizes = rng.dims(*widths)
        out = {"x": rng.standard_normal((rng.pick(32, 256), sizes[0]))}
        for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
            out[f"w{i}"] = rng.standard_normal((b, a)) / np.sqrt(a)
            out[f"b{i}"] = rng.standard_normal(b) * 0.1
        return out

    return build


def linear_layer(batch: Dim, n_in: Dim, n_out: Dim, *, layout: str = "out_in", bias_scale: float = 0.1) -> Builder:
    """One dense layer: a batch ``x`` (batch, n_in), a weight ``w`` scaled by 1/sqrt(n_in) and a bias ``b``
    (normal x ``bias_scale``). ``layout="out_in"`` is torch's ``Linear.weight`` (n_out, n_in); ``"in_out"``
    a Keras ``Dense`` kernel (n_in, n_out)."""
    if layout not in ("out_in", "in_out"):
        raise ValueError(f"unknown layout {layout!r}; valid: out_in, in_out")

    def build(rng: Draw) -> dict[str, Any]:
        m, k, n = rng.dims(batch, n_in, n_out)
        return {"x": rng.standard_normal((m, k)),
                "w": rng.standard_normal((n, k) if layout == "out_in" else (k, n)) / np.sqrt(k),
                "b": rng.standard_normal(n) * bias_scale}

    return build


def sparse_coo(rows: Dim, cols: int, density: float) -> Builder:
    """About ``density`` of a (rows, cols) matrix in COO form, the fields of a ``tf.sparse.SparseTensor``:
    int64 ``indices`` (nnz, 2) in row-major order, ``values`` (normal x 10) and ``dense_shape``."""

    def build(rng: Draw) -> dict[str, Any]:
        (r,) = rng.dims(rows)
        flat = np.flatnonzero(rng.uniform(size=r * cols) < density)
        return {"indices": Keep(np.stack([flat // cols, flat % cols], 1).astype(np.int64)),
                "values": rng.standard_normal(flat.size) * 10,
                "dense_shape": Keep(np.array([r, cols], dtype=np.int64))}

    return build


def sparse_matrix(*shape: Dim, density: float = 0.1, name: str = "x") -> Builder:
    """A matrix with about ``density`` of its entries nonzero, small integers of either sign:
    exact in every dtype."""

    def build(rng: Draw) -> dict[str, Any]:
        dims = rng.dims(*shape)
        values = rng.integers(1, 20, dims) * rng.choice([-1.0, 1.0], dims)
        return {name: np.where(rng.random(dims) < density, values, 0.0)}

    return build


def images(n: Dim, c: Dim, h: Dim, w: Dim, name: str = "x") -> Builder:
    return normal(n, c, h, w, name=name)


def nothing() -> Builder:
    return lambda rng: {}
