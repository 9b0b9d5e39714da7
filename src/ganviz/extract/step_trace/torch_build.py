"""Turn a recorded PyTorch step (``torch_record``) into a ``Trace``: ``jax_build`` 's arithmetic on the op nodes.

The op recorder names every aten op as the JAX primitive it matches, so sources, calls, loss terms
(weights, signs, kinds), updates and phases are built by :class:`~.jax_build.JaxBuilder` unchanged;
what differs is where assignments come from (recorded ``Variable.assign`` calls, not a returned
state), that a detached copy (``x.detach().requires_grad_()``) of an interpolation is still one,
and the backend named in ``details``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...ir.trace import Trace
from .jax_build import JaxBuilder
from .jax_graph import Node

__all__ = ["TorchBuilder"]


class TorchBuilder(JaxBuilder):
    """One recorded torch step -> :class:`Trace`."""

    def assignments(self, var_owner: dict[int, str]) -> list[tuple[Any, Node, Node]]:
        """``(variable, new value, old value)`` of each variable the step's own code assigned."""
        rec: Any = self.rec
        index = {id(v[1]): k for k, v in self.roles.variables.items()}
        out: list[tuple[Any, Node, Node]] = []
        for var, kept in rec.assigns:
            k = index.get(id(var))
            if kept is None or k is None:
                continue
            new, old = self.outs[kept], self.ins[k]
            if self._plain(new).id != old.id:
                out.append((var, new, old))
        return out

    def call_input(self, n: Node) -> list[str]:
        while n.prim == "stop_gradient" and n.inputs and n.id not in self.stops:
            n = n.inputs[0]
        return super().call_input(n)

    def trace(self, trace_name: str) -> Trace:
        made = super().trace(trace_name)
        details = {**made.details, "backend": "torch", "traced_by": "torch FakeTensorMode"}
        return dataclasses.replace(made, details=details)
