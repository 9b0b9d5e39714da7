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
  Each output's ``inferred`` says which rule chose its target (the picture marks them inferred).

What each update trains: see :func:`compiled_trace` (Keras 3 reads ``trainable`` at a model's
first ``train_on_batch``, so a model not trained yet trains what the loop sets, noted, and warned
only when the script's loop is known never to set a flag back: :func:`scan_scripts`).
"""

from __future__ import annotations

import dataclasses
import linecache
import re
from typing import Any

from ...errors import TraceError
from ...ir.trace import Trace

__all__ = ["compiled_trace", "compiled_name_map", "system_of", "scan_scripts", "ScriptFacts"]

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


def _write(
    plan: _Plan, cname: str, model: Any, names: dict[int, str], compiled: dict[str, Any], intent: dict[str, _Intent]
) -> list[str]:
    """The lines of ``cname.train_on_batch(x, y)`` with inferred inputs and targets (and the flags
    its intent sets around it); returns how each target was inferred, in output order."""
    from .compiled import _compiled_losses, _output_names

    standalone = [m for m in compiled.values() if not any(id(p) in names for p in _direct_models(m))]
    alone = len(standalone) > 1  # several discriminators (CycleGAN's d_A, d_B): each its own real images

    compiled_ids = {id(m) for m in compiled.values()}
    trained_elsewhere = {
        v for n in compiled if n != cname for v in intent[n].trains
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
    trainable = intent[cname].trains
    specs = _compiled_losses(model, len(outputs))
    onames = _output_names(model, len(outputs))
    y_names: list[str] = []
    why: list[str] = []  # how each target was chosen, said in the key: the step's own are not known

    def target(name: str, reason: str) -> None:
        y_names.append(name)
        why.append(reason)

    for k, t in enumerate(outputs):
        ident = specs[k][0] if k < len(specs) else None
        loss = str(ident if isinstance(ident, str) else getattr(ident, "__name__", type(ident).__name__)).lower()
        op = _history(t)[0]
        part = op if op is not None and id(op) in names and op is not model else None
        frozen = part is not None and not any(id(v) in trainable for v in part.weights)
        judge = part is not None and (id(part) in compiled_ids or any(id(v) in trained_elsewhere for v in part.weights))
        oname = _identifier(onames[k])
        data_target = "data of the output's shape (its values are the step's)"
        if "sparse" in loss:
            label = next((by_input[id(i)] for i in inputs if _is_int(i) and id(i) in by_input), None)
            if label is not None:
                target(label, "the class labels the model is given")
            else:
                target(plan.value("labels", "data", _shape(t)[:-1] or (1,), "int32", taken), "class labels of the data")
        elif frozen and judge:
            target(plan.value("valid", "ones", _shape(t)), f"ones (the frozen {names[id(part)]}'s score, wanted real)")
        elif frozen and unused:  # a frozen feature network: its features of the real data
            source = next((u for u in unused if _shape(u) == _shape(part.inputs[0])), None) if part.inputs else None
            if source is None:
                target(plan.value(f"y_{oname}", "data", _shape(t), _dtype(t), taken), data_target)
            else:
                feats, new = plan._fresh(f"{names[id(part)]}_features", "call", _shape(t), _dtype(t))
                if new:
                    plan.lines.append(f"{feats} = {names[id(part)]}.predict({by_input[id(source)]}, verbose=0)")
                target(feats, f"{names[id(part)]}.predict of the real {by_input[id(source)]}")
        elif part is None and not parts and len(t.shape) >= 2:
            target(
                plan.value("valid_or_fake", "ones", _shape(t)),
                "ones (its own score; the step says real or generated)",
            )
        else:
            same = [u for u in unused if _shape(u) == _shape(t)]
            origin = [i for i in inputs if id(i) in _ancestors(t) and _shape(i) == _shape(t) and id(i) in by_input]
            if len(same) == 1:
                target(by_input[id(same[0])], "the input no output is computed from")
            elif len(origin) == 1:
                target(by_input[id(origin[0])], "the input it is computed from")
            else:
                target(plan.value(f"y_{oname}", "data", _shape(t), _dtype(t), taken), data_target)
    x = x_names[0] if len(x_names) == 1 else "[" + ", ".join(x_names) + "]"
    y = y_names[0] if len(y_names) == 1 else "[" + ", ".join(y_names) + "]"
    plan.lines += [f"{part}.trainable = {flag}" for part, flag in intent[cname].toggles]
    plan.lines.append(f"{cname}_loss = {cname}.train_on_batch({x}, {y})")
    if intent[cname].toggles:
        plan.lines.append("_restore_flags()")
    return why


@dataclasses.dataclass
class _Intent:
    """What one compiled model's drawn ``train_on_batch`` trains, and why."""

    trains: set[int]  # ids of the variables it updates as drawn
    toggles: list[tuple[str, bool]] = dataclasses.field(default_factory=list)  # flags the drawn loop sets first
    warning: str | None = None
    note: str | None = None
    how: str = "now"  # why the set is known, for orphan_warnings: "built", a script's name


def _flags(models: list[Any]) -> list[tuple[Any, bool, list[tuple[Any, bool]]]]:
    """Every layer's own ``trainable`` and its trainable-made variables' flags, parents first."""
    out, seen = [], set()
    for m in models:
        for layer in m._flatten_layers(include_self=True):  # noqa: SLF001
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            own = list(getattr(layer, "_trainable_variables", []))
            out.append((layer, bool(layer._trainable), [(v, bool(v.trainable)) for v in own]))  # noqa: SLF001
    return out


def _put_back(saved: list[tuple[Any, bool, list[tuple[Any, bool]]]]) -> None:
    for layer, flag, variables in saved:  # each layer's own state, without the setter's cascade
        layer._trainable = flag  # noqa: SLF001
        for v, trainable in variables:
            v.trainable = trainable


def _idle_warning(update: Any, intent: _Intent, holder: str | None) -> str | None:
    """A compiled model drawn training nothing, when that is certain: its script never sets a flag back."""
    from .compiled import nothing_trainable_text

    if update.trains or intent.how in ("now", "built"):
        return None
    return nothing_trainable_text(update.model, built=False, how=intent.how, other=holder)


def _idle_note(update: Any, intent: _Intent, holder: str | None) -> str | None:
    """A compiled model drawn training nothing while the loop is unknown: what it must set."""
    if update.trains or intent.how != "now":
        return None
    then = f" (and back before {holder}.train_on_batch)" if holder else ""
    return (
        f"{update.model}.train_on_batch is drawn training nothing, as the flags say now: Keras 3 reads them at its "
        f"first train_on_batch, so it trains only what the loop sets trainable right before it{then}"
    )


def _fed(model: Any, names: dict[int, str]) -> set[str]:
    """The named parts ``model`` calls directly on its own inputs (WGAN-GP's critic on real images)."""
    parts = [p for p in _direct_models(model) if id(p) in names]
    return {f for _, feeds in _consumers(model, parts, names).values() for f in feeds}


@dataclasses.dataclass(frozen=True)
class ScriptFacts:
    """What a training script's source says about the trainable flags (read, never run)."""

    name: str  # the file's name, as messages say it
    trains: bool  # it calls train_on_batch: the loop is there
    toggles: bool  # some code could set a flag True in the loop


def scan_scripts(script: Any) -> ScriptFacts | None:
    """The facts of ``script`` (a path, or several), or None when none can be read.

    A flag could be set back when the source assigns ``X.trainable`` (or ``setattr(X, "trainable",
    ...)``) anything but the constant False inside a ``for``/``while`` loop or a function that calls
    ``train_on_batch`` itself, or any non-constant value anywhere (a ``make_trainable(net, val)``
    helper). ``True`` set in straight-line building code (WGAN-GP's ``generator.trainable = True``
    before compiling ``generator_model``) runs once, before the loop, and is no toggle.
    """
    import ast
    from pathlib import Path

    paths = [script] if isinstance(script, (str, Path)) else list(script or [])
    found: list[tuple[str, bool, bool]] = []
    for path in paths:
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
        found.append((Path(path).name, *_scan(tree)))
    if not found:
        return None
    return ScriptFacts(", ".join(n for n, _, _ in found), any(t for _, t, _ in found), any(g for _, _, g in found))


def _calls_train_on_batch(nodes: list[Any]) -> bool:
    """Whether ``nodes`` (a body, nested functions left out) call ``.train_on_batch``."""
    import ast

    stack = list(nodes)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "train_on_batch":
            return True
        stack.extend(ast.iter_child_nodes(n))
    return False


def _scan(tree: Any) -> tuple[bool, bool]:
    """``(calls train_on_batch, could set a trainable flag back)`` of a parsed module."""
    import ast

    trains = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "train_on_batch"
        for n in ast.walk(tree)
    )

    def sets_back(value: ast.expr, repeated: bool) -> bool:
        if isinstance(value, ast.Constant):
            return bool(value.value) and repeated  # True once while building is no toggle
        return True  # a variable, an expression: whatever the loop passes

    def assigned(node: ast.AST) -> list[ast.expr]:
        """The values ``node`` assigns to a ``.trainable`` attribute."""
        if isinstance(node, ast.Assign):
            out = []
            for tgt in node.targets:
                if isinstance(tgt, ast.Attribute) and tgt.attr == "trainable":
                    out.append(node.value)
                elif isinstance(tgt, (ast.Tuple, ast.List)):
                    values = node.value.elts if isinstance(node.value, (ast.Tuple, ast.List)) else None
                    for k, e in enumerate(tgt.elts):
                        if isinstance(e, ast.Attribute) and e.attr == "trainable":
                            out.append(values[k] if values is not None and k < len(values) else node.value)
            return out
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            tgt = node.target
            return [node.value] if isinstance(tgt, ast.Attribute) and tgt.attr == "trainable" else []
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "trainable"
        ):
            return [node.args[2]]
        return []

    def visit(node: ast.AST, repeated: bool) -> bool:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            repeated = _calls_train_on_batch(node.body)  # a fresh context: the function's own body
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            repeated = True
        if any(sets_back(v, repeated) for v in assigned(node)):
            return True
        return any(visit(child, repeated) for child in ast.iter_child_nodes(node))

    return trains, visit(tree, False)


