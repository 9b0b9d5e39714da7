"""``train_on_batch`` and ``predict`` of compiled models, recorded while a step is traced, never run.

A classic Keras GAN step calls ``generator.predict(noise)``, ``discriminator.train_on_batch(imgs,
valid)`` and ``combined.train_on_batch(noise, valid)``. Run inside a trace, Keras would build (and
cache) its own train function under the stand-in optimizer and return numbers that do not exist
yet. Instead, while tracing, each call is recorded as what it means:

* ``m.train_on_batch(x, y)`` is one update of ``m`` by ``m.optimizer``: a call of ``m`` on ``x``
  (for a model made of the step's other models, such as ``combined = Model(z, D(G(z)))``, the calls
  of those models), its compiled loss on each output (the loss function as compiled, by kind, times
  its ``loss_weights`` entry) against the targets ``y``, and a gradient of the total applied to the
  variables trainable in ``m``. Keras 3 reads ``trainable`` when ``m``'s train function is first
  built, so the set is taken at ``m``'s first ``train_on_batch`` (of the trace, when ``m`` was never
  trained before) and kept for its later ones, as Keras does;
* ``m.predict(x)`` (and ``predict_on_batch``, ``test_on_batch``) is a call of ``m`` outside any tape.

Numpy values the step makes itself become named sources: an array of one repeated value
(``valid = np.ones((batch, 1))``) a constant, any other array a random draw (``noise``,
``sampled_labels``). ``train_on_batch`` returns zeros shaped like Keras's result (so ``0.5 *
np.add(d_loss_real, d_loss_fake)`` and the progress print still run); ``predict`` returns the
symbolic output.
"""

from __future__ import annotations

import dis
import sys
import types
from dataclasses import dataclass, field
from typing import Any

from .. import tf_graph as tfg

__all__ = [
    "CompiledRecord",
    "EMULATED",
    "Emulator",
    "emulate",
    "assigned_name",
    "loss_label",
    "add_compiled",
    "captured_trainable",
    "trap_warning",
    "trap_note",
    "orphan_warnings",
    "nothing_trainable_text",
    "compiled_outputs",
    "trainable_when_set",
]

EMULATED = ("train_on_batch", "predict", "predict_on_batch", "test_on_batch")

# Keras loss names (functions, classes, compile strings) -> the class whose term kind they share.
_LOSS_CLASSES = {
    "mean_squared_error": "MeanSquaredError",
    "mse": "MeanSquaredError",
    "mean_absolute_error": "MeanAbsoluteError",
    "mae": "MeanAbsoluteError",
    "binary_crossentropy": "BinaryCrossentropy",
    "bce": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "hinge": "Hinge",
    "squared_hinge": "SquaredHinge",
    "categorical_hinge": "CategoricalHinge",
    "kl_divergence": "KLDivergence",
    "kld": "KLDivergence",
}
# Short labels for the compiled loss functions, as a picture writes them.
_SHORT = {
    "MeanSquaredError": "mse",
    "MeanAbsoluteError": "mae",
    "BinaryCrossentropy": "bce",
    "BinaryFocalCrossentropy": "bce",
    "CategoricalCrossentropy": "cce",
    "SparseCategoricalCrossentropy": "sparse_cce",
    "Hinge": "hinge",
    "SquaredHinge": "hinge",
    "CategoricalHinge": "hinge",
    "KLDivergence": "kl",
}


@dataclass
class CompiledRecord:
    """One recorded ``train_on_batch``: what it updates, with which losses, against which targets."""

    model: Any
    optimizer: Any
    total: Any  # the loss tensor (the gradient's target)
    loss_name: str
    trains: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    trained_params: dict[str, int] = field(default_factory=dict)  # per trained model: its parameters trained here
    # per compiled output: (output name, loss name as compiled, loss class, weight, prediction tensor, target tensor)
    outputs: list[tuple[str, str, str, float | None, Any, Any]] = field(default_factory=list)


def loss_label(identifier: Any, resolved: Any) -> tuple[str, str]:
    """``(name as compiled, class for its kind)``: ``("mse", "MeanSquaredError")``, or a custom
    function's own name twice (its kind is then read from its ops)."""
    fn = getattr(resolved, "fn", None)
    raw = identifier if isinstance(identifier, str) else getattr(fn, "__name__", None) or type(resolved).__name__
    if not isinstance(identifier, str) and fn is None:
        raw = type(resolved).__name__
    name = str(raw)
    cls = _LOSS_CLASSES.get(name.lower(), name)
    if fn is not None and cls == name:
        cls = _LOSS_CLASSES.get(getattr(fn, "__name__", ""), cls)
    short = _SHORT.get(cls, name)
    return short, cls


