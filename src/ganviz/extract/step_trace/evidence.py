"""The numbers ``verify_trace`` reads from a recorded real step on JAX or PyTorch: its graph evaluated node by node.

Both recordings (``jax_verify.py``: a jaxpr of the step with real gradients and updates;
``torch_verify.py``: the aten ops of the step run for real in a scope of copies) are
:class:`~.jax_graph.Node` graphs built into a ``JaxBuilder``. :class:`Evaluator` computes any node
from the step's real inputs, with some nodes replaced (held as independent inputs) or with a zero
added (to differentiate through). :func:`measure` reads, in the order ``verify._check`` takes them,
each loss, each of its terms (split as the trace splits them), the derivative of each loss with
respect to each term and to each call's outputs, which applied gradients are non-zero and how each
assigned value moves with its old one. The arithmetic of one backend (its arrays, gradients and
JVPs) comes in through a :class:`Num`; nothing here imports JAX or torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from ...errors import TraceError
from .build import optimizer_names
from .jax_graph import Node, walk_up

__all__ = ["Num", "Evaluator", "Layout", "layout", "measure", "split_slopes", "recorded", "evaluated", "state_changes"]

_T = TypeVar("_T")


def recorded(
    trace_gan: Callable[..., Any],
    trace_step: Callable[..., Any],
    gan_or_step: Any,
    batch: Any,
    more: tuple[Any, ...],
    models: Any,
    plain_step: bool,
    how: str,
) -> dict[str, Any]:
    """The backend tracer's verifying recording (its ``_into``) of a step function (``plain_step``) or a
    model's ``train_step``; a step that cannot be recorded so is one line naming ``how`` it was tried."""
    into: dict[str, Any] = {}
    try:
        if plain_step:
            trace_step(gan_or_step, *(() if batch is None else (batch, *more)), models=models, _into=into)
        else:
            trace_gan(gan_or_step, data=batch, _into=into)
    except TraceError as exc:
        raise TraceError(
            f"cannot check the step against a real one: {how} failed ({exc}); draw it without verify=True"
        ) from exc
    return into


def evaluated(run: Callable[[], _T]) -> _T:
    """``run()`` (the evaluation of a recorded graph), any failure one line."""
    try:
        return run()
    except Exception as exc:
        raise TraceError(
            f"cannot check the step against a real one: evaluating it failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); draw it without verify=True"
        ) from exc


class Num:
    """One backend's arithmetic on its arrays (overridden by ``jax_verify._JaxNum`` and ``torch_verify._TorchNum``)."""

    def compute(self, n: Node, values: dict[int, Any], done: dict[Any, Any]) -> Any:
        """The value of ``n`` (not an input, literal or constant) from the values of its dependencies."""
        raise NotImplementedError

    def deps(self, n: Node) -> tuple[Node, ...]:
        """The nodes ``n`` is computed from (its inputs, by default)."""
        return n.inputs

    def constant(self, n: Node) -> Any:
        return n.value

    def total(self, x: Any) -> Any:
        raise NotImplementedError

    def asarray(self, x: Any) -> Any:
        raise NotImplementedError

    def zeros_like(self, x: Any) -> Any:
        raise NotImplementedError

    def is_float(self, x: Any) -> bool:
        raise NotImplementedError

    def scalar(self, x: float) -> Any:
        raise NotImplementedError

    def boolean(self, x: bool) -> Any:
        raise NotImplementedError

    def nonzero(self, x: Any) -> Any:
        """Whether any element of ``x`` is non-zero (a boolean scalar)."""
        raise NotImplementedError

    def any_of(self, flags: list[Any]) -> Any:
        raise NotImplementedError

    def grad(self, f: Callable[[dict[int, Any]], Any], start: dict[int, Any]) -> dict[int, Any]:
        """d ``f`` / d each value of ``start`` (by node id); a value ``f`` does not depend on: zeros."""
        raise NotImplementedError

    def slopes(self, moved: Callable[[list[Any]], list[Any]], primals: list[Any]) -> list[Any]:
        """For each primal: the mean of d ``moved`` / d primal applied to ones (a JVP's mean)."""
        raise NotImplementedError


def _needed(targets: list[Node], num: Num) -> list[Node]:
    """Every node ``targets`` are computed from, in an order where inputs come first (ids grow downstream)."""
    seen: dict[int, Node] = {}
    stack = list(targets)
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen[n.id] = n
        stack.extend(num.deps(n))
    return [seen[k] for k in sorted(seen)]


