"""A system of compiled models without a step: each compiled model's ``train_on_batch``, drawn from what ``compile`` recorded.

``plot_gan(compiled=[d, combined])`` has no training step to trace. Each compiled model is one update
by its own optimizer, as its ``train_on_batch`` would make it: a step is written for it here (one
``train_on_batch`` per compiled model, in the order given) and traced by ``trace_step``, so the
compiled losses by kind, ``loss_weights``, the parts trainable in it (Q heads, encoders, second
generators) and frozen ones (a VGG feature network) are read exactly as a traced script's are.

Its inputs and targets are inferred from the models, never run:

* an input of integer dtype is a label (``labels``, random classes); a float input of rank 1-2 is
  noise (``np.random.normal``); an image input is data (a step argument). Each is named after the
  ``keras.Input`` it is (when the script named it) or the part's input it feeds (``img_B``);
* the target of an output computed by a frozen compiled part (the discriminator inside
  ``combined``) is ``valid`` (ones: the generator wants it judged real); of a compiled model's own
  score, ``valid_or_fake``; of a sparse cross-entropy output, the model's label input (ACGAN's
  ``sampled_labels``) or ``labels``; of an image computed by a trained part, the model's input
  that no output uses (pix2pix's ``img_A``), else the one input of its shape it is computed from
  (CycleGAN's reconstructions and identities); of a frozen feature network's output (SRGAN's
  ``vgg``), that network's ``predict`` of the unused input; otherwise a data target ``y_<output>``.
"""

from __future__ import annotations

import dataclasses
import linecache
import re
from typing import Any

from ...errors import TraceError
from ...ir.trace import Trace

__all__ = ["compiled_trace", "compiled_name_map", "system_of"]

_AUTO_INPUT = re.compile(r"^(input_layer|input|keras_tensor)(_\d+)?$")
_FILENAME = "<ganviz: compiled models>"


def compiled_name_map(compiled: Any, models: Any = None) -> dict[str, Any]:
    """``{name: model}`` of the compiled models, named by ``compiled``'s dict keys, else by ``models``'
    names for them, else by the model's own name."""
    given = dict(models) if isinstance(models, dict) else {}
    by_id = {id(m): n for n, m in given.items()}
    items = list(compiled.items()) if isinstance(compiled, dict) else [(None, m) for m in compiled]
    out: dict[str, Any] = {}
    for key, m in items:
        name = key or by_id.get(id(m)) or str(getattr(m, "name", "model"))
        base, i = _identifier(name), 1
        name = base
        while name in out and out[name] is not m:
            name, i = f"{base}_{i}", i + 1
        out[name] = m
    return out


def _identifier(name: str) -> str:
    text = re.sub(r"\W", "_", str(name)) or "model"
    return text if not text[0].isdigit() else "m_" + text


def _check(compiled: dict[str, Any]) -> None:
    import keras

    if not compiled:
        raise TraceError("compiled= names no model; give the compiled models, e.g. compiled=[discriminator, combined]")
    for name, m in compiled.items():
        if not isinstance(m, keras.Model):
            raise TraceError(f"compiled= {name!r} is a {type(m).__name__}, not a keras.Model")
        if not getattr(m, "compiled", False) or getattr(m, "optimizer", None) is None:
            raise TraceError(
                f"compiled= {name!r} is not compiled; fix: call {name}.compile(optimizer=..., loss=...) first, "
                f"or leave it out (a model trained only inside a compiled one is drawn as its part)"
            )


def _direct_models(model: Any) -> list[Any]:
    import keras

    try:
        layers = list(model._flatten_layers(include_self=False, recursive=False))  # noqa: SLF001
    except Exception:
        return []
    return [layer for layer in layers if isinstance(layer, keras.Model)]


def _history(tensor: Any) -> tuple[Any, list[Any]]:
    """The operation computing ``tensor`` in a functional model, and that call's input tensors."""
    h = getattr(tensor, "_keras_history", None)
    op = getattr(h, "operation", None)
    if op is None:
        return None, []
    try:
        node = op._inbound_nodes[h.node_index]  # noqa: SLF001
        return op, list(node.input_tensors)
    except Exception:
        return op, []


def _ancestors(tensor: Any, limit: int = 5000) -> set[int]:
    """ids of every tensor ``tensor`` is computed from (itself included)."""
    seen: set[int] = set()
    stack = [tensor]
    while stack and len(seen) < limit:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.extend(_history(t)[1])
    return seen