def assigned_name(frame: types.FrameType | None) -> str | None:
    """The local that the call running in ``frame`` is stored to (``d_loss_real = d.train_on_batch(...)``)."""
    if frame is None:
        return None
    for ins in dis.get_instructions(frame.f_code):  # f_lasti: the call (or its last inline cache entry)
        if ins.offset <= frame.f_lasti or ins.opname in ("CACHE", "PRECALL", "EXTENDED_ARG"):
            continue
        if ins.opname in ("STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL"):
            return str(ins.argval)
        return None
    return None


_PARSED: dict[tuple[str, int], Any] = {}


def argument_texts(frame: types.FrameType | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The source text of each argument of the call running in ``frame``, by parameter name: a
    string (``"-valid"``), or a list of strings for a list or tuple literal (``[valid, -valid,
    dummy]``); a text too long to be a label is None. Empty when the source cannot be read."""
    import ast
    import linecache

    if frame is None:
        return {}
    code = frame.f_code
    try:
        start, end, col, end_col = list(code.co_positions())[frame.f_lasti // 2]
    except Exception:
        return {}
    lines = linecache.getlines(code.co_filename)
    if None in (start, end, col, end_col) or not lines:
        return {}
    source = "".join(lines)
    key = (code.co_filename, hash(source))
    if key not in _PARSED:
        try:
            _PARSED[key] = ast.parse(source)
        except (SyntaxError, ValueError):
            _PARSED[key] = None
    tree = _PARSED[key]
    where = (start, end, col, end_col)
    calls = ast.walk(tree) if tree is not None else ()
    call = next(
        (
            n
            for n in calls
            if isinstance(n, ast.Call) and (n.lineno, n.end_lineno, n.col_offset, n.end_col_offset) == where
        ),
        None,
    )
    if call is None or any(isinstance(a, ast.Starred) for a in call.args):
        return {}

    def text(node: ast.expr) -> str | None:
        segment = ast.get_source_segment(source, node)
        return segment if segment and len(segment) <= 32 and "\n" not in segment else None

    def texts(node: ast.expr) -> Any:
        if isinstance(node, (ast.List, ast.Tuple)) and not any(isinstance(e, ast.Starred) for e in node.elts):
            return [text(e) for e in node.elts]
        return text(node)

    out: dict[str, Any] = {name: texts(arg) for name, arg in zip(names, call.args)}
    out.update({k.arg: texts(k.value) for k in call.keywords if k.arg in names})
    return out


def _user_frame(start: types.FrameType | None) -> types.FrameType | None:
    frame = start
    while frame is not None and tfg.is_library_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _local_name(frame: types.FrameType | None, value: Any) -> str | None:
    if frame is None:
        return None
    for scope in (frame.f_locals, frame.f_globals):
        for k, v in list(scope.items()):
            if v is value and not k.startswith("_") and k != "self":
                return str(k)
    return None


class Emulator:
    """Records the Keras training calls of one trace (see the module's docstring)."""

    def __init__(self, rec: Any) -> None:
        self.rec = rec
        self.records: list[CompiledRecord] = []
        self.first_trainable: dict[int, list[Any]] = {}
        self.arrays: dict[int, tuple[Any, Any]] = {}  # id(numpy value) -> (value, tensor)
        self.extra_models: list[tuple[str, Any]] = []

    # -- models ------------------------------------------------------------------------------

    def register(self, model: Any, frame: types.FrameType | None) -> str:
        names = self.rec.model_names
        if id(model) in names:
            return str(names[id(model)])
        base = _local_name(frame, model) or model.name
        name, i = base, 1
        while name in names.values():
            name, i = f"{base}_{i}", i + 1
        names[id(model)] = name
        self.extra_models.append((name, model))
        return name

    def parts(self, model: Any) -> list[Any]:
        """The step's models that ``model`` is made of (``combined``: the generator and the discriminator)."""
        names = self.rec.model_names
        try:
            layers = list(model._flatten_layers(include_self=False))  # noqa: SLF001
        except Exception:
            return []
        return [m for m in layers if id(m) in names and m is not model]

    def output_names(self, model: Any, n: int) -> list[str]:
        """A name per output: the step's model that computes it (``discriminator``), that model's own
        output name when it has several (``validity``, ``label``), else the output layer's name; a
        single output of a plain model is the model's name."""
        names = _output_names(model, n)
        try:
            outputs = list(model.outputs)
        except Exception:
            return names
        if len(outputs) != n:
            return names
        out = []
        for i, t in enumerate(outputs):
            history = getattr(t, "_keras_history", None)
            op = getattr(history, "operation", None)
            if op is not None and id(op) in self.rec.model_names and op is not model:
                own = _output_names(op, len(op.outputs)) if len(op.outputs) > 1 else [self.rec.model_names[id(op)]]
                index = getattr(history, "tensor_index", 0)
                out.append(own[index] if index < len(own) else names[i])
            else:
                out.append(names[i])
        return out

    # -- values ------------------------------------------------------------------------------

    def tensor(self, value: Any, frame: types.FrameType | None, text: Any = None) -> Any:
        """``value`` as a graph tensor: tensors as they are, numpy values as named sources (by the
        local holding them, else by the expression the call was given: ``-valid``)."""
        import numpy as np
        import tensorflow as tf

        if value is None or tfg.is_graph_tensor(value):
            return value
        if isinstance(value, dict):
            return {k: self.tensor(v, frame) for k, v in value.items()}
        if isinstance(value, (list, tuple)) and not _is_number_list(value):
            each = text if isinstance(text, list) and len(text) == len(value) else [None] * len(value)
            items = [self.tensor(v, frame, t) for v, t in zip(value, each)]
            return items if isinstance(value, list) else tuple(items)
        hit = self.arrays.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        arr = np.asarray(value)
        dtype = tf.float32 if arr.dtype.kind == "f" else tf.as_dtype(arr.dtype)
        if arr.size and np.all(arr == arr.flat[0]):
            t = tf.fill(arr.shape, tf.constant(arr.flat[0], dtype))
        elif dtype.is_integer:
            t = tf.random.uniform(arr.shape, 0, int(arr.max()) + 1, dtype=dtype)
        else:
            t = tf.random.normal(arr.shape, dtype=dtype)
        name = _local_name(frame, value) or (text if isinstance(text, str) else None)
        if name is not None:
            self.rec.names.setdefault(t.name, name)
        self.arrays[id(value)] = (value, t)
        return t

    # -- the calls ---------------------------------------------------------------------------

    def register_parts(self, model: Any) -> None:
        """A model made of the step's models (``combined``) gets its other direct parts registered too
        (InfoGAN's auxiliary Q model, which the step itself never names)."""
        import keras

        if not self.parts(model):
            return
        try:
            direct = list(model._flatten_layers(include_self=False, recursive=False))  # noqa: SLF001
        except Exception:
            return
        for layer in direct:
            if isinstance(layer, keras.Model) and id(layer) not in self.rec.model_names:
                self.register(layer, None)

    def call(self, model: Any, x: Any, training: bool) -> Any:
        rec = self.rec
        if self.parts(model):
            rec.transparent.add(id(model))
        try:
            return model(x, training=training)
        finally:
            rec.transparent.discard(id(model))

    def predict(self, model: Any, x: Any, frame: types.FrameType | None, texts: dict[str, Any] | None = None) -> Any:
        self.register(model, frame)
        self.register_parts(model)
        return self.call(model, self.tensor(x, frame, (texts or {}).get("x")), training=False)

    def train_on_batch(
        self,
        model: Any,
        x: Any,
        y: Any,
        sample_weight: Any,
        frame: types.FrameType | None,
        result_name: str | None,
        texts: dict[str, Any] | None = None,
    ) -> Any:
        import tensorflow as tf

        rec = self.rec
        mname = self.register(model, frame)
        if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
            from ...errors import TraceError

            raise TraceError(
                f"cannot trace {mname}.train_on_batch: {mname} is not compiled; fix: call "
                f"{mname}.compile(optimizer=..., loss=...) before the step, as Keras needs to train it"
            )
        self.register_parts(model)
        texts = texts or {}
        xs, ys = self.tensor(x, frame, texts.get("x")), self.tensor(y, frame, texts.get("y"))
        sw = self.tensor(sample_weight, frame, texts.get("sample_weight"))
        self.check_batch(mname, xs, ys, x, y, frame)
        if model.train_function is None:  # Keras 3 fixes the set when the train function is first built
            trainable = self.first_trainable.setdefault(id(model), list(model.trainable_variables))
        else:
            trainable = captured_trainable(model)[0]
        chosen = {id(v) for v in trainable}
        parts = self.parts(model) or [model]
        record = CompiledRecord(model, model.optimizer, None, result_name or f"{mname}_loss")
        for p in parts:
            pname = rec.model_names[id(p)]
            weights = list(p.weights)
            if any(id(v) in chosen for v in weights):
                record.trains.append(pname)
                record.trained_params[pname] = sum(_size(v) for v in weights if id(v) in chosen)
            elif weights:
                record.frozen.append(pname)
        with tf.GradientTape() as tape:
            y_pred = self.call(model, xs, training=True)
            total = self.loss(model, ys, y_pred, sw, record, frame)
        rec.names.setdefault(total.name, record.loss_name)
        record.total = total
        self.records.append(record)
        rec.emulating += 1
        try:
            # Keras takes no gradient when nothing is trainable ("The model does not have any trainable
            # weights"); the empty one here keeps the loss, with no update, in its own phase.
            grads = tape.gradient(total, trainable)
            model.optimizer.apply_gradients(list(zip(grads, trainable)))
        finally:
            rec.emulating -= 1
        return _placeholder_result(model, len(record.outputs))

    def check_batch(self, mname: str, xs: Any, ys: Any, x: Any, y: Any, frame: Any) -> None:
        """One clear line when the inputs and targets of a ``train_on_batch`` disagree on the batch size
        (the script's ``valid = np.ones((batch_size, 1))`` against example data of another batch)."""
        import tensorflow as tf

        def batches(structure: Any, raw: Any) -> list[tuple[int, str]]:
            out = []
            flat_raw = tf.nest.flatten(raw) if raw is not None else []
            for i, t in enumerate(tf.nest.flatten(structure) if structure is not None else []):
                if tfg.is_graph_tensor(t) and t.shape.rank and t.shape[0] is not None:
                    name = self.rec.names.get(t.name) or (
                        _local_name(frame, flat_raw[i]) if i < len(flat_raw) else None
                    )
                    out.append((int(t.shape[0]), name or "an input"))
            return out

        sizes = batches(xs, x) + batches(ys, y)
        if len({n for n, _ in sizes}) > 1:
            from ...errors import TraceError

            shown = ", ".join(f"{name} {n}" for n, name in sizes)
            raise TraceError(
                f"cannot trace {mname}.train_on_batch: its inputs and targets have different batch sizes "
                f"({shown}); fix: give example data of the batch size the step's arrays use "
                f"(CLI: --batch-size N; Python: an example batch of N, or tf.TensorSpec((N, ...)))"
            )

    def loss(self, model: Any, y: Any, y_pred: Any, sample_weight: Any, record: CompiledRecord, frame: Any) -> Any:
        """The compiled loss of ``model``, one named term per output, weighted as compiled."""
        import tensorflow as tf
        from keras.src.trainers.compile_utils import get_loss

        preds = tf.nest.flatten(y_pred)
        targets = tf.nest.flatten(y) if y is not None else []
        if isinstance(y, dict):
            targets = [y.get(n) for n in _output_names(model, len(preds))]
        specs = _compiled_losses(model, len(preds))
        out_names = self.output_names(model, len(preds))
        inner = {r.name for _, results, _ in self.rec.grads for r in results if r is not None}
        terms = []
        for i, (pred, (identifier, weight)) in enumerate(zip(preds, specs)):
            if identifier is None or i >= len(targets):
                continue
            target = targets[i]
            resolved = get_loss(identifier, target, pred)
            short, cls = loss_label(identifier, resolved)
            sw = sample_weight[i] if isinstance(sample_weight, (list, tuple)) else sample_weight
            self.rec.depth += 1  # the loss object's own recording is replaced by the one below
            try:
                value = tf.cast(resolved(target, pred, sw), tf.float32)
            finally:
                self.rec.depth -= 1
            if not (inner and _reaches(pred, inner)):  # a penalty on a gradient norm keeps its own kind
                self.rec.loss_calls.append((cls, value))
            target_name = self.rec.names.get(target.name) or tfg.forward_name(target, self.rec.names) or "y"
            self.rec.names.setdefault(value.name, f"{short}({out_names[i]}, {target_name})")
            record.outputs.append((out_names[i], short, cls, weight, pred, target))
            terms.append(value if weight is None else value * float(weight))
        for reg in list(getattr(model, "losses", []) or []):  # add_loss / regularizers, as Keras adds them
            terms.append(tf.reduce_sum(tf.cast(reg, tf.float32)))
        if not terms:
            return tf.constant(0.0)
        total = terms[0] if len(terms) > 1 else tf.identity(terms[0])
        for t in terms[1:]:
            total = total + t
        return total


def captured_trainable(model: Any) -> tuple[list[Any], bool]:
    """``(variables model.train_on_batch updates, whether its train function is built)``.

    Measured on Keras 3.x, TensorFlow backend (a 2-layer model, 4 weights): ``trainable = False``
    before the first ``train_on_batch``, then ``True``: the later ``train_on_batch`` changes 0 of 4
    weights and ``optimizer.built`` stays False (no ``apply`` ever ran); built while trainable, then
    frozen: it changes 4 of 4 and ``optimizer._trainable_variables`` still holds the 4 (the model's
    ``trainable_variables`` 0). ``make_train_function(force=True)`` or ``compile`` again (which sets
    ``train_function`` to None) makes it read the flags anew. So: before the train function is
    built, the set is the current ``trainable_variables``; after, the optimizer's
    ``_trainable_variables`` (of this model's weights) when it is built, else nothing.
    """
    if getattr(model, "train_function", None) is None:
        return list(model.trainable_variables), False
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(opt, "built", False):
        return [], True
    mine = {id(v) for v in model.weights}
    held = list(getattr(opt, "_trainable_variables", []) or [])
    return [v for v in held if id(v) in mine], True


def trainable_when_set(model: Any) -> tuple[int, int]:
    """``(variables, parameters)`` that ``model.trainable = True`` makes trainable, whatever the
    flags say now (Keras 3's setter sets every layer's flag and the variables each layer made
    trainable; a frozen discriminator's 0 trainable weights become its own update's)."""
    variables = [
        v
        for layer in model._flatten_layers(include_self=True)  # noqa: SLF001
        for v in getattr(layer, "_trainable_variables", [])
    ]
    unique = list({id(v): v for v in variables}.values())
    return len(unique), sum(_size(v) for v in unique)


def _owners(model: Any, variables: list[Any]) -> list[str]:
    """The direct parts of ``model`` (or the model) owning ``variables``, by Keras name."""
    import keras

    chosen = {id(v) for v in variables}
    try:
        layers = list(model._flatten_layers(include_self=False, recursive=False))  # noqa: SLF001
    except Exception:
        layers = []
    parts = [m for m in layers if isinstance(m, keras.Model)] or [model]
    return [str(p.name) for p in parts if any(id(v) in chosen for v in p.weights)]


def nothing_trainable_text(name: str, *, built: bool, how: str = "now", other: str | None = None) -> str:
    """The warning for a compiled model whose ``train_on_batch`` updates no weight, with the fix.

    ``built``: its train function was built so (a fact of the model). Else ``how`` says what makes
    it certain: ``"traced"`` (the traced step calls it with no weight trainable, and that call
    builds the train function) or a script's name (``"dcgan.py"``: its loop never sets a trainable
    flag back). ``other`` is the compiled model that holds it frozen (``combined``), for the fix.
    """
    then = f" (and False again before {other}.train_on_batch)" if other else ""
    if built:
        return (
            f"{name}.train_on_batch trains nothing: its train function was built while no weight was trainable, "
            f"and Keras 3 keeps that set whatever the flags say later; fix: set the flags, then call "
            f"{name}.make_train_function(force=True) (or compile {name} again)"
        )
    why = (
        f"no weight of {name} is trainable at its first train_on_batch in the traced step"
        if how == "traced"
        else f"{name}.trainable is False and {how} never sets a trainable flag back to True in its loop"
    )
    return (
        f"{name}.train_on_batch trains nothing: {why}, and Keras 3 fixes the trainable set when that call first "
        f"builds its train function; fix: set {name}.trainable = True right before {name}.train_on_batch{then}"
    )


def trap_warning(model: Any, name: str) -> str | None:
    """Keras 3's trainable trap in ``model``, when it is a fact of the model, as one line naming the
    fix, or None: its train function is built and its optimizer updates nothing (see
    :func:`captured_trainable`) though the model has weights. A model whose train function is not
    built yet trains what the flags say at its first ``train_on_batch``, which the loop decides:
    that is no fact of the model (``compiled_system`` says it as a note, or warns when the script
    never sets a flag back).
    """
    variables, built = captured_trainable(model)
    if built and not variables and list(model.weights):
        return nothing_trainable_text(name, built=True)
    return None


def trap_note(model: Any, name: str) -> str | None:
    """A built train function holding another set than the flags now say, as a note, or None: a
    working Keras 3 loop leaves ``discriminator.trainable`` False after its step though D's own
    ``train_on_batch`` keeps training D, so this is what Keras does, not an alarm."""
    variables, built = captured_trainable(model)
    if not built or not variables:
        return None
    now = {id(v) for v in model.trainable_variables}
    if {id(v) for v in variables} == now:
        return None
    then = ", ".join(_owners(model, variables)) or "nothing"
    flags = ", ".join(_owners(model, list(model.trainable_variables))) or "nothing"
    return (
        f"{name}.train_on_batch trains {then}, the set its train function was built with; the trainable flags now "
        f"say {flags}, and Keras 3 reads them again only after {name}.make_train_function(force=True) or compile"
    )


def orphan_warnings(
    updates: tuple[Any, ...], *, how: str | dict[str, str], direct: dict[str, set[str]] | None = None
) -> tuple[Any, ...]:
    """The compiled updates that train what another compiled model trains while one of their frozen
    parts is trained by no update (WGAN-GP's ``critic_model`` training the generator, as
    ``generator_model`` does, and the critic never), each with a warning naming the fix.

    ``how`` says why the set is known (one for all, or per model): ``"traced"`` (the flags at its
    first call in the step), ``"built"`` (its train function holds it) or a script's name (its loop
    never sets the flags). Of two such models the one marked is the one calling the orphan directly on its own inputs
    (``direct``: the critic on real images), else the earlier.
    """
    import dataclasses

    trained = {name for c in updates for name in c.trains}
    order = list(dict.fromkeys(c.model for c in updates))
    first = {m: next(c for c in updates if c.model == m) for m in order}
    direct = direct or {}
    marked: dict[str, str] = {}
    for m in order:
        c = first[m]
        orphans = [name for name in c.frozen if name not in trained]
        twin = next((o for o in order if o != m and c.trains and set(first[o].trains) == set(c.trains)), None)
        if twin is None or not orphans or c.warning or twin in marked:
            continue
        mine, theirs = bool(direct.get(m, set()) & set(orphans)), bool(direct.get(twin, set()) & set(orphans))
        if theirs and not mine or mine == theirs and order.index(twin) < order.index(m):
            continue  # the twin is the one meant to train the orphan (or the earlier of the two)
        known = how if isinstance(how, str) else how.get(m, "traced")
        why = {
            "traced": "the trainable flags at its first train_on_batch in the traced step say so",
            "built": "its train function was built so",
        }.get(known, f"the trainable flags say so now and {known} never sets them in its loop")
        marked[m] = (
            f"{m}.train_on_batch trains {', '.join(c.trains)} (as {twin} does) and {', '.join(orphans)} "
            f"{'is' if len(orphans) == 1 else 'are'} trained by no compiled model: {why}, and Keras 3 keeps the set "
            f"of its first train_on_batch; fix: set {orphans[0]}.trainable = True (and {c.trains[0]}.trainable = "
            f"False) right before {m}.train_on_batch"
        )
    return tuple(dataclasses.replace(c, warning=marked[c.model]) if c.model in marked else c for c in updates)


def compiled_outputs(model: Any) -> list[tuple[str, str, str, float | None, Any]]:
    """What ``model.compile`` recorded, per output, without tracing (any backend): ``(output name,
    loss as compiled, term kind, loss_weights entry, the sub-model computing that output or None)``;
    empty when ``model`` is not compiled."""
    from .terms import LOSS_CLASS_KINDS

    if not getattr(model, "compiled", False) or getattr(model, "_compile_loss", None) is None:
        return []
    try:
        outputs = list(model.outputs)
    except Exception:
        outputs = []
    n = len(outputs) or 1
    names = _output_names(model, n)
    out = []
    for k, (ident, weight) in enumerate(_compiled_losses(model, n)):
        if ident is None:
            continue
        fn = ident if not isinstance(ident, str) else None
        short, cls = loss_label(
            ident, types.SimpleNamespace(fn=fn) if callable(fn) and not isinstance(fn, type) else ident
        )
        if not isinstance(ident, str) and not callable(ident):
            short, cls = loss_label(ident, ident)
        history = getattr(outputs[k], "_keras_history", None) if k < len(outputs) else None
        op = getattr(history, "operation", None)
        producer = op if op is not None and hasattr(op, "weights") and hasattr(op, "inputs") else None
        kind = LOSS_CLASS_KINDS.get(cls, "wasserstein" if "wasserstein" in short.lower() else "other")
        out.append((names[k], short, kind, weight, producer))
    return out


def _reaches(tensor: Any, names: set[str], limit: int = 3000) -> bool:
    """Whether ``tensor`` is computed from a tensor named in ``names`` (a gradient used as data)."""
    stack, seen = [tensor], set()
    while stack and len(seen) < limit:
        t = stack.pop()
        if t.name in names:
            return True
        if t.name in seen:
            continue
        seen.add(t.name)
        stack.extend(t.op.inputs)
    return False


def _size(variable: Any) -> int:
    n = 1
    for d in variable.shape:
        n *= int(d)
    return n


def _is_number_list(value: Any) -> bool:
    return bool(value) and all(isinstance(v, (int, float)) for v in value)


def _output_names(model: Any, n: int) -> list[str]:
    try:
        names = [str(s) for s in model.output_names]
    except Exception:
        names = []
    if len(names) == n and n > 1:
        return names
    return [model.name] if n == 1 else [f"output_{i}" for i in range(n)]


def _compiled_losses(model: Any, n: int) -> list[tuple[Any, float | None]]:
    """``(loss identifier, weight)`` per flat output, as ``compile(loss=..., loss_weights=...)`` gave them."""
    cl = getattr(model, "_compile_loss", None)
    loss = getattr(cl, "_user_loss", getattr(model, "loss", None))
    weights = getattr(cl, "_user_loss_weights", None)
    names = _output_names(model, n)
    if isinstance(loss, dict):
        loss = [loss.get(k) for k in names]
    if isinstance(weights, dict):
        weights = [weights.get(k) for k in names]
    if not isinstance(loss, (list, tuple)):
        loss = [loss] * n
    if weights is None:
        weights = [None] * n
    elif not isinstance(weights, (list, tuple)):
        weights = [weights] * n
    out = []
    for i in range(n):
        ident = loss[i] if i < len(loss) else None
        w = weights[i] if i < len(weights) else None
        out.append((ident, None if w is None else float(w)))
    return out


def _placeholder_result(model: Any, n_losses: int) -> Any:
    """Zeros shaped like Keras's ``train_on_batch`` result: the loss, per-output losses, metrics."""
    from keras import tree

    metrics = getattr(getattr(model, "_compile_metrics", None), "_user_metrics", None)
    weighted = getattr(getattr(model, "_compile_metrics", None), "_user_weighted_metrics", None)
    n = 1 + (n_losses if n_losses > 1 else 0)
    n += len(tree.flatten(metrics)) if metrics else 0
    n += len(tree.flatten(weighted)) if weighted else 0
    return 0.0 if n == 1 else [0.0] * n


def emulate(em: Emulator, method: str, model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``model.<method>(*args, **kwargs)`` while tracing (``method`` in :data:`EMULATED`)."""
    frame = _user_frame(sys._getframe(2))
    if method == "train_on_batch":
        names = ("x", "y", "sample_weight", "class_weight", "return_dict")
        bound = dict(zip(names, args))
        bound.update(kwargs)
        texts = argument_texts(frame, names)
        result = em.train_on_batch(
            model, bound.get("x"), bound.get("y"), bound.get("sample_weight"), frame, assigned_name(frame), texts
        )
        return {"loss": 0.0} if bound.get("return_dict") else result
    x = args[0] if args else kwargs.get("x")
    out = em.predict(model, x, frame, argument_texts(frame, ("x",)))
    if method == "test_on_batch":
        return _placeholder_result(model, len(tf_flat(out)))
    return out


def tf_flat(value: Any) -> list[Any]:
    import tensorflow as tf

    return list(tf.nest.flatten(value))


def add_compiled(trace: Any, em: Emulator, optimizer_names: dict[int, str]) -> Any:
    """``trace`` with a :class:`~ganviz.ir.CompiledUpdate` per recorded ``train_on_batch`` (a run of
    equal ones folded into a phase's repeat is listed once); the compiled models made of other
    models are not "unused", and a model that one of them trains is not drawn frozen."""
    import dataclasses

    from ...ir.trace_facts import CompiledOutput, CompiledUpdate

    if not em.records:
        return trace
    trace = _distinct_term_names(trace)
    used: set[str] = set()
    call_of = {t.name: f"call{i}" for i, (_, _, outs) in enumerate(em.rec.calls) for t in outs}
    phase_of = {lid: p.name for p in trace.phases for lid in p.losses}
    opt_of = {u.loss: u.optimizer for u in trace.updates}
    out = []
    for r in em.records:
        loss = next((x for x in trace.losses if x.name == r.loss_name and x.id not in used), None)
        if loss is None:
            continue  # a repetition folded into its phase's repeat
        used.add(loss.id)
        outputs = []
        for k, (oname, short, cls, weight, _pred, _target) in enumerate(r.outputs):
            from .terms import LOSS_CLASS_KINDS

            term = loss.terms[k] if k < len(loss.terms) else None  # terms keep the outputs' order
            if term is None or not term.name.startswith(short + "("):
                term = next((t for t in loss.terms if t.name.startswith(f"{short}({oname}, ")), None)
            ins = term.inputs if term is not None else ()
            pred_id = call_of.get(_pred.name) if call_of.get(_pred.name) in ins else None
            target_id = call_of.get(_target.name) if call_of.get(_target.name) in ins else None
            if target_id is None:  # a source, or an op on the way (prefer what the prediction is not)
                target_id = next((i for i in ins if i != pred_id and not i.startswith("call")), None)
            if pred_id is None:
                pred_id = next((i for i in ins if i.startswith("call") and i != target_id), None)
            kind = term.kind if term is not None else LOSS_CLASS_KINDS.get(cls, "other")
            outputs.append(CompiledOutput(oname, short, kind, weight, pred_id, target_id))
        model_name = em.rec.model_names.get(id(r.model), getattr(r.model, "name", "model"))
        opt = opt_of.get(loss.id) or optimizer_names.get(id(r.optimizer)) or str(getattr(r.optimizer, "name", ""))
        holder = next(
            (
                em.rec.model_names.get(id(o.model))
                for o in em.records
                if model_name in o.frozen and o.model is not r.model
            ),
            None,
        )
        out.append(
            CompiledUpdate(
                model=model_name,
                optimizer=opt,
                loss=loss.id,
                phase=phase_of.get(loss.id),
                trains=tuple(r.trains),
                frozen=tuple(r.frozen),
                outputs=tuple(outputs),
                warning=None
                if r.trains
                else nothing_trainable_text(
                    model_name, built=r.model.train_function is not None, how="traced", other=holder
                ),
            )
        )
    built = {em.rec.model_names.get(id(r.model), ""): "built" for r in em.records if r.model.train_function is not None}
    out = list(orphan_warnings(tuple(out), how=built))
    # A phase whose compiled model trains nothing (the Keras 3 trap) says so instead of "phase 2".
    idle = {c.phase: f"{c.model}.train_on_batch: nothing trainable" for c in out if not c.trains and c.phase}
    if idle:
        trace = dataclasses.replace(
            trace,
            phases=tuple(dataclasses.replace(p, name=idle.get(p.name, p.name)) for p in trace.phases),
            calls=tuple(dataclasses.replace(c, phase=idle.get(c.phase or "", c.phase)) for c in trace.calls),
        )
        out = [dataclasses.replace(c, phase=idle.get(c.phase or "", c.phase)) for c in out]
    compiled_models = {c.model for c in out}
    trained: dict[str, int] = {}
    for r in em.records:
        for name, n in r.trained_params.items():
            trained[name] = max(trained.get(name, 0), n)
    models = tuple(
        dataclasses.replace(m, trainable=True, trainable_params=trained[m.name]) if m.name in trained else m
        for m in trace.models
    )
    unused = tuple(n for n in trace.unused_models if n not in compiled_models)
    return dataclasses.replace(trace, compiled=tuple(out), models=models, unused_models=unused)


def _distinct_term_names(trace: Any) -> Any:
    """Two terms of one loss named alike (CycleGAN's cycle and identity terms, both on ``g_BA``
    against ``imgs_A``) are named after their calls instead: ``mae(g_BA(g_AB(imgs_A)), imgs_A)``."""
    import dataclasses

    labels: dict[str, str] = {s.id: s.name for s in trace.sources}
    labels.update({o.id: o.output or o.kind for o in trace.ops})
    for c in trace.calls:
        args = ", ".join(labels.get(i, i) for i in c.inputs[:2]) + (", ..." if len(c.inputs) > 2 else "")
        labels[c.id] = c.output or f"{c.model}({args})"
    losses = []
    for loss in trace.losses:
        names = [t.name for t in loss.terms]
        if len(set(names)) == len(names):
            losses.append(loss)
            continue
        terms = []
        for t in loss.terms:
            call = next((i for i in t.inputs if i.startswith("call")), None)
            if names.count(t.name) > 1 and call is not None and "(" in t.name:
                head, _, rest = t.name.partition("(")
                target = rest.rsplit(", ", 1)[-1].rstrip(")")
                t = dataclasses.replace(t, name=f"{head}({labels[call]}, {target})")
            terms.append(t)
        losses.append(dataclasses.replace(loss, terms=tuple(terms)))
    return dataclasses.replace(trace, losses=tuple(losses))
