"""What is publicly known about JAX on a TPU, each fact with its source, and the outcome it implies for
our ``--backend=tpu-compile`` cases (jax 0.10.2, libtpu 0.0.42.1). ``test_tpu_fidelity.py`` compiles
those cases for real and compares. A row whose outcome is not the one the fact suggests at face value
says why in ``explained``: the suite is then right and the reading of the fact too simple, and the
explanation is itself checked (by another row or by the message).
"""

from __future__ import annotations

from dataclasses import dataclass

JAX_LINALG = "jax/_src/lax/linalg.py in jax 0.10.2"
JAX_DTYPES = ("jax/_src/test_util.py in jax 0.10.2, supported_dtypes(): on a TPU JAX's own test suite runs "
              "bool, int4-int32, uint4-uint32, bfloat16, float16, float32, complex64 and float8, never float64, "
              "complex128, int64 or uint64")
BFLOAT16 = ("Cloud TPU documentation, 'The bfloat16 numerical format' (cloud.google.com/tpu/docs/bfloat16): "
            "the TPU's matrix units multiply bfloat16 natively")


@dataclass(frozen=True)
class Fact:
    fact: str
    source: str
    key: str  # the case, compiled for a TPU
    outcome: str  # what tpu-compile must say
    message: str = ""  # words the outcome's message must hold
    x64: bool = True  # the run's --jax-x64
    explained: str = ""


FACTS = [
    Fact("eig has no TPU lowering: eig_p is registered for the CPU and for CUDA/ROCm only",
         f"{JAX_LINALG}, lines 1256-1257", "jax.numpy.linalg.eig[float32-tpu-compile]", "fail:not_implemented",
         "primitive 'eig' not found for platform tpu"),
    Fact("the same primitive behind jax.lax.linalg.eig", f"{JAX_LINALG}, lines 1256-1257",
         "jax.lax.linalg.eig[float32-tpu-compile]", "fail:not_implemented", "'eig' not found for platform tpu"),
    Fact("the Schur decomposition has no TPU lowering: schur_p is registered for the CPU only",
         f"{JAX_LINALG}, line 2290", "jax.scipy.linalg.schur[float32-tpu-compile]", "fail:not_implemented",
         "'schur' not found for platform tpu"),
    Fact("the Hessenberg reduction has no TPU lowering: hessenberg_p is registered for the CPU only",
         f"{JAX_LINALG}, line 1412", "jax.scipy.linalg.hessenberg[float32-tpu-compile]", "fail:not_implemented",
         "'hessenberg' not found for platform tpu"),
    Fact("LU has a lowering of its own for the TPU (_lu_tpu_lowering_rule)", f"{JAX_LINALG}, line 1792",
         "jax.scipy.linalg.lu[float32-tpu-compile]", "compiled"),
    Fact("eigh has a TPU lowering of its own (QDWH-based, _eigh_tpu_lowering)",
         "jax/_src/tpu/linalg/eigh.py in jax 0.10.2, line 699", "jax.numpy.linalg.eigh[float32-tpu-compile]",
         "compiled"),
    Fact("QR: a generic lowering", f"{JAX_LINALG}, line 2228", "jax.numpy.linalg.qr[float32-tpu-compile]", "compiled"),
    Fact("Cholesky: a generic lowering", f"{JAX_LINALG}, line 920",
         "jax.numpy.linalg.cholesky[float32-tpu-compile]", "compiled"),
    Fact("SVD has a generic, QDWH-based lowering (_svd_tpu_lowering_rule) that a TPU uses",
         "jax/_src/tpu/linalg/svd.py in jax 0.10.2, line 312", "jax.numpy.linalg.svd[float32-tpu-compile]",
         "compiled", x64=False),
    Fact("the same SVD with 64-bit types on", "jax/_src/tpu/linalg/svd.py in jax 0.10.2, line 312",
         "jax.numpy.linalg.svd[float32-tpu-compile]", "fail:crash", "Check failed", x64=True,
         explained="libtpu 0.0.42.1 aborts while compiling it (a CHECK in XLA's TransposeFolding pass) when "
                   "jax_enable_x64 is on, and compiles it when x64 is off (the row above): a compiler bug a TPU user "
                   "with x64 on would meet, not a missing lowering"),
    Fact("complex128 is not among a TPU's dtypes", JAX_DTYPES, "jax.numpy.fft.fft[complex128-tpu-compile]",
         "fail:dtype", "Unexpected operand type for FFT: c128"),
    Fact("float64 is not among a TPU's dtypes: a float64 FFT", JAX_DTYPES,
         "jax.numpy.fft.rfft[float64-tpu-compile]", "fail:dtype", "Unexpected operand type for FFT: f64"),
    Fact("float64 is not among a TPU's dtypes: a float64 LU", JAX_DTYPES,
         "jax.scipy.linalg.lu[float64-tpu-compile]", "fail:dtype", "Only F32 and C64 types are implemented"),
    Fact("float64 is not among a TPU's dtypes: a float64 matmul", JAX_DTYPES,
         "jax.numpy.matmul[float64-tpu-compile]", "compiled",
         explained="XLA's TPU compiler rewrites 64-bit computations into pairs of 32-bit values (the 'rewriting "
                   "computation to not contain X64 element types' its own errors name), so elementwise ops, "
                   "sums and matmuls in float64 compile, emulated and slow; JAX's tests leave float64 out on a "
                   "TPU for that, and FFT and LU, which the rewrite does not cover, fail (the rows above)"),
    Fact("bfloat16 is the TPU's native matmul type", BFLOAT16, "jax.numpy.matmul[bfloat16-tpu-compile]", "compiled"),
    Fact("float16 is among a TPU's dtypes", JAX_DTYPES, "jax.numpy.matmul[float16-tpu-compile]", "compiled"),
    Fact("complex64 is among a TPU's dtypes", JAX_DTYPES, "jax.numpy.fft.fft[complex64-tpu-compile]", "compiled"),
]
