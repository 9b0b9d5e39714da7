"""``trace_gan``/``trace_step`` on the PyTorch backend: the eager step run once on fake tensors.

The step (``train_step(self, data)`` as Keras's "customizing fit() with PyTorch" guide writes it,
or a plain step function) runs once inside a ``keras.StatelessScope`` that gives every floating
variable (the models', the optimizers', the metrics') a ``FakeTensor`` of its shape as its value,
and the data a fake tensor too: no model op computes (``torch_record.OpRecorder`` sends every op
with a fake input to torch's ``FakeTensorMode``, random ops included, so no generator advances).
Integer variables (step counters, seed states) get a real copy of their value, so Python code that
reads one (``int(counter)``) runs; the small ops on those copies and on constants run for real.
Every ``assign`` lands in the scope, never in a variable; ``backward``, ``autograd.grad`` and
``optimizer.apply`` are stand-ins (``torch_record``). The ``.grad`` of the real parameters (a
step's ``zero_grad()`` reaches them) and torch's random state are put back afterwards.

The result is the same :class:`~ganviz.ir.Trace` as on TensorFlow (``ganviz.trace/2``), built by
``torch_build`` with ``jax_build``'s arithmetic, never ``verified``. ``verify_trace`` runs the same
step here once more with real copies in the scope instead of fakes (``torch_verify.py``). TensorFlow
and JAX are never imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import TraceError
from ...ir.trace import Trace
from .find import Found, Step, first_line, gan_found, gan_step, inferred_input, plain_example, step_function
from .guard import keras_loops_refused, no_trace_left
from .jax_build import Roles
from .phases import unique_phase_names
from .torch_build import TorchBuilder
from .torch_record import OpRecorder, TorchRecorder, _tensors, torch_patched

__all__ = ["trace_gan_torch", "trace_step_torch"]

_INFER_BATCH = 8


def _variables(objects: list[Any]) -> list[tuple[str, Any]]:
    """``(group, variable)`` of every variable the objects hold, each once: models' trainable and
    non-trainable variables, then optimizers', then metrics'."""
    out: dict[int, tuple[str, Any]] = {}
    for obj in objects:
        for attr, group in (("trainable_variables", "trainable"), ("non_trainable_variables", "non_trainable")):
            for v in getattr(obj, attr, None) or []:
                out.setdefault(id(v), (group, v))
    for obj in objects:
        for attr, group in (("variables", "optimizer"), ("metrics_variables", "metrics")):
            for v in getattr(obj, attr, None) or []:
                out.setdefault(id(v), (group, v))
    return list(out.values())


def _to_tensor(value: Any, fake_mode: Any) -> Any:
    """An example batch as fake tensors (numpy arrays and tensors converted, containers kept); with no
    ``fake_mode`` (verifying), as real copies."""
    import numpy as np
    import torch

    if isinstance(value, dict):
        return {k: _to_tensor(v, fake_mode) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_to_tensor(v, fake_mode) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, (np.ndarray, torch.Tensor)) or hasattr(value, "__array__"):
        t = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
        if t.dtype == torch.float64:
            t = t.float()
        return t.detach().clone() if fake_mode is None else fake_mode.from_tensor(t.detach())
    return plain_example(value, "PyTorch", "a numpy array, a torch tensor")


def _infer_data(found: Found) -> tuple[Any, str]:
    import numpy as np

    shape, _, origin = inferred_input(found, _INFER_BATCH, "an example batch")
    return np.zeros(shape, "float32"), origin


@contextlib.contextmanager
def _no_new_torch_params(objects: list[Any]) -> Iterator[None]:
    """Keras's torch layers make their ``ParameterDict`` lazily (at a step's first ``zero_grad()``):
    made here from the real values (inside the trace's scope it would hold fakes, and fail on an
    integer variable), and removed again afterwards, as it was."""
    import torch

    layers: dict[int, Any] = {}
    for obj in objects:
        for m in obj.modules() if isinstance(obj, torch.nn.Module) else []:
            layers.setdefault(id(m), m)
    missing = [m for m in layers.values() if "_torch_params" not in m.__dict__ and "_torch_params" not in m._modules]
    try:
        for m in missing:
            track = getattr(m, "_track_variables", None)
            if track is not None:
                track()
        yield
    finally:
        for m in missing:
            if "_torch_params" in m._modules:
                del m._modules["_torch_params"]
            m.__dict__.pop("_torch_params", None)


@contextlib.contextmanager
def _fake_state(variables: list[tuple[str, Any]], fake_mode: Any) -> Iterator[tuple[dict[int, Any], Any]]:
    """A ``StatelessScope`` mapping each floating variable to a fake tensor (with no ``fake_mode``,
    verifying: a real copy) and each other one to a real copy; the real parameters' ``.grad`` and
    torch's random state put back on exit. Yields each variable's value in the scope, and the scope."""
    import keras
    import torch

    mapping = []
    for _, v in variables:
        real = v._value  # noqa: SLF001 - the variable's own tensor, read once for its metadata
        if real is None:
            continue
        if real.is_floating_point():
            fake = real.detach().clone() if fake_mode is None else fake_mode.from_tensor(real.detach())
            if v.trainable:
                fake.requires_grad_(True)
            mapping.append((v, fake))
        else:  # a Parameter, as Keras's torch layers keep every value (their ``ParameterDict``)
            mapping.append((v, torch.nn.Parameter(real.detach().clone(), requires_grad=False)))
    grads = [(v._value, v._value.grad) for _, v in variables if v._value is not None]  # noqa: SLF001
    rng = torch.get_rng_state()
    scope = keras.StatelessScope(state_mapping=mapping)
    try:
        with scope:
            values = {id(v): scope.get_current_value(v) for v, _ in mapping}
            yield values, scope
    finally:
        for tensor, grad in grads:
            tensor.grad = grad
        torch.set_rng_state(rng)


def _trace(step: Step, into: dict[str, Any] | None = None) -> Trace | None:
    """The step's trace; with ``into`` (``torch_verify.py``), the step runs for real instead, on copies
    in the scope, and ``into`` gets the builder, the inputs' values, the recorder and each variable's
    value before and after (no trace)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    owners, params = step.owners, step.params
    names, models, opts, inner = step.models()
    fake_mode = None if into is not None else FakeTensorMode(allow_non_fake_inputs=True)
    ops = OpRecorder(fake_mode, real=into is not None)
    rec = TorchRecorder(names, ops)
    rec.containers = inner
    variables = _variables([*owners, *models, *opts])
    roles = Roles()
    ins = []
    guards = no_trace_left([*models, *opts, *owners])
    with (
        guards,
        keras_loops_refused("PyTorch"),
        _no_new_torch_params([*owners, *models]),
        _fake_state(variables, fake_mode) as (values, scope),
    ):
        rec.scope = scope
        inputs: list[Any] = []  # verifying: each input's value as the step starts
        for group, v in variables:
            value = values.get(id(v))
            if value is None:
                continue
            roles.variables[len(ins)] = (group, v)
            inputs.append(value.detach().clone() if into is not None else None)
            ins.append(ops.bind(value, ops.new("input", aval=value, index=len(ins))))
        fake_args = _to_tensor(step.args, fake_mode)
        leaves = _leaf_names(fake_args, params)
        for t, name in leaves:
            roles.data[len(ins)] = name
            inputs.append(t.detach().clone() if into is not None else None)
            ins.append(ops.bind(t, ops.new("input", aval=t, index=len(ins))))
        for node in ins:  # kept first: kept index k is input k, as jax_build reads names
            rec.keep(next(t for t in ops.held if ops.node.get(id(t)) is node))
        box: list[Any] = []

        def entry() -> None:
            rec.recording = True
            try:
                box.append(step.fn(*fake_args))
            finally:
                rec.recording = False
            rec.capture_final()

        rec.stop_code = entry.__code__
        try:
            with torch_patched(rec, models, opts):
                entry()
        except TraceError:
            raise
        except Exception as exc:
            if into is not None:
                raise TraceError(f"cannot run {step.what}: {type(exc).__name__}: {first_line(exc)}{step.note}") from exc
            raise TraceError(
                f"cannot trace {step.what} on fake tensors: {type(exc).__name__}: {first_line(exc)}{step.note}; "
                f"fix: the step must not read a model's values in Python (.item(), .numpy(), float() of a loss)"
            ) from exc
        result = _logs(box[0] if box else None, rec)
        after = {id(v): scope.get_current_value(v) for _, v in variables} if into is not None else {}
    builder = TorchBuilder(rec, step.found, names, ins, rec.kept_nodes, roles, params, result)
    if into is not None:
        by_var = {id(v[1]): v for v in roles.variables.values()}
        for node, var in rec.rebound:  # a weight an update wrote is still that variable
            if id(var) in by_var:
                builder.var_of[node.id] = by_var[id(var)]
        before = {id(v): inputs[k] for k, (_, v) in roles.variables.items()}
        into.update(builder=builder, values=inputs, rec=rec, variables=variables, before=before, after=after)
        return None
    return unique_phase_names(builder.trace(step.name))


