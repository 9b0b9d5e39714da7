"""A zoo of small Keras 3 models (seed GAN, nested, shared, subclassed, applications) that tests reuse."""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

__all__ = [
    "WEIRD_NAME",
    "NEWLINE_NAME",
    "EMOJI_NAME",
    "TinyResidual",
    "TwoInputSubclassed",
    "BlockLayer",
    "NormDrop",
    "Outer",
    "build_generator",
    "build_discriminator",
    "build_seed_gan",
    "build_nested",
    "build_shared_layers",
    "build_shared_submodel",
    "build_multi_io",
    "build_subclassed",
    "build_unbuilt_subclassed",
    "build_two_input_subclassed",
    "build_norm_drop",
    "build_subclassed_nesting",
    "build_subclassed_in_functional",
    "build_layer_with_sublayers",
    "build_weird_names",
    "build_mobilenet",
    "build_resnet50",
    "build_resnet_nested",
    "build_deep",
]

WEIRD_NAME = 'a"b<c>&{d}|e'
NEWLINE_NAME = "line\nbreak"
EMOJI_NAME = "smile_\U0001f600"


def build_generator(latent_dim: int = 100) -> keras.Sequential:
    """The seed's generator, Keras 3 style: z(100) -> 128 -> 256 -> 784 sigmoid -> 28x28x1."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,), name="generator_input"),
            layers.Dense(128, name="dense"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu"),
            layers.Dense(256, name="dense_1"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu_1"),
            layers.Dense(784, activation="sigmoid", name="dense_2"),
            layers.Reshape((28, 28, 1), name="reshape"),
        ],
        name="generator",
    )


def build_discriminator() -> keras.Sequential:
    """The seed's discriminator: 28x28x1 -> flatten -> 256 -> 128 -> 1 sigmoid."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="discriminator_input"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, name="dense"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu"),
            layers.Dense(128, name="dense_1"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu_1"),
            layers.Dense(1, activation="sigmoid", name="dense_2"),
        ],
        name="discriminator",
    )


def build_seed_gan(latent_dim: int = 100) -> keras.Model:
    """The classic combined model ``D(G(z))`` named "gan", with the discriminator frozen."""
    generator = build_generator(latent_dim)
    discriminator = build_discriminator()
    discriminator.trainable = False
    z = keras.Input(shape=(latent_dim,), name="gan_input")
    return keras.Model(z, discriminator(generator(z)), name="gan")


def build_nested(depth: int = 3, *, outer: str = "functional") -> keras.Model:
    """Models nested ``depth`` levels deep, alternating functional and Sequential.

    The innermost model is ``level{depth}``; the outermost is ``top`` (of kind ``outer``) holding
    ``level1``, which holds ``level2`` and so on. Each level adds one Dense named ``dense_l{i}``.
    """
    kinds = ["functional", "sequential"]
    start = kinds.index(outer)
    inner: keras.Model | None = None
    for level in range(depth, -1, -1):
        kind = kinds[(start + level) % 2]
        name = "top" if level == 0 else f"level{level}"
        stack: list[Any] = [] if inner is None else [inner]
        stack.append(layers.Dense(4, activation="relu", name=f"dense_l{level}"))
        if kind == "sequential":
            inner = keras.Sequential([keras.Input(shape=(4,), name=f"{name}_in"), *stack], name=name)
        else:
            x_in = keras.Input(shape=(4,), name=f"{name}_in")
            x = x_in
            for item in stack:
                x = item(x)
            inner = keras.Model(x_in, x, name=name)
    assert inner is not None
    return inner


def build_shared_layers() -> keras.Model:
    """Two inputs through one shared Dense (one node, two calls), concatenated, then a head."""
    a = keras.Input(shape=(8,), name="left")
    b = keras.Input(shape=(8,), name="right")
    shared = layers.Dense(4, activation="tanh", name="shared")
    merged = layers.Concatenate(name="concat")([shared(a), shared(b)])
    return keras.Model([a, b], layers.Dense(1, name="head")(merged), name="siamese")


def build_shared_submodel() -> keras.Model:
    """One sub-model ``encoder`` applied to two inputs; a frozen layer inside the head."""
    e_in = keras.Input(shape=(6,), name="encoder_in")
    e_h = layers.Dense(5, activation="relu", name="enc_dense")(e_in)
    encoder = keras.Model(e_in, layers.Dense(3, name="enc_out")(e_h), name="encoder")
    a = keras.Input(shape=(6,), name="a")
    b = keras.Input(shape=(6,), name="b")
    diff = layers.Subtract(name="diff")([encoder(a), encoder(b)])
    frozen = layers.Dense(2, name="frozen_dense")
    frozen.trainable = False
    return keras.Model([a, b], frozen(diff), name="pair")


def build_multi_io() -> keras.Model:
    """Two inputs (image, meta) and two outputs (class, score)."""
    image = keras.Input(shape=(8, 8, 1), name="image")
    meta = keras.Input(shape=(4,), name="meta")
    x = layers.Conv2D(2, 3, activation="relu", name="conv")(image)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Concatenate(name="merge")([x, meta])
    cls = layers.Dense(3, activation="softmax", name="class")(x)
    score = layers.Dense(1, name="score")(x)
    return keras.Model([image, meta], [cls, score], name="multi_io")


