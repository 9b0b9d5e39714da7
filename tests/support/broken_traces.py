"""Traces broken on purpose, one fact each, for the verification tests of every backend (no backend import).

Each takes the trace of a twin (``wgan_gp`` or an EMA DCGAN) and changes what the real step will
contradict: a term's sign or weight, an update, a repeat count, a frozen model, a call's input, an
assignment or its decay.
"""

from __future__ import annotations

import dataclasses

from ganviz.ir import Trace


def _term(trace: Trace, loss: str, name: str, **changes: object) -> Trace:
    losses = []
    for x in trace.losses:
        if x.name == loss:
            x = dataclasses.replace(
                x, terms=tuple(dataclasses.replace(t, **changes) if t.name == name else t for t in x.terms)
            )
        losses.append(x)
    return dataclasses.replace(trace, losses=tuple(losses))


def broken_wgan(trace: Trace) -> dict[str, Trace]:
    """The WGAN-GP twin's trace with a flipped sign, a changed gp weight, the generator's update dropped,
    ×2 for ×3, the critic drawn frozen, the generator's output dropped from every input."""
    gen = next(c.id for c in trace.calls if c.model == "generator")
    replace = dataclasses.replace
    return {
        "flipped_sign": _term(trace, "g_loss", "wasserstein(gen_img_logits)", weight=1.0),
        "gp_weight": _term(trace, "d_loss", "gp", weight=1.0),
        "dropped_update": replace(trace, updates=tuple(u for u in trace.updates if u.model != "generator")),
        "repeat": replace(
            trace,
            phases=tuple(replace(p, repeat=2) if p.repeat == 3 else p for p in trace.phases),
            updates=tuple(replace(u, times=2) if u.times == 3 else u for u in trace.updates),
        ),
        "frozen": replace(
            trace, models=tuple(replace(m, trainable=False) if m.name == "critic" else m for m in trace.models)
        ),
        "dropped_input": replace(
            trace,
            calls=tuple(replace(c, inputs=tuple(i for i in c.inputs if i != gen)) for c in trace.calls),
            ops=tuple(replace(o, inputs=tuple(i for i in o.inputs if i != gen)) for o in trace.ops),
        ),
    }


def without_ema(trace: Trace) -> Trace:
    """The trace with its EMA assignment dropped."""
    return dataclasses.replace(trace, assignments=tuple(a for a in trace.assignments if a.kind != "ema"))


def with_decay(trace: Trace, decay: float) -> Trace:
    """The trace with every assignment's decay changed."""
    return dataclasses.replace(trace, assignments=tuple(dataclasses.replace(a, decay=decay) for a in trace.assignments))
