"""Plain-data record of one traced training step (format ``ganviz.trace/2``; ``/1`` is still read)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .graph import Graph, Shape
from .records import Document, Record, mapping_field
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
class TraceModel(Record):
    """A model that the step calls; ``graph`` is its architecture."""

    name: str
    class_name: str
    params: int
    trainable_params: int
    graph: Graph
    trainable: bool = True
    input_shapes: tuple[Shape | None, ...] = ()
    output_shapes: tuple[Shape | None, ...] = ()

    _json_first = ("name", "class_name", "params", "trainable_params", "trainable", "input_shapes", "output_shapes")
    _json_read_defaults = {"class_name": "", "params": 0, "trainable_params": 0}


@dataclass(frozen=True)
class Source(Record):
    """Where data enters the step: ``data`` (the real batch), ``noise`` or ``constant``."""

    id: str
    kind: str
    name: str
    shape: Shape | None = None


@dataclass(frozen=True)
class Call(Record):
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
    input_names: Mapping[str, str] = mapping_field()
    outputs: tuple[str, ...] = ()
    output_shapes: tuple[Shape | None, ...] = ()
    input_elements: Mapping[str, str] = mapping_field()

    # written only for calls returning several tensors (older files stay as they were)
    _json_when_set = ("outputs", "input_elements")
    _json_written_with = {"output_shapes": "outputs"}


@dataclass(frozen=True)
class Loss(Record):
    """A differentiated scalar; ``inputs`` are the source or call ids it derives from; ``terms`` its parts.

    ``input_elements``: as a term's, for the loss as a whole; written only when set.
    """

    id: str
    name: str
    inputs: tuple[str, ...] = ()
    terms: tuple[LossTerm, ...] = ()
    input_elements: Mapping[str, str] = mapping_field()

    _json_when_set = ("input_elements",)


@dataclass(frozen=True)
class Update(Record):
    """``optimizer`` applies the gradients of ``loss`` to ``variables`` of ``model``, ``times`` a step."""

    loss: str
    optimizer: str
    model: str
    variables: int = 0
    times: int = 1


@dataclass(frozen=True)
class OptimizerInfo(Record):
    """An optimizer seen in the step: its name, class and learning rate (when a number)."""

    name: str
    class_name: str
    learning_rate: float | None = None

    _json_read_defaults = {"class_name": ""}


@dataclass(frozen=True)
class Trace(Document):
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
    details: Mapping[str, Any] = mapping_field()
    verified: Verification | None = None

    _json_format = TRACE_FORMAT
    _json_formats = TRACE_FORMATS
    _json_kind = "trace"
    _json_first = ("name", "assumed")
    # compiled: only for steps that call train_on_batch; verified: only when checked (older files stay as they were)
    _json_when_set = ("compiled", "details", "verified")

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

    @classmethod
    def _json_upgrade(cls, d: Mapping[str, Any]) -> Mapping[str, Any]:
        details = dict(d.get("details", {}))
        unused = d.get("unused_models", details.pop("unused_models", []))  # /1 kept them in details
        return {**d, "details": details, "unused_models": unused}
