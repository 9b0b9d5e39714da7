"""The front door: ``plot_model``, ``plot_gan`` and ``render``, each read in data order.

source -> Graph -> render (format by extension) -> atomic write -> Diagram.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._io import check_writable, write_atomic
from .diagram import Diagram
from .errors import NotAModelError
from .ir import Graph, Trace
from .ir.transforms import depth_for
from .render.formats import format_for, render_bytes
from .render.options import DrawOptions

__all__ = ["Diagram", "format_for", "render", "plot_model", "plot_gan", "TrainableTrapWarning"]


class _TraceViews:
    """The system diagram's graphs of one trace, each made once per drawing (a PNG needs one, a page two).

    ``graph(expand_nested=False)`` is one box per model call (or per model with ``calls="merged"``),
    not clusters collapsed by depth; ``expand_nested`` draws each model's architecture inside instead.
    """

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._made: dict[tuple[bool, str], Graph] = {}

    def graph(self, *, expand_nested: bool, calls: str = "separate") -> Graph:
        key = (bool(expand_nested), calls)
        if key not in self._made:
            from .ir.trace_graph import trace_to_graph

            self._made[key] = trace_to_graph(self.trace, expand_nested=expand_nested, calls=calls)
        return self._made[key]


def _trace_bytes(views: _TraceViews, fmt: str, options: DrawOptions, *, expand_nested: bool, calls: str) -> bytes:
    """A traced step in ``fmt``; its page opens on the per-call view and keeps every architecture."""
    trace = views.trace
    if fmt == "json":
        return trace.to_json().encode("utf-8")
    if fmt == "html":
        full = views.graph(expand_nested=True)
        if calls == "merged":
            return render_bytes(full, fmt, depth=None if expand_nested else 0, title=trace.name, options=options)
        from .render.html import trace_page

        steps = views.graph(expand_nested=False, calls=calls)
        return trace_page(steps, full, options, open_models=expand_nested, title=trace.name).encode("utf-8")
    graph = views.graph(expand_nested=expand_nested, calls=calls)
    return render_bytes(graph, fmt, depth=None, title=trace.name, options=options)


def render(obj: Graph | Trace, to_file: str | os.PathLike[str], *, depth: int | None = None, **opts: Any) -> Path:
    """Write ``obj`` to ``to_file`` in the format its extension names, atomically.

    Args:
        obj: a Graph (architecture) or a Trace (GAN system).
        to_file: output path; ``.png .svg .pdf .dot .json .mmd .html``.
        depth: nesting levels to keep open (None = all that the graph has; for a Trace the
            models' insides stay closed unless ``expand_nested=True``).
        **opts: :class:`~ganviz.render.options.DrawOptions` fields (``show_shapes``, ``rankdir``,
            ``dpi`` ...), ``expand_nested``, and for a Trace ``calls`` (``"separate"`` or ``"merged"``).

    Returns:
        The path written.
    """
    fmt = format_for(to_file)
    expand = opts.pop("expand_nested", None)
    calls = opts.pop("calls", None)
    options = DrawOptions.of(None, **opts)
    check_writable(to_file)
    if isinstance(obj, Trace):
        if depth is None:
            payload = _trace_bytes(
                _TraceViews(obj), fmt, options, expand_nested=bool(expand), calls=_check_calls(calls)
            )
            return write_atomic(to_file, payload)
        # An explicit depth: the merged diagram with every architecture, collapsed to it.
        graph = _TraceViews(obj).graph(expand_nested=True, calls="merged")
        level = depth
    else:
        if calls is not None:
            raise TypeError("calls= is an option of a Trace (a traced GAN step), not of a model's Graph")
        graph = obj
        level = depth if expand is None else depth_for(expand_nested=bool(expand), depth=depth)
    return write_atomic(to_file, render_bytes(graph, fmt, depth=level, options=options))


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] | None = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
    *,
    depth: int | None = None,
    input_shape: Any = None,
    **kwargs: Any,
) -> Diagram:
    """Draw a Keras model like ``keras.utils.plot_model``, with no system Graphviz needed.

    Every argument of Keras 3's ``plot_model``, with the same names, order and defaults, so
    changing the import is enough. Also takes a path to a ``.keras``/``.h5`` file (read without
    TensorFlow) or an already-made ``Graph``, on any Keras backend.

    Args:
        model: a Keras model (Sequential, functional, subclassed, nested), a model file path, or a Graph.
        to_file: output file; its extension picks the format (png, svg, pdf, dot, json, mmd, html).
            ``None`` writes nothing and returns the diagram to show (SVG in Jupyter).
        show_shapes: show input/output shapes.
        show_dtype: show dtypes.
        show_layer_names: show layer names (classes are always shown).
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: draw nested models as open clusters.
        dpi: resolution of PNG/PDF output.
        show_layer_activations: show activations.
        show_trainable: mark trainable/frozen state.
        splines: how edges are drawn, Graphviz's ``splines`` (``"ortho"``, ``"spline"``, ``"line"`` ...).
        depth: how many levels of nesting to open (overrides ``expand_nested``).
        input_shape: shape (without batch) for a subclassed model that was never built.
        **kwargs: as in Keras, only ``layer_range=None`` is accepted.

    Returns:
        A :class:`Diagram` (shows inline in Jupyter; ``.path`` is the file written, or None).

    Raises:
        ValueError: ``layer_range`` (no longer supported, as in Keras) or another unknown keyword.
    """
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("layer_range is no longer supported (as in Keras 3); use depth= to choose the nesting shown")
    if kwargs:
        raise ValueError(f"unrecognized keyword arguments {sorted(kwargs)} (plot_model takes Keras's arguments)")
    options = DrawOptions(
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        dpi=dpi,
        splines=splines,
    )
    level = depth_for(expand_nested=expand_nested, depth=depth)
    fmt = "svg" if to_file is None else format_for(to_file)
    if to_file is not None:
        check_writable(to_file)
    if isinstance(model, Graph):
        graph = model
    elif isinstance(model, (str, os.PathLike)):
        from .extract.keras_file import file_to_graph

        graph = file_to_graph(model)
    else:
        from .extract.keras_model import model_to_graph

        graph = model_to_graph(model, input_shape=input_shape)
    shown = graph if level is None else _collapsed(graph, level)
    if to_file is None:  # nothing written: Jupyter draws the SVG from the graph when it is shown
        return Diagram(None, shown, fmt, options)
    path = write_atomic(to_file, render_bytes(graph, fmt, depth=level, title=graph.name, options=options))
    return Diagram(path, shown, fmt, options)


def _collapsed(graph: Graph, level: int) -> Graph:
    from .ir.transforms import collapse_to_depth

    return collapse_to_depth(graph, level)


def plot_gan(
    gan_or_trace: Any = None,
    to_file: str | os.PathLike[str] | None = "gan.png",
    *,
    expand_nested: bool = False,
    show_shapes: bool = True,
    data: Any = None,
    generator: Any = None,
    discriminator: Any = None,
    combined: Any = None,
    rankdir: str = "TB",
    dpi: int = 200,
    show_trainable: bool = True,
    calls: str = "separate",
    verify: bool = False,
    compiled: Any = None,
    script: Any = None,
) -> Diagram:
    """Draw a whole GAN (or any multi-model training step) in one diagram.

    Args:
        gan_or_trace: a ``keras.Model`` subclass with a custom ``train_step`` (traced, never run),
            or a ``Trace`` from ``trace_gan``/``trace_step``.
        to_file: output file; its extension picks the format (``None``: nothing is written, the
            returned Diagram shows itself inline in Jupyter).
        expand_nested: draw each model's whole architecture inside its box.
        show_shapes: show tensor shapes.
        data: an example batch or ``tf.TensorSpec`` for tracing (found from the models if omitted).
        generator, discriminator, combined: the classic pattern without a train step; the standard
            adversarial loop is drawn and labelled as assumed, not traced.
        rankdir: ``"TB"`` or ``"LR"``.
        dpi: resolution of PNG/PDF output.
        show_trainable: mark frozen models.
        calls: ``"separate"`` (one box per model call, named after its result, grouped by phase)
            or ``"merged"`` (one box per model). Expanded views always merge calls.
        compiled: the classic pattern's compiled models without a step, a list in training order
            (``[discriminator, combined]``) or ``{name: model}``: each is drawn as its own
            ``train_on_batch`` from what ``compile`` recorded (optimizer, loss per output by kind,
            ``loss_weights``, the parts trainable in it and those frozen), inputs and targets
            inferred from the models; ``generator=`` and the others then only name parts.
            A plain object holding compiled models (the script's ``gan``) is drawn the same way.
            Keras 3 reads ``trainable`` at a model's first ``train_on_batch``: a model not trained
            yet is drawn as a working loop trains it (a discriminator frozen inside ``combined``
            still trained by its own update), said as a note in the key.
        script: with ``compiled=`` (or a plain object), the Python file(s) of the loop that trains
            the models, read and never run (default: the file calling ``plot_gan``; for an object,
            the file of its class): when that loop calls ``train_on_batch`` and never sets a
            ``trainable`` flag back, Keras 3's trap is certain and warned instead of noted.
        verify: also run one real training step on ``data`` (all state restored afterwards) and
            check the trace against it (``verify_trace``): the verdict is a line of the key and
            ``verified`` in the JSON; each fact that does not hold is a warning.

    Returns:
        A :class:`Diagram`.

    Raises:
        NotAModelError: ``verify=True`` with a Trace or with generator=/discriminator= (nothing to run).

    Warns:
        TrainableTrapWarning: a compiled model that Keras 3 trains nothing in (its train function
            built so, the traced step calling it with nothing trainable, or ``script``'s loop never
            setting the flags back), or that trains what another compiled model trains while a part
            is trained by none, naming it and the fix.
    """
    _check_calls(calls)
    options = DrawOptions(
        show_shapes=show_shapes, show_layer_names=True, rankdir=rankdir, show_trainable=show_trainable, dpi=dpi
    )
    fmt = "svg" if to_file is None else format_for(to_file)
    if to_file is not None:
        check_writable(to_file)
    if compiled is not None:
        if gan_or_trace is not None:
            raise NotAModelError(
                "give either a GAN (or Trace) or compiled=[...], not both; e.g. plot_gan(compiled=[d, combined])"
            )
        from .extract.step_trace.compiled_system import compiled_trace

        parts = {n: m for n, m in (("generator", generator), ("discriminator", discriminator), ("combined", combined))}
        trace = compiled_trace(
            compiled,
            models={n: m for n, m in parts.items() if m is not None} or None,
            script=script if script is not None else _caller_file(),
        )
    elif gan_or_trace is None:
        if generator is None or discriminator is None:
            missing = [n for n, m in (("generator", generator), ("discriminator", discriminator)) if m is None]
            got = "neither" if len(missing) == 2 else f"no {missing[0]}="
            raise NotAModelError(
                f"plot_gan needs a GAN model or a Trace, or both generator= and discriminator= (got {got}); "
                "e.g. plot_gan(gan) or plot_gan(generator=g, discriminator=d)"
            )
        from .extract.assumed import assumed_gan_trace

        trace = assumed_gan_trace(generator=generator, discriminator=discriminator, combined=combined)
    elif isinstance(gan_or_trace, Trace):
        trace = gan_or_trace
    elif not verify and _plain_system(gan_or_trace):
        trace = _object_trace(gan_or_trace, script if script is not None else _class_file(gan_or_trace))
    elif verify:
        from .extract.step_trace.verify import verify_trace

        trace = verify_trace(gan_or_trace, data)
    else:
        from .extract.step_trace import trace_gan

        trace = trace_gan(gan_or_trace, data=data)
    if verify and trace.verified is None:
        what = "a Trace (its step is not at hand)" if gan_or_trace is not None else "generator=/discriminator="
        raise NotAModelError(
            f"verify=True needs the GAN itself to run one real step, not {what}; "
            "pass the GAN model, e.g. plot_gan(gan, data=batch, verify=True), or use ganviz.verify_trace"
        )
    _warn_traps(trace)
    views = _TraceViews(trace)
    graph = views.graph(expand_nested=expand_nested, calls=calls)
    if to_file is None:  # nothing written, as plot_model: Jupyter draws the SVG from the graph when it is shown
        return Diagram(None, graph, fmt, options)
    path = write_atomic(to_file, _trace_bytes(views, fmt, options, expand_nested=expand_nested, calls=calls))
    return Diagram(path, graph, fmt, options)


class TrainableTrapWarning(UserWarning):
    """A compiled model of the drawn system that Keras 3 would train otherwise than its flags say."""


def _warn_traps(trace: Trace) -> None:
    """One Python warning per compiled model caught in Keras 3's trainable trap, naming it and the fix."""
    import warnings

    seen: set[str] = set()
    for c in trace.compiled:
        if c.warning and c.warning not in seen:
            seen.add(c.warning)
            warnings.warn(c.warning, TrainableTrapWarning, stacklevel=3)


def _plain_system(obj: Any) -> bool:
    """A plain object (the script's ``gan``, not a ``keras.Model``) with no ``train_step`` of its own."""
    import sys

    keras = sys.modules.get("keras")
    if keras is not None and isinstance(obj, keras.Model):
        return False
    return not callable(getattr(obj, "train_step", None)) and not callable(obj)


def _caller_file() -> str | None:
    """The file of the code calling ``plot_gan`` (the user's script), when it is one on disk."""
    import inspect

    frame = inspect.currentframe()
    here = os.path.dirname(os.path.abspath(__file__))
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here + os.sep):
        frame = frame.f_back
    path = frame.f_code.co_filename if frame is not None else ""
    return path if path.endswith(".py") and os.path.isfile(path) else None


def _class_file(obj: Any) -> str | None:
    """The file defining ``obj``'s class (the script's ``class DCGAN`` and its ``train`` loop), else the caller's."""
    import inspect

    try:
        path = inspect.getsourcefile(type(obj))
    except TypeError:
        path = None
    if path and path.endswith(".py") and os.path.isfile(path):
        return path
    return _caller_file()


def _object_trace(obj: Any, script: Any = None) -> Trace:
    """The script's object drawn from what it holds: its compiled models' updates, else the assumed loop."""
    from .extract.step_trace.compiled_system import compiled_trace, system_of

    found = system_of(obj)
    what = type(obj).__name__
    if found["compiled"]:
        return compiled_trace(found["compiled"], models=found["models"], name=None, script=script)
    roles = {n.lower(): m for n, m in found["models"].items()}
    g = next((m for n, m in roles.items() if "gen" in n), None)
    d = next((m for n, m in roles.items() if "disc" in n or "critic" in n), None)
    if g is not None and d is not None:
        from .extract.assumed import assumed_gan_trace

        return assumed_gan_trace(generator=g, discriminator=d)
    held = ", ".join(found["models"]) or "none"
    raise NotAModelError(
        f"the {what} object has no train_step and holds no compiled Keras model (models found: {held}); "
        f"give its compiled models, plot_gan(compiled=[d, combined]), or generator= and discriminator="
    )


def _check_calls(calls: Any) -> str:
    from .ir.trace_graph import CALLS

    if calls is None:
        return "separate"
    if calls not in CALLS:
        raise ValueError(f"unknown calls={calls!r} (must be one of {list(CALLS)})")
    return str(calls)
