"""A subclassed call() that applies tf.* functions to its inputs is still drawn on TensorFlow (tf.function fallback)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from ganviz.errors import GanvizError  # noqa: E402
from ganviz.extract.keras_model import model_to_graph  # noqa: E402

if keras.backend.backend() != "tensorflow":
    pytest.skip("the tf.* fallback exists on the TensorFlow backend only", allow_module_level=True)

import tensorflow as tf  # noqa: E402


class TfOps(keras.Model):
    """Two branches joined by tf.concat, a tf.shape-only dependency, and a residual tf.add."""

    def __init__(self) -> None:
        super().__init__(name="tf_ops")
        self.left = keras.layers.Dense(3, name="left")
        self.right = keras.layers.Dense(3, name="right")
        self.head = keras.layers.Dense(2, name="head")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        h = tf.concat([tf.nn.relu(self.left(x)), self.right(x)], axis=-1)
        scale = tf.cast(tf.shape(x)[0], tf.float32)  # shape only: no data edge
        return self.head(h * 0.5 + scale * 0.0)


def test_tf_functions_in_call_are_traced_in_a_tf_function() -> None:
    model = TfOps()
    model(np.zeros((2, 4), "float32"))
    before = [w.copy() for w in model.get_weights()]
    inbound = {layer.name: len(layer._inbound_nodes) for layer in model.layers}
    g = model_to_graph(model)
    assert [n.name for n in g.nodes] == ["tf_ops_input", "left", "right", "head"]
    assert sorted(g.edge_names()) == [
        ("left", "head"),
        ("right", "head"),
        ("tf_ops_input", "left"),
        ("tf_ops_input", "right"),
    ]
    assert g.node("n3").input_shapes == ((None, 6),)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert {layer.name: len(layer._inbound_nodes) for layer in model.layers} == inbound


def test_a_call_that_fails_both_ways_is_one_error() -> None:
    class Broken(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="broken")
            self.d = keras.layers.Dense(2)

        def call(self, x: tf.Tensor) -> tf.Tensor:
            raise RuntimeError("nope")

    model = Broken()
    with pytest.raises(GanvizError, match=r"could not trace Broken 'broken': nope"):
        model_to_graph(model, input_shape=(3,))
