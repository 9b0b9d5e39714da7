"""Parts of a traced step added by ``ganviz.trace/2``: loss terms, operations, assignments, phases,
compiled-model updates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .records import Record, mapping_field

__all__ = [
    "TERM_KINDS",
    "ASSIGNMENT_KINDS",
    "OP_KINDS",
    "LossTerm",
    "TraceOp",
    "Assignment",
    "Phase",
    "CompiledOutput",
    "CompiledUpdate",
]

TERM_KINDS = (
    "bce",
    "cce",
    "mse",
    "mae",
    "wasserstein",
    "hinge",
    "gradient_penalty",
    "kl",
    "regularization",
    "other",
    "sparse_cce",  # sparse categorical cross-entropy
    "huber",
    "log_cosh",
    "cosine_similarity",
    "poisson",
)
ASSIGNMENT_KINDS = ("ema", "copy", "assign")
OP_KINDS = ("concat", "interpolate")


@dataclass(frozen=True)
class LossTerm(Record):
    """One additive term of a loss: ``weight × <kind>(inputs)``; ``weight`` is None when not a constant.

    ``input_elements`` says, for an input id that is a call returning several tensors, which of
    its elements the term reads (``z_mean, z_log_var`` of an encoder's three); written only when set.
    """

    name: str
    kind: str = "other"
    weight: float | None = 1.0
    inputs: tuple[str, ...] = ()
    input_elements: Mapping[str, str] = mapping_field()

    _json_read_defaults = {"weight": None}  # a term read without a weight has none, not 1
    _json_when_set = ("input_elements",)


@dataclass(frozen=True)
class TraceOp(Record):
    """An operation that carries meaning between sources and calls: ``concat`` or ``interpolate``.

    ``output`` is the name the step gives the result (``interpolated``), or None.
    """

    id: str
    kind: str
    inputs: tuple[str, ...] = ()
    output: str | None = None


@dataclass(frozen=True)
class Assignment(Record):
    """Variables of ``target`` set without an optimizer.

    ``target``/``source`` are model names, or for a step variable (an augmentation probability)
    the variable's name with ``source`` None. ``kind`` is ``ema`` (with ``decay``), ``copy`` or
    ``assign``; ``inputs`` are the call or source ids the assigned value derives from.
    ``increment`` is the constant a step counter adds each step (``assign_add(1)``: 1), else None;
    it is written to JSON only when set.
    """

    target: str
    source: str | None = None
    kind: str = "assign"
    decay: float | None = None
    variables: int = 1
    inputs: tuple[str, ...] = ()
    increment: float | None = None

    _json_when_set = ("increment",)

    @property
    def drawn(self) -> bool:
        """Whether a diagram can attach it: it has a source model or inputs (a bare counter has neither)."""
        return self.source is not None or bool(self.inputs)


@dataclass(frozen=True)
class Phase(Record):
    """A stretch of the step that ends with its updates, run ``repeat`` times in a row.

    ``calls`` and ``losses`` are ids; ``updates`` are ``"optimizer -> model"`` strings; ``frozen``
    names the models called in the phase's tape that were not trainable when its gradient was
    taken (the discriminator inside ``combined`` while the generator learns through it).
    """

    name: str
    repeat: int = 1
    calls: tuple[str, ...] = ()
    losses: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()

    _json_when_set = ("frozen",)  # written only when some model is frozen in the phase


@dataclass(frozen=True)
class CompiledOutput(Record):
    """One output of a compiled model's loss: ``weight × loss(prediction, target)``.

    ``name`` is the model's output name; ``loss`` the loss as compiled (``mse``, ``bce``,
    ``sparse_cce``, or a custom function's name), ``kind`` its term kind; ``prediction`` and
    ``target`` are call/source ids (None when not drawn). ``inferred`` says how the target was
    chosen when no step was traced (``plot_gan(compiled=...)``: ``"ones: a frozen judge's score,
    wanted real"``); None when the target is the step's own.
    """

    name: str
    loss: str
    kind: str = "other"
    weight: float | None = None
    prediction: str | None = None
    target: str | None = None
    inferred: str | None = None

    _json_when_set = ("inferred",)
    _json_read_defaults = {"loss": ""}


@dataclass(frozen=True)
class CompiledUpdate(Record):
    """One ``model.train_on_batch(x, y)`` of a compiled model, as the step calls it.

    ``model`` is the compiled model, ``optimizer`` its optimizer, ``loss`` the id of the loss it
    minimizes, ``phase`` the phase it ends. ``trains`` are the models (the compiled model's parts,
    or the model itself) whose weights are trainable in it, ``frozen`` those whose weights are not
    (Keras 3 reads ``trainable`` when the train function is first built); ``outputs`` its compiled
    losses in output order; ``method`` is ``"train_on_batch"``, or ``"compile"`` when no step was
    traced (``plot_gan(compiled=...)``: drawn from what ``compile`` recorded, inputs and targets
    inferred from the models). ``warning`` is Keras 3's trainable trap in it, with the fix (its
    optimizer updates nothing, or it trains what another compiled model trains while a part is
    trained by none), when that is a fact; None when there is none. ``note`` is what the drawing
    assumes or knows that the flags alone do not say (drawn without a step: the loop must set
    ``trainable`` before its first ``train_on_batch``; a built train function that holds another
    set than the flags now say); None when there is nothing to add.
    """

    model: str
    optimizer: str
    loss: str
    phase: str | None = None
    trains: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    outputs: tuple[CompiledOutput, ...] = ()
    method: str = "train_on_batch"
    warning: str | None = None
    note: str | None = None

    _json_when_set = ("warning", "note")
    _json_read_defaults = {"optimizer": "", "loss": ""}
