"""Turn a recorded JAX step (``jax_record``) and its flattened jaxpr (``jax_graph``) into a ``Trace``.

The same contract as ``build.py`` builds from a TensorFlow graph: sources, calls, losses split into
weighted terms of a kind, updates (which optimizer's ``stateless_apply`` gets which loss's
gradients for which model's variables), assignments (an EMA written into the returned
non-trainable state) and phases.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ...ir.trace import Call, Loss, OptimizerInfo, Source, Trace
from ...ir.trace_facts import Assignment, LossTerm
from . import assemble
from .assign import variable_name
from .build import _input_names, _joined_names, learning_rate, optimizer_names, trace_model
from .find import Found
from .jax_graph import LINEAR_PRIMS, PASS_PRIMS, RANDOM_PRIMS, Node, constant_value, walk_up
from .step_record import StepRecorder
from .term_walk import SumReader, walk_terms
from .terms import LOSS_CLASS_KINDS

__all__ = ["Roles", "JaxBuilder"]

_ADD = frozenset({"add", "add_any"})
_SHAPE = frozenset({"reshape", "squeeze", "expand_dims"})
_BCE = frozenset({"log", "log1p", "xlogy", "xlog1py"})
_SQUARE = frozenset({"integer_pow", "square", "pow"})


@dataclass
class Roles:
    """What each array input of the traced step is: a variable (with its state group) or data (named)."""

    variables: dict[int, tuple[str, Any]] = field(default_factory=dict)
    data: dict[int, str] = field(default_factory=dict)
    state_groups: list[tuple[str, list[Any]]] | None = None  # Keras's (tv, ntv, ov, mv) when known


@dataclass
class _LossSpec:
    name: str
    roots: list[tuple[Node, float]]
    grad: int
    group: int | None


def _mean_of(n: Node) -> Node | None:
    """``x`` when ``n`` is ``mean(x)`` (``reduce_sum(x) / count`` of the elements summed), else None."""
    if n.prim != "div" or len(n.inputs) != 2:
        return None
    a, b = n.inputs
    c = constant_value(b)
    if a.prim != "reduce_sum" or not a.inputs or c is None:
        return None
    inner, outer = a.inputs[0].size, a.size
    if inner and outer and abs(inner / outer - c) < 1e-6 * max(1.0, c):
        return a.inputs[0]
    return None


def _factor(n: Node, x: Node, other: Node) -> float | None:
    """The constant ``x`` scales ``other`` by: a scalar, or a uniform label vector of ``other``'s shape."""
    v = constant_value(x)
    if v is None:
        return None
    if x.size == 1 or x.shape == other.shape or x.shape == n.shape and other.shape == n.shape:
        return v
    return None


def _peel(n: Node, w: float | None) -> tuple[Node, float | None] | None:
    """One step through a pass-through op, a negation or a scaling by a constant, else None."""
    if n.prim in PASS_PRIMS or n.prim in _SHAPE:
        return (n.inputs[0], w) if n.inputs else None
    if n.prim == "neg":
        return n.inputs[0], None if w is None else -w
    if n.prim == "mul" and len(n.inputs) == 2:
        a, b = n.inputs
        vb = _factor(n, b, a)
        if vb is not None:
            return a, None if w is None else w * vb
        va = _factor(n, a, b)
        if va is not None:
            return b, None if w is None else w * va
        return None
    if n.prim == "div" and len(n.inputs) == 2:
        inner = _mean_of(n)
        if inner is None:
            vb = constant_value(n.inputs[1])
            if vb is not None and vb != 0 and n.inputs[1].size == 1:
                return n.inputs[0], None if w is None else w / vb
            return None
        if inner.prim == "neg" or (
            inner.prim == "mul" and any(_factor(inner, x, y) is not None for x, y in _pairs(inner))
        ):
            step = _peel(inner, w)  # mean(c * x) = c * mean(x)
            return step
    return None


