"""The standard adversarial loop of a generator and a discriminator, assumed (not traced), on any Keras backend."""

from __future__ import annotations

from typing import Any

from ..errors import TraceError
from ..ir.trace import Call, Loss, OptimizerInfo, Source, Trace, Update
from ..ir.trace_facts import Assignment, LossTerm

__all__ = ["assumed_gan_trace"]


def assumed_gan_trace(
    *,
    generator: Any,
    discriminator: Any,
    combined: Any = None,
    loss: str | None = None,
    r1_weight: float = 0.0,
    ema: float | None = None,
    name: str | None = None,
) -> Trace:
    """The standard adversarial loop for two models, drawn without tracing (``assumed=True``).

    Noise feeds the generator; the discriminator sees generated and real data; ``d_loss``
    updates the discriminator and ``g_loss`` (through the discriminator) the generator. With a
    ``combined`` model (generator then a frozen discriminator), the generator is updated through it.

    Args:
        generator: the generator model.
        discriminator: the discriminator model.
        combined: optional stacked model used to train the generator (classic Keras pattern).
        loss: the loss kind when it is known (``"bce"``, ``"hinge"``, ...): each loss gets that term.
        r1_weight: an R1 penalty on the discriminator's real scores, weighted ``r1_weight / 2``.
        ema: the decay of an exponential moving average of the generator (an ``ema`` assignment).
        name: the trace's name (default ``"generator + discriminator"``).

    Returns:
        A :class:`~ganviz.ir.Trace` with ``assumed=True``.
    """
    import keras  # any backend: nothing is traced

    from .step_trace.build import learning_rate, trace_model

    for role, m in (("generator", generator), ("discriminator", discriminator), ("combined", combined)):
        if (m is not None or role != "combined") and not isinstance(m, keras.Model):
            raise TraceError(f"{role} must be a keras.Model, got {type(m).__name__}")

    gname, dname = generator.name, discriminator.name
    models = [trace_model(generator, gname, None), trace_model(discriminator, dname, None)]
    g_in, g_out = models[0].input_shapes, models[0].output_shapes
    d_in, d_out = models[1].input_shapes, models[1].output_shapes
    sources = (
        Source("src0", "noise", "noise", g_in[0] if g_in else None),
        Source("src1", "data", "real_images", d_in[0] if d_in else None),
        Source("src2", "constant", "labels", d_out[0] if d_out else None),
    )
    calls = [
        Call("call0", gname, ("src0",), g_out[0] if g_out else None),
        Call("call1", dname, ("call0",), d_out[0] if d_out else None),
        Call("call2", dname, ("src1",), d_out[0] if d_out else None),
    ]
    optimizers: list[OptimizerInfo] = []

    def opt_info(model: Any, default: str) -> str:
        opt = getattr(model, "optimizer", None)
        if opt is None:
            info = OptimizerInfo(default, "", None)
        else:
            info = OptimizerInfo(default, type(opt).__name__, learning_rate(opt))
        optimizers.append(info)
        return default

    d_opt = opt_info(discriminator, "d_optimizer")
    if combined is not None:
        cname = combined.name if combined.name not in (gname, dname) else "combined"
        models.append(trace_model(combined, cname, None))
        calls.append(Call("call3", cname, ("src0",), d_out[0] if d_out else None))
        g_opt = opt_info(combined, "combined_optimizer")
    else:
        calls += [Call("call3", gname, ("src0",), g_out[0] if g_out else None)]
        calls += [Call("call4", dname, ("call3",), d_out[0] if d_out else None)]
        g_opt = opt_info(generator, "g_optimizer")
    d_inputs: tuple[str, ...] = ("call1", "call2", "src2")
    d_terms: tuple[LossTerm, ...] = ()
    g_terms: tuple[LossTerm, ...] = ()
    if loss is not None:
        d_terms = (LossTerm("d_loss", loss, 1.0, ("call1", "call2")),)
        g_terms = (LossTerm("g_loss", loss, 1.0, (calls[-1].id,)),)
    if r1_weight:
        calls.append(Call(f"call{len(calls)}", dname, ("src1",), d_out[0] if d_out else None, output="r1_scores"))
        d_inputs += (calls[-1].id,)
        d_terms = (*(d_terms or (LossTerm("d_loss", "other", 1.0, ("call1", "call2")),)),
                   LossTerm("r1", "gradient_penalty", r1_weight / 2, (calls[-1].id,)))  # fmt: skip
    losses = (
        Loss("loss0", "d_loss", d_inputs, d_terms),
        Loss("loss1", "g_loss", (calls[-2 if r1_weight else -1].id, "src2"), g_terms),
    )
    g_vars = len(generator.trainable_weights)
    updates = (
        Update("loss0", d_opt, dname, len(discriminator.trainable_weights) or len(discriminator.weights)),
        Update("loss1", g_opt, gname, g_vars),
    )
    assignments = (Assignment(f"{gname}_ema", gname, "ema", float(ema), g_vars),) if ema is not None else ()
    return Trace(
        name=name or f"{gname} + {dname}",
        models=tuple(models),
        sources=sources,
        calls=tuple(calls),
        losses=losses,
        updates=updates,
        optimizers=tuple(optimizers),
        assumed=True,
        assignments=assignments,
    )
