"""Record a PyTorch training step run on fake tensors: every aten op as a node, model calls, losses, ``backward``, ``apply``.

The tracer (``torch_trace.py``) swaps the variables' values for ``FakeTensor`` s, so no model op
computes. :class:`OpRecorder` is a ``TorchDispatchMode`` that sends every op with a fake input to
the fake mode and writes it down as a :class:`~.jax_graph.Node` named as the matching JAX
primitive (``aten.mean`` becomes ``reduce_sum`` then ``div`` by the count), so that ``jax_build``'s
arithmetic (weights and signs of loss terms, kinds, EMA decays) reads a torch step as it reads a
jaxpr. Random ops run on the fake mode too (no generator advances); ops on real tensors only
(constants, Python-side counters) run for real and their small results are kept as constants.

While recording, ``loss.backward()`` and ``torch.autograd.grad`` are stand-ins: nothing is
differentiated, each reached leaf gets ``zeros + 0 * sum(loss)`` as its gradient (so the gradient's
origin stays in the graph, as ``jax_record``'s stand-ins do), and ``optimizer.apply`` records which
gradients go to which variables and applies nothing. With :attr:`OpRecorder.real` (``verify_trace``,
``torch_verify.py``) every op runs for real, ``backward``/``autograd.grad`` also take the real
gradients and ``apply`` really updates the scope's copies; each node then carries how it is computed
again (its ``eqn``). TensorFlow and JAX are never imported.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import types
from collections.abc import Iterator
from typing import Any

from .jax_graph import Node
from .step_record import Patches, StepRecorder, defining_class, module_dirs, patch_keras

__all__ = ["TorchRecorder", "OpRecorder", "torch_patched"]

_SCALAR = types.SimpleNamespace(shape=(), dtype="float32")

# aten op (overload packet name) -> the JAX primitive name ``jax_build`` knows it by.
_SAME = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "div": "div",
    "neg": "neg",
    "log": "log",
    "log1p": "log1p",
    "xlogy": "xlogy",
    "exp": "exp",
    "sqrt": "sqrt",
    "rsqrt": "rsqrt",
    "abs": "abs",
    "maximum": "max",
    "minimum": "min",
    "clamp_min": "max",
    "relu": "max",
    "where": "select_n",
    "cat": "concatenate",
    "sum": "reduce_sum",
    "amax": "reduce_max",
    "max": "reduce_max",
    "square": "square",
    "pow": "integer_pow",
    "mm": "dot_general",
    "matmul": "dot_general",
    "t": "transpose",
    "permute": "transpose",
    "transpose": "transpose",
    "slice": "slice",
    "select": "gather",
    "index": "gather",
    "gather": "gather",
    "binary_cross_entropy": "log",  # a BCE written with torch.nn.functional: the log is inside
    "binary_cross_entropy_with_logits": "log1p",
    "softplus": "log1p",
    "tile": "tile",
    "repeat": "tile",
}
_PASS = {"detach": "stop_gradient", "alias": "copy", "clone": "copy", "_to_copy": "convert_element_type"}
_PASS |= {"to": "convert_element_type", "contiguous": "copy", "lift_fresh_copy": "copy", "copy": "copy"}
_SHAPE = {"view": "reshape", "reshape": "reshape", "_unsafe_view": "reshape", "flatten": "reshape"}
_SHAPE |= {"unsqueeze": "expand_dims", "squeeze": "squeeze", "expand": "broadcast_in_dim"}
_FILL = {"ones": 1.0, "zeros": 0.0, "ones_like": 1.0, "zeros_like": 0.0, "new_ones": 1.0, "new_zeros": 0.0}
_RANDOM = {"randn", "rand", "randn_like", "rand_like", "normal", "normal_", "uniform", "uniform_", "bernoulli"}
_RANDOM |= {"bernoulli_", "randint", "randint_like", "randperm", "multinomial", "exponential_", "random_"}
_CONST_LIMIT = 4096  # real results up to this many elements are kept as constants


def _tensors(tree: Any) -> list[Any]:
    import torch

    out: list[Any] = []

    def visit(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            out.append(x)
        elif isinstance(x, (list, tuple)):
            for y in x:
                visit(y)
        elif isinstance(x, dict):
            for y in x.values():
                visit(y)

    visit(tree)
    return out


class OpRecorder:
    """The node of every tensor an op produced while recording, by the tensor's identity."""

    def __init__(self, fake_mode: Any, real: bool = False) -> None:
        self.fake_mode = fake_mode
        self.real = real  # verifying: every op runs for real and each node can be computed again (``eqn``)
        self.counter = 0
        self.node: dict[int, Node] = {}
        self.held: list[Any] = []  # every tensor seen, so that no id is reused while recording
        self.paused = False

    def new(self, prim: str, inputs: tuple[Node, ...] = (), aval: Any = None, **kw: Any) -> Node:
        self.counter += 1
        return Node(self.counter, prim, inputs, aval=aval, **kw)

    def literal(self, value: Any) -> Node:
        return self.new("literal", aval=_SCALAR, value=value)

    def bind(self, tensor: Any, node: Node) -> Node:
        self.held.append(tensor)
        self.node[id(tensor)] = node
        return node

    def of(self, x: Any) -> Node:
        """The node of a tensor (a constant node for a real tensor made before recording) or a scalar."""
        import torch

        if not isinstance(x, torch.Tensor):
            return self.literal(x)
        hit = self.node.get(id(x))
        if hit is not None:
            return hit
        return self.bind(x, self.constant(x))

    def constant(self, t: Any, prim: str = "const", inputs: tuple[Node, ...] = (), **kw: Any) -> Node:
        """A node whose value is ``t`` as it is now (when verifying, a copy of it to compute with)."""
        eqn = _Const(t.detach().clone()) if self.real else None
        value = _value_of(t) if prim == "const" else None
        return self.new(prim, inputs, aval=t, value=value, eqn=eqn, **kw)

    def mode(self) -> Any:
        """The ``TorchDispatchMode`` that records (entered by ``torch_patched``)."""
        from torch._subclasses.fake_tensor import FakeTensor
        from torch.utils._python_dispatch import TorchDispatchMode

        rec = self

        class _Record(TorchDispatchMode):
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                kwargs = kwargs or {}
                name = func.overloadpacket.__name__ if hasattr(func, "overloadpacket") else str(func)
                ins = _tensors((args, kwargs))
                if rec.real:  # verifying: every op runs for real; "fake" means computed from the step's inputs
                    fake = not rec.paused and (
                        name in _RANDOM or any(rec.of(t).prim not in ("const", "literal") for t in ins)
                    )
                    replay = None if rec.paused else _Aten.of(func, args, kwargs, rec)
                    out = func(*args, **kwargs)
                    if not rec.paused:
                        rec.record(name, args, kwargs, out, fake, replay)
                    return out
                fake = any(isinstance(t, FakeTensor) for t in ins) or name in _RANDOM
                if fake:
                    with rec.fake_mode:
                        out = func(*args, **kwargs)
                else:
                    out = func(*args, **kwargs)
                if not rec.paused:
                    rec.record(name, args, kwargs, out, fake)
                return out

        return _Record()

    def record(
        self, name: str, args: Any, kwargs: dict[str, Any], out: Any, fake: bool, replay: _Aten | None = None
    ) -> None:
        """Write down one op. ``replay`` (verifying): the op with its tensor arguments' nodes, to run again."""
        import torch

        outs = _tensors(out)
        if not outs:
            return
        tensor_args = [a for a in args if isinstance(a, torch.Tensor)]
        if not fake and all(self.of(a).prim in ("const", "literal") for a in tensor_args):
            fill = name in _FILL or name in ("full", "full_like", "new_full", "fill", "fill_")
            if fill and outs[0].numel() > 1:  # a filled tensor (labels): a literal broadcast, as in a jaxpr
                value = _FILL.get(name, args[-1] if args and not isinstance(args[-1], torch.Tensor) else None)
                value = kwargs.get("fill_value") if value is None else value
                self.bind(outs[0], self.constant(outs[0], "broadcast_in_dim", (self.literal(value),)))
                return
            if fill or all(t.numel() <= 1 for t in outs):  # a real scalar of constants: folded
                for t in outs:
                    self.bind(t, self.constant(t))
                return
        if name in _RANDOM:  # verifying: the draw as it was made
            for t in outs:
                self.bind(t, self.constant(t, "rng_uniform"))
            return
        real = self.real
        if name in ("mean",):
            x = self.of(args[0])
            count = (x.size or 0) / max(1, outs[0].numel())
            eqn = _Scaled(replay, count) if real and replay is not None else None
            total = self.new("reduce_sum", (x,), aval=outs[0], params={"axes": _axes(args, kwargs)}, eqn=eqn)
            self.bind(outs[0], self.new("div", (total, self.literal(float(count))), aval=outs[0], eqn=_fn(real, _div)))
            return
        if name == "rsub":  # c - x
            inputs = (self.of(args[1]), self.of(args[0]))
            self.bind(outs[0], self.new("sub", inputs, aval=outs[0], eqn=_fn(real, _sub)))
            return
        operands = [a for a in args if isinstance(a, (torch.Tensor, int, float)) and not isinstance(a, bool)]
        if name == "cat":
            operands = list(args[0])
        elif name in _SHAPE or name in _PASS or name in ("sum", "amax", "max", "pow", "clamp_min", "mean"):
            operands = [args[0]] + ([args[1]] if name == "pow" else [])
        elif name in ("copy_",):
            operands = [args[1]]
        inputs = tuple(self.of(a) for a in operands)
        alpha = kwargs.get("alpha")
        if name.rstrip("_") in ("add", "sub") and alpha not in (None, 1) and len(inputs) == 2:
            scaled = self.new("mul", (inputs[1], self.literal(alpha)), aval=_SCALAR, eqn=_fn(real, _mul))
            inputs = (inputs[0], scaled)
        base = name.rstrip("_") if name.endswith("_") and name != "copy_" else name
        prim = "copy" if name == "copy_" else _SAME.get(base) or _PASS.get(base) or _SHAPE.get(base) or base
        params: dict[str, Any] = {}
        if prim == "reduce_sum":
            params = {"axes": _axes(args, kwargs)}
        for k, t in enumerate(outs):
            self.bind(t, self.new(prim, inputs, aval=t, params=params, index=k, eqn=replay))