def _filled(n: Node) -> bool:
    """Whether ``n`` is a tensor filled with one constant (``ops.ones((n, 1))``): a constant input, like labels."""
    return n.prim == "broadcast_in_dim" and (n.size or 0) > 1 and bool(n.inputs) and n.inputs[0].prim == "literal"


def _fill_name(n: Node) -> str:
    value = constant_value(n)
    return {1.0: "ones", 0.0: "zeros"}.get(value if value is not None else -1.0, "constant")


def _pairs(n: Node) -> list[tuple[Node, Node]]:
    a, b = n.inputs
    return [(a, b), (b, a)]


class JaxBuilder:
    """One recorded JAX step -> :class:`Trace`."""

    def __init__(
        self,
        rec: StepRecorder,
        found: Found,
        names: dict[int, str],
        ins: list[Node],
        outs: list[Node],
        roles: Roles,
        params: list[str],
        result: Any,
    ) -> None:
        self.rec, self.found, self.names, self.ins, self.outs, self.roles = rec, found, names, ins, outs, roles
        self.params, self.result = params, result
        self.stops: dict[int, str] = {}
        self.call_of: dict[int, int] = {}
        for ci, call in enumerate(rec.calls):
            for o in call["outs"]:
                self.stops.setdefault(outs[o].id, f"call{ci}")
                self.call_of.setdefault(outs[o].id, ci)
        self.info: dict[str, tuple[str, str, Node]] = {}
        for k, name in roles.data.items():
            key = f"data:{k}"
            self.stops[ins[k].id] = key
            self.info[key] = ("data", rec.names.get(k) or name, ins[k])
        for fname, i in rec.noise:
            n = outs[i]
            key = f"noise:{n.id}"
            if n.id not in self.stops:
                self.stops[n.id] = key
                self.info[key] = ("noise", rec.names.get(i) or fname, n)
        self.var_of = {ins[k].id: v for k, v in roles.variables.items()}
        self.node_names: dict[int, str] = {}
        for i, name in sorted(rec.names.items()):
            self.node_names.setdefault(outs[i].id, name)
        self.grad_result: dict[int, tuple[int, int]] = {}
        for gi, g in enumerate(rec.grads):
            for group, results in enumerate(g["results"]):
                for r in results:
                    self.grad_result.setdefault(outs[r].id, (gi, group))
        self.loss_class = {outs[i].id: cls for cls, i in rec.loss_calls}
        self.stopped = {outs[i].id for i in rec.stopped}
        self.ops: dict[int, tuple[str, str, list[str], Node]] = {}
        self._origins: dict[int, list[str]] = {}
        self.inner_results: set[int] = set()

    # -- where values come from -----------------------------------------------------------------

    def is_stop(self, n: Node) -> bool:
        return n.id in self.stops

    def name_of(self, n: Node) -> str | None:
        return self.node_names.get(n.id)

    def origins(self, nodes: list[Node]) -> list[str]:
        out: list[str] = []
        for n in nodes:
            for k in self._origins_of(n):
                if k not in out:
                    out.append(k)
        return out

    def _origins_of(self, start: Node) -> list[str]:
        if start.id in self._origins:
            return self._origins[start.id]
        out: list[str] = []
        seen: set[int] = set()
        stack = [start]
        while stack:
            n = stack.pop()
            if n.id in seen:
                continue
            seen.add(n.id)
            key = self.stops.get(n.id)
            if key is None and n.id not in self.var_of and n.prim not in ("input", "literal", "const"):
                if n.prim in RANDOM_PRIMS:
                    key = f"noise:{n.id}"
                    self.info.setdefault(key, ("noise", "noise", n))
                elif (n.id in self.node_names or _filled(n)) and constant_value(n) is not None:
                    key = f"constant:{n.id}"
                    self.info.setdefault(key, ("constant", self.node_names.get(n.id) or _fill_name(n), n))
                else:
                    key = self._new_op(n)
                if key is None:
                    ups = n.inputs
                    if n.id in self.grad_result:  # a stand-in gradient: zeros + 0 * the function's value
                        ups = tuple(x for x in n.inputs if not _filled(x))
                    stack.extend(reversed(ups))
                    continue
            if key is not None and key not in out:
                out.append(key)
        self._origins[start.id] = out
        return out

    def _add_op(self, kind: str, n: Node, inputs: list[str]) -> str:
        if n.id not in self.ops:
            self.ops[n.id] = (f"op{len(self.ops)}", kind, inputs, n)
        return self.ops[n.id][0]

    def _new_op(self, n: Node) -> str | None:
        if n.id in self.ops:
            return self.ops[n.id][0]
        if n.prim != "concatenate":
            return None
        merged: list[str] = []
        for part in n.inputs:
            merged.extend(k for k in self._origins_of(part) if k not in merged)
        if len(merged) < 2 or all(k.startswith("constant:") for k in merged):
            return None
        return self._add_op("concat", n, merged)

    def call_input(self, n: Node) -> list[str]:
        origins = self._origins_of(n)
        if n.prim in ("add", "sub") and n.id not in self.stops:
            noise = [k for k in origins if k.startswith("noise:")]
            others = [k for k in origins if k.startswith(("call", "data:", "op"))]
            if noise and len(others) >= 2:
                return [self._add_op("interpolate", n, origins)]
        return origins

    # -- losses -----------------------------------------------------------------------------------

    def grad_of(self, n: Node) -> tuple[int, int] | None:
        """The gradient (and argument group) a (possibly clipped or scaled) gradient value comes from."""
        for x in walk_up(n, lambda x: x.id not in self.grad_result, limit=5000):
            if x.id in self.grad_result:
                return self.grad_result[x.id]
        return None

    def reaches(self, n: Node, ids: set[int], through_calls: bool = False, avoid: set[int] | None = None) -> bool:
        if not ids:
            return False
        avoid = avoid or set()

        def descend(x: Node) -> bool:
            if x.id in avoid:
                return False
            return through_calls or not (x.id in self.stops or x.id in self.var_of or x.prim in RANDOM_PRIMS)

        return any(x.id in ids for x in walk_up(n, descend) if x.id not in avoid)

    def mixes_penalty(self, n: Node) -> bool:
        if not self.inner_results:
            return False
        t = n
        for _ in range(8):
            step = _peel(t, 1.0)
            summed = None if step is not None else self.through_reduction(t)
            if step is None and summed is None:
                break
            t = step[0] if step is not None else summed  # type: ignore[assignment]
        if t.prim not in _ADD and t.prim != "sub":
            return False
        flags = [self.reaches(x, self.inner_results) for x in t.inputs if constant_value(x) is None]
        return any(flags) and not all(flags)

    def through_reduction(self, n: Node) -> Node | None:
        x = _mean_of(n) or (n.inputs[0] if n.prim == "reduce_sum" and n.inputs else None)
        for _ in range(4):
            if x is None or x.id in self.stops:
                return None
            if x.prim in _ADD or x.prim == "sub":
                return x
            if x.prim not in PASS_PRIMS and x.prim not in _SHAPE:
                return None
            x = x.inputs[0]
        return None

    def kind(self, n: Node) -> str:
        prims: set[str] = set()
        reached = {"data": False, "vars": False}

        def descend(x: Node) -> bool:
            if x.id in self.stops or x.prim in RANDOM_PRIMS:
                reached["data"] = True
                return False
            if x.id in self.var_of:
                reached["vars"] = True
                return False
            if x.prim in ("input", "literal", "const"):
                return False
            prims.add(x.prim)
            if x.prim == "mul" and len(x.inputs) == 2 and x.inputs[0] is x.inputs[1]:
                prims.add("square")
            return True

        for x in walk_up(n, descend):
            if x.id in self.inner_results:
                return "gradient_penalty"
            k = LOSS_CLASS_KINDS.get(self.loss_class.get(x.id, ""))
            if k is not None:
                return k
        if "reduce_max" in prims and "exp" in prims and prims & _BCE:
            return "sparse_cce" if prims & {"gather", "take_along_axis"} else "cce"
        if prims & _BCE:
            return "bce"
        if "exp" in prims and prims & _SQUARE:
            return "kl"
        if "rsqrt" in prims and "reduce_sum" in prims:
            return "cosine_similarity"
        if "max" in prims:
            return "hinge"
        if "abs" in prims:
            return "mae"
        if prims & _SQUARE:
            return "regularization" if not reached["data"] and reached["vars"] else "mse"
        if not reached["data"]:
            return "regularization" if reached["vars"] else "other"
        if prims <= LINEAR_PRIMS:
            return "wasserstein"
        return "other"

    def split_terms(self, root: Node) -> list[tuple[Node, float | None, Node]]:
        """The additive terms of ``root`` as ``(named node, weight, core)``, as ``terms.split_terms`` does."""
        atomic = set(self.loss_class)
        read = SumReader(
            _peel,
            self.through_reduction,
            lambda t: t.inputs if t.prim in _ADD else None,
            lambda t: (t.inputs[0], t.inputs[1]) if t.prim == "sub" else None,
            lambda t: constant_value(t) is not None,
        )
        return walk_terms(
            root,
            read,
            is_leaf=lambda t: self.name_of(t) is not None and not self.mixes_penalty(t),
            atomic=lambda t: t.id in atomic,
            stops=lambda t: t.id in self.stops,
            split_sum=self.mixes_penalty,
            keeps_sign=lambda x: self.kind(x) == "kl",
            limit=64,
        )

    def additive_parts(self, root: Node) -> list[tuple[Node, float]]:
        """The summands of ``root`` (a joint loss ``d_loss + g_loss``), constants dropped."""
        out: list[tuple[Node, float]] = []
        stack = [(root, 1.0)]
        while stack and len(out) < 32:
            t, w = stack.pop()
            if t.prim in PASS_PRIMS and t.inputs:
                stack.append((t.inputs[0], w))
            elif t.prim in _ADD:
                stack.extend((x, w) for x in reversed(t.inputs))
            elif t.prim == "sub":
                stack.extend([(t.inputs[1], -w), (t.inputs[0], w)])
            elif constant_value(t) is None:
                out.append((t, w))
        return out

    def additive_parts_once(self, t: Node, w: float) -> list[tuple[Node, float]]:
        """One level of ``t``'s sum: its operands with their signs, constants dropped."""
        if t.prim in PASS_PRIMS:
            return [(t.inputs[0], w)]
        signs = [w, -w] if t.prim == "sub" else [w] * len(t.inputs)
        return [(x, s) for x, s in zip(t.inputs, signs) if constant_value(x) is None]

    def penalty_name(self, core: Node) -> str | None:
        for g in self.rec.grads:
            results = {self.outs[r].id for rs in g["results"] for r in rs}
            if not results & self.inner_results or not self.reaches(core, results):
                continue
            origins: list[str] = []
            for src in [s for group in g["sources"] for s in group]:
                origins.extend(self.call_input(self.outs[src]))
            kind = assemble.penalty_kind(origins, self.ops)
            if kind is not None:
                return kind
        return None

    def logs(self) -> dict[str, Node]:
        out: dict[str, Node] = {}

        def visit(x: Any, depth: int) -> None:
            if depth > 3:
                return
            if isinstance(x, dict):
                for k, v in x.items():
                    if isinstance(v, int):
                        out.setdefault(str(k), self.outs[v])
            elif isinstance(x, (list, tuple)):
                for v in x:
                    visit(v, depth + 1)

        visit(self.result, 0)
        return out

    def same(self, a: Node, b: Node, depth: int = 0) -> bool:
        """Whether ``a`` and ``b`` compute the same value (through casts and ``+ 0``; a mean taken twice)."""
        a, b = self._plain(a), self._plain(b)
        if a.id == b.id:
            return True
        if a.prim == b.prim == "literal":
            return constant_value(a) is not None and constant_value(a) == constant_value(b) and a.shape == b.shape
        if depth > 3 or a.prim != b.prim or len(a.inputs) != len(b.inputs) or a.prim in ("input", "literal", "const"):
            return False
        if a.params != b.params:
            return False
        return all(self.same(x, y, depth + 1) for x, y in zip(a.inputs, b.inputs))

    def _plain(self, n: Node) -> Node:
        for _ in range(6):
            if n.prim in PASS_PRIMS and n.inputs:
                n = n.inputs[0]
            elif n.prim in _ADD and len(n.inputs) == 2 and constant_value(n.inputs[1]) == 0.0:
                n = n.inputs[0]
            elif n.prim in _ADD and len(n.inputs) == 2 and constant_value(n.inputs[0]) == 0.0:
                n = n.inputs[1]
            else:
                break
        return n

    def loss_specs(self) -> tuple[list[_LossSpec], dict[tuple[int, int | None], int]]:
        rec, outs = self.rec, self.outs
        applied: dict[int, set[int]] = {}  # grad -> argument groups an optimizer applies
        for _, grads, _ in rec.applies:
            for g in grads:
                hit = None if g is None else self.grad_of(outs[g])
                if hit is not None:
                    applied.setdefault(hit[0], set()).add(hit[1])
        targets = {gi: [outs[t] for t in g["targets"]] for gi, g in enumerate(rec.grads)}
        for gi, g in enumerate(rec.grads):
            if gi in applied:
                continue
            results = {outs[r].id for rs in g["results"] for r in rs}
            if any(self.reaches(t, results) for a in applied for t in targets[a]):
                self.inner_results |= results  # a gradient used as data (a penalty), not a loss
        logs = self.logs()

        def named(root: Node, fallback: str | None) -> str | None:
            by_logs = next((k for k, v in logs.items() if self.same(v, root)), None)
            return by_logs or fallback or self.name_of(root)

        specs: list[_LossSpec] = []
        index: dict[tuple[int, int | None], int] = {}
        for gi, g in enumerate(rec.grads):
            if (
                gi not in applied
                and g["results"]
                and {outs[r].id for rs in g["results"] for r in rs} & self.inner_results
            ):
                continue
            roots = targets[gi][:1]
            if not roots:
                continue
            root = roots[0]
            groups = sorted(applied.get(gi, set()))
            split = self._split_groups(root, gi, groups) if len(groups) > 1 else None
            if split is None:
                name = named(root, g["local"]) or f"loss_{len(specs)}"
                index[(gi, None)] = len(specs)
                specs.append(_LossSpec(name, [(root, 1.0)], gi, None))
                continue
            for group, parts in split.items():
                one = parts[0][0] if len(parts) == 1 else None
                name = (named(one, None) if one is not None else None) or f"loss_{len(specs)}"
                index[(gi, group)] = len(specs)
                specs.append(_LossSpec(name, parts, gi, group))
        return specs, index

    def _split_groups(self, root: Node, gi: int, groups: list[int]) -> dict[int, list[tuple[Node, float]]] | None:
        """A joint loss whose summands each reach one argument group's variables (``jax.lax.stop_gradient``
        keeps the others out): one loss per group, as TensorFlow's two tapes would give."""
        ids = {g: {self.outs[s].id for s in self.rec.grads[gi]["sources"][g]} for g in groups}

        def reached(n: Node) -> list[int]:
            return [g for g in groups if self.reaches(n, ids[g], through_calls=True, avoid=self.stopped)]

        parts: list[tuple[Node, float]] = []
        todo = [(root, 1.0)]
        while todo and len(parts) < 32:  # split a summand only while it reaches several groups
            node, w = todo.pop()
            if len(reached(node)) > 1 and (node.prim in _ADD or node.prim == "sub" or node.prim in PASS_PRIMS):
                todo.extend(reversed(self.additive_parts_once(node, w)))
            else:
                parts.append((node, w))
        out: dict[int, list[tuple[Node, float]]] = {}
        for group in groups:
            mine = [p for p in parts if reached(p[0]) == [group]]
            if not mine:
                return None
            out[group] = mine
        seen: set[int] = set()
        for mine in out.values():
            ids = {p[0].id for p in mine}
            if ids & seen:
                return None
            seen |= ids
        return out

    # -- the trace --------------------------------------------------------------------------------

    def var_owner(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for key, (_, model) in sorted(self.found.models.items(), key=lambda kv: -len(kv[1][1].variables)):
            for v in model.variables:
                out[id(v)] = self.names[key]
        return out

    def assignments(self, var_owner: dict[int, str]) -> list[tuple[Any, Node, Node]]:
        """``(variable, new value, old value)`` of each model variable the returned state changes: a non-trainable
        one, or a trainable one written by the step itself (an EMA copy left trainable), since the stand-in
        ``stateless_apply`` returns an optimizer's variables unchanged."""
        groups = self.roles.state_groups
        res = self.result
        if not groups or not isinstance(res, (tuple, list)) or len(res) != 2:
            return []
        state = res[1]
        if not isinstance(state, (tuple, list)) or len(state) != len(groups):
            return []
        out: list[tuple[Any, Node, Node]] = []
        start = 0
        for (group, variables), returned in zip(groups, state):
            if (
                group in ("trainable", "non_trainable")
                and isinstance(returned, (list, tuple))
                and len(returned) == len(variables)
            ):
                for i, (var, kept) in enumerate(zip(variables, returned)):
                    if not isinstance(kept, int):
                        continue
                    new, old = self.outs[kept], self.ins[start + i]
                    if self._plain(new).id != old.id:
                        out.append((var, new, old))
            start += len(variables)
        return out

    def assignment(self, var: Any, new: Node, old: Node, var_owner: dict[int, str]) -> Assignment:
        target = var_owner.get(id(var)) or variable_name(var)
        read: list[str] = []
        for x in walk_up(new, lambda x: x.id not in self.stops and x.id not in self.var_of):
            v = self.var_of.get(x.id)
            if v is not None and x.id != old.id:
                owner = var_owner.get(id(v[1]))
                if owner is not None and owner != target and owner not in read:
                    read.append(owner)
        source = read[0] if read else None
        kind, decay, increment = "assign", None, None
        ins: tuple[str, ...] = ()
        if source is not None:
            decay = self._decay(new, old)
            plain = self._plain(new)
            kind = "ema" if decay is not None else ("copy" if plain.id in self.var_of else "assign")
        else:
            ins = tuple(self.origins([new]))
            plain = self._plain(new)
            if plain.prim in _ADD and len(plain.inputs) == 2:
                a, b = plain.inputs
                if self._plain(a).id == old.id:
                    increment = constant_value(b)
                elif self._plain(b).id == old.id:
                    increment = constant_value(a)
        return Assignment(target, source, kind, decay, 1, ins, increment)

    def _decay(self, new: Node, old: Node) -> float | None:
        """``d`` of ``d * old + (1 - d) * weight``: the constant (or the constant bound of a warm-up
        ``min(d, ...)``) multiplying the old value."""
        n = self._plain(new)
        if n.prim not in _ADD or len(n.inputs) != 2:
            return None
        for term in n.inputs:
            t = self._plain(term)
            if t.prim != "mul" or len(t.inputs) != 2:
                continue
            for x, y in _pairs(t):
                if self._plain(y).id != old.id:
                    continue
                value = constant_value(x)
                if value is None and x.prim == "min":
                    value = next((c for c in (constant_value(z) for z in x.inputs) if c is not None), None)
                if value is not None and 0.0 < value < 1.0:
                    return float(f"{value:.6g}")
        return None

    def trace(self, trace_name: str) -> Trace:  # noqa: C901 - one pass per part of the contract, in order
        rec, outs = self.rec, self.outs
        call_ids = [f"call{i}" for i in range(len(rec.calls))]
        by_name = {self.names[k]: m for k, (_, m) in self.found.models.items()}
        raw_calls: list[tuple[list[str], dict[str, str]]] = []
        for call in rec.calls:
            keys: list[str] = []
            for arg in call["args"]:
                for i in arg:
                    keys.extend(k for k in self.call_input(outs[i]) if k not in keys)
            labels: dict[str, str] = {}
            input_names = _input_names(by_name.get(call["model"]))
            if len(input_names) > 1 and len(call["args"]) == len(input_names):
                fed: dict[str, list[str]] = {}
                for arg_name, arg in zip(input_names, call["args"]):
                    for i in arg:
                        for k in self.call_input(outs[i]):
                            if arg_name not in fed.setdefault(k, []):
                                fed[k].append(arg_name)
                labels = {k: ", ".join(v) for k, v in fed.items()}
            raw_calls.append((keys, labels))

        specs, spec_of = self.loss_specs()
        loss_ids = [f"loss{i}" for i in range(len(specs))]
        raw_terms: list[list[tuple[str | None, str, float | None, list[str], Node]]] = []
        raw_inputs: list[list[str]] = []
        for spec in specs:
            terms = []
            for root, sign in spec.roots:
                for named, weight, core in self.split_terms(root):
                    kind = self.kind(core)
                    if named is root and len(spec.roots) == 1:
                        name: str | None = spec.name
                    elif named.id in self.stops:
                        name = None
                    else:
                        name = self.name_of(named)
                    if name is None and kind == "gradient_penalty":
                        name = self.penalty_name(core)
                    w = None if weight is None else float(f"{weight * sign:.6g}")
                    terms.append((name, kind, w, self.origins([core]), core))
            raw_terms.append(terms)
            used = {k for term in terms for k in term[3]}
            ins = self.origins([r for r, _ in spec.roots])
            raw_inputs.append([k for k in ins if not k.startswith("constant:") or k in used])

        var_owner = self.var_owner()
        opt_names = optimizer_names(self.found, [(o, None, None) for o, _, _ in rec.applies])
        optimizers: dict[str, OptimizerInfo] = {}
        counts: dict[tuple[str, str, str], int] = {}
        apply_keys: list[list[tuple[str, str, str]]] = []
        updated_vars: dict[str, list[Any]] = {}
        for opt, grads, variables in rec.applies:
            opt_name = opt_names[id(opt)]
            optimizers.setdefault(opt_name, OptimizerInfo(opt_name, type(opt).__name__, learning_rate(opt)))
            keys: list[tuple[str, str, str]] = []
            for g, v in zip(grads, variables):
                if g is None or v is None:
                    continue
                role = self.var_of.get(outs[v].id)
                owner = None if role is None else var_owner.get(id(role[1]))
                hit = self.grad_of(outs[g])
                if owner is None or hit is None:
                    continue
                si = spec_of.get((hit[0], hit[1]), spec_of.get((hit[0], None)))
                if si is None:
                    continue
                k = (loss_ids[si], opt_name, owner)
                counts[k] = counts.get(k, 0) + 1
                updated_vars.setdefault(owner, []).append(role[1])  # type: ignore[index]
                if k not in keys:
                    keys.append(k)
            apply_keys.append(keys)

        changed = self.assignments(var_owner)
        events = list(rec.events) + [("assign", i) for i in range(len(changed))]
        made = [self.assignment(var, new, old, var_owner) for var, new, old in changed]
        groups: dict[tuple[Any, ...], list[Any]] = {}
        assign_group: list[int] = []
        for a in made:
            key = (a.target, a.source, a.kind, a.decay, a.increment)
            if key not in groups:
                groups[key] = [0, a.inputs]
            groups[key][0] += 1
            groups[key][1] = tuple(dict.fromkeys((*groups[key][1], *a.inputs)))
            assign_group.append(list(groups).index(key))
        assignments = [Assignment(t, s, k, d, n, ins, inc) for (t, s, k, d, inc), (n, ins) in groups.items()]

        loss_of_grad: dict[int, list[str]] = {}
        for (gi, _), si in spec_of.items():
            loss_of_grad.setdefault(gi, []).append(loss_ids[si])
        call_models = [c["model"] for c in rec.calls]
        loss_names = dict(zip(loss_ids, (s.name for s in specs)))
        folded = assemble.fold_phases(events, call_models, loss_names, apply_keys, assign_group, loss_of_grad, loss_ids)
        kept_calls, kept_losses = folded.kept_calls, folded.kept_losses

        facts = (raw_calls, loss_ids, raw_inputs, raw_terms, assignments)
        data_keys = [f"data:{k}" for k in sorted(self.roles.data)]
        seen = assemble.reached(folded, facts, self.ops, data_keys, ("data:", "noise:", "constant:"), self.name_of)
        src_ids, remap, ops = seen.src_ids, seen.remap, seen.ops
        sources = [Source(src_ids[k], self.info[k][0], self.info[k][1], self.info[k][2].shape) for k in seen.order]
        phases, call_phase = assemble.trace_phases(
            folded, assignments, assign_group, loss_of_grad, call_ids, lambda p, up: self.frozen_in(p, up, loss_of_grad)
        )

        calls = []
        for i in kept_calls:
            call = rec.calls[i]
            out_nodes = [outs[o] for o in call["outs"]]
            names = [self.name_of(n) for n in out_nodes]
            if len(out_nodes) > 1:
                shown = [str(n) for n in names] if all(names) and len(set(names)) == len(names) else None
                shown = shown or [f"output[{k}]" for k in range(len(out_nodes))]
            calls.append(
                Call(
                    call_ids[i],
                    call["model"],
                    remap(raw_calls[i][0]),
                    out_nodes[0].shape if out_nodes else None,
                    output=(_joined_names(shown) if len(out_nodes) > 1 else (names[0] if names else None)),
                    phase=call_phase.get(i),
                    in_tape=call["in_tape"],
                    input_names={src_ids.get(k, k): v for k, v in raw_calls[i][1].items()},
                    outputs=tuple(shown) if len(out_nodes) > 1 else (),
                    output_shapes=tuple(n.shape for n in out_nodes) if len(out_nodes) > 1 else (),
                )
            )
        term_name = assemble.term_namer(calls, sources, ops)
        losses = []
        for lid in kept_losses:
            li = loss_ids.index(lid)
            terms = tuple(
                LossTerm(term_name(name, kind, remap(ins)), kind, weight, remap(ins))
                for name, kind, weight, ins, _ in raw_terms[li]
            )
            losses.append(Loss(lid, specs[li].name, remap(raw_inputs[li]), terms))
        updates = assemble.trace_updates(folded, counts)
        assignments = [dataclasses.replace(a, inputs=remap(a.inputs)) for a in assignments]

        used = assemble.models_used([call_models[i] for i in kept_calls], updates, assignments, by_name)
        updated_unique = {n: list({id(v): v for v in vs}.values()) for n, vs in updated_vars.items()}
        trace_models = [trace_model(by_name[n], n, None, updated_unique.get(n)) for n in used]
        parts = assemble.StepParts(sources, calls, losses, updates, list(optimizers.values()), ops, assignments, phases)
        return assemble.traced_step(
            trace_name, trace_models, parts, by_name, used, backend="jax", traced_by="jax.make_jaxpr"
        )

    def frozen_in(self, p: Any, updated: list[str], loss_of_grad: dict[int, list[str]]) -> tuple[str, ...]:
        """Models called inside the phase's gradient functions that were not trainable then and are not updated."""
        rec = self.rec
        grads = [gi for gi in p.grads if loss_of_grad.get(gi)]
        if not grads:
            return ()
        called = dict.fromkeys(rec.calls[i]["model"] for i in p.calls if rec.calls[i]["in_tape"])
        return tuple(
            m for m in called if m not in updated and all(rec.grads[gi]["trainable"].get(m) is False for gi in grads)
        )