def _consumers(model: Any, parts: list[Any], names: dict[int, str]) -> dict[int, tuple[str | None, list[str]]]:
    """id(input tensor of ``model``) -> (the input name of a part it feeds directly, when the script
    named it: ``img_B``; the parts it feeds)."""
    out: dict[int, tuple[str | None, list[str]]] = {}
    inputs = {id(t) for t in model.inputs}
    for part in parts:
        for node in getattr(part, "_inbound_nodes", []):
            try:
                given = list(node.input_tensors)
            except Exception:
                continue
            own = [_input_name(t) for t in getattr(part, "inputs", [])]
            for k, t in enumerate(given):
                if id(t) not in inputs:
                    continue
                named, feeds = out.get(id(t), (None, []))
                if names[id(part)] not in feeds:
                    feeds.append(names[id(part)])
                out[id(t)] = (named or (own[k] if k < len(own) else None), feeds)
    return out


def _input_name(tensor: Any) -> str | None:
    op = _history(tensor)[0]
    name = str(getattr(op, "name", "") or "")
    return None if not name or _AUTO_INPUT.match(name) else _identifier(name)


class _Plan:
    """The written step: its argument arrays (data), globals (models, noise, constants) and lines."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.args: dict[str, Any] = {}
        self.globals: dict[str, Any] = {}
        self.lines: list[str] = []
        self.locals: dict[str, tuple[str, tuple[int, ...], str]] = {}  # name -> (kind, shape, dtype)

    def _fresh(
        self, name: str, kind: str, shape: tuple[int, ...], dtype: str, avoid: set[str] | None = None
    ) -> tuple[str, bool]:
        """``(name, new)``: a name already holding the same kind and shape is reused (across compiled
        models: the same images), unless it is in ``avoid`` (one model's two inputs stay two)."""
        base, i = name, 1
        while name in self.locals or name in self.globals or name in (avoid or ()):
            if self.locals.get(name) == (kind, shape, dtype) and name not in (avoid or ()):
                return name, False
            name, i = f"{base}_{i}", i + 1
        self.locals[name] = (kind, shape, dtype)
        return name, True

    def value(
        self, name: str, kind: str, shape: tuple[int, ...], dtype: str = "float32", avoid: set[str] | None = None
    ) -> str:
        import numpy as np

        name, new = self._fresh(name, kind, shape, dtype, avoid)
        if avoid is not None:
            avoid.add(name)
        if not new:
            return name
        full = (self.batch, *shape)
        if kind == "data":
            self.args[name] = np.zeros(full, dtype)
        elif kind == "noise":
            self.lines.append(f"{name} = _np.random.normal(0, 1, {full!r}).astype({dtype!r})")
        elif kind == "labels":
            # classes that are not all one value (an array of one value would be drawn a constant)
            self.lines.append(f"{name} = (_np.arange(_np.prod({full!r})) % 2).reshape({full!r}).astype({dtype!r})")
        elif kind == "ones":
            self.lines.append(f"{name} = _np.ones({full!r}, {dtype!r})")
        return name


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) if d is not None else 1 for d in tuple(tensor.shape)[1:])


def _dtype(tensor: Any) -> str:
    return str(getattr(tensor, "dtype", "float32") or "float32")


def _is_int(tensor: Any) -> bool:
    return _dtype(tensor).startswith(("int", "uint"))


def _input_kind(tensor: Any) -> str:
    if _is_int(tensor):
        return "labels"
    return "data" if len(tensor.shape) >= 4 or len(tensor.shape) == 3 and _shape(tensor)[-1] > 1 else "noise"


def _default_name(kind: str) -> str:
    return {"labels": "sampled_labels", "data": "images", "noise": "noise"}[kind]


