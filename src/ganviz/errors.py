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
