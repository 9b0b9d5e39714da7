"""Each common Keras loss, as an object and as a function, gives its term the kind of its class."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import ganviz  # noqa: E402

L = keras.losses

# name -> (loss of (labels, scores), kind, integer labels)
CASES: dict[str, tuple[Callable[[Any, Any], Any], str, bool]] = {
    "SparseCategoricalCrossentropy": (
        lambda y, p: L.SparseCategoricalCrossentropy(from_logits=True)(y, p),
        "sparse_cce",
        True,
    ),
    "sparse_categorical_crossentropy": (
        lambda y, p: tf.reduce_mean(L.sparse_categorical_crossentropy(y, p, from_logits=True)),
        "sparse_cce",
        True,
    ),
    "sparse_categorical_crossentropy(probabilities)": (
        lambda y, p: tf.reduce_mean(L.sparse_categorical_crossentropy(y, tf.nn.softmax(p))),
        "sparse_cce",
        True,
    ),
    "Hinge": (lambda y, p: L.Hinge()(y, p), "hinge", False),
    "Huber": (lambda y, p: L.Huber()(y, p), "huber", False),
    "huber": (lambda y, p: tf.reduce_mean(L.huber(y, p)), "huber", False),
    "LogCosh": (lambda y, p: L.LogCosh()(y, p), "log_cosh", False),
    "log_cosh": (lambda y, p: tf.reduce_mean(L.log_cosh(y, p)), "log_cosh", False),
    "CosineSimilarity": (lambda y, p: L.CosineSimilarity()(y, p), "cosine_similarity", False),
    "cosine_similarity": (lambda y, p: tf.reduce_mean(L.cosine_similarity(y, p)), "cosine_similarity", False),
    "KLDivergence": (lambda y, p: L.KLDivergence()(tf.nn.softmax(y), tf.nn.softmax(p)), "kl", False),
    "Poisson": (lambda y, p: L.Poisson()(y, tf.exp(p)), "poisson", False),
    "CategoricalCrossentropy": (lambda y, p: L.CategoricalCrossentropy(from_logits=True)(y, p), "cce", False),
}


class ScaledHuber(keras.losses.Huber):
    """A user's subclass of a Keras loss keeps the kind of the class it derives from."""

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return 2.0 * super().call(y_true, y_pred)


CASES["ScaledHuber (a subclass)"] = (lambda y, p: ScaledHuber()(y, p), "huber", False)


def _kinds(loss: Callable[[Any, Any], Any], integer_labels: bool) -> list[str]:
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)], name="net")
    opt = keras.optimizers.SGD(0.1)

    def step(x: Any, y: Any) -> None:
        with tf.GradientTape() as tape:
            scores = net(x)
            value = loss(y, scores)
        grads = tape.gradient(value, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))

    x = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    y = np.arange(4, dtype="int32") if integer_labels else np.random.default_rng(1).random((4, 4), dtype=np.float32)
    trace = ganviz.trace_step(step, x, y)
    return [t.kind for loss_ in trace.losses for t in loss_.terms]


@pytest.mark.parametrize("name", list(CASES))
def test_kind_from_the_keras_class(name: str) -> None:
    loss, kind, integer_labels = CASES[name]
    assert _kinds(loss, integer_labels) == [kind]