def _set_flags(named: dict[str, Any], toggles: list[tuple[str, bool]]) -> None:
    for part, flag in toggles:
        named[part].trainable = flag


def _labels(by_name: dict[str, Any]) -> dict[str, str]:
    """The name the trace shows for each model of the written step, as ``find.model_names`` gives it:
    its Keras name, or the step's name for an automatic one (messages name models as the picture does)."""
    from .find import _AUTO_NAME

    out: dict[str, str] = {}
    for key, m in by_name.items():
        shown = key if _AUTO_NAME.match(str(m.name)) and key.isidentifier() else str(m.name)
        base, i = shown, 1
        while shown in out.values():
            shown, i = f"{base}_{i}", i + 1
        out[key] = shown
    return out


def _intents(
    named: dict[str, Any], names: dict[int, str], by_name: dict[str, Any], script: ScriptFacts | None
) -> dict[str, _Intent]:
    """Per compiled model, the set its drawn ``train_on_batch`` updates (see :func:`compiled_trace`)."""
    from .compiled import captured_trainable, nothing_trainable_text, trap_note, trap_warning

    shown = _labels(by_name)

    def say(key: str) -> str:
        return shown.get(key, key)

    out: dict[str, _Intent] = {}
    for cname, m in named.items():
        variables, built = captured_trainable(m)
        out[cname] = _Intent({id(v) for v in variables}, how="built" if built else "now")
        if built:
            out[cname].warning, out[cname].note = trap_warning(m, say(cname)), trap_note(m, say(cname))

    def parts_of(cname: str) -> list[str]:
        return [names[id(p)] for p in _direct_models(named[cname]) if id(p) in names]

    def trained_parts(cname: str) -> set[str]:
        return {p for p in parts_of(cname) if any(id(v) in out[cname].trains for v in by_name[p].weights)}

    compiled_ids = {id(m) for m in named.values()}
    holder = {names[id(p)]: c for c in named for p in _direct_models(named[c]) if id(p) in compiled_ids}
    certain = script is not None and script.trains and not script.toggles  # the loop is there and sets no flag
    order = list(named)
    for cname, m in named.items():
        intent = out[cname]
        if intent.how == "built" or not list(m.weights):
            continue
        parts = parts_of(cname)
        toggles: list[tuple[str, bool]] = []
        if not intent.trains and (not parts or cname in holder):  # frozen to build combined: the loop sets it back
            toggles = [(cname, True)]
        elif parts:  # WGAN-GP's critic_model left training the generator, as generator_model does
            mine = trained_parts(cname)
            frozen = [p for p in parts if p not in mine]
            trained_by_any = set().union(*(trained_parts(c) for c in named)) | {
                names.get(id(named[c]), c) for c in named if out[c].trains and not parts_of(c)
            }
            orphans = [p for p in frozen if p not in trained_by_any]
            twin = next((c for c in order if c != cname and mine and trained_parts(c) == mine), None)
            o = set(orphans)
            mine_fed, twin_fed = o & _fed(m, names), o & _fed(named[twin], names) if twin is not None else set()
            if mine_fed != twin_fed:
                meant = bool(mine_fed) and not twin_fed  # the one judging real data itself trains the judge
            else:  # neither says: the earlier of the two (building the later one left the flags so)
                meant = twin is not None and order.index(twin) > order.index(cname)
            if twin is not None and orphans and meant:
                toggles = [(p, True) for p in orphans] + [(p, False) for p in sorted(mine)]
        if not toggles:
            continue
        if certain:
            intent.how = script.name if script is not None else "now"
            if not intent.trains:
                other = holder.get(cname)
                intent.warning = nothing_trainable_text(
                    say(cname), built=False, how=intent.how, other=say(other) if other else None
                )
            continue  # drawn as the flags say: the orphan check below marks a twin
        before = trained_parts(cname) if parts else set()
        saved = _flags(list(by_name.values()))
        try:
            _set_flags(by_name, toggles)
            intent.trains = {id(v) for v in m.trainable_variables}
        finally:
            _put_back(saved)
        intent.toggles = toggles
        sets = ", ".join(f"{say(p)}.trainable = {flag}" for p, flag in toggles)
        drawn = ", ".join(sorted(say(p) for p in trained_parts(cname))) if parts else say(cname)
        after = holder.get(cname) or next((c for c in order if c != cname and trained_parts(c) == before), None)
        then = f" (and back before {say(after)}.train_on_batch)" if after else ""
        would = ", ".join(sorted(say(p) for p in before)) or "nothing"
        intent.note = (
            f"{say(cname)}.train_on_batch is drawn training {drawn}, as it does when the loop sets {sets} right "
            f"before it{then}: Keras 3 reads the flags at a model's first train_on_batch, and now they say it "
            f"would train {would}"
        )
    return out


