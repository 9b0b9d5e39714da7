"""Models shared by the benchmarks (built with weights=None: nothing is downloaded)."""

from __future__ import annotations

from typing import Any

__all__ = ["build", "CASES"]

CASES = ("seed_generator", "seed_discriminator", "nested_gan", "resnet50", "resnet50_nested", "deep_1000", "odd_names")


def build(case: str) -> Any:
    """Build the benchmark model called ``case``."""
    import keras

    from ganviz.train.models import seed_discriminator, seed_generator

    keras.utils.set_random_seed(0)
    if case == "seed_generator":
        return seed_generator(100, output_activation="sigmoid")
    if case == "seed_discriminator":
        return seed_discriminator()
    if case == "nested_gan":
        g, d = seed_generator(100, output_activation="sigmoid"), seed_discriminator()
        d.trainable = False
        z = keras.Input(shape=(100,), name="z")
        return keras.Model(z, d(g(z)), name="gan")
    if case == "resnet50":
        return keras.applications.ResNet50(weights=None)
    if case == "resnet50_nested":
        base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(224, 224, 3))
        x = keras.Input(shape=(224, 224, 3), name="image")
        h = keras.layers.GlobalAveragePooling2D(name="pool")(base(x))
        return keras.Model(x, keras.layers.Dense(10, name="classes")(h), name="classifier")
    if case.startswith("deep_"):
        n = int(case.split("_")[1])
        x = inp = keras.Input(shape=(16,), name="x")
        for i in range(n):
            x = keras.layers.Dense(16, activation="relu", name=f"dense_{i}")(x)
        return keras.Model(inp, x, name=f"deep_{n}")
    if case == "odd_names":  # legal Keras layer names that break DOT quoting
        x = inp = keras.Input(shape=(8,), name="x")
        for name in ['a"b<c>&{d}|e', "line\nbreak", "emoji 🎨", "back\\slash"]:
            x = keras.layers.Dense(8, name=name)(x)
        return keras.Model(inp, x, name="odd_names")
    raise ValueError(f"unknown benchmark case {case!r} (must be one of {list(CASES)})")
