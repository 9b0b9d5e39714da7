"""Turn a recorded step (model calls, gradients, updates) into a ``Trace``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ...ir.graph import Graph
from ...ir.trace import Call, Loss, OptimizerInfo, Source, Trace, TraceModel
from ...ir.trace_facts import LossTerm
from .. import tf_graph as tfg
from ..keras_model.facts import param_counts
from .assemble import (
    StepParts,
    fold_phases,
    models_used,
    penalty_kind,
    reached,
    term_namer,
    trace_phases,
    trace_updates,
    traced_step,
)
from .assign import build_assignments
from .find import Found, keras_tensors
from .record import Recorder
from .terms import mixes_penalty, reaches, split_terms, term_kind

__all__ = ["build_trace", "trace_model", "learning_rate"]


def _shapes(tensors: Any) -> tuple[tuple[int | None, ...] | None, ...]:
    return tuple(tfg.shape_of(t) for t in tensors)


def _model_graph(model: Any, name: str) -> Graph:
    try:
        from ..keras_model import model_to_graph
    except ImportError:
        return Graph(name=name, details={"class_name": type(model).__name__})
    try:
        return model_to_graph(model, expand_nested=True)
    except Exception:  # the architecture is a nicety; the trace stands without it
        return Graph(name=name, details={"class_name": type(model).__name__})


def trace_model(
    model: Any, name: str, first_call: tuple[str, list[Any], list[Any]] | None, updated: list[Any] | None = None
) -> TraceModel:
    """A model of the step; ``updated`` are the variables of it that an optimizer updates in the step.

    A model the step updates is trainable in the step, whatever its ``trainable`` flag says once the
    step is over (a discriminator unfrozen only around its own gradient).
    """
    params, trainable = param_counts(model)
    is_trainable = bool(model.trainable)
    if updated and (not is_trainable or not trainable):
        is_trainable = True
        trainable = sum(_size(v) for v in {id(v): v for v in updated}.values())
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
        trainable=is_trainable,
        input_shapes=ins,
        output_shapes=outs,
    )


def _size(variable: Any) -> int:
    n = 1
    for d in tuple(variable.shape):
        n *= int(d or 0)
    return n


def learning_rate(optimizer: Any) -> float | None:
    try:
        lr = optimizer.get_config().get("learning_rate")
    except Exception:
        return None
    if not isinstance(lr, (int, float)) or not math.isfinite(lr):  # a schedule, or nonsense: no rate drawn
        return None
    return float(f"{lr:.7g}")  # drop float32 noise


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


def build_trace(rec: Recorder, found: Found, names: dict[int, str], trace_name: str, params: list[str]) -> Trace:
    b = _Builder(rec, found, names, params)
    return b.trace(trace_name)


class _Builder:
    """Turns one recording into a Trace; each method builds one part, in data order."""

    def __init__(self, rec: Recorder, found: Found, names: dict[int, str], params: list[str]) -> None:
        self.rec, self.found, self.names = rec, found, names
        self.final = rec.final_names()
        self.call_ids = [f"call{i}" for i in range(len(rec.calls))]
        self.stops: dict[str, str] = {}
        for i, (_, _, outs) in enumerate(rec.calls):
            for t in outs:
                self.stops.setdefault(t.name, self.call_ids[i])
        self.data_names: dict[str, tuple[str, Any]] = {}
        for path, t in rec.data:
            idx, _, rest = path.partition("[")
            base = params[int(idx)] if int(idx) < len(params) else f"arg{idx}"
            key = f"data:{t.name}"
            self.stops.setdefault(t.name, key)
            self.data_names[key] = (rec.names.get(t.name) or (base + ("[" + rest if rest else "")), t)
        self.redirects: dict[str, list[Any]] = {}
        self.grad_index: dict[str, int] = {}
        for gi, (targets, results, _) in enumerate(rec.grads):
            for r in results:
                if r is not None:
                    self.redirects.setdefault(r.name, targets)
                    self.grad_index.setdefault(r.name, gi)
        self.pending: dict[str, tuple[str, str, Any]] = {}
        self.input_elements: list[dict[str, str]] = []  # per call: input call id -> the elements it uses
        self._output_names: dict[int, list[str]] = {}
        self.ops: dict[str, tuple[str, str, list[str], Any]] = {}  # key -> (id, kind, inputs, tensor)
        self.owners = {op: self.call_ids[i] for i, ops in enumerate(rec.call_ops) for op in ops}
        self.out_index = {t.name: (i, k) for i, (_, _, outs) in enumerate(rec.calls) for k, t in enumerate(outs)}
        self._step_vars: dict[str, str] | None = None
        self.reading_variables = False
        self.walker = tfg.Walker(
            self.stops, self.owners, self.redirects, self._new_source, self._new_op, self._new_variable
        )

    def is_stop(self, t: Any) -> bool:
        """Whether a walk up the graph ends at ``t``: a call's output, an op inside a call, the data."""
        return t.name in self.stops or t.op.name in self.owners

    def name_of(self, tensor: Any) -> str | None:
        return self.rec.names.get(tensor.name) or self.final.get(tensor.name)

    def _new_source(self, kind: str, tensor: Any, default: str) -> str:
        key = f"{kind}:{tensor.name}"
        name = tfg.forward_name(tensor, self.rec.names) or tfg.forward_name(tensor, self.rec.element_names)
        self.pending[key] = (kind, name or default, tensor)
        return key

    def step_variables(self, graph: Any) -> dict[str, str]:
        """Captured handle name -> name, for the variables the step reads that are no model's weights.

        They are the attributes (``self.alpha``) and locals of the step's frames holding a variable.
        """
        if self._step_vars is not None:
            return self._step_vars
        import keras

        owned = set(self.var_owner())
        handles: dict[int, str] = {}
        for frame in self.rec.frames.values():
            scopes = [dict(frame.f_locals)]
            owner = frame.f_locals.get("self")
            if owner is not None:
                scopes.insert(0, dict(getattr(owner, "__dict__", {})))
            for scope in scopes:
                for name, value in scope.items():
                    if isinstance(value, keras.Variable) and id(value) not in owned:
                        inner = getattr(value, "value", None)
                        handle = getattr(inner, "handle", None)
                        if handle is not None and id(inner) not in owned:
                            handles.setdefault(id(handle), name.lstrip("_") or value.name)
        self._step_vars = {}
        for external, internal in getattr(graph, "captures", ()):
            if id(external) in handles:
                self._step_vars[internal.name] = handles[id(external)]
        return self._step_vars

    def _new_variable(self, tensor: Any) -> str | None:
        """A step variable read as data (a fade-in ``alpha`` into both models) is a source; a weight is not."""
        if not self.reading_variables or not tensor.op.inputs or tfg.only_masks(tensor):
            return None
        handle = tensor.op.inputs[0]
        name = self.step_variables(tensor.graph).get(handle.name)
        if name is None:
            return None
        key = f"variable:{handle.name}"
        self.pending.setdefault(key, ("variable", name, tensor))
        return key

    def _add_op(self, kind: str, tensor: Any, inputs: list[str]) -> str:
        key = tensor.name
        if key not in self.ops:
            self.ops[key] = (f"op{len(self.ops)}", kind, inputs, tensor)
        return self.ops[key][0]

    def _new_op(self, tensor: Any) -> str | None:
        """A concatenation of different inputs (noise + labels, images + label maps) is drawn."""
        if tensor.name in self.ops:
            return self.ops[tensor.name][0]
        if tensor.op.type != "ConcatV2":
            return None
        merged: list[str] = []
        for part in list(tensor.op.inputs)[:-1]:  # the last input is the axis
            merged.extend(k for k in self.walker.origins([part]) if k not in merged)
        if len(merged) < 2 or all(k.startswith("constant:") for k in merged):
            return None
        return self._add_op("concat", tensor, merged)

    def _call_input(self, tensor: Any, reached: dict[str, list[str]] | None = None) -> list[str]:
        """Origins of one input tensor of a call; an interpolation between inputs by noise is an op.

        Only here is a step variable a source: one that feeds a model is an input of the step; one
        read only to update itself (a counter, an augmentation probability) is bookkeeping.
        """
        self.reading_variables = True
        try:
            origins = self.walker.origins([tensor], reached)
        finally:
            self.reading_variables = False
        if tensor.op.type in ("AddV2", "Add", "Sub") and tensor.name not in self.stops:
            noise = [k for k in origins if k.startswith("noise:")]
            others = [k for k in origins if k.startswith(("call", "data:", "op"))]
            if noise and len(others) >= 2:
                return [self._add_op("interpolate", tensor, origins)]
        return origins

    def calls(self) -> list[tuple[list[str], dict[str, str]]]:
        """Each call's input ids, and for multi-input models which model input each id goes to."""
        out = []
        self.input_elements = []
        by_name = {self.names[k]: m for k, (_, m) in self.found.models.items()}
        for i, (name, ins, _) in enumerate(self.rec.calls):
            keys: list[str] = []
            reached: dict[str, list[str]] = {}
            for t in ins:
                keys.extend(k for k in self._call_input(t, reached) if k not in keys)
            fed: dict[str, list[str]] = {}
            input_names = _input_names(by_name.get(name))
            args = self.rec.call_args[i]
            if len(input_names) > 1 and len(args) == len(input_names):
                for arg_name, tensors in zip(input_names, args):
                    for t in tensors:
                        for k in self._call_input(t):
                            if arg_name not in fed.setdefault(k, []):
                                fed[k].append(arg_name)
            labels = {k: ", ".join(v) for k, v in fed.items()}
            self.input_elements.append(self.elements(reached, before=i))
            out.append((keys, labels))
        return out

    def elements(self, reached: dict[str, list[str]], before: int | None = None, exact: bool = False) -> dict[str, str]:
        """Per call returning several tensors, the elements ``reached`` (from ``walker.origins``) uses.

        ``z`` of an encoder's ``z_mean, z_log_var, z``; only calls before call ``before`` when given.
        With ``exact``, a call also read inside (a loss reading the logits under its sigmoid output)
        gets no entry: which element that is, is not known.
        """
        out: dict[str, str] = {}
        for k, tensor_names in reached.items():
            src = int(k[4:]) if k.startswith("call") and k[4:].isdigit() else None
            if src is None or (before is not None and src >= before) or len(self.rec.calls[src][2]) < 2:
                continue
            if exact and any(n not in self.out_index for n in tensor_names):
                continue
            order = sorted({self.out_index[n][1] for n in tensor_names if n in self.out_index})
            if order:
                named = self.output_names(src)
                out[k] = ", ".join(named[j] for j in order)
        return out

    def read_elements(self, tensor: Any) -> dict[str, str]:
        """The elements of multi-output calls that ``tensor`` (a loss or a term) is computed from."""
        reached: dict[str, list[str]] = {}
        self.walker.origins([tensor], reached)
        return self.elements(reached, exact=True)

    def output_names(self, i: int) -> list[str]:
        """Each output element of call ``i`` as the step names it, else Keras's output name, else ``out[k]``."""
        if i in self._output_names:
            return self._output_names[i]
        outs = self.rec.calls[i][2]
        frame = self.rec.call_frames[i]
        local: dict[str, str] = {}
        if frame is not None:
            local = {**self.rec.final_names(frame), **self.rec.frame_names.get(id(frame), {})}
        by_name = {self.names[k]: m for k, (_, m) in self.found.models.items()}
        keras_names = _output_names(by_name.get(self.rec.calls[i][0]))
        # One source of names for all the elements, never a mix (a loop variable's last value naming one
        # element of one call reads as nonsense): the step's own names (``z_mean, z_log_var, z``), else
        # Keras's output names, else the elements of one list of the step, else ``output[k]``.
        own = [local.get(t.name) or self.name_of(t) for t in outs]
        listed = [self.rec.element_names.get(t.name) for t in outs]
        if all(own) and len(set(own)) == len(own):
            names = [str(n) for n in own]
        elif keras_names and len(keras_names) == len(outs):
            names = list(keras_names)
        elif all(listed) and len({str(n).rsplit("[", 1)[0] for n in listed}) == 1:
            names = [str(n) for n in listed]
        else:
            names = [f"output[{k}]" for k in range(len(outs))]
        self._output_names[i] = names
        return names

    def call_output(self, i: int) -> str | None:
        outs = self.rec.calls[i][2]
        if not outs:
            return None
        if len(outs) > 1:  # every element, as the step names it: ``z_mean, z_log_var, z``
            return _joined_names(self.output_names(i))
        t = outs[0]
        frame = self.rec.call_frames[i]
        if frame is not None:
            hit = self.rec.frame_names.get(id(frame), {}).get(t.name) or self.rec.final_names(frame).get(t.name)
            if hit:
                return hit
        return self.name_of(t)

    def losses(self) -> tuple[list[Any], list[str], dict[str, int], set[int]]:
        """Targets of the gradients that reach an optimizer (or nothing else), their names, and inner gradients.

        A gradient whose result is not applied but used as data (the gradient penalty's inner tape)
        is no loss: its target is reached through the loss that uses it.
        """
        rec = self.rec
        applied: set[int] = set()
        for _, grads, _ in rec.applies:
            for g in grads:
                if g is not None:
                    gi = _grad_record_of(g, self.grad_index)
                    if gi is not None:
                        applied.add(gi)
        inner = {
            gi
            for gi, (_, results, _) in enumerate(rec.grads)
            if gi not in applied and any(r is not None and r.consumers() for r in results)
        }
        keys: dict[str, int] = {}
        targets: list[Any] = []
        names: list[str] = []
        logs = rec.result if isinstance(rec.result, dict) else {}
        for gi, (tgts, _, locals_) in enumerate(rec.grads):
            if gi in inner:
                continue
            for t, local in zip(tgts, locals_):
                if t.name in keys:
                    continue
                keys[t.name] = len(targets)
                targets.append(t)
                by_logs = next((str(k) for k, v in logs.items() if tfg.is_graph_tensor(v) and _same(v, t)), None)
                names.append(by_logs or local or self.name_of(t) or f"loss_{len(targets) - 1}")
        return targets, names, keys, inner

    def terms(
        self, target: Any, loss_name: str, inner: set[int]
    ) -> list[tuple[str | None, str, float | None, list[str], Any]]:
        """``(name, kind, weight, input keys, core tensor)`` of each additive term of one loss."""
        atomic = frozenset(t.name for _, t in self.rec.loss_calls)
        classes = {t.name: cls for cls, t in self.rec.loss_calls}
        grad_results = {r.name for gi in inner for r in self.rec.grads[gi][1] if r is not None}

        stops = self.is_stop

        def is_leaf(t: Any) -> bool:
            return self.name_of(t) is not None and not mixes_penalty(t, grad_results, stops=stops)

        def is_kl(t: Any) -> bool:  # a closed-form KL keeps its own -0.5
            return term_kind(t, stops=stops, gradient_results=grad_results, loss_classes=classes) == "kl"

        parts = split_terms(
            target,
            is_leaf=is_leaf,
            atomic=atomic,
            stops=stops,
            split_sum=lambda t: mixes_penalty(t, grad_results, stops=stops),
            keeps_sign=is_kl,
        )
        out: list[tuple[str | None, str, float | None, list[str], Any]] = []
        for named, weight, core in parts:
            kind = term_kind(core, stops=stops, gradient_results=grad_results, loss_classes=classes)
            # A term that is a model's output is named after its kind: ``wasserstein(scores)``.
            name = loss_name if named is target else None if self.is_stop(named) else self.name_of(named)
            if name is None and kind == "gradient_penalty":
                name = self.penalty_name(core, inner, stops)
            out.append((name, kind, weight, self.walker.origins([core]), core))
        return out

    def nearest_name(self, core: Any, stops: Any, limit: int = 200) -> str | None:
        """The local name nearest above ``core`` (``real_out`` for a slice of a joint call), else None."""
        queue, seen = [core], {core.name}
        for t in queue:
            if len(seen) > limit:
                break
            if t is not core:
                name = self.name_of(t)
                if name is not None:
                    return name
            if stops(t) or t.op.type in tfg.STOP_OPS:
                continue
            for x in t.op.inputs:
                if x.name not in seen and x.op.type not in tfg.SHAPE_OPS and x.op.type != "Const":
                    seen.add(x.name)
                    queue.append(x)
        return None

    def penalty_name(self, core: Any, inner: set[int], stops: Any) -> str | None:
        """``r1`` for a penalty on the gradient at the data, ``gp`` at an interpolation, else None."""
        for gi in sorted(inner):
            results = {r.name for r in self.rec.grads[gi][1] if r is not None}
            if not reaches(core, results, stops=stops):
                continue
            origins: list[str] = []
            for src in self.rec.grad_sources[gi]:
                origins.extend(self._call_input(src))
            kind = penalty_kind(origins, self.ops)
            if kind is not None:
                return kind
        return None

    def frozen_in(self, p: Any, updated: list[str]) -> tuple[str, ...]:
        """Models called in the phase's tapes that were not trainable when each of its gradients of a
        loss was taken, and that it does not update: read then, not once the step is over."""
        rec = self.rec
        grads = [gi for gi in p.grads if gi < len(rec.grad_trainable) and self.loss_of(gi)]
        if not grads:
            return ()
        called = dict.fromkeys(rec.calls[i][0] for i in p.calls if rec.call_in_tape[i])
        return tuple(
            m for m in called if m not in updated and all(rec.grad_trainable[gi].get(m) is False for gi in grads)
        )

    def loss_of(self, gi: int) -> bool:
        """Whether gradient ``gi`` is of a loss (not a penalty's gradient taken as data)."""
        return any(t.name in self.loss_keys for t in self.rec.grads[gi][0])

    def var_owner(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for key, (_, model) in sorted(self.found.models.items(), key=lambda kv: -len(kv[1][1].variables)):
            for v in model.variables:
                out[id(v)] = self.names[key]
                value = getattr(v, "value", None)
                if value is not None:
                    out[id(value)] = self.names[key]
        return out

    def trace(self, trace_name: str) -> Trace:  # noqa: C901 - one pass per part of the contract, in order
        rec = self.rec
        raw_calls = self.calls()
        targets, loss_names, loss_keys, inner = self.losses()
        self.loss_keys = loss_keys
        loss_ids = [f"loss{i}" for i in range(len(targets))]
        raw_loss_inputs = [self.walker.origins([t]) for t in targets]
        raw_terms = [self.terms(t, loss_names[i], inner) for i, t in enumerate(targets)]
        for i, terms in enumerate(raw_terms):  # a constant label folded into a term's sign is no input
            used = {k for term in terms for k in term[3]}
            raw_loss_inputs[i] = [k for k in raw_loss_inputs[i] if not k.startswith("constant:") or k in used]

        # Updates: which optimizer applies which loss's gradients to which model's variables.
        var_owner = self.var_owner()
        opt_names = optimizer_names(self.found, rec.applies)
        optimizers: dict[str, OptimizerInfo] = {}
        variables: dict[tuple[str, str, str], int] = {}
        apply_keys: list[list[tuple[str, str, str]]] = []
        for opt, grads, variables_ in rec.applies:
            opt_name = opt_names[id(opt)]
            optimizers.setdefault(opt_name, OptimizerInfo(opt_name, type(opt).__name__, learning_rate(opt)))
            keys: list[tuple[str, str, str]] = []
            for g, v in zip(grads, variables_):
                if g is None or id(v) not in var_owner:
                    continue
                gi = _grad_record_of(g, self.grad_index)
                if gi is None:
                    continue
                for t in rec.grads[gi][0]:
                    if t.name not in loss_keys:
                        continue
                    k = (loss_ids[loss_keys[t.name]], opt_name, var_owner[id(v)])
                    variables[k] = variables.get(k, 0) + 1
                    if k not in keys:
                        keys.append(k)
            apply_keys.append(keys)

        all_vars = [v for _, m in self.found.models.values() for v in m.variables]
        assignments, assign_group = build_assignments(
            rec.assigns,
            var_owner,
            all_vars,
            self.walker.origins,
            lambda t: t.name in self.stops or t.op.name in self.owners,
        )

        # Phases, with runs of equal phases folded into the first.
        call_models = [c[0] for c in rec.calls]
        loss_of_grad = {
            gi: [loss_ids[loss_keys[t.name]] for t in tg if t.name in loss_keys]
            for gi, (tg, _, _) in enumerate(rec.grads)
        }
        folded = fold_phases(
            rec.events, call_models, dict(zip(loss_ids, loss_names)), apply_keys, assign_group, loss_of_grad, loss_ids
        )
        kept_calls, kept_losses = folded.kept_calls, folded.kept_losses

        # Sources and ops: ids in the order first reached, data first; only those still drawn.
        facts = (raw_calls, loss_ids, raw_loss_inputs, raw_terms, assignments)
        data_keys = [f"data:{t.name}" for _, t in rec.data]
        seen = reached(folded, facts, self.ops, data_keys, ("data:", "noise:", "constant:", "variable:"), self.name_of)
        src_ids, remap, ops = seen.src_ids, seen.remap, seen.ops
        sources = []
        for key in seen.order:
            if key.startswith("data:"):
                name, t = self.data_names[key]
                sources.append(Source(src_ids[key], "data", name, tfg.shape_of(t)))
            else:
                kind, name, t = self.pending[key]
                sources.append(Source(src_ids[key], kind, name, tfg.shape_of(t)))

        phases, call_phase = trace_phases(
            folded, assignments, assign_group, loss_of_grad, self.call_ids, self.frozen_in
        )
        calls = tuple(
            Call(
                self.call_ids[i],
                rec.calls[i][0],
                remap(raw_calls[i][0]),
                tfg.shape_of(rec.calls[i][2][0]) if rec.calls[i][2] else None,
                output=self.call_output(i),
                phase=call_phase.get(i),
                in_tape=rec.call_in_tape[i],
                input_names={src_ids.get(k, k): v for k, v in raw_calls[i][1].items()},
                outputs=tuple(self.output_names(i)) if len(rec.calls[i][2]) > 1 else (),
                output_shapes=_shapes(rec.calls[i][2]) if len(rec.calls[i][2]) > 1 else (),
                input_elements=self.input_elements[i],
            )
            for i in kept_calls
        )
        term_name = term_namer(calls, sources, ops)
        losses = []
        for lid in kept_losses:
            li = loss_ids.index(lid)
            names = [term_name(name, kind, remap(ins)) for name, kind, _, ins, _ in raw_terms[li]]
            twice = {n for n in names if names.count(n) > 1}  # two terms on one (joint) call
            for i, (name, kind, _, _, core) in enumerate(raw_terms[li]):
                hint = self.nearest_name(core, self.is_stop) if name is None and names[i] in twice else None
                if hint:
                    names[i] = f"{kind}({hint})"
            terms = tuple(
                LossTerm(names[i], kind, weight, remap(ins), self.read_elements(core))
                for i, (_, kind, weight, ins, core) in enumerate(raw_terms[li])
            )
            losses.append(Loss(lid, loss_names[li], remap(raw_loss_inputs[li]), terms, self.read_elements(targets[li])))
        updates = trace_updates(folded, variables)
        assignments = [dataclasses.replace(a, inputs=remap(a.inputs)) for a in assignments]

        # Models: in the order of their first call, then models only updated or assigned.
        by_name = {self.names[k]: m for k, (_, m) in self.found.models.items()}
        first: dict[str, tuple[str, list[Any], list[Any]]] = {}
        for i in kept_calls:
            first.setdefault(rec.calls[i][0], rec.calls[i])
        used = models_used(list(first), updates, assignments, by_name)
        updated: dict[str, list[Any]] = {}
        for _, grads, variables_ in rec.applies:
            for g, v in zip(grads, variables_):
                if g is not None and id(v) in var_owner:
                    updated.setdefault(var_owner[id(v)], []).append(v)
        trace_models = [trace_model(by_name[n], n, first.get(n), updated.get(n)) for n in used]
        parts = StepParts(sources, calls, losses, updates, list(optimizers.values()), ops, assignments, phases)
        return traced_step(trace_name, trace_models, parts, by_name, used)


def _keras_name(tensor: Any) -> str:
    """The name Keras gives a model's input or output: its layer's (``input_layer_3``, ``z_mean``),
    never the symbolic tensor's own (``keras_tensor_21``)."""
    name = getattr(_layer_of(tensor), "name", None) or getattr(tensor, "name", "")
    return str(name or "")


def _layer_of(tensor: Any) -> Any:
    """The layer that made a symbolic Keras tensor, else None."""
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None) or (history[0] if isinstance(history, tuple) and history else None)