class Evaluator:
    """Values of nodes of one recorded graph at the step's real inputs; ``replace`` sets a node's value
    (its inputs then do not matter), ``add`` adds to it (a zero to differentiate at). Plain values are
    computed once; a run with ``replace``/``add`` recomputes only what depends on those nodes."""

    def __init__(self, inputs: list[Any], num: Num) -> None:
        self.inputs = inputs
        self.num = num
        self.cache: dict[int, Any] = {}

    def _compute(self, n: Node, values: dict[int, Any], done: dict[Any, Any]) -> Any:
        if n.prim == "input":
            return self.inputs[n.index]
        if n.prim == "literal" or (n.prim == "const" and n.eqn is None):
            return self.num.constant(n)
        return self.num.compute(n, values, done)

    def run(
        self, targets: list[Node], replace: dict[int, Any] | None = None, add: dict[int, Any] | None = None
    ) -> list[Any]:
        needed = _needed(targets, self.num)
        done: dict[Any, Any] = {}
        for n in needed:
            if n.id not in self.cache:
                self.cache[n.id] = self._compute(n, self.cache, done)
        if not replace and not add:
            return [self.cache[t.id] for t in targets]
        replace, add = replace or {}, add or {}
        values: dict[int, Any] = {}
        live: set[int] = set()
        done = {}
        for n in needed:
            if n.id in replace:
                values[n.id] = replace[n.id]
                live.add(n.id)
                continue
            if any(x.id in live for x in self.num.deps(n)):
                value = self._compute(n, values, done)
                live.add(n.id)
            else:
                value = self.cache[n.id]
            if n.id in add:
                value = value + add[n.id]
                live.add(n.id)
            values[n.id] = value
        return [values[t.id] for t in targets]


def _size(n: Node) -> int:
    return max(1, int(n.size or 1))


@dataclasses.dataclass
class Layout:
    """What :func:`measure` reads, found once from the builder (outside any ``jax.jit``)."""

    b: Any
    rec: Any
    applied: dict[int, Node]  # what the updates returned: held fixed when differentiating
    specs: list[Any]
    call_outs: list[list[Node]]
    call_ins: list[list[Node]]
    out_ids: dict[int, int]
    inner_of: dict[int, list[Node]]
    feed_nodes: list[Node]
    var_owner: dict[int, str]
    opt_names: dict[int, str]
    changed_assign: list[tuple[Any, Node, Node]]


def layout(b: Any, rec: Any, applied: dict[int, Node]) -> Layout:
    """The losses, calls, inner gradients and assignments of the recorded step ``b`` (a ``JaxBuilder``)."""
    outs = b.outs
    specs, _ = b.loss_specs()
    call_outs = [[outs[o] for o in c["outs"]] for c in rec.calls]
    # An inner gradient (a penalty's) taken of what a call computes counts as read from that call.
    out_ids = {n.id: ci for ci, ns in enumerate(call_outs) for n in ns}
    inner_of: dict[int, list[Node]] = {}
    for g in rec.grads:
        results = [outs[r] for rs in g["results"] for r in rs if r is not None]
        if not results or not {r.id for r in results} & b.inner_results:
            continue
        for t in (outs[i] for i in g["targets"] if i is not None):
            for x in walk_up(t, lambda x: x.id not in out_ids, limit=4000):
                ci = out_ids.get(x.id)
                if ci is not None:
                    inner_of.setdefault(ci, []).extend(results)
    call_ins = [[outs[i] for arg in c["args"] for i in arg] for c in rec.calls]
    feed_nodes = [n for ns in call_outs for n in ns] + [n for ns in inner_of.values() for n in ns]
    var_owner = b.var_owner()
    # What an optimizer returned is its update, not an assignment (while drawing it returns its inputs).
    changed_assign = [(v, new, old) for v, new, old in b.assignments(var_owner) if new.id not in applied]
    return Layout(
        b=b,
        rec=rec,
        applied=applied,
        specs=specs,
        call_outs=call_outs,
        call_ins=call_ins,
        out_ids=out_ids,
        inner_of=inner_of,
        feed_nodes=list({n.id: n for n in feed_nodes}.values()),
        var_owner=var_owner,
        opt_names=optimizer_names(b.found, [(o, None, None) for o, _, _ in rec.applies]),
        changed_assign=changed_assign,
    )


