"""Random sampling, distributions and random initialisers: checked by their properties.

Each check looks at what holds in every dtype (shape, support, permutation, sums) and at
moments with bounds several standard errors wide, so a correct sampler never fails by chance.
"""

import numpy as np

from portability.catalog import Kernel, nothing

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: One size: torch refuses float16 permutations longer than 2049 (bfloat16 it accepts, and rounds),
#: so a longer permutation would only test that refusal.
N_PERM = 1000
PERM_DTYPES = ("int64", "int32", "float32", "float64", "float16", "bfloat16")
#: Sample counts stay large at small where a moment bound needs them: at 20000 draws the VonMises
#: circular-mean bound is 5 standard errors; at 256x256 the std bound of randn is 7, the mean
#: bound of bernoulli 5.
N_VM = (20000, 1 << 18)  # VonMises samples by rejection in a Python loop: 1M draws take seconds
SQUARE = (256, 1024)
DRAWS = (4096, 65536)


def _dtype(c):
    return getattr(c.fw, c.dtype)


def _is_permutation(out, *_):
    out = np.asarray(out)
    assert out.shape == (N_PERM,), f"shape {out.shape}"
    assert np.array_equal(np.sort(out), np.arange(N_PERM)), "not a permutation of 0..n-1"


def _side(rng):
    return {"n": rng.pick(*SQUARE)}


def _moments(mean, std, support=None):
    def check(out, n):
        out = np.asarray(out, dtype=np.float64)
        assert out.shape == (n, n), f"shape {out.shape}"
        assert np.all(np.isfinite(out)), "non-finite samples"
        if support is not None:  # [low, high)
            assert support[0] <= out.min() and out.max() < support[1], (
                f"samples outside [{support[0]}, {support[1]}): min {out.min()}, max {out.max()}")
        se = std / np.sqrt(out.size)
        assert abs(out.mean() - mean) < 8 * se + 0.01 * std, f"mean {out.mean():.4f}, expected {mean}"
        assert abs(out.std() - std) < 0.02 * std, f"std {out.std():.4f}, expected {std}"

    return check


def _probs(n):
    return lambda rng: {"p": rng.dirichlet(np.ones(16)), "n": rng.pick(*n)}


def _check_multinomial_draws(out, p, rows):
    out = np.asarray(out)
    assert out.shape == (rows, 4), f"shape {out.shape}"
    assert out.min() >= 0 and out.max() < p.size, "category out of range"
    assert np.all(np.diff(np.sort(out, axis=1), axis=1) != 0), "repeated category without replacement"
    first = np.bincount(out[:, 0], minlength=p.size) / out.shape[0]
    assert np.max(np.abs(first - p / p.sum())) < 0.04, "first draw frequencies far from probs"


def _multinomial_dist_setup(c, p, n):
    d = c.fn(total_count=50, probs=p)
    return lambda: d.sample((n,))


def _check_multinomial_counts(out, p, n):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == (n, p.size), f"shape {out.shape}"
    assert np.all(out >= 0) and np.all(out == np.round(out)), "counts not non-negative integers"
    assert np.all(out.sum(axis=1) == 50), "counts do not sum to total_count"
    freq = out.mean(axis=0) / 50
    assert np.max(np.abs(freq - p / p.sum())) < 0.01, "mean counts far from total_count * probs"


def _vonmises_inputs(rng):
    return {"loc": np.array(0.7), "concentration": np.array(4.0), "n": rng.pick(*N_VM)}


def _vonmises_setup(c, loc, concentration, n):
    # The harness hands 0-d arrays to torch as shape (1,) (np.ascontiguousarray makes them 1-d):
    # restore the scalar parameters users pass.
    d = c.fn(loc.reshape(()), concentration.reshape(()))
    return lambda: d.sample((n,))


def _check_vonmises(out, loc, concentration, n):
    import scipy.special as sp

    out = np.asarray(out, dtype=np.float64)
    assert out.shape == (n,), f"shape {out.shape}"
    assert np.all(np.abs(out) <= np.pi + 1e-2), "samples outside [-pi, pi]"
    z = np.mean(np.exp(1j * out))
    # Circular mean direction and mean resultant length I1(k)/I0(k).
    assert abs(np.angle(z) - float(loc)) < 0.02, f"circular mean {np.angle(z):.4f}, expected {float(loc)}"
    r = sp.i1(float(concentration)) / sp.i0(float(concentration))
    assert abs(abs(z) - r) < 0.015, f"mean resultant length {abs(z):.4f}, expected {r:.4f}"


def _relaxed_setup(c, p, n):
    d = c.fn(c.fw.tensor(0.5, dtype=p.dtype, device=p.device), probs=p)
    return lambda: d.rsample((n,))