# -- verifying: how each recorded node is computed again (``torch_verify``) ---------------------------


class _Const:
    """A node's value as the real step made it (a draw, a real gradient, a weight after an update)."""

    leaves: tuple[Node, ...] = ()

    def __init__(self, value: Any) -> None:
        self.value = value

    def run(self, n: Node, values: dict[int, Any]) -> Any:
        return self.value


class _Fn:
    """A node computed by a small function of its inputs' values (the pieces a ``mean`` or ``rsub`` became)."""

    leaves: tuple[Node, ...] = ()

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def run(self, n: Node, values: dict[int, Any]) -> Any:
        return self.fn(*[values[x.id] for x in n.inputs])


def _fn(real: bool, fn: Any) -> _Fn | None:
    return _Fn(fn) if real else None


def _div(a: Any, b: Any) -> Any:
    return a / b


def _sub(a: Any, b: Any) -> Any:
    return a - b


def _mul(a: Any, b: Any) -> Any:
    return a * b


class _Aten:
    """One aten op as recorded: run again with each tensor argument replaced by its node's value (an
    in-place op on a copy of the tensor it writes)."""

    def __init__(self, func: Any, spec: Any, flat: list[Any], slots: list[int], leaves: tuple[Node, ...]) -> None:
        self.func, self.spec, self.flat, self.slots, self.leaves = func, spec, flat, slots, leaves
        schema = getattr(func, "_schema", None)
        self.inplace = bool(schema is not None and schema.arguments and schema.arguments[0].alias_info is not None
                            and schema.arguments[0].alias_info.is_write)  # fmt: skip

    @classmethod
    def of(cls, func: Any, args: Any, kwargs: dict[str, Any], rec: OpRecorder) -> _Aten:
        import torch
        from torch.utils._pytree import tree_flatten

        flat, spec = tree_flatten((args, kwargs))
        slots = [i for i, x in enumerate(flat) if isinstance(x, torch.Tensor)]
        leaves = tuple(rec.of(flat[i]) for i in slots)  # before the op runs: an in-place op's input as it was
        return cls(func, spec, [None if i in slots else x for i, x in enumerate(flat)], slots, leaves)

    def run(self, n: Node, values: dict[int, Any]) -> Any:
        from torch.utils._pytree import tree_unflatten

        flat = list(self.flat)
        for k, (i, leaf) in enumerate(zip(self.slots, self.leaves)):
            v = values[leaf.id]
            flat[i] = v.clone() if k == 0 and self.inplace else v
        args, kwargs = tree_unflatten(flat, self.spec)
        out = _tensors(self.func(*args, **kwargs))
        return out[n.index] if n.index < len(out) else out[0]


