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
    from .step_trace.compiled import compiled_outputs

    for role, m in (("generator", generator), ("discriminator", discriminator), ("combined", combined)):
        if (m is not None or role != "combined") and not isinstance(m, keras.Model):
            raise TraceError(f"{role} must be a keras.Model, got {type(m).__name__}")

    gname, dname = generator.name, discriminator.name
    models = [trace_model(generator, gname, None), trace_model(discriminator, dname, None)]
    g_in, g_out = models[0].input_shapes, models[0].output_shapes
    d_in, d_out = models[1].input_shapes, models[1].output_shapes
    # The generator's inputs by what the model says they are: class labels (integer inputs), images
    # (an image-to-image generator is fed images, never noise), else noise.
    g_kinds = [_input_kind(generator, i, shape) for i, shape in enumerate(g_in or [None])]
    sources: list[Source] = []

    def source(kind: str, name: str, shape: Any) -> str:
        sources.append(Source(f"src{len(sources)}", kind, name, shape))
        return sources[-1].id

    g_names = {"noise": "noise", "labels": "sampled_labels", "image": "input_images"}
    g_src = [
        source("data" if k == "image" else "noise", g_names[k] + (f"_{i}" if g_kinds[:i].count(k) else ""), shape)
        for i, (k, shape) in enumerate(zip(g_kinds, g_in or [None]))
    ]
    real = source("data", "real_images", d_in[0] if d_in else None)
    d_kinds = [_input_kind(discriminator, i, shape) for i, shape in enumerate(d_in or [None])]
    given_labels = next((sid for sid, k in zip(g_src, g_kinds) if k == "labels"), None)
    given_image = next((sid for sid, k in zip(g_src, g_kinds) if k == "image"), None)
    fake_extra: list[str] = []
    real_extra: list[str] = []
    for i, k in enumerate(d_kinds[1:], start=1):  # a conditional discriminator's other inputs
        if k == "labels":
            fake_extra.append(given_labels or source("noise", "sampled_labels", d_in[i]))
            real_extra.append(source("data", "labels", d_in[i]))
        else:  # the condition image (pix2pix judges (image, input image) pairs)
            cond = given_image or source("data", f"condition_{i}", d_in[i])
            fake_extra.append(cond)
            real_extra.append(cond)
    target = source("constant", "labels" if not real_extra else "valid_fake", d_out[0] if d_out else None)
    calls = [
        Call("call0", gname, tuple(g_src), g_out[0] if g_out else None),
        Call("call1", dname, ("call0", *fake_extra), d_out[0] if d_out else None),
        Call("call2", dname, (real, *real_extra), d_out[0] if d_out else None),
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
        calls.append(Call("call3", cname, tuple(g_src), d_out[0] if d_out else None))
        g_opt = opt_info(combined, "combined_optimizer")
    else:
        calls += [Call("call3", gname, tuple(g_src), g_out[0] if g_out else None)]
        calls += [Call("call4", dname, ("call3", *fake_extra), d_out[0] if d_out else None)]
        g_opt = opt_info(generator, "g_optimizer")
    d_inputs: tuple[str, ...] = ("call1", "call2", target)
    d_terms: tuple[LossTerm, ...] = ()
    g_terms: tuple[LossTerm, ...] = ()
    if loss is not None:
        d_terms = (LossTerm("d_loss", loss, 1.0, ("call1", "call2")),)
        g_terms = (LossTerm("g_loss", loss, 1.0, (calls[-1].id,)),)
    # What compile recorded, when the models say: the discriminator's losses per output, and the
    # combined model's (pix2pix's mse + 100 x mae, with the generator's image against the real one).
    if loss is None:
        d_comp = compiled_outputs(discriminator)
        real_labels = next((i for i, k in zip(real_extra, d_kinds[1:]) if k == "labels"), None)
        if real_labels is None and any(kind in ("cce", "sparse_cce") for _, _, kind, _, _ in d_comp):
            real_labels = source("data", "class_labels", (None, 1))  # ACGAN: the class head's target

        def d_inputs_of(kind: str) -> tuple[str, ...]:
            return (
                ("call1", "call2", real_labels) if kind in ("cce", "sparse_cce") and real_labels else ("call1", "call2")
            )

        d_terms = tuple(
            LossTerm(f"{short}({oname})" if len(d_comp) > 1 else f"{short}(real, fake)", kind,
                     1.0 if w is None else w, d_inputs_of(kind))
            for oname, short, kind, w, _ in d_comp
        )  # fmt: skip
        c_comp = compiled_outputs(combined) if combined is not None else []
        g_terms = tuple(
            LossTerm(
                f"{short}({getattr(p, 'name', oname)}" + (", real_images)" if p is generator else ")"),
                kind,
                1.0 if w is None else w,
                (calls[-1].id, real)
                if p is generator
                else (calls[-1].id, given_labels)
                if kind in ("cce", "sparse_cce") and given_labels
                else (calls[-1].id,),
            )
            for oname, short, kind, w, p in c_comp
        )
        g_inputs_extra = tuple(dict.fromkeys(t.inputs[-1] for t in g_terms if t.inputs[-1] in (real, given_labels)))
        if real_labels is not None and real_labels not in real_extra:
            d_inputs += (real_labels,)
    else:
        g_inputs_extra = ()
    if r1_weight:
        calls.append(
            Call(f"call{len(calls)}", dname, (real, *real_extra), d_out[0] if d_out else None, output="r1_scores")
        )
        d_inputs += (calls[-1].id,)
        d_terms = (*(d_terms or (LossTerm("d_loss", "other", 1.0, ("call1", "call2")),)),
                   LossTerm("r1", "gradient_penalty", r1_weight / 2, (calls[-1].id,)))  # fmt: skip
    losses = (
        Loss("loss0", "d_loss", d_inputs, d_terms),
        Loss("loss1", "g_loss", (calls[-2 if r1_weight else -1].id, target, *g_inputs_extra), g_terms),
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
        sources=tuple(sources),
        calls=tuple(calls),
        losses=losses,
        updates=updates,
        optimizers=tuple(optimizers),
        assumed=True,
        assignments=assignments,
    )


def _input_kind(model: Any, index: int, shape: Any) -> str:
    """``"labels"`` (an integer input), ``"image"`` (rank 3 or more past the batch), else ``"noise"``."""
    try:
        dtype = str(model.inputs[index].dtype)
    except Exception:
        dtype = "float32"
    if dtype.startswith(("int", "uint")):
        return "labels"
    rank = len(shape) - 1 if isinstance(shape, (tuple, list)) else 1
    return "image" if rank >= 3 else "noise"
