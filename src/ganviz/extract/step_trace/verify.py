"""Check a trace against one real training step, then put every piece of state back.

The step is traced a second time by ``tf.function``, now with TensorFlow's real gradients and
real optimizer updates, and the recorder of :mod:`record` watching as when drawing. Inside that
same graph, once the step's own code has returned, the graph computes what the checks need: each
loss, each of its terms (found by the same splitter as the trace), the gradient of each loss with
respect to each call's output and to each term, which applied gradients are non-zero, and the
values each assignment read. The function runs once on the batch, so every number comes from the
same draws. Every variable the function can touch (weights, batch-norm statistics, optimizer
slots and iterations, metrics, seed generators, assigned step variables) is saved before the run
and assigned back afterwards, also when the run raises. The recorded facts are then compared with
the trace's, one :class:`~ganviz.ir.Fact` each.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import TraceError
from ...ir.trace import Trace
from ...ir.trace_verified import Fact, Verification
from .. import tf_graph as tfg
from . import record as record_module
from .assign import _handle_map, variable_name
from .build import _Builder, optimizer_names
from .find import Found, containers, data_paths, infer_data, keras_tf, model_names, step_function, to_spec
from .phases import cut_phases
from .record import Recorder, patched

__all__ = ["verify_trace", "VerifyWarning", "RTOL"]

RTOL = 1e-4  # a loss and the weighted sum of its terms agree to this relative error


class VerifyWarning(UserWarning):
    """A fact of the drawn trace that the real step contradicts."""


# -- what the step is -------------------------------------------------------------------------------


@dataclasses.dataclass
class _System:
    step: Callable[..., Any]
    found: Found
    names: dict[int, str]
    params: list[str]
    args: tuple[Any, ...]  # the real values
    what: str
    gan: Any = None


def _random_like(spec: Any, seed: int = 0) -> Any:
    """Random values for a ``tf.TensorSpec`` (with batch 8 where its batch is unknown), else ``spec``."""
    import numpy as np
    import tensorflow as tf

    if isinstance(spec, dict):
        return {k: _random_like(v, seed + i) for i, (k, v) in enumerate(spec.items())}
    if isinstance(spec, (list, tuple)):
        return tuple(_random_like(v, seed + i) for i, v in enumerate(spec))
    if isinstance(spec, tf.TensorSpec):
        shape = tuple(8 if d is None else int(d) for d in spec.shape)
        rng = np.random.default_rng(seed)
        if spec.dtype.is_floating:
            return rng.random(shape).astype(spec.dtype.as_numpy_dtype)
        if spec.dtype.is_integer:
            return rng.integers(0, 2, shape).astype(spec.dtype.as_numpy_dtype)
        if spec.dtype == tf.bool:
            return rng.random(shape) < 0.5
        raise TraceError(f"cannot make an example batch of dtype {spec.dtype.name}: pass batch=<a real batch>")
    return spec


def _system(gan_or_step: Any, batch: Any, more: tuple[Any, ...], models: Any) -> _System:
    keras = keras_tf()
    found = Found()
    if not callable_step(gan_or_step):
        step = gan_or_step.train_step
        found.add_attributes(gan_or_step)
        params = [p for p in inspect.signature(step).parameters][:1] or ["data"]
        if batch is None:
            batch = infer_data(found)[0]
        return _System(
            step,
            found,
            model_names(found),
            params,
            (_random_like(batch),),
            f"{type(gan_or_step).__name__}.train_step",
            gan_or_step if isinstance(gan_or_step, keras.Model) else None,
        )
    plain = step_function(gan_or_step, () if batch is None else (batch, *more), models, infer_data)
    return _System(
        plain.fn,
        plain.found,
        model_names(plain.found),
        plain.params,
        tuple(_random_like(a, i) for i, a in enumerate(plain.args)),
        plain.what,
    )


def callable_step(obj: Any) -> bool:
    """A plain step function (or ``tf.function``), as opposed to a model holding a ``train_step``."""
    import keras

    return not isinstance(obj, keras.Model) and (inspect.isfunction(obj) or hasattr(obj, "python_function"))


# -- saving and restoring every piece of state --------------------------------------------------------


def _all_variables(system: _System, concrete: Any) -> list[Any]:
    """Every variable the real step can change: those its graph captured, and those of its objects."""
    found: dict[int, Any] = {}

    def add(vs: Any) -> None:
        for v in vs or ():
            found.setdefault(id(v), v)

    with contextlib.suppress(Exception):
        add(concrete.variables)
    for _, m in system.found.models.values():
        add(m.variables)
    for _, o in system.found.optimizers.values():
        add(o.variables)
    if system.gan is not None:
        add(system.gan.variables)
        with contextlib.suppress(Exception):
            for metric in system.gan.metrics:
                add(metric.variables)
    with contextlib.suppress(Exception):
        from keras.src.random.seed_generator import global_seed_generator

        add([global_seed_generator().state])
    # A Keras variable and the TensorFlow variable it holds are one piece of state: keep the Keras one.
    import keras

    held = {id(v.value) for v in found.values() if isinstance(v, keras.Variable)}
    return [v for k, v in found.items() if k not in held]


def _snapshot(variables: list[Any]) -> list[Any]:
    import numpy as np

    return [np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True) for v in variables]


def _restore(variables: list[Any], values: list[Any]) -> None:
    for v, value in zip(variables, values):
        v.assign(value)


@contextlib.contextmanager
def _unbuilt_kept(optimizers: list[Any]) -> Iterator[None]:
    """An optimizer never applied before stays so: the slots its real step built are dropped again.

    Its attributes are put back as they were (lists and dicts in place, since Keras's tracker holds
    them); the slot variables made for the check then belong to nothing.
    """
    saved = []
    for opt in optimizers:
        if getattr(opt, "built", True):
            continue
        refs = dict(opt.__dict__)
        contents = {
            k: (list(v) if isinstance(v, list) else dict(v)) for k, v in refs.items() if isinstance(v, (list, dict))
        }
        saved.append((opt, refs, contents))
    try:
        yield
    finally:
        for opt, refs, contents in saved:
            for k in [k for k in opt.__dict__ if k not in refs]:
                del opt.__dict__[k]
            for k, ref in refs.items():
                opt.__dict__[k] = ref
                if isinstance(ref, list):
                    ref[:] = contents[k]
                elif isinstance(ref, dict):
                    ref.clear()
                    ref.update(contents[k])


@contextlib.contextmanager
def _real_gradients() -> Iterator[None]:
    old = record_module.REAL_GRADIENTS
    record_module.REAL_GRADIENTS = True
    try:
        yield
    finally:
        record_module.REAL_GRADIENTS = old


# -- the evidence the graph computes --------------------------------------------------------------


@dataclasses.dataclass
class _Plan:
    """Python-side meaning of the tensors the verifying graph returns, filled while tracing."""

    call_models: list[str] = dataclasses.field(default_factory=list)
    n_targets: int = 0
    loss_names: list[str] = dataclasses.field(default_factory=list)
    n_terms: list[int] = dataclasses.field(default_factory=list)
    term_kinds: list[list[str]] = dataclasses.field(default_factory=list)
    feeds_ok: list[bool] = dataclasses.field(default_factory=list)
    stopped: list[set[int]] = dataclasses.field(default_factory=list)  # per target: calls behind a stop_gradient
    applies: list[tuple[str, list[str]]] = dataclasses.field(default_factory=list)  # (optimizer, owner per grad)
    # target, method, old read?, source read?, decay warmed up (a ``Minimum`` in the value)?
    assigns: list[tuple[str, str, bool, bool, bool]] = dataclasses.field(default_factory=list)
    events: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    optimizers: dict[str, Any] = dataclasses.field(default_factory=dict)
    # JAX: per assignment, d new / d old measured by a JVP (the decay of an EMA), in place of the
    # least-squares decay from the values of old, new and the source
    assign_slopes: list[float | None] | None = None


def _float(t: Any) -> Any:
    import tensorflow as tf

    return tf.cast(t, tf.float32)


def _nonzero(gs: list[Any]) -> Any:
    import tensorflow as tf

    flags = [tf.reduce_any(tf.not_equal(g, 0)) for g in gs if g is not None]
    return tf.reduce_any(tf.stack(flags)) if flags else tf.constant(False)


def _reads(value: Any, handles: dict[str, tuple[str, Any]], limit: int = 3000) -> list[tuple[Any, Any]]:
    """``(variable, read tensor)`` of each variable ``value`` is computed from, nearest first."""
    out: list[tuple[Any, Any]] = []

    def descend(t: Any) -> bool:
        return t.op.type != "ReadVariableOp" and t.op.type not in tfg.SHAPE_OPS

    for t in tfg.walk_up(value, descend, limit=limit):
        if t.op.type == "ReadVariableOp":
            hit = handles.get(t.op.inputs[0].name)
            if hit is not None:
                out.append((hit[1], t))
    return out


def _exits(rec: Recorder, i: int) -> list[Any]:
    """Every float tensor call ``i`` makes that is used outside it: its outputs, and what a Keras loss
    reads behind them (the logits under a sigmoid output)."""
    import tensorflow as tf

    outs = [t for t in rec.calls[i][2] if t.dtype.is_floating]
    graph = outs[0].graph if outs else tf.compat.v1.get_default_graph()
    mine = set(rec.call_ops[i])
    for name in rec.call_ops[i]:
        with contextlib.suppress(KeyError, ValueError):
            for t in graph.get_operation_by_name(name).outputs:
                if t.dtype.is_floating and any(c.name not in mine for c in t.consumers()):
                    if not any(t is o for o in outs):
                        outs.append(t)
    return outs


def _through_stop_gradient(rec: Recorder, target: Any, owner: dict[str, int], limit: int = 20000) -> set[int]:
    """Calls ``target`` is computed from only through a ``stop_gradient`` (their data flows, no gradient)."""
    plain: set[int] = set()
    stopped: set[int] = set()
    stack, seen = [(target, False)], set()
    while stack and len(seen) < limit:
        t, through = stack.pop()
        if (t.name, through) in seen:
            continue
        seen.add((t.name, through))
        i = owner.get(t.op.name)
        if i is not None:
            (stopped if through else plain).add(i)
            stack.extend((x, through) for x in rec.calls[i][1])
            continue
        if t.op.type in tfg.STOP_OPS or t.op.type in tfg.SHAPE_OPS:
            continue
        flag = through or t.op.type == "StopGradient"
        stack.extend((x, flag) for x in t.op.inputs)
    return stopped - plain


def _read_from_calls(core: Any, owner: dict[str, int], n_calls: int, limit: int = 3000) -> list[list[Any]]:
    """Per call, the tensors made inside it that ``core`` reads (its output, or the logits behind it)."""
    out: list[list[Any]] = [[] for _ in range(n_calls)]

    def descend(t: Any) -> bool:
        return t.op.name not in owner and t.op.type not in tfg.STOP_OPS and t.op.type not in tfg.SHAPE_OPS

    for t in tfg.walk_up(core, descend, limit=limit):
        i = owner.get(t.op.name)
        if i is not None and t.dtype.is_floating:
            out[i].append(t)
    return out


def _evidence(rec: Recorder, system: _System, plan: _Plan) -> list[Any]:  # noqa: C901 - one block per fact kind
    """The tensors the checks need, computed in the step's graph after the step; ``plan`` says what they are."""
    import tensorflow as tf

    b = _Builder(rec, system.found, system.names, system.params)
    targets, loss_names, _, inner = b.losses()
    out: list[Any] = []
    plan.call_models = [c[0] for c in rec.calls]
    plan.n_targets = len(targets)
    plan.loss_names = loss_names
    plan.events = list(rec.events)
    call_outs = [_exits(rec, i) for i in range(len(rec.calls))]
    # The results of inner gradients taken of a call's output (a gradient penalty reads those).
    inner_of: dict[int, list[Any]] = {}
    for gi in inner:
        tgts, results, _ = rec.grads[gi]
        for i, outs in enumerate(call_outs):
            if any(any(t is o for o in outs) for t in tgts):
                inner_of.setdefault(i, []).extend(r for r in results if r is not None)
    owner = {name: i for i, ops in enumerate(rec.call_ops) for name in ops}
    for i, target in enumerate(targets):
        plan.stopped.append(_through_stop_gradient(rec, target, owner))
        value = tf.reduce_sum(_float(target))
        n_target = _float(tf.size(target))
        terms = b.terms(target, loss_names[i], inner)
        plan.n_terms.append(len(terms))
        out.append(value)
        cores = [core for *_, core in terms]
        try:
            # Partial derivatives: every core held fixed on the others' paths, so a call output that
            # is one term's core and is read by another term too (a drift penalty on the scores of
            # ``mean(fake) - mean(real)``) gets the weight of its own term only.
            grads = tf.gradients(value, cores, stop_gradients=cores, unconnected_gradients="zero")
        except Exception:
            grads = [None] * len(cores)
        plan.term_kinds.append([kind for _, kind, *_ in terms])
        for (_, kind, *_), core, g in zip(terms, cores, grads):
            n_core = _float(tf.size(core))
            term_value = tf.reduce_sum(_float(core)) * n_target / n_core  # a per-example term enters as its mean
            out.append(term_value)
            out.append(tf.constant(float("nan")) if g is None else tf.reduce_sum(_float(g)) / n_target)
            if kind == "wasserstein":  # which way the term moves with each call's scores
                read = _read_from_calls(core, owner, len(rec.calls))
                for tensors in read:
                    try:
                        gs = tf.gradients(term_value, tensors, unconnected_gradients="zero") if tensors else []
                    except Exception:
                        gs = []
                    mine = [x for x in gs if x is not None]
                    out.append(tf.add_n([tf.reduce_sum(_float(x)) for x in mine]) if mine else tf.constant(0.0))
        try:
            flat = [t for outs in call_outs for t in outs]
            gs = tf.gradients(value, flat, unconnected_gradients="zero") if flat else []
            k = 0
            flags = []
            for ci, outs in enumerate(call_outs):
                mine = gs[k : k + len(outs)]
                k += len(outs)
                extra = inner_of.get(ci, [])
                if extra:
                    mine = list(mine) + list(tf.gradients(value, extra, unconnected_gradients="zero"))
                flags.append(_nonzero(list(mine)))
            out.extend(flags)
            plan.feeds_ok.append(True)
        except Exception:
            out.extend(tf.constant(False) for _ in call_outs)
            plan.feeds_ok.append(False)
    var_owner = b.var_owner()
    opt_names = optimizer_names(system.found, rec.applies)
    for opt, grads, variables in rec.applies:
        plan.optimizers[opt_names[id(opt)]] = opt
        owners: list[str] = []
        for g, v in zip(grads, variables):
            if g is None:
                continue
            owners.append(var_owner.get(id(v)) or var_owner.get(id(getattr(v, "value", v))) or "")
            out.append(_nonzero([g]))
        plan.applies.append((opt_names[id(opt)], owners))
    all_vars = [v for _, m in system.found.models.values() for v in m.variables]
    graph = next((v.graph for _, v, _ in rec.assigns if tfg.is_graph_tensor(v)), None)
    handles = _handle_map(graph, var_owner, all_vars) if graph is not None else {}
    for var, value, method in rec.assigns:
        target = var_owner.get(id(var)) or variable_name(var)
        old = src = None
        if tfg.is_graph_tensor(value) and value.dtype.is_floating:
            for v, read in _reads(value, handles):
                if v is var or getattr(v, "value", None) is var or getattr(var, "value", None) is v:
                    old = read if old is None else old
                elif var_owner.get(id(v)) != target and src is None and tuple(read.shape) == tuple(value.shape):
                    src = read
        new = value if tfg.is_graph_tensor(value) and value.dtype.is_floating else None
        warm = tfg.is_graph_tensor(value) and any(
            t.op.type == "Minimum" for t in tfg.walk_up(value, lambda t: t.op.type != "ReadVariableOp", limit=400)
        )
        plan.assigns.append(
            (target, method, old is not None and new is not None, src is not None and new is not None, warm)
        )
        out.append(_float(new) if new is not None else tf.constant(0.0))
        if old is not None and new is not None:
            out.append(_float(old))
        if src is not None and new is not None:
            out.append(_float(src))
    return out


