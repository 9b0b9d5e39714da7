"""Import rules of docs/ARCHITECTURE.md: ir is stdlib-only, render never touches Keras/TF, import ganviz stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ganviz"


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, level) for every import statement in a file; level > 0 for relative imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def _files(sub: str) -> list[Path]:
    files = sorted((SRC / sub).rglob("*.py"))
    assert files, f"no modules found under {sub}"
    return files


@pytest.mark.parametrize("path", _files("ir"), ids=lambda p: p.name)
def test_ir_imports_only_the_standard_library(path: Path) -> None:
    for module, level in _imports(path):
        if level:
            assert level == 1, f"{path.name} reaches outside ir/ with a relative import of {module!r}"
            continue
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {module!r}"


@pytest.mark.parametrize("path", _files("render"), ids=lambda p: p.name)
def test_render_never_imports_keras_or_tensorflow(path: Path) -> None:
    for module, _ in _imports(path):
        assert module.split(".")[0] not in {"keras", "tensorflow", "tf_keras"}, f"{path.name} imports {module!r}"


@pytest.mark.parametrize("path", _files("extract"), ids=lambda p: p.name)
def test_extract_never_imports_render(path: Path) -> None:
    for module, level in _imports(path):
        name = ("." * level) + module
        assert "render" not in name.split("."), f"{path.name} imports {name!r}"


def test_import_ganviz_does_not_import_tensorflow_or_keras() -> None:
    code = (
        "import sys, ganviz, ganviz.ir, ganviz.render.dot, ganviz.api, ganviz.cli\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'h5py') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve_lazily() -> None:
    import ganviz

    for name in ("plot_model", "plot_gan", "model_to_graph", "file_to_graph", "trace_gan", "trace_step"):
        assert name in dir(ganviz)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ganviz.nope  # type: ignore[attr-defined]


def _absolute(path: Path, module: str, level: int) -> str:
    """The absolute dotted name of an import in ``path`` (relative imports resolved)."""
    if not level:
        return module
    package = list(path.relative_to(SRC.parent).with_suffix("").parts)[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


@pytest.mark.parametrize("path", _files("extract/keras_file"), ids=lambda p: p.name)
def test_the_file_reader_stands_alone(path: Path) -> None:
    for module, level in _imports(path):
        name = _absolute(path, module, level)
        top = name.split(".")[0]
        assert top not in {"tensorflow", "keras", "tf_keras", "jax", "torch"}, f"{path.name} imports {name!r}"
        if top == "ganviz":
            allowed = ("ganviz.errors", "ganviz.ir", "ganviz.extract.keras_file", "ganviz.extract.sanitize")
            assert name.startswith(allowed), f"{path.name} imports {name!r}"


def test_the_file_reader_imports_with_tensorflow_and_keras_blocked() -> None:
    code = (
        "import sys\n"
        "for m in ('tensorflow', 'keras', 'tf_keras', 'jax', 'torch'): sys.modules[m] = None\n"
        "from ganviz.extract.keras_file import file_to_graph\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("sub", ["ir", "render", "extract"])
def test_nothing_below_the_front_door_imports_it(sub: str) -> None:
    for path in _files(sub):
        for module, level in _imports(path):
            name = _absolute(path, module, level)
            for upper in ("ganviz.api", "ganviz.cli", "ganviz.train", "ganviz.diagram"):
                assert not (name == upper or name.startswith(upper + ".")), f"{path} imports {name!r}"
