"""One exception hierarchy for ganviz; each class also inherits the natural builtin."""

from __future__ import annotations

__all__ = [
    "GanvizError",
    "NotAModelError",
    "ModelNotBuiltError",
    "UnknownFormatError",
    "OutputPathError",
    "RenderBackendError",
    "ModelFileError",
    "TraceError",
    "DataError",
    "TargetError",
    "DiagramTooLargeError",
    "RunFileError",
    "UserCodeError",
    "user_frame",
    "ResumeMismatchError",
    "TrainOptionError",
    "NotReadyError",
]


class GanvizError(Exception):
    """Base class of every error ganviz raises on purpose (one clear line each)."""


class NotAModelError(GanvizError, TypeError):
    """The object given is not a Keras model (or layer) that ganviz can draw."""


class ModelNotBuiltError(GanvizError, ValueError):
    """A model has no known input shape; the user must pass ``input_shape=``."""


class UnknownFormatError(GanvizError, ValueError):
    """An output format (file extension) ganviz does not know or cannot make here."""


class OutputPathError(GanvizError, OSError):
    """The output path cannot be written."""


class RenderBackendError(GanvizError, RuntimeError):
    """Neither a system Graphviz nor the pip-installed port could render."""


class ModelFileError(GanvizError, ValueError):
    """A ``.keras`` / ``.h5`` file is missing, corrupt, hostile or holds no model."""


class TraceError(GanvizError, ValueError):
    """A training step could not be traced (or no models were found in it)."""


class DataError(GanvizError, ValueError):
    """A dataset path is missing, corrupt or of an unknown kind."""


class TargetError(GanvizError, ValueError):
    """A CLI target (``file.py:name``, ``pkg.mod:name``) cannot be resolved."""


class DiagramTooLargeError(GanvizError, ValueError):
    """A diagram has too many boxes for the format asked (e.g. a raster of 100,000 layers)."""


class RunFileError(GanvizError, ValueError):
    """A file of a run folder is not the run's own regular file (a link out, a pipe, a device), too big, or damaged."""


class UserCodeError(GanvizError, RuntimeError):
    """The user's code (a model file, a factory, a ``train_step``) raised: one line naming where, and what was kept."""

    @classmethod
    def from_exception(cls, exc: BaseException, what: str, *, then: str) -> UserCodeError:
        """``what`` failed with ``exc``: where (the user's innermost frame, ``file.py:LINE``), the exception's one line, ``then``.

        >>> try:
        ...     {}["k"]
        ... except KeyError as e:
        ...     print(UserCodeError.from_exception(e, "your model file", then="fix it, then run again"))
        your model file failed at <doctest ganviz.errors.UserCodeError.from_exception[0]>:2: KeyError: 'k'; fix it, then run again
        """
        where = user_frame(exc)
        at = f" at {where}" if where else ""
        text = " ".join(str(exc).split()) or "(no message)"
        if len(text) > 300:
            text = text[:300] + "..."
        return cls(f"{what} failed{at}: {type(exc).__name__}: {text}; {then}")


def user_frame(exc: BaseException) -> str | None:
    """``file.py:LINE`` of the innermost frame of ``exc``'s traceback that is the user's code.

    The user's code is anything outside ganviz, the standard library and installed packages
    (Keras, TensorFlow); ``None`` when no frame is (the failure happened inside a library).
    """
    import os
    import sysconfig
    import traceback

    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    libraries = {os.path.abspath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
                 if (p := sysconfig.get_paths().get(key))}  # fmt: skip
    found = None
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # the exception, then what it was raised from
        seen.add(id(exc))
        for frame in traceback.extract_tb(exc.__traceback__):
            name = frame.filename
            if name.startswith("<frozen") or name.startswith("<string"):
                continue
            path = os.path.abspath(name) if not name.startswith("<") else name
            if path.startswith(here) or any(path.startswith(lib) for lib in libraries) or "site-packages" in path:
                continue
            found = f"{name}:{frame.lineno}"
        if found:
            return found
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return found


class ResumeMismatchError(GanvizError, ValueError):
    """A run cannot be resumed with the objects given (another model than the one it was trained with)."""


class TrainOptionError(GanvizError, ValueError):
    """A training option or setting is wrong (a step count, a scale, the samples' shape, ``TF_CONFIG``)."""


class NotReadyError(GanvizError, RuntimeError):
    """A training object was used out of order (``fit`` before ``compile``, ``Monitor.step`` before ``start``)."""
