"""Tracing training steps into a Trace: updates, call inputs, sources, losses, no state change, errors."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from fixtures import gan_zoo  # noqa: E402
from ganviz.errors import TraceError  # noqa: E402
from ganviz.extract.assumed import assumed_gan_trace  # noqa: E402
from ganviz.extract.step_trace import trace_gan, trace_step  # noqa: E402
from ganviz.ir import Graph, Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402


def _state(entry: gan_zoo.ZooEntry) -> dict[str, Any]:
    """Every weight and every piece of optimizer state, as numpy values."""
    out: dict[str, Any] = {}
    if entry.kind == "gan":  # the GAN's own variables: sub-models, metrics, seed generators
        out["system.variables"] = [np.array(v) for v in entry.system.variables]
    for role, model in entry.models.items():
        out[f"{role}.weights"] = [np.array(v) for v in model.variables]
    for role, opt in entry.optimizers.items():
        out[f"{role}.built"] = opt.built
        out[f"{role}.iterations"] = int(opt.iterations.numpy())
        out[f"{role}.variables"] = [(v.path, np.array(v)) for v in opt.variables]
    return out


def _same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, list):
            if len(x) != len(y):
                return False
            for u, v in zip(x, y):
                if isinstance(u, tuple):
                    if u[0] != v[0] or not np.array_equal(u[1], v[1]):
                        return False
                elif not np.array_equal(u, v):
                    return False
        elif x != y:
            return False
    return True


def _trace(entry: gan_zoo.ZooEntry) -> Trace:
    if entry.kind == "gan":
        return trace_gan(entry.system, data=entry.data)
    return trace_step(entry.system, *entry.data)


@pytest.fixture(scope="module")
def traced() -> dict[str, tuple[gan_zoo.ZooEntry, Trace, dict[str, Any], dict[str, Any]]]:
    """Every zoo system, traced once, with its state before and after tracing."""
    out = {}
    for name, build in gan_zoo.ZOO.items():
        entry = build()
        before = _state(entry)
        trace = _trace(entry)
        out[name] = (entry, trace, before, _state(entry))
    return out


def _calls(trace: Trace, model: str) -> list[Any]:
    return [c for c in trace.calls if c.model == model]


def _kinds(trace: Trace, ids: tuple[str, ...]) -> set[str]:
    """The kinds of sources and the models of calls among ``ids`` (through concat/interpolate ops)."""
    src = {s.id: f"{s.kind}:{s.name}" for s in trace.sources}
    calls = {c.id: c.model for c in trace.calls}
    ops = {o.id: o.inputs for o in trace.ops}
    out: set[str] = set()
    for i in ids:
        out |= _kinds(trace, ops[i]) if i in ops else {src.get(i) or calls[i]}
    return out


# -- nothing changes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(gan_zoo.ZOO))
def test_tracing_changes_no_weight_or_optimizer_state(traced: Any, name: str) -> None:
    entry, _, before, after = traced[name]
    assert _same_state(before, after)
    assert all(not opt.built for opt in entry.optimizers.values())  # no slot variables were created


def test_patches_are_removed_and_real_training_still_works(traced: Any) -> None:
    entry = gan_zoo.dcgan()
    trace_gan(entry.system, data=entry.data)
    assert "apply_gradients" not in keras.optimizers.Optimizer.__dict__
    w0 = [np.array(v) for v in entry.models["discriminator"].trainable_variables]
    entry.system.train_step(tf.constant(entry.data))  # eager: a real update
    w1 = [np.array(v) for v in entry.models["discriminator"].trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(w0, w1))
    assert int(entry.optimizers["d_optimizer"].iterations.numpy()) == 1


@pytest.mark.parametrize("name", list(gan_zoo.ZOO))
def test_json_round_trip(traced: Any, name: str) -> None:
    trace = traced[name][1]
    assert Trace.from_json(trace.to_json()) == trace
    graph = trace_to_graph(trace)
    assert Graph.from_json(graph.to_json()) == graph


def test_tracing_is_deterministic(traced: Any) -> None:
    entry, first, _, _ = traced["seed_step"]
    assert _trace(entry).to_json() == first.to_json()


# -- each system -------------------------------------------------------------------------------------


def test_dcgan(traced: Any) -> None:
    trace = traced["dcgan"][1]
    assert trace.updates_by_model() == {"discriminator": ["d_optimizer"], "generator": ["g_optimizer"]}
    g1, g2 = _calls(trace, "generator")
    d1, d2 = _calls(trace, "discriminator")
    assert _kinds(trace, g1.inputs) == {"noise:random_latent_vectors"}
    assert _kinds(trace, d1.inputs) == {"generator", "data:real_images"}  # fake + real, concatenated
    (combined,) = trace.ops
    assert d1.inputs == (combined.id,) and combined.kind == "concat" and combined.inputs[0] == g1.id
    assert d2.inputs == (g2.id,)
    losses = {loss.name: loss for loss in trace.losses}
    assert set(losses) == {"d_loss", "g_loss"}
    assert _kinds(trace, losses["d_loss"].inputs) == {
        "discriminator",
        "constant:ones",
        "constant:zeros",
        "noise:uniform",  # the label noise
    }
    assert _kinds(trace, losses["g_loss"].inputs) == {"discriminator", "constant:misleading_labels"}
    assert trace.optimizer("d_optimizer").learning_rate == pytest.approx(1e-4)
    assert trace.optimizer("d_optimizer").class_name == "Adam"
    assert [m.name for m in trace.models] == ["generator", "discriminator"]
    assert trace.model("generator").params == gan_zoo.dcgan().models["generator"].count_params()


def test_dcgan_data_inferred_from_the_discriminator() -> None:
    trace = trace_gan(gan_zoo.dcgan().system)
    data = [s for s in trace.sources if s.kind == "data"]
    assert [(s.name, s.shape) for s in data] == [("real_images", (None, 8, 8, 1))]
    assert trace.updates_by_model() == {"discriminator": ["d_optimizer"], "generator": ["g_optimizer"]}


def test_data_as_tensor_spec() -> None:
    spec = tf.TensorSpec((2, 8, 8, 1), tf.float32)
    trace = trace_gan(gan_zoo.dcgan().system, data=spec)
    assert trace.sources[0].shape == (2, 8, 8, 1)


def test_wgan_gp(traced: Any) -> None:
    trace = traced["wgan_gp"][1]
    assert trace.updates_by_model() == {"critic": ["d_optimizer"], "generator": ["g_optimizer"]}
    # the three critic steps are one phase run three times: its calls are kept once
    assert len(_calls(trace, "critic")) == 3 + 1  # fake, real, interpolated, then the generator step's
    assert len(_calls(trace, "generator")) == 2
    assert [(u.optimizer, u.times) for u in trace.updates] == [("d_optimizer", 3), ("g_optimizer", 1)]
    assert [loss.name for loss in trace.losses] == ["d_loss", "g_loss"]  # the inner tape's `pred` is no loss
    # the interpolated images derive from real data, the alpha noise and the generator's output
    interp = _calls(trace, "critic")[2]
    assert _kinds(trace, interp.inputs) == {"data:real_images", "noise:alpha", "generator"}
    d_loss = next(loss for loss in trace.losses if loss.name == "d_loss")
    assert set(d_loss.inputs) == {c.id for c in _calls(trace, "critic")[:3]}


def test_conditional_gan_labels_feed_both_models(traced: Any) -> None:
    trace = traced["conditional_gan"][1]
    assert [(s.kind, s.name) for s in trace.sources if s.kind == "data"] == [
        ("data", "real_images"),
        ("data", "one_hot_labels"),
    ]
    g1 = _calls(trace, "generator")[0]
    d1, d2 = _calls(trace, "discriminator")
    assert _kinds(trace, g1.inputs) == {"noise:random_latent_vectors", "data:one_hot_labels"}
    assert _kinds(trace, d1.inputs) == {"generator", "data:real_images", "data:one_hot_labels"}
    assert _kinds(trace, d2.inputs) == {"generator", "data:one_hot_labels"}
    assert trace.updates_by_model() == {"discriminator": ["d_optimizer"], "generator": ["g_optimizer"]}


def test_cyclegan(traced: Any) -> None:
    trace = traced["cyclegan"][1]
    assert trace.updates_by_model() == {
        "generator_G": ["gen_G_optimizer"],
        "generator_F": ["gen_F_optimizer"],
        "discriminator_X": ["disc_X_optimizer"],
        "discriminator_Y": ["disc_Y_optimizer"],
    }
    assert [loss.name for loss in trace.losses] == ["G_loss", "F_loss", "D_X_loss", "D_Y_loss"]
    fake_y, cycled_y, same_y = _calls(trace, "generator_G")
    fake_x, cycled_x, same_x = _calls(trace, "generator_F")
    assert _kinds(trace, fake_y.inputs) == {"data:real_x"}
    assert _kinds(trace, cycled_x.inputs) == {"generator_G"} and cycled_x.inputs == (fake_y.id,)
    assert _kinds(trace, cycled_y.inputs) == {"generator_F"}
    assert _kinds(trace, same_y.inputs) == {"data:real_y"}
    g_loss = next(loss for loss in trace.losses if loss.name == "G_loss")
    # adversarial (D_Y on fake_y), cycle (cycled_y vs real_y) and identity (same_y vs real_y)
    assert {cycled_y.id, same_y.id, "discriminator_Y"} <= set(g_loss.inputs) | {
        c.model for c in trace.calls if c.id in g_loss.inputs
    }
    assert len(trace.calls) == 10


def test_vae_one_optimizer_updates_both_models(traced: Any) -> None:
    trace = traced["vae"][1]
    assert trace.updates_by_model() == {"encoder": ["optimizer"], "decoder": ["optimizer"]}
    (dec,) = _calls(trace, "decoder")
    assert _kinds(trace, dec.inputs) == {"encoder", "noise:epsilon"}
    assert [loss.name for loss in trace.losses] == ["loss"]  # the logs key of the differentiated tensor
    assert trace.model("encoder").output_shapes == ((None, 2), (None, 2))


def test_seed_step_finds_closed_over_models_and_optimizers(traced: Any) -> None:
    trace = traced["seed_step"][1]
    assert trace.name == "train_step"
    assert trace.updates_by_model() == {
        "discriminator": ["discriminator_optimizer"],
        "generator": ["generator_optimizer"],
    }
    assert {loss.name for loss in trace.losses} == {"disc_loss", "gen_loss"}
    assert {(s.kind, s.name) for s in trace.sources} == {
        ("data", "real_images"),
        ("noise", "noise"),
        ("constant", "real_labels"),
        ("constant", "fake_labels"),
    }
    assert len(_calls(trace, "generator")) == 2 and len(_calls(trace, "discriminator")) == 3


def test_trace_step_finds_globals_and_follows_clipped_gradients() -> None:
    generator, discriminator = gan_zoo.seed_models()
    opt = keras.optimizers.SGD(learning_rate=0.01)
    source = (
        "def step(real):\n"
        "    with tf.GradientTape() as tape:\n"
        "        loss = tf.reduce_mean(disc(gen(tf.random.normal((2, 4)))) - disc(real))\n"
        "    grads = tape.gradient(loss, disc.trainable_variables)\n"
        "    grads, _ = tf.clip_by_global_norm(grads, 1.0)\n"
        "    opt.apply_gradients(zip(grads, disc.trainable_variables))\n"
    )
    scope: dict[str, Any] = {"tf": tf, "gen": generator, "disc": discriminator, "opt": opt}
    exec(compile(source, "<user step>", "exec"), scope)
    trace = trace_step(scope["step"], tf.TensorSpec((2, 8, 8, 1)))
    assert trace.updates_by_model() == {"discriminator": ["opt"]}
    assert trace.optimizer("opt").class_name == "SGD"
    assert not opt.built


def test_trace_step_with_models_argument() -> None:
    entry = gan_zoo.seed_step()
    trace = trace_step(entry.system, *entry.data, models=list(entry.models.values()))
    assert set(trace.updates_by_model()) == {"generator", "discriminator"}


def test_shape_only_dependency_is_not_data() -> None:
    generator, discriminator = gan_zoo.seed_models()

    def step(real: Any) -> Any:
        z = tf.random.normal((tf.shape(real)[0], 4))  # depends on `real` only through its shape
        return generator(z)

    trace = trace_step(step, np.zeros((2, 8, 8, 1), np.float32))
    assert _kinds(trace, trace.calls[0].inputs) == {"noise:z"}


def test_python_if_on_a_tensor_falls_back_to_autograph() -> None:
    generator, discriminator = gan_zoo.seed_models()

    def step(z: Any) -> Any:
        images = generator(z)
        if tf.reduce_mean(images) > 0.5:  # a Python `if` on a tensor needs AutoGraph
            images = images * 0.5
        return discriminator(images)

    trace = trace_step(step, np.zeros((2, 4), np.float32))
    assert _kinds(trace, _calls(trace, "discriminator")[0].inputs) == {"generator"}


def test_tf_function_step() -> None:
    entry = gan_zoo.seed_step()
    trace = trace_step(tf.function(entry.system), *entry.data)
    assert trace.updates_by_model() == {
        "discriminator": ["discriminator_optimizer"],
        "generator": ["generator_optimizer"],
    }


# -- errors -------------------------------------------------------------------------------------------


def test_numpy_in_step_names_the_line() -> None:
    generator, _ = gan_zoo.seed_models()

    def step(z: Any) -> Any:
        images = generator(z)
        return images.numpy()  # eager-only

    with pytest.raises(TraceError) as err:
        trace_step(step, np.zeros((2, 4), np.float32))
    msg = str(err.value)
    assert f"{__file__}:" in msg and "images.numpy()" in msg
    assert "fix: remove `.numpy()`" in msg


def test_no_models_found_lists_what_was_searched() -> None:
    scale = 2.0

    def step(x: Any) -> Any:
        return x * scale

    with pytest.raises(TraceError, match=r"no Keras models found.*searched: scale"):
        trace_step(step, np.zeros((2,), np.float32))

    class Holder(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.latent_dim = 3

        def train_step(self, data: Any) -> Any:
            return {}

    with pytest.raises(TraceError, match=r"searched: .*latent_dim"):
        trace_gan(Holder(), data=np.zeros((2, 3), np.float32))


def test_missing_data_that_cannot_be_inferred() -> None:
    gan = gan_zoo.conditional_gan().system
    with pytest.raises(TraceError, match="pass data="):
        trace_gan(gan)


def test_model_without_train_step() -> None:
    generator, _ = gan_zoo.seed_models()
    with pytest.raises(TraceError, match="does not override train_step"):
        trace_gan(generator)


def test_other_backend_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(TraceError, match="backend is 'jax'.*KERAS_BACKEND=tensorflow"):
        trace_gan(gan_zoo.dcgan().system)


# -- the assumed loop -----------------------------------------------------------------------------------


def test_assumed_gan_trace() -> None:
    generator, discriminator = gan_zoo.seed_models()
    trace = assumed_gan_trace(generator=generator, discriminator=discriminator)
    assert trace.assumed
    assert trace.updates_by_model() == {"discriminator": ["d_optimizer"], "generator": ["g_optimizer"]}
    assert _kinds(trace, _calls(trace, "discriminator")[0].inputs) == {"generator"}
    assert {s.kind for s in trace.sources} == {"noise", "data", "constant"}
    graph = trace_to_graph(trace)
    assert graph.details["assumed"] is True
    assert Trace.from_json(trace.to_json()) == trace


def test_assumed_gan_trace_with_frozen_combined_model() -> None:
    generator, discriminator = gan_zoo.seed_models()
    discriminator.compile(optimizer=keras.optimizers.Adam(0.0002), loss="binary_crossentropy")
    discriminator.trainable = False
    z = keras.Input((gan_zoo.LATENT_DIM,))
    combined = keras.Model(z, discriminator(generator(z)), name="combined")
    combined.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy")
    trace = assumed_gan_trace(generator=generator, discriminator=discriminator, combined=combined)
    assert trace.updates_by_model() == {"discriminator": ["d_optimizer"], "generator": ["combined_optimizer"]}
    assert trace.optimizer("combined_optimizer").learning_rate == pytest.approx(0.001)
    g_loss = next(loss for loss in trace.losses if loss.name == "g_loss")
    # combined (the generator, then the frozen discriminator) is drawn as its two parts, as traced
    assert _kinds(trace, g_loss.inputs) == {"discriminator", "constant:labels"}
    assert trace.phases[1].frozen == ("discriminator",)
    graph = trace_to_graph(trace, calls="merged")
    by_name = {n.name: n for n in graph.nodes}
    # one box per model: the discriminator is trained by its own update (frozen only through combined)
    assert by_name["discriminator"].trainable is not False and not by_name["discriminator"].details.get("frozen")


def test_assumed_gan_trace_refuses_a_missing_model() -> None:
    generator, discriminator = gan_zoo.seed_models()
    with pytest.raises(TraceError, match="generator must be a keras.Model, got NoneType"):
        assumed_gan_trace(generator=None, discriminator=discriminator)
    with pytest.raises(TraceError, match="discriminator must be a keras.Model, got NoneType"):
        assumed_gan_trace(generator=generator, discriminator=None)


# -- the system diagram ---------------------------------------------------------------------------------


def _edges(graph: Graph, kind: str | None = None) -> set[tuple[str, str, str | None]]:
    return {
        (graph.path_name(e.source), graph.path_name(e.target), e.label)
        for e in graph.edges
        if kind is None or e.kind == kind
    }


def test_dcgan_graph(traced: Any) -> None:
    graph = trace_to_graph(traced["dcgan"][1], calls="merged")
    kinds = {n.name: n.kind for n in graph.nodes}
    assert kinds == {
        "real_images": "data",
        "random_latent_vectors": "noise",
        "ones": "constant",
        "zeros": "constant",
        "uniform": "noise",
        "misleading_labels": "constant",
        "generator": "model",
        "discriminator": "model",
        "d_loss": "loss",
        "g_loss": "loss",
        "combined_images": "op",
    }
    assert _edges(graph, "data") >= {
        ("random_latent_vectors", "generator", "×2"),
        ("generator", "combined_images", None),
        ("real_images", "combined_images", None),
        ("combined_images", "discriminator", None),
        ("generator", "discriminator", None),
        ("discriminator", "d_loss", None),
        ("uniform", "d_loss", None),
    }
    assert _edges(graph, "gradient") == {
        ("d_loss", "discriminator", "d_optimizer: Adam lr=0.0001"),
        ("g_loss", "generator", "g_optimizer: Adam lr=0.0002"),
    }
    gen = next(n for n in graph.nodes if n.name == "generator")
    assert gen.input_shapes == ((None, 4),) and gen.output_shapes == ((None, 8, 8, 1),) and gen.params > 0
    details = {k: v for k, v in graph.details.items() if k not in ("legend", "summary")}
    assert details == {"assumed": False, "calls": "merged", "max_inches": 40, "not_drawn": []}
    assert any(line.startswith("Red dashed arrows: a loss's gradients") for line in graph.details["legend"])
    assert ["Model calls", 4] in graph.details["summary"] and ["Models", 2] in graph.details["summary"]


def test_wgan_graph_merges_repeated_calls(traced: Any) -> None:
    graph = trace_to_graph(traced["wgan_gp"][1], calls="merged")
    assert [n.name for n in graph.nodes if n.kind == "model"] == ["generator", "critic"]
    assert ("random_latent_vectors", "generator", "×2") in _edges(graph, "data")
    assert ("generator", "critic", "×2") in _edges(graph, "data")  # fake in each phase
    assert ("interpolated", "critic", None) in _edges(graph, "data")
    assert ("pred", "critic", None) not in _edges(graph)
    assert _edges(graph, "gradient") == {
        ("d_loss", "critic", "d_optimizer: Adam lr=0.0002 ×3"),
        ("g_loss", "generator", "g_optimizer: Adam lr=0.0002"),
    }


def test_cyclegan_graph_is_compact(traced: Any) -> None:
    graph = trace_to_graph(traced["cyclegan"][1], calls="merged")
    assert sum(n.kind == "model" for n in graph.nodes) == 4
    assert sum(n.kind == "loss" for n in graph.nodes) == 4
    assert len(_edges(graph, "gradient")) == 4
    assert ("generator_G", "generator_F", None) in _edges(graph, "data")
    assert len(graph.nodes) <= 14 and len(graph.edges) <= 40


def test_expand_nested_draws_architectures_as_clusters(traced: Any) -> None:
    trace = traced["dcgan"][1]
    graph = trace_to_graph(trace, expand_nested=True)
    assert [c.name for c in graph.clusters if c.parent is None] == ["generator", "discriminator"]
    ids = [n.id for n in graph.nodes] + [c.id for c in graph.clusters]
    assert len(ids) == len(set(ids))
    assert not any(n.kind == "model" for n in graph.nodes)
    inner = {graph.path_name(e.target) for e in graph.edges if graph.path_name(e.source) == "combined_images"}
    assert inner and all(p.startswith("discriminator > ") for p in inner)
    grads = [e for e in graph.edges if e.kind == "gradient"]
    # optimizer arrows end at the model's cluster, not at one of its layers
    assert {graph.cluster(e.target).name for e in grads} == {"generator", "discriminator"}
    assert all(e.target in {c.id for c in graph.clusters} for e in grads)
    assert trace_to_graph(trace, expand_nested=True).to_json() == graph.to_json()
