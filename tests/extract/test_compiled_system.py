"""``plot_gan(compiled=[...])``: a classic system of compiled models without a step, each drawn as
its own ``train_on_batch`` from what ``compile`` recorded; Keras 3's trainable trap marked; the
script's own object; the assumed loop's inputs and compiled losses."""

from __future__ import annotations

import os
import types
import warnings
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from fixtures import classic_zoo  # noqa: E402
from ganviz import plot_gan  # noqa: E402
from ganviz.api import TrainableTrapWarning  # noqa: E402
from ganviz.extract.assumed import assumed_gan_trace  # noqa: E402
from ganviz.extract.step_trace import trace_step  # noqa: E402
from ganviz.extract.step_trace.compiled_system import compiled_trace  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402


def _fingerprint(entry: classic_zoo.ClassicEntry) -> list[Any]:
    out: list[Any] = []
    for m in entry.models.values():
        out += [np.array(v).tobytes() for v in m.weights] + [m.train_function, m.predict_function, m.trainable]
    out += [(o.built, int(o.iterations.numpy())) for o in entry.optimizers.values()]
    return out


@pytest.fixture(scope="module")
def systems() -> dict[str, tuple[classic_zoo.ClassicEntry, Trace, bool]]:
    """Each classic system drawn from its compiled models only (no step), and whether nothing changed."""
    out = {}
    for name, build in classic_zoo.CLASSIC.items():
        entry = build()
        before = _fingerprint(entry)
        trace = compiled_trace(entry.compiled, models=entry.models)
        out[name] = (entry, trace, before == _fingerprint(entry))
    return out


def _update(trace: Trace, model: str) -> Any:
    return next(c for c in trace.compiled if c.model == model)


def _outputs(trace: Trace, model: str) -> list[tuple[str, str, float | None, str | None]]:
    names = {s.id: s.name for s in trace.sources}
    names.update({c.id: c.output or c.model for c in trace.calls})
    return [(o.loss, o.kind, o.weight, names.get(o.target or "")) for o in _update(trace, model).outputs]


@pytest.mark.parametrize("name", list(classic_zoo.CLASSIC))
def test_every_compiled_model_is_one_update_and_nothing_runs(systems: Any, name: str) -> None:
    entry, trace, unchanged = systems[name]
    assert unchanged  # no weight, flag, optimizer step or Keras function came from drawing
    assert [c.model for c in trace.compiled] == list(entry.compiled)
    assert {c.method for c in trace.compiled} == {"compile"}
    assert Trace.from_json(trace.to_json()) == trace
    assert "No step traced" in trace_to_graph(trace).details["caption"]


def test_pix2pix_says_mse_plus_100_mae(systems: Any) -> None:
    trace = systems["pix2pix"][1]
    combined = _update(trace, "combined")
    assert (combined.trains, combined.frozen) == (("generator",), ("discriminator",))
    # the input no output uses (img_A) is the L1 target, as the script's [valid, imgs_A]
    assert _outputs(trace, "combined") == [("mse", "mse", 1.0, "valid"), ("mae", "mae", 100.0, "img_A")]
    assert "mse + 100×mae" in {n.class_name for n in trace_to_graph(trace).nodes if n.kind == "loss"}
    # image to image: the generator is fed images (data), never noise
    generator_call = next(c for c in trace.calls if c.model == "generator")
    assert {s.kind for s in trace.sources if s.id in generator_call.inputs} == {"data"}
    assert not [s for s in trace.sources if s.kind == "noise"]


def test_cyclegan_six_weighted_outputs_and_both_generators(systems: Any) -> None:
    trace = systems["cyclegan"][1]
    combined = _update(trace, "combined")
    assert set(combined.trains) == {"g_AB", "g_BA"} and set(combined.frozen) == {"d_A", "d_B"}
    assert [(o.kind, o.weight) for o in combined.outputs] == classic_zoo.CYCLEGAN_OUTPUTS
    targets = [t for *_, t in _outputs(trace, "combined")]
    assert targets[:2] == ["valid", "valid"]
    # each reconstruction and identity against the input it was computed from: A, B, A, B
    assert targets[2] == targets[4] != targets[3] == targets[5]
    assert "mse + mse + 10×mae + 10×mae + mae + mae" in {
        n.class_name for n in trace_to_graph(trace).nodes if n.kind == "loss"
    }