def measure(lay: Layout, plan: Any, num: Num, inputs: list[Any], extra: list[Node]) -> tuple[list[Any], list[Any]]:
    """Every number the checks read, in the order ``verify._check`` takes them (the assignments' slopes
    ride along, at the positions ``plan.assign_slopes`` names: :func:`split_slopes` takes them out), and
    the values of ``extra``. ``plan`` (a ``verify._Plan``) is filled as the TensorFlow verifier fills it."""
    b, rec, outs = lay.b, lay.rec, lay.b.outs
    ev = Evaluator(inputs, num)
    held = dict(zip(lay.applied, ev.run(list(lay.applied.values())))) if lay.applied else {}

    def value_of(targets: list[Node], how: dict[str, dict[int, Any]] | None = None) -> list[Any]:
        if not how:
            return ev.run(targets)
        return ev.run(targets, replace={**held, **how.get("replace", {})}, add=how.get("add"))

    def grad(target: Callable[[dict[str, dict[int, Any]]], Any], nodes: list[Node], mode: str) -> list[Any]:
        """d ``target`` / d each node: held as independent inputs (``replace``), or differentiated
        through (``add``: total derivatives)."""
        if not nodes:
            return []
        base = value_of(nodes)
        start = {
            n.id: (num.asarray(v) if mode == "replace" else num.zeros_like(num.asarray(v)))
            for n, v in zip(nodes, base)
            if num.is_float(v)
        }
        grads = num.grad(lambda vals: target({mode: vals}), start)
        return [grads.get(n.id) for n in nodes]

    fetched: list[Any] = []
    plan.__dict__.update(type(plan)().__dict__)  # a second trace by jit starts the plan again
    plan.call_models = [c["model"] for c in rec.calls]
    plan.n_targets = len(lay.specs)
    plan.loss_names = [s.name for s in lay.specs]
    for spec in lay.specs:
        roots = [(root, float(sign)) for root, sign in spec.roots]
        terms = [(core, root) for root, _ in roots for _, _, core in b.split_terms(root)]
        plan.n_terms.append(len(terms))
        kinds = [b.kind(core) for core, _ in terms]
        plan.term_kinds.append(kinds)
        plan.stopped.append(_through_stop_gradient(b, [r for r, _ in roots], lay, set(lay.applied)))

        def loss(how: dict[str, dict[int, Any]] | None = None, roots: list[tuple[Node, float]] = roots) -> Any:
            vals = value_of([r for r, _ in roots], how)
            return sum(sign * num.total(v) for (_, sign), v in zip(roots, vals))

        fetched.append(loss())
        cores = [core for core, _ in terms]
        core_grads = grad(loss, cores, "replace")
        for (core, root), kind, value, g in zip(terms, kinds, value_of(cores), core_grads):
            fetched.append(num.total(value) * (_size(root) / _size(core)))
            fetched.append(num.scalar(float("nan")) if g is None else num.total(g) / _size(root))
            if kind == "wasserstein":  # which way the term moves with each call's scores

                def term(how: dict[str, dict[int, Any]], core: Node = core, root: Node = root) -> Any:
                    return num.total(value_of([core], how)[0]) * (_size(root) / _size(core))

                flat = [n for ns in lay.call_outs for n in ns]
                by_id = {n.id: x for n, x in zip(flat, grad(term, flat, "add"))}
                for ns in lay.call_outs:
                    mine = [by_id[n.id] for n in ns if by_id.get(n.id) is not None]
                    fetched.append(sum((num.total(x) for x in mine), num.scalar(0.0)))
        by_id = {n.id: x for n, x in zip(lay.feed_nodes, grad(loss, lay.feed_nodes, "add"))}
        for ci, ns in enumerate(lay.call_outs):
            mine = [by_id[n.id] for n in ns + lay.inner_of.get(ci, []) if by_id.get(n.id) is not None]
            fetched.append(num.any_of([num.nonzero(x) for x in mine]) if mine else num.boolean(False))
        plan.feeds_ok.append(True)

    # Updates: which applied gradients are non-zero, by the model owning each variable.
    for opt, grads, variables in rec.applies:
        plan.optimizers[lay.opt_names[id(opt)]] = opt
        owners: list[str] = []
        pairs = [(outs[g], v) for g, v in zip(grads, variables) if g is not None]
        for (_, v), gv in zip(pairs, value_of([g for g, _ in pairs])):
            role = None if v is None else b.var_of.get(outs[v].id)
            owners.append((lay.var_owner.get(id(role[1])) if role is not None else None) or "")
            fetched.append(num.nonzero(num.asarray(gv)))
        plan.applies.append((lay.opt_names[id(opt)], owners))

    # Assignments: the new value, and how it moves with its old one (d new / d old: an EMA's decay).
    plan.events = list(rec.events) + [("assign", i) for i in range(len(lay.changed_assign))]
    plan.assign_slopes = []
    if lay.changed_assign:
        news = [new for _, new, _ in lay.changed_assign]
        olds = [old for _, _, old in lay.changed_assign]
        old_values = [num.asarray(v) for v in value_of(olds)]
        floats = [k for k, v in enumerate(old_values) if num.is_float(v) and num.is_float(value_of([news[k]])[0])]

        def moved(xs: list[Any]) -> list[Any]:
            return value_of([news[k] for k in floats], {"replace": {olds[k].id: x for k, x in zip(floats, xs)}})

        measured = num.slopes(moved, [old_values[k] for k in floats]) if floats else []
        slopes: list[Any] = [None] * len(news)
        for k, slope in zip(floats, measured):
            slopes[k] = slope
        for (var, new, old), nv, ov, slope in zip(lay.changed_assign, value_of(news), old_values, slopes):
            target = lay.var_owner.get(id(var)) or getattr(var, "path", getattr(var, "name", "?"))
            src = _source(b, new, old, target, lay.var_owner)
            warm = any(x.prim == "min" for x in walk_up(new, lambda x: x.id not in b.var_of, limit=400))
            plan.assigns.append((target, "assign", True, src is not None, warm))
            if slope is None:
                plan.assign_slopes.append(None)
            else:
                plan.assign_slopes.append(len(fetched))  # replaced by the measured slope (split_slopes)
                fetched.append(slope)
            fetched.append(nv)
            fetched.append(ov)
            if src is not None:
                fetched.append(value_of([src])[0])
    return fetched, value_of(extra)


