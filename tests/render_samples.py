"""Hand-built graphs for the renderer tests and golden files (no Keras needed)."""

from __future__ import annotations

from ganviz.ir import Graph, GraphBuilder

__all__ = ["nested_model_graph", "gan_system_graph", "big_graph", "SAMPLES"]


def nested_model_graph() -> Graph:
    """A functional model holding a Sequential (which holds a frozen block) and a shared layer."""
    b = GraphBuilder("nested_gan")
    b.details.update({"class_name": "Functional", "params": 1_101_505, "trainable_params": 1_001_153})
    z = b.add_node("z", kind="input", class_name="InputLayer", output_shapes=((None, 100),), dtype="float32")
    gen = b.add_cluster(
        "generator",
        class_name="Sequential",
        params=400_000,
        trainable_params=399_488,
        details={"input_shapes": [[None, 100]], "output_shapes": [[None, 28, 28, 1]], "dtype": "float32"},
    )
    d1 = b.add_node(
        "dense",
        class_name="Dense",
        parent=gen,
        input_shapes=((None, 100),),
        output_shapes=((None, 6272),),
        dtype="float32",
        params=633_472,
        trainable_params=633_472,
        activation="relu",
    )
    bn = b.add_node(
        "batch_normalization",
        class_name="BatchNormalization",
        parent=gen,
        input_shapes=((None, 6272),),
        output_shapes=((None, 6272),),
        dtype="float32",
        params=25_088,
        trainable_params=12_544,
    )
    conv = b.add_node(
        "conv2d_transpose",
        class_name="Conv2DTranspose",
        parent=gen,
        input_shapes=((None, 7, 7, 128),),
        output_shapes=((None, 28, 28, 1),),
        dtype="float32",
        params=2_049,
        trainable_params=2_049,
        activation="tanh",
    )
    disc = b.add_cluster(
        "discriminator",
        class_name="Sequential",
        params=700_000,
        trainable_params=0,
        trainable=False,
        details={"input_shapes": [[None, 28, 28, 1]], "output_shapes": [[None, 1]], "dtype": "float32"},
    )
    feat = b.add_cluster(
        "features", class_name="Sequential", parent=disc, params=600_000, trainable_params=0, trainable=False
    )
    c1 = b.add_node(
        "conv2d",
        class_name="Conv2D",
        parent=feat,
        input_shapes=((None, 28, 28, 1),),
        output_shapes=((None, 14, 14, 64),),
        params=640,
        trainable=False,
        activation="leaky_relu",
    )
    fl = b.add_node(
        "flatten",
        class_name="Flatten",
        parent=disc,
        input_shapes=((None, 14, 14, 64),),
        output_shapes=((None, 12544),),
        trainable=False,
    )
    out = b.add_node(
        "validity",
        class_name="Dense",
        parent=disc,
        input_shapes=((None, 12544),),
        output_shapes=((None, 1),),
        params=12_545,
        trainable=False,
        activation="sigmoid",
    )
    odd = b.add_node(
        'a"b<c>&{d}|e\\n 😀', class_name="Lambda", input_shapes=((None, 1), (None, 1)), output_shapes=((None, 1),)
    )
    b.add_edge(z, d1)
    b.add_edge(d1, bn)
    b.add_edge(bn, conv)
    b.add_edge(conv, c1)
    b.add_edge(c1, fl)
    b.add_edge(fl, out)
    b.add_edge(out, odd)
    b.add_edge(z, odd, label="skip")
    return b.build()


def gan_system_graph() -> Graph:
    """A traced DCGAN-style step: data, noise, labels, two models, two losses, two optimizers."""
    b = GraphBuilder("dcgan_step")
    real = b.add_node("real_images", kind="data", output_shapes=((None, 28, 28, 1),))
    noise = b.add_node("random_normal", kind="noise", output_shapes=((None, 128),))
    labels = b.add_node("labels", kind="constant", output_shapes=((None, 1),))
    gen = b.add_node(
        "generator",
        kind="model",
        class_name="Sequential",
        input_shapes=((None, 128),),
        output_shapes=((None, 28, 28, 1),),
        params=1_164_289,
        trainable_params=1_164_289,
    )
    disc = b.add_node(
        "discriminator",
        kind="model",
        class_name="Sequential",
        input_shapes=((None, 28, 28, 1),),
        output_shapes=((None, 1),),
        params=174_657,
        trainable_params=174_657,
    )
    concat = b.add_node("concat", kind="op", class_name="ConcatV2")
    d_loss = b.add_node("d_loss", kind="loss", class_name="BinaryCrossentropy")
    g_loss = b.add_node("g_loss", kind="loss", class_name="BinaryCrossentropy")
    d_opt = b.add_node("d_optimizer", kind="optimizer", class_name="Adam")
    g_opt = b.add_node("g_optimizer", kind="optimizer", class_name="Adam")
    b.add_edge(noise, gen, label="×2")
    b.add_edge(gen, concat)
    b.add_edge(real, concat)
    b.add_edge(concat, disc)
    b.add_edge(gen, disc)
    b.add_edge(disc, d_loss, label="×2")
    b.add_edge(labels, d_loss)
    b.add_edge(disc, g_loss)
    b.add_edge(d_loss, disc, kind="gradient", label="d_optimizer (Adam, lr=0.0003)")
    b.add_edge(g_loss, gen, kind="gradient", label="g_optimizer (Adam, lr=0.0003)")
    b.add_edge(d_opt, disc, kind="update")
    b.add_edge(g_opt, gen, kind="update")
    return b.build()


def big_graph(n: int = 1000) -> Graph:
    """``n`` layers in a chain with skip connections, in nested blocks of 50 (one frozen)."""
    b = GraphBuilder("big")
    prev = b.add_node("input", kind="input", class_name="InputLayer", output_shapes=((None, 64),))
    block = None
    for i in range(n - 1):
        if i % 50 == 0:
            block = b.add_cluster(
                f"block_{i // 50}",
                class_name="Sequential",
                params=50 * 4160,
                trainable_params=50 * 4160,
                trainable=(i // 50) != 3,
            )
        cur = b.add_node(
            f"dense_{i}",
            class_name="Dense",
            parent=block,
            input_shapes=((None, 64),),
            output_shapes=((None, 64),),
            params=4160,
            trainable_params=4160,
            activation="relu",
        )
        b.add_edge(prev, cur)
        if i % 7 == 0 and i > 3:
            b.add_edge(f"n{i - 3}", cur)
        prev = cur
    return b.build()


SAMPLES = {"nested": nested_model_graph, "gan": gan_system_graph}
