"""The parts of a :class:`~ganviz.ir.Trace` that the TensorFlow (``build.py``) and the JAX/PyTorch
(``jax_build.py``) builders put together the same way, once the recorded step is read.

Both builders reduce a step to the same plain data: events (``("call", i)`` ...), each call's
model and source keys, each apply's ``(loss id, optimizer, model)`` keys, each loss's inputs and
terms, the assignments and the op records ``(id, kind, input keys, value)``. From there, phases
(folded where they repeat), how often each update runs, which sources and ops are still drawn and
in which order, phase and term names, and the order of the models are the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...ir.trace import Trace, Update
from ...ir.trace_facts import Phase, TraceOp
from .phases import RawPhase, cut_phases, fold_repeats, phase_name

__all__ = [
    "Folded",
    "fold_phases",
    "Reached",
    "reached",
    "trace_phases",
    "term_namer",
    "trace_updates",
    "models_used",
    "StepParts",
    "traced_step",
]

UpdateKey = tuple[str, str, str]  # (loss id, optimizer name, model name)


@dataclass
class Folded:
    """A step's phases (equal runs folded into the first) and what they keep."""

    phases: list[RawPhase]
    kept_calls: list[int]
    kept_losses: list[str]
    times: dict[UpdateKey, int]  # how many times each update runs in the step
    applies_of: dict[UpdateKey, int]  # in how many applies it appears
    updates: list[list[UpdateKey]]  # each phase's updates, in order


def fold_phases(
    events: list[tuple[str, int]],
    call_models: Sequence[str],
    loss_names: Mapping[str, str],
    apply_keys: list[list[UpdateKey]],
    assign_group: list[int],
    loss_of_grad: Mapping[int, list[str]],
    loss_ids: list[str],
) -> Folded:
    """Cut ``events`` into phases, fold runs of phases that call, update and assign alike, and
    count each update's runs; the losses kept are those some kept phase takes a gradient of."""
    raw = cut_phases(events)
    sigs: list[object] = [
        (
            tuple(call_models[i] for i in p.calls),
            tuple((loss_names[k[0]], k[1], k[2]) for a in p.applies for k in apply_keys[a]),
            tuple(assign_group[a] for a in p.assigns),
        )
        for p in raw
    ]
    phases = fold_repeats(raw, sigs)
    kept_calls = [i for p in phases for i in p.calls]
    kept_losses = [lid for lid in loss_ids if any(lid in loss_of_grad.get(gi, []) for p in phases for gi in p.grads)]
    times: dict[UpdateKey, int] = {}
    applies_of: dict[UpdateKey, int] = {}
    updates: list[list[UpdateKey]] = []
    for p in phases:
        mine: list[UpdateKey] = []
        for a in p.applies:
            for k in apply_keys[a]:
                times[k] = times.get(k, 0) + p.repeat
                applies_of[k] = applies_of.get(k, 0) + 1
                if k not in mine:
                    mine.append(k)
        updates.append(mine)
    return Folded(phases, kept_calls, kept_losses, times, applies_of, updates)


