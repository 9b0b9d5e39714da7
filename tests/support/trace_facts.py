"""What a reader takes from a trace's picture, by name rather than by id: the facts two backends' traces must share."""

from __future__ import annotations

from typing import Any

from ganviz.ir import Trace

__all__ = ["facts", "semantic_facts"]


def _labels(t: Trace) -> dict[str, str]:
    label = {s.id: f"{s.kind}:{s.name}" for s in t.sources}
    label.update({c.id: c.output or c.model for c in t.calls})
    label.update({o.id: o.kind for o in t.ops})
    return label


def facts(t: Trace) -> dict[str, Any]:
    """Everything a reader takes from the picture, by name rather than by id."""
    label = _labels(t)

    def names(ids: tuple[str, ...]) -> list[str]:
        return sorted(label.get(i, i) for i in ids)

    loss_name = {x.id: x.name for x in t.losses}
    return {
        "models": sorted(m.name for m in t.models),
        "sources": sorted((s.kind, s.name, str(s.shape)) for s in t.sources),
        "calls": [(c.model, names(c.inputs), c.output, c.phase, c.in_tape) for c in t.calls],
        "ops": [(o.kind, names(o.inputs)) for o in t.ops],
        "losses": [(x.name, [(u.name, u.kind, u.weight, names(u.inputs)) for u in x.terms]) for x in t.losses],
        "updates": sorted((loss_name[u.loss], u.optimizer, u.model, u.variables, u.times) for u in t.updates),
        "phases": [
            (p.name, p.repeat, list(p.updates), list(p.frozen), [loss_name[i] for i in p.losses]) for p in t.phases
        ],
        "assignments": [(a.target, a.source, a.kind, a.decay, a.variables) for a in t.assignments],
        "optimizers": [(o.name, o.class_name, o.learning_rate) for o in t.optimizers],
    }


def semantic_facts(t: Trace) -> dict[str, Any]:
    """What two different implementations of one recipe must agree on: models, each loss's terms by
    kind, weight and sign, who updates whom how often, phases and assignments (local names aside)."""
    loss_name = {x.id: x.name for x in t.losses}
    return {
        "models": sorted(m.name for m in t.models),
        "losses": [(x.name, sorted((u.kind, u.weight) for u in x.terms)) for x in t.losses],
        "updates": sorted((loss_name[u.loss], u.optimizer, u.model, u.variables, u.times) for u in t.updates),
        "phases": [(p.name, p.repeat, list(p.updates), [loss_name[i] for i in p.losses]) for p in t.phases],
        "assignments": sorted((a.target, a.source, a.kind, a.decay, a.variables) for a in t.assignments),
        "optimizers": [(o.name, o.class_name, o.learning_rate) for o in t.optimizers],
        "sources": sorted({s.kind for s in t.sources}),
    }
