"""The numerical check (runner.checks.compare) and the input casting it relies on."""

import ml_dtypes
import numpy as np

from portability.runner.checks import cast_input, compare


def test_within_tolerance_passes_and_reports_tolerance_used():
    ref = np.linspace(1, 2, 100)
    got = compare([ref * (1 + 5e-5)], [ref], 1e-4, 1e-5)
    assert got["ok"] and 0.3 < got["tolerance_used"] < 1


def test_beyond_tolerance_fails_with_counts():
    ref = np.ones(10)
    out = ref.copy()
    out[3] = 1.1
    got = compare([out], [ref], 1e-4, 1e-5)
    assert not got["ok"] and "at 1 of 10 elements" in got["message"]


def test_nan_where_reference_has_none_fails():
    ref = np.ones(4)
    out = np.array([1, np.nan, 1, 1.0])
    assert "NaN at 1 of 4" in compare([out], [ref], 1e-2, 1e-2)["message"]
    assert compare([out], [out.copy()], 1e-2, 1e-2)["ok"]


def test_integers_compare_exactly_and_shapes_must_match():
    assert not compare([np.array([1, 2, 3])], [np.array([1, 2, 4])], 1, 1)["ok"]
    assert "shape (3,)" in compare([np.ones(3)], [np.ones(4)], 1, 1)["message"]
    assert "2 parts" in compare([np.ones(3), np.ones(3)], [np.ones(3)], 1, 1)["message"]


def test_atol_scales_with_the_reference_magnitude():
    ref = np.array([1000.0, 1e-6])
    out = np.array([1000.0, 1e-3])  # absolute error 1e-3, tiny next to max|ref|
    assert compare([out], [ref], 1e-4, 1e-5)["ok"]


def test_cast_input_rounds_reference_to_the_case_dtype():
    x = np.array([1.0 + 2**-12, 3.3])
    fw, ref = cast_input(x, "bfloat16")
    assert fw.dtype == ml_dtypes.bfloat16
    assert ref.dtype == np.float64
    assert ref[0] == 1.0  # 1 + 2^-12 is not representable in bfloat16
    ints, _ = cast_input(np.array([1.0, -2.0]), "int32")
    assert ints.dtype == np.int32
    idx = np.array([0, 2], dtype=np.int64)
    assert cast_input(idx, "float16")[0] is idx  # integer arrays keep their dtype