def _run(system: _System) -> tuple[_Plan, list[Any], dict[str, int], dict[int, tuple[Any, Any]], float]:
    """Trace the verifying graph, run it once, restore all state; what it computed, and the seconds."""
    import tensorflow as tf

    t0 = time.perf_counter()
    rec = Recorder(system.names)
    rec.execute = True
    plan = _Plan()
    models = [m for _, m in system.found.models.values()]
    rec.containers = containers(models)
    opts = [o for _, o in system.found.optimizers.values()]
    specs = tuple(to_spec(a) for a in system.args)

    step = [system.step]

    def entry(*args: Any) -> list[Any]:
        # tf.function traces twice when the first trace creates variables (optimizer slots): keep the last.
        plan.__dict__.update(_Plan().__dict__)
        rec.reset()
        rec.data = [p for i, a in enumerate(args) for p in data_paths(a, str(i))]
        rec.recording = True
        try:
            rec.result = step[0](*args)
        finally:
            rec.recording = False
        return _evidence(rec, system, plan)

    def concrete_function() -> Any:
        try:
            return tf.function(entry, autograph=False, reduce_retracing=False).get_concrete_function(*specs)
        except tf.errors.OperatorNotAllowedInGraphError:  # Python control flow on tensors, as when tracing
            owner = getattr(system.step, "__self__", None)
            func = tf.autograph.to_graph(getattr(system.step, "__func__", system.step))
            step[0] = func if owner is None else functools.partial(func, owner)
            return tf.function(entry, autograph=False, reduce_retracing=False).get_concrete_function(*specs)

    rec.stop_code = entry.__code__
    with _unbuilt_kept(opts):
        with patched(rec, models, opts), _real_gradients():
            try:
                concrete = concrete_function()
            except Exception as exc:
                raise TraceError(
                    f"cannot check {system.what} against a real step: tracing it with real gradients and "
                    f"updates failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); fix: make the "
                    f"step run under tf.function, or draw it without verify=True"
                ) from exc
        return _execute(system, plan, concrete, t0)