@dataclass
class Reached:
    """What the kept facts reach: the source keys in the trace's order, each one's id, and the ops."""

    order: list[str]
    src_ids: dict[str, str]
    ops: tuple[TraceOp, ...]

    def remap(self, keys: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Keys as the trace's ids (a source's ``srcN``, others as they are), each once."""
        return tuple(dict.fromkeys(self.src_ids.get(k, k) for k in keys))


def reached(
    folded: Folded,
    facts: tuple[list[Any], list[str], list[list[str]], list[list[Any]], list[Any]],
    ops: Mapping[Any, tuple[str, str, list[str], Any]],
    data_keys: list[str],
    kinds: tuple[str, ...],
    name_of: Callable[[Any], str | None],
) -> Reached:
    """The sources and ops that the kept calls, losses (inputs and terms) and assignments reach.

    ``facts`` is ``(raw_calls, loss_ids, raw_inputs, raw_terms, assignments)``; ``ops`` the recorded
    ops ``(id, kind, input keys, value)``. Sources are the keys starting with one of ``kinds``: data
    first in ``data_keys``' order, the others as first reached; ops keep the order recorded.
    """
    raw_calls, loss_ids, raw_inputs, raw_terms, assignments = facts
    refs: list[str] = []
    for i in folded.kept_calls:
        refs.extend(raw_calls[i][0])
    for lid in folded.kept_losses:
        li = loss_ids.index(lid)
        refs.extend(raw_inputs[li])
        for term in raw_terms[li]:
            refs.extend(term[3])
    for a in assignments:
        refs.extend(a.inputs)
    op_by_id = {v[0]: v for v in ops.values()}
    stack = [r for r in refs if r in op_by_id]
    while stack:
        for r in op_by_id[stack.pop()][2]:
            refs.append(r)
            if r in op_by_id:
                stack.append(r)
    data_rank = {k: i for i, k in enumerate(data_keys)}
    order = [k for k in dict.fromkeys(refs) if k.startswith(kinds)]
    order = sorted(order, key=lambda k: data_rank.get(k, len(data_rank)))
    out = Reached(order, {k: f"src{i}" for i, k in enumerate(order)}, ())
    used = set(refs)
    out.ops = tuple(TraceOp(oid, kind, out.remap(ins), name_of(v)) for oid, kind, ins, v in ops.values() if oid in used)
    return out


def trace_phases(
    folded: Folded,
    assignments: list[Any],
    assign_group: list[int],
    loss_of_grad: Mapping[int, list[str]],
    call_ids: Sequence[str] | Mapping[int, str],
    frozen: Callable[[RawPhase, list[str]], tuple[str, ...]],
) -> tuple[list[Phase], dict[int, str]]:
    """Each kept phase, named by what it updates (else assigns), and the phase of each kept call."""
    call_phase: dict[int, str] = {}
    phases: list[Phase] = []
    for pi, p in enumerate(folded.phases):
        updated = list(dict.fromkeys(k[2] for k in folded.updates[pi]))
        assigned = list(dict.fromkeys(assignments[assign_group[a]].target for a in p.assigns))
        name = phase_name(updated, assigned, pi)
        for i in p.calls:
            call_phase[i] = name
        losses_here = list(dict.fromkeys(lid for gi in p.grads for lid in loss_of_grad.get(gi, [])))
        phases.append(
            Phase(
                name,
                p.repeat,
                tuple(call_ids[i] for i in p.calls),
                tuple(lid for lid in losses_here if lid in folded.kept_losses),
                tuple(f"{k[1]} -> {k[2]}" for k in folded.updates[pi]),
                frozen=frozen(p, updated),
            )
        )
    return phases, call_phase


def term_namer(calls: Sequence[Any], sources: Sequence[Any], ops: Sequence[Any]) -> Callable[..., str]:
    """``term_name(name, kind, ins)``: a term's own name, else ``kind(what it reads)`` by the
    labels of the calls, sources and ops it reads (calls and ops before sources)."""
    label = {c.id: c.output or c.model for c in calls}
    label.update({s.id: s.name for s in sources})
    label.update({o.id: o.output or o.kind for o in ops})

    def term_name(name: str | None, kind: str, ins: tuple[str, ...]) -> str:
        shown = [label[i] for i in ins if i in label and not i.startswith("src")] or [label[i] for i in ins[:1]]
        return name or f"{kind}({', '.join(shown[:2])})"

    return term_name


def trace_updates(folded: Folded, variables: Mapping[UpdateKey, int]) -> tuple[Update, ...]:
    """Each phase's updates with the variables one apply updates (``variables`` counts them over
    all applies) and how many times it runs."""
    return tuple(
        Update(k[0], k[1], k[2], variables[k] // folded.applies_of[k], folded.times[k])
        for mine in folded.updates
        for k in mine
    )


def models_used(
    call_models: list[str], updates: Sequence[Update], assignments: list[Any], by_name: Mapping[str, Any]
) -> list[str]:
    """The step's models in the order of their first kept call, then those only updated or assigned."""
    order = list(call_models) + [u.model for u in updates]
    order += [n for a in assignments for n in (a.source, a.target) if n in by_name]
    return [n for n in dict.fromkeys(order) if n in by_name]


@dataclass
class StepParts:
    """What a builder has read off a recorded step, each part in drawing order."""

    sources: Sequence[Any]
    calls: Sequence[Any]
    losses: Sequence[Any]
    updates: Sequence[Update]
    optimizers: Sequence[Any]
    ops: Sequence[Any]
    assignments: Sequence[Any]
    phases: Sequence[Any]


def traced_step(
    name: str, models: Sequence[Any], parts: StepParts, by_name: Mapping[str, Any], used: Sequence[str], **details: Any
) -> Trace:
    """The :class:`Trace` of a traced (not assumed) step: its parts as tuples, and the models of
    ``by_name`` that the step never used listed as ``unused_models``; ``details`` only where given."""
    fields = {f: tuple(getattr(parts, f)) for f in StepParts.__dataclass_fields__}
    unused = tuple(n for n in by_name if n not in used)
    extra = {"details": details} if details else {}
    return Trace(name=name, models=tuple(models), assumed=False, unused_models=unused, **fields, **extra)


def penalty_kind(origins: Sequence[str], ops: Mapping[Any, Sequence[Any]]) -> str | None:
    """What a gradient penalty is, from the keys its gradient was taken at (``origins``) and the op
    records ``(key, kind, input keys, ...)``: ``gp`` at an interpolation, ``r1`` at the data (also
    data concatenated first with something else), else None."""
    mine = [op for op in ops.values() if op[0] in origins]
    if any(op[1] == "interpolate" for op in mine):
        return "gp"
    firsts = [op[2][:1] for op in mine if op[1] == "concat"]
    if any(k.startswith("data:") for k in origins) or any(f and f[0].startswith("data:") for f in firsts):
        return "r1"
    return None
