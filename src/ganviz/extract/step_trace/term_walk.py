"""The walk that splits a loss into its additive terms, written once for TensorFlow tensors
(``terms.split_terms``) and jaxpr/torch op nodes (``jax_build.JaxBuilder.split_terms``).

Each graph shows its arithmetic through a :class:`SumReader`: how a scaling or negation peels off
(with its weight), the sum inside a mean or sum, the inputs of an addition, the two sides of a
difference, and whether a value is a constant. The walk itself is the same on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SumReader", "walk_terms"]

Term = tuple[Any, float | None, Any]  # (named value, weight, core value)


@dataclass(frozen=True)
class SumReader:
    """How one graph representation shows a loss's arithmetic."""

    peel: Callable[[Any, float | None], tuple[Any, float | None] | None]  # ``(inner, weight)`` of a scaling
    summed: Callable[[Any], Any | None]  # the sum a mean or sum reduces, else None
    addends: Callable[[Any], Sequence[Any] | None]  # the inputs of an addition, else None
    difference: Callable[[Any], tuple[Any, Any] | None]  # ``(a, b)`` of ``a - b``, else None
    is_constant: Callable[[Any], bool]


def walk_terms(
    root: Any,
    read: SumReader,
    *,
    is_leaf: Callable[[Any], bool],
    atomic: Callable[[Any], bool],
    stops: Callable[[Any], bool],
    split_sum: Callable[[Any], bool],
    keeps_sign: Callable[[Any], bool],
    limit: int,
) -> list[Term]:
    """The additive terms of ``root`` as ``(named value, weight, core value)``, in the order added
    (the rules are ``terms.split_terms``'s); weights rounded to six significant digits."""

    def peel(t: Any, w: float | None) -> tuple[Any, float | None] | None:
        step = read.peel(t, w)
        if step is None or w is None or step[1] is None or (step[1] < 0) == (w < 0):
            return step
        return None if keeps_sign(step[0]) else step

    out: list[Term] = []
    stack: list[tuple[Any, float | None, bool]] = [(root, 1.0, True)]
    while stack and len(out) < limit:
        t, w, first = stack.pop()
        if atomic(t) or (t is not root and stops(t)):  # a model's output is no sum of terms
            out.append((t, w, t))
            continue
        if not first and is_leaf(t):
            core, cw = t, w
            for _ in range(8):
                step = None if atomic(core) else peel(core, cw)
                if step is None:
                    break
                core, cw = step
            out.append((t, cw, core))
            continue
        step = peel(t, w)
        summed = None if step is not None else read.summed(t)
        summed = summed if summed is not None and split_sum(summed) else None
        if step is not None:
            stack.append((step[0], step[1], first))
        elif summed is not None:
            stack.append((summed, w, first))
        elif (addends := read.addends(t)) is not None:
            stack.extend((x, w, False) for x in reversed(list(addends)))
        elif (difference := read.difference(t)) is not None:
            stack.append((difference[1], None if w is None else -w, False))
            stack.append((difference[0], w, False))
        else:
            out.append((t, w, t))
    kept = [x for x in out if not read.is_constant(x[2])] or out  # a constant adds no gradient
    return [(t, None if w is None else float(f"{w:.6g}"), c) for t, w, c in kept]
