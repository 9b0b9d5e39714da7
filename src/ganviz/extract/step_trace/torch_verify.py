"""``verify_trace`` on the PyTorch backend: the step run once for real on copies, every op recorded, then evaluated.

The step runs as when drawing (``torch_trace.py``), in a ``keras.StatelessScope``, but with
:attr:`~ganviz.extract.step_trace.torch_record.OpRecorder.real` set: the scope holds real copies
of the variables' values (trainable ones requiring grad), every op computes, ``backward`` and
``autograd.grad`` take the real gradients (unrecorded, the graph kept) and ``optimizer.apply``
really updates the copies. Each recorded node knows how it is computed again: an aten op on its
tensor arguments' nodes, the pieces a ``mean`` or ``rsub`` became, or, for draws, real gradients
and the weights an update wrote, the value the step made. ``evidence.py`` evaluates that graph on
the step's inputs as it evaluates a jaxpr (this module gives it torch's arithmetic:
``torch.autograd.grad`` in place of ``jax.grad``), so every value the checks need comes from the one
run with its random draws. Iterations and changed weights are the scope's values after the step
against before. Nothing lands in a variable (every ``assign`` and in-place update stays in the
scope), the real parameters' ``.grad`` and torch's random state are put back; an optimizer not
built yet is built for the step (its new slots get copies in the scope too) and put back unbuilt by
the tracer's guards. TensorFlow and JAX are never imported.
"""

from __future__ import annotations

import types
from typing import Any

from ...errors import TraceError
from .evidence import Num, evaluated, layout, measure, recorded, split_slopes, state_changes
from .jax_graph import Node

__all__ = ["torch_evidence"]


class _TorchNum(Num):
    """torch arithmetic for :mod:`.evidence`: each recorded node's own ``eqn`` run, ``torch.autograd.grad``."""

    def compute(self, n: Node, values: dict[int, Any], done: dict[Any, Any]) -> Any:
        if n.eqn is None:
            raise TraceError(f"the recorded op {n.prim} cannot be computed again")
        return n.eqn.run(n, values)

    def deps(self, n: Node) -> tuple[Node, ...]:
        eqn = n.eqn
        if eqn is None or n.prim in ("input", "literal"):
            return ()
        leaves = getattr(eqn, "leaves", ())
        return tuple(leaves) if leaves or not hasattr(eqn, "fn") else n.inputs

    def constant(self, n: Node) -> Any:
        import torch

        return torch.as_tensor(n.value) if n.prim == "const" and n.value is not None else n.value

    def total(self, x: Any) -> Any:
        import torch

        return torch.sum(torch.as_tensor(x).to(torch.float32))

    def asarray(self, x: Any) -> Any:
        import torch

        return torch.as_tensor(x)

    def zeros_like(self, x: Any) -> Any:
        import torch

        return torch.zeros_like(x)

    def is_float(self, x: Any) -> bool:
        import torch

        return isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex())

    def scalar(self, x: float) -> Any:
        import torch

        return torch.tensor(x, dtype=torch.float32)

    def boolean(self, x: bool) -> Any:
        import torch

        return torch.tensor(x)

    def nonzero(self, x: Any) -> Any:
        import torch

        return torch.any(torch.as_tensor(x) != 0)

    def any_of(self, flags: list[Any]) -> Any:
        import torch

        return torch.any(torch.stack(flags))

    def grad(self, f: Any, start: dict[int, Any]) -> dict[int, Any]:
        import torch

        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in start.items()}
        with torch.enable_grad():
            out = f(leaves)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                return {k: torch.zeros_like(v) for k, v in leaves.items()}
            got = torch.autograd.grad(out, list(leaves.values()), allow_unused=True)
        return {k: torch.zeros_like(v) if g is None else g for (k, v), g in zip(leaves.items(), got)}

    def slopes(self, moved: Any, primals: list[Any]) -> list[Any]:
        """The mean of d new / d old: a new value has its old one's shape, so the mean of the JVP with
        ones (over the new value) equals the mean of the VJP with ones (over the old), taken here."""
        import torch

        leaves = [p.detach().clone().to(torch.float32).requires_grad_(True) for p in primals]
        with torch.enable_grad():
            outs = moved(leaves)
            total = sum(torch.sum(o.to(torch.float32)) for o in outs if o.requires_grad)
            if not isinstance(total, torch.Tensor):
                return [torch.tensor(0.0) for _ in leaves]
            got = torch.autograd.grad(total, leaves, allow_unused=True)
        return [torch.tensor(0.0) if g is None else torch.mean(g) for g in got]


def torch_evidence(
    gan_or_step: Any, batch: Any, more: tuple[Any, ...], models: Any, plan: Any, plain_step: bool
) -> tuple[list[Any], dict[str, int], dict[int, Any], Any]:
    """Run the step once for real on copies, evaluate its recorded graph; ``(fetched, iterations,
    changed, system)`` with ``plan`` (a ``verify._Plan``) filled as the TensorFlow verifier fills it."""
    import numpy as np
    import torch

    from .torch_trace import trace_gan_torch, trace_step_torch

    into = recorded(
        trace_gan_torch, trace_step_torch, gan_or_step, batch, more, models, plain_step,
        "running it on copies of the weights",
    )  # fmt: skip
    b, rec = into["builder"], into["rec"]
    lay = layout(b, rec, {})
    raw, _ = evaluated(lambda: measure(lay, plan, _TorchNum(), into["values"], []))
    fetched = split_slopes([np.asarray(torch.as_tensor(x).detach().cpu()) for x in raw], plan)
    iters, changed = _state_changes(into, b)
    return fetched, iters, changed, types.SimpleNamespace(found=b.found, names=b.names)


def _state_changes(into: dict[str, Any], b: Any) -> tuple[dict[str, int], dict[int, Any]]:
    """Each optimizer's iterations delta and each changed variable: the scope's values after the step."""
    import numpy as np

    values = []
    for _, var in into["variables"]:
        before, after = into["before"].get(id(var)), into["after"].get(id(var))
        if before is not None and after is not None:
            values.append((var, np.asarray(before.detach().cpu()), np.asarray(after.detach().cpu())))
    return state_changes(b, values)
