"""torch random sampling, seeding and RNG state, random initialisers and dropout, checked by their properties.

Samples are checked by what holds for any correct sampler (shape, support, permutation, frequencies and
moments with bounds several standard errors wide), so a correct sampler never fails by chance. Seeding and
state restoring are checked by what users rely on: draws made after re-seeding (or restoring a state) repeat
the earlier draws exactly on the case's device. CUDA- and XPU-only APIs fail, honestly, where there is none.
"""

import sys

import numpy as np
import scipy.special as sp

from portability.catalog import FLOATS, Kernel, normal, nothing, paper

#: One size: torch refuses float16 permutations longer than 2049 (bfloat16 it accepts, and rounds),
#: so a longer permutation would only test that refusal.
N_PERM = 1000
PERM_DTYPES = ("int64", "int32", "float32", "float64", "float16", "bfloat16")
SQUARE = (256, 1024)
DRAWS = (4096, 65536)
#: An absolute floor for kept values: float16 subnormals (|x| < 6e-5, a handful in 1M normal
#: draws) are spaced 6e-8 apart, so their scaled values round by more than 1%.
KEPT_ATOL = 1e-7
DRAW_SQUARE = (512, 1024)  # 512x512 draws at small (the moment bounds need them), 1024x1024 at medium
INTS = ("int64", "int32", "int16", "int8", "uint8")


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


def _check_multinomial_draws(out, p, rows):
    out = np.asarray(out)
    assert out.shape == (rows, 4), f"shape {out.shape}"
    assert out.min() >= 0 and out.max() < p.size, "category out of range"
    assert np.all(np.diff(np.sort(out, axis=1), axis=1) != 0), "repeated category without replacement"
    first = np.bincount(out[:, 0], minlength=p.size) / out.shape[0]
    assert np.max(np.abs(first - p / p.sum())) < 0.04, "first draw frequencies far from probs"


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


# -- xpu.get_rng_state_all -------------------------------------------------------------------------

def _xpu_states_call(c, n):
    torch = c.fw
    states = c.fn()  # accelerate's checkpoint: one generator state per XPU device
    first = torch.rand(n, device=c.device)
    torch.xpu.set_rng_state_all(states)
    again = torch.rand(n, device=c.device)
    return first, again, len(states), torch.xpu.device_count(), all(str(s.dtype) == "torch.uint8" for s in states)


def _check_xpu_states(out, n):
    first, again, count, devices, uint8 = out
    assert count == devices and uint8, f"{count} states for {devices} XPU devices (states must be uint8 tensors)"
    assert np.asarray(first).shape == (n,), f"shape {np.asarray(first).shape}"
    assert np.array_equal(first, again), (
        f"draws after restoring the saved states differ ({count} XPU generator states: they do not govern this device)")


# -- Dropout ---------------------------------------------------------------------------------------

P_HIDDEN = 0.1  # transformers' usual hidden_dropout_prob


def _dropout_setup(c, x):
    m = c.fn(P_HIDDEN)

    def run():
        m.train()
        trained = m(x)
        m.eval()  # inference: the identity
        return trained, m(x)

    return run


def _check_dropout(out, x):
    trained, evaluated = (np.asarray(o, dtype=np.float64) for o in out)
    assert trained.shape == x.shape, f"shape {trained.shape} != {x.shape}"
    kept = trained != 0
    frac = 1.0 - kept.mean()
    bound = 8 * np.sqrt(P_HIDDEN * (1 - P_HIDDEN) / x.size)  # 8 standard errors
    assert abs(frac - P_HIDDEN) < bound, f"dropped fraction {frac:.4f}, expected {P_HIDDEN} +- {bound:.4f}"
    assert np.allclose(trained[kept], x[kept] / (1 - P_HIDDEN), rtol=1e-2, atol=0), "kept values not scaled by 1/(1-p)"
    assert np.array_equal(evaluated, x), "eval() Dropout is not the identity"


# -- dropout (random) --------------------------------------------------------------------------

P_DROP = 0.3


def _check_functional_dropout(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape} != {x.shape}"
    kept = out != 0
    frac = 1.0 - kept.mean()
    assert abs(frac - P_DROP) < 0.02, f"dropped fraction {frac:.3f}, expected {P_DROP}"
    assert np.allclose(out[kept], x[kept] / (1 - P_DROP), rtol=1e-2, atol=KEPT_ATOL), (
        "kept values not scaled by 1/(1-p)")


def _check_dropout3d(out, x):
    out = np.asarray(out, dtype=np.float64)
    assert out.shape == x.shape, f"shape {out.shape} != {x.shape}"
    flat, xf = out.reshape(out.shape[0] * out.shape[1], -1), x.reshape(x.shape[0] * x.shape[1], -1)
    dropped = np.all(flat == 0, axis=1)
    assert np.all(dropped | np.all(flat != 0, axis=1)), "channels partly zeroed: Dropout3d drops whole channels"
    frac = dropped.mean()
    # 512 channels at every size: the dropped fraction has a standard error of 0.02.
    assert abs(frac - P_DROP) < 0.1, f"dropped channel fraction {frac:.3f}, expected {P_DROP}"
    assert np.allclose(flat[~dropped], xf[~dropped] / (1 - P_DROP), rtol=1e-2, atol=KEPT_ATOL), (
        "kept channels not scaled")


