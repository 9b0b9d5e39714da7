"""Resolve a command-line TARGET: a model file, ``file.py:name`` or ``package.module:name``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import GanvizError, TargetError, UserCodeError

__all__ = ["MODEL_FILE_SUFFIXES", "is_model_file", "split_target", "load_object", "new_run"]

# The files imported in this run, by resolved path: `--generator f.py:g --combined f.py:combined`
# names one run of f.py, so that both targets are objects of that one run (its models, shared layers
# and compiled state), not of separate imports of the script.
_IMPORTED: dict[str, Any] = {}


def new_run() -> None:
    """Forget the files imported by an earlier run (each `ganviz` invocation imports a file once)."""
    _IMPORTED.clear()


MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")


def is_model_file(target: str) -> bool:
    """True when ``target`` names a Keras model file by its extension.

    >>> is_model_file("resnet.keras"), is_model_file("models.py:gen")
    (True, False)
    """
    return Path(target).suffix.lower() in MODEL_FILE_SUFFIXES


def split_target(target: str) -> tuple[str, str]:
    """Split ``"where:name"`` into its two parts.

    >>> split_target("examples/seed_gan.py:build_generator")
    ('examples/seed_gan.py', 'build_generator')
    >>> split_target("pkg.mod")
    Traceback (most recent call last):
    ...
    ganviz.errors.TargetError: target 'pkg.mod' names no object: use FILE.py:NAME or package.module:NAME, or a .keras/.h5 file
    """
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name or not name.replace(".", "_").isidentifier():
        raise TargetError(
            f"target {target!r} names no object: use FILE.py:NAME or package.module:NAME, or a .keras/.h5 file"
        )
    return where, name


def _load_module(where: str) -> Any:
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise TargetError(f"file {where!r} not found (give the path of a Python file, e.g. models.py:generator)")
        key = str(path.resolve())
        if key in _IMPORTED:
            return _IMPORTED[key]
        name = f"_ganviz_target_{abs(hash(key))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot import {where!r} as Python source (is it a .py file?)")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        folder = str(path.resolve().parent)
        added = folder not in sys.path
        if added:
            sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(module)
        except SystemExit as exc:
            sys.modules.pop(name, None)
            raise TargetError(
                f"importing {where!r} called sys.exit({exc.code}); guard its script code with `if __name__ == '__main__':`"
            ) from None
        except (SyntaxError, ImportError) as exc:
            sys.modules.pop(name, None)
            raise TargetError(
                f"cannot import {where!r}: {type(exc).__name__}: {exc} (fix the file, then retry)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the user's file may raise anything at import
            sys.modules.pop(name, None)
            if isinstance(exc, GanvizError):
                raise
            raise UserCodeError.from_exception(
                exc, f"importing {where!r}", then="nothing was run or written; fix the file, then retry"
            ) from None
        finally:
            if added:
                sys.path.remove(folder)
        _IMPORTED[key] = module
        return module
    # `python -m` puts the current folder on sys.path but the `ganviz` script does not: add it for the import,
    # so that `pkg.module:name` is found where the user stands, as Python itself would find it.
    cwd = os.getcwd()
    added_cwd = cwd not in sys.path and "" not in sys.path
    if added_cwd:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        raise TargetError(
            f"cannot import module {where!r}: {exc} (check the name, or use a FILE.py:NAME path)"
        ) from None
    except (SyntaxError, ImportError) as exc:
        raise TargetError(
            f"cannot import {where!r}: {type(exc).__name__}: {exc} (fix the module, then retry)"
        ) from None
    except GanvizError:
        raise
    except Exception as exc:
        raise UserCodeError.from_exception(
            exc, f"importing {where!r}", then="nothing was run or written; fix the module, then retry"
        ) from None
    finally:
        if added_cwd and cwd in sys.path:
            sys.path.remove(cwd)


def load_object(target: str, *, call: bool = True) -> Any:
    """Import ``where`` and return ``name`` from it; call it if it is a zero-argument function.

    Classes are instantiated too only when ``call`` is set and they take no arguments; a Keras
    model (callable itself) is returned as it is.
    """
    where, name = split_target(target)
    module = _load_module(where)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))[:20]
            raise TargetError(f"{where!r} has no attribute {name!r} (it has: {', '.join(public) or 'nothing public'})")
        obj = getattr(obj, part)
    if call and _is_plain_function(obj):
        if not _is_factory(obj):
            raise TargetError(
                f"{target!r} is a function that needs arguments; point at a zero-argument function or an object"
            )
        obj = call_user(obj, target)
    return obj


def call_user(fn: Any, target: str) -> Any:
    """``fn()``, the user's factory: anything it raises becomes one :class:`UserCodeError` line naming its file:line."""
    try:
        return fn()
    except GanvizError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise UserCodeError.from_exception(exc, f"{target!r}", then="nothing was written; fix it, then retry") from None


def _is_factory(obj: Any) -> bool:
    import inspect

    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def _is_plain_function(obj: Any) -> bool:
    import inspect

    return inspect.isfunction(obj) or inspect.ismethod(obj)