def _input_names(model: Any) -> list[str]:
    """The names of a functional model's inputs (``input_image``, ``target_image``), else []."""
    inputs = keras_tensors(model, "inputs")
    names = [_keras_name(t) for t in inputs or []]
    return names if all(names) else []


def _joined_names(names: list[str]) -> str | None:
    """A multi-output call's name: its elements' names, the list's own name when they are only its
    elements, nothing when the step gave no name at all.

    >>> _joined_names(["z_mean", "z_log_var", "z"]), _joined_names(["feats[0]", "feats[1]"])
    ('z_mean, z_log_var, z', 'feats')
    >>> _joined_names(["output[0]", "output[1]"]) is None
    True
    """
    bases = {n.rsplit("[", 1)[0] for n in names if n.endswith("]") and "[" in n}
    if len(bases) == 1 and all(n.endswith("]") and "[" in n for n in names):
        base = bases.pop()
        return None if base == "output" else base
    return ", ".join(names)


def _output_names(model: Any) -> list[str]:
    """The names Keras gives a functional model's outputs (the layers making them), else []."""
    outputs = keras_tensors(model, "outputs")
    names = [_keras_name(t) for t in outputs or []]
    if any(_auto_named(t) for t in outputs or []):  # ``leaky_re_lu_25, conv2d_37`` would say nothing
        return []
    return names if all(names) else []