def split_slopes(raw: list[Any], plan: Any) -> list[Any]:
    """The slopes taken out of the fetched list (into ``plan.assign_slopes``), leaving ``_check``'s layout."""
    slope_at = {i for i in plan.assign_slopes or [] if i is not None}
    plan.assign_slopes = [None if i is None else float(raw[i]) for i in plan.assign_slopes or []]
    return [x for i, x in enumerate(raw) if i not in slope_at]


def _through_stop_gradient(b: Any, roots: list[Node], lay: Layout, held: set[int], limit: int = 20000) -> set[int]:
    """Calls the roots are computed from only through a ``stop_gradient`` (their data flows, no gradient);
    the walk jumps from a call's output to its inputs and stops at what an optimizer returned."""
    plain: set[int] = set()
    stopped: set[int] = set()
    stack = [(r, False) for r in roots]
    seen: set[tuple[int, bool]] = set()
    while stack and len(seen) < limit:
        n, through = stack.pop()
        if (n.id, through) in seen:
            continue
        seen.add((n.id, through))
        ci = lay.out_ids.get(n.id)
        if ci is not None:
            (stopped if through else plain).add(ci)
            stack.extend((x, through) for x in lay.call_ins[ci])
            continue
        if n.id in held:
            continue
        flag = through or n.prim == "stop_gradient" or n.id in b.stopped
        stack.extend((x, flag) for x in n.inputs)
    return stopped - plain


def _source(b: Any, new: Node, old: Node, target: str, var_owner: dict[int, str]) -> Node | None:
    """The nearest variable of another model that ``new`` is computed from, of ``new``'s shape."""
    for x in walk_up(new, lambda x: x.id not in b.var_of, limit=3000):
        role = b.var_of.get(x.id)
        if role is None or x.id == old.id:
            continue
        owner = var_owner.get(id(role[1]))
        if owner is not None and owner != target and x.shape == new.shape:
            return x
    return None


def state_changes(b: Any, values: list[tuple[Any, Any, Any]]) -> tuple[dict[str, int], dict[int, Any]]:
    """From ``(variable, before, after)`` (numpy values) of the step's state: each optimizer's
    iterations delta (by its name) and each changed variable (``id -> (variable, (before, after))``)."""
    import numpy as np

    changed: dict[int, Any] = {}
    by_var: dict[int, tuple[Any, Any]] = {}
    for var, before, after in values:
        by_var[id(var)] = (before, after)
        if before.shape != after.shape or not np.array_equal(before, after):
            changed[id(var)] = (var, (before, after))
    iters: dict[str, int] = {}
    opt_names = optimizer_names(b.found, [(o, None, None) for o, _, _ in b.rec.applies])
    for opt, _, _ in b.rec.applies:
        it = getattr(opt, "iterations", None)
        hit = None if it is None else by_var.get(id(it))
        if hit is not None:
            iters[opt_names[id(opt)]] = int(np.asarray(hit[1])) - int(np.asarray(hit[0]))
    return iters, changed
