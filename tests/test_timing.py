import numpy as np
import pytest

from portability import stats, verdicts
from portability.runner import timing


def test_summarize_uses_pytest_benchmark_statistics():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["median_s"] == 3.0 and s["rounds"] == 5 and s["min_s"] == 1.0 and s["max_s"] == 100.0
    assert s["q1_s"] == 1.75 and s["q3_s"] == 28.0 and s["iqr_s"] == 26.25  # pytest-benchmark's quartiles
    assert s["outliers"] == "1;1"
    assert stats.summarize([])["median_s"] is None


def test_measure_interleaved_alternates_and_syncs_each_round():
    events = []
    t = iter(range(10_000))
    clock = lambda: next(t) * 0.01  # noqa: E731
    (a, na), (b, nb) = timing.measure_interleaved(
        [lambda: events.append("a") or "A", lambda: events.append("b") or "B"],
        lambda out: events.append(out), min_rounds=4, budget_s=0.02, clock=clock)
    assert len(a) == len(b) >= 4 and na == nb == 1
    # one calibration call each, then rounds in turn
    assert "".join(events).startswith("aAbB" + "aAbB" * 4)


class FakeDevice:
    """A kernel that takes `cost` seconds of a fake clock per call."""

    def __init__(self, cost):
        self.now, self.cost, self.calls, self.synced = 0.0, cost, 0, 0

    def clock(self):
        return self.now

    def thunk(self):
        self.now += self.cost
        self.calls += 1
        return self.calls

    def sync(self, out):
        assert out == self.calls  # every call's own output is synchronised
        self.synced += 1


def test_fast_kernels_are_called_many_times_per_round():
    dev = FakeDevice(1e-5)
    samples, calls = timing.measure(dev.thunk, dev.sync, budget_s=0.1, precision=0, clock=dev.clock)
    assert calls == 400  # 4 ms rounds at the default 25 rounds per budget
    assert all(abs(s - 1e-5) < 1e-12 for s in samples)  # seconds per call, not per round
    assert 22 <= len(samples) <= 28
    assert dev.synced == dev.calls == 1 + calls * len(samples)


def test_slow_kernels_get_one_call_per_round_and_the_minimum_rounds():
    dev = FakeDevice(0.5)
    samples, calls = timing.measure(dev.thunk, dev.sync, budget_s=0.2, clock=dev.clock)
    assert calls == 1 and len(samples) == timing.MIN_ROUNDS


def test_identical_timings_are_never_a_slowdown():
    rng = np.random.default_rng(1)
    a = list(1e-3 * (1 + 0.05 * rng.standard_normal(50)))
    r = stats.ratio_ci(a, a)
    assert r.low < 1.0 < r.high
    assert not verdicts.is_slowdown(r, 1.5)


def test_a_clear_slowdown_is_flagged_and_a_marginal_one_is_not():
    rng = np.random.default_rng(2)
    ref = 1e-3 * (1 + 0.05 * rng.standard_normal(40))
    slow = stats.ratio_ci(list(ref * 3), list(ref))
    assert 2.5 < slow.low <= slow.ratio <= slow.high < 3.5
    assert verdicts.is_slowdown(slow, 1.5)
    # 1.5x median with heavy noise: the interval straddles the threshold, so no verdict
    noisy = 1e-3 * (1 + 0.6 * np.abs(rng.standard_normal(6)))
    marginal = stats.ratio_ci(list(noisy * 1.5), list(noisy[::-1]))
    assert marginal.low < 1.5
    assert not verdicts.is_slowdown(marginal, 1.5)


def test_ratio_ci_is_reproducible():
    a, b = [1.0, 1.1, 1.2, 0.9], [0.5, 0.6, 0.55]
    assert stats.ratio_ci(a, b) == stats.ratio_ci(a, b)


def test_measure_syncs_inside_every_round_and_respects_budget():
    events = []
    t = iter(range(10_000))

    def clock():
        events.append("clock")
        return next(t) * 0.01

    samples, calls = timing.measure(lambda: events.append("call") or "out", lambda o: events.append(f"sync {o}"),
                                    min_rounds=3, budget_s=0.1, clock=clock)
    assert calls == 1 and len(samples) >= 3
    rounds = "".join({"clock": "c", "call": "f", "sync out": "s"}[e] for e in events)
    # calibration call, then every round: read the clock, call, synchronise, read the clock (sync timed)
    assert rounds.startswith("cfsc" + "c" + "cfsc" * 3)
    assert rounds.count("fs") == len(samples) + 1
    assert len(samples) < 10  # stopped once the budget was spent


