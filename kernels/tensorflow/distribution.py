"""tf.compat.v1.distributions: a sampler checked by its moments, and distribution functions."""

import numpy as np
import scipy.stats

from portability.catalog import BIG_SIDE, FLOATS, Kernel, paper


def _normal_params(rng):
    shape = rng.dims(BIG_SIDE, BIG_SIDE)
    return {"loc": rng.standard_normal(shape), "scale": rng.uniform(0.5, 2.0, shape),
            "x": rng.standard_normal(shape) * 2}


# -- tf.compat.v1.distributions.Normal.param_shapes ------------------------------------------------

def _sample_shape(rng):
    return {"shape": np.array(rng.dims((16, 1024), (8, 1024), 3), dtype=np.float64)}


def _param_shapes(c, shape):
    return c.fn(shape.numpy().tolist()), c.fn(shape)


KERNELS = [
    Kernel("tf.compat.v1.distributions.Normal", "distribution", _normal_params, dtypes=FLOATS,
           call=lambda c, loc, scale, x: c.fn(loc=loc, scale=scale).log_prob(x),
           reference=lambda loc, scale, x: scipy.stats.norm.logpdf(x, loc, scale),
           **paper(100, 241), note="construct the distribution and evaluate log_prob"),
    Kernel("tf.compat.v1.distributions.Normal.survival_function", "distribution", _normal_params, dtypes=FLOATS,
           setup=lambda c, loc, scale, x: (lambda d: lambda: c.fn(d, x))(
               c.fw.compat.v1.distributions.Normal(loc=loc, scale=scale)),
           reference=lambda loc, scale, x: scipy.stats.norm.sf(x, loc, scale),
           **paper(30, 3)),
    Kernel("tf.compat.v1.distributions.Laplace.log_survival_function", "distribution", _normal_params,
           dtypes=FLOATS,
           setup=lambda c, loc, scale, x: (lambda d: lambda: c.fn(d, x))(
               c.fw.compat.v1.distributions.Laplace(loc=loc, scale=scale)),
           reference=lambda loc, scale, x: scipy.stats.laplace.logsf(x, loc, scale),
           **paper(30, 3)),
    Kernel("tf.compat.v1.distributions.Normal.param_shapes", "distribution", _sample_shape, dtypes=("int32",),
           call=_param_shapes, reference=lambda shape: ({"loc": shape, "scale": shape},) * 2, out_dtype="int32",
           **paper(20, 2), note="from a Python list and from an int32 tensor"),
]