def _execute(
    system: _System, plan: _Plan, concrete: Any, t0: float
) -> tuple[_Plan, list[Any], dict[str, int], dict[int, Any], float]:
    import numpy as np
    import tensorflow as tf

    variables = _all_variables(system, concrete)
    saved = _snapshot(variables)
    before = dict(zip((id(v) for v in variables), saved))
    iters_before = {name: int(opt.iterations.numpy()) for name, opt in plan.optimizers.items()}
    values = tf.nest.map_structure(tf.convert_to_tensor, system.args)
    try:
        raw = concrete(*values)
        fetched = [np.asarray(x) for x in raw]
        iters = {name: int(opt.iterations.numpy()) - iters_before[name] for name, opt in plan.optimizers.items()}
        after = {id(v): np.array(v.numpy(), copy=True) for v in variables}
    except Exception as exc:
        raise TraceError(
            f"cannot check {system.what} against a real step: the step raised {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]} (all state was restored); fix: pass batch=<a real batch the "
            f"step accepts>"
        ) from exc
    finally:
        _restore(variables, saved)
    changed = {k: (before[k], after[k]) for k in before if k in after and not np.array_equal(before[k], after[k])}
    changed_vars = {id(v): (v, changed[id(v)]) for v in variables if id(v) in changed}
    return plan, fetched, iters, changed_vars, time.perf_counter() - t0


