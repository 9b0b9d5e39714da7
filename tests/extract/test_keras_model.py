"""model_to_graph on the zoo: names, kinds, shapes, params, trainable flags, edges, depth and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import keras
import numpy as np
import pytest

from fixtures import zoo
from ganviz.errors import GanvizError, ModelNotBuiltError, NotAModelError
from ganviz.extract.keras_model import model_to_graph
from ganviz.ir import Graph

SEED_GEN_LAYERS = ["dense", "leaky_re_lu", "dense_1", "leaky_re_lu_1", "dense_2", "reshape"]
SEED_DISC_LAYERS = ["flatten", "dense", "leaky_re_lu", "dense_1", "leaky_re_lu_1", "dense_2"]


def chain(names: list[str]) -> list[tuple[str, str]]:
    return list(zip(names, names[1:]))


def names(graph: Graph) -> list[str]:
    return [graph.path_name(n.id) for n in graph.nodes]


def by_path(graph: Graph) -> dict[str, Any]:
    return {graph.path_name(n.id): n for n in graph.nodes}


@pytest.fixture(scope="module")
def gan() -> keras.Model:
    return zoo.build_seed_gan()


@pytest.fixture(scope="module")
def resnet_nested() -> keras.Model:
    return zoo.build_resnet_nested(size=32)


# -- the seed's models ---------------------------------------------------------------------
def test_generator_nodes_shapes_params_and_edges() -> None:
    model = zoo.build_generator()
    g = model_to_graph(model)
    assert g.name == "generator"
    assert names(g) == ["generator_input", *SEED_GEN_LAYERS]
    assert [n.kind for n in g.nodes] == ["input"] + ["layer"] * 6
    assert [n.class_name for n in g.nodes] == [
        "InputLayer",
        "Dense",
        "LeakyReLU",
        "Dense",
        "LeakyReLU",
        "Dense",
        "Reshape",
    ]
    assert g.edge_names() == chain(names(g))
    nodes = by_path(g)
    assert nodes["generator_input"].output_shapes == ((None, 100),)
    assert nodes["dense"].input_shapes == ((None, 100),)
    assert nodes["dense"].output_shapes == ((None, 128),)
    assert nodes["reshape"].output_shapes == ((None, 28, 28, 1),)
    assert nodes["dense_2"].activation == "sigmoid"
    assert nodes["dense"].activation == "linear"
    assert nodes["leaky_re_lu"].activation is None
    assert nodes["dense"].dtype == "float32"
    assert nodes["dense"].details["config"]["units"] == 128
    for layer in model.layers:
        assert nodes[layer.name].params == layer.count_params()
    assert g.details == {"class_name": "Sequential", "params": model.count_params(), "trainable_params": 247440}
    assert all(n.parent is None for n in g.nodes) and g.clusters == ()


def test_discriminator_chain() -> None:
    g = model_to_graph(zoo.build_discriminator())
    assert names(g) == ["discriminator_input", *SEED_DISC_LAYERS]
    assert g.edge_names() == chain(names(g))
    assert by_path(g)["flatten"].output_shapes == ((None, 784),)
    assert g.details["params"] == 233985


def test_gan_clusters_edges_and_frozen_discriminator(gan: keras.Model) -> None:
    g = model_to_graph(gan)
    assert names(g) == ["gan_input", *(f"generator > {n}" for n in SEED_GEN_LAYERS)] + [
        f"discriminator > {n}" for n in SEED_DISC_LAYERS
    ]
    gen_c, disc_c = g.clusters
    assert (gen_c.name, gen_c.class_name, gen_c.parent, gen_c.trainable) == ("generator", "Sequential", None, True)
    assert (disc_c.name, disc_c.trainable, disc_c.trainable_params) == ("discriminator", False, 0)
    assert gen_c.params == gan.get_layer("generator").count_params()
    assert disc_c.params == gan.get_layer("discriminator").count_params()
    assert gen_c.details == {"input_shapes": [[None, 100]], "output_shapes": [[None, 28, 28, 1]], "dtype": "float32"}
    edges = g.edge_names()
    assert edges[0] == ("gan_input", "generator > dense")
    assert ("generator > dense", "generator > leaky_re_lu") in edges
    assert ("generator > reshape", "discriminator > flatten") in edges
    assert len(edges) == 12
    nodes = by_path(g)
    assert all(not n.trainable and n.trainable_params == 0 for p, n in nodes.items() if p.startswith("discriminator"))
    assert all(n.trainable for p, n in nodes.items() if p.startswith("generator"))
    assert g.details == {"class_name": "Functional", "params": gan.count_params(), "trainable_params": gen_c.params}
    assert sum(n.params for n in g.nodes) == gan.count_params()


def test_expand_nested_false_draws_models_as_boxes(gan: keras.Model) -> None:
    g = model_to_graph(gan, expand_nested=False)
    assert [(n.name, n.kind, n.class_name) for n in g.nodes] == [
        ("gan_input", "input", "InputLayer"),
        ("generator", "model", "Sequential"),
        ("discriminator", "model", "Sequential"),
    ]
    assert g.edge_names() == [("gan_input", "generator"), ("generator", "discriminator")]
    disc = g.node("c1")
    assert (disc.trainable, disc.output_shapes, disc.params) == (False, ((None, 1),), 233985)
    assert g.clusters == ()


def test_same_model_twice_and_rebuilt_model_give_identical_json(gan: keras.Model) -> None:
    first = model_to_graph(gan).to_json()
    assert model_to_graph(gan).to_json() == first
    assert model_to_graph(zoo.build_seed_gan()).to_json() == first
    data = json.loads(first)
    assert data["format"] == "ganviz.graph/1"
    assert set(data["nodes"][1]) >= {
        "id",
        "name",
        "kind",
        "class_name",
        "parent",
        "input_shapes",
        "output_shapes",
        "dtype",
        "params",
        "trainable_params",
        "trainable",
        "activation",
    }
    assert Graph.from_json(first) == model_to_graph(gan)


# -- nesting and depth ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outer", "classes"),
    [
        ("functional", ["Sequential", "Functional", "Sequential"]),
        ("sequential", ["Functional", "Sequential", "Functional"]),
    ],
)
def test_nested_three_levels_either_way_round(outer: str, classes: list[str]) -> None:
    model = zoo.build_nested(3, outer=outer)
    g = model_to_graph(model)
    assert g.details["class_name"] == ("Functional" if outer == "functional" else "Sequential")
    assert [(c.name, c.class_name) for c in g.clusters] == list(zip(["level1", "level2", "level3"], classes))
    assert [c.parent for c in g.clusters] == [None, "c0", "c1"]
    expected = [
        "top_in",
        "level1 > level2 > level3 > dense_l3",
        "level1 > level2 > dense_l2",
        "level1 > dense_l1",
        "dense_l0",
    ]
    assert names(g) == expected
    assert g.edge_names() == chain(expected)
    assert [c.params for c in g.clusters] == [60, 40, 20]
    assert not any("_in" in n.name and n.kind == "input" and n.name != "top_in" for n in g.nodes)


def test_depth_collapses_deeper_levels() -> None:
    model = zoo.build_nested(3)
    g1 = model_to_graph(model, depth=1)
    assert names(g1) == ["top_in", "level1 > level2", "level1 > dense_l1", "dense_l0"]
    assert g1.node("c1").kind == "model" and g1.node("c1").params == 40
    assert g1.edge_names() == chain(names(g1))
    g0 = model_to_graph(model, depth=0)
    assert names(g0) == ["top_in", "level1", "dense_l0"]
    assert model_to_graph(model, depth=5) == model_to_graph(model)
    assert model_to_graph(model, depth=2, expand_nested=False) == model_to_graph(model, depth=2)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_depth_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match="depth must be None or an integer >= 0"):
        model_to_graph(zoo.build_discriminator(), depth=bad)


# -- sharing and several inputs/outputs ----------------------------------------------------
def test_shared_layer_is_one_node_with_two_inputs() -> None:
    g = model_to_graph(zoo.build_shared_layers())
    assert names(g) == ["left", "right", "shared", "concat", "head"]
    assert g.edge_names() == [("left", "shared"), ("right", "shared"), ("shared", "concat"), ("concat", "head")]


def test_shared_submodel_is_one_cluster_and_frozen_layer_is_marked() -> None:
    model = zoo.build_shared_submodel()
    g = model_to_graph(model)
    assert [c.name for c in g.clusters] == ["encoder"]
    assert names(g) == ["a", "b", "encoder > enc_dense", "encoder > enc_out", "diff", "frozen_dense"]
    edges = g.edge_names()
    assert ("a", "encoder > enc_dense") in edges and ("b", "encoder > enc_dense") in edges
    assert edges.count(("encoder > enc_out", "diff")) == 1
    frozen = by_path(g)["frozen_dense"]
    assert (frozen.trainable, frozen.params, frozen.trainable_params) == (False, 8, 0)
    assert g.details["trainable_params"] == model.count_params() - 8


def test_multi_input_multi_output() -> None:
    g = model_to_graph(zoo.build_multi_io())
    assert [n.name for n in g.nodes if n.kind == "input"] == ["image", "meta"]
    assert set(g.edge_names()) == {
        ("image", "conv"),
        ("conv", "pool"),
        ("pool", "merge"),
        ("meta", "merge"),
        ("merge", "class"),
        ("merge", "score"),
    }
    nodes = by_path(g)
    assert nodes["merge"].input_shapes == ((None, 2), (None, 4))
    assert (nodes["conv"].activation, nodes["class"].activation) == ("relu", "softmax")


def test_functional_ops_between_layers_are_walked_through() -> None:
    x_in = keras.Input(shape=(4,), name="x")
    a = keras.layers.Dense(4, name="a")(x_in)
    b = keras.layers.Dense(4, name="b")(x_in)
    out = keras.layers.Dense(1, name="out")(keras.ops.relu(a + b * 2.0))
    model = keras.Model(x_in, out, name="ops")
    g = model_to_graph(model)
    assert names(g) == [layer.name for layer in model.layers]  # Keras's own (config) order
    assert sorted(g.edge_names()) == [("a", "out"), ("b", "out"), ("x", "a"), ("x", "b")]


# -- subclassed models and layers ----------------------------------------------------------
def test_subclassed_model_traced_through_ops() -> None:
    model = zoo.build_subclassed()
    g = model_to_graph(model)
    assert names(g) == ["tiny_residual_input", "left", "right", "project", "out"]
    assert g.nodes[0].output_shapes == ((None, 6),)
    assert set(g.edge_names()) == {
        ("tiny_residual_input", "left"),
        ("tiny_residual_input", "right"),
        ("left", "project"),
        ("right", "project"),
        ("project", "out"),
        ("left", "out"),
    }
    assert by_path(g)["project"].input_shapes == ((None, 8),)
    assert g.details == {"class_name": "TinyResidual", "params": model.count_params(), "trainable_params": 97}


def test_long_chain_of_ops_between_layers_does_not_hit_the_recursion_limit() -> None:
    class LongChain(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="long_chain")
            self.first = keras.layers.Dense(4, name="first")
            self.last = keras.layers.Dense(2, name="last")

        def call(self, x: Any) -> Any:
            x = self.first(x)
            for _ in range(sys.getrecursionlimit()):  # ops only: the walk back spans all of them
                x = x * 1.0001
            return self.last(x)

    g = model_to_graph(LongChain(), input_shape=(3,))
    assert g.edge_names() == [("long_chain_input", "first"), ("first", "last")]


def test_subclassed_inside_functional_is_a_cluster_and_custom_layer_a_node() -> None:
    model = zoo.build_subclassed_in_functional()
    g = model_to_graph(model)
    (cluster,) = g.clusters
    assert (cluster.name, cluster.class_name, cluster.params) == ("residual", "TinyResidual", 97)
    block = by_path(g)["block"]
    assert (block.class_name, block.params, block.parent) == ("BlockLayer", 84, None)
    edges = g.edge_names()
    assert ("features", "block") in edges
    assert ("block", "residual > left") in edges and ("block", "residual > right") in edges
    assert ("residual > out", "final") in edges and ("residual > left", "residual > out") in edges
    assert sum(n.params for n in g.nodes) == model.count_params()
    collapsed = model_to_graph(model, expand_nested=False)
    assert collapsed.edge_names() == [("features", "block"), ("block", "residual"), ("residual", "final")]


def test_subclassed_nesting_and_lazy_sequential() -> None:
    g = model_to_graph(zoo.build_subclassed_nesting())
    assert [(c.name, c.class_name) for c in g.clusters] == [("body", "TinyResidual"), ("head", "Sequential")]
    assert ("outer_input", "body > left") in g.edge_names()
    assert ("body > out", "head > head_dense") in g.edge_names()


def test_two_input_subclassed_with_functional_inside() -> None:
    g = model_to_graph(zoo.build_two_input_subclassed())
    assert [n.name for n in g.nodes if n.kind == "input"] == ["two_input_input_0", "two_input_input_1"]
    assert g.edge_names() == [
        ("two_input_input_0", "inner > inner_dense"),
        ("inner > inner_dense", "mix"),
        ("two_input_input_1", "mix"),
    ]


def test_custom_layer_at_top_level_shows_its_sublayers() -> None:
    g = model_to_graph(zoo.build_layer_with_sublayers())
    assert g.edge_names() == [("block_input", "d1"), ("d1", "d2")]
    assert g.details["class_name"] == "BlockLayer"


def test_plain_layer_at_top_level_is_one_node() -> None:
    layer = keras.layers.Dense(3, name="solo")
    g = model_to_graph(layer, input_shape=(5,))
    assert g.edge_names() == [("solo_input", "solo")]
    assert g.node("n1").params == 18


def test_tracing_does_not_change_weights() -> None:
    model = zoo.build_norm_drop()
    before = [w.copy() for w in model.get_weights()]
    g = model_to_graph(model)
    assert g.edge_names() == [("norm_drop_input", "dense"), ("dense", "norm"), ("norm", "drop")]
    assert by_path(g)["norm"].params == 16 and by_path(g)["norm"].trainable_params == 8
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


# -- unbuilt models and bad input ----------------------------------------------------------
def test_unbuilt_subclassed_needs_input_shape() -> None:
    model = zoo.build_unbuilt_subclassed()
    with pytest.raises(ModelNotBuiltError, match=r"input_shape=.*model_to_graph\(model, input_shape=\(28, 28, 1\)\)"):
        model_to_graph(model)
    g = model_to_graph(model, input_shape=(5,))
    assert g.nodes[0].output_shapes == ((None, 5),)
    assert g.details["params"] == model.count_params() == 89
    assert ("left", "out") in g.edge_names()


def test_unbuilt_sequential_needs_input_shape() -> None:
    model = keras.Sequential([keras.layers.Dense(3, name="d")], name="later")
    with pytest.raises(ModelNotBuiltError) as info:
        model_to_graph(model)
    assert isinstance(info.value, ValueError) and "'later'" in str(info.value)
    g = model_to_graph(model, input_shape=(4,))
    assert [n.kind for n in g.nodes] == ["input", "layer"]
    assert g.nodes[1].input_shapes == ((None, 4),) and g.details["params"] == 15


def test_sequential_that_cannot_be_built_gives_a_ganviz_error() -> None:
    with pytest.raises(
        ModelNotBuiltError, match=r"cannot build Sequential 'empty' with input_shape=\(3,\): .*no layers"
    ):
        model_to_graph(keras.Sequential(name="empty"), input_shape=(3,))
    conv = keras.Sequential([keras.layers.Conv2D(2, 3, name="conv")], name="needs_images")
    with pytest.raises(ModelNotBuiltError, match=r"cannot build Sequential 'needs_images' with input_shape=\(5,\)"):
        model_to_graph(conv, input_shape=(5,))


def test_bad_input_shape_names_the_whole_value() -> None:
    model = keras.Sequential([keras.layers.Dense(1)], name="bad_shape")
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of ints .*got \(None, 'x'\)"):
        model_to_graph(model, input_shape=(None, "x"))


@pytest.mark.parametrize(
    ("value", "kind"), [("model.keras", "str"), (42, "int"), (None, "NoneType"), (keras.optimizers.Adam, "type")]
)
def test_not_a_model(value: Any, kind: str) -> None:
    with pytest.raises(NotAModelError) as info:
        model_to_graph(value)
    assert str(info.value) == f"expected a keras.Model or keras.layers.Layer, got {kind}"
    assert isinstance(info.value, TypeError) and isinstance(info.value, GanvizError)


def test_weird_names_survive_exactly() -> None:
    g = model_to_graph(zoo.build_weird_names())
    assert g.name == 'weird "model"'
    assert names(g) == ["in<put>", zoo.WEIRD_NAME, zoo.NEWLINE_NAME, zoo.EMOJI_NAME]
    assert Graph.from_json(g.to_json()) == g


# -- keras.applications and size ------------------------------------------------------------
def test_mobilenet_residual_adds_have_two_inputs() -> None:
    model = zoo.build_mobilenet()
    g = model_to_graph(model)
    assert len(g.nodes) == len(model.layers)
    assert g.details["params"] == model.count_params() == sum(n.params for n in g.nodes)
    targets = [t for _, t in g.edge_names()]
    adds = [n for n in g.nodes if n.class_name == "Add"]
    assert adds and all(targets.count(n.name) == 2 for n in adds)


def test_resnet50_nested_in_functional(resnet_nested: keras.Model) -> None:
    g = model_to_graph(resnet_nested)
    (cluster,) = g.clusters
    base = resnet_nested.get_layer("resnet50")
    assert (cluster.name, cluster.params) == ("resnet50", base.count_params())
    assert len(g.nodes) == len(base.layers) + 1  # its InputLayer is not drawn; "image" and "head" are
    edges = g.edge_names()
    assert edges[0] == ("image", "resnet50 > conv1_pad")
    assert ("resnet50 > avg_pool", "head") in edges
    assert g.details["params"] == resnet_nested.count_params() == sum(n.params for n in g.nodes)


def test_resnet50_top_level_converts() -> None:
    # Speed is measured in benchmarks/bench_plot.py, as a ratio against Keras in the same run.
    model = zoo.build_resnet50(size=32)
    g = model_to_graph(model)
    assert len(g.nodes) == 177 and len(g.edges) == 192


@pytest.mark.slow
def test_thousand_layers_convert() -> None:
    model = zoo.build_deep(1000)
    g = model_to_graph(model)
    assert len(g.nodes) == 1001 and len(g.edges) == 1000
    assert g.edge_names()[-1] == ("dense_998", "dense_999")


def test_importing_the_extractor_does_not_import_tensorflow() -> None:
    code = "import sys, ganviz.extract.keras_model; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
