"""The rules of docs/ARCHITECTURE.md that a test can check, read from the source (nothing here imports ganviz).

Each test names the rule's line in the architecture page; a change that breaks a rule either moves
the code to where the rule says, or changes the page and this test together.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ganviz"
MODULES = sorted(SRC.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _docstrings(tree: ast.Module) -> set[int]:
    """``id`` of every docstring constant (module, class, function), so doctest text is not mistaken for code."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


# -- private attributes of other libraries --------------------------------------------------------
# "the only code that touches Keras private attributes": extract/keras_model/ (and the tracer's
# tf.function internals in extract/step_trace/), and in train/ the one adapter keras_internals.py.
PRIVATE_ALLOWED = ("extract/keras_model/", "extract/step_trace/", "train/keras_internals.py")
# argparse's own, for Keras-style --show_shapes aliases (not Keras's): named here so nothing else hides.
ARGPARSE_PRIVATE = {"cli/main.py": {"_actions", "_option_string_actions", "_SubParsersAction"}}


def _own_names() -> set[str]:
    """Every name ganviz itself defines (functions, classes, attributes it assigns, arguments, imports)."""
    names: set[str] = set()
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[-1])
    return names


def _private_uses(path: Path, own: set[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(_tree(path)):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                name = node.args[1].value
        if name and name.startswith("_") and not name.startswith("__") and name not in own:
            found.append((node.lineno, name))
    return found


def test_private_attributes_of_keras_only_in_the_named_places() -> None:
    own = _own_names()
    wrong = []
    for path in MODULES:
        rel = _rel(path)
        if rel.startswith(PRIVATE_ALLOWED) or rel == "_io.py":
            continue
        for line, name in _private_uses(path, own):
            if name not in ARGPARSE_PRIVATE.get(rel, set()):
                wrong.append(f"{rel}:{line} uses {name}")
    assert not wrong, "private attributes outside extract/keras_model/ and train/keras_internals.py: " + "; ".join(
        wrong
    )


def test_the_private_attribute_check_sees_keras_internals() -> None:
    """The check above is not vacuous: the adapter itself uses the internals it names."""
    uses = {name for _, name in _private_uses(SRC / "train" / "keras_internals.py", _own_names())}
    assert {"_flatten_layers", "_distribute_strategy", "_keras_logits"} <= uses


# -- escaping --------------------------------------------------------------------------------------
# "render/quoting.py: the only way user text reaches DOT, HTML (the page and the training report) and Mermaid"
_ENTITIES = ("&lt;", "&gt;", "&amp;", "&quot;", "&#39;")


@pytest.mark.parametrize("path", [p for p in MODULES if _rel(p) != "render/quoting.py"], ids=_rel)
def test_escaping_only_in_quoting(path: Path) -> None:
    tree = _tree(path)
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            absolute = isinstance(node, ast.Import) or node.level == 0  # not ganviz's own render/html.py
            names = (
                ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
                if absolute
                else []
            )
            for name in names:
                assert name.split(".")[0] != "html" and "saxutils" not in name, f"{_rel(path)} imports {name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            hit = [e for e in _ENTITIES if e in node.value]
            assert not hit, f"{_rel(path)}:{node.lineno} escapes by hand ({hit}); use render/quoting.py"


# -- file output -----------------------------------------------------------------------------------
# "_io.py: every file the package writes" (TensorBoard event files too: _io.open_append_bytes).
# Keras's own model.save goes through _io.write_atomic_with. Writing to an in-memory buffer
# (``buf``, ``out``) is not a file write.
_WRITE_CALLS = {("os", "open"), ("os", "fdopen"), ("os", "link"), ("os", "replace"), ("os", "rename"),
                ("os", "write"), ("shutil", "copy"), ("shutil", "copy2"), ("shutil", "copyfile"),
                ("shutil", "move"), ("tempfile", "mkstemp"), ("tempfile", "NamedTemporaryFile")}  # fmt: skip
_WRITE_METHODS = {"write_text", "write_bytes"}


def _writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(_tree(path)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            mode = (
                node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            )
            if isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax+"):
                found.append(f"{node.lineno}: open(..., {mode.value!r})")
        elif isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if (owner, func.attr) in _WRITE_CALLS or func.attr in _WRITE_METHODS:
                found.append(f"{node.lineno}: {owner}.{func.attr}")
            elif func.attr == "save":
                target = node.args[0] if node.args else None
                in_memory = isinstance(target, ast.Name) and target.id in ("buf", "out")
                ours = isinstance(func.value, ast.Attribute) and func.value.attr == "checkpointer"
                if not (in_memory or ours):
                    found.append(f"{node.lineno}: .save()")
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if _rel(p) != "_io.py"], ids=_rel)
def test_files_are_written_only_through_io(path: Path) -> None:
    assert not _writes(path), f"{_rel(path)} writes files itself: {_writes(path)}; use ganviz._io"


def test_the_write_check_sees_writes() -> None:
    """Not vacuous: _io.py itself is caught by the same check."""
    assert any("os.replace" in w for w in _writes(SRC / "_io.py"))
    assert any("open(" in w for w in _writes(SRC / "_io.py"))


# -- module docstrings and import cycles -----------------------------------------------------------
@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_every_module_opens_with_a_one_line_summary(path: Path) -> None:
    doc = ast.get_docstring(_tree(path))
    assert doc and doc.splitlines()[0].strip(), f"{_rel(path)} has no docstring opening with a summary line"


def _module_graph() -> dict[str, set[str]]:
    names: dict[str, tuple[Path, list[str]]] = {}
    for path in MODULES:
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        package = parts[:-1]  # an __init__.py's package is its own folder, a module's the folder it is in
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = (path, package)

    def known(name: str) -> str:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {m: set() for m in names}
    for mod, (path, package) in names.items():
        for node in ast.walk(_tree(path)):  # function-level (lazy) imports count: a cycle is a cycle
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - (node.level - 1)] if node.level else []
                name = ".".join([*base, node.module] if node.module else base) if node.level else (node.module or "")
                targets = [f"{name}.{a.name}" if f"{name}.{a.name}" in names else known(name) for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            graph[mod] |= {t for t in targets if t.startswith("ganviz") and t != mod}
    return graph


def test_no_import_cycles() -> None:
    graph = _module_graph()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert graph["ganviz.extract.keras_model.calls"]  # the graph is read (not vacuous)
    assert not cycles, f"import cycles: {cycles}"