def _dropout3d_setup(c, x):
    m = c.fn(p=P_DROP)  # a fresh module is in training mode, where dropout is active
    return lambda: m(x)


def _square(rng):
    n = rng.pick(*DRAW_SQUARE)
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


def _draw_count(rng):
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

STATE_SEED, OTHER = 1234, 4321


def _manual_seed_call(c, n):
    torch = c.fw

    def draw():
        return torch.randn(n, device=c.device, dtype=_dtype(c))

    generator = c.fn(STATE_SEED)
    first = draw()
    seeded = [generator is torch.default_generator, generator.initial_seed() == STATE_SEED]
    c.fn(STATE_SEED)
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


KERNELS = [
    Kernel("torch.randperm", "random", nothing(), dtypes=PERM_DTYPES, out_dtype={d: d for d in PERM_DTYPES},
           call=lambda c: c.fn(N_PERM, dtype=_dtype(c), device=c.device), random=True, check=_is_permutation,
           **paper(80, 63),
           note="n = 1000 is exact in float16 but not in bfloat16 (integers above 256 round)"),
    Kernel("torch.nn.init.xavier_uniform_", "random", _xavier_shape, dtypes=FLOATS, setup=_xavier_setup,
           random=True, check=_check_xavier, **paper(70, 27)),
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
    # XPU-only (Intel GPUs): without one there are no states, the draws are not replayed, and the
    # case fails, honestly, on the cpu backend and on CUDA GPUs alike.
    Kernel("torch.xpu.get_rng_state_all", "random", lambda rng: {"n": rng.pick(4096, 1 << 20)},
           dtypes=("float32",), call=_xpu_states_call, random=True, check=_check_xpu_states, device_only="xpu",
           note="save the XPU generator states, draw, restore them, draw again: the draws must repeat"),
    Kernel("torch.nn.Dropout", "random", normal(256, (256, 4096)),
           dtypes=FLOATS, setup=_dropout_setup, random=True, check=_check_dropout,
           note="training mode drops p=0.1 and rescales; eval mode is the identity"),
    # 65536 values at small (not fewer): the dropped-fraction bound is 11 standard errors there.
    Kernel("torch.nn.functional.dropout", "random", normal((256, 1024), (256, 1024)), dtypes=FLOATS,
           call=lambda c, x: c.fn(x, p=P_DROP, training=True), random=True, check=_check_functional_dropout,
           **paper(100, 372)),
    Kernel("torch.nn.Dropout3d", "random", normal(8, 64, (2, 8), (4, 16), (4, 16)), dtypes=FLOATS,
           setup=_dropout3d_setup, random=True, check=_check_dropout3d, **paper(40, 5)),
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
    Kernel("torch.nn.init.normal_", "random", _init_shape, dtypes=FLOATS, setup=_normal_init_setup, random=True,
           check=_check_normal_init, note="a Linear's weight (std 0.02) and bias (mean 1, std 0.5), in place"),
    Kernel("torch.nn.functional.gumbel_softmax", "random", _gumbel_inputs, dtypes=FLOATS, setup=_gumbel_setup,
           random=True, check=_check_gumbel, note="hard (straight-through one-hot) and soft samples, tau=2"),
    Kernel("torch.randint", "random", _draw_count, dtypes=(*INTS, *FLOATS), out_dtype={d: d for d in (*INTS, *FLOATS)},
           call=lambda c, n: c.fn(LOW, HIGH, (n,), dtype=_dtype(c), device=c.device), random=True,
           check=_check_randint),
    Kernel("torch.random.manual_seed", "random", _draws, dtypes=FLOATS, call=_manual_seed_call, random=True,
           check=_check_manual_seed, note="the same seed repeats randn on the case's device; another does not"),
    # CUDA-only: on the cpu backend the saved CUDA states (none without a GPU) leave the CPU
    # generator alone, so the draws are not replayed and the case fails, honestly.
    Kernel("torch.cuda.set_rng_state_all", "random", _draw_count, dtypes=("float32",),
           call=_set_rng_state_all_call("cuda"), random=True, check=_check_replayed("CUDA"), device_only="cuda",
           note="get_rng_state_all, draw, set_rng_state_all, draw again: the draws must repeat"),
    # XPU-only (Intel GPUs): fails, honestly, on the cpu backend and on CUDA GPUs alike.
    Kernel("torch.xpu.set_rng_state_all", "random", _draw_count, dtypes=("float32",),
           call=_set_rng_state_all_call("xpu"), random=True, check=_check_replayed("XPU"), device_only="xpu",
           note="get_rng_state_all, draw, set_rng_state_all, draw again: the draws must repeat"),
]
