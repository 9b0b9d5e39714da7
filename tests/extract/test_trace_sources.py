"""Sources keyed by kind, name and shape; step variables as inputs; tuple outputs named and wired by element."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from ganviz.extract.step_trace import trace_step  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402

layers = keras.layers


def _edges(graph: Any, kind: str = "data") -> set[tuple[str, str, str | None]]:
    name = {n.id: n.name for n in graph.nodes}
    return {(name[e.source], name[e.target], e.label) for e in graph.edges if e.kind == kind}


@pytest.fixture(scope="module")
def two_resolutions() -> Trace:
    """Noise maps at 4x4 and 8x8 from one list comprehension, into a model with unnamed inputs."""
    small, big, fade = keras.Input((4, 4, 1)), keras.Input((8, 8, 1)), keras.Input((1,))
    h = layers.Concatenate()([layers.Flatten()(small), layers.Flatten()(big), fade])
    model = keras.Model([small, big, fade], layers.Dense(1)(h), name="synth")
    alpha = keras.Variable(0.25, trainable=False, name="alpha")
    opt = keras.optimizers.SGD(0.1)

    def step(x: Any) -> Any:
        n = tf.shape(x)[0]
        alpha.assign(tf.minimum(alpha + 0.01, 1.0))
        maps = [keras.random.normal((n, size, size, 1)) for size in (4, 8)]
        fade_in = tf.ones((n, 1)) * tf.reshape(alpha, (1, 1))
        with tf.GradientTape() as tape:
            out = model([*maps, fade_in])
            loss = tf.reduce_mean(tf.square(out - x))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    return trace_step(step, np.zeros((4, 1), "float32"), models={"synth": model, "opt": opt})


def test_noise_maps_of_two_shapes_are_two_sources(two_resolutions: Trace) -> None:
    noise = [(s.name, s.shape) for s in two_resolutions.sources if s.kind == "noise"]
    assert noise == [("maps[0]", (4, 4, 4, 1)), ("maps[1]", (4, 8, 8, 1))]
    for graph in (trace_to_graph(two_resolutions), trace_to_graph(two_resolutions, calls="merged")):
        drawn = sorted((n.name, n.output_shapes) for n in graph.nodes if n.kind == "noise")
        assert drawn == [("maps[0]", ((4, 4, 4, 1),)), ("maps[1]", ((4, 8, 8, 1),))]


def test_a_step_variable_feeding_a_model_is_an_input(two_resolutions: Trace) -> None:
    (variable,) = [s for s in two_resolutions.sources if s.kind == "variable"]
    assert variable.name == "alpha"
    (call,) = two_resolutions.calls
    assert variable.id in call.inputs
    graph = trace_to_graph(two_resolutions)
    alpha_nodes = [n for n in graph.nodes if n.name == "alpha"]
    assert len(alpha_nodes) == 1 and alpha_nodes[0].kind == "variable"  # one box, never a second for its update
    assert ("alpha", "out", call.input_names[variable.id]) in _edges(graph)


def test_edge_labels_are_keras_input_names_not_tensor_names(two_resolutions: Trace) -> None:
    (call,) = two_resolutions.calls
    labels = list(call.input_names.values())
    assert len(set(labels)) == 3 and all(label.startswith("input_layer") for label in labels), labels


@pytest.fixture(scope="module")
def encoder_decoder() -> Trace:
    """An encoder returning (z_mean, z_log_var, z); the decoder gets z, the KL the other two."""
    image = keras.Input((4,))
    h = layers.Dense(3)(image)
    z_mean, z_log_var = layers.Dense(2, name="z_mean")(h), layers.Dense(2, name="z_log_var")(h)
    z = layers.Add(name="z")([z_mean, z_log_var])
    encoder = keras.Model(image, [z_mean, z_log_var, z], name="encoder")
    code = keras.Input((2,))
    decoder = keras.Model(code, layers.Dense(4)(code), name="decoder")
    opt = keras.optimizers.SGD(0.1)

    def step(x: Any) -> Any:
        with tf.GradientTape() as tape:
            mean, log_var, sample = encoder(x)
            back = decoder(sample)
            kl = -0.5 * tf.reduce_mean(1 + log_var - tf.square(mean) - tf.exp(log_var))
            loss = tf.reduce_mean(tf.square(back - x)) + kl
        weights = encoder.trainable_variables + decoder.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    return trace_step(step, np.zeros((4, 4), "float32"), models={"encoder": encoder, "decoder": decoder, "opt": opt})


def test_every_element_of_a_tuple_output_is_named(encoder_decoder: Trace) -> None:
    enc, dec = encoder_decoder.calls
    assert enc.outputs == ("mean", "log_var", "sample")  # the code's names, not Keras's
    assert enc.output == "mean, log_var, sample"
    assert enc.output_shapes == ((4, 2), (4, 2), (4, 2))
    assert dec.input_elements == {enc.id: "sample"}
    assert ("mean, log_var, sample", "back", "sample") in _edges(trace_to_graph(encoder_decoder))
    assert Trace.from_json(encoder_decoder.to_json()) == encoder_decoder


def test_a_term_reading_some_elements_of_a_tuple_output_names_them(encoder_decoder: Trace) -> None:
    """The KL reads the mean and log-variance, never the sample: its edge says so, in every view."""
    enc = encoder_decoder.calls[0]
    (loss,) = encoder_decoder.losses
    kl = next(t for t in loss.terms if t.name == "kl")
    rebuilt = next(t for t in loss.terms if t.name != "kl")
    assert kl.input_elements == {enc.id: "mean, log_var"}
    assert rebuilt.input_elements == {}  # it reads the decoder's one output
    assert loss.input_elements == {enc.id: "mean, log_var"}
    assert ("mean, log_var, sample", "kl", "mean, log_var") in _edges(trace_to_graph(encoder_decoder))
    assert ("encoder", "loss", "mean, log_var") in _edges(trace_to_graph(encoder_decoder, calls="merged"))
    d = encoder_decoder.to_dict()["losses"][0]
    terms = {t["name"]: t for t in d["terms"]}
    assert terms["kl"]["input_elements"] == {enc.id: "mean, log_var"}
    assert "input_elements" not in terms[rebuilt.name]  # written only when set: older files stay as they were
    back = Trace.from_json(encoder_decoder.to_json())
    assert next(t for t in back.losses[0].terms if t.name == "kl").input_elements == {enc.id: "mean, log_var"}


def test_terms_on_a_two_output_discriminator_name_the_output_each_reads() -> None:
    """(features, score): the adversarial term reads the score, feature matching the features."""
    x_in = keras.Input((4,))
    feats = layers.Dense(3, name="feats")(x_in)
    judge = keras.Model(x_in, [feats, layers.Dense(1, name="score")(feats)], name="judge")
    gen = keras.Sequential([keras.Input((2,)), layers.Dense(4)], name="gen")
    opt = keras.optimizers.SGD(0.1)

    def step(x: Any) -> Any:
        with tf.GradientTape() as tape:
            made = gen(tf.random.normal((tf.shape(x)[0], 2)))
            made_feats, made_score = judge(made)
            real_feats, _ = judge(x)
            adversarial = -tf.reduce_mean(made_score)
            matching = tf.reduce_mean(tf.abs(tf.stop_gradient(real_feats) - made_feats))
            loss = adversarial + 10.0 * matching
        opt.apply_gradients(zip(tape.gradient(loss, gen.trainable_variables), gen.trainable_variables))
        return loss

    trace = trace_step(step, np.zeros((4, 4), "float32"), models={"gen": gen, "judge": judge, "opt": opt})
    _, on_made, on_real = trace.calls
    assert on_made.outputs == ("made_feats", "made_score")
    assert on_real.outputs == ("feats", "score")  # ``real_feats, _``: one name missing, so Keras's names
    terms = {t.name: dict(t.input_elements) for t in trace.losses[0].terms}
    assert terms == {
        "adversarial": {on_made.id: "made_score"},
        "matching": {on_made.id: "made_feats", on_real.id: "feats"},
    }
    edges = _edges(trace_to_graph(trace))
    assert ("made_feats, made_score", "adversarial", "made_score") in edges
    assert ("made_feats, made_score", "matching", "made_feats") in edges


def test_tuple_output_into_a_two_input_model_names_both_inputs() -> None:
    z = keras.Input((2,), name="latent")
    gen = keras.Model(z, [layers.Dense(3, name="adjacency")(z), layers.Dense(2, name="features")(z)], name="gen")
    a_in, f_in = keras.Input((3,)), keras.Input((2,))
    critic = keras.Model([a_in, f_in], layers.Dense(1)(layers.Concatenate()([a_in, f_in])), name="critic")
    opt = keras.optimizers.SGD(0.1)

    def step(x: Any) -> Any:
        with tf.GradientTape() as tape:
            made = gen(tf.random.normal((tf.shape(x)[0], 2)))
            loss = tf.reduce_mean(critic(made))
        opt.apply_gradients(zip(tape.gradient(loss, gen.trainable_variables), gen.trainable_variables))
        return loss

    trace = trace_step(step, np.zeros((4, 1), "float32"), models={"gen": gen, "critic": critic, "opt": opt})
    g_call, c_call = trace.calls
    assert g_call.outputs == ("adjacency", "features")  # Keras's output names where the code has none
    names = c_call.input_names[g_call.id].split(", ")
    assert len(names) == 2 and all(n.startswith("input_layer") for n in names), names
    assert c_call.input_elements == {g_call.id: "adjacency, features"}


def test_two_unnamed_noise_sources_of_two_shapes_are_two_boxes() -> None:
    """The renderers' rule alone: same kind and name but another shape is another source."""
    from ganviz.ir import Call, Graph, Source, TraceModel

    trace = Trace(
        models=(TraceModel("g", "Functional", 4, 4, Graph("g")),),
        sources=(Source("src0", "noise", "normal", (4, 4, 4, 1)), Source("src1", "noise", "normal", (4, 8, 8, 1))),
        calls=(Call("call0", "g", ("src0", "src1"), input_names={"src0": "noise_4", "src1": "noise_8"}),),
    )
    for graph in (trace_to_graph(trace), trace_to_graph(trace, calls="merged")):
        shapes = sorted(n.output_shapes for n in graph.nodes if n.kind == "noise")
        assert shapes == [((4, 4, 4, 1),), ((4, 8, 8, 1),)]
        assert {e.label for e in graph.edges if e.kind == "data"} == {"noise_4", "noise_8"}
