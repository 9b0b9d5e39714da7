"""Parts of a traced step added by ``ganviz.trace/2``: loss terms, operations, assignments, phases,
compiled-model updates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class LossTerm:
    """One additive term of a loss: ``weight × <kind>(inputs)``; ``weight`` is None when not a constant.

    ``input_elements`` says, for an input id that is a call returning several tensors, which of
    its elements the term reads (``z_mean, z_log_var`` of an encoder's three); written only when set.
    """

    name: str
    kind: str = "other"
    weight: float | None = 1.0
    inputs: tuple[str, ...] = ()
    input_elements: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "weight": self.weight, "inputs": list(self.inputs)}
        if self.input_elements:
            out["input_elements"] = dict(self.input_elements)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LossTerm:
        return cls(
            str(d["name"]),
            str(d.get("kind", "other")),
            _float_or_none(d.get("weight")),
            tuple(d.get("inputs", [])),
            {str(k): str(v) for k, v in dict(d.get("input_elements") or {}).items()},
        )


@dataclass(frozen=True)
class TraceOp:
    """An operation that carries meaning between sources and calls: ``concat`` or ``interpolate``.

    ``output`` is the name the step gives the result (``interpolated``), or None.
    """

    id: str
    kind: str
    inputs: tuple[str, ...] = ()
    output: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "inputs": list(self.inputs), "output": self.output}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TraceOp:
        out = d.get("output")
        return cls(str(d["id"]), str(d["kind"]), tuple(d.get("inputs", [])), None if out is None else str(out))


@dataclass(frozen=True)
class Assignment:
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "source": self.source,
            "kind": self.kind,
            "decay": self.decay,
            "variables": self.variables,
            "inputs": list(self.inputs),
        }
        if self.increment is not None:
            out["increment"] = self.increment
        return out

    @property
    def drawn(self) -> bool:
        """Whether a diagram can attach it: it has a source model or inputs (a bare counter has neither)."""
        return self.source is not None or bool(self.inputs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Assignment:
        src = d.get("source")
        return cls(
            target=str(d["target"]),
            source=None if src is None else str(src),
            kind=str(d.get("kind", "assign")),
            decay=_float_or_none(d.get("decay")),
            variables=int(d.get("variables", 1)),
            inputs=tuple(d.get("inputs", [])),
            increment=_float_or_none(d.get("increment")),
        )


@dataclass(frozen=True)
class Phase:
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "repeat": self.repeat,
            "calls": list(self.calls),
            "losses": list(self.losses),
            "updates": list(self.updates),
        }
        if self.frozen:  # written only when some model is frozen in the phase
            out["frozen"] = list(self.frozen)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Phase:
        return cls(
            name=str(d["name"]),
            repeat=int(d.get("repeat", 1)),
            calls=tuple(d.get("calls", [])),
            losses=tuple(d.get("losses", [])),
            updates=tuple(d.get("updates", [])),
            frozen=tuple(str(x) for x in d.get("frozen", [])),
        )


@dataclass(frozen=True)
class CompiledOutput:
    """One output of a compiled model's loss: ``weight × loss(prediction, target)``.

    ``name`` is the model's output name; ``loss`` the loss as compiled (``mse``, ``bce``,
    ``sparse_cce``, or a custom function's name), ``kind`` its term kind; ``prediction`` and
    ``target`` are call/source ids (None when not drawn).
    """

    name: str
    loss: str
    kind: str = "other"
    weight: float | None = None
    prediction: str | None = None
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "loss": self.loss,
            "kind": self.kind,
            "weight": self.weight,
            "prediction": self.prediction,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompiledOutput:
        pred, target = d.get("prediction"), d.get("target")
        return cls(
            name=str(d["name"]),
            loss=str(d.get("loss", "")),
            kind=str(d.get("kind", "other")),
            weight=_float_or_none(d.get("weight")),
            prediction=None if pred is None else str(pred),
            target=None if target is None else str(target),
        )


@dataclass(frozen=True)
class CompiledUpdate:
    """One ``model.train_on_batch(x, y)`` of a compiled model, as the step calls it.

    ``model`` is the compiled model, ``optimizer`` its optimizer, ``loss`` the id of the loss it
    minimizes, ``phase`` the phase it ends. ``trains`` are the models (the compiled model's parts,
    or the model itself) whose weights are trainable in it, ``frozen`` those whose weights are not
    (Keras 3 reads ``trainable`` when the train function is first built); ``outputs`` its compiled
    losses in output order; ``method`` is ``"train_on_batch"``, or ``"compile"`` when no step was
    traced (``plot_gan(compiled=...)``: drawn from what ``compile`` recorded, inputs and targets
    inferred from the models). ``warning`` is Keras 3's trainable trap in it, with the fix (its
    optimizer would update nothing, or its train function holds another set than the flags say);
    None when there is none.
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "optimizer": self.optimizer,
            "loss": self.loss,
            "phase": self.phase,
            "trains": list(self.trains),
            "frozen": list(self.frozen),
            "outputs": [o.to_dict() for o in self.outputs],
            "method": self.method,
            **({"warning": self.warning} if self.warning else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompiledUpdate:
        phase = d.get("phase")
        return cls(
            model=str(d["model"]),
            optimizer=str(d.get("optimizer", "")),
            loss=str(d.get("loss", "")),
            phase=None if phase is None else str(phase),
            trains=tuple(str(x) for x in d.get("trains", [])),
            frozen=tuple(str(x) for x in d.get("frozen", [])),
            outputs=tuple(CompiledOutput.from_dict(o) for o in d.get("outputs", [])),
            method=str(d.get("method", "train_on_batch")),
            warning=None if d.get("warning") is None else str(d["warning"]),
        )