class _Scaled:
    """A ``mean`` run again, times its count (the ``reduce_sum`` it was written as)."""

    def __init__(self, mean: _Aten, count: float) -> None:
        self.mean, self.count, self.leaves = mean, count, mean.leaves

    def run(self, n: Node, values: dict[int, Any]) -> Any:
        return self.mean.run(n, values) * self.count


def _axes(args: Any, kwargs: dict[str, Any]) -> Any:
    dims = args[1] if len(args) > 1 else kwargs.get("dim")
    return tuple(dims) if isinstance(dims, (list, tuple)) else dims


def _value_of(t: Any) -> Any:
    from torch._subclasses.fake_tensor import FakeTensor

    if isinstance(t, FakeTensor) or t.numel() > _CONST_LIMIT or t.device.type == "meta":
        return None
    try:
        return t.detach().cpu().numpy()
    except Exception:
        return None


_LIBRARIES = ("torch", "keras", "numpy", "functorch", "optree")


class TorchRecorder(StepRecorder):
    """What one step did (``StepRecorder`` 's lists), values by index into :attr:`kept_nodes`."""

    def __init__(self, model_names: dict[int, str], ops: OpRecorder) -> None:
        super().__init__(model_names, module_dirs(_LIBRARIES))
        self.ops = ops
        self.kept_nodes: list[Node] = []
        self.assigns: list[tuple[Any, int | None]] = []
        self.assigning = False
        self.scope: Any = None  # verifying: the scope of copies the step runs in (``torch_trace``)
        self.rebound: list[tuple[Node, Any]] = []  # verifying: (node, variable) of each value an update wrote
        self.autograd_grad: Any = None  # torch's own ``autograd.grad`` (set while patched)

    def is_mine(self, value: Any) -> bool:
        import torch

        return isinstance(value, torch.Tensor) and id(value) in self.ops.node

    def kept_key(self, value: Any) -> Any:
        return (id(value), self.ops.node[id(value)].id)  # one tensor written in place is a new value

    def on_kept(self, value: Any) -> None:
        self.kept_nodes.append(self.ops.node[id(value)])

    def keep_leaves(self, tree: Any) -> list[int | None]:
        return [self.keep(x) for x in _tensors(_plain_values(tree))]

    def in_tape(self) -> bool:
        import torch

        return bool(torch.is_grad_enabled())  # autograd records the call

    def standin_backward(
        self, targets: list[Any], inputs: list[Any] | None, create_graph: bool, grad_outputs: Any = None
    ) -> list[Any]:
        """Gradients of ``targets`` for ``inputs`` (``autograd.grad``) or for every leaf they reach
        (``backward``): ``zeros + 0 * sum(target)``, nothing differentiated. When verifying, the real
        gradients (taken unrecorded, the graph kept), each a node of the same shape whose value is known."""
        import torch

        roots = [t for t in targets if isinstance(t, torch.Tensor)]
        sources = list(inputs) if inputs is not None else _leaves(roots)
        real = self._real_grads(roots, sources, create_graph, grad_outputs) if self.ops.real else None
        context = contextlib.nullcontext() if create_graph else torch.no_grad()
        with context:
            anchor = None
            for t in roots:
                s = torch.sum(t) * 0
                anchor = s if anchor is None else anchor + s
            grads = []
            for k, p in enumerate(sources):
                self.ops.paused = True  # one node of our own: zeros + the anchor, as jax_record's stand-in
                try:
                    g = real[k] if real is not None else torch.zeros(tuple(p.shape), dtype=p.dtype) + anchor
                finally:
                    self.ops.paused = False
                zeros = self.ops.new("broadcast_in_dim", (self.ops.literal(0.0),), aval=g)
                self.ops.bind(g, self.ops.constant(g, "add", (zeros, self.ops.of(anchor))))
                grads.append(g)
        frames = self.capture(sys._getframe(3))
        self.on_gradient(frames, roots[0] if roots else None, roots, [grads], [sources], None)
        return grads

    def _real_grads(self, roots: list[Any], sources: list[Any], create_graph: bool, grad_outputs: Any) -> list[Any]:
        """The real gradients of ``roots`` for ``sources`` (zeros where one does not depend on it), unrecorded."""
        import torch

        wanted = [k for k, p in enumerate(sources) if isinstance(p, torch.Tensor) and p.requires_grad]
        got: tuple[Any, ...] = ()
        self.ops.paused = True
        try:
            if wanted and any(r.requires_grad for r in roots):
                got = self.autograd_grad(
                    roots,
                    [sources[k] for k in wanted],
                    grad_outputs=grad_outputs,
                    retain_graph=True,
                    create_graph=create_graph,
                    allow_unused=True,
                )
            by_k = dict(zip(wanted, got))
            return [by_k.get(k) if by_k.get(k) is not None else torch.zeros_like(p) for k, p in enumerate(sources)]
        finally:
            self.ops.paused = False

    def rebind(self, variables: list[Any]) -> None:
        """Verifying: after a real update, each variable's value as it is now (the next phase reads it)."""
        for v in variables:
            t = getattr(v, "value", None)
            if t is not None and hasattr(t, "detach"):
                node = self.ops.constant(t)
                self.ops.bind(t, node)
                self.rebound.append((node, v))

    def on_assign(self, variable: Any, value: Any, frame: types.FrameType | None) -> None:
        self.capture(frame)
        self.assigns.append((variable, self.keep(value)))


