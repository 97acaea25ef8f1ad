"""torch.nn.Transformer: an encoder-decoder forward pass with masks, against a NumPy transformer.

Every parameter comes from the seeded builder, so the reference is a float64 NumPy re-implementation
of the post-norm layers (torch's default, ``norm_first=False``) with the same weights, not a second
torch run. The masks are the ones sequence-to-sequence training uses: a causal target mask, and
padding of the source that both the encoder's self-attention and the decoder's cross-attention skip.
"""

import numpy as np
import scipy.special as sp

from portability.catalog import Keep, Kernel, paper

FLOATS = ("float32", "float64", "float16", "bfloat16")
#: d_model, nhead, encoder layers, decoder layers, dim_feedforward, batch, source and target length.
#: The paper's test built d_model 512, 16 heads, 4 + 3 layers; medium is that model at half the width and
#: fewer layers (4x less work: 0.05 s of one core per float64 call instead of 0.2 s, and 4.5M parameters, not 25M).
CONFIG = {"small": (32, 4, 2, 2, 64, 2, 12, 10), "medium": (256, 8, 3, 2, 1024, 4, 48, 32)}
#: Dot products of a few hundred terms: half-precision outputs round once, accumulation is wider.
DOT_TOL = {"float16": (2e-2, 3e-3), "bfloat16": (5e-2, 1.5e-2)}


def _attention_names(prefix):
    return [f"{prefix}.in_proj_weight", f"{prefix}.in_proj_bias", f"{prefix}.out_proj.weight",
            f"{prefix}.out_proj.bias"]


def _parameters(cfg):
    """(name, shape) of every parameter, in the order the builder draws them and the reference reads them."""
    d, _, n_enc, n_dec, ff = cfg[:5]
    shapes = []

    def block(prefix, attentions, norms):
        for a in attentions:
            names = _attention_names(f"{prefix}.{a}")
            shapes.extend(zip(names, [(3 * d, d), (3 * d,), (d, d), (d,)], strict=True))
        shapes.extend([(f"{prefix}.linear1.weight", (ff, d)), (f"{prefix}.linear1.bias", (ff,)),
                       (f"{prefix}.linear2.weight", (d, ff)), (f"{prefix}.linear2.bias", (d,))])
        for n in norms:
            shapes.extend([(f"{prefix}.{n}.weight", (d,)), (f"{prefix}.{n}.bias", (d,))])

    for i in range(n_enc):
        block(f"encoder.layers.{i}", ["self_attn"], ["norm1", "norm2"])
    shapes.extend([("encoder.norm.weight", (d,)), ("encoder.norm.bias", (d,))])
    for i in range(n_dec):
        block(f"decoder.layers.{i}", ["self_attn", "multihead_attn"], ["norm1", "norm2", "norm3"])
    shapes.extend([("decoder.norm.weight", (d,)), ("decoder.norm.bias", (d,))])
    return shapes


