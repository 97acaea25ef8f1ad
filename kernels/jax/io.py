"""JAX host transfers and I/O: device_get, lax.infeed and jax.numpy.save."""

import io

import numpy as np

from portability.catalog import BIG_SIDE, FLOATS, Keep, Kernel, normal, nothing, paper


def _state(rng):
    return {"x": rng.standard_normal(rng.dims(BIG_SIDE, BIG_SIDE)), "step": Keep(np.int32(rng.integers(1, 1000)))}


def _device_get(c, x, step):
    # The corpus's use: fetch a pytree of device arrays (metrics, a train state) to NumPy on the host.
    fetched = c.fn({"w": x, "step": step, "lr": 0.5})
    on_host = all(isinstance(v, np.ndarray) and not isinstance(v, c.fw.Array) for v in (fetched["w"], fetched["step"]))
    return on_host, fetched


def _infeed(c):
    # The paper's use: infeed of a ShapedArray tuple inside jit (removed from jax.lax in JAX 0.7).
    shape = c.fw.core.ShapedArray((3, 4), c.fw.numpy.float32)
    return c.fw.jit(lambda: c.fn(c.fw.lax.create_token(), shape=(shape,))[0])()


def _save_load(c, x):
    buf = io.BytesIO()
    c.fn(buf, x)
    buf.seek(0)
    return c.fw.numpy.load(buf)


KERNELS = [
    # A transfer: every dtype, at full size.
    Kernel("jax.device_get", "io", _state, dtypes=FLOATS, call=_device_get,
           host_only="a copy to host memory: inside a compiled program it returns its traced input",
           reference=lambda x, step: (True, {"w": x, "step": step, "lr": 0.5})),
    Kernel("jax.lax.infeed", "io", nothing(), dtypes=("float32",), call=_infeed, **paper(50, 5),
           removed="removed in jax 0.7 (deprecated in 0.6) with lax.outfeed and Device.transfer_to_infeed;"
                   " no replacement: pass host data as jit arguments or through jax.experimental.io_callback"),
    Kernel("jax.numpy.save", "io", normal((256, 1024), (256, 1024)), dtypes=(*FLOATS, "int32"), call=_save_load,
           reference=lambda x: x, out_dtype={d: d for d in (*FLOATS, "int32")}, **paper(100, 3813)),
]
