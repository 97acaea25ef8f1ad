"""How often public framework APIs are called in a corpus of Python source (``portability mine``).

The study matched bare names, so ``print``, ``append`` and ``range`` counted as framework calls.
Here every call is resolved through the file's imports with ``ast``:

- ``import jax.numpy as jnp; jnp.sum(x)`` counts ``jax.numpy.sum``; ``from torch import nn;
  nn.Linear(...)`` counts ``torch.nn.Linear``; ``import tensorflow.compat.v1 as tf`` makes
  ``tf.placeholder`` count as ``tf.compat.v1.placeholder`` (TensorFlow names are spelled ``tf.``).
- A method call counts under its class where the receiver's type is known: a value built by a
  framework class (``layer = nn.Linear(...)``; ``self.proj = nn.Linear(...)``) or by a function of
  an array namespace (``y = torch.zeros(3)`` is a ``torch.Tensor``; so is ``y.view(...)``). With
  the framework importable, the class must really have that attribute.
- Every other method call counts under the ``<method>`` bucket by its bare name: it is kept, not
  guessed. Python builtins called by bare name are skipped (and counted as skipped), as are
  private or internal names (any part starting with ``_``, ``tf.python...``).
- Decorators (``@jax.jit``, ``@tf.function``) count as calls.

A file that does not parse is counted and skipped, never fatal. Files that do not import the
framework are counted and not mined.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portability.usage.tables import METHOD_BUCKET, SCHEMA_VERSION
from portability.vocabulary import FRAMEWORKS

#: Namespaces whose functions return the framework's array type, so that methods called on their
#: results can be attributed (``torch.zeros(3).view(...)`` is ``torch.Tensor.view``).
ARRAY_NAMESPACES = {
    "torch": ("torch.Tensor", ("torch", "torch.nn.functional", "torch.linalg", "torch.fft", "torch.special")),
    "jax": ("jax.Array", ("jax.numpy", "jax.numpy.linalg", "jax.numpy.fft", "jax.lax", "jax.nn", "jax.random",
                          "jax.scipy.special")),
    "tensorflow": ("tf.Tensor", ("tf", "tf.math", "tf.nn", "tf.linalg", "tf.signal", "tf.random", "tf.image",
                                 "tf.compat.v1", "tf.compat.v1.nn", "tf.compat.v1.math")),
}
BUILTINS = frozenset(dir(builtins))


def canonical(module: str, framework: str) -> str | None:
    """``tensorflow.compat.v1`` -> ``tf.compat.v1``, ``tensorflow.compat.v2.x`` -> ``tf.x``; None for a
    module of another library."""
    top, prefix = FRAMEWORKS[framework].module, FRAMEWORKS[framework].prefix
    if framework == "tensorflow" and (module == "tensorflow.compat.v2" or module.startswith("tensorflow.compat.v2.")):
        module = "tensorflow" + module[len("tensorflow.compat.v2"):]  # the TF2 API under its TF2 name
    if module == top or module.startswith(top + "."):
        return prefix + module[len(top):]
    return None


def is_public(api: str, framework: str) -> bool:
    parts = api.split(".")
    if any(p.startswith("_") for p in parts):
        return False
    return not (framework == "tensorflow" and len(parts) > 1 and parts[1] == "python")


class Introspector:
    """What the installed framework says about a qualified name: is it there, is it a class?

    Without the framework installed, existence is unknown (None) and class-ness falls back on
    the naming convention (``CamelCase`` names are classes)."""

    def __init__(self, framework: str, enabled: bool = True) -> None:
        self.framework = framework
        self.module: Any = None
        self.version: str | None = None
        self._cache: dict[str, Any] = {}
        if enabled:
            try:
                self.module = importlib.import_module(FRAMEWORKS[framework].module)
                self.version = str(getattr(self.module, "__version__", "?"))
            except Exception:  # noqa: BLE001 - any import failure means "not introspectable"
                self.module = None

    def lookup(self, api: str) -> Any:
        """The object behind ``api``, or ``Missing``; None when the framework is not importable."""
        if self.module is None:
            return None
        if api in self._cache:
            return self._cache[api]
        head, _, attr = api.rpartition(".")
        if not head:
            obj: Any = self.module
        else:
            parent = self.lookup(head)
            obj = _MISSING if parent is _MISSING else getattr(parent, attr, _MISSING)
            if obj is _MISSING and parent is not _MISSING and inspect.ismodule(parent):
                # A submodule not imported by its parent package (``tf.compat.v1`` style aliases).
                try:
                    obj = importlib.import_module(f"{parent.__name__}.{attr}")
                except Exception:  # noqa: BLE001
                    obj = _MISSING
        self._cache[api] = obj
        return obj

    def exists(self, api: str) -> bool | None:
        if self.module is None:
            return None
        return self.lookup(api) is not _MISSING

    def is_class(self, api: str) -> bool:
        obj = self.lookup(api)
        if obj is None:
            return api.rsplit(".", 1)[-1][:1].isupper()
        return inspect.isclass(obj)

    def has_attr(self, cls: str, attr: str) -> bool:
        obj = self.lookup(cls)
        if obj is None:
            return True  # not importable: trust the receiver's type
        return obj is not _MISSING and hasattr(obj, attr)


_MISSING = object()


@dataclass
class FileCounts:
    apis: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    builtins_skipped: int = 0
    private_skipped: int = 0
    star_imports: int = 0


class _Miner(ast.NodeVisitor):
    """One file: imports first (wherever they are), then every call in source order."""

    def __init__(self, framework: str, intro: Introspector) -> None:
        self.fw = framework
        self.intro = intro
        self.array_type, self.array_namespaces = ARRAY_NAMESPACES[framework]
        self.aliases: dict[str, str] = {}
        self.scopes: list[dict[str, str]] = [{}]  # module, then class / function scopes
        self.class_attrs: list[dict[str, str]] = []  # ``self.x`` types, per enclosing class
        self.out = FileCounts()

    # -- imports ------------------------------------------------------------------------------
    def collect_imports(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    q = canonical(a.name, self.fw)
                    if q is None:
                        continue
                    if a.asname:
                        self.aliases[a.asname] = q
                    else:  # ``import torch.nn`` binds ``torch``
                        top = a.name.split(".")[0]
                        self.aliases[top] = canonical(top, self.fw) or top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                mod = canonical(node.module, self.fw)
                if mod is None:
                    continue
                for a in node.names:
                    if a.name == "*":
                        self.out.star_imports += 1
                    else:
                        self.aliases[a.asname or a.name] = f"{mod}.{a.name}"

    # -- resolution ---------------------------------------------------------------------------
    def _type_of_name(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def resolve(self, expr: ast.expr) -> tuple[str, str] | None:
        """("api", qualified name) or ("value", qualified type) or None."""
        if isinstance(expr, ast.Name):
            t = self._type_of_name(expr.id)
            if t is not None:
                return ("value", t)
            if expr.id in self.aliases:
                return ("api", self.aliases[expr.id])
            return None
        if isinstance(expr, ast.Attribute):
            if isinstance(expr.value, ast.Name) and expr.value.id == "self" and self.class_attrs:
                t = self.class_attrs[-1].get(expr.attr)
                return ("value", t) if t else None
            base = self.resolve(expr.value)
            if base is None:
                return None
            if base[0] == "api":
                return ("api", f"{base[1]}.{expr.attr}")
            return ("member", f"{base[1]}.{expr.attr}") if self.intro.has_attr(base[1], expr.attr) else None
        if isinstance(expr, ast.Call):
            return self.result_of(expr)
        return None

    def result_of(self, call: ast.Call) -> tuple[str, str] | None:
        """The type of a call's value, where the call is a framework class or array function."""
        target = self.resolve(call.func)
        if target is None:
            return None
        kind, name = target
        if kind == "api":
            if self.intro.is_class(name):
                return ("value", name)
            if name.rpartition(".")[0] in self.array_namespaces:
                return ("value", self.array_type)
            return None
        if kind == "member" and name.rpartition(".")[0] == self.array_type:
            return ("value", self.array_type)  # tensor methods return tensors (x.view().permute())
        return None

    def count(self, func: ast.expr) -> None:
        target = self.resolve(func)
        if target is not None and target[0] in ("api", "member"):
            name = target[1]
            if is_public(name, self.fw):
                self.out.apis[name] += 1
            else:
                self.out.private_skipped += 1
            return
        if target is not None:  # calling a typed value (``layer(x)``): the class was counted when built
            return
        if isinstance(func, ast.Name):
            if func.id in BUILTINS:
                self.out.builtins_skipped += 1
        elif isinstance(func, ast.Attribute):
            self.out.methods[func.attr] += 1

    # -- visiting -----------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.count(node.func)
        self.generic_visit(node)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        typed = self.resolve(value) if isinstance(value, ast.Call) else None
        t = typed[1] if typed and typed[0] == "value" else None
        if isinstance(target, ast.Name):
            if t:
                self.scopes[-1][target.id] = t
            else:
                self.scopes[-1].pop(target.id, None)
        elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
              and target.value.id == "self" and self.class_attrs):
            if t:
                self.class_attrs[-1][target.attr] = t
            else:
                self.class_attrs[-1].pop(target.attr, None)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # calls on the right happen first
        for target in node.targets:
            self._bind(target, node.value)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:  # ``with tf.GradientTape() as tape``
                self._bind(item.optional_vars, item.context_expr)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._bind(node.target, node.value)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for dec in node.decorator_list:
            if isinstance(dec, (ast.Name, ast.Attribute)):
                self.count(dec)
            else:
                self.visit(dec)
        for default in [*node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(default)
        self.scopes.append({})
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for dec in node.decorator_list:
            if isinstance(dec, (ast.Name, ast.Attribute)):
                self.count(dec)
            else:
                self.visit(dec)
        self.class_attrs.append({})
        self.scopes.append({})
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()
        self.class_attrs.pop()


def mine_source(source: str, framework: str, intro: Introspector | None = None) -> FileCounts | None:
    """Counts for one file's source; None when it does not import the framework.

    Raises ``SyntaxError`` (or ``ValueError`` for null bytes) when it does not parse."""
    tree = ast.parse(source)
    miner = _Miner(framework, intro or Introspector(framework, enabled=False))
    miner.collect_imports(tree)
    if not miner.aliases and not miner.out.star_imports:
        return None
    miner.visit(tree)
    return miner.out


def python_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if p.is_file())
        elif path.suffix == ".py":
            yield path


