"""Random draws, seeding and distributions from the usage sample, checked by their properties.

Samples are checked by what holds for any correct sampler (shape, support, frequencies and moments
with bounds several standard errors wide); seeding by what users rely on: re-seeding with a
remembered seed repeats the draws on the case's device. Independent's log_prob is deterministic
and compared with SciPy.
"""

import sys

import numpy as np
import scipy.special as sp
import scipy.stats

from portability.catalog import Kernel

FLOATS = ("float32", "float64", "float16", "bfloat16")
SQUARE = (512, 1024)  # 512x512 draws at small (the moment bounds need them), 1024x1024 at medium
DRAWS = (4096, 65536)


def _square(rng):
    n = rng.pick(*SQUARE)
    return {"x": rng.standard_normal((n, n))}


def _count(rng):
    return {"n": rng.pick(4096, 1 << 20)}


# -- rand_like -------------------------------------------------------------------------------------

def _check_rand_like(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape}, expected {x.shape}"
    assert out.min() >= 0 and out.max() < 1, f"samples outside [0, 1): min {out.min()}, max {out.max()}"
    std = np.sqrt(1 / 12)
    assert abs(out.mean() - 0.5) < 8 * std / np.sqrt(out.size) + 0.01 * std, f"mean {out.mean():.4f}, expected 0.5"
    assert abs(out.std() - std) < 0.02 * std, f"std {out.std():.4f}, expected {std:.4f}"


# -- randint_like ----------------------------------------------------------------------------------

def _check_randint_like(out, x):
    labels, signs, small = (np.asarray(o, dtype=np.float64) for o in out)
    assert set(np.unique(signs)) <= {-1.0, 1.0}, "random signs other than -1 and 1"
    for values, high in ((labels, 10), ((signs + 1) / 2, 2), (small, 5)):
        assert values.shape == x.shape, f"shape {values.shape}, expected {x.shape}"
        assert np.all(values == np.round(values)), "non-integer values"
        assert values.min() >= 0 and values.max() < high, f"values outside [0, {high}): {values.min()}..{values.max()}"
        freq = np.bincount(values.astype(int).reshape(-1), minlength=high) / values.size
        # At least 262144 draws: each frequency has a standard error below 0.001.
        assert np.max(np.abs(freq - 1 / high)) < 0.01, f"frequencies far from uniform: {np.round(freq, 4)}"


def _randint_like_call(c, x):
    # RT-DETR's denoising queries: random labels, and random signs randint_like(x, 0, 2) * 2.0 - 1.0.
    return c.fn(x, 0, 10), c.fn(x, 0, 2) * 2.0 - 1.0, c.fn(x, 5)


# -- torch.seed ------------------------------------------------------------------------------------

def _seed_call(c, n):
    torch = c.fw
    seed = c.fn()  # a fresh non-deterministic seed, already set on every device's generator
    first = torch.rand(n, device=c.device)
    torch.manual_seed(seed)
    again = torch.rand(n, device=c.device)
    # Reformer remembers int(torch.seed() % sys.maxsize) and seeds with it to replay dropout exactly.
    remembered = int(c.fn() % sys.maxsize)
    torch.manual_seed(remembered)
    dropout = torch.rand(n, device=c.device)
    torch.manual_seed(remembered)
    replay = torch.rand(n, device=c.device)
    other = c.fn()
    return first, again, dropout, replay, [other != seed, torch.initial_seed() == other, 0 <= seed < 2**64]


def _check_seed(out, n):
    first, again, dropout, replay = (np.asarray(o) for o in out[:4])
    assert all(out[4:]), "torch.seed() returned the same seed twice, not the seed it set, or not a 64-bit seed"
    assert first.shape == (n,), f"shape {first.shape}"
    assert np.array_equal(first, again), "manual_seed(torch.seed()) did not repeat the draws made after torch.seed()"
    assert np.array_equal(dropout, replay), "re-seeding with a remembered seed did not repeat the draws"
    assert np.mean(first == dropout) < 0.01, "two calls of torch.seed() gave the same draws"
    for draws in (first, dropout):
        assert draws.min() >= 0 and draws.max() < 1, "rand outside [0, 1)"
        assert abs(draws.mean() - 0.5) < 8 * np.sqrt(1 / 12 / n), f"mean {draws.mean():.4f}, expected 0.5"


