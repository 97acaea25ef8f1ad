import numpy as np

from portability import timing


def test_summarize_uses_pytest_benchmark_statistics():
    s = timing.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["median_s"] == 3.0 and s["rounds"] == 5 and s["min_s"] == 1.0 and s["max_s"] == 100.0
    assert s["q1_s"] == 1.75 and s["q3_s"] == 28.0 and s["iqr_s"] == 26.25  # pytest-benchmark's quartiles
    assert s["outliers"] == "1;1"
    assert timing.summarize([])["median_s"] is None


def test_measure_interleaved_alternates_and_syncs_each_round():
    events = []
    t = iter(range(10_000))
    clock = lambda: next(t) * 0.01  # noqa: E731
    a, b = timing.measure_interleaved([lambda: events.append("a") or "A", lambda: events.append("b") or "B"],
                                      lambda out: events.append(out), min_rounds=4, budget_s=0.02, clock=clock)
    assert len(a) == len(b) >= 4
    assert "".join(events).startswith("aAbB" * 4)


def test_identical_timings_are_never_a_slowdown():
    rng = np.random.default_rng(1)
    a = list(1e-3 * (1 + 0.05 * rng.standard_normal(50)))
    r = timing.ratio_ci(a, a)
    assert r.low < 1.0 < r.high
    assert not timing.is_slowdown(r, 1.5)


def test_a_clear_slowdown_is_flagged_and_a_marginal_one_is_not():
    rng = np.random.default_rng(2)
    ref = 1e-3 * (1 + 0.05 * rng.standard_normal(40))
    slow = timing.ratio_ci(list(ref * 3), list(ref))
    assert 2.5 < slow.low <= slow.ratio <= slow.high < 3.5
    assert timing.is_slowdown(slow, 1.5)
    # 1.5x median with heavy noise: the interval straddles the threshold, so no verdict
    noisy = 1e-3 * (1 + 0.6 * np.abs(rng.standard_normal(6)))
    marginal = timing.ratio_ci(list(noisy * 1.5), list(noisy[::-1]))
    assert marginal.low < 1.5
    assert not timing.is_slowdown(marginal, 1.5)


def test_ratio_ci_is_reproducible():
    a, b = [1.0, 1.1, 1.2, 0.9], [0.5, 0.6, 0.55]
    assert timing.ratio_ci(a, b) == timing.ratio_ci(a, b)


def test_measure_syncs_inside_every_round_and_respects_budget():
    events = []
    t = iter(range(10_000))

    def clock():
        events.append("clock")
        return next(t) * 0.01

    samples = timing.measure(lambda: events.append("call") or "out", lambda o: events.append(f"sync {o}"),
                             min_rounds=3, budget_s=0.1, clock=clock)
    assert len(samples) >= 3
    rounds = "".join({"clock": "c", "call": "f", "sync out": "s"}[e] for e in events)
    # every round: read the clock, call, synchronise, read the clock again (the sync is timed)
    assert rounds.startswith("c" + "cfsc" * 3)
    assert rounds.count("fs") == len(samples)
    assert len(samples) < 10  # stopped once the budget was spent