# -- comparing ----------------------------------------------------------------------------------------


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= RTOL * max(scale, 1e-6)


def _feeding(trace: Trace) -> dict[str, set[str]]:
    """Per loss id, the call ids it is drawn to be computed from (through calls, ops and terms)."""
    ins: dict[str, tuple[str, ...]] = {c.id: c.inputs for c in trace.calls}
    ins.update({o.id: o.inputs for o in trace.ops})
    calls = {c.id for c in trace.calls}
    out: dict[str, set[str]] = {}
    for loss in trace.losses:
        stack = list(loss.inputs) + [i for t in loss.terms for i in t.inputs]
        seen: set[str] = set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            stack.extend(ins.get(x, ()))
        out[loss.id] = seen & calls
    return out


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _sign_fact(t: Any, loss: str, value: float, slope: list[float] | None, label: dict[str, str]) -> Fact | None:
    """The sign a term's kind implies: a KL is never negative; a wasserstein term rises with its scores.

    With the sign in the weight, ``-1 x wasserstein(fake_scores)`` reads as "lowers the fake
    scores"; a sign hidden inside the term (labels of -1) makes the picture say the opposite.
    """
    if t.kind == "kl":
        ok = value >= -1e-6
        return Fact(
            "sign",
            f"{t.name} of {loss}",
            ok,
            "a KL divergence (never negative)",
            f"the term is {_fmt(value)}" + ("" if ok else ": its sign is in the weight"),
        )
    if t.kind != "wasserstein" or slope is None:
        return None
    calls = [i for i in t.inputs if i.startswith("call") and i[4:].isdigit() and int(i[4:]) < len(slope)]
    if len(calls) != 1:
        return None
    s = slope[int(calls[0][4:])]
    if abs(s) < 1e-6:  # a difference of two halves of one call (fake - real of a joint call): no one sign
        return None
    scores = label.get(calls[0], calls[0])
    return Fact(
        "sign",
        f"{t.name} of {loss}",
        s > 0,
        f"{_fmt(float(t.weight or 0.0))} × mean({scores})" if t.weight is not None else f"mean({scores})",
        f"the term {'rises' if s > 0 else 'falls'} with {scores} (slope {_fmt(s)})",
    )