def _inputs(rng):
    cfg = CONFIG[rng.size]
    d, batch, s_len, t_len = cfg[0], cfg[5], cfg[6], cfg[7]
    pad = np.zeros((batch, s_len), dtype=bool)
    for b in range(1, batch):  # the first sequence is full length, the others shorter
        pad[b, s_len - rng.integers(1, s_len // 2):] = True
    out = {"cfg": cfg, "src": rng.standard_normal((batch, s_len, d)), "tgt": rng.standard_normal((batch, t_len, d)),
           "src_pad": Keep(pad)}
    for name, shape in _parameters(cfg):
        if ".norm" in name and name.endswith("weight"):
            out[name] = rng.uniform(0.8, 1.2, shape)
        elif name.endswith("weight"):
            out[name] = rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            out[name] = rng.standard_normal(shape) * 0.1
    return out


def _setup(c, cfg, src, tgt, src_pad, **params):
    torch = c.fw
    d, heads, n_enc, n_dec, ff = cfg[:5]
    model = c.fn(d_model=d, nhead=heads, num_encoder_layers=n_enc, num_decoder_layers=n_dec, dim_feedforward=ff,
                 dropout=0.0, batch_first=True).to(device=c.device, dtype=src.dtype).eval()
    own = dict(model.named_parameters())
    assert set(own) == set(params), f"parameter names differ: {sorted(set(own) ^ set(params))[:4]}"
    with torch.no_grad():
        for name, value in params.items():
            own[name].copy_(value)
    t_len = tgt.shape[1]
    causal = torch.triu(torch.ones(t_len, t_len, dtype=torch.bool, device=c.device), diagonal=1)

    def run():
        with torch.no_grad():
            return model(src, tgt, tgt_mask=causal, src_key_padding_mask=src_pad,
                         memory_key_padding_mask=src_pad)

    return run


# -- the NumPy reference -------------------------------------------------------------------------

def _layer_norm(x, w, b):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b


def _mha(p, prefix, heads, q_in, kv_in, mask):
    """Multi-head attention; mask is True where a query may not look (broadcast to batch, heads, q, k)."""
    w, b = p[f"{prefix}.in_proj_weight"], p[f"{prefix}.in_proj_bias"]
    d = q_in.shape[-1]
    q, k, v = (x @ w[i * d:(i + 1) * d].T + b[i * d:(i + 1) * d] for i, x in enumerate((q_in, kv_in, kv_in)))

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, d // heads).transpose(0, 2, 1, 3)

    scores = split(q) @ split(k).transpose(0, 1, 3, 2) / np.sqrt(d // heads)
    attn = sp.softmax(np.where(mask, -np.inf, scores), axis=-1) @ split(v)
    merged = attn.transpose(0, 2, 1, 3).reshape(q_in.shape)
    return merged @ p[f"{prefix}.out_proj.weight"].T + p[f"{prefix}.out_proj.bias"]


def _feed_forward(p, prefix, x):
    hidden = np.maximum(x @ p[f"{prefix}.linear1.weight"].T + p[f"{prefix}.linear1.bias"], 0)
    return hidden @ p[f"{prefix}.linear2.weight"].T + p[f"{prefix}.linear2.bias"]


def _reference(cfg, src, tgt, src_pad, *values):
    p = {name: v for (name, _), v in zip(_parameters(cfg), values, strict=True)}
    heads, n_enc, n_dec = cfg[1:4]

    def norm(prefix, x):
        return _layer_norm(x, p[f"{prefix}.weight"], p[f"{prefix}.bias"])

    padded_keys = src_pad[:, None, None, :]
    x = src
    for i in range(n_enc):
        pre = f"encoder.layers.{i}"
        x = norm(f"{pre}.norm1", x + _mha(p, f"{pre}.self_attn", heads, x, x, padded_keys))
        x = norm(f"{pre}.norm2", x + _feed_forward(p, pre, x))
    memory = norm("encoder.norm", x)
    t_len = tgt.shape[1]
    causal = np.triu(np.ones((t_len, t_len), dtype=bool), 1)[None, None]
    y = tgt
    for i in range(n_dec):
        pre = f"decoder.layers.{i}"
        y = norm(f"{pre}.norm1", y + _mha(p, f"{pre}.self_attn", heads, y, y, causal))
        y = norm(f"{pre}.norm2", y + _mha(p, f"{pre}.multihead_attn", heads, y, memory, padded_keys))
        y = norm(f"{pre}.norm3", y + _feed_forward(p, pre, y))
    return norm("decoder.norm", y)


KERNELS = [
    # From the paper's sample.
    Kernel("torch.nn.Transformer", "module", _inputs, dtypes=FLOATS, setup=_setup, reference=_reference, tol=DOT_TOL,
           **paper(60, 11), note="eval-mode forward (no dropout) with causal and padding masks"),
]
