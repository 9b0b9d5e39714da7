"""Classic Keras GAN steps (compiled models, ``train_on_batch``, ``predict``) traced truthfully.

Each ``train_on_batch`` is recorded as one update of the compiled model by its own optimizer,
training the parts of it that are trainable at that moment, with its compiled losses by kind,
``loss_weights`` and the targets of the code; ``predict`` is a call outside any tape. Nothing runs.
"""

from __future__ import annotations

import os
import types
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from fixtures import classic_zoo  # noqa: E402
from ganviz.extract.step_trace import trace_step  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402


def _state(entry: classic_zoo.ClassicEntry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, m in entry.models.items():
        out[name] = [np.array(v) for v in m.weights]
        out[name + ".train_function"] = m.train_function
        out[name + ".predict_function"] = m.predict_function
    for name, o in entry.optimizers.items():
        out[name + ".optimizer"] = (o.built, int(o.iterations.numpy()))
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    for key, x in a.items():
        y = b[key]
        if isinstance(x, list):
            if len(x) != len(y) or not all(np.array_equal(u, v) for u, v in zip(x, y)):
                return False
        elif x is not y and x != y:
            return False
    return True


@pytest.fixture(scope="module")
def classic() -> dict[str, tuple[classic_zoo.ClassicEntry, Trace, bool]]:
    """Every classic system (and DCGAN in the Keras 2 habit), traced once; and whether nothing changed."""
    builds = dict(classic_zoo.CLASSIC)
    builds["dcgan_trap"] = lambda: classic_zoo.dcgan(toggle=False)
    builds["wgan_gp_trap"] = lambda: classic_zoo.wgan_gp(toggle=False)
    out = {}
    for name, build in builds.items():
        entry = build()
        before = _state(entry)
        trace = trace_step(entry.step, *entry.data)
        out[name] = (entry, trace, _same(before, _state(entry)))
    return out


def _compiled(trace: Trace) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(c.model, c.trains, c.frozen) for c in trace.compiled]


def _outputs(trace: Trace, i: int) -> list[tuple[str, str, float | None, str | None]]:
    """(loss as compiled, kind, weight, target source name) of the i-th compiled update's outputs."""
    names = {s.id: s.name for s in trace.sources}
    return [(o.loss, o.kind, o.weight, names.get(o.target or "")) for o in trace.compiled[i].outputs]


def _call(trace: Trace, cid: str | None) -> Any:
    return next(c for c in trace.calls if c.id == cid)


@pytest.mark.parametrize("name", [*classic_zoo.CLASSIC, "dcgan_trap"])
def test_tracing_runs_nothing(classic: Any, name: str) -> None:
    _, trace, unchanged = classic[name]
    assert unchanged  # no weight, optimizer step or Keras function came from the trace
    assert trace.compiled


@pytest.mark.parametrize("name", [*classic_zoo.CLASSIC, "dcgan_trap"])
def test_json_round_trip(classic: Any, name: str) -> None:
    trace = classic[name][1]
    again = Trace.from_json(trace.to_json())
    assert again.compiled == trace.compiled
    assert again == trace


def test_dcgan(classic: Any) -> None:
    entry, trace, _ = classic["dcgan"]
    assert _compiled(trace) == [
        ("discriminator", ("discriminator",), ()),
        ("discriminator", ("discriminator",), ()),
        ("combined", ("generator",), ("discriminator",)),
    ]
    assert [x.name for x in trace.losses] == ["d_loss_real", "d_loss_fake", "g_loss"]
    assert [_outputs(trace, i) for i in range(3)] == [
        [("bce", "bce", None, "valid")],
        [("bce", "bce", None, "fake")],
        [("bce", "bce", None, "valid")],
    ]
    kinds = {s.name: s.kind for s in trace.sources}
    assert kinds == {"imgs": "data", "noise": "noise", "valid": "constant", "fake": "constant"}
    predicted = [c for c in trace.calls if c.output == "gen_imgs"]  # generator.predict(noise): no tape
    assert [(c.model, c.in_tape) for c in predicted] == [("generator", False)]
    fake_call = _call(trace, trace.compiled[1].outputs[0].prediction)
    assert fake_call.model == "discriminator" and fake_call.inputs == (predicted[0].id,)
    assert trace.updates_by_model() == {
        "discriminator": ["discriminator.optimizer"],
        "generator": ["combined.optimizer"],
    }
    assert [(p.name, p.repeat) for p in trace.phases] == [
        ("update discriminator (d_loss_real)", 1),
        ("update discriminator (d_loss_fake)", 1),
        ("update generator", 1),
    ]
    assert "combined" not in trace.unused_models
    assert trace.model("discriminator").trainable  # trained by its own update, frozen only in combined's


