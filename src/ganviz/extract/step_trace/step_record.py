"""What the JAX and PyTorch recorders share: the recorded lists, names from the user's frames, and the patches.

:class:`StepRecorder` holds what one step did (model calls, Keras losses, noise, gradients,
optimizer applies, as indices into :attr:`StepRecorder.kept`) and reads local names from the
user's frames; a backend says which values are its own (``is_mine``, ``keep_leaves``) and how a
gradient is stood in for. :class:`Patches` replaces attributes and puts them back; the wrappers
here (model calls, Keras loss objects and functions, noise) are the same on both backends.
Neither JAX, PyTorch nor TensorFlow is imported.
"""

from __future__ import annotations

import functools
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from .. import tf_graph as tfg
from .terms import LOSS_FUNCTION_CLASSES, keras_loss_class

__all__ = ["StepRecorder", "Patches", "defining_class", "module_dirs", "wrap_model_call", "wrap_noise", "patch_keras"]

# Functions of ``jax.random`` and ``keras.random`` whose result is noise a step draws.
NOISE_FUNCTIONS: tuple[str, ...]
NOISE_FUNCTIONS = ("normal", "uniform", "truncated_normal", "bernoulli", "randint", "categorical", "beta", "gamma")
NOISE_FUNCTIONS += ("laplace", "logistic", "exponential", "gumbel", "cauchy", "binomial", "poisson")


def module_dirs(names: tuple[str, ...]) -> tuple[str, ...]:
    """The folders of those of the named top-level modules that are imported (library code, never the user's)."""
    dirs = []
    for name in names:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            dirs.append(os.path.dirname(os.path.abspath(file)) + os.sep)
    return tuple(dirs)


def defining_class(cls: type, attr: str) -> type:
    """The class of ``cls.__mro__`` that defines ``attr`` (``cls`` itself when none does)."""
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass
    return cls


class Patches:
    """Attributes replaced while a step is traced, each once; :meth:`restore` puts every one back."""

    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, bool, Any]] = []

    def patch(self, obj: Any, attr: str, make: Callable[[Any], Any]) -> None:
        """``obj.attr = make(obj.attr)``, unless ``obj.attr`` is already replaced."""
        if any(o is obj and a == attr for o, a, _, _ in self.saved):
            return
        had = attr in getattr(obj, "__dict__", {})
        self.saved.append((obj, attr, had, obj.__dict__.get(attr) if had else None))
        setattr(obj, attr, make(getattr(obj, attr)))

    def restore(self) -> None:
        for obj, attr, had, old in reversed(self.saved):
            if had:
                setattr(obj, attr, old)
            else:
                try:
                    delattr(obj, attr)
                except AttributeError:
                    pass
        self.saved.clear()


