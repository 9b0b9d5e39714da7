"""The standard adversarial loop of a generator and a discriminator, assumed (not traced), on any Keras backend."""

from __future__ import annotations

from typing import Any

from ..errors import TraceError
from ..ir.trace import Call, Loss, OptimizerInfo, Source, Trace, Update

__all__ = ["assumed_gan_trace"]


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