def test_dcgan_frozen_discriminator_is_drawn_frozen_only_inside_combined(classic: Any) -> None:
    trace = classic["dcgan"][1]
    graph = trace_to_graph(trace)
    phase_of = {c.id: c.name for c in graph.clusters}
    frozen = {(n.name, phase_of.get(n.parent or "")) for n in graph.nodes if n.kind == "model" and not n.trainable}
    assert frozen == {("discriminator(generator(noise))", "3. update generator")}


def test_keras3_trap_trains_nothing_in_the_discriminator(classic: Any) -> None:
    """Frozen before ``combined`` was compiled and never set back: Keras 3 trains nothing in D."""
    trace = classic["dcgan_trap"][1]
    assert _compiled(trace) == [
        ("discriminator", (), ("discriminator",)),
        ("discriminator", (), ("discriminator",)),
        ("combined", ("generator",), ("discriminator",)),
    ]
    assert trace.updates_by_model() == {"generator": ["combined.optimizer"]}


@pytest.mark.parametrize("name", list(classic_zoo.CLASSIC))
def test_a_working_loop_traced_has_no_alarm(classic: Any, name: str) -> None:
    """Each loop sets the flags before each train_on_batch, as Keras 3 needs: the trace knows the
    flags at each call, so no update warns and every compiled update trains something."""
    trace = classic[name][1]
    assert [c.warning for c in trace.compiled] == [None] * len(trace.compiled)
    assert all(c.trains for c in trace.compiled)
    assert not any("WARNING" in line for line in trace_to_graph(trace).details["legend"])


def test_the_traps_traced_are_warned(classic: Any) -> None:
    """The Keras 2 habit traced: D frozen at its first train_on_batch trains nothing (a fact of the
    traced step, not "unless the loop..."); WGAN-GP's critic_model, the critic frozen and the
    generator trainable at its first call, trains the generator as generator_model does."""
    dcgan = classic["dcgan_trap"][1]
    d = dcgan.compiled[0]
    assert d.warning and d.warning.startswith("discriminator.train_on_batch trains nothing: no weight")
    assert "at its first train_on_batch in the traced step" in d.warning
    assert "(and False again before combined.train_on_batch)" in d.warning
    wgan = classic["wgan_gp_trap"][1]
    assert _compiled(wgan) == [
        ("critic_model", ("generator",), ("critic",)),
        ("generator_model", ("generator",), ("critic",)),
    ]
    critic = wgan.compiled[0]
    assert critic.warning and "critic is trained by no compiled model" in critic.warning
    assert "fix: set critic.trainable = True (and generator.trainable = False)" in critic.warning
    assert wgan.compiled[1].warning is None