# -- torch.random.initial_seed ---------------------------------------------------------------------

SEED, EPOCH = 1234, 3


def _initial_seed_setup(c, n):
    torch = c.fw
    seeded = c.fn()  # the harness seeds torch with the case's seed just before setup

    def run():
        torch.manual_seed(SEED)
        right_after = c.fn()
        torch.rand(8, device=c.device)  # draws advance the state, not the initial seed
        after_draws = c.fn()
        # accelerate's SeedableRandomSampler: a generator seeded with initial_seed() + epoch.
        order = torch.randperm(n, generator=torch.Generator(device=c.device).manual_seed(c.fn() + EPOCH),
                               device=c.device)
        again = torch.randperm(n, generator=torch.Generator(device=c.device).manual_seed(SEED + EPOCH),
                               device=c.device)
        return order, [seeded == c.seed, right_after == SEED, after_draws == SEED, bool(torch.equal(order, again))]

    return run


def _check_initial_seed(out, n):
    order = np.asarray(out[0])
    assert all(out[1:]), f"initial_seed() is not the seed last set (or the shuffle did not repeat): {out[1:]}"
    assert order.shape == (n,) and np.array_equal(np.sort(order), np.arange(n)), "not a permutation of 0..n-1"


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


# -- nn.init.normal_ -------------------------------------------------------------------------------

def _init_shape(rng):
    return {"fan_out": rng.pick(512, 1024), "fan_in": rng.pick(512, 1024)}


def _normal_init_setup(c, fan_out, fan_in):
    lin = c.fw.nn.Linear(fan_in, fan_out, device=c.device, dtype=getattr(c.fw, c.dtype))

    def run():
        returned = c.fn(lin.weight, mean=0.0, std=0.02)  # transformers' _init_weights
        c.fn(lin.bias, 1.0, 0.5)
        flags = [returned is lin.weight, lin.weight.requires_grad, lin.weight.is_leaf, lin.weight.grad_fn is None]
        return lin.weight.detach(), lin.bias.detach(), flags

    return run


def _check_normal_init(out, fan_out, fan_in):
    weight, bias = np.asarray(out[0], dtype=np.float64), np.asarray(out[1], dtype=np.float64)
    assert all(out[2:]), "normal_ did not fill the parameter in place, outside autograd"
    assert weight.shape == (fan_out, fan_in) and bias.shape == (fan_out,), f"shapes {weight.shape}, {bias.shape}"
    assert abs(weight.mean()) < 8 * 0.02 / np.sqrt(weight.size), f"weight mean {weight.mean():.5f}, expected 0"
    assert abs(weight.std() - 0.02) < 0.02 * 0.02, f"weight std {weight.std():.5f}, expected 0.02"
    assert abs(bias.mean() - 1.0) < 8 * 0.5 / np.sqrt(bias.size), f"bias mean {bias.mean():.4f}, expected 1"
    assert abs(bias.std() - 0.5) < 0.1, f"bias std {bias.std():.4f}, expected 0.5"


# -- nn.functional.gumbel_softmax ------------------------------------------------------------------

CODES = 32


def _gumbel_inputs(rng):
    rows = rng.pick(*DRAWS)
    return {"logits": np.tile(rng.standard_normal(CODES), (rows, 1)), "w": rng.standard_normal((rows, CODES))}


def _gumbel_setup(c, logits, w):
    lg = logits.clone().requires_grad_(True)

    def run():
        lg.grad = None
        hard = c.fn(lg, tau=2, hard=True)  # wav2vec2's quantizer: one codevector per frame
        soft = c.fn(lg, tau=2)
        (hard * w).sum().backward()  # straight through: the gradient of the soft sample
        return hard.detach(), soft.detach(), lg.grad

    return run