def corpus_packages(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Name and version of each pip-installed distribution found under the corpus paths."""
    found = {}
    for path in paths:
        if not path.is_dir():
            continue
        for meta in sorted(path.glob("*.dist-info/METADATA")):
            fields = dict(re.findall(r"^(Name|Version): (.+)$", meta.read_text(errors="replace"), re.M))
            if "Name" in fields:
                found[fields["Name"].strip()] = fields.get("Version", "?").strip()
    return [{"name": n, "version": v} for n, v in sorted(found.items(), key=lambda kv: kv[0].lower())]


def deciles(counts: Counter[str]) -> dict[str, int]:
    """The paper's frequency deciles by rank: 100 holds the most called tenth of the APIs, 10 the
    least; ties are ordered by name so the split is reproducible."""
    ranked = sorted(counts, key=lambda api: (counts[api], api))
    n = len(ranked)
    return {api: 10 * (1 + (10 * i) // n) for i, api in enumerate(ranked)}


def mine(paths: list[Path], framework: str, description: str = "", introspect: bool = True) -> dict[str, Any]:
    """The frequency table of ``framework``'s public APIs over every ``.py`` file under ``paths``."""
    intro = Introspector(framework, enabled=introspect)
    apis: Counter[str] = Counter()
    files_per_api: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    skipped: list[dict[str, str]] = []
    for path in python_files(paths):
        stats["files_seen"] += 1
        try:
            source = path.read_bytes().decode("utf-8")
            result = mine_source(source, framework, intro)
        except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            stats["files_skipped"] += 1
            skipped.append({"file": str(path), "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"})
            continue
        if result is None:
            stats["files_without_framework"] += 1
            continue
        stats["files_parsed"] += 1
        apis.update(result.apis)
        files_per_api.update(result.apis.keys())
        methods.update(result.methods)
        stats["builtins_skipped"] += result.builtins_skipped
        stats["private_skipped"] += result.private_skipped
        stats["star_imports"] += result.star_imports
    dec = deciles(apis)
    rows = [
        {"rank": rank, "api": api, "calls": apis[api], "files": files_per_api[api], "decile": dec[api],
         "exists": intro.exists(api)}
        for rank, api in enumerate(sorted(apis, key=lambda a: (-apis[a], a)), start=1)
    ]
    return {
        "schema": SCHEMA_VERSION,
        "kind": "portability-frequency",
        "framework": framework,
        "framework_version": intro.version,
        "corpus": {
            "description": description,
            "paths": [str(p) for p in paths],
            "packages": corpus_packages(paths),
        },
        "files": {k: stats[k] for k in ("files_seen", "files_parsed", "files_without_framework", "files_skipped")},
        "skipped_files": skipped,
        "calls": {
            "apis": sum(apis.values()),
            "method_bucket": sum(methods.values()),
            "builtins_skipped": stats["builtins_skipped"],
            "private_skipped": stats["private_skipped"],
        },
        "star_imports": stats["star_imports"],
        "apis": rows,
        "method_bucket": [{"api": f"{METHOD_BUCKET}.{m}", "calls": c} for m, c in methods.most_common()],
    }
