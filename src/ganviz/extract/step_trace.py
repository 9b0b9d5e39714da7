"""Trace a GAN's training step with ``tf.function`` into a :class:`~ganviz.ir.Trace`, never updating."""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import TraceError
from ..ir.graph import Graph
from ..ir.trace import Call, Loss, OptimizerInfo, Source, Trace, TraceModel, Update
from . import _tf_graph as tfg

__all__ = ["trace_gan", "trace_step", "assumed_gan_trace"]

_AUTO_NAME = re.compile(r"^(sequential|functional|model)(_\d+)?$")
_DATA_HINTS = ("disc", "critic", "encoder")


# -- finding the models and optimizers -------------------------------------------------------------


def _keras() -> Any:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise TraceError(
            f"ganviz traces training steps with tf.function, but the Keras backend is "
            f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras"
        )
    return keras


class _Found:
    """Models and optimizers found, by the name the user holds them under, plus what was searched."""

    def __init__(self) -> None:
        self.models: dict[int, tuple[str, Any]] = {}
        self.optimizers: dict[int, tuple[str, Any]] = {}
        self.searched: list[str] = []

    def add(self, name: str, value: Any, depth: int = 0) -> None:
        keras = sys.modules["keras"]
        if isinstance(value, keras.Model):
            self.models.setdefault(id(value), (name, value))
        elif isinstance(value, keras.optimizers.Optimizer):
            self.optimizers.setdefault(id(value), (name, value))
        elif depth < 3 and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.add(f"{name}[{i}]", item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for key, item in value.items():
                self.add(f"{name}[{key!r}]", item, depth + 1)

    def add_attributes(self, obj: Any) -> None:
        for name, value in list(vars(obj).items()):
            if not name.startswith("_"):
                self.searched.append(name)
                self.add(name, value)


def _unwrap(fn: Any) -> Any:
    """The Python function behind a ``tf.function`` (or the object itself)."""
    return getattr(fn, "python_function", fn)


def _code_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += [n for n in _code_names(const) if n not in names]
    return names


def _find_in_function(fn: Any, found: _Found) -> None:
    fn = _unwrap(fn)
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        found.add_attributes(owner)
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        with contextlib.suppress(ValueError):
            found.searched.append(name)
            found.add(name, cell.cell_contents)
    glb = getattr(fn, "__globals__", {})
    for name in _code_names(code):
        if name in glb:
            found.searched.append(name)
            found.add(name, glb[name])


def _model_names(found: _Found) -> dict[int, str]:
    """A unique display name per model: its Keras name, or the attribute name for an automatic one."""
    out: dict[int, str] = {}
    used: set[str] = set()
    for key, (attr, model) in found.models.items():
        name = model.name
        if _AUTO_NAME.match(name) and attr.isidentifier():
            name = attr
        base, i = name, 1
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        out[key] = name
    return out


# -- recording during the trace --------------------------------------------------------------------


def _is_graph_tensor(value: Any) -> bool:
    return hasattr(value, "op") and hasattr(value, "graph") and hasattr(value, "dtype")


def _flat_tensors(structure: Any) -> list[Any]:
    import tensorflow as tf

    out = []
    for item in tf.nest.flatten(structure, expand_composites=False):
        if isinstance(item, tf.IndexedSlices):
            item = item.values
        if _is_graph_tensor(item):
            out.append(item)
    return out


class _Recorder:
    """Collects model calls, gradients and optimizer applications of one trace."""

    def __init__(self, model_names: dict[int, str], stop_code: types.CodeType) -> None:
        self.model_names = model_names
        self.stop_code = stop_code
        self.recording = False
        self.depth = 0
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, list[Any], list[Any]]] = []
        self.call_ops: list[list[str]] = []
        self.grads: list[tuple[list[Any], list[Any], list[str | None]]] = []
        self.applies: list[tuple[Any, list[Any], list[Any]]] = []
        self.names: dict[str, str] = {}
        self.data: list[tuple[str, Any]] = []
        self.result: Any = None

    def capture_names(self, frame: types.FrameType | None) -> list[types.FrameType]:
        frames = tfg.user_frames(frame, self.stop_code)
        for f in frames:
            for name, value in list(f.f_locals.items()):
                if name.startswith("_") or name == "self" or not _is_graph_tensor(value):
                    continue
                with contextlib.suppress(Exception):
                    self.names.setdefault(value.name, name)
        return frames

    def on_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, ops: list[str]) -> None:
        self.capture_names(sys._getframe(2))
        self.calls.append((name, _flat_tensors((args, kwargs)), _flat_tensors(out)))
        self.call_ops.append(ops)

    def on_gradient(self, target: Any, result: Any) -> None:
        import tensorflow as tf

        frames = self.capture_names(sys._getframe(2))
        targets = _flat_tensors(target)
        names: list[str | None] = []
        for t in targets:
            local = None
            if frames:
                local = next((k for k, v in frames[0].f_locals.items() if v is t and not k.startswith("_")), None)
            names.append(local)
        results = [r.values if isinstance(r, tf.IndexedSlices) else r for r in tf.nest.flatten(result)]
        self.grads.append((targets, [r if _is_graph_tensor(r) else None for r in results], names))

    def on_apply(self, optimizer: Any, grads: list[Any], variables: list[Any] | None) -> None:
        import tensorflow as tf

        self.capture_names(sys._getframe(2))
        if variables is None:
            return
        grads = [g.values if isinstance(g, tf.IndexedSlices) else g for g in grads]
        self.applies.append((optimizer, grads, list(variables)))