def _write(plan: _Plan, cname: str, model: Any, names: dict[int, str], compiled: dict[str, Any]) -> None:
    """The lines of ``cname.train_on_batch(x, y)`` with inferred inputs and targets."""
    from .compiled import _compiled_losses, _output_names, captured_trainable

    standalone = [m for m in compiled.values() if not any(id(p) in names for p in _direct_models(m))]
    alone = len(standalone) > 1  # several discriminators (CycleGAN's d_A, d_B): each its own real images

    compiled_ids = {id(m) for m in compiled.values()}
    trained_elsewhere = {
        id(v) for n, m in compiled.items() if n != cname for v in captured_trainable(m)[0]
    }  # a part another compiled model trains: a discriminator, judging here
    parts = [p for p in _direct_models(model) if id(p) in names]
    fed = _consumers(model, parts, names)
    inputs = list(model.inputs)
    outputs = list(model.outputs)
    used: set[int] = set()
    for t in outputs:
        used |= _ancestors(t)
    taken: set[str] = set()  # this model's own names: each input and target its own source
    by_input: dict[int, str] = {}
    unused = [t for t in inputs if id(t) not in used and _input_kind(t) == "data"]
    for t in inputs:
        if any(t is u for u in unused):
            continue
        kind = _input_kind(t)
        if kind == "labels" and not parts:  # a discriminator's own labels: the data's
            kind = "data"
        named, feeds = fed.get(id(t), (None, []))
        name = _input_name(t) or named
        if name is None and kind == "data":  # images: the one part they feed, else a model's own
            name = f"{feeds[0]}_input" if len(feeds) == 1 else f"{cname}_images" if not parts and alone else "images"
        if kind == "labels":  # classes drawn for the generator (ACGAN's sampled_labels)
            name = "sampled_" + (name or "labels")
        name = name or ("labels" if _is_int(t) else _default_name(kind))
        by_input[id(t)] = plan.value(name, kind, _shape(t), _dtype(t), taken)
    for t in unused:  # an input only the targets use (pix2pix's img_A): data, as another model's of its shape
        other = next(
            (n for n, (k, sh, dt) in plan.locals.items() if k == "data" and sh == _shape(t) and n not in taken), None
        )
        name = _input_name(t) or other or "target_images"
        by_input[id(t)] = plan.value(name, "data", _shape(t), _dtype(t), taken)
    x_names = [by_input[id(t)] for t in inputs]
    trainable = {id(v) for v in captured_trainable(model)[0]}
    specs = _compiled_losses(model, len(outputs))
    onames = _output_names(model, len(outputs))
    y_names: list[str] = []
    for k, t in enumerate(outputs):
        ident = specs[k][0] if k < len(specs) else None
        loss = str(ident if isinstance(ident, str) else getattr(ident, "__name__", type(ident).__name__)).lower()
        op = _history(t)[0]
        part = op if op is not None and id(op) in names and op is not model else None
        frozen = part is not None and not any(id(v) in trainable for v in part.weights)
        judge = part is not None and (id(part) in compiled_ids or any(id(v) in trained_elsewhere for v in part.weights))
        oname = _identifier(onames[k])
        if "sparse" in loss:
            label = next((by_input[id(i)] for i in inputs if _is_int(i) and id(i) in by_input), None)
            y_names.append(label or plan.value("labels", "data", _shape(t)[:-1] or (1,), "int32", taken))
        elif frozen and judge:
            y_names.append(plan.value("valid", "ones", _shape(t)))
        elif frozen and unused:  # a frozen feature network: its features of the real data
            source = next((u for u in unused if _shape(u) == _shape(part.inputs[0])), None) if part.inputs else None
            if source is None:
                y_names.append(plan.value(f"y_{oname}", "data", _shape(t), _dtype(t), taken))
            else:
                feats, new = plan._fresh(f"{names[id(part)]}_features", "call", _shape(t), _dtype(t))
                if new:
                    plan.lines.append(f"{feats} = {names[id(part)]}.predict({by_input[id(source)]}, verbose=0)")
                y_names.append(feats)
        elif part is None and not parts and len(t.shape) >= 2:
            y_names.append(plan.value("valid_or_fake", "ones", _shape(t)))
        else:
            same = [u for u in unused if _shape(u) == _shape(t)]
            origin = [i for i in inputs if id(i) in _ancestors(t) and _shape(i) == _shape(t) and id(i) in by_input]
            if len(same) == 1:
                y_names.append(by_input[id(same[0])])
            elif len(origin) == 1:
                y_names.append(by_input[id(origin[0])])
            else:
                y_names.append(plan.value(f"y_{oname}", "data", _shape(t), _dtype(t), taken))
    x = x_names[0] if len(x_names) == 1 else "[" + ", ".join(x_names) + "]"
    y = y_names[0] if len(y_names) == 1 else "[" + ", ".join(y_names) + "]"
    plan.lines.append(f"{cname}_loss = {cname}.train_on_batch({x}, {y})")