def _logs(result: Any, rec: TorchRecorder) -> Any:
    """The step's returned logs with each tensor as its kept index (``jax_build`` names losses by them)."""
    if isinstance(result, dict):
        return {k: (rec.keep(v) if rec.is_mine(v) else None) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return [_logs(x, rec) for x in result]
    return None


def _leaf_names(args: tuple[Any, ...], params: list[str]) -> list[tuple[Any, str]]:
    """Each tensor of the step's arguments with its name (``data[0]`` for the first of ``data``)."""
    out: list[tuple[Any, str]] = []

    def visit(x: Any, name: str) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                visit(v, f"{name}[{k!r}]")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                visit(v, f"{name}[{i}]")
        elif _tensors(x):
            out.append((x, name))

    for i, a in enumerate(args):
        visit(a, params[i] if i < len(params) else f"arg{i}")
    return out


def trace_gan_torch(gan: Any, *, data: Any = None, _into: dict[str, Any] | None = None) -> Trace:
    """``trace_gan`` on the PyTorch backend: ``gan.train_step(data)`` run once on fake tensors
    (``_into``: see :func:`_trace`, the verifier's real run; nothing is returned then)."""
    import keras

    train_step, found = gan_found(gan, keras)
    for name, value in list(getattr(gan, "_modules", {}).items()):  # torch keeps sub-models here
        if not name.startswith("_") and value is not None:
            found.searched.append(name)
            found.add(name, value)
    return _trace(gan_step(gan, train_step, found, data, _infer_data, 1), _into)  # type: ignore[return-value]


def trace_step_torch(
    step_fn: Callable[..., Any], *example_args: Any, models: Any = None, _into: dict[str, Any] | None = None
) -> Trace:
    """``trace_step`` on the PyTorch backend: a plain step function run once on fake tensors."""
    return _trace(step_function(step_fn, example_args, models, _infer_data), _into)  # type: ignore[return-value]