@keras.saving.register_keras_serializable(package="ganviz_zoo")
class TinyResidual(keras.Model):
    """A subclassed model: two branches, concat, a projection and a residual add between layers."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.left = layers.Dense(units, activation="relu", name="left")
        self.right = layers.Dense(units, name="right")
        self.project = layers.Dense(units, name="project")
        self.out = layers.Dense(1, activation="sigmoid", name="out")

    def call(self, x: Any) -> Any:
        h = keras.ops.concatenate([self.left(x), self.right(x)], axis=-1)
        h = self.project(h) + self.left(x) * 0.5
        return self.out(keras.ops.relu(h))


@keras.saving.register_keras_serializable(package="ganviz_zoo")
class TwoInputSubclassed(keras.Model):
    """A subclassed model called with a list of two tensors, holding a nested functional model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        inner_in = keras.Input(shape=(3,), name="inner_in")
        self.inner = keras.Model(inner_in, layers.Dense(3, name="inner_dense")(inner_in), name="inner")
        self.mix = layers.Dense(2, name="mix")

    def call(self, inputs: Any) -> Any:
        a, b = inputs
        return self.mix(keras.ops.concatenate([self.inner(a), b], axis=-1))


@keras.saving.register_keras_serializable(package="ganviz_zoo")
class BlockLayer(layers.Layer):
    """A subclassed *layer* with two inner Dense layers (drawn as one node when nested)."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.d1 = layers.Dense(units, activation="relu", name="d1")
        self.d2 = layers.Dense(units, name="d2")

    def call(self, x: Any) -> Any:
        return self.d2(self.d1(x)) + x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="ganviz_zoo")
class NormDrop(keras.Model):
    """A subclassed model with BatchNormalization and Dropout (state that a trace must not touch)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = layers.Dense(4, name="dense")
        self.norm = layers.BatchNormalization(name="norm")
        self.drop = layers.Dropout(0.5, name="drop")

    def call(self, x: Any, training: bool | None = None) -> Any:
        return self.drop(self.norm(self.dense(x), training=training), training=training)


@keras.saving.register_keras_serializable(package="ganviz_zoo")
class Outer(keras.Model):
    """A subclassed model holding another subclassed model and a Sequential built on first call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = TinyResidual(name="body")
        self.head = keras.Sequential([layers.Dense(2, name="head_dense")], name="head")

    def call(self, x: Any) -> Any:
        return self.head(self.body(x))


def build_subclassed(features: int = 6) -> TinyResidual:
    """A built :class:`TinyResidual` (called once on zeros of shape ``(2, features)``)."""
    model = TinyResidual(name="tiny_residual")
    model(np.zeros((2, features), dtype="float32"))
    return model


def build_unbuilt_subclassed() -> TinyResidual:
    """A :class:`TinyResidual` that was never called or built."""
    return TinyResidual(name="unbuilt_residual")


def build_two_input_subclassed() -> TwoInputSubclassed:
    """A built :class:`TwoInputSubclassed` on inputs of shape ``(None, 3)`` and ``(None, 5)``."""
    model = TwoInputSubclassed(name="two_input")
    model([np.zeros((2, 3), dtype="float32"), np.zeros((2, 5), dtype="float32")])
    return model


def build_norm_drop() -> NormDrop:
    """A built :class:`NormDrop` on inputs of shape ``(None, 3)``, with non-trivial BN statistics."""
    model = NormDrop(name="norm_drop")
    model(np.ones((4, 3), dtype="float32"), training=True)
    return model


def build_subclassed_nesting() -> Outer:
    """A built :class:`Outer`: a subclassed model in a subclassed model, then a Sequential."""
    model = Outer(name="outer")
    model(np.zeros((2, 6), dtype="float32"))
    return model


def build_subclassed_in_functional() -> keras.Model:
    """A functional model with a subclassed model and a subclassed layer inside it."""
    x_in = keras.Input(shape=(6,), name="features")
    h = BlockLayer(6, name="block")(x_in)
    y = TinyResidual(name="residual")(h)
    return keras.Model(x_in, layers.Dense(1, name="final")(y), name="wrapper")


def build_layer_with_sublayers() -> BlockLayer:
    """A built :class:`BlockLayer` (a layer, not a model) on inputs of shape ``(None, 4)``."""
    layer = BlockLayer(4, name="block")
    layer(np.zeros((1, 4), dtype="float32"))
    return layer


def build_weird_names() -> keras.Model:
    """A functional model whose layer names hold quotes, brackets, a newline and an emoji."""
    x_in = keras.Input(shape=(3,), name="in<put>")
    x = layers.Dense(2, name=WEIRD_NAME)(x_in)
    x = layers.Dense(2, name=NEWLINE_NAME)(x)
    x = layers.Dense(1, name=EMOJI_NAME)(x)
    return keras.Model(x_in, x, name='weird "model"')


def build_mobilenet(size: int = 32) -> keras.Model:
    """MobileNetV2 with ``weights=None`` at a small input size and 10 classes."""
    return keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35, weights=None, classes=10)


def build_resnet50(size: int = 224) -> keras.Model:
    """ResNet50 with ``weights=None`` (slow to build: use in few tests)."""
    return keras.applications.ResNet50(input_shape=(size, size, 3), weights=None)


def build_resnet_nested(size: int = 64) -> keras.Model:
    """ResNet50 (no top) nested in a functional model with a small head."""
    base = keras.applications.ResNet50(input_shape=(size, size, 3), weights=None, include_top=False, pooling="avg")
    x_in = keras.Input(shape=(size, size, 3), name="image")
    return keras.Model(x_in, layers.Dense(1, name="head")(base(x_in)), name="resnet_wrapper")


def build_deep(n_layers: int = 1000, *, units: int = 2) -> keras.Sequential:
    """A Sequential chain of ``n_layers`` tiny Dense layers named ``dense_0`` ... (named "deep").

    Keras maps a functional graph recursively, so the recursion limit is raised to fit the chain.
    """
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * n_layers + 1000))
    stack: list[Any] = [keras.Input(shape=(units,), name="deep_input")]
    stack += [layers.Dense(units, name=f"dense_{i}") for i in range(n_layers)]
    return keras.Sequential(stack, name="deep")
