"""Optimizers with nonsense settings: the system diagram still writes valid JSON and says no rate."""

from __future__ import annotations

import json

import keras
import pytest

import ganviz
from ganviz.extract.step_trace.build import learning_rate


@pytest.mark.parametrize("lr", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_learning_rate_is_unknown_not_invalid_json(lr: float) -> None:
    opt = keras.optimizers.Adam(learning_rate=lr)
    assert learning_rate(opt) is None
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)], name="g")
    discriminator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")], name="d")
    discriminator.compile(optimizer=opt, loss="binary_crossentropy")
    diagram = ganviz.plot_gan(generator=generator, discriminator=discriminator, to_file=None)
    text = diagram.graph.to_json()  # raised "Out of range float values are not JSON compliant"
    json.loads(text)
    assert "Infinity" not in text and "NaN" not in text


def test_a_finite_rate_is_kept_without_float32_noise() -> None:
    assert learning_rate(keras.optimizers.Adam(learning_rate=2e-4)) == 2e-4
