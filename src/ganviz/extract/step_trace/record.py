"""Record model calls, gradients and optimizer updates while a step is traced (nothing is applied)."""

from __future__ import annotations

import contextlib
import functools
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from .. import tf_graph as tfg
from .compiled import EMULATED, Emulator, emulate
from .standin import TapeLog, standin_gradient
from .terms import LOSS_FUNCTION_CLASSES, keras_loss_class

__all__ = ["Recorder", "flat_tensors", "patched", "REAL_GRADIENTS"]

# False: gradients taken while tracing are stand-ins (standin.py), which keep who-gets-a-gradient and
# cost a fraction of TensorFlow's gradient graph. True: TensorFlow builds the real ones (the tests
# compare both on every system of the zoo).
REAL_GRADIENTS = False


def flat_tensors(structure: Any) -> list[Any]:
    import tensorflow as tf

    out = []
    for item in tf.nest.flatten(structure, expand_composites=False):
        if isinstance(item, tf.IndexedSlices):
            item = item.values
        if tfg.is_graph_tensor(item):
            out.append(item)
    return out


class Recorder:
    """Collects model calls, gradients and optimizer applications of one trace."""

    def __init__(self, model_names: dict[int, str]) -> None:
        self.model_names = model_names
        self.stop_code: types.CodeType | None = None  # the traced entry function's code, set when tracing
        self.recording = False
        self.depth = 0
        self.assigning = False
        self.execute = False  # True only for verify_trace's real step: optimizers are applied for real
        self.transparent: set[int] = set()  # compiled models made of the step's models: their parts are recorded
        self.containers: set[int] = set()  # models holding the step's models as layers: their parts are recorded
        self.emulating = 0  # inside a recorded train_on_batch: its gradient is a stand-in too
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, list[Any], list[Any]]] = []
        self.call_ops: list[list[str]] = []
        self.call_frames: list[types.FrameType | None] = []  # the user frame each call was made in
        self.call_in_tape: list[bool] = []
        self.call_args: list[list[list[Any]]] = []  # per call: the tensors of each positional input
        self.loss_calls: list[tuple[str, Any]] = []  # (Keras loss class, output tensor)
        self.assigns: list[tuple[Any, Any, str]] = []  # (variable, value, method)
        # ("call"|"grad"|"apply"|"assign", index) in order; ("tape", n): the n-th time a tape starts recording
        self.events: list[tuple[str, int]] = []
        self.frames: dict[int, types.FrameType] = {}  # user frames seen, kept alive for their final locals
        self.frame_names: dict[int, dict[str, str]] = {}  # per frame: tensor name -> first local name
        self.tape_depth = 0
        self.grads: list[tuple[list[Any], list[Any], list[str | None]]] = []
        self.grad_sources: list[list[Any]] = []  # per gradient: the tensors it is taken with respect to
        self.grad_trainable: list[dict[str, bool]] = []  # per gradient: each model's ``trainable`` then
        self.applies: list[tuple[Any, list[Any], list[Any]]] = []
        self.names: dict[str, str] = {}
        self.element_names: dict[str, str] = {}  # tensor name -> ``noise[1]``: an element of a local list/dict
        self.data: list[tuple[str, Any]] = []
        self.result: Any = None
        self.tapes = TapeLog()
        old = getattr(self, "emulator", None)
        self.emulator = Emulator(self)  # train_on_batch / predict of this recording
        if old is not None:
            self.emulator.extra_models = old.extra_models  # their names stay registered

    def capture_names(self, frame: types.FrameType | None) -> list[types.FrameType]:
        frames = tfg.user_frames(frame, self.stop_code)
        for f in frames:
            self.frames.setdefault(id(f), f)
            mine = self.frame_names.setdefault(id(f), {})
            for name, value in list(f.f_locals.items()):
                if name.startswith("_") or name == "self":
                    continue
                if not tfg.is_graph_tensor(value):
                    self._element_names(name, value)
                    continue
                with contextlib.suppress(Exception):
                    self.names.setdefault(value.name, name)
                    mine.setdefault(value.name, name)
        return frames

    def _element_names(self, name: str, value: Any) -> None:
        """``noise[0]``, ``noise[1]``: the tensors of a local list, tuple or dict, named as the code indexes them."""
        if isinstance(value, (list, tuple)) and len(value) <= 32:
            items: list[tuple[str, Any]] = [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        elif isinstance(value, dict) and len(value) <= 32:
            items = [(f"{name}[{k!r}]", v) for k, v in value.items()]
        else:
            return
        for label, v in items:
            if tfg.is_graph_tensor(v):
                with contextlib.suppress(Exception):
                    self.element_names.setdefault(v.name, label)

    def final_names(self, frame: types.FrameType | None = None) -> dict[str, str]:
        """Tensor name -> local name, from the final locals of ``frame`` or of every user frame seen."""
        out: dict[str, str] = {}
        for f in [frame] if frame is not None else list(self.frames.values()):
            for name, value in list(f.f_locals.items()):
                if not name.startswith("_") and name != "self" and tfg.is_graph_tensor(value):
                    with contextlib.suppress(Exception):
                        out.setdefault(value.name, name)
        return out

    def on_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, ops: list[str]) -> None:
        frames = self.capture_names(sys._getframe(2))
        self.events.append(("call", len(self.calls)))
        self.calls.append((name, flat_tensors((args, kwargs)), flat_tensors(out)))
        self.call_ops.append(ops)
        self.call_frames.append(frames[0] if frames else None)
        self.call_in_tape.append(self.tape_depth > 0)
        first = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple, dict)) else args
        parts = list(first.values()) if isinstance(first, dict) else list(first)
        self.call_args.append([flat_tensors(a) for a in parts])

    def on_loss(self, cls_name: str, out: Any) -> None:
        self.capture_names(sys._getframe(2))
        if tfg.is_graph_tensor(out):
            self.loss_calls.append((cls_name, out))

    def on_assign(self, variable: Any, value: Any, method: str) -> None:
        self.capture_names(sys._getframe(2))
        self.events.append(("assign", len(self.assigns)))
        self.assigns.append((variable, value, method))

    def on_gradient(self, target: Any, result: Any, sources: Any = None) -> None:
        import tensorflow as tf

        frames = self.capture_names(sys._getframe(2))
        targets = flat_tensors(target)
        names: list[str | None] = []
        for t in targets:
            local = None
            if frames:
                local = next((k for k, v in frames[0].f_locals.items() if v is t and not k.startswith("_")), None)
            names.append(local)
        results = [r.values if isinstance(r, tf.IndexedSlices) else r for r in tf.nest.flatten(result)]
        self.events.append(("grad", len(self.grads)))
        self.grads.append((targets, [r if tfg.is_graph_tensor(r) else None for r in results], names))
        self.grad_sources.append(flat_tensors(sources))

    def on_apply(self, optimizer: Any, grads: list[Any], variables: list[Any] | None) -> None:
        import tensorflow as tf

        self.capture_names(sys._getframe(2))
        if variables is None:
            return
        grads = [g.values if isinstance(g, tf.IndexedSlices) else g for g in grads]
        self.events.append(("apply", len(self.applies)))
        self.applies.append((optimizer, grads, list(variables)))