def _check(
    trace: Trace, plan: _Plan, fetched: list[Any], iters: dict[str, int], changed: dict[int, Any]
) -> Verification:  # noqa: C901
    import numpy as np

    facts: list[Fact] = []
    unchecked: list[str] = []
    label = {c.id: c.output or c.model for c in trace.calls}
    pos = 0

    def take() -> Any:
        nonlocal pos
        pos += 1
        return fetched[pos - 1]

    # The same Python ran twice: the calls must be the same ones, in the same order.
    trace_calls = {int(c.id[4:]): c.model for c in trace.calls if c.id.startswith("call") and c.id[4:].isdigit()}
    mismatch = [i for i, m in trace_calls.items() if i >= len(plan.call_models) or plan.call_models[i] != m]
    if mismatch:
        raise TraceError(
            f"cannot check the trace: the real step made other model calls than the traced one "
            f"({len(plan.call_models)} calls); fix: check the trace of the same system, traced with the same batch"
        )
    phase_of = {lid: p.name for p in trace.phases for lid in p.losses}
    loss_names = [x.name for x in trace.losses]
    # Two losses sharing a name (``total_loss`` in two phases) are named with their phase, as drawn.
    losses = {
        x.id: dataclasses.replace(x, name=f"{x.name} ({phase_of[x.id]})")
        if loss_names.count(x.name) > 1 and x.id in phase_of
        else x
        for x in trace.losses
    }
    feeding = _feeding(trace)
    kept_calls = [i for i in sorted(trace_calls)]
    for ti in range(plan.n_targets):
        value = float(take())
        terms: list[tuple[float, float]] = []
        slopes: list[list[float] | None] = []
        for kind in plan.term_kinds[ti]:
            terms.append((float(take()), float(take())))
            slopes.append([float(take()) for _ in plan.call_models] if kind == "wasserstein" else None)
        flags = [bool(take()) for _ in plan.call_models]
        loss = losses.get(f"loss{ti}")
        if loss is None:
            continue  # a repeat of a folded phase, or a target the trace does not draw
        if len(loss.terms) != len(terms):
            facts.append(
                Fact("loss", loss.name, False, f"{len(loss.terms)} terms", f"{len(terms)} terms split from the graph")
            )
            continue
        scale = max([abs(value)] + [abs(v * (t.weight or 0.0)) for (v, _), t in zip(terms, loss.terms)])
        if any(t.weight is None for t in loss.terms):
            unchecked.append(f"loss {loss.name}: a term's weight is not a constant")
        else:
            total = sum(float(t.weight or 0.0) * v for (v, _), t in zip(terms, loss.terms))
            shown = " + ".join(f"{_fmt(float(t.weight or 0.0))}×{t.name}" for t in loss.terms)
            err = abs(total - value) / max(scale, 1e-6)
            facts.append(
                Fact(
                    "loss",
                    loss.name,
                    _close(total, value, scale),
                    f"{loss.name} = {shown} = {_fmt(total)}",
                    f"{loss.name} = {_fmt(value)} (relative error {err:.1e})",
                )
            )
        for (_, real_w), t in zip(terms, loss.terms):
            if t.weight is None or np.isnan(real_w):
                continue
            facts.append(
                Fact(
                    "term",
                    f"{t.name} of {loss.name}",
                    _close(float(t.weight), real_w, max(1.0, abs(real_w))),
                    f"weight {_fmt(float(t.weight))}",
                    f"d {loss.name} / d {t.name} = {_fmt(real_w)}",
                )
            )
        for (v, _), slope, t in zip(terms, slopes, loss.terms):
            fact = _sign_fact(t, loss.name, v, slope, label)
            if fact is not None:
                facts.append(fact)
        if plan.feeds_ok[ti]:
            real = {f"call{i}" for i in kept_calls if flags[i]}
            stopped = {f"call{i}" for i in kept_calls if i in plan.stopped[ti] and not flags[i]}
            drawn = feeding.get(loss.id, set())
            names = lambda ids: ", ".join(sorted(label.get(i, i) for i in ids)) or "no call"  # noqa: E731
            observed = f"non-zero gradient wrt {names(real)}"
            if stopped:
                observed += f"; computed from {names(stopped)} through stop_gradient"
            facts.append(Fact("feeds", loss.name, real | stopped == drawn, f"computed from {names(drawn)}", observed))
        else:
            unchecked.append(f"loss {loss.name}: its gradients wrt the calls could not be taken")

    # Updates: who each optimizer applied gradients to, with how many variables, how many times.
    real_updates: dict[tuple[str, str], list[int]] = {}  # (optimizer, model) -> variables per application
    nonzero_models: dict[tuple[str, str], bool] = {}
    apply_sets: list[set[tuple[str, str]]] = []
    for opt, owners in plan.applies:
        per: dict[str, int] = {}
        for owner in owners:
            flag = bool(take())
            if owner:
                per[owner] = per.get(owner, 0) + 1
                nonzero_models[(opt, owner)] = nonzero_models.get((opt, owner), False) or flag
        for model, n in per.items():
            real_updates.setdefault((opt, model), []).append(n)
        apply_sets.append({(opt, m) for m in per})
    claimed: dict[tuple[str, str], tuple[int, int]] = {}
    seen_keys: set[tuple[str, str, str]] = set()
    for u in trace.updates:
        if (u.loss, u.optimizer, u.model) in seen_keys:
            continue
        seen_keys.add((u.loss, u.optimizer, u.model))
        n, times = claimed.get((u.optimizer, u.model), (0, 0))
        claimed[(u.optimizer, u.model)] = (max(n, u.variables), times + u.times)
    for key in list(dict.fromkeys([*claimed, *real_updates])):
        opt, model = key
        c = claimed.get(key)
        r = real_updates.get(key)
        claim = "no update" if c is None else f"{c[0]} variables, ×{c[1]}"
        observed = "no update" if r is None else f"{r[0]} variables with gradients, ×{len(r)}"
        holds = c is not None and r is not None and c == (r[0], len(r))
        if r is not None and not nonzero_models.get(key, False):
            observed += " (all gradients zero)"
        facts.append(Fact("update", f"{opt} -> {model}", holds, claim, observed))
    for name, delta in iters.items():
        per_model: dict[str, int] = {}
        for (opt, model), (_, times) in claimed.items():
            if opt == name:
                per_model[model] = times
        claim_n = max(per_model.values(), default=0)
        facts.append(Fact("iterations", name, claim_n == delta, f"applied ×{claim_n}", f"iterations +{delta}"))

    # Phases: the order of the updates, each phase repeated as drawn.
    drawn_seq: list[frozenset[str]] = []
    for p in trace.phases:
        if p.updates:
            drawn_seq.extend([frozenset(p.updates)] * p.repeat)
    real_seq: list[frozenset[str]] = []
    for raw in cut_phases(plan.events):
        ups = frozenset(f"{o} -> {m}" for a in raw.applies for o, m in apply_sets[a])
        if ups:
            real_seq.append(ups)

    def seq_text(seq: list[frozenset[str]]) -> str:
        parts: list[str] = []
        for s in seq:
            text = " + ".join(sorted(s))
            if parts and parts[-1].split(" ×")[0] == text:
                head, _, n = parts[-1].partition(" ×")
                parts[-1] = f"{head} ×{int(n or 1) + 1}"
            else:
                parts.append(text)
        return "; ".join(parts) or "no update"

    if drawn_seq or real_seq:
        facts.append(Fact("phases", "order of updates", drawn_seq == real_seq, seq_text(drawn_seq), seq_text(real_seq)))

    # Frozen: a model drawn frozen got no update.
    updated_models = {m for (_, m), flag in nonzero_models.items() if flag} | {m for (_, m) in real_updates}
    for m in trace.models:
        if not m.trainable or m.trainable_params == 0:
            facts.append(
                Fact(
                    "frozen",
                    m.name,
                    m.name not in updated_models,
                    "drawn frozen",
                    "updated by an optimizer" if m.name in updated_models else "no update",
                )
            )

    # Assignments: weights set without an optimizer, with their decay.
    real_assign: dict[str, dict[str, Any]] = {}
    for k, (target, method, has_old, has_src, warm) in enumerate(plan.assigns):
        new = np.asarray(take(), dtype=np.float64)
        old = np.asarray(take(), dtype=np.float64) if has_old else None
        src = np.asarray(take(), dtype=np.float64) if has_src else None
        slot = real_assign.setdefault(target, {"n": 0, "num": 0.0, "den": 0.0, "copy": True, "inc": [], "warm": False})
        slot["n"] += 1
        slot["warm"] = slot["warm"] or warm
        slope = plan.assign_slopes[k] if plan.assign_slopes is not None else None
        if slope is not None:
            slot["num"] += slope
            slot["den"] += 1.0
        elif old is not None and src is not None and plan.assign_slopes is None:
            slot["num"] += float(np.sum((new - src) * (old - src)))
            slot["den"] += float(np.sum((old - src) ** 2))
        if src is not None:
            slot["copy"] = slot["copy"] and bool(np.allclose(new, src, rtol=1e-6, atol=1e-7))
        else:
            slot["copy"] = False
        if method in ("assign_add", "assign_sub") and old is not None:
            slot["inc"].append(float(np.mean(new - old)))
    claimed_assign: dict[str, list[Any]] = {}
    for a in trace.assignments:
        claimed_assign.setdefault(a.target, []).append(a)
    for target in dict.fromkeys([*claimed_assign, *real_assign]):
        cs = claimed_assign.get(target, [])
        r = real_assign.get(target)
        n_claim = sum(a.variables for a in cs)
        kinds = sorted({a.kind + ("" if a.decay is None else f" {_fmt(a.decay)}") for a in cs})
        claim = "no assignment" if not cs else f"{n_claim} variables, {', '.join(kinds)}"
        if r is None:
            facts.append(Fact("assignment", target, False, claim, "nothing assigned"))
            continue
        parts = [f"{r['n']} variables assigned"]
        holds = bool(cs) and n_claim == r["n"]
        decays = [a.decay for a in cs if a.kind == "ema" and a.decay is not None]
        if r["den"] > 0:
            implied = r["num"] / r["den"]
            parts.append(f"implied decay {_fmt(implied)}")
            if decays and r["warm"]:  # a decay that warms up to its cap: at this step it is at most the cap
                parts.append(f"at most {_fmt(max(decays))} while it warms up")
                holds = holds and all(implied <= d + 1e-3 * max(1.0, abs(d)) for d in decays)
            elif decays:
                holds = holds and all(abs(d - implied) <= 1e-3 * max(1.0, abs(d)) for d in decays)
        elif decays:
            parts.append("decay not measurable (target equals source)")
        if any(a.kind == "copy" for a in cs):
            parts.append("a copy" if r["copy"] else "not a copy of its source")
            holds = holds and r["copy"]
        facts.append(Fact("assignment", target, holds, claim, ", ".join(parts)))
    return Verification(tuple(facts), tuple(unchecked))