def test_acgan_class_head_with_sparse_cross_entropy(systems: Any) -> None:
    trace = systems["acgan"][1]
    assert _outputs(trace, "discriminator") == [
        ("bce", "bce", None, "valid_or_fake"),
        ("sparse_cce", "sparse_cce", None, "labels"),
    ]
    assert _outputs(trace, "combined") == [
        ("bce", "bce", None, "valid"),
        ("sparse_cce", "sparse_cce", None, "sampled_labels"),  # the labels the generator was given
    ]
    generator_call = next(c for c in trace.calls if c.model == "generator")
    names = {s.id: s.name for s in trace.sources}
    assert {names[i] for i in generator_call.inputs} == {"noise", "sampled_labels"}


def test_third_models_trained_by_combined(systems: Any) -> None:
    infogan = _update(systems["infogan"][1], "combined")
    assert (infogan.trains, infogan.frozen) == (("generator", "auxiliary"), ("discriminator",))
    aux = systems["infogan"][1].model("auxiliary")
    assert 0 < aux.trainable_params < aux.params  # its own head; the shared trunk frozen with D
    bigan = _update(systems["bigan"][1], "bigan_generator")
    assert (bigan.trains, bigan.frozen) == (("generator", "encoder"), ("discriminator",))


def test_srgan_frozen_feature_network_and_its_features_as_target(systems: Any) -> None:
    trace = systems["srgan"][1]
    combined = _update(trace, "combined")
    assert (combined.trains, combined.frozen) == (("generator",), ("discriminator", "vgg"))
    assert [(o.kind, o.weight) for o in combined.outputs] == [("bce", 0.001), ("mse", 1.0)]
    features = next(c for c in trace.calls if c.id == combined.outputs[1].target)
    assert (features.model, features.in_tape) == ("vgg", False)  # vgg.predict(real high-res images)
    real = next(s for s in trace.sources if s.id == features.inputs[0])
    assert real.kind == "data" and real.shape == (classic_zoo.BATCH, *classic_zoo.IMAGE_SHAPE)
    assert not trace.model("vgg").trainable


def test_wgan_gp_three_critic_outputs(systems: Any) -> None:
    trace = systems["wgan_gp"][1]
    assert [(o.loss, o.weight) for o in _update(trace, "critic_model").outputs] == [
        ("wasserstein_loss", 1.0),
        ("wasserstein_loss", 1.0),
        ("mse", 10.0),
    ]
    assert {o.name: o.class_name for o in trace.optimizers}["critic_model.optimizer"] == "RMSprop"


# -- Keras 3's trainable trap ----------------------------------------------------------------------


def test_a_frozen_discriminator_never_built_is_marked_and_warned(tmp_path: Path) -> None:
    entry = classic_zoo.dcgan()  # D.trainable is False after building combined, D never trained yet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diagram = plot_gan(compiled=entry.compiled, to_file=tmp_path / "t.json")
    trace = Trace.from_json(Path(diagram.path).read_text(encoding="utf-8"))
    d = _update(trace, "discriminator")
    assert d.trains == () and d.warning and "discriminator.trainable = True" in d.warning
    assert _update(trace, "combined").warning is None
    traps = [str(w.message) for w in caught if issubclass(w.category, TrainableTrapWarning)]
    assert len(traps) == 1 and traps[0].startswith("discriminator.train_on_batch") and "fix:" in traps[0]
    graph = trace_to_graph(trace)
    assert any(line.startswith("WARNING: discriminator.train_on_batch") for line in graph.details["legend"])
    assert any("WARNING" in c.name for c in graph.clusters if c.name.startswith("1."))


