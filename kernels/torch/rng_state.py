"""Random integers, distributions from the usage sample, and the seeding / RNG-state APIs that
training scripts call to make runs repeatable.

Samples are checked by their properties (support, frequencies, moments with bounds several standard
errors wide). Seeding and state restoring are checked by what users rely on: draws made after
restoring a state (or re-seeding) repeat the earlier draws exactly on the case's device.
"""

import numpy as np
import scipy.special as sp

from portability.catalog import Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("int64", "int32", "int16", "int8", "uint8")


def _dtype(c):
    return getattr(c.fw, c.dtype)


def _count(rng):
    return {"n": rng.pick(1 << 16, 1 << 20)}


def _draws(rng):
    return {"n": rng.pick(1 << 14, 1 << 20)}


# -- randint ---------------------------------------------------------------------------------------

LOW, HIGH = 3, 13


def _check_randint(out, n):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == (n,), f"shape {out.shape}"
    assert np.all(out == np.round(out)), "non-integer values"
    assert out.min() >= LOW and out.max() < HIGH, f"values outside [{LOW}, {HIGH}): {out.min()}..{out.max()}"
    freq = np.bincount(out.astype(int) - LOW, minlength=HIGH - LOW) / n
    # Each frequency has a standard error below 0.0012 (n >= 65536): 0.01 is 8 of them.
    assert np.max(np.abs(freq - 1 / (HIGH - LOW))) < 0.01, f"frequencies far from uniform: {np.round(freq, 4)}"


# -- torch.random.manual_seed ----------------------------------------------------------------------

SEED, OTHER = 1234, 4321


def _manual_seed_call(c, n):
    torch = c.fw

    def draw():
        return torch.randn(n, device=c.device, dtype=_dtype(c))

    generator = c.fn(SEED)
    first = draw()
    seeded = [generator is torch.default_generator, generator.initial_seed() == SEED]
    c.fn(SEED)
    again = draw()
    c.fn(OTHER)
    return first, again, draw(), seeded


def _check_manual_seed(out, n):
    first, again, other = (np.asarray(o, dtype=np.float64) for o in out[:3])
    assert all(out[3:]), "manual_seed did not return the default generator seeded with the seed"
    assert first.shape == (n,), f"shape {first.shape}"
    assert np.array_equal(first, again), "re-seeding with the same seed did not repeat the draws"
    assert np.mean(first == other) < 0.01, "a different seed repeated the draws"
    assert abs(first.mean()) < 8 / np.sqrt(n) + 0.01, f"mean {first.mean():.4f}, expected 0"
    assert abs(first.std() - 1) < 8 / np.sqrt(2 * n) + 0.01, f"std {first.std():.4f}, expected 1"


# -- set_rng_state_all (CUDA and XPU) --------------------------------------------------------------

def _set_rng_state_all_call(module):
    """accelerate's checkpoint round trip: save every device generator's state, draw, restore, draw."""

    def call(c, n):
        torch = c.fw
        accel = getattr(torch, module)
        saved = accel.get_rng_state_all()
        first = torch.rand(n, device=c.device)
        c.fn(saved)
        return first, torch.rand(n, device=c.device), len(saved)

    return call


def _check_replayed(device_kind):
    def check(out, n):
        first, again, states = np.asarray(out[0]), np.asarray(out[1]), int(out[2])
        assert first.shape == (n,) and again.shape == (n,), f"shapes {first.shape}, {again.shape}"
        assert np.array_equal(first, again), (
            f"draws after set_rng_state_all differ from the saved ones ({states} {device_kind} generator"
            f" states saved; they do not govern this device)")

    return check


# -- Beta ------------------------------------------------------------------------------------------

def _beta_inputs(rng):
    # mixup's Beta(alpha, alpha) with alpha < 1 (U-shaped), and a skewed Beta(2, 5).
    return {"a": np.array([0.4, 2.0]), "b": np.array([0.4, 5.0]), "n": rng.pick(1 << 13, 1 << 19),
            "points": np.array([[0.05, 0.1], [0.5, 0.3], [0.9, 0.6]])}


def _beta_setup(c, a, b, n, points):
    d = c.fn(a, b)
    return lambda: (d.sample((n,)), d.log_prob(points))


