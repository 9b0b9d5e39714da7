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


class ResumeMismatchError(GanvizError, ValueError):
    """A run cannot be resumed with the objects given (another model than the one it was trained with)."""


class TrainOptionError(GanvizError, ValueError):
    """A training option or setting is wrong (a step count, a scale, the samples' shape, ``TF_CONFIG``)."""


class NotReadyError(GanvizError, RuntimeError):
    """A training object was used out of order (``fit`` before ``compile``, ``Monitor.step`` before ``start``)."""