def _owner(cls: type, attr: str) -> type:
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass
    return cls


@contextlib.contextmanager
def _patched(rec: _Recorder, models: list[Any], optimizers: list[Any]) -> Iterator[None]:
    """Temporarily wrap model ``__call__``, ``GradientTape.gradient`` and optimizer updates."""
    import keras
    import tensorflow as tf

    saved: list[tuple[type, str, bool, Any]] = []

    def patch(cls: type, attr: str, make: Callable[[Any], Any]) -> None:
        if any(c is cls and a == attr for c, a, _, _ in saved):
            return
        saved.append((cls, attr, attr in cls.__dict__, cls.__dict__.get(attr)))
        setattr(cls, attr, make(getattr(cls, attr)))

    def wrap_call(orig: Any) -> Any:
        def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
            name = rec.model_names.get(id(self))
            if name is None or not rec.recording or rec.depth:
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
        def gradient(self: Any, target: Any, sources: Any, *args: Any, **kwargs: Any) -> Any:
            result = orig(self, target, sources, *args, **kwargs)
            if rec.recording:
                rec.on_gradient(target, result)
            return result

        return gradient

    def wrap_apply_gradients(orig: Any) -> Any:
        def apply_gradients(self: Any, grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording:
                return orig(self, grads_and_vars, *args, **kwargs)
            pairs = list(grads_and_vars)
            rec.on_apply(self, [g for g, _ in pairs], [v for _, v in pairs])
            return self.iterations  # never update while tracing

        return apply_gradients

    def wrap_apply(orig: Any) -> Any:
        def apply(self: Any, grads: Any, trainable_variables: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording:
                return orig(self, grads, trainable_variables, *args, **kwargs)
            rec.on_apply(self, list(grads), None if trainable_variables is None else list(trainable_variables))
            return None

        return apply

    try:
        for model in models:
            patch(_owner(type(model), "__call__"), "__call__", wrap_call)
        patch(tf.GradientTape, "gradient", wrap_gradient)
        for cls in {keras.optimizers.Optimizer, *(type(o) for o in optimizers)}:
            patch(_owner(cls, "apply_gradients"), "apply_gradients", wrap_apply_gradients)
            patch(_owner(cls, "apply"), "apply", wrap_apply)
        yield
    finally:
        for cls, attr, had, old in reversed(saved):
            if had:
                setattr(cls, attr, old)
            else:
                delattr(cls, attr)


# -- data specs --------------------------------------------------------------------------------------


def _to_spec(value: Any) -> Any:
    """An example batch (or spec, or nested structure of them) as ``tf.TensorSpec`` s."""
    import numpy as np
    import tensorflow as tf

    if isinstance(value, tf.TensorSpec):
        return value
    if hasattr(value, "element_spec"):  # a tf.data.Dataset
        return value.element_spec
    if isinstance(value, dict):
        return {k: _to_spec(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not isinstance(value, np.ndarray):
        return tuple(_to_spec(v) for v in value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        dtype = tf.as_dtype(value.dtype)
        if dtype == tf.float64:
            dtype = tf.float32
        return tf.TensorSpec(tuple(value.shape), dtype)
    if isinstance(value, (int, float, bool)):
        return value  # a plain Python value is passed through as a constant argument
    raise TraceError(
        f"cannot use {type(value).__name__} as example data: pass a numpy array, a tensor, a tf.TensorSpec "
        f"or a tuple/dict of them"
    )


def _paths(structure: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(structure, dict):
        return [p for k, v in structure.items() for p in _paths(v, f"{prefix}[{k!r}]")]
    if isinstance(structure, (list, tuple)):
        return [p for i, v in enumerate(structure) for p in _paths(v, f"{prefix}[{i}]")]
    return [(prefix, structure)] if _is_graph_tensor(structure) else []


def _infer_data(found: _Found) -> tuple[Any, str]:
    import tensorflow as tf

    candidates = sorted(
        found.models.values(),
        key=lambda am: next((i for i, h in enumerate(_DATA_HINTS) if h in (am[0] + am[1].name).lower()), 99),
    )
    for attr, model in candidates:
        if not any(h in (attr + model.name).lower() for h in _DATA_HINTS):
            continue
        try:
            inputs = model.inputs
        except Exception:
            inputs = None
        if inputs and len(inputs) == 1:
            shape = tuple(inputs[0].shape)
            return tf.TensorSpec(shape, inputs[0].dtype), f"the input shape of {attr!r} {shape}"
    raise TraceError(
        "cannot tell the shape of the training data from the models: pass data=<an example batch, "
        "a tf.TensorSpec, or a tuple of them for (images, labels)>"
    )


# -- the trace ---------------------------------------------------------------------------------------


def _fix_for(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}"
    if "numpy" in text:
        return (
            "remove `.numpy()` (and other eager-only calls) from the step: while tracing, tensors are "
            "symbolic; keep values as tensors, or do that work outside the step"
        )
    if "OperatorNotAllowedInGraph" in text:
        return "use tf.cond / tf.where instead of a Python `if` or `while` on a tensor"
    return (
        "make the step traceable by tf.function (it must run on symbolic tensors), or draw the standard "
        "loop with plot_gan(generator=..., discriminator=...)"
    )


def _trace_error(exc: BaseException, what: str, note: str = "") -> TraceError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not tfg.is_library_file(f.filename)]
    frames = [f for f in frames if f.name != "_trace"]
    where = ""
    if frames:
        f = frames[-1]
        where = f" at {f.filename}:{f.lineno}: `{(f.line or '').strip()}`"
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return TraceError(f"cannot trace {what}{where}: {type(exc).__name__}: {msg}{note}; fix: {_fix_for(exc)}")


def _run_trace(step: Callable[..., Any], specs: tuple[Any, ...], rec: _Recorder, autograph: bool) -> None:
    import tensorflow as tf

    target = tf.autograph.to_graph(step) if autograph else step

    def entry(*args: Any) -> None:
        rec.reset()
        rec.data = [p for i, a in enumerate(args) for p in _paths(a, str(i))]
        rec.recording = True
        try:
            rec.result = target(*args)
        finally:
            rec.recording = False

    rec.stop_code = entry.__code__
    tf.function(entry, autograph=False, reduce_retracing=False).get_concrete_function(*specs)


def _trace(
    step: Callable[..., Any],
    args: tuple[Any, ...],
    found: _Found,
    what: str,
    trace_name: str,
    param_names: list[str],
    note: str = "",
) -> Trace:
    import tensorflow as tf

    if not found.models:
        searched = ", ".join(dict.fromkeys(found.searched)) or "nothing"
        raise TraceError(
            f"no Keras models found in {what} (searched: {searched}); hold the models as attributes "
            f"(self.generator = ...) or pass models=[generator, discriminator]"
        )
    specs = tuple(_to_spec(a) for a in args)
    names = _model_names(found)
    rec = _Recorder(names, _run_trace.__code__)
    models = [m for _, m in found.models.values()]
    opts = [o for _, o in found.optimizers.values()]
    with _patched(rec, models, opts):
        try:
            _run_trace(step, specs, rec, autograph=False)
        except tf.errors.OperatorNotAllowedInGraphError:
            try:
                _run_trace(step, specs, rec, autograph=True)
            except Exception as exc:
                raise _trace_error(exc, what, note) from exc
        except TraceError:
            raise
        except Exception as exc:
            raise _trace_error(exc, what, note) from exc
    return _build(rec, found, names, trace_name, param_names)


def trace_gan(gan: Any, *, data: Any = None) -> Trace:
    """Trace a GAN's ``train_step`` symbolically and record its models, losses and updates.

    Args:
        gan: a ``keras.Model`` subclass (or any object) that overrides ``train_step`` and holds its
            models and optimizers as attributes (``self.generator``, ``self.d_optimizer`` ...).
        data: an example batch (numpy array or tensor), a ``tf.TensorSpec``, or a tuple/dict of
            them such as ``(images, labels)``. When missing, the shape is taken from the input of
            the discriminator (critic, encoder) where possible.

    Returns:
        The :class:`~ganviz.ir.Trace`; no weight, optimizer iteration or slot variable changes.

    Raises:
        TraceError: the step cannot be traced, no models were found, or data cannot be inferred.
    """
    keras = _keras()
    step = getattr(gan, "train_step", None)
    if step is None:
        raise TraceError(
            f"{type(gan).__name__} has no train_step to trace; for separate models use "
            f"plot_gan(generator=..., discriminator=...)"
        )
    if isinstance(gan, keras.Model) and getattr(type(gan), "train_step", None) is getattr(
        keras.Model, "train_step", None
    ):
        raise TraceError(
            f"{type(gan).__name__} does not override train_step, so there is no GAN step to trace; "
            f"for separate models use plot_gan(generator=..., discriminator=...)"
        )
    found = _Found()
    found.add_attributes(gan)
    note = ""
    if data is None:
        spec, origin = _infer_data(found)
        data, note = spec, f" (data was inferred from {origin}; pass data=<an example batch>)"
    params = [p for p in inspect.signature(step).parameters][:1] or ["data"]
    return _trace(step, (data,), found, f"{type(gan).__name__}.train_step", type(gan).__name__, params, note)


def trace_step(step_fn: Callable[..., Any], *example_args: Any, models: Any = None) -> Trace:
    """Trace a plain training-step function, finding the models and optimizers it closes over.

    Args:
        step_fn: the step (``def train_step(real_images): ...``), plain or a ``tf.function``.
        *example_args: example values (or ``tf.TensorSpec`` s) for its positional arguments.
        models: the models (and optionally optimizers) it uses, as a list or a ``{name: obj}``
            dict, when they cannot be found in its closure or globals.

    Returns:
        The :class:`~ganviz.ir.Trace`.

    Raises:
        TraceError: the step cannot be traced or uses no models that could be found.
    """
    _keras()
    found = _Found()
    if isinstance(models, dict):
        for name, obj in models.items():
            found.add(str(name), obj)
    elif models is not None:
        for obj in models if isinstance(models, (list, tuple)) else [models]:
            found.add(getattr(obj, "name", "model"), obj)
    _find_in_function(step_fn, found)
    fn = _unwrap(step_fn)
    name = getattr(fn, "__name__", "step")
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    return _trace(fn, tuple(example_args), found, f"step function {name!r}", name, params)


# -- turning the recording into a Trace --------------------------------------------------------------


def _num(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _shapes(tensors: Any) -> tuple[tuple[int | None, ...] | None, ...]:
    return tuple(tfg.shape_of(t) for t in tensors)


def _model_graph(model: Any, name: str) -> Graph:
    try:
        from .keras_model import model_to_graph
    except ImportError:
        return Graph(name=name, details={"class_name": type(model).__name__})
    try:
        return model_to_graph(model, expand_nested=True)
    except Exception:  # the architecture is a nicety; the trace stands without it
        return Graph(name=name, details={"class_name": type(model).__name__})


def _trace_model(model: Any, name: str, first_call: tuple[str, list[Any], list[Any]] | None) -> TraceModel:
    try:
        params = int(model.count_params())
    except Exception:
        params = 0
    trainable = sum(_num(v.shape) for v in model.trainable_weights)
    try:
        ins: tuple[Any, ...] = tuple(tuple(t.shape) for t in model.inputs)
        outs: tuple[Any, ...] = tuple(tuple(t.shape) for t in model.outputs)
    except Exception:
        ins = _shapes(first_call[1]) if first_call else ()
        outs = _shapes(first_call[2]) if first_call else ()
    return TraceModel(
        name=name,
        class_name=type(model).__name__,
        params=params,
        trainable_params=trainable,
        graph=_model_graph(model, name),
        trainable=bool(model.trainable),
        input_shapes=ins,
        output_shapes=outs,
    )


def _learning_rate(optimizer: Any) -> float | None:
    try:
        lr = optimizer.get_config().get("learning_rate")
    except Exception:
        return None
    return float(f"{lr:.7g}") if isinstance(lr, (int, float)) else None  # drop float32 noise


def _grad_record_of(tensor: Any, grad_index: dict[str, int]) -> int | None:
    """The gradient call a (possibly clipped or scaled) gradient tensor comes from."""
    stack, seen = [tensor], set()
    while stack and len(seen) < 5000:
        t = stack.pop()
        if t.name in grad_index:
            return grad_index[t.name]
        if t.name in seen or t.op.type in tfg.SHAPE_OPS or t.op.type in tfg.STOP_OPS:
            continue
        seen.add(t.name)
        stack.extend(t.op.inputs)
    return None


def _build(rec: _Recorder, found: _Found, names: dict[int, str], trace_name: str, params: list[str]) -> Trace:
    call_ids = [f"call{i}" for i in range(len(rec.calls))]
    stops: dict[str, str] = {}
    for i, (_, _, outs) in enumerate(rec.calls):
        for t in outs:
            stops.setdefault(t.name, call_ids[i])
    data_names: dict[str, tuple[str, Any]] = {}
    for path, t in rec.data:
        idx, _, rest = path.partition("[")
        base = params[int(idx)] if int(idx) < len(params) else f"arg{idx}"
        key = f"data:{t.name}"
        stops.setdefault(t.name, key)
        data_names[key] = (rec.names.get(t.name) or (base + ("[" + rest if rest else "")), t)
    redirects: dict[str, list[Any]] = {}
    grad_index: dict[str, int] = {}
    for gi, (targets, results, _) in enumerate(rec.grads):
        for r in results:
            if r is not None:
                redirects.setdefault(r.name, targets)
                grad_index.setdefault(r.name, gi)

    pending: dict[str, tuple[str, str, Any]] = {}

    def new_source(kind: str, tensor: Any, default: str) -> str:
        key = f"{kind}:{tensor.name}"
        pending[key] = (kind, tfg.forward_name(tensor, rec.names) or default, tensor)
        return key

    owners = {op: call_ids[i] for i, ops in enumerate(rec.call_ops) for op in ops}
    walker = tfg.Walker(stops, owners, redirects, new_source)
    raw_call_inputs = [walker.origins(ins) for _, ins, _ in rec.calls]
    loss_keys: dict[str, int] = {}
    loss_targets: list[Any] = []
    loss_names: list[str] = []
    logs = rec.result if isinstance(rec.result, dict) else {}
    for targets, _, locals_ in rec.grads:
        for t, local in zip(targets, locals_):
            if t.name in loss_keys:
                continue
            loss_keys[t.name] = len(loss_targets)
            loss_targets.append(t)
            by_logs = next((str(k) for k, v in logs.items() if _is_graph_tensor(v) and _same(v, t)), None)
            loss_names.append(by_logs or local or rec.names.get(t.name) or f"loss_{len(loss_targets) - 1}")
    raw_loss_inputs = [walker.origins([t]) for t in loss_targets]

    # Ids: sources in the order first reached, data first.
    order = [k for ins in raw_call_inputs + raw_loss_inputs for k in ins if not k.startswith("call")]
    data_rank = {f"data:{t.name}": i for i, (_, t) in enumerate(rec.data)}
    order = sorted(dict.fromkeys(order), key=lambda k: data_rank.get(k, len(data_rank)))
    src_ids = {k: f"src{i}" for i, k in enumerate(order)}
    sources = []
    for key in order:
        if key.startswith("data:"):
            name, t = data_names[key]
            sources.append(Source(src_ids[key], "data", name, tfg.shape_of(t)))
        else:
            kind, name, t = pending[key]
            sources.append(Source(src_ids[key], kind, name, tfg.shape_of(t)))

    def remap(keys: list[str]) -> tuple[str, ...]:
        return tuple(src_ids.get(k, k) for k in keys)

    calls = tuple(
        Call(call_ids[i], name, remap(raw_call_inputs[i]), tfg.shape_of(outs[0]) if outs else None)
        for i, (name, _, outs) in enumerate(rec.calls)
    )
    loss_ids = [f"loss{i}" for i in range(len(loss_targets))]
    losses = tuple(Loss(loss_ids[i], loss_names[i], remap(raw_loss_inputs[i])) for i in range(len(loss_targets)))

    # Updates: which optimizer applies which loss's gradients to which model's variables.
    var_owner: dict[int, str] = {}
    for key, (_, model) in sorted(found.models.items(), key=lambda kv: -len(kv[1][1].variables)):
        for v in model.variables:
            var_owner[id(v)] = names[key]
            value = getattr(v, "value", None)
            if value is not None:
                var_owner[id(value)] = names[key]
    opt_names: dict[int, str] = {}
    used_names: set[str] = set()
    for key, (attr, _) in found.optimizers.items():
        opt_names[key] = attr
        used_names.add(attr)
    counts: dict[tuple[str, str, str], int] = {}
    optimizers: dict[str, OptimizerInfo] = {}
    for opt, grads, variables in rec.applies:
        if id(opt) not in opt_names:
            base = name = str(getattr(opt, "name", type(opt).__name__))
            i = 1
            while name in used_names:
                name, i = f"{base}_{i}", i + 1
            used_names.add(name)
            opt_names[id(opt)] = name
        opt_name = opt_names[id(opt)]
        optimizers.setdefault(opt_name, OptimizerInfo(opt_name, type(opt).__name__, _learning_rate(opt)))
        for g, v in zip(grads, variables):
            if g is None or id(v) not in var_owner:
                continue
            gi = _grad_record_of(g, grad_index)
            if gi is None:
                continue
            for t in rec.grads[gi][0]:
                k = (loss_ids[loss_keys[t.name]], opt_name, var_owner[id(v)])
                counts[k] = counts.get(k, 0) + 1
    updates = tuple(Update(loss, opt, model, n) for (loss, opt, model), n in counts.items())

    # Models: in the order of their first call, then models only updated.
    first: dict[str, tuple[str, list[Any], list[Any]]] = {}
    for call in rec.calls:
        first.setdefault(call[0], call)
    by_name = {names[k]: m for k, (_, m) in found.models.items()}
    order_models = list(first) + [u.model for u in updates if u.model not in first]
    trace_models = tuple(_trace_model(by_name[n], n, first.get(n)) for n in dict.fromkeys(order_models))
    unused = [n for n in by_name if n not in dict.fromkeys(order_models)]
    return Trace(
        name=trace_name,
        models=trace_models,
        sources=tuple(sources),
        calls=calls,
        losses=losses,
        updates=updates,
        optimizers=tuple(optimizers.values()),
        assumed=False,
        details={"unused_models": unused} if unused else {},
    )


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` is ``b`` or ``b`` passed through identity/cast ops."""
    for _ in range(4):
        if a.name == b.name:
            return True
        if a.op.type not in ("Identity", "Cast") or not a.op.inputs:
            return False
        a = a.op.inputs[0]
    return False


# -- the standard loop, assumed -----------------------------------------------------------------------


def assumed_gan_trace(*, generator: Any, discriminator: Any, combined: Any = None) -> Trace:
    """The standard adversarial loop for two models, drawn without tracing (``assumed=True``).

    Noise feeds the generator; the discriminator sees generated and real data; ``d_loss``
    updates the discriminator and ``g_loss`` (through the discriminator) the generator. With a
    ``combined`` model (generator then a frozen discriminator), the generator is updated through it.

    Args:
        generator: the generator model.
        discriminator: the discriminator model.
        combined: optional stacked model used to train the generator (classic Keras pattern).

    Returns:
        A :class:`~ganviz.ir.Trace` with ``assumed=True``.
    """
    keras = _keras()
    for role, m in (("generator", generator), ("discriminator", discriminator), ("combined", combined)):
        if m is not None and not isinstance(m, keras.Model):
            raise TraceError(f"{role} must be a keras.Model, got {type(m).__name__}")

    def shapes(model: Any, which: str) -> tuple[Any, ...]:
        try:
            return tuple(tuple(t.shape) for t in getattr(model, which))
        except Exception:
            return ()

    g_in, d_in = shapes(generator, "inputs"), shapes(discriminator, "inputs")
    g_out, d_out = shapes(generator, "outputs"), shapes(discriminator, "outputs")
    sources = (
        Source("src0", "noise", "noise", g_in[0] if g_in else None),
        Source("src1", "data", "real_images", d_in[0] if d_in else None),
        Source("src2", "constant", "labels", d_out[0] if d_out else None),
    )
    gname, dname = generator.name, discriminator.name
    calls = [
        Call("call0", gname, ("src0",), g_out[0] if g_out else None),
        Call("call1", dname, ("call0",), d_out[0] if d_out else None),
        Call("call2", dname, ("src1",), d_out[0] if d_out else None),
    ]
    models = [_trace_model(generator, gname, None), _trace_model(discriminator, dname, None)]
    optimizers: list[OptimizerInfo] = []

    def opt_info(model: Any, default: str) -> str:
        opt = getattr(model, "optimizer", None)
        if opt is None:
            info = OptimizerInfo(default, "", None)
        else:
            info = OptimizerInfo(default, type(opt).__name__, _learning_rate(opt))
        optimizers.append(info)
        return default

    d_opt = opt_info(discriminator, "d_optimizer")
    if combined is not None:
        cname = combined.name if combined.name not in (gname, dname) else "combined"
        models.append(_trace_model(combined, cname, None))
        calls.append(Call("call3", cname, ("src0",), d_out[0] if d_out else None))
        g_opt = opt_info(combined, "combined_optimizer")
    else:
        calls += [Call("call3", gname, ("src0",), g_out[0] if g_out else None)]
        calls += [Call("call4", dname, ("call3",), d_out[0] if d_out else None)]
        g_opt = opt_info(generator, "g_optimizer")
    losses = (
        Loss("loss0", "d_loss", ("call1", "call2", "src2")),
        Loss("loss1", "g_loss", (calls[-1].id, "src2")),
    )
    g_vars = len(generator.trainable_weights)
    updates = (
        Update("loss0", d_opt, dname, len(discriminator.trainable_weights) or len(discriminator.weights)),
        Update("loss1", g_opt, gname, g_vars),
    )
    return Trace(
        name=f"{gname} + {dname}",
        models=tuple(models),
        sources=sources,
        calls=tuple(calls),
        losses=losses,
        updates=updates,
        optimizers=tuple(optimizers),
        assumed=True,
    )