def _plain_values(tree: Any) -> Any:
    """Keras variables as their tensors."""
    if isinstance(tree, (list, tuple)):
        return [_plain_values(x) for x in tree]
    if isinstance(tree, dict):
        return [_plain_values(x) for x in tree.values()]
    value = getattr(tree, "value", None) if type(tree).__name__ == "Variable" else None
    return tree if value is None else value


def _leaves(roots: list[Any]) -> list[Any]:
    """The leaf tensors (requiring grad) that ``backward`` of ``roots`` would accumulate into, by the
    autograd graph (walked, never run)."""
    out: list[Any] = []
    seen: set[int] = set()
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    for r in roots:
        if r.grad_fn is None and r.requires_grad:
            out.append(r)
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        leaf = getattr(fn, "variable", None)
        if leaf is not None:
            if all(leaf is not x for x in out):
                out.append(leaf)
            continue
        stack.extend(f for f, _ in fn.next_functions)
    return out


@contextlib.contextmanager
def torch_patched(rec: TorchRecorder, models: list[Any], optimizers: list[Any]) -> Iterator[None]:
    """While ``rec.recording``: record model ``__call__``, Keras losses, noise, ``Tensor.backward``,
    ``torch.autograd.grad``, ``optimizer.apply`` and ``Variable.assign`` (the op recorder runs as a mode)."""
    import keras
    import torch

    patches = Patches()

    def wrap_backward(orig: Any) -> Any:
        def backward(
            self: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False, inputs: Any = None
        ) -> None:
            if not rec.recording or rec.depth:
                return orig(self, gradient, retain_graph, create_graph, inputs)
            targets = [self]
            chosen = None if inputs is None else list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            sources = chosen if chosen is not None else _leaves(targets)
            grads = rec.standin_backward(targets, sources, create_graph, gradient)
            rec.grads[-1]["trainable"] = rec.trainable_of(models)
            for leaf, g in zip(sources, grads):
                leaf.grad = g if leaf.grad is None else leaf.grad + g
            return None

        return backward

    def wrap_autograd_grad(orig: Any) -> Any:
        @functools.wraps(orig)
        def grad(outputs: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording or rec.depth:
                return orig(outputs, inputs, *args, **kwargs)
            outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            create = bool(kwargs.get("create_graph", args[2] if len(args) > 2 else False))
            grads = rec.standin_backward(outs, ins, create, kwargs.get("grad_outputs", args[0] if args else None))
            rec.grads[-1]["trainable"] = rec.trainable_of(models)
            return tuple(grads)

        return grad

    def wrap_apply(orig: Any) -> Any:
        def apply(self: Any, grads: Any, trainable_variables: Any = None) -> Any:
            if not rec.recording or rec.depth:
                return orig(self, grads, trainable_variables)
            variables = list(trainable_variables) if trainable_variables is not None else []
            rec.on_apply(self, list(grads), variables, sys._getframe(1))
            if not rec.ops.real:
                return None  # never applied while tracing
            rec.ops.paused = True  # verifying: the real update, on the scope's copies
            try:
                if not self.built:  # built for the step (the guards put it back); its new slots get copies too
                    self.build(variables)
                    for v in self.variables:
                        if rec.scope.get_current_value(v) is None:
                            rec.scope.add_update((v, v.value.detach().clone()))
                out = orig(self, grads, trainable_variables)
            finally:
                rec.ops.paused = False
            rec.rebind([*variables, *self.variables])
            return out

        return apply

    def wrap_assign(orig: Any) -> Any:
        def assign(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording or rec.depth or rec.loss_depth or rec.assigning or not rec.called_from_user():
                return orig(self, value, *args, **kwargs)
            rec.assigning = True
            try:
                out = orig(self, value, *args, **kwargs)
            finally:
                rec.assigning = False
            rec.on_assign(self, self.value, sys._getframe(1))
            return out

        return assign

    def wrap_zero_grad(orig: Any) -> Any:
        def zero_grad(self: Any, set_to_none: bool = True) -> None:
            orig(self, set_to_none)  # the real parameters (their .grad is put back after the trace)
            if rec.recording:  # the values the step sees are the scope's fakes
                for v in getattr(self, "trainable_variables", None) or []:
                    with contextlib.suppress(Exception):
                        v.value.grad = None

        return zero_grad

    rec.autograd_grad = torch.autograd.grad
    try:
        noise = ("randn", "rand", "randn_like", "rand_like", "normal", "randint", "bernoulli")
        patch_keras(patches, rec, models, keras, [(torch, noise)])
        patches.patch(torch.nn.Module, "zero_grad", wrap_zero_grad)
        patches.patch(torch.Tensor, "backward", wrap_backward)
        patches.patch(torch.autograd, "grad", wrap_autograd_grad)
        for cls in dict.fromkeys([keras.optimizers.Optimizer, *(type(o) for o in optimizers)]):
            patches.patch(defining_class(cls, "apply"), "apply", wrap_apply)
        for method in ("assign", "assign_add", "assign_sub"):
            patches.patch(defining_class(keras.Variable, method), method, wrap_assign)
        with rec.ops.mode():
            yield
    finally:
        patches.restore()