def _unrecorded(rec: Recorder, orig: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an optimizer's own update with recording off (its inner ``apply`` is not a second update)."""
    rec.recording = False
    try:
        return orig(*args, **kwargs)
    finally:
        rec.recording = True


def _variable_classes() -> list[type]:
    """Keras's variable class and TensorFlow's resource variable, whose ``assign`` a step may call."""
    out: list[type] = []
    with contextlib.suppress(Exception):
        import keras

        out.append(keras.Variable)
    with contextlib.suppress(Exception):
        from tensorflow.python.ops import resource_variable_ops as rv

        # ResourceVariable defines its own ``assign``: a step writing ``keras_var.value.assign(...)``
        # (an EMA through ``strategy.extended.update``) calls that one, not the base class's.
        out.extend([rv.BaseResourceVariable, rv.ResourceVariable])
    return out


# Keras model methods that build and cache functions, compiled-loss/metric state or optimizer state.
_KERAS_CACHING = (
    "fit",
    "evaluate",
    "predict",
    "train_on_batch",
    "test_on_batch",
    "predict_on_batch",
    "make_train_function",
    "make_test_function",
    "make_predict_function",
    "compute_loss",
    "compute_metrics",
)


def _user_code(fn: Any) -> bool:
    import inspect

    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        code = getattr(getattr(inspect.unwrap(fn), "__func__", None), "__code__", None)
    return code is not None and not tfg.is_library_file(code.co_filename)


def _owner(cls: type, attr: str) -> type:
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass
    return cls


@contextlib.contextmanager
def patched(rec: Recorder, models: list[Any], optimizers: list[Any], guard: Any = None) -> Iterator[None]:
    """Temporarily wrap model ``__call__``, ``GradientTape.gradient`` and optimizer updates.

    ``guard`` (:class:`~.guard.Guard`) is told of every model whose Keras training API the step
    reaches and every optimizer it builds, before Keras caches anything on them.
    """
    import keras
    import tensorflow as tf
    from tensorflow.python.eager.polymorphic_function import polymorphic_function as tf_poly

    saved: list[tuple[type, str, bool, Any]] = []

    def patch(cls: type, attr: str, make: Callable[[Any], Any]) -> None:
        if any(c is cls and a == attr for c, a, _, _ in saved):
            return
        saved.append((cls, attr, attr in cls.__dict__, cls.__dict__.get(attr)))
        setattr(cls, attr, make(getattr(cls, attr)))

    def wrap_call(orig: Any) -> Any:
        def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
            name = rec.model_names.get(id(self))
            if (
                name is None
                or not rec.recording
                or rec.depth
                or id(self) in rec.transparent
                or id(self) in rec.containers
            ):
                return orig(self, *args, **kwargs)
            graph = tf.compat.v1.get_default_graph()
            before = len(graph.get_operations())
            rec.depth += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                rec.depth -= 1
            rec.on_call(name, args, kwargs, out, [op.name for op in graph.get_operations()[before:]])
            return out

        return __call__

    def wrap_gradient(orig: Any) -> Any:
        def gradient(
            self: Any, target: Any, sources: Any, output_gradients: Any = None, unconnected_gradients: Any = None
        ) -> Any:
            extra = {} if unconnected_gradients is None else {"unconnected_gradients": unconnected_gradients}
            if not rec.recording:
                return orig(self, target, sources, output_gradients, **extra)
            result = None
            if not REAL_GRADIENTS and (rec.emulating or not tfg.is_library_file(sys._getframe(1).f_code.co_filename)):
                with contextlib.suppress(Exception):  # anything unusual: TensorFlow's own gradient
                    result = standin_gradient(rec.tapes, self, target, sources, unconnected_gradients)
            if result is None:
                result = orig(self, target, sources, output_gradients, **extra)
            rec.on_gradient(target, result, sources)
            rec.grad_trainable.append(
                {rec.model_names[id(m)]: bool(m.trainable) for m in models if id(m) in rec.model_names}
            )
            return result

        return gradient

    def wrap_push(orig: Any) -> Any:
        def _push_tape(self: Any) -> Any:
            out = orig(self)
            if rec.recording:
                rec.tapes.pushed(self)
                rec.events.append(("tape", sum(1 for kind, _ in rec.events if kind == "tape")))
            return out

        return _push_tape

    def wrap_pop(orig: Any) -> Any:
        def _pop_tape(self: Any) -> Any:
            if rec.recording:
                rec.tapes.popped(self)
            return orig(self)

        return _pop_tape

    def wrap_watch(orig: Any) -> Any:
        def watch(self: Any, tensor: Any) -> Any:
            if rec.recording:
                rec.tapes.watched(self, tensor)
            return orig(self, tensor)

        return watch

    def wrap_apply_gradients(orig: Any) -> Any:
        def apply_gradients(self: Any, grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording:
                return orig(self, grads_and_vars, *args, **kwargs)
            pairs = list(grads_and_vars)
            rec.on_apply(self, [g for g, _ in pairs], [v for _, v in pairs])
            if rec.execute:
                return _unrecorded(rec, orig, self, pairs, *args, **kwargs)
            return self.iterations  # never update while tracing

        return apply_gradients

    def wrap_apply(orig: Any) -> Any:
        def apply(self: Any, grads: Any, trainable_variables: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording:
                return orig(self, grads, trainable_variables, *args, **kwargs)
            grads = list(grads)
            rec.on_apply(self, grads, None if trainable_variables is None else list(trainable_variables))
            if rec.execute:
                return _unrecorded(rec, orig, self, grads, trainable_variables, *args, **kwargs)
            return None

        return apply

    def wrap_enter(orig: Any) -> Any:
        def __enter__(self: Any) -> Any:
            if rec.recording:
                rec.tape_depth += 1
            return orig(self)

        return __enter__

    def wrap_exit(orig: Any) -> Any:
        def __exit__(self: Any, *exc: Any) -> Any:
            if rec.recording and rec.tape_depth:
                rec.tape_depth -= 1
            return orig(self, *exc)

        return __exit__

    def wrap_loss(orig: Any) -> Any:
        def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = orig(self, *args, **kwargs)
            if rec.recording and not rec.depth:
                rec.on_loss(keras_loss_class(self), out)
            return out

        return __call__

    def wrap_loss_function(orig: Any, cls_name: str) -> Any:
        @functools.wraps(orig)
        def loss_function(*args: Any, **kwargs: Any) -> Any:
            out = orig(*args, **kwargs)
            if rec.recording and not rec.depth and not tfg.is_library_file(sys._getframe(1).f_code.co_filename):
                rec.on_loss(cls_name, out)
            return out

        return loss_function

    def wrap_assign(orig: Any, method: str) -> Any:
        def assign(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            if (
                not rec.recording
                or rec.depth
                or rec.assigning
                or tfg.is_library_file(sys._getframe(1).f_code.co_filename)
            ):
                return orig(self, value, *args, **kwargs)
            rec.on_assign(self, value, method)
            rec.assigning = True
            try:
                return orig(self, value, *args, **kwargs)
            finally:
                rec.assigning = False

        return assign

    def wrap_watched(orig: Any, name: str = "") -> Any:
        @functools.wraps(orig)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if rec.recording and guard is not None:
                guard.watch(self)
            if name in EMULATED and rec.recording and not rec.depth and not rec.emulating:
                return emulate(rec.emulator, name, self, args, kwargs)  # recorded, never run
            return orig(self, *args, **kwargs)

        return method

    def wrap_tf_function(orig: Any) -> Any:
        def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
            python_function = getattr(self, "_python_function", None)
            if rec.recording and python_function is not None and _user_code(python_function):
                # Inline the user's own tf.function: traced here, its cache would hold the stand-ins.
                return python_function(*args, **kwargs)
            return orig(self, *args, **kwargs)

        return __call__

    try:
        patch(tf_poly.Function, "__call__", wrap_tf_function)
        for method in _KERAS_CACHING:
            if hasattr(keras.Model, method):
                patch(_owner(keras.Model, method), method, lambda orig, m=method: wrap_watched(orig, m))
        for cls in dict.fromkeys([keras.optimizers.Optimizer, *(type(o) for o in optimizers)]):
            for klass in cls.__mro__:
                if "build" in klass.__dict__ and klass is not object:
                    patch(klass, "build", wrap_watched)
        patch(tf.GradientTape, "__enter__", wrap_enter)
        patch(tf.GradientTape, "__exit__", wrap_exit)
        patch(_owner(keras.losses.Loss, "__call__"), "__call__", wrap_loss)
        for fname, cls_name in LOSS_FUNCTION_CLASSES.items():  # keras.losses.huber(...) called in the step
            if callable(getattr(keras.losses, fname, None)):
                patch(keras.losses, fname, lambda orig, c=cls_name: wrap_loss_function(orig, c))  # type: ignore[arg-type]
        for var_cls in _variable_classes():
            for method in ("assign", "assign_add", "assign_sub"):
                patch(_owner(var_cls, method), method, lambda orig, m=method: wrap_assign(orig, m))
        for model in models:
            patch(_owner(type(model), "__call__"), "__call__", wrap_call)
        patch(tf.GradientTape, "gradient", wrap_gradient)
        patch(tf.GradientTape, "_push_tape", wrap_push)
        patch(tf.GradientTape, "_pop_tape", wrap_pop)
        patch(tf.GradientTape, "watch", wrap_watch)
        for cls in dict.fromkeys([keras.optimizers.Optimizer, *(type(o) for o in optimizers)]):  # ordered
            patch(_owner(cls, "apply_gradients"), "apply_gradients", wrap_apply_gradients)
            patch(_owner(cls, "apply"), "apply", wrap_apply)
        yield
    finally:
        for cls, attr, had, old in reversed(saved):
            if had:
                setattr(cls, attr, old)
            else:
                delattr(cls, attr)