def test_a_published_style_wgan_gp_step_takes_its_targets_from_the_code() -> None:
    """The published WGAN-GP loop: ``valid = -np.ones``, ``fake = np.ones``, ``dummy = np.zeros``,
    the critic trained five times a step on ``[valid, -valid, dummy]`` (an expression, not a local,
    for the second), the flags set before each train_on_batch."""
    entry = classic_zoo.wgan_gp()
    m = entry.models
    critic, generator = m["critic"], m["generator"]
    valid, dummy = -np.ones((classic_zoo.BATCH, 1)), np.zeros((classic_zoo.BATCH, 1))

    def train_step(imgs: Any) -> Any:
        critic.trainable, generator.trainable = True, False
        for _ in range(classic_zoo.N_CRITIC):
            noise = np.random.normal(0, 1, (classic_zoo.BATCH, classic_zoo.LATENT_DIM))
            d_loss = m["critic_model"].train_on_batch([imgs, noise], [valid, -valid, dummy])
        critic.trainable, generator.trainable = False, True
        g_loss = m["generator_model"].train_on_batch(noise, valid)
        return d_loss, g_loss

    trace = trace_step(train_step, *entry.data)
    assert [(p.name, p.repeat) for p in trace.phases] == [("update critic", 5), ("update generator", 1)]
    assert _compiled(trace) == [
        ("critic_model", ("critic",), ("generator",)),
        ("generator_model", ("generator",), ("critic",)),
    ]
    assert _outputs(trace, 0) == [
        ("wasserstein_loss", "wasserstein", 1.0, "valid"),
        ("wasserstein_loss", "wasserstein", 1.0, "-valid"),
        ("mse", "gradient_penalty", 10.0, "dummy"),
    ]
    assert _outputs(trace, 1) == [("wasserstein_loss", "wasserstein", None, "valid")]
    d_loss = next(x for x in trace.losses if x.name == "d_loss")
    assert [t.name for t in d_loss.terms][:2] == ["wasserstein_loss(critic, valid)", "wasserstein_loss(critic, -valid)"]
    assert d_loss.terms[2].name.startswith("mse(gradient_norm") and d_loss.terms[2].name.endswith(", dummy)")
    real, generated = (_call(trace, o.prediction) for o in trace.compiled[0].outputs[:2])
    assert {s.name for s in trace.sources if s.id in real.inputs} == {"imgs"}  # valid: the real images' score
    assert _call(trace, generated.inputs[0]).model == "generator"  # -valid: the generated ones'
    assert {(u.model, u.times) for u in trace.updates} == {("critic", 5), ("generator", 1)}
    assert all(c.warning is None and not any(o.inferred for o in c.outputs) for c in trace.compiled)
    assert {s.kind for s in trace.sources if s.name in ("valid", "-valid", "dummy")} == {"constant"}


def test_cgan_labels_feed_both_models(classic: Any) -> None:
    trace = classic["cgan"][1]
    names = {s.id: s.name for s in trace.sources}
    combined = next(c for c in trace.compiled if c.model == "combined")
    inputs = {c.model: {names.get(i, i) for i in c.inputs} for c in trace.calls if c.phase == combined.phase}
    assert inputs["generator"] == {"noise", "sampled_labels"}
    assert "sampled_labels" in inputs["discriminator"]
    real = _call(trace, trace.compiled[0].outputs[0].prediction)
    assert {names.get(i) for i in real.inputs} == {"imgs", "labels"}
    assert {s.name: s.kind for s in trace.sources}["sampled_labels"] == "noise"  # np.random.randint


def test_acgan_class_head_and_sparse_cross_entropy(classic: Any) -> None:
    trace = classic["acgan"][1]
    assert [o.name for o in trace.compiled[0].outputs] == ["validity", "label"]
    assert _outputs(trace, 0) == [("bce", "bce", None, "valid"), ("sparse_cce", "sparse_cce", None, "img_labels")]
    assert _outputs(trace, 1) == [("bce", "bce", None, "fake"), ("sparse_cce", "sparse_cce", None, "sampled_labels")]
    assert _outputs(trace, 2) == [("bce", "bce", None, "valid"), ("sparse_cce", "sparse_cce", None, "sampled_labels")]
    assert [o.name for o in trace.compiled[2].outputs] == ["validity", "label"]
    assert _compiled(trace)[2] == ("combined", ("generator",), ("discriminator",))


def test_pix2pix_mse_plus_100_mae(classic: Any) -> None:
    trace = classic["pix2pix"][1]
    combined = trace.compiled[2]
    assert (combined.model, combined.trains, combined.frozen) == ("combined", ("generator",), ("discriminator",))
    assert _outputs(trace, 2) == [("mse", "mse", 1.0, "valid"), ("mae", "mae", 100.0, "imgs_A")]
    assert _call(trace, combined.outputs[1].prediction).model == "generator"
    assert {s.name: s.kind for s in trace.sources}["imgs_A"] == "data"
    graph = trace_to_graph(trace)
    assert "mse + 100×mae" in {n.class_name for n in graph.nodes if n.kind == "loss"}
    generated = [c for c in trace.calls if c.output == "fake_A"]
    assert [(c.model, c.in_tape) for c in generated] == [("generator", False)]


