"""The outcome classifier against real messages raised by torch 2.13, JAX 0.10 and TensorFlow 2.21.

Each row was produced by running the framework (see the comment on each), not written by hand;
`test_live_framework_errors` re-raises a few of them live to keep the table honest.
"""

import pytest

from portability.verdicts import case_outcome, classify_exception, first_line

REAL = [
    # torch 2.13 CPU
    ("NotImplementedError", "\"cholesky_cpu\" not implemented for 'Half'", "not_implemented"),
    ("NotImplementedError", "\"linalg_svd_cpu\" not implemented for 'BFloat16'", "not_implemented"),
    ("NotImplementedError", "\"erfinv_vml_cpu\" not implemented for 'ComplexFloat'", "not_implemented"),
    ("RuntimeError", "linalg.inv: Low precision dtypes not supported. Got Half", "dtype"),
    ("RuntimeError", "Unsupported dtype Half", "dtype"),
    ("RuntimeError", "expected m1 and m2 to have the same dtype, but got: long int != float", "dtype"),
    ("RuntimeError", "mean(): could not infer output dtype. Input dtype must be either a floating point or "
                     "complex dtype. Got: Long", "dtype"),
    ("RuntimeError", "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                     "you tried to allocate 4611686018427387904 bytes. Error code 12 (Cannot allocate memory)", "oom"),
    ("OutOfMemoryError", "CUDA out of memory. Tried to allocate 80.00 GiB. GPU 0 has a total capacity of 79.1 GiB",
     "oom"),
    ("NotImplementedError", "Could not run 'aten::_foo' with arguments from the 'CUDA' backend.", "not_implemented"),
    ("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)", "error"),
    # jax 0.10.2 CPU
    ("NotImplementedError", "(KeyError(<class 'numpy.float16'>), 'Unsupported dtype float16.')", "dtype"),
    ("NotImplementedError", "(KeyError(<class 'ml_dtypes.bfloat16'>), 'Unsupported dtype bfloat16.')", "dtype"),
    ("TypeError", "and does not accept dtype float32 at position 0. Accepted dtypes at position 0 are subtypes "
                  "of integer, bool.", "dtype"),
    ("JaxRuntimeError", "RESOURCE_EXHAUSTED: Out of memory allocating 4398046511104 bytes.", "oom"),
    ("TypeError", "dot_general requires contracting dimensions to have the same shape, got (3,) and (2,).", "error"),
    ("NotImplementedError", "MLIR translation rule for primitive 'eigh' not found for platform tpu", "not_implemented"),
    ("JaxRuntimeError", "UNIMPLEMENTED: Unsupported algorithm on this platform", "not_implemented"),
    # tensorflow 2.21 CPU
    ("InvalidArgumentError", "Value for attr 'T' of bfloat16 is not in the list of allowed values: double, float, "
                             "half, complex64, complex128", "dtype"),
    ("InvalidArgumentError", "Value for attr 'Tcomplex' of float is not in the list of allowed values: complex64, "
                             "complex128", "dtype"),
    ("NotFoundError", "Could not find device for node: {{node Cholesky}} = Cholesky[T=DT_HALF]", "not_implemented"),
    ("ResourceExhaustedError", "{{function_node __wrapped__Fill_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
                               " OOM when allocating tensor with shape[1099511627776,1024] and type float", "oom"),
    ("InvalidArgumentError", "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:GPU:0'."
                             " enable_soft_placement=0. Supported device types [CPU].", "not_implemented"),
    ("InvalidArgumentError", "{{function_node __wrapped____MklMatMul_device_/job:localhost/replica:0/task:0/device:"
                             "CPU:0}} Matrix size-incompatible: In[0]: [2,3], In[1]: [2,3] [Op:MatMul] name:", "error"),
    ("ValueError", "RFFT requires tf.float32 or tf.float64 inputs, got: tf.Tensor(", "dtype"),
    ("TypeError", "The `real` and `imag` components have incorrect types: float16 float16. They must be consistent,"
                  " and one of [tf.float32, tf.float64]", "dtype"),
    ("ValueError", "tf.linalg.expm does not support matrices of type <dtype: 'bfloat16'>", "dtype"),
    ("ValueError", "data type <class 'ml_dtypes.bfloat16'> not inexact", "dtype"),  # tf.random.gamma
    ("TypeError", "x.dtype=<dtype: 'float16'> is not handled, see docstring for supported types.", "dtype"),
    ("RuntimeError", "This function doesn't handle types other than float and double", "dtype"),  # matrix_rank
    ("RuntimeError", "quantile() input tensor must be either float or double dtype", "dtype"),
    ("RuntimeError", "value cannot be converted to type c10::Half without overflow", "dtype"),  # LBFGS float16
    ("TypeError", "x.dtype=float16 is not supported, see docstring for supported types.", "dtype"),  # jax ndtr
    ("ValueError", "Only float32 and float64 inputs are supported as inputs to "
                   "jax.scipy.linalg.eigh_tridiagonal", "dtype"),
    # tf.linalg.eig in float16: TensorFlow's wrapper has no result dtype for it, so the user meets an
    # UnboundLocalError, not the op's refusal; the dtype is not supported (the message keeps the error)
    ("UnboundLocalError", "cannot access local variable 'out_dtype' where it is not associated with a value",
     "dtype"),
    ("UnboundLocalError", "cannot access local variable 'result' where it is not associated with a value", "error"),
    # jax 0.10.2 compiling for a TPU with libtpu 0.0.42.1 (--backend=tpu-compile, x64 on)
    ("NotImplementedError", "MLIR translation rule for primitive 'eig' not found for platform tpu",
     "not_implemented"),
    ("JaxRuntimeError", "INVALID_ARGUMENT: during context [pre-optimization]: Unexpected operand type for FFT: "
                        "c128[16,4096]{1,0}", "dtype"),
    ("JaxRuntimeError", "UNIMPLEMENTED: While rewriting computation to not contain X{64|128} element types, XLA "
                        "encountered an HLO for which this rewriting is not implemented: %dot_general.1 = "
                        "s64[128,128]{1,0} dot(%a.1, %b.1)", "dtype"),
    ("JaxRuntimeError", "UNIMPLEMENTED: Only F32 and C64 types are implemented in LuDecomposition; got shape "
                        "f64[64,64]:     @     0x7ff717af2ea2  xla::XlaBuilder::ReportError()", "dtype"),
    # plain Python
    ("MemoryError", "", "oom"),
    ("ValueError", "operands could not be broadcast together", "error"),
    # messages met by the usage-sample kernels (torch 2.13 / TF 2.21 CPU)
    ("RuntimeError", "Expected both inputs to be Half, Float or Double tensors but got BFloat16 and BFloat16", "dtype"),
    ("TypeError", "can't convert np.ndarray of type ml_dtypes.bfloat16. The only supported types are: float64, "
                  "float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, uint8, "
                  "and bool.", "dtype"),
    ("RuntimeError", "view_as_complex is only supported for half, float and double tensors, but got a tensor of "
                     "scalar type: BFloat16", "dtype"),
    ("AttributeError", "module 'torch._C' has no attribute '_cuda_setDevice'", "not_implemented"),
    ("TypeError", "type torch.cuda.FloatTensor not available. Torch not compiled with CUDA enabled.",
     "not_implemented"),
    ("NotFoundError", "No OpKernel was registered to support Op 'CrossReplicaSum' used by {{node CrossReplicaSum}} "
                      "with these attrs: [T=DT_FLOAT]", "not_implemented"),
    ("TypeError", "Argument `matrix` must have dtype in [tf.float16, tf.float32, tf.float64, tf.complex64, "
                  "tf.complex128]. Received: <dtype: 'bfloat16'>.", "dtype"),
    # --mode compiled, CPU (the messages as error_facts keeps them)
    # tf.function(jit_compile=True), tensorflow-cpu 2.21: tf.math.segment_mean
    ("InvalidArgumentError", "Detected unsupported operations when trying to compile graph on XLA_CPU_JIT: "
                             "SegmentMean (No registered 'SegmentMean' OpKernel for XLA_CPU_JIT devices compatible "
                             "with node {{node SegmentMean}}){{node SegmentMean}}", "not_implemented"),
    # tf.linalg.det in bfloat16 under tf.function: the op's definition refuses the dtype while tracing
    ("TypeError", "Value passed to parameter 'input' has DataType bfloat16 not in list of allowed values: half, "
                  "float32, float64, complex64, complex128", "dtype"),
    # tf.range in float16 under tf.function (the error inside "in user code:", innermost)
    ("ValueError", "Unsupported dtype19 for '{{node range}} = Range[Tidx=DT_HALF](range/start, range/limit, "
                   "range/delta)' with input shapes: [], [], []", "dtype"),
    # torch.compile(fullgraph=True), torch 2.13: a graph break is an error
    ("Unsupported", "Data pointer comparison: Dynamo can only trace data pointer comparisons when it can prove "
                    "both operands have the same data pointer.", "not_implemented"),
    ("Unsupported", "Data-dependent branching: Detected data-dependent branching (e.g. `if my_tensor.sum() > 0:`). "
                    "Dynamo does not support tracing dynamic control flow.", "data_dependent"),
    # jax.jit, jax 0.10.2: jnp.nonzero without size=
    ("ConcretizationTypeError", "Abstract tracer value encountered where concrete value is expected: traced array "
                                "with shape int64[]\nThe size argument of jnp.nonzero must be statically specified "
                                "to use jnp.nonzero within JAX transformations.", "data_dependent"),
]


@pytest.mark.parametrize(("exc_type", "message", "expected"), REAL,
                         ids=[f"{r[0]}-{r[2]}-{i}" for i, r in enumerate(REAL)])
def test_real_messages(exc_type, message, expected):
    assert classify_exception(exc_type, message) == expected


def test_first_line_skips_blank_lines_and_shortens():
    assert first_line("\n\n  boom  \nmore") == "boom"
    assert len(first_line("x" * 1000, 50)) == 50


def facts(**kw):
    base = {"backend": "gpu", "devices_used": ["gpu"], "dtype_check": {"ok": True}, "numerics": {"ok": True}}
    base.update(kw)
    return base


def test_case_outcome_order_and_messages():
    assert case_outcome(facts()).outcome == "pass"
    assert case_outcome(facts(terminated={"reason": "timeout", "message": "t"})).outcome == "fail:timeout"
    assert case_outcome(facts(terminated={"reason": "crash", "message": "c"})).outcome == "fail:crash"
    missing = case_outcome(facts(error={"stage": "resolve", "type": "AttributeError", "message": "gone"}))
    assert missing.outcome == "fail:missing"
    harness = case_outcome(facts(error={"stage": "harness", "type": "KeyError", "message": "not implemented for x"}))
    assert harness.outcome == "fail:error" and harness.message.startswith("harness error")
    fallback = case_outcome(facts(devices_used=["cpu"]))
    assert fallback.outcome == "fail:host_fallback" and "cpu" in fallback.message
    downcast = case_outcome(facts(dtype_check={"ok": False, "expected": "float64", "got": "float32"}))
    assert downcast.outcome == "fail:dtype" and "float32" in downcast.message
    # the same narrowing by JAX's default configuration (--jax-x64 off) is its own category
    config = case_outcome(facts(dtype_check={"ok": False, "expected": "float64", "got": "float32", "downcast": True}))
    assert config.outcome == "fail:downcast" and "jax_enable_x64" in config.message
    wrong = case_outcome(facts(numerics={"ok": False, "message": "NaN at 3 of 9 elements"}))
    assert wrong.outcome == "fail:numerical" and "NaN" in wrong.message
    # an exception decides before any check
    err = case_outcome(facts(devices_used=["cpu"], error={"stage": "call", "type": "RuntimeError",
                                                           "message": "Unsupported dtype Half\ntrace"}))
    assert err.outcome == "fail:dtype" and err.message == "RuntimeError: Unsupported dtype Half"


def compile_facts(**kw):
    base = {"backend": "tpu-compile", "dtype_check": {"ok": True}, "check": "compile only: no numerics",
            "compile": {"target": "tpu", "device_kind": "TPU v5 lite", "topology": "v5e:1x1", "compile_s": 0.3}}
    base.update(kw)
    return base


# A compile-only case: (facts, outcome). Tracing errors that mean "no single compiled function" are
# unavailable; lowering and compiling errors are classified like any other.
COMPILE_TABLE = [
    (compile_facts(), "compiled"),
    (compile_facts(dtype_check={"ok": False, "expected": "float64", "got": "float32"}), "fail:dtype"),
    (compile_facts(unavailable="calls back into Python on the host (pure_callback)"), "unavailable"),
    (compile_facts(error={"stage": "trace", "type": "TracerArrayConversionError",
                          "message": "The numpy.ndarray conversion method __array__() was called on traced array"}),
     "unavailable"),
    (compile_facts(error={"stage": "trace-setup", "type": "ConcretizationTypeError",
                          "message": "Abstract tracer value encountered where concrete value is expected"}),
     "unavailable"),
    (compile_facts(error={"stage": "trace", "type": "TypeError", "message": "function <lambda> at x.py:3 traced "
                          "for jit returned a value of type <class 'str'>, which is not a valid JAX type"}),
     "unavailable"),
    (compile_facts(error={"stage": "trace", "type": "TypeError", "message": "x.dtype=float16 is not supported, see "
                          "docstring for supported types."}), "fail:dtype"),
    (compile_facts(error={"stage": "lower", "type": "NotImplementedError",
                          "message": "MLIR translation rule for primitive 'eig' not found for platform tpu"}),
     "fail:not_implemented"),
    (compile_facts(error={"stage": "compile", "type": "JaxRuntimeError", "message": "INVALID_ARGUMENT: during "
                          "context [pre-optimization]: Unexpected operand type for FFT: c128[1024]{0}"}), "fail:dtype"),
    # a tracer error in an eager case (an API that compiles inside) is classified like any other error
    (facts(error={"stage": "call", "type": "ConcretizationTypeError", "message": "Abstract tracer value"}),
     "fail:data_dependent"),
]


@pytest.mark.parametrize(("facts_", "expected"), COMPILE_TABLE, ids=[str(i) for i in range(len(COMPILE_TABLE))])
def test_compile_only_outcomes(facts_, expected):
    verdict = case_outcome(facts_)
    assert verdict.outcome == expected, verdict.message
    if expected == "compiled":
        assert "TPU v5 lite" in verdict.message and "nothing ran" in verdict.message


def compiled_facts(**extra):
    return {"backend": "cpu", "mode": "compiled", "dtype": "float32", **extra}


# --mode compiled: what no compiled call can hold is unavailable, the rest is the mode's failure
COMPILED_TABLE = [
    (compiled_facts(error={"stage": "trace", "type": "ConcretizationTypeError", "message": "Abstract tracer value "
                           "encountered where concrete value is expected: traced array with shape int64[]"}),
     "fail:data_dependent"),  # eager runs it: a failure of the mode, not "not one function"
    (compiled_facts(error={"stage": "trace", "type": "TracerArrayConversionError", "message": "The numpy.ndarray "
                           "conversion method __array__() was called on traced array with shape float32[256,256]"}),
     "unavailable"),  # jnp.save: a copy to host NumPy
    (compiled_facts(error={"stage": "trace-setup", "type": "TracerArrayConversionError", "message": "x"}),
     "unavailable"),
    (compiled_facts(error={"stage": "compile", "type": "UnimplementedError", "message": "We failed to lift variable "
                           "creations out of this tf.function, so this tf.function cannot be run on XLA. A possible "
                           "workaround is to move variable creation outside of the XLA compiled function."}),
     "unavailable"),  # tf.Variable: state is made outside a compiled function
    (compiled_facts(error={"stage": "compile", "type": "ValueError", "message": "Argument `initial_value` "
                           "(Tensor(\"3381400:0\", shape=(64, 64), dtype=float32, device=/device:CPU:0)) could not be "
                           "lifted out of a `tf.function`. (Tried to create variable with name='None')."}),
     "unavailable"),  # tf.experimental.dtensor.DVariable
    (compiled_facts(error={"stage": "compile", "type": "NotImplementedError", "message": "Calling "
                           "tf.train.Checkpoint.save() from a function is not supported, as save() modifies saving "
                           "metadata in ways not supported by TensorFlow Operations."}), "unavailable"),
    (compiled_facts(error={"stage": "trace", "type": "UnexpectedTracerError", "message": "Encountered an unexpected "
                           "tracer. A function transformed by JAX had a side effect, allowing for a reference to an "
                           "intermediate value with type float32[64,1024] wrapped in a DynamicJaxprTracer to escape "
                           "the scope of the transformation."}), "unavailable"),  # jax.core.eval_context
    (compiled_facts(unavailable="returns no array (str): a compiled program computes arrays"), "unavailable"),
    (compiled_facts(compile={"first_call_s": 0.9}, devices_used=["cpu"]), "pass"),
]


@pytest.mark.parametrize(("facts_", "expected"), COMPILED_TABLE, ids=[str(i) for i in range(len(COMPILED_TABLE))])
def test_compiled_mode_outcomes(facts_, expected):
    assert case_outcome(facts_).outcome == expected


def test_messages_lose_the_frames_a_framework_wraps_around_them():
    from portability.runner.calls import innermost

    tf_message = ("in user code:\n\n    File \"/x/calls.py\", line 106, in run  *\n        return thunk()\n\n"
                  "    ValueError: Unsupported dtype19 for '{{node range}} = Range[Tidx=DT_HALF]'\n\n")
    assert innermost("ValueError", tf_message) == "Unsupported dtype19 for '{{node range}} = Range[Tidx=DT_HALF]'"
    assert innermost("TypeError", tf_message).startswith("ValueError: Unsupported dtype19")
    torch_message = ("Data pointer comparison\n  Explanation: Dynamo can only trace data pointer comparisons.\n\n"
                     "  Developer debug context: richcompare_impl")
    assert first_line(innermost("Unsupported", torch_message)) == (
        "Data pointer comparison: Dynamo can only trace data pointer comparisons.")
    assert innermost("RuntimeError", "plain message") == "plain message"


def _raise(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the point is to see what the framework raises
        return type(exc).__name__, str(exc)
    raise AssertionError("expected the framework to raise")


def test_live_framework_errors():
    """The same classes of failure, raised live by the installed torch and JAX."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    half = torch.eye(4, dtype=torch.half)
    assert classify_exception(*_raise(lambda: torch.linalg.cholesky(half))) == "not_implemented"
    assert classify_exception(*_raise(lambda: torch.linalg.inv(half))) == "dtype"
    assert classify_exception(*_raise(lambda: jnp.linalg.inv(jnp.eye(3, dtype=jnp.float16)))) == "dtype"
    assert classify_exception(*_raise(lambda: torch.ones(2, 3) @ torch.ones(2, 3))) == "error"


def test_crash_message_names_the_failed_check():
    """What libtpu 0.0.42.1 printed when it aborted compiling jnp.linalg.svd (float32, x64 on) for a TPU."""
    from portability.runner.pool import crash_message

    tail = ["--- case jax.numpy.linalg.svd float32 tpu-compile",
            "F1206 22:17:48.719258    1781 shape.h:843] Check failed: buffer != nullptr ((null) vs. (null)) ",
            "*** Check failure stack trace: ***", "Fatal Python error: Aborted", "Extension modules: numpy"]
    assert crash_message(-6, tail) == ("worker killed by SIGABRT: shape.h:843] Check failed: buffer != nullptr "
                                       "((null) vs. (null))")
    assert crash_message(-11, ["Fatal Python error: Segmentation fault", "x"]) == (
        "worker killed by SIGSEGV: Fatal Python error: Segmentation fault")
