"""Break a traced loss into weighted terms and tell each term's kind from Keras loss objects or ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import tf_graph as tfg
from .term_walk import SumReader, walk_terms

__all__ = [
    "LOSS_CLASS_KINDS",
    "LOSS_FUNCTION_CLASSES",
    "keras_loss_class",
    "mixes_penalty",
    "reaches",
    "split_terms",
    "term_kind",
]

# Keras loss classes (and their function names) by the term kind they compute.
LOSS_CLASS_KINDS = {
    "BinaryCrossentropy": "bce",
    "BinaryFocalCrossentropy": "bce",
    "CategoricalCrossentropy": "cce",
    "SparseCategoricalCrossentropy": "sparse_cce",
    "CategoricalFocalCrossentropy": "cce",
    "MeanSquaredError": "mse",
    "MeanAbsoluteError": "mae",
    "Hinge": "hinge",
    "SquaredHinge": "hinge",
    "CategoricalHinge": "hinge",
    "KLDivergence": "kl",
    "Huber": "huber",
    "LogCosh": "log_cosh",
    "CosineSimilarity": "cosine_similarity",
    "Poisson": "poisson",
}
# The functions of ``keras.losses`` by the class that wraps each (``MeanSquaredError`` wraps
# ``mean_squared_error``): a step calling one directly gets the class's kind.
LOSS_FUNCTION_CLASSES = {
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "mean_squared_error": "MeanSquaredError",
    "mean_absolute_error": "MeanAbsoluteError",
    "hinge": "Hinge",
    "squared_hinge": "SquaredHinge",
    "categorical_hinge": "CategoricalHinge",
    "kl_divergence": "KLDivergence",
    "huber": "Huber",
    "log_cosh": "LogCosh",
    "cosine_similarity": "CosineSimilarity",
    "poisson": "Poisson",
}


def keras_loss_class(loss: Any) -> str:
    """The Keras loss class whose kind ``loss`` computes, found from the object, not from its name.

    A ``keras.losses`` function (by identity), a Keras loss object by the function it wraps
    (``LossFunctionWrapper.fn``), else by the first Keras loss class it derives from (a user's
    subclass of ``MeanSquaredError``); anything else keeps its own class name (no known kind).
    """
    import keras

    functions = {id(getattr(keras.losses, f, None)): c for f, c in LOSS_FUNCTION_CLASSES.items()}
    if id(loss) in functions:
        return functions[id(loss)]
    fn = getattr(loss, "fn", None)
    if fn is not None and id(fn) in functions:
        return functions[id(fn)]
    for klass in type(loss).__mro__:
        if klass.__name__ in LOSS_CLASS_KINDS and getattr(keras.losses, klass.__name__, None) is klass:
            return klass.__name__
    return type(loss).__name__


_ADD = frozenset({"AddV2", "Add", "AddN"})
_PASS = frozenset({"Identity", "Cast", "StopGradient"})
_BCE_OPS = frozenset({"Log1p", "Softplus", "Log", "Xlogy", "SigmoidCrossEntropyWithLogits"})
_CCE_OPS = frozenset({"SoftmaxCrossEntropyWithLogits"})
_SPARSE_CCE_OPS = frozenset({"SparseSoftmaxCrossEntropyWithLogits"})
_HINGE_OPS = frozenset({"Relu", "Maximum"})
_SQUARE_OPS = frozenset({"Square", "SquaredDifference", "Pow"})
_LINEAR_OPS = frozenset(
    {"Mean", "Sum", "Neg", "Sub", "Mul", "AddV2", "Add", "AddN", "RealDiv", "DivNoNan", "Identity", "Cast", "Reshape"}
    | {"Squeeze", "ExpandDims", "StridedSlice", "Const", "ConcatV2", "Fill", "OnesLike", "ZerosLike"}
    | {"Split", "SplitV", "Slice", "Pack"}  # halves of a joint call, shapes of a reshape
)


def _scalar_value(tensor: Any) -> float | None:
    """The value of a scalar constant tensor (``10.0``, ``self.gp_weight``), else None."""
    import numpy as np
    import tensorflow as tf

    try:
        if tensor.shape.num_elements() != 1:
            return None
        value = tf.get_static_value(tensor)
    except Exception:
        return None
    if value is None:
        return None
    return float(np.asarray(value).reshape(()))


_UNIFORM_PASS = frozenset({"Identity", "Cast", "Reshape", "ExpandDims", "Squeeze", "BroadcastTo", "Tile"})


def _uniform_value(tensor: Any, depth: int = 0) -> float | None:
    """The one value every element of a constant tensor holds (``-tf.ones((n, 1))``: -1), else None.

    Label vectors made of one constant (``ones``, ``-ones``, ``fill(shape, 0.9)``) scale what they
    multiply exactly as a scalar would, whatever the batch size.
    """
    import numpy as np
    import tensorflow as tf

    op = tensor.op
    if depth > 8:
        return None
    if op.type == "Const":
        try:
            value = np.asarray(tf.get_static_value(tensor))
        except Exception:
            return None
        if value.size == 0 or not np.issubdtype(value.dtype, np.number):
            return None
        first = float(value.reshape(-1)[0])
        return first if bool(np.all(value == value.reshape(-1)[0])) else None
    if op.type == "Fill" and len(op.inputs) == 2:
        return _scalar_value(op.inputs[1])
    if op.type in ("OnesLike", "ZerosLike"):
        return 1.0 if op.type == "OnesLike" else 0.0
    if op.type == "Neg":
        v = _uniform_value(op.inputs[0], depth + 1)
        return None if v is None else -v
    if op.type in _UNIFORM_PASS and op.inputs:
        return _uniform_value(op.inputs[0], depth + 1)
    if op.type in ("Mul", "AddV2", "Add", "Sub") and len(op.inputs) == 2:
        a, b = (_uniform_value(x, depth + 1) for x in op.inputs)
        if a is None or b is None:
            return None
        return a * b if op.type == "Mul" else (a - b if op.type == "Sub" else a + b)
    return None


def _same_shape(a: Any, b: Any) -> bool:
    """Whether two tensors have the same static shape (unknown dimensions match each other)."""
    try:
        sa, sb = a.shape.as_list(), b.shape.as_list()
    except (ValueError, AttributeError):
        return False
    return sa == sb


def _factor(t: Any, x: Any) -> float | None:
    """The constant ``x`` multiplies ``t``'s other operand by: a scalar, or a uniform label vector that
    does not broadcast it to more elements."""
    v = _scalar_value(x)
    if v is None and _same_shape(t, t.op.inputs[0] if t.op.inputs[1] is x else t.op.inputs[1]):
        v = _uniform_value(x)
    return v


def _peel(t: Any, w: float | None) -> tuple[Any, float | None] | None:
    """One step through a pass-through op, a negation or a scaling by a constant, else None.

    A constant is a scalar or a label vector of one value (``mean(-labels * scores)`` with labels
    ``-1`` is ``+1 x mean(scores)``), and a mean of such a scaling is the scaled mean.
    """
    op = t.op
    if op.type in _PASS and op.inputs:
        return op.inputs[0], w
    if op.type == "Neg":
        return op.inputs[0], None if w is None else -w
    if op.type in ("Mul", "RealDiv") and len(op.inputs) == 2:
        a, b = op.inputs
        vb = _factor(t, b)
        if vb is not None and (op.type == "Mul" or vb != 0):
            return a, None if w is None else w * (vb if op.type == "Mul" else 1.0 / vb)
        va = _factor(t, a) if op.type == "Mul" else None
        if va is not None:
            return b, None if w is None else w * va
    inner = None
    if op.type == "Mean" and op.inputs:  # mean(c * x) = c * mean(x): the term is x, entering as its mean
        inner = op.inputs[0]
    elif op.type in _NORMALIZE and len(op.inputs) == 2 and op.inputs[0].op.type == "Sum" and _size_only(op.inputs[1]):
        inner = op.inputs[0].op.inputs[0]  # sum(c * x) / batch (compute_average_loss) of per-example x
        if inner.shape.rank != 1:
            inner = None
    if inner is not None and (
        inner.op.type == "Neg"
        or (inner.op.type == "Mul" and any(_factor(inner, x) is not None for x in inner.op.inputs))
    ):
        return _peel(inner, w)
    return None


_REDUCE = frozenset({"Sum", "Mean"})
_NORMALIZE = frozenset({"RealDiv", "DivNoNan"})
_SIZE_OPS = frozenset({"Const", "Cast", "Mul", "StridedSlice", "Pack", "Prod", "Identity", "Maximum"}) | tfg.SHAPE_OPS


def _size_only(t: Any, limit: int = 32) -> bool:
    """Whether ``t`` is computed from shapes and constants only (a batch size that a mean divides by)."""
    stack, seen = [t], 0
    while stack:
        seen += 1
        if seen > limit:
            return False
        x = stack.pop()
        if x.op.type not in _SIZE_OPS:
            return False
        if x.op.type not in tfg.SHAPE_OPS:
            stack.extend(x.op.inputs)
    return True


def _through_reduction(t: Any, stops: Callable[[Any], bool]) -> Any | None:
    """The sum under a mean: ``reduce_sum(a + b) / batch`` -> ``a + b``, else None.

    A mean (or sum, or ``compute_average_loss``) of per-example terms is the sum of their means,
    so its terms are those of the per-example sum, each with the same weight.
    """
    op = t.op
    if op.type in _NORMALIZE and len(op.inputs) == 2 and _size_only(op.inputs[1]):
        return _through_reduction(op.inputs[0], stops)
    if op.type in _REDUCE and op.inputs:
        x = op.inputs[0]
        for _ in range(4):
            if stops(x):  # a model's output (its last layer may be an addition)
                return None
            if x.op.type in _ADD or x.op.type == "Sub":
                return x
            if x.op.type not in _PASS and x.op.type != "Reshape":
                return None
            x = x.op.inputs[0]
    return None


def _is_constant(t: Any) -> bool:
    """A term whose value is known while tracing (``tf.constant(0.0)`` for a model without losses)."""
    if t.op.type == "Const":
        return True
    return t.op.type in _PASS and bool(t.op.inputs) and _is_constant(t.op.inputs[0])


def reaches(tensor: Any, names: set[str], *, stops: Callable[[Any], bool], limit: int = 2000) -> bool:
    """Whether ``tensor`` is computed from one of the tensors named in ``names`` (walking up to ``stops``)."""

    def descend(t: Any) -> bool:
        return not (stops(t) or t.op.type in tfg.STOP_OPS or t.op.type in tfg.SHAPE_OPS)

    return any(t.name in names for t in tfg.walk_up(tensor, descend, limit=limit))


def mixes_penalty(tensor: Any, gradient_results: set[str], *, stops: Callable[[Any], bool]) -> bool:
    """Whether a named sum holds a gradient penalty next to other terms (``per_example + 0.5 * g * r1``).

    Such a local is split, so that the penalty is a term of its own.
    """
    if not gradient_results:
        return False
    t = tensor
    for _ in range(8):
        step = _peel(t, 1.0)
        summed = None if step is not None else _through_reduction(t, stops)
        if step is None and summed is None:
            break
        t = step[0] if step is not None else summed
    if t.op.type not in _ADD and t.op.type != "Sub":
        return False
    flags = [reaches(x, gradient_results, stops=stops) for x in t.op.inputs if not _is_constant(x)]
    return any(flags) and not all(flags)


def split_terms(
    root: Any,
    *,
    is_leaf: Callable[[Any], bool],
    atomic: frozenset[str] = frozenset(),
    stops: Callable[[Any], bool] = lambda t: False,
    split_sum: Callable[[Any], bool] = lambda t: False,
    keeps_sign: Callable[[Any], bool] = lambda t: False,
    limit: int = 64,
) -> list[tuple[Any, float | None, Any]]:
    """The additive terms of ``root`` as ``(named tensor, weight, core tensor)``, in the order added.

    Sums and differences split; a product or quotient with a scalar constant scales the weight;
    a negation flips its sign. A tensor for which ``is_leaf`` holds (a named local, a Keras loss's
    result) is not split further, except ``root`` itself, but its scalings still count in the
    weight (``cycle_loss = mae(...) * 10`` is a term of weight 10); the core is what remains.
    ``atomic`` names tensors never looked into (the result of a Keras loss, whose mean divides by
    the batch size). A mean or sum of a sum (``reduce_mean(a + b)``, ``compute_average_loss``) splits
    into the sum's terms where ``split_sum`` holds for the sum (it mixes a gradient penalty with
    other terms), unless the sum is a model's output (``stops``). A constant term is dropped.
    A negative factor stays inside a term for which ``keeps_sign`` holds of what it scales (the
    ``-0.5`` of a closed-form KL is part of the divergence, not a weight that maximises it).
    """

    read = SumReader(
        _peel,
        lambda t: _through_reduction(t, stops),
        lambda t: t.op.inputs if t.op.type in _ADD else None,
        lambda t: (t.op.inputs[0], t.op.inputs[1]) if t.op.type == "Sub" else None,
        _is_constant,
    )
    return walk_terms(
        root,
        read,
        is_leaf=is_leaf,
        atomic=lambda t: t.name in atomic,
        stops=stops,
        split_sum=split_sum,
        keeps_sign=keeps_sign,
        limit=limit,
    )


def term_kind(
    tensor: Any,
    *,
    stops: Callable[[Any], bool],
    gradient_results: set[str],
    loss_classes: dict[str, str],
    limit: int = 2000,
) -> str:
    """The kind of a loss term, from the Keras loss that made it or the ops between it and its inputs.

    Args:
        tensor: the term.
        stops: whether a tensor ends the walk (a model call's output, the data, a source).
        gradient_results: names of gradient tensors used as data (a gradient penalty).
        loss_classes: tensor name -> Keras loss class name, for results of Keras loss objects.
    """
    op_types: set[str] = set()
    reached = {"data": False, "vars": False}

    def descend(t: Any) -> bool:
        op = t.op
        if stops(t) or op.type == "Placeholder" or tfg.is_random_op(op.type):
            reached["data"] = True
            return False
        if op.type in tfg.STOP_OPS:
            reached["vars"] = True
            return False
        if op.type in tfg.SHAPE_OPS:
            return False
        op_types.add(op.type)
        return True

    for t in tfg.walk_up(tensor, descend, limit=limit):
        if t.name in gradient_results:
            return "gradient_penalty"
        kind = LOSS_CLASS_KINDS.get(loss_classes.get(t.name, ""))
        if kind is not None:
            return kind
    reached_data, reached_vars = reached["data"], reached["vars"]
    if op_types & _SPARSE_CCE_OPS:
        return "sparse_cce"
    if op_types & _CCE_OPS:
        return "cce"
    if op_types & _BCE_OPS:
        return "bce"
    if "Exp" in op_types and op_types & _SQUARE_OPS:
        return "kl"
    if "Rsqrt" in op_types and "Relu" not in op_types and "Sum" in op_types:
        return "cosine_similarity"  # products of l2-normalised vectors (the Maximum is the norm's epsilon)
    if op_types & _HINGE_OPS:
        return "hinge"
    if "Abs" in op_types:
        return "mae"
    if op_types & _SQUARE_OPS:
        return "regularization" if not reached_data and reached_vars else "mse"
    if not reached_data:
        return "regularization" if reached_vars else "other"
    if op_types <= _LINEAR_OPS:
        return "wasserstein"
    return "other"