def test_wgan_gp_critic_loop_and_three_outputs(classic: Any) -> None:
    trace = classic["wgan_gp"][1]
    assert [(p.name, p.repeat) for p in trace.phases] == [("update critic", 5), ("update generator", 1)]
    assert _compiled(trace) == [
        ("critic_model", ("critic",), ("generator",)),
        ("generator_model", ("generator",), ("critic",)),
    ]
    assert _outputs(trace, 0) == [
        ("wasserstein_loss", "wasserstein", 1.0, "valid"),
        ("wasserstein_loss", "wasserstein", 1.0, "fake"),
        ("mse", "gradient_penalty", 10.0, "unit_norm"),
    ]
    assert {(u.model, u.optimizer, u.times) for u in trace.updates} == {
        ("critic", "critic_model.optimizer", 5),
        ("generator", "generator_model.optimizer", 1),
    }
    assert {o.name: o.class_name for o in trace.optimizers} == {
        "critic_model.optimizer": "RMSprop",
        "generator_model.optimizer": "RMSprop",
    }
    assert "interpolate" in {o.kind for o in trace.ops}


def test_cyclegan_six_weighted_outputs(classic: Any) -> None:
    trace = classic["cyclegan"][1]
    combined = trace.compiled[-1]
    assert combined.model == "combined"
    assert set(combined.trains) == {"g_AB", "g_BA"} and set(combined.frozen) == {"d_A", "d_B"}
    assert [(o.kind, o.weight) for o in combined.outputs] == classic_zoo.CYCLEGAN_OUTPUTS
    assert [t for _, _, _, t in _outputs(trace, len(trace.compiled) - 1)] == [
        "valid",
        "valid",
        "imgs_A",
        "imgs_B",
        "imgs_A",
        "imgs_B",
    ]
    assert [c.model for c in trace.compiled[:-1]] == ["d_A", "d_A", "d_B", "d_B"]
    graph = trace_to_graph(trace)
    assert "mse + mse + 10×mae + 10×mae + mae + mae" in {n.class_name for n in graph.nodes if n.kind == "loss"}


def test_infogan_trains_the_auxiliary_head_it_never_names(classic: Any) -> None:
    trace = classic["infogan"][1]
    combined = trace.compiled[-1]
    assert (combined.model, combined.trains, combined.frozen) == (
        "combined",
        ("generator", "auxiliary"),
        ("discriminator",),
    )
    assert [(o.name, o.loss) for o in combined.outputs] == [("discriminator", "bce"), ("auxiliary", "mutual_info_loss")]
    aux = trace.model("auxiliary")
    assert 0 < aux.trainable_params < aux.params  # its own head; the trunk is frozen with the discriminator
    assert "auxiliary" in trace.updates_by_model()


def test_bigan_trains_generator_and_encoder(classic: Any) -> None:
    trace = classic["bigan"][1]
    update = trace.compiled[-1]
    assert (update.model, update.trains, update.frozen) == (
        "bigan_generator",
        ("generator", "encoder"),
        ("discriminator",),
    )
    assert _outputs(trace, 2) == [("bce", "bce", None, "ones"), ("bce", "bce", None, "zeros")]
    encoded = [c for c in trace.calls if c.output == "z_"]
    assert [(c.model, c.in_tape) for c in encoded] == [("encoder", False)]
    real = _call(trace, trace.compiled[0].outputs[0].prediction)
    assert set(real.inputs) == {encoded[0].id, next(s.id for s in trace.sources if s.name == "imgs")}