def _auto_named(tensor: Any) -> bool:
    """Whether the layer making ``tensor`` kept the name Keras made up from its class (``conv2d_37``)."""
    layer = _layer_of(tensor)
    if layer is None:
        return False
    try:
        from keras.src.utils.naming import to_snake_case  # how Keras makes the name up (auto_name)
    except ImportError:  # pragma: no cover - another Keras layout
        return False
    base = to_snake_case(type(layer).__name__)
    name = str(getattr(layer, "name", ""))
    return name == base or (name.startswith(base + "_") and name[len(base) + 1 :].isdigit())


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` is ``b`` or ``b`` passed through identity/cast ops."""
    for _ in range(4):
        if a.name == b.name:
            return True
        if a.op.type not in ("Identity", "Cast") or not a.op.inputs:
            return False
        a = a.op.inputs[0]
    return False


def optimizer_names(found: Found, applies: list[tuple[Any, Any, Any]]) -> dict[int, str]:
    """The optimizer names ``build_trace`` gives: the attribute holding it, else its own name made unique."""
    names = {key: attr for key, (attr, _) in found.optimizers.items()}
    used = set(names.values())
    for opt, _, _ in applies:
        if id(opt) not in names:
            base = name = str(getattr(opt, "name", type(opt).__name__))
            i = 1
            while name in used:
                name, i = f"{base}_{i}", i + 1
            used.add(name)
            names[id(opt)] = name
    return names