def _explained(trace: Trace, plan: _Plan, changed: dict[int, Any], system: _System) -> Fact | None:
    """Every trainable model weight that changed was updated by an optimizer or assigned, as drawn."""
    b_owner: dict[int, str] = {}
    for key, (_, model) in sorted(system.found.models.items(), key=lambda kv: -len(kv[1][1].variables)):
        for v in model.trainable_variables:
            b_owner[id(v)] = system.names[key]
            if getattr(v, "value", None) is not None:
                b_owner[id(v.value)] = system.names[key]
    drawn = {u.model for u in trace.updates} | {a.target for a in trace.assignments}
    stray: dict[str, int] = {}
    for k in changed:
        owner = b_owner.get(k)
        if owner is not None and owner not in drawn:
            stray[owner] = stray.get(owner, 0) + 1
    if not b_owner:
        return None
    observed = "; ".join(f"{n} weights of {m} changed" for m, n in stray.items()) or "every changed weight is drawn"
    return Fact("explained", "changed weights", not stray, "updates and assignments as drawn", observed)


def verify_trace(
    gan_or_step: Any,
    batch: Any = None,
    *more_args: Any,
    models: Any = None,
    trace: Trace | None = None,
    warn: bool = True,
) -> Trace:
    """Trace a step, run it once for real, check the trace against what happened, restore all state.

    Args:
        gan_or_step: what ``trace_gan`` or ``trace_step`` takes: a model with a ``train_step``, or
            a step function.
        batch: a real batch (numpy arrays or tensors, a tuple/dict of them); for a step function,
            its first argument (the others follow in ``more_args``). A ``tf.TensorSpec`` (or None:
            the shape found as ``trace_gan`` finds it) gets random values, with batch 8 where unknown.
        models: for a step function, as in ``trace_step``.
        trace: the trace to check (default: traced here, with ``batch``).
        warn: issue one :class:`VerifyWarning` per fact that does not hold.

    Returns:
        The trace with ``verified`` set; the step's models, optimizers, metrics and seed state
        are as before (each variable assigned back), even when the step raises.

    Raises:
        TraceError: the step cannot be traced or run (naming the fix).
    """
    from .tracing import _backend, trace_gan, trace_step

    t0 = time.perf_counter()
    if trace is None:  # first, so that a system that cannot be traced gets the tracer's own message
        if callable_step(gan_or_step):
            args = () if batch is None else (batch, *more_args)
            trace = trace_step(gan_or_step, *args, models=models)
        else:
            trace = trace_gan(gan_or_step, data=batch)
    system: Any
    if _backend() == "jax":
        from .jax_verify import jax_evidence

        plan = _Plan()
        fetched, iters, changed, system = jax_evidence(
            gan_or_step, batch, more_args, models, plan, callable_step(gan_or_step)
        )
    elif _backend() == "torch":
        from .torch_verify import torch_evidence

        plan = _Plan()
        fetched, iters, changed, system = torch_evidence(
            gan_or_step, batch, more_args, models, plan, callable_step(gan_or_step)
        )
    else:
        system = _system(gan_or_step, batch, more_args, models)
        plan, fetched, iters, changed, _ = _run(system)
    unread = ()
    if changed is None:  # JAX, a plain step function: its result is not Keras's state
        changed, unread = {}, ("optimizer iterations and changed weights: the step returns its own values, not "
                               "Keras's (logs, state)",)  # fmt: skip
    result = _check(trace, plan, fetched, iters, changed)
    extra = None if unread else _explained(trace, plan, changed, system)
    facts = result.facts + ((extra,) if extra is not None else ())
    verification = Verification(facts, result.unchecked + unread, round(time.perf_counter() - t0, 3))
    if warn:
        for fact in verification.failed:
            warnings.warn(f"ganviz.verify_trace: {fact.sentence()}", VerifyWarning, stacklevel=2)
    return dataclasses.replace(trace, verified=verification)