def compiled_trace(compiled: Any, *, models: Any = None, batch_size: int = 4, name: str | None = None) -> Trace:
    """The system of ``compiled`` models, each drawn as one ``train_on_batch`` (see the module docstring).

    Args:
        compiled: the compiled models, a list (in training order) or ``{name: model}``.
        models: other models of the system by name (``{"generator": g}``), to name the parts.
        batch_size: the batch of the inferred arrays.
        name: the trace's name.

    Returns:
        The :class:`~ganviz.ir.Trace`; each :class:`~ganviz.ir.CompiledUpdate` says what it trains,
        and carries a ``warning`` when Keras 3 would train nothing in it (see ``compiled.trap_warning``).

    Raises:
        TraceError: a model is not a compiled ``keras.Model``.
    """
    from .compiled import trap_warning
    from .tracing import trace_step

    named = compiled_name_map(compiled, models)
    _check(named)
    extra = {k: v for k, v in (dict(models) if isinstance(models, dict) else {}).items()}
    names: dict[int, str] = {id(m): n for n, m in named.items()}
    for n, m in extra.items():
        names.setdefault(id(m), _identifier(n))
    compiled_ids = {id(m) for m in named.values()}
    for m in named.values():  # a compiled model made of others (combined): its parts get names
        direct = _direct_models(m)
        if any(id(p) in compiled_ids or id(p) in names for p in direct):
            for p in direct:
                base, i = _identifier(p.name), 1
                if id(p) in names:
                    continue
                pname = base
                while pname in names.values():
                    pname, i = f"{base}_{i}", i + 1
                names[id(p)] = pname
    plan = _Plan(batch_size)
    import numpy as np

    plan.globals.update({"_np": np})
    by_name = {
        n: m
        for m_id, n in names.items()
        for m in [*named.values(), *extra.values(), *_all_parts(named)]
        if id(m) == m_id
    }
    plan.globals.update(by_name)
    for n in by_name:
        plan.locals[n] = ("model", (), "")
    for cname, m in named.items():
        _write(plan, cname, m, names, named)
    params = list(plan.args)
    body = "\n".join("    " + line for line in plan.lines) or "    pass"
    src = f"def train_step({', '.join(params)}):\n{body}\n"
    linecache.cache[_FILENAME] = (len(src), None, src.splitlines(True), _FILENAME)
    namespace: dict[str, Any] = dict(plan.globals)
    exec(compile(src, _FILENAME, "exec"), namespace)  # noqa: S102 - our own generated source
    trace = trace_step(namespace["train_step"], *plan.args.values(), models=by_name)
    # one train_on_batch per compiled model, in order (the trace names each as the step's models are named)
    updates = tuple(
        dataclasses.replace(c, warning=trap_warning(m, c.model) or c.warning, method="compile")
        for c, m in zip(trace.compiled, named.values())
    )
    updates = _orphan_warnings(updates)
    title = name or " + ".join(named) + " (compiled, no step)"
    return dataclasses.replace(trace, name=title, compiled=updates)


def _all_parts(named: dict[str, Any]) -> list[Any]:
    return [p for m in named.values() for p in _direct_models(m)]


def system_of(obj: Any) -> dict[str, dict[str, Any]]:
    """The Keras models, optimizers and compiled models an object holds (the script's own ``gan``).

    Its attributes one level down (a dict's items), and lists/tuples/dicts of models there
    (``self.generators = [g_AB, g_BA]``: ``generators_0``, ``generators_1``). Returns ``{"models":
    {name: model}, "optimizers": {name: optimizer}, "compiled": {name: model}}``, in attribute order.
    """
    import keras

    items = list(obj.items()) if isinstance(obj, dict) else list(getattr(obj, "__dict__", {}).items())
    out: dict[str, dict[str, Any]] = {"models": {}, "optimizers": {}, "compiled": {}}
    seen: set[int] = set()

    def add(name: str, value: Any) -> None:
        if id(value) in seen:
            return
        if isinstance(value, keras.Model):
            seen.add(id(value))
            out["models"][name] = value
            if getattr(value, "compiled", False) and getattr(value, "optimizer", None) is not None:
                out["compiled"][name] = value
        elif isinstance(value, keras.optimizers.Optimizer):
            seen.add(id(value))
            out["optimizers"][name] = value

    for attr, value in items:
        if str(attr).startswith("_"):
            continue
        name = _identifier(str(attr))
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                add(f"{name}_{i}", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                add(_identifier(f"{name}_{key}"), item)
        else:
            add(name, value)
    return out


def _orphan_warnings(updates: tuple[Any, ...]) -> tuple[Any, ...]:
    """A compiled model that, with the flags as they are now, trains the same parts as another one
    while a part frozen in it is trained by none (WGAN-GP's ``critic_model`` left training the
    generator once ``generator_model`` was built): Keras 3 would read those flags at its first
    ``train_on_batch``, so it is marked (the earlier of the two: building the later one left the
    flags so) unless the loop sets them before."""
    trained = {name for c in updates for name in c.trains}
    out = []
    for i, c in enumerate(updates):
        # the earlier of the two: building the later one is what left the flags as they are
        twin = next((o for o in updates[i + 1 :] if c.trains and set(o.trains) == set(c.trains)), None)
        orphans = [name for name in c.frozen if name not in trained]
        if twin is not None and orphans and not c.warning:
            frozen, trains = ", ".join(orphans), ", ".join(c.trains)
            c = dataclasses.replace(
                c,
                warning=(
                    f"{c.model}.train_on_batch would train {trains} (as {twin.model} does) and {frozen} would be "
                    f"trained by no compiled model: Keras 3 reads the trainable flags when {c.model}'s train "
                    f"function is first built, and they say so now; fix: set {orphans[0]}.trainable = True (and "
                    f"{c.trains[0]}.trainable = False) right before {c.model}.train_on_batch"
                ),
            )
        out.append(c)
    return tuple(out)
