"""Plain-data record of one traced training step (format ``ganviz.trace/2``; ``/1`` is still read)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .graph import Graph, Shape, shape_from_json, shape_to_json
from .trace_facts import Assignment, CompiledOutput, CompiledUpdate, LossTerm, Phase, TraceOp
from .trace_verified import Fact, Verification

__all__ = [
    "TRACE_FORMAT",
    "TRACE_FORMATS",
    "TraceModel",
    "Source",
    "Call",
    "Loss",
    "Update",
    "OptimizerInfo",
    "Trace",
    "LossTerm",
    "TraceOp",
    "Assignment",
    "Phase",
    "Fact",
    "Verification",
    "CompiledOutput",
    "CompiledUpdate",
]

TRACE_FORMAT = "ganviz.trace/2"
TRACE_FORMATS = ("ganviz.trace/1", "ganviz.trace/2")  # what readers accept


@dataclass(frozen=True)
class TraceModel:
    """A model that the step calls; ``graph`` is its architecture."""

    name: str
    class_name: str
    params: int
    trainable_params: int
    graph: Graph
    trainable: bool = True
    input_shapes: tuple[Shape | None, ...] = ()
    output_shapes: tuple[Shape | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "class_name": self.class_name,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "trainable": self.trainable,
            "input_shapes": [shape_to_json(s) for s in self.input_shapes],
            "output_shapes": [shape_to_json(s) for s in self.output_shapes],
            "graph": self.graph.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TraceModel:
        return cls(
            name=str(d["name"]),
            class_name=str(d.get("class_name", "")),
            params=int(d.get("params", 0)),
            trainable_params=int(d.get("trainable_params", 0)),
            graph=Graph.from_dict(d["graph"]),
            trainable=bool(d.get("trainable", True)),
            input_shapes=tuple(shape_from_json(s) for s in d.get("input_shapes", [])),
            output_shapes=tuple(shape_from_json(s) for s in d.get("output_shapes", [])),
        )


@dataclass(frozen=True)
class Source:
    """Where data enters the step: ``data`` (the real batch), ``noise`` or ``constant``."""

    id: str
    kind: str
    name: str
    shape: Shape | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "shape": shape_to_json(self.shape)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Source:
        return cls(str(d["id"]), str(d["kind"]), str(d["name"]), shape_from_json(d.get("shape")))


@dataclass(frozen=True)
class Call:
    """One call of a model; ``inputs`` are source, op or call ids its input derives from.

    ``output`` is the name the step gives the result (``fake_images``) or None; ``phase`` the name
    of the phase it runs in; ``in_tape`` False for a call made outside any gradient tape;
    ``input_names`` names, for a multi-input model, the model input each input id goes to (several,
    comma-separated, when one id feeds several). A call returning several tensors (``z_mean,
    z_log_var, z``) has ``outputs``, each element's name as the step names it (else Keras's output
    name), and ``output`` is those names joined; ``input_elements`` says, for an input id that is
    such a call, which of its elements this call uses.
    """

    id: str
    model: str
    inputs: tuple[str, ...] = ()
    output_shape: Shape | None = None
    output: str | None = None
    phase: str | None = None
    in_tape: bool = True
    input_names: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    outputs: tuple[str, ...] = ()
    output_shapes: tuple[Shape | None, ...] = ()
    input_elements: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "inputs": list(self.inputs),
            "output_shape": shape_to_json(self.output_shape),
            "output": self.output,
            "phase": self.phase,
            "in_tape": self.in_tape,
            "input_names": dict(self.input_names),
        }
        if self.outputs:  # written only for calls returning several tensors (older files stay as they were)
            d["outputs"] = list(self.outputs)
            d["output_shapes"] = [shape_to_json(s) for s in self.output_shapes]
        if self.input_elements:
            d["input_elements"] = dict(self.input_elements)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Call:
        out, phase = d.get("output"), d.get("phase")
        return cls(
            str(d["id"]),
            str(d["model"]),
            tuple(d.get("inputs", [])),
            shape_from_json(d.get("output_shape")),
            output=None if out is None else str(out),
            phase=None if phase is None else str(phase),
            in_tape=bool(d.get("in_tape", True)),
            input_names={str(k): str(v) for k, v in dict(d.get("input_names") or {}).items()},
            outputs=tuple(str(n) for n in d.get("outputs") or []),
            output_shapes=tuple(shape_from_json(s) for s in d.get("output_shapes") or []),
            input_elements={str(k): str(v) for k, v in dict(d.get("input_elements") or {}).items()},
        )


@dataclass(frozen=True)
class Loss:
    """A differentiated scalar; ``inputs`` are the source or call ids it derives from; ``terms`` its parts.

    ``input_elements``: as a term's, for the loss as a whole; written only when set.
    """

    id: str
    name: str
    inputs: tuple[str, ...] = ()
    terms: tuple[LossTerm, ...] = ()
    input_elements: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "inputs": list(self.inputs),
            "terms": [t.to_dict() for t in self.terms],
        }
        if self.input_elements:
            out["input_elements"] = dict(self.input_elements)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Loss:
        terms = tuple(LossTerm.from_dict(t) for t in d.get("terms", []))
        elements = {str(k): str(v) for k, v in dict(d.get("input_elements") or {}).items()}
        return cls(str(d["id"]), str(d["name"]), tuple(d.get("inputs", [])), terms, elements)


@dataclass(frozen=True)
class Update:
    """``optimizer`` applies the gradients of ``loss`` to ``variables`` of ``model``, ``times`` a step."""

    loss: str
    optimizer: str
    model: str
    variables: int = 0
    times: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "optimizer": self.optimizer,
            "model": self.model,
            "variables": self.variables,
            "times": self.times,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Update:
        return cls(
            str(d["loss"]), str(d["optimizer"]), str(d["model"]), int(d.get("variables", 0)), int(d.get("times", 1))
        )


@dataclass(frozen=True)
class OptimizerInfo:
    """An optimizer seen in the step: its name, class and learning rate (when a number)."""

    name: str
    class_name: str
    learning_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "class_name": self.class_name, "learning_rate": self.learning_rate}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OptimizerInfo:
        lr = d.get("learning_rate")
        return cls(str(d["name"]), str(d.get("class_name", "")), None if lr is None else float(lr))


@dataclass(frozen=True)
class Trace:
    """Everything one training step does: sources, model calls, losses and updates.

    ``assumed`` is True when the system was not traced but drawn from the standard adversarial
    loop (``plot_gan(generator=..., discriminator=...)``). ``verified`` is set by ``verify_trace``:
    the facts of this trace checked against one real step.
    """

    name: str = "step"
    models: tuple[TraceModel, ...] = ()
    sources: tuple[Source, ...] = ()
    calls: tuple[Call, ...] = ()
    losses: tuple[Loss, ...] = ()
    updates: tuple[Update, ...] = ()
    optimizers: tuple[OptimizerInfo, ...] = ()
    assumed: bool = False
    ops: tuple[TraceOp, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    phases: tuple[Phase, ...] = ()
    unused_models: tuple[str, ...] = ()
    compiled: tuple[CompiledUpdate, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    verified: Verification | None = None

    def model(self, name: str) -> TraceModel:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def optimizer(self, name: str) -> OptimizerInfo | None:
        for o in self.optimizers:
            if o.name == name:
                return o
        return None

    def updates_by_model(self) -> dict[str, list[str]]:
        """``{model name: [optimizer names]}``: who updates whom, handy for tests."""
        out: dict[str, list[str]] = {}
        for u in self.updates:
            out.setdefault(u.model, [])
            if u.optimizer not in out[u.model]:
                out[u.model].append(u.optimizer)
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": TRACE_FORMAT,
            "name": self.name,
            "assumed": self.assumed,
            "models": [m.to_dict() for m in self.models],
            "sources": [s.to_dict() for s in self.sources],
            "calls": [c.to_dict() for c in self.calls],
            "losses": [x.to_dict() for x in self.losses],
            "updates": [u.to_dict() for u in self.updates],
            "optimizers": [o.to_dict() for o in self.optimizers],
            "ops": [o.to_dict() for o in self.ops],
            "assignments": [a.to_dict() for a in self.assignments],
            "phases": [p.to_dict() for p in self.phases],
            "unused_models": list(self.unused_models),
        }
        if self.compiled:  # written only for steps that call train_on_batch (older files stay as they were)
            d["compiled"] = [c.to_dict() for c in self.compiled]
        if self.details:
            d["details"] = dict(self.details)
        if self.verified is not None:  # written only when checked, so unchecked traces read as before
            d["verified"] = self.verified.to_dict()
        return d

    def to_json(self, *, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Trace:
        if d.get("format") not in TRACE_FORMATS:
            raise ValueError(
                f"not a ganviz trace: format is {d.get('format')!r}, expected one of {list(TRACE_FORMATS)}"
            )
        details = dict(d.get("details", {}))
        unused = d.get("unused_models", details.pop("unused_models", []))  # /1 kept them in details
        return cls(
            name=str(d.get("name", "step")),
            models=tuple(TraceModel.from_dict(m) for m in d.get("models", [])),
            sources=tuple(Source.from_dict(s) for s in d.get("sources", [])),
            calls=tuple(Call.from_dict(c) for c in d.get("calls", [])),
            losses=tuple(Loss.from_dict(x) for x in d.get("losses", [])),
            updates=tuple(Update.from_dict(u) for u in d.get("updates", [])),
            optimizers=tuple(OptimizerInfo.from_dict(o) for o in d.get("optimizers", [])),
            assumed=bool(d.get("assumed", False)),
            ops=tuple(TraceOp.from_dict(o) for o in d.get("ops", [])),
            assignments=tuple(Assignment.from_dict(a) for a in d.get("assignments", [])),
            phases=tuple(Phase.from_dict(p) for p in d.get("phases", [])),
            unused_models=tuple(str(n) for n in unused or []),
            compiled=tuple(CompiledUpdate.from_dict(c) for c in d.get("compiled", [])),
            details=details,
            verified=None if d.get("verified") is None else Verification.from_dict(d["verified"]),
        )

    @classmethod
    def from_json(cls, text: str) -> Trace:
        return cls.from_dict(json.loads(text))