def test_against_a_stored_run_the_machines_run_to_run_noise_is_allowed_for():
    from portability.verdicts import Verdict, judge_slowdown

    ref = list(1e-3 * (1 + 0.02 * np.random.default_rng(3).standard_normal(30)))
    facts = {"timing": {"samples_s": [x * 2.5 for x in ref]}}
    baseline = {"timing": {"samples_s": ref}}
    same_run = {"timing": facts["timing"], "reference_timing": {"samples_s": ref}}
    ok = Verdict("pass", "")
    # 2.5x slower than the host cpu timed alongside: a slowdown
    v, r = judge_slowdown(ok, same_run, None, 1.5, baseline_noise=2.0)
    assert v.outcome == "slowdown" and r["reference"] == "host cpu" and r["noise"] == 1.0
    # 2.5x slower than a stored run: within threshold x noise (3x), so not a verdict
    v, r = judge_slowdown(ok, facts, baseline, 1.5, baseline_noise=2.0)
    assert v.outcome == "pass" and r["reference"] == "baseline" and 2.3 < r["ratio"] < 2.7
    v, _ = judge_slowdown(ok, facts, baseline, 1.5, baseline_noise=1.0)
    assert v.outcome == "slowdown" and "than the baseline" in v.message
    # a failure stays a failure, with its ratio still recorded
    v, r = judge_slowdown(Verdict("fail:dtype", "x"), same_run, None, 1.5)
    assert v.outcome == "fail:dtype" and r is not None


@pytest.mark.parametrize(("n", "ranks"), [
    (5, None),  # too few for 95%: P(all on one side of the median) = 1/16 > 0.05
    (6, (1, 6)), (8, (1, 8)), (9, (2, 8)), (10, (2, 9)), (20, (6, 15)), (100, (40, 61)),
])
def test_the_medians_interval_is_the_order_statistics_of_the_binomial(n: int, ranks: tuple[int, int] | None) -> None:
    samples = [float(i) for i in range(1, n + 1)][::-1]  # ranks are of the sorted samples
    got = stats.median_ci(samples)
    assert got == (None if ranks is None else (float(ranks[0]), float(ranks[1])))


def test_the_medians_interval_covers_the_median_at_its_level() -> None:
    """Over many draws the interval holds the true median about 95% of the time (at least, being exact
    ranks of a discrete distribution): 2,000 draws of 12 exponential samples."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        lo, hi = stats.median_ci(list(rng.exponential(1.0, 12)))
        hits += lo <= np.log(2) <= hi
    assert 0.95 <= hits / 2000 <= 0.99


def test_with_a_precision_rounds_stop_once_the_median_is_known() -> None:
    dev = FakeDevice(1e-5)  # every round the same: the interval has no width once it exists
    samples, _ = timing.measure(dev.thunk, dev.sync, budget_s=0.1, precision=0.02, clock=dev.clock)
    assert len(samples) == 6  # the first count with a 95% interval
    dev = FakeDevice(1e-5)
    full, _ = timing.measure(dev.thunk, dev.sync, budget_s=0.1, precision=0.0, clock=dev.clock)
    assert len(full) >= 22  # off: the whole budget, as before


class NoisyDevice(FakeDevice):
    """Each call costs 1 or 3 times ``cost`` in turn, in runs of ``period`` rounds' worth of calls."""

    def __init__(self, cost: float, calls_per_phase: int) -> None:
        super().__init__(cost)
        self.phase = calls_per_phase

    def thunk(self):
        self.now += self.cost * (3 if (self.calls // self.phase) % 2 else 1)
        self.calls += 1
        return self.calls


def test_a_median_never_known_that_well_spends_the_budget() -> None:
    dev = NoisyDevice(1e-4, 40)  # one round (40 calls of 4 ms rounds) cheap, the next three times dearer
    samples, _ = timing.measure(dev.thunk, dev.sync, budget_s=0.1, precision=0.02, clock=dev.clock)
    assert stats.median_ci_width(samples) > 0.02
    assert dev.now >= 0.1  # the budget, the ceiling, was spent


def test_interleaved_rounds_stop_only_when_every_series_is_known() -> None:
    steady, noisy = FakeDevice(1e-5), NoisyDevice(1e-4, 40)
    clock = lambda: steady.now + noisy.now  # noqa: E731  one machine's time
    series = timing.measure_interleaved([steady.thunk, noisy.thunk], lambda out: None, budget_s=0.05,
                                        precision=0.02, clock=clock)
    assert len(series[0][0]) == len(series[1][0]) > 6  # the steady series alone would have stopped at 6
