"""Cut a recorded step into phases (each ending with its updates) and fold phases repeated in a row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RawPhase", "cut_phases", "fold_repeats", "phase_name", "unique_phase_names"]


@dataclass
class RawPhase:
    """The recorded events of one phase, by index into the recorder's lists."""

    calls: list[int] = field(default_factory=list)
    grads: list[int] = field(default_factory=list)
    applies: list[int] = field(default_factory=list)
    assigns: list[int] = field(default_factory=list)
    repeat: int = 1


_SLOT = {"call": "calls", "grad": "grads", "apply": "applies", "assign": "assigns"}


def cut_phases(events: list[tuple[str, int]]) -> list[RawPhase]:
    """A phase is one forward pass and the updates made from it.

    A new phase starts at the first model call, or the first tape starting to record ("tape"
    events), after an optimizer was applied. A gradient taken after an update from a tape that
    recorded before it (one persistent tape for all four CycleGAN losses) is of the same forward
    pass, so its update joins that phase: one phase with several updates, in the order applied.
    Assignments right after the updates (an EMA of the generator) stay in the phase they follow.

    >>> ev = [("call", 0), ("grad", 0), ("apply", 0), ("call", 1), ("grad", 1), ("apply", 1), ("assign", 0)]
    >>> [(p.calls, p.applies, p.assigns) for p in cut_phases(ev)]
    [([0], [0], []), ([1], [1], [0])]
    >>> persistent = [("tape", 0), ("call", 0), ("call", 1), ("grad", 0), ("apply", 0), ("grad", 1), ("apply", 1)]
    >>> [(p.calls, p.grads, p.applies) for p in cut_phases(persistent)]
    [([0, 1], [0, 1], [0, 1])]
    >>> fresh = [("tape", 0), ("grad", 0), ("apply", 0), ("tape", 1), ("grad", 1), ("apply", 1)]
    >>> [(p.grads, p.applies) for p in cut_phases(fresh)]
    [([0], [0]), ([1], [1])]
    """
    phases: list[RawPhase] = [RawPhase()]
    for kind, i in events:
        cur = phases[-1]
        if kind in ("call", "tape") and cur.applies:
            cur = RawPhase()
            phases.append(cur)
        if kind in _SLOT:
            getattr(cur, _SLOT[kind]).append(i)
    return [p for p in phases if p.calls or p.grads or p.applies or p.assigns]


def fold_repeats(phases: list[RawPhase], signature: list[object]) -> list[RawPhase]:
    """Merge runs of phases with equal ``signature`` into the first, counting them in ``repeat``.

    >>> ps = [RawPhase(calls=[0], applies=[0]), RawPhase(calls=[1], applies=[1]), RawPhase(calls=[2], applies=[2])]
    >>> [(p.calls, p.repeat) for p in fold_repeats(ps, ["d", "d", "g"])]
    [([0], 2), ([2], 1)]
    """
    out: list[RawPhase] = []
    sigs: list[object] = []
    for p, sig in zip(phases, signature):
        if out and sigs[-1] == sig and (p.applies or p.assigns):
            out[-1].repeat += 1
            continue
        out.append(p)
        sigs.append(sig)
    return out


def phase_name(updated: list[str], assigned: list[str], index: int) -> str:
    """A phase's name from the models it updates, else the ones it assigns to.

    >>> phase_name(["critic"], [], 0), phase_name([], ["ema_generator"], 2), phase_name([], [], 1)
    ('update critic', 'assign ema_generator', 'phase 2')
    """
    if updated:
        return "update " + ", ".join(updated)
    if assigned:
        return "assign " + ", ".join(assigned)
    return f"phase {index + 1}"


def unique_phase_names(trace: Any) -> Any:
    """``trace`` with every phase's name unique: a name used twice (two ``train_on_batch`` of one
    discriminator, on real then on generated images) gets its losses' names, ``update
    discriminator (d_loss_real)``, or its position; calls and compiled updates follow."""
    import dataclasses

    names = [p.name for p in trace.phases]
    if len(set(names)) == len(names):
        return trace
    loss_names = {x.id: x.name for x in trace.losses}
    new: list[str] = []
    for p, name in zip(trace.phases, names):
        if names.count(name) > 1:
            losses = ", ".join(loss_names.get(lid, lid) for lid in p.losses)
            name = f"{name} ({losses})" if losses else name
        while name in new:
            name = f"{name} ({len(new) + 1})"
        new.append(name)
    call_phase = {cid: renamed for p, renamed in zip(trace.phases, new) for cid in p.calls}
    loss_phase = {lid: renamed for p, renamed in zip(trace.phases, new) for lid in p.losses}
    return dataclasses.replace(
        trace,
        phases=tuple(dataclasses.replace(p, name=n) for p, n in zip(trace.phases, new)),
        calls=tuple(dataclasses.replace(c, phase=call_phase.get(c.id, c.phase)) for c in trace.calls),
        compiled=tuple(dataclasses.replace(c, phase=loss_phase.get(c.loss, c.phase)) for c in trace.compiled),
    )