def compiled_trace(
    compiled: Any, *, models: Any = None, batch_size: int = 4, name: str | None = None, script: Any = None
) -> Trace:
    """The system of ``compiled`` models, each drawn as one ``train_on_batch`` (see the module docstring).

    What each update trains: Keras 3 reads the ``trainable`` flags when a model's train function is
    first built (its first ``train_on_batch``). A built one trains the set it holds, a fact: none at
    all is a warning, another set than the flags now say a note. A model not built yet trains what
    the flags say at its first call, which the loop decides: a discriminator frozen when ``combined``
    was built is drawn trained by its own update, as a working loop sets it (``discriminator.trainable
    = True`` right before), and so is a critic model left training what another compiled model trains
    (WGAN-GP); the key says so as a note. Only when ``script``'s loop calls ``train_on_batch`` and never
    sets a flag back (the Keras 2 habit) is it drawn as the flags say, with a warning: it trains nothing.

    Args:
        compiled: the compiled models, a list (in training order) or ``{name: model}``.
        models: other models of the system by name (``{"generator": g}``), to name the parts.
        batch_size: the batch of the inferred arrays.
        name: the trace's name.
        script: the Python file(s) whose loop trains them (read, never run), or None when unknown.

    Returns:
        The :class:`~ganviz.ir.Trace`; each :class:`~ganviz.ir.CompiledUpdate` says what it trains,
        with a ``warning`` for Keras 3's trainable trap when it is a fact and a ``note`` for what the
        drawing assumes of the loop; each output says how its target was inferred.

    Raises:
        TraceError: a model is not a compiled ``keras.Model``.
    """
    from .compiled import orphan_warnings
    from .tracing import trace_step

    named = compiled_name_map(compiled, models)
    _check(named)
    extra = {k: v for k, v in (dict(models) if isinstance(models, dict) else {}).items()}
    names: dict[int, str] = {id(m): n for n, m in named.items()}
    for n, m in extra.items():
        names.setdefault(id(m), _identifier(n))
    compiled_ids = {id(m) for m in named.values()}
    shared = {id(p) for m in named.values() for p in _direct_models(m)}
    shared = {i for i in shared if sum(i in {id(p) for p in _direct_models(m)} for m in named.values()) > 1}
    for m in named.values():  # a compiled model made of others (combined, WGAN-GP's two): its parts get names
        direct = _direct_models(m)
        if any(id(p) in compiled_ids or id(p) in names or id(p) in shared for p in direct):
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

    by_name = {
        n: m
        for m_id, n in names.items()
        for m in [*named.values(), *extra.values(), *_all_parts(named)]
        if id(m) == m_id
    }
    saved = _flags(list(by_name.values()))
    plan.globals.update({"_np": np, "_restore_flags": lambda: _put_back(saved)})
    plan.globals.update(by_name)
    for n in by_name:
        plan.locals[n] = ("model", (), "")
    facts = scan_scripts(script)
    intent = _intents(named, names, by_name, facts)
    reasons = [_write(plan, cname, m, names, named, intent) for cname, m in named.items()]
    params = list(plan.args)
    body = "\n".join("    " + line for line in plan.lines) or "    pass"
    src = f"def train_step({', '.join(params)}):\n{body}\n"
    linecache.cache[_FILENAME] = (len(src), None, src.splitlines(True), _FILENAME)
    namespace: dict[str, Any] = dict(plan.globals)
    exec(compile(src, _FILENAME, "exec"), namespace)  # noqa: S102 - our own generated source
    try:
        trace = trace_step(namespace["train_step"], *plan.args.values(), models=by_name)
    finally:
        _put_back(saved)  # the flags the drawn loop set, put back whether the trace succeeds or fails
    shown = {cname: c.model for c, cname in zip(trace.compiled, named)}  # cname -> the trace's name

    def holder_of(cname: str) -> str | None:
        held = next((c for c, m in named.items() if any(p is named[cname] for p in _direct_models(m))), None)
        return shown.get(held) if held else None

    # one train_on_batch per compiled model, in order (the trace names each as the step's models are named);
    # the trace's own trap lines speak of a traced step: each is said again here for a step written from compile
    updates = tuple(
        dataclasses.replace(
            c,
            warning=intent[cname].warning or _idle_warning(c, intent[cname], holder_of(cname)),
            note=intent[cname].note or _idle_note(c, intent[cname], holder_of(cname)),
            method="compile",
            outputs=tuple(dataclasses.replace(o, inferred=r) for o, r in zip(c.outputs, why)),
        )
        for c, cname, why in zip(trace.compiled, named, reasons)
    )
    # a compiled model left training what another trains, its judge trained by none: a warning when
    # that is a fact (built so, or a script that never sets the flags); else the note above says it
    label = _labels(by_name)
    marked = orphan_warnings(
        updates,
        how={shown[c]: intent[c].how for c in shown},
        direct={shown[c]: {label.get(p, p) for p in _fed(named[c], names)} for c in shown},
    )
    updates = tuple(m if intent[cname].how != "now" else u for u, m, cname in zip(updates, marked, named))
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
