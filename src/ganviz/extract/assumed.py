"""The standard adversarial loop of a generator and a discriminator, assumed (not traced), on any Keras backend."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import TraceError
from ..ir.trace import Call, Loss, OptimizerInfo, Source, Trace, Update
from ..ir.trace_facts import Assignment, LossTerm, Phase

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
    from .step_trace.compiled import compiled_outputs, trainable_when_set

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
    d_shape = d_out[0] if d_out else None
    d_phase, g_phase = "update discriminator", "update generator"
    calls = [
        Call("call0", gname, tuple(g_src), g_out[0] if g_out else None, phase=d_phase),
        Call("call1", dname, ("call0", *fake_extra), d_shape, phase=d_phase),
        Call("call2", dname, (real, *real_extra), d_shape, phase=d_phase),
    ]
    if r1_weight:  # the penalty's own call on the real data, in the discriminator's phase
        calls.append(Call(f"call{len(calls)}", dname, (real, *real_extra), d_shape, output="r1_scores", phase=d_phase))
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
    # The generator learns through the discriminator: as its parts when the combined model is just the
    # two (drawn as a traced combined.train_on_batch is), else as the combined model's own box.
    as_parts = combined is None or _made_of(combined, generator, discriminator)
    if not as_parts:
        cname = combined.name if combined.name not in (gname, dname) else "combined"
        models.append(trace_model(combined, cname, None))
        calls.append(Call(f"call{len(calls)}", cname, tuple(g_src), d_shape, phase=g_phase))
        g_call = d_call = calls[-1].id
    else:
        g_call, d_call = f"call{len(calls)}", f"call{len(calls) + 1}"
        calls.append(Call(g_call, gname, tuple(g_src), g_out[0] if g_out else None, phase=g_phase))
        calls.append(Call(d_call, dname, (g_call, *fake_extra), d_shape, phase=g_phase))
    g_opt = opt_info(combined, "combined_optimizer") if combined is not None else opt_info(generator, "g_optimizer")
    d_inputs: tuple[str, ...] = ("call1", "call2", target)
    d_terms: tuple[LossTerm, ...] = ()
    g_terms: tuple[LossTerm, ...] = ()
    if loss is not None:
        d_terms = (LossTerm("d_loss", loss, 1.0, ("call1", "call2")),)
        g_terms = (LossTerm("g_loss", loss, 1.0, (d_call,)),)
    # What compile recorded, when the models say: the discriminator's losses per output, and the
    # combined model's (pix2pix's mse + 100 x mae, with the generator's image against the real one).
    g_inputs_extra: tuple[str, ...] = ()
    if loss is None:
        d_comp = compiled_outputs(discriminator)
        real_labels = next((i for i, k in zip(real_extra, d_kinds[1:]) if k == "labels"), None)
        if real_labels is None and any(kind in ("cce", "sparse_cce") for _, _, kind, _, _ in d_comp):
            real_labels = source("data", "class_labels", (None, 1))  # ACGAN: the class head's target

        def d_inputs_of(kind: str) -> tuple[str, ...]:
            if kind in ("cce", "sparse_cce") and real_labels:
                return ("call1", "call2", real_labels)
            return ("call1", "call2", target)  # real and generated scores against their labels

        d_terms = tuple(
            LossTerm(f"{short}({oname})" if len(d_comp) > 1 else f"{short}(real, fake)", kind,
                     1.0 if w is None else w, d_inputs_of(kind))
            for oname, short, kind, w, _ in d_comp
        )  # fmt: skip
        c_comp = compiled_outputs(combined) if combined is not None else []

        def g_term_inputs(kind: str, producer: Any) -> tuple[str, ...]:
            if producer is generator:
                return (g_call, real)  # an image output: against the real one (pix2pix's L1)
            if kind in ("cce", "sparse_cce") and given_labels:
                return (d_call, given_labels)
            return (d_call, target)  # the discriminator's score, against the labels it should give

        g_terms = tuple(
            LossTerm(
                f"{short}({getattr(p, 'name', oname)}" + (", real_images)" if p is generator else ")"),
                kind,
                1.0 if w is None else w,
                g_term_inputs(kind, p),
            )
            for oname, short, kind, w, p in c_comp
        )
        g_inputs_extra = tuple(dict.fromkeys(t.inputs[-1] for t in g_terms if t.inputs[-1] in (real, given_labels)))
        if real_labels is not None and real_labels not in real_extra:
            d_inputs += (real_labels,)
    if r1_weight:
        r1_call = next(c.id for c in calls if c.output == "r1_scores")
        d_inputs += (r1_call,)
        d_terms = (*(d_terms or (LossTerm("d_loss", "other", 1.0, ("call1", "call2")),)),
                   LossTerm("r1", "gradient_penalty", r1_weight / 2, (r1_call,)))  # fmt: skip
    g_loss_inputs = (d_call, target, *g_inputs_extra)
    if any(g_call in t.inputs for t in g_terms) and g_call not in g_loss_inputs:
        g_loss_inputs = (g_call, *g_loss_inputs)
    losses = (
        Loss("loss0", "d_loss", d_inputs, d_terms),
        Loss("loss1", "g_loss", g_loss_inputs, g_terms),
    )
    # The discriminator's own update trains it, whatever its flag says now (classic scripts leave
    # it False after building combined; a Keras 3 loop sets it True right before that update):
    # drawn trainable, and frozen only in the generator's phase, where its gradient is not applied.
    d_vars, d_params = trainable_when_set(discriminator)
    models[1] = dataclasses.replace(models[1], trainable=True, trainable_params=d_params)
    g_vars = len(generator.trainable_weights)
    updates = (
        Update("loss0", d_opt, dname, d_vars),
        Update("loss1", g_opt, gname, g_vars),
    )
    d_ids = tuple(c.id for c in calls if c.phase == d_phase)
    g_ids = tuple(c.id for c in calls if c.phase == g_phase)
    frozen = (dname,) if as_parts and (combined is not None or not discriminator.trainable) else ()
    phases = (
        Phase(d_phase, 1, d_ids, ("loss0",), (f"{d_opt} -> {dname}",)),
        Phase(g_phase, 1, g_ids, ("loss1",), (f"{g_opt} -> {gname}",), frozen),
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
        phases=phases,
    )


def _made_of(combined: Any, generator: Any, discriminator: Any) -> bool:
    """Whether the models inside ``combined`` are exactly the generator and the discriminator."""
    import keras

    inner = {id(layer) for layer in combined.layers if isinstance(layer, keras.Model)}
    return inner == {id(generator), id(discriminator)}


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