def _check_moments(samples, mean, var, kurtosis, n):
    """Means and variances per column within 8 standard errors (the variance's standard error is
    var * sqrt((kurtosis - 1) / n)), plus 1% for rounding the samples to a half-precision dtype."""
    se_mean, se_var = np.sqrt(var / n), var * np.sqrt((kurtosis - 1) / n)
    assert np.all(np.abs(samples.mean(axis=0) - mean) < 8 * se_mean + 0.01 * np.sqrt(var)), (
        f"means {samples.mean(axis=0)}, expected {mean}")
    assert np.all(np.abs(samples.var(axis=0) - var) < 8 * se_var + 0.01 * var), (
        f"variances {samples.var(axis=0)}, expected {var}")


def _check_beta(out, a, b, n, points):
    samples, log_prob = (np.asarray(o, dtype=np.float64) for o in out)
    assert samples.shape == (n, 2), f"shape {samples.shape}"
    assert np.all((samples >= 0) & (samples <= 1)), "samples outside [0, 1]"
    s = a + b
    excess = 6 * ((a - b) ** 2 * (s + 1) - a * b * (s + 2)) / (a * b * (s + 2) * (s + 3))
    _check_moments(samples, a / s, a * b / (s**2 * (s + 1)), 3 + excess, n)
    expected = (a - 1) * np.log(points) + (b - 1) * np.log1p(-points) - sp.betaln(a, b)
    # log_prob of three points; 3e-2 covers bfloat16's rounding of the points and of lgamma.
    assert np.allclose(log_prob, expected, rtol=3e-2, atol=3e-2), f"log_prob {log_prob}, expected {expected}"


# -- Gamma.sample ----------------------------------------------------------------------------------

def _gamma_inputs(rng):
    return {"k": np.array([0.5, 3.0]), "rate": np.array([1.0, 2.0]), "n": rng.pick(1 << 13, 1 << 19)}


def _gamma_setup(c, k, rate, n):
    d = c.fw.distributions.gamma.Gamma(k, rate)
    return lambda: c.fn(d, (n,))


def _check_gamma(out, k, rate, n):
    samples = np.asarray(out, dtype=np.float64)
    assert samples.shape == (n, 2), f"shape {samples.shape}"
    assert np.all(np.isfinite(samples)) and np.all(samples >= 0), "samples negative or not finite"
    _check_moments(samples, k / rate, k / rate**2, 3 + 6 / k, n)


KERNELS = [
    Kernel("torch.randint", "random", _count, dtypes=(*INTS, *FLOATS), out_dtype={d: d for d in (*INTS, *FLOATS)},
           call=lambda c, n: c.fn(LOW, HIGH, (n,), dtype=_dtype(c), device=c.device), random=True,
           check=_check_randint),
    Kernel("torch.random.manual_seed", "random", _draws, dtypes=FLOATS, call=_manual_seed_call, random=True,
           check=_check_manual_seed, note="the same seed repeats randn on the case's device; another does not"),
    # CUDA-only: on the cpu backend the saved CUDA states (none without a GPU) leave the CPU
    # generator alone, so the draws are not replayed and the case fails, honestly.
    Kernel("torch.cuda.set_rng_state_all", "random", _count, dtypes=("float32",),
           call=_set_rng_state_all_call("cuda"), random=True, check=_check_replayed("CUDA"), device_only="cuda",
           note="get_rng_state_all, draw, set_rng_state_all, draw again: the draws must repeat"),
    # XPU-only (Intel GPUs): fails, honestly, on the cpu backend and on CUDA GPUs alike.
    Kernel("torch.xpu.set_rng_state_all", "random", _count, dtypes=("float32",),
           call=_set_rng_state_all_call("xpu"), random=True, check=_check_replayed("XPU"), device_only="xpu",
           note="get_rng_state_all, draw, set_rng_state_all, draw again: the draws must repeat"),
    Kernel("torch.distributions.beta.Beta", "distribution", _beta_inputs, dtypes=FLOATS, setup=_beta_setup,
           random=True, check=_check_beta, note="Beta(0.4, 0.4) (mixup) and Beta(2, 5): sample and log_prob"),
    Kernel("torch.distributions.gamma.Gamma.sample", "distribution", _gamma_inputs, dtypes=FLOATS,
           setup=_gamma_setup, random=True, check=_check_gamma, note="shape 0.5 (mass near 0) and 3"),
]
