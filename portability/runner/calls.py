"""A kernel's call as a worker makes it: what the kernel's callables receive (``Ctx``), the API a
qualified name resolves to, the whole call as one function of its arrays (what a compiler traces),
the callable that is timed, and the facts of an exception."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from portability.catalog import Kernel
from portability.records import ErrorFacts
from portability.runner import backends
from portability.vocabulary import FRAMEWORKS


@dataclass
class Ctx:
    """What a kernel's callables receive: the resolved API and the framework, placed on a device."""

    fn: Any
    fw: Any
    device: Any
    backend: str
    dtype: str
    seed: int
    adapter: backends.Backend

    def to(self, array: Any) -> Any:
        """Put a NumPy array on the case's device with its own dtype (for inputs made in setup)."""
        return self.adapter.to_device(np.asarray(array), self.device)


def resolve(api: str) -> tuple[Any, Any]:
    """The object a qualified API names, and its framework's top module.

    ``tf.compat.v1.placeholder`` -> tensorflow.compat.v1.placeholder. Submodules that are not
    attributes until imported (``jax.scipy.special``) are imported along the way.
    """
    import importlib

    prefix, *parts = api.split(".")
    top_name = next(f.module for f in FRAMEWORKS.values() if f.prefix == prefix)
    top = importlib.import_module(top_name)
    obj: Any = top
    path = top_name
    for part in parts:
        path = f"{path}.{part}"
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module(path)
            except ImportError:
                raise AttributeError(f"{api} does not exist ('{part}' not found in {path.rsplit('.', 1)[0]})") from None
    return obj, top


def whole_call(kernel: Kernel, fn: Any, ctx: Ctx, inputs: Mapping[str, Any], names: Sequence[str],
               where: dict[str, str]) -> Callable[..., Any]:
    """A case's whole call, setup included, as one function of its array inputs (``names``, in
    order; the other inputs are fixed): what a compiler traces. ``where["in"]`` says whether the
    kernel's setup or its call was running when tracing stopped."""
    setup, call = kernel.setup, kernel.call

    def program(*arrays: Any) -> Any:
        given = {**inputs, **dict(zip(names, arrays, strict=True))}
        if setup is not None:
            where["in"] = "setup"
            thunk = setup(ctx, **given)
            where["in"] = "call"
            return thunk()
        if call is not None:
            return call(ctx, **given)
        return fn(*given.values())

    program.__name__ = program.__qualname__ = kernel.api  # what the compiler's messages name
    return program


#: The native stack XLA appends to a status message ("...; got shape f64[64,64]:     @     0x7ff717af2ea2
#: xla::XlaBuilder::ReportError()"): addresses, not words; the traceback keeps the Python side.
_NATIVE_STACK = re.compile(r":?\s+@\s+0x[0-9a-f]+\s.*", re.DOTALL)


#: ``tf.function`` re-raises an error of the code it traces as "in user code:", the user's frames, then
#: the error itself, indented: "    ValueError: Unsupported dtype19 for '{{node range}} = Range[...]'".
_USER_CODE = "in user code:"
_ERROR_LINE = re.compile(r"^\s*(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit)): (?P<text>.*)$")


#: torch.compile's errors give a title line, then "  Explanation: ..." saying what went wrong.
_EXPLANATION = re.compile(r"^\s+Explanation: (?P<text>.+)$", re.MULTILINE)


def innermost(exc_type: str, message: str) -> str:
    """A message without the frames a framework wrapped around it: the error line itself (prefixed
    with its type where that is not ``exc_type``), or a title line with its explanation joined to it.
    Other messages are returned as they are."""
    explained = _EXPLANATION.search(message)
    if explained and "\n" in message:
        title, rest = message.split("\n", 1)
        return f"{title.rstrip()}: {explained['text'].strip()}\n{rest}"
    if not message.lstrip().startswith(_USER_CODE):
        return message
    for line in reversed(message.splitlines()):
        m = _ERROR_LINE.match(line)
        if m:
            kind = m["type"].rsplit(".", 1)[-1]
            return m["text"] if kind == exc_type else f"{kind}: {m['text']}"
    return message


#: The name and attributes TensorFlow gives the graph it failed to compile with XLA
#: ("__inference_run_29582[_XlaMustCompile=true,config_proto=...]"): ids, not words.
_GRAPH_NAME = re.compile(r" __inference_\w+(\[[^\]]*\])?")


def error_facts(stage: str, exc: BaseException) -> ErrorFacts:
    kind = type(exc).__name__
    text = _GRAPH_NAME.sub("", _NATIVE_STACK.sub("", str(exc)))
    return {
        "stage": stage,
        "type": kind,
        "message": innermost(kind, text) or kind,
        "traceback": "".join(traceback.format_exception(exc, limit=-4))[-2000:],
    }


def placed(adapter: backends.Backend, device: Any, thunk: Callable[[], Any]) -> Callable[[], Any]:
    """The timed callable: inside the device scope where the framework needs one for its calls."""
    if not adapter.scope_calls:
        return thunk

    def run() -> Any:
        with adapter.placement(device):
            return thunk()

    return run