class StepRecorder:
    """What one traced step did, values by index into :attr:`kept`; a backend defines which values are its own."""

    def __init__(self, model_names: dict[int, str], library_dirs: tuple[str, ...]) -> None:
        self.model_names = model_names
        self.containers: set[int] = set()
        self.recording = False
        self.depth = 0  # inside a recorded model call
        self.loss_depth = 0  # inside a recorded Keras loss
        self.grad_depth = 0  # inside a stand-in gradient's function
        self.noise_depth = 0
        self.stop_code: types.CodeType | None = None
        self.kept: list[Any] = []
        self._index: dict[Any, int] = {}
        self.names: dict[int, str] = {}  # kept index -> first local name
        self.frames: dict[int, types.FrameType] = {}
        self.calls: list[dict[str, Any]] = []
        self.loss_calls: list[tuple[str, int]] = []
        self.noise: list[tuple[str, int]] = []
        self.grads: list[dict[str, Any]] = []
        self.applies: list[tuple[Any, list[int | None], list[int | None]]] = []
        self.stopped: set[int] = set()  # results of the step's own ``stop_gradient``
        self.events: list[tuple[str, int]] = []
        self._lib_dirs = library_dirs

    # -- kept values ------------------------------------------------------------------------------

    def is_mine(self, value: Any) -> bool:
        """Whether ``value`` is one the recorded graph knows (a tracer of the trace, a recorded tensor)."""
        raise NotImplementedError

    def keep_leaves(self, tree: Any) -> list[int | None]:
        raise NotImplementedError

    def kept_key(self, value: Any) -> Any:
        return id(value)

    def on_kept(self, value: Any) -> None:
        """Called once for each value newly kept."""

    def keep(self, value: Any) -> int | None:
        if not self.is_mine(value):
            return None
        key = self.kept_key(value)
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self.kept)
            self.kept.append(value)
            self.on_kept(value)
        return i

    def kept_of(self, tree: Any) -> list[int]:
        """The kept indices of the leaves of ``tree`` that are the backend's own."""
        return [i for i in self.keep_leaves(tree) if i is not None]

    # -- names from the user's frames ---------------------------------------------------------------

    def user_code(self, filename: str) -> bool:
        return not tfg.is_library_file(filename) and not os.path.abspath(filename).startswith(self._lib_dirs)

    def user_frames(self, frame: types.FrameType | None) -> list[types.FrameType]:
        out = []
        while frame is not None and frame.f_code is not self.stop_code:
            if self.user_code(frame.f_code.co_filename):
                out.append(frame)
            frame = frame.f_back
        return out

    def capture(self, frame: types.FrameType | None) -> list[types.FrameType]:
        frames = self.user_frames(frame)
        for f in frames:
            self.frames.setdefault(id(f), f)
            self._names_in(f)
        return frames

    def _names_in(self, frame: types.FrameType) -> None:
        for name, value in list(frame.f_locals.items()):
            if name.startswith("_") or name == "self":
                continue
            i = self.keep(value)
            if i is not None:
                self.names.setdefault(i, name)

    def capture_final(self) -> None:
        """The locals of every user frame seen, as they were when it returned."""
        for f in list(self.frames.values()):
            self._names_in(f)

    def called_from_user(self, depth: int = 2) -> bool:
        return self.user_code(sys._getframe(depth).f_code.co_filename)

    # -- events ------------------------------------------------------------------------------------

    def recordable(self, model: Any) -> str | None:
        """The name of ``model`` when a call of it is to be recorded now, else None."""
        name = self.model_names.get(id(model))
        if name is None or not self.recording or self.depth or self.loss_depth or id(model) in self.containers:
            return None
        return name

    def within(self, counter: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with the depth ``counter`` one higher while it runs."""
        setattr(self, counter, getattr(self, counter) + 1)
        try:
            return fn(*args, **kwargs)
        finally:
            setattr(self, counter, getattr(self, counter) - 1)

    def in_tape(self) -> bool:
        """Whether a model call that just returned was made where a gradient is taken."""
        return self.grad_depth > 0

    def on_call(self, name: str, inputs: tuple[Any, ...], out: Any, frame: types.FrameType | None) -> None:
        frames = self.capture(frame)
        first = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (list, tuple, dict)) else inputs
        parts = list(first.values()) if isinstance(first, dict) else list(first)
        self.events.append(("call", len(self.calls)))
        self.calls.append(
            {
                "model": name,
                "args": [self.kept_of(p) for p in parts],
                "outs": self.kept_of(out),
                "in_tape": self.in_tape(),
                "frame": frames[0] if frames else None,
            }
        )

    def on_loss(self, cls_name: str, out: Any, frame: types.FrameType | None) -> None:
        self.capture(frame)
        i = self.keep(out)
        if i is not None:
            self.loss_calls.append((cls_name, i))

    def on_noise(self, fname: str, out: Any, frame: types.FrameType | None) -> None:
        self.capture(frame)
        i = self.keep(out)
        if i is not None:
            self.noise.append((fname, i))

    def on_gradient(
        self,
        frames: list[types.FrameType],
        target: Any,
        targets: Any,
        results: list[Any],
        sources: list[Any],
        fun: str | None,
    ) -> None:
        """One stand-in gradient of ``targets`` (``target`` the first, named by the caller's local
        holding it) for each group of ``sources``; ``results`` the gradients, group by group; ``fun`` the
        function differentiated (None: the local's name, else ``loss``)."""
        local = None
        if frames and target is not None:
            local = next((k for k, v in frames[0].f_locals.items() if v is target and not k.startswith("_")), None)
        self.events.append(("grad", len(self.grads)))
        self.grads.append(
            {
                "targets": self.kept_of(targets),
                "local": local,
                "results": [self.kept_of(g) for g in results],
                "sources": [self.kept_of(s) for s in sources],
                "fun": (local or "loss") if fun is None else fun,
                "trainable": {},
            }
        )

    def on_apply(self, optimizer: Any, grads: Any, variables: Any, frame: types.FrameType | None) -> None:
        self.capture(frame)
        self.events.append(("apply", len(self.applies)))
        self.applies.append((optimizer, self.keep_leaves(grads), self.keep_leaves(variables)))

    def trainable_of(self, models: list[Any]) -> dict[str, bool]:
        """Each recorded model's ``trainable`` flag now."""
        return {self.model_names[id(m)]: bool(m.trainable) for m in models if id(m) in self.model_names}


# -- wrappers the JAX and PyTorch recorders install alike ---------------------------------------------


def wrap_model_call(rec: StepRecorder, orig: Any, state_args: int = 0) -> Any:
    """A model method (``__call__``; ``stateless_call`` with its ``state_args`` variable lists first)
    whose calls are recorded, with the call's output (for ``stateless_call`` its first element)."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = rec.recordable(self)
        if name is None or len(args) < state_args:
            return orig(self, *args, **kwargs)
        out = rec.within("depth", orig, self, *args, **kwargs)
        shown = out[0] if state_args and isinstance(out, tuple) else out
        rec.on_call(name, args[state_args:], shown, sys._getframe(1))
        return out

    return call


def _counted(
    rec: StepRecorder, orig: Any, counter: str, record: Callable[[tuple[Any, ...], Any, Any], None], from_user: bool
) -> Any:
    """``orig`` run with ``counter`` raised and its result recorded by ``record(args, out, caller's
    frame)``; unrecorded outside the step, inside a recorded call, loss or ``counter`` itself, and,
    with ``from_user``, when library code calls it."""

    @functools.wraps(orig)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if not rec.recording or rec.depth or rec.loss_depth or getattr(rec, counter):
            return orig(*args, **kwargs)
        if from_user and not rec.called_from_user():
            return orig(*args, **kwargs)
        out = rec.within(counter, orig, *args, **kwargs)
        record(args, out, sys._getframe(1))
        return out

    return counted


def wrap_noise(rec: StepRecorder, orig: Any, fname: str) -> Any:
    """A random function whose result is recorded as noise named ``fname``."""
    return _counted(rec, orig, "noise_depth", lambda args, out, frame: rec.on_noise(fname, out, frame), False)


def patch_keras(
    patches: Patches, rec: StepRecorder, models: list[Any], keras: Any, noise: list[tuple[Any, tuple[str, ...]]]
) -> None:
    """Record, on either backend: each model's ``__call__``, every Keras loss object's call, every
    ``keras.losses`` function the step's own code calls, and the noise drawn by ``noise``'s
    ``(module, function names)`` and ``keras.random``."""

    def loss_object(orig: Any) -> Any:  # ``Loss.__call__``: ``args[0]`` is the loss object
        return _counted(
            rec, orig, "loss_depth", lambda args, out, frame: rec.on_loss(keras_loss_class(args[0]), out, frame), False
        )

    def loss_function(orig: Any, cls_name: str) -> Any:
        return _counted(rec, orig, "loss_depth", lambda args, out, frame: rec.on_loss(cls_name, out, frame), True)

    for model in models:
        patches.patch(defining_class(type(model), "__call__"), "__call__", lambda orig: wrap_model_call(rec, orig))
    patches.patch(defining_class(keras.losses.Loss, "__call__"), "__call__", loss_object)
    for fname, cls_name in LOSS_FUNCTION_CLASSES.items():
        if callable(getattr(keras.losses, fname, None)):
            patches.patch(keras.losses, fname, lambda orig, c=cls_name: loss_function(orig, c))
    for module, names in (*noise, (keras.random, NOISE_FUNCTIONS)):
        for fname in names:
            if callable(getattr(module, fname, None)):
                patches.patch(module, fname, lambda orig, f=fname: wrap_noise(rec, orig, f))
