"""torch.distributions: samplers and their densities, checked by their properties.

Samples are checked by what holds for any correct sampler (shape, support, frequencies and moments with bounds
several standard errors wide), so a correct sampler never fails by chance. Independent's log_prob is
deterministic and compared with SciPy.
"""

import numpy as np
import scipy.special as sp
import scipy.stats

from portability.catalog import FLOATS, Kernel, paper

SQUARE = (512, 1024)  # 512x512 draws at small (the moment bounds need them), 1024x1024 at medium
DRAWS = (4096, 65536)
#: Sample counts stay large at small where a moment bound needs them: at 20000 draws the VonMises
#: circular-mean bound is 5 standard errors; at 256x256 the std bound of randn is 7, the mean
#: bound of bernoulli 5.
N_VM = (20000, 1 << 18)  # VonMises samples by rejection in a Python loop: 1M draws take seconds


# -- distributions.Independent ---------------------------------------------------------------------

def _independent_inputs(rng):
    batch, dim = rng.dims((64, 4096), (32, 256))
    return {"loc": rng.standard_normal((batch, dim)), "scale": rng.uniform(0.5, 2.0, (batch, dim)),
            "x": rng.standard_normal((batch, dim)) * 1.5}


def _independent_setup(c, loc, scale, x):
    # transformers' time-series heads: Independent(Normal(loc, scale), 1), one event per row.
    d = c.fn(c.fw.distributions.Normal(loc, scale), 1)
    shapes = [tuple(d.batch_shape) == loc.shape[:1], tuple(d.event_shape) == loc.shape[1:]]
    return lambda: (d.log_prob(x), d.entropy(), d.mean, d.variance, shapes)


def _independent_ref(loc, scale, x):
    return (scipy.stats.norm.logpdf(x, loc, scale).sum(axis=-1), scipy.stats.norm.entropy(loc, scale).sum(axis=-1),
            loc, scale**2, [True, True])


# -- RelaxedOneHotCategorical.sample ---------------------------------------------------------------

K = 16


def _relaxed_inputs(rng):
    logits = rng.standard_normal(K)
    logits[-1] = -1e4  # a masked choice, as TAPAS masks cells out: it must never win
    return {"logits": logits, "n": rng.pick(*DRAWS)}


def _relaxed_setup(c, logits, n):
    torch = c.fw
    lg = logits.clone().requires_grad_(True)
    d = torch.distributions.RelaxedOneHotCategorical(0.5, logits=lg)
    return lambda: (c.fn(d, (n,)), c.fn(d).shape == (K,), not c.fn(d, (n,)).requires_grad)


def _check_relaxed(out, logits, n):
    samples = np.asarray(out[0], dtype=np.float64)
    assert out[1], "sample() without a shape did not give one draw of the event shape"
    assert out[2], "sample() (unlike rsample) must not record a gradient"
    assert samples.shape == (n, K), f"shape {samples.shape}"
    assert np.all(samples >= 0) and np.all(samples <= 1), "samples outside [0, 1]"
    # bfloat16 normalises in bfloat16: rows sum to 1 within ~0.02 there; 4e-2 is its usual rtol.
    dev = np.max(np.abs(samples.sum(axis=1) - 1.0))
    assert dev <= 4e-2, f"samples not on the simplex: a row sums to 1 +- {dev:.3g}"
    assert samples[:, -1].max() < 1e-3, f"the masked choice got weight {samples[:, -1].max():.3g}"
    winners = np.bincount(samples.argmax(axis=1), minlength=K) / n
    # The argmax of a relaxed sample is a Categorical(softmax(logits)) draw; 0.04 is 5 standard errors.
    assert np.max(np.abs(winners - sp.softmax(logits))) < 0.04, "argmax frequencies far from softmax(logits)"


# -- distributions.binomial.Binomial ---------------------------------------------------------------

def _binomial_inputs(rng):
    shape = rng.dims(SQUARE, SQUARE)
    return {"counts": rng.integers(1, 30, shape).astype(np.float64), "probs": rng.uniform(0.05, 0.95, shape)}


def _binomial_setup(c, counts, probs):
    # keras' torch backend: Binomial(total_count=counts, probs=probabilities).sample(), one draw each.
    d = c.fn(total_count=counts, probs=probs)
    return lambda: d.sample()


def _check_binomial(out, counts, probs):
    x = np.asarray(out, dtype=np.float64)
    assert x.shape == counts.shape, f"shape {x.shape}, expected {counts.shape}"
    assert np.all(x == np.round(x)), "non-integer counts"
    assert np.all(x >= 0) and np.all(x <= counts), "counts outside [0, total_count]"
    z = (x - counts * probs) / np.sqrt(counts * probs * (1 - probs))
    # z has mean 0 and variance 1 for any (n, p): over 262144 draws their standard errors are below 0.002
    # and 0.01 (the kurtosis of a binomial with a small n*p*(1-p) is large).
    assert abs(z.mean()) < 0.02, f"standardised mean {z.mean():.4f}, expected 0"
    assert abs(z.var() - 1) < 0.05, f"standardised variance {z.var():.4f}, expected 1"


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


def _probs(n):
    return lambda rng: {"p": rng.dirichlet(np.ones(16)), "n": rng.pick(*n)}


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


def _relaxed_rsample_setup(c, p, n):
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


KERNELS = [
    Kernel("torch.distributions.Independent", "distribution", _independent_inputs, dtypes=FLOATS,
           setup=_independent_setup, reference=_independent_ref,
           note="Independent(Normal, 1): log_prob and entropy sum over the event dim; batch and event shapes"),
    Kernel("torch.distributions.RelaxedOneHotCategorical.sample", "distribution", _relaxed_inputs, dtypes=FLOATS,
           setup=_relaxed_setup, random=True, check=_check_relaxed,
           note="temperature 0.5, one masked logit (-1e4); sample() records no gradient"),
    Kernel("torch.distributions.binomial.Binomial", "distribution", _binomial_inputs, dtypes=FLOATS,
           setup=_binomial_setup, random=True, check=_check_binomial,
           note="elementwise total_count (1..29) and probs (0.05..0.95), one draw each"),
    Kernel("torch.distributions.beta.Beta", "distribution", _beta_inputs, dtypes=FLOATS, setup=_beta_setup,
           random=True, check=_check_beta, note="Beta(0.4, 0.4) (mixup) and Beta(2, 5): sample and log_prob"),
    Kernel("torch.distributions.gamma.Gamma.sample", "distribution", _gamma_inputs, dtypes=FLOATS,
           setup=_gamma_setup, random=True, check=_check_gamma, note="shape 0.5 (mass near 0) and 3"),
    Kernel("torch.distributions.Multinomial", "distribution", _probs((1024, 65536)), dtypes=FLOATS,
           setup=_multinomial_dist_setup, random=True, check=_check_multinomial_counts,
           **paper(80, 65)),
    Kernel("torch.distributions.VonMises", "distribution", _vonmises_inputs, dtypes=FLOATS,
           setup=_vonmises_setup, random=True, check=_check_vonmises, **paper(30, 3)),
    Kernel("torch.distributions.RelaxedOneHotCategorical", "distribution", _probs(DRAWS), dtypes=FLOATS,
           setup=_relaxed_rsample_setup, random=True, check=_check_simplex, **paper(20, 2)),
]
