"""The catalog: one ``Kernel`` per public framework API, declared in ``kernels/<framework>/<category>.py``.

This package is the authoring API: a catalog file imports everything it needs from here
(``from portability.catalog import FLOATS, Kernel, normal, paper``). A catalog module defines
``KERNELS = [Kernel(...), ...]`` and must not import its framework at module level: the pytest
process collects the catalog without importing any framework; the worker that runs a case hands
the framework to the kernel's callables through ``Ctx``.

Input builders are NumPy functions of a seeded ``numpy.random.Generator``. Their floating-point
arrays are cast to the case's dtype on the way to the device (wrap an array in ``Keep`` to pass
it unchanged); the reference sees the same values, rounded to that dtype, in float64.
"""

from portability.catalog.builders import (
    BIG_SIDE,
    SIDE,
    VEC,
    dense_layers,
    images,
    int_pair,
    integers,
    linear_layer,
    matmul,
    normal,
    nothing,
    pair,
    positive,
    sparse_coo,
    sparse_matrix,
    spd,
    uniform,
    well_conditioned,
)
from portability.catalog.kernel import (
    FLOATS,
    CatalogError,
    Draw,
    Keep,
    Kernel,
    block_mean,
    copy_params,
    monitored_steps,
    one_rank_group,
    paper,
    raises,
    same,
    step_graph,
    strict_graph,
    strict_placement,
    strict_session,
    tmpdir,
    unchecked,
)
from portability.vocabulary import DEFAULT_TOL

__all__ = [
    "BIG_SIDE", "DEFAULT_TOL", "FLOATS", "SIDE", "VEC", "CatalogError", "Draw", "Keep", "Kernel", "block_mean",
    "copy_params", "dense_layers", "images", "int_pair", "integers", "linear_layer", "matmul", "monitored_steps",
    "normal", "nothing", "one_rank_group", "pair", "paper", "positive", "raises", "same", "sparse_coo",
    "sparse_matrix", "spd", "step_graph", "strict_graph", "strict_placement", "strict_session", "tmpdir",
    "unchecked", "uniform", "well_conditioned",
]