def test_a_model_trainable_when_its_train_function_was_built_keeps_that_set() -> None:
    """Built while trainable, then frozen: Keras 3 still trains it (measured in ``captured_trainable``);
    the trace of a later step says so, and the picture warns that the flags say otherwise."""
    entry = classic_zoo.dcgan()
    d = entry.models["discriminator"]
    imgs, valid = entry.data[0], np.ones((classic_zoo.BATCH, 1))
    d.trainable = True
    d.train_on_batch(imgs, valid)  # builds d's train function with its weights
    d.trainable = False

    def train_step(images: Any) -> Any:
        return d.train_on_batch(images, valid)

    traced = trace_step(train_step, imgs)
    assert [(c.model, c.trains) for c in traced.compiled] == [("discriminator", ("discriminator",))]
    drawn = compiled_trace({"discriminator": d})
    assert drawn.compiled[0].trains == ("discriminator",)
    assert "though the trainable flags now say nothing" in (drawn.compiled[0].warning or "")


def test_a_working_system_has_no_warning() -> None:
    entry = classic_zoo.dcgan()
    entry.models["discriminator"].trainable = True  # as a Keras 3 loop sets it before D's train_on_batch
    trace = compiled_trace({"discriminator": entry.models["discriminator"]})
    assert trace.compiled[0].trains == ("discriminator",) and trace.compiled[0].warning is None


# -- the script's own object -----------------------------------------------------------------------


def test_a_plain_object_is_drawn_from_the_compiled_models_it_holds(tmp_path: Path) -> None:
    entry = classic_zoo.pix2pix()
    m = entry.models
    gan = types.SimpleNamespace(
        generator=m["generator"], discriminator=m["discriminator"], combined=m["combined"], nets=[m["generator"]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainableTrapWarning)
        diagram = plot_gan(gan, to_file=tmp_path / "t.json")
    trace = Trace.from_json(Path(diagram.path).read_text(encoding="utf-8"))
    assert [c.model for c in trace.compiled] == ["discriminator", "combined"]
    assert [o.weight for o in _update(trace, "combined").outputs] == [1.0, 100.0]


def test_a_plain_object_without_compiled_models_says_what_to_pass() -> None:
    from ganviz.errors import NotAModelError

    with pytest.raises(NotAModelError, match=r"holds no compiled Keras model \(models found: none\)"):
        plot_gan(types.SimpleNamespace(epochs=3), to_file=None)


# -- the assumed loop, when the models say more ----------------------------------------------------


def test_assumed_loop_feeds_an_image_to_image_generator_images_and_keeps_compiled_weights() -> None:
    m = classic_zoo.pix2pix().models
    trace = assumed_gan_trace(generator=m["generator"], discriminator=m["discriminator"], combined=m["combined"])
    assert trace.assumed
    g_call = next(c for c in trace.calls if c.model == "generator")
    assert [(s.name, s.kind) for s in trace.sources if s.id in g_call.inputs] == [("input_images", "data")]
    g_loss = next(x for x in trace.losses if x.name == "g_loss")
    assert [(t.kind, t.weight) for t in g_loss.terms] == [("mse", 1.0), ("mae", 100.0)]
    assert "mse + 100×mae" in {n.class_name for n in trace_to_graph(trace).nodes if n.kind == "loss"}


def test_assumed_loop_draws_labels_into_both_models() -> None:
    m = classic_zoo.cgan().models
    trace = assumed_gan_trace(generator=m["generator"], discriminator=m["discriminator"], combined=m["combined"])
    names = {s.id: s.name for s in trace.sources}
    d_calls = [c for c in trace.calls if c.model == "discriminator"]
    assert [{names.get(i, i) for i in c.inputs} for c in d_calls] == [
        {"call0", "sampled_labels"},
        {"real_images", "labels"},
    ]
    acgan = classic_zoo.acgan().models
    trace = assumed_gan_trace(
        generator=acgan["generator"], discriminator=acgan["discriminator"], combined=acgan["combined"]
    )
    d_loss = next(x for x in trace.losses if x.name == "d_loss")
    assert [t.kind for t in d_loss.terms] == ["bce", "sparse_cce"]


def test_wgan_gp_critic_model_left_training_the_generator_is_marked(systems: Any) -> None:
    """With the flags as building left them (critic frozen, generator trainable), critic_model would
    train the generator like generator_model, and the critic nothing: marked on critic_model."""
    trace = systems["wgan_gp"][1]
    critic = _update(trace, "critic_model")
    assert critic.trains == ("generator",) and critic.frozen == ("critic",)
    assert critic.warning and "critic.trainable = True" in critic.warning
    assert _update(trace, "generator_model").warning is None