def test_trainable_set_is_read_at_the_first_train_on_batch() -> None:
    """Keras 3 builds the train function once: a flag changed after a model's first train_on_batch
    changes nothing for its later ones, and the trace says so."""
    entry = classic_zoo.dcgan()
    d, valid = entry.models["discriminator"], np.ones((classic_zoo.BATCH, 1))

    def train_step(imgs: Any) -> Any:
        d.trainable = True
        first = d.train_on_batch(imgs, valid)
        d.trainable = False  # too late: d's train function already holds its weights
        second = d.train_on_batch(imgs, valid)
        return first, second

    trace = trace_step(train_step, *entry.data)
    assert _compiled(trace) == [("discriminator", ("discriminator",), ())] * 2


def test_a_compiled_model_reached_only_through_the_step_is_named_by_its_local() -> None:
    entry = classic_zoo.dcgan()
    holder = types.SimpleNamespace(gan=entry.models["combined"])  # an object the model search does not open
    noise, valid = np.zeros((classic_zoo.BATCH, 4)), np.ones((classic_zoo.BATCH, 1))

    def train_step(imgs: Any) -> Any:
        full_model = holder.gan
        return full_model.train_on_batch(noise, valid)

    trace = trace_step(train_step, *entry.data, models=[entry.models["generator"], entry.models["discriminator"]])
    assert _compiled(trace) == [("full_model", ("generator",), ("discriminator",))]
    assert {s.name: s.kind for s in trace.sources} == {"noise": "constant", "valid": "constant"}


def test_batch_mismatch_is_one_clear_line() -> None:
    from ganviz.errors import TraceError

    entry = classic_zoo.dcgan()
    with pytest.raises(TraceError) as info:
        trace_step(entry.step, tf.TensorSpec((8, *classic_zoo.IMAGE_SHAPE)))
    text = str(info.value)
    assert "\n" not in text
    assert "different batch sizes (imgs 8, valid 4)" in text and "--batch-size" in text


def test_numpy_on_a_predicted_tensor_says_what_to_use() -> None:
    from ganviz.errors import TraceError

    entry = classic_zoo.dcgan()
    g, d = entry.models["generator"], entry.models["discriminator"]
    labels = np.concatenate([np.ones((classic_zoo.BATCH, 1)), np.zeros((classic_zoo.BATCH, 1))])

    def train_step(imgs: Any) -> Any:
        gen_imgs = g.predict(np.random.normal(0, 1, (classic_zoo.BATCH, 4)), verbose=0)
        return d.train_on_batch(np.concatenate([imgs, gen_imgs]), labels)

    with pytest.raises(TraceError) as info:
        trace_step(train_step, *entry.data)
    text = str(info.value)
    assert "np.concatenate" in text and "tf.concat" in text and ".numpy()" not in text


def test_train_on_batch_of_an_uncompiled_model_is_one_clear_line() -> None:
    from ganviz.errors import TraceError

    entry = classic_zoo.dcgan()
    generator = entry.models["generator"]  # never compiled in the classic scripts
    target = np.zeros((classic_zoo.BATCH, *classic_zoo.IMAGE_SHAPE))

    def train_step(noise: Any) -> Any:
        return generator.train_on_batch(noise, target)

    with pytest.raises(TraceError, match=r"generator is not compiled; fix: call generator\.compile\("):
        trace_step(train_step, np.zeros((classic_zoo.BATCH, 4), "float32"))


def test_srgan_frozen_feature_network_and_its_target(classic: Any) -> None:
    trace = classic["srgan"][1]
    combined = trace.compiled[-1]
    assert (combined.model, combined.trains, combined.frozen) == ("combined", ("generator",), ("discriminator", "vgg"))
    assert [(o.name, o.kind, o.weight) for o in combined.outputs] == [
        ("discriminator", "bce", 0.001),
        ("vgg", "mse", 1.0),
    ]
    features = _call(trace, combined.outputs[1].target)  # the target is the code's vgg.predict(imgs_hr)
    assert (features.model, features.output, features.in_tape) == ("vgg", "image_features", False)
    predicted = _call(trace, combined.outputs[1].prediction)
    assert predicted.model == "vgg" and _call(trace, predicted.inputs[0]).model == "generator"
    assert not trace.model("vgg").trainable