def _check_gumbel(out, logits, w):
    hard, soft, grad = (np.asarray(o, dtype=np.float64) for o in out)
    assert hard.shape == soft.shape == grad.shape == logits.shape, f"shapes {hard.shape}, {soft.shape}, {grad.shape}"
    # y_hard - y_soft.detach() + y_soft: one ulp from 0/1 (bfloat16's ulp at 1 is 0.0078).
    assert np.all(np.abs(hard - np.round(hard)) <= 0.02), "hard samples are not 0/1"
    assert np.all(np.round(hard).sum(axis=1) == 1), "hard samples are not one-hot"
    assert np.all(soft >= 0) and np.max(np.abs(soft.sum(axis=1) - 1)) <= 4e-2, "soft samples not on the simplex"
    p = sp.softmax(logits[0])
    for sample in (hard, soft):
        winners = np.bincount(sample.argmax(axis=1), minlength=CODES) / len(sample)
        assert np.max(np.abs(winners - p)) < 0.04, "argmax frequencies far from softmax(logits)"
    assert np.all(np.isfinite(grad)) and np.any(grad != 0), "no straight-through gradient"
    # The gradient of a softmax is orthogonal to shifts of the logits: each row sums to 0.
    assert np.all(np.abs(grad.sum(axis=1)) <= 0.05 * np.abs(grad).sum(axis=1) + 1e-6), "gradient rows do not sum to 0"


KERNELS = [
    Kernel("torch.rand_like", "random", _square, dtypes=FLOATS, random=True, check=_check_rand_like,
           note="keeps the shape, dtype and device of its input"),
    Kernel("torch.randint_like", "random", _square, dtypes=(*FLOATS, "int64"), call=_randint_like_call, random=True,
           check=_check_randint_like, note="labels in [0, 10), random signs, and the high-only form"),
    # One size: a seeding utility; the draws that show its effect do the same work at any size.
    Kernel("torch.seed", "random", lambda rng: {"n": 4096}, dtypes=("float32",), call=_seed_call, random=True,
           check=_check_seed, note="a fresh seed each call; manual_seed(seed) replays the draws"),
    Kernel("torch.random.initial_seed", "random", _count, dtypes=("int64",), setup=_initial_seed_setup,
           random=True, check=_check_initial_seed,
           note="the seed last set, unchanged by draws; seeds a generator for a reproducible shuffle"),
    Kernel("torch.distributions.Independent", "distribution", _independent_inputs, dtypes=FLOATS,
           setup=_independent_setup, reference=_independent_ref,
           note="Independent(Normal, 1): log_prob and entropy sum over the event dim; batch and event shapes"),
    Kernel("torch.distributions.RelaxedOneHotCategorical.sample", "distribution", _relaxed_inputs, dtypes=FLOATS,
           setup=_relaxed_setup, random=True, check=_check_relaxed,
           note="temperature 0.5, one masked logit (-1e4); sample() records no gradient"),
    Kernel("torch.distributions.binomial.Binomial", "distribution", _binomial_inputs, dtypes=FLOATS,
           setup=_binomial_setup, random=True, check=_check_binomial,
           note="elementwise total_count (1..29) and probs (0.05..0.95), one draw each"),
    Kernel("torch.nn.init.normal_", "random", _init_shape, dtypes=FLOATS, setup=_normal_init_setup, random=True,
           check=_check_normal_init, note="a Linear's weight (std 0.02) and bias (mean 1, std 0.5), in place"),
    Kernel("torch.nn.functional.gumbel_softmax", "random", _gumbel_inputs, dtypes=FLOATS, setup=_gumbel_setup,
           random=True, check=_check_gumbel, note="hard (straight-through one-hot) and soft samples, tau=2"),
]