def _check_simplex(out, p, n):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == (n, p.size), f"shape {out.shape}"
    assert np.all(out >= 0) and np.all(out <= 1), "samples outside [0, 1]"
    # bfloat16 samples are normalised in bfloat16 (a logsumexp rounded to 8 bits): rows sum to 1
    # within ~0.02 there (0.004 in float16, exactly in float32); 4e-2 is bfloat16's usual rtol.
    dev = np.max(np.abs(out.sum(axis=1) - 1.0))
    assert dev <= 4e-2, f"samples not on the simplex: a row sums to 1 +- {dev:.3g}"
    winners = np.bincount(out.argmax(axis=1), minlength=p.size) / out.shape[0]
    # The argmax of a Gumbel-softmax sample is a Categorical(probs) draw.
    assert np.max(np.abs(winners - p / p.sum())) < 0.04, "argmax frequencies far from probs"


def _xavier_shape(rng):
    return {"fan_out": rng.pick(128, 1024), "fan_in": rng.pick(64, 1024)}


def _xavier_setup(c, fan_out, fan_in):
    w = c.fw.empty(fan_out, fan_in, dtype=_dtype(c), device=c.device)
    return lambda: c.fn(w)


def _check_xavier(out, fan_out, fan_in):
    out = np.asarray(out, dtype=np.float64)
    a = np.sqrt(6.0 / (fan_out + fan_in))
    assert out.shape == (fan_out, fan_in), f"shape {out.shape}"
    assert np.all(np.abs(out) <= a * 1.01), f"values outside +-{a:.4f}"
    assert abs(out.std() - a / np.sqrt(3)) < 0.03 * a, f"std {out.std():.4f}, expected {a / np.sqrt(3):.4f}"


def _check_bernoulli(out, p):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == p.shape, f"shape {out.shape}"
    assert np.all((out == 0) | (out == 1)), "values other than 0 and 1"
    assert abs(out.mean() - p.mean()) < 0.01, f"mean {out.mean():.4f}, expected {p.mean():.4f}"


KERNELS = [
    # From the paper's sample.
    Kernel("torch.randperm", "random", nothing(), dtypes=PERM_DTYPES, out_dtype={d: d for d in PERM_DTYPES},
           call=lambda c: c.fn(N_PERM, dtype=_dtype(c), device=c.device), random=True, check=_is_permutation,
           tags=("paper",), decile=80, frequency=63,
           note="n = 1000 is exact in float16 but not in bfloat16 (integers above 256 round)"),
    Kernel("torch.distributions.Multinomial", "distribution", _probs((1024, 65536)), dtypes=FLOATS,
           setup=_multinomial_dist_setup, random=True, check=_check_multinomial_counts,
           tags=("paper",), decile=80, frequency=65),
    Kernel("torch.distributions.VonMises", "distribution", _vonmises_inputs, dtypes=FLOATS,
           setup=_vonmises_setup, random=True, check=_check_vonmises, tags=("paper",), decile=30, frequency=3),
    Kernel("torch.distributions.RelaxedOneHotCategorical", "distribution", _probs(DRAWS), dtypes=FLOATS,
           setup=_relaxed_setup, random=True, check=_check_simplex, tags=("paper",), decile=20, frequency=2),
    Kernel("torch.nn.init.xavier_uniform_", "random", _xavier_shape, dtypes=FLOATS, setup=_xavier_setup,
           random=True, check=_check_xavier, tags=("paper",), decile=70, frequency=27),
    # Common samplers.
    Kernel("torch.randn", "random", _side, dtypes=FLOATS,
           call=lambda c, n: c.fn(n, n, dtype=_dtype(c), device=c.device), random=True, check=_moments(0.0, 1.0)),
    Kernel("torch.rand", "random", _side, dtypes=FLOATS,
           call=lambda c, n: c.fn(n, n, dtype=_dtype(c), device=c.device), random=True,
           check=_moments(0.5, np.sqrt(1 / 12), support=(0.0, 1.0))),
    Kernel("torch.bernoulli", "random", lambda rng: {"p": rng.uniform(0.1, 0.9, rng.dims(SQUARE, SQUARE))},
           dtypes=FLOATS, random=True, check=_check_bernoulli),
    Kernel("torch.multinomial", "random",
           lambda rng: {"p": np.tile(rng.dirichlet(np.ones(16)), (rng.pick(*DRAWS), 1))},
           dtypes=FLOATS, call=lambda c, p: c.fn(p, 4), out_dtype="int64", random=True,
           check=lambda out, p: _check_multinomial_draws(out, p[0], len(p))),
]
