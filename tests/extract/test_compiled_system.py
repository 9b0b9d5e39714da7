"""``plot_gan(compiled=[...])``: a classic system of compiled models without a step, each drawn as
its own ``train_on_batch`` from what ``compile`` recorded; Keras 3's trainable trap marked; the
script's own object; the assumed loop's inputs and compiled losses."""

from __future__ import annotations

import json
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


# A classic loop, as a script holds it: Keras 3 trains D only when the loop sets its flag back.
WORKING_LOOP = """
def train(generator, discriminator, combined, imgs, valid, fake, noise, epochs):
    for epoch in range(epochs):
        gen_imgs = generator.predict(noise, verbose=0)
        discriminator.trainable = True
        d_loss_real = discriminator.train_on_batch(imgs, valid)
        d_loss_fake = discriminator.train_on_batch(gen_imgs, fake)
        discriminator.trainable = False
        g_loss = combined.train_on_batch(noise, valid)
"""
KERAS2_LOOP = "\n".join(line for line in WORKING_LOOP.splitlines() if ".trainable" not in line) + "\n"


def _draw(tmp_path: Path, compiled: Any, **kwargs: Any) -> tuple[Trace, list[str], Any]:
    """The drawn trace (from its JSON), the trap warnings raised, and the call view's graph."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diagram = plot_gan(compiled=compiled, to_file=tmp_path / "t.json", **kwargs)
    trace = Trace.from_json(Path(diagram.path).read_text(encoding="utf-8"))
    traps = [str(w.message) for w in caught if issubclass(w.category, TrainableTrapWarning)]
    return trace, traps, trace_to_graph(trace)


def _frozen_boxes(graph: Any) -> set[tuple[str, str]]:
    phase_of = {c.id: c.name for c in graph.clusters}
    return {(n.name, phase_of.get(n.parent or "", "")) for n in graph.nodes if n.kind == "model" and not n.trainable}


def test_a_working_loop_frozen_after_building_combined_is_no_alarm(tmp_path: Path) -> None:
    """D.trainable is False after building combined and D never trained: a loop that sets it True
    right before D's train_on_batch trains D (measured: 4 of 4 weights change). The picture draws D
    trained by its own update, frozen only in combined's, and says the condition as a note."""
    script = tmp_path / "dcgan.py"
    script.write_text(WORKING_LOOP, encoding="utf-8")
    entry = classic_zoo.dcgan()
    assert entry.models["discriminator"].trainable is False
    trace, traps, graph = _draw(tmp_path, entry.compiled, script=script)
    assert traps == []
    d = _update(trace, "discriminator")
    assert (d.trains, d.warning) == (("discriminator",), None)
    assert d.note and "discriminator.trainable = True right before it" in d.note
    assert trace.updates_by_model() == {
        "discriminator": ["discriminator.optimizer"],
        "generator": ["combined.optimizer"],
    }
    assert _frozen_boxes(graph) == {("discriminator(generator(noise))", "2. update generator")}
    assert not any("WARNING" in line for line in graph.details["legend"])
    assert not any("WARNING" in c.name for c in graph.clusters)
    assert any(line.startswith("Note: discriminator.train_on_batch") for line in graph.details["legend"])
    assert entry.models["discriminator"].trainable is False  # the flags the drawn loop set are put back


def test_a_loop_that_never_sets_the_flag_back_is_warned(tmp_path: Path) -> None:
    """The Keras 2 habit: frozen before combined, never set back, and the loop is there: D trains
    nothing (measured: 0 of 4 weights change, Keras's only sign "no trainable weights")."""
    script = tmp_path / "dcgan.py"
    script.write_text(KERAS2_LOOP, encoding="utf-8")
    trace, traps, graph = _draw(tmp_path, classic_zoo.dcgan().compiled, script=script)
    d = _update(trace, "discriminator")
    assert d.trains == () and d.warning and "dcgan.py never sets a trainable flag back" in d.warning
    assert "fix: set discriminator.trainable = True right before discriminator.train_on_batch" in d.warning
    assert _update(trace, "combined").warning is None
    assert len(traps) == 1 and traps[0] == d.warning
    assert any(line.startswith("WARNING: discriminator.train_on_batch") for line in graph.details["legend"])
    assert any("WARNING" in c.name for c in graph.clusters if c.name.startswith("1."))
    assert trace.updates_by_model() == {"generator": ["combined.optimizer"]}


def test_the_file_calling_plot_gan_is_the_script_read(tmp_path: Path) -> None:
    """Without script=, the caller's own file is read: a script whose loop never sets the flag back
    is warned; one without a loop (the loop is elsewhere, unknown) is not."""
    import importlib.util

    head = f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
    head += "from fixtures import classic_zoo\nfrom ganviz import plot_gan\n\n\n"
    head += "def draw(to_file):\n    return plot_gan(compiled=classic_zoo.dcgan().compiled, to_file=to_file)\n"
    found = {}
    for name, body in (("with_loop", head + KERAS2_LOOP), ("without_loop", head)):
        path = tmp_path / f"{name}.py"
        path.write_text(body, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"_classic_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            diagram = module.draw(tmp_path / f"{name}.json")
        trace = Trace.from_json(Path(diagram.path).read_text(encoding="utf-8"))
        traps = [w for w in caught if issubclass(w.category, TrainableTrapWarning)]
        found[name] = (len(traps), _update(trace, "discriminator").trains)
    assert found == {"with_loop": (1, ()), "without_loop": (0, ("discriminator",))}


def test_a_train_function_built_with_nothing_trainable_is_a_fact() -> None:
    """Built while frozen (a real train_on_batch ran): it trains nothing whatever the loop does now."""
    entry = classic_zoo.dcgan()
    d = entry.models["discriminator"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d.train_on_batch(entry.data[0], np.ones((classic_zoo.BATCH, 1)))  # d.trainable is False
    assert d.train_function is not None and not d.optimizer.built
    trace = compiled_trace(entry.compiled, script=None)
    update = _update(trace, "discriminator")
    assert update.trains == () and update.warning and "its train function was built while no weight" in update.warning


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
    # what a working loop leaves (D frozen after its step, its own update still training it): a note
    assert drawn.compiled[0].warning is None
    assert "the trainable flags now say nothing" in (drawn.compiled[0].note or "")


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
    assert [({names.get(i, i) for i in c.inputs}, c.phase) for c in d_calls] == [
        ({"call0", "sampled_labels"}, "update discriminator"),
        ({"real_images", "labels"}, "update discriminator"),
        ({"call3", "sampled_labels"}, "update generator"),  # combined's own D call, frozen there
    ]
    acgan = classic_zoo.acgan().models
    trace = assumed_gan_trace(
        generator=acgan["generator"], discriminator=acgan["discriminator"], combined=acgan["combined"]
    )
    d_loss = next(x for x in trace.losses if x.name == "d_loss")
    assert [t.kind for t in d_loss.terms] == ["bce", "sparse_cce"]


def test_wgan_gp_critic_model_is_drawn_training_the_critic(systems: Any) -> None:
    """The flags as building left them (critic frozen, generator trainable) would have critic_model
    train the generator, as generator_model does: a working loop sets them before its first
    train_on_batch, so it is drawn training the critic (it judges real images itself), with a note."""
    trace = systems["wgan_gp"][1]
    critic = _update(trace, "critic_model")
    assert (critic.trains, critic.frozen, critic.warning) == (("critic",), ("generator",), None)
    assert critic.note and "critic.trainable = True, generator.trainable = False right before it" in critic.note
    generator = _update(trace, "generator_model")
    assert (generator.trains, generator.frozen, generator.warning) == (("generator",), ("critic",), None)
    assert _outputs(trace, "generator_model") == [("wasserstein_loss", "wasserstein", None, "valid")]
    assert {(u.model, u.optimizer) for u in trace.updates} == {
        ("critic", "critic_model.optimizer"),
        ("generator", "generator_model.optimizer"),
    }


def test_wgan_gp_loop_that_never_sets_the_flags_is_warned(tmp_path: Path) -> None:
    script = tmp_path / "wgan_gp.py"
    script.write_text(
        "class WGANGP:\n"
        "    def __init__(self, generator, critic):\n"
        "        generator.trainable = False\n"
        "        critic.trainable = False\n"
        "        generator.trainable = True  # once, while building: no toggle\n"
        "\n"
        "    def train(self, imgs, noise, valid, fake, dummy, epochs):\n"
        "        for epoch in range(epochs):\n"
        "            for _ in range(5):\n"
        "                d_loss = self.critic_model.train_on_batch([imgs, noise], [valid, fake, dummy])\n"
        "            g_loss = self.generator_model.train_on_batch(noise, valid)\n",
        encoding="utf-8",
    )
    entry = classic_zoo.wgan_gp()
    trace, traps, _ = _draw(tmp_path, entry.compiled, generator=entry.models["generator"], script=script)
    critic = _update(trace, "critic_model")
    assert critic.trains == ("generator",) and critic.frozen == ("critic",)
    assert critic.warning and "critic is trained by no compiled model" in critic.warning
    assert "fix: set critic.trainable = True (and generator.trainable = False)" in critic.warning
    assert traps == [critic.warning] and _update(trace, "generator_model").warning is None


def test_parts_shared_by_two_compiled_models_are_named_without_models(tmp_path: Path) -> None:
    """WGAN-GP given only its two compiled models: the generator and the critic they share are the
    parts each trains or judges (not one opaque critic_model box updated by both optimizers)."""
    trace, traps, _ = _draw(tmp_path, classic_zoo.wgan_gp().compiled)
    assert traps == []
    assert [(c.model, c.trains, c.frozen) for c in trace.compiled] == [
        ("critic_model", ("critic",), ("generator",)),
        ("generator_model", ("generator",), ("critic",)),
    ]


# -- inferred targets ------------------------------------------------------------------------------


def test_targets_drawn_without_a_step_say_they_are_inferred(systems: Any, tmp_path: Path) -> None:
    """WGAN-GP's critic targets are the step's (-1 and +1 in the script): without the step they are
    data of the output's shape, and the JSON, the boxes and the key say so."""
    trace = systems["wgan_gp"][1]
    critic = _update(trace, "critic_model")
    assert [o.inferred for o in critic.outputs] == ["data of the output's shape (its values are the step's)"] * 3
    assert all(o.inferred for c in trace.compiled for o in c.outputs)
    data = json.loads(trace.to_json())
    assert all("inferred" in o for c in data["compiled"] for o in c["outputs"])
    graph = trace_to_graph(trace)
    targets = {s.id for s in trace.sources} & {o.target for o in critic.outputs}
    names = {s.name for s in trace.sources if s.id in targets}
    assert {n.name: n.class_name for n in graph.nodes if n.name in names} == {
        "y_critic": "data, inferred",
        "y_critic_1": "data, inferred",
        "y_gradient_norm": "data, inferred",
    }
    key = next(line for line in graph.details["legend"] if line.startswith("Targets inferred"))
    assert "y_critic, y_critic_1, y_gradient_norm: data of the output's shape" in key
    assert "valid: ones (the frozen critic's score, wanted real)" in key
    merged = trace_to_graph(trace, calls="merged")
    assert {n.class_name for n in merged.nodes if n.name == "y_critic"} == {"data, inferred"}


@pytest.mark.parametrize("name", ["dcgan", "pix2pix", "cgan"])
def test_assumed_loop_trains_the_discriminator_and_freezes_it_only_for_the_generator(name: str) -> None:
    """Classic scripts leave D.trainable False after building combined; the assumed loop still has
    D's own update train D: its optimizer's arrow ends on a D call not marked frozen, in D's phase,
    and the generator's phase (through combined, drawn as its parts) shows D frozen."""
    m = classic_zoo.CLASSIC[name]().models
    assert m["discriminator"].trainable is False
    trace = assumed_gan_trace(generator=m["generator"], discriminator=m["discriminator"], combined=m["combined"])
    assert [(p.name, p.updates, p.frozen) for p in trace.phases] == [
        ("update discriminator", ("d_optimizer -> discriminator",), ()),
        ("update generator", ("combined_optimizer -> generator",), ("discriminator",)),
    ]
    d = trace.model("discriminator")
    assert d.trainable and d.trainable_params == d.params  # its own update's weights, not the flag's 0
    graph = trace_to_graph(trace)
    box = {n.id: n for n in graph.nodes}
    phase_of = {c.id: c.name for c in graph.clusters}
    d_arrows = [e for e in graph.edges if e.kind == "gradient" and (e.label or "").startswith("d_optimizer")]
    assert len(d_arrows) == 1
    target = box[d_arrows[0].target]
    assert target.details["model"] == "discriminator" and target.trainable is not False
    assert phase_of[target.parent or ""] == "1. update discriminator"
    frozen = {(n.details.get("model"), phase_of.get(n.parent or "")) for n in graph.nodes if n.kind == "model"
              and n.trainable is False}  # fmt: skip
    assert frozen == {("discriminator", "2. update generator")}
    g_arrow = next(e for e in graph.edges if e.kind == "gradient" and (e.label or "").startswith("combined_optimizer"))
    assert phase_of[box[g_arrow.target].parent or ""] == "2. update generator"
    merged = {n.name: n for n in trace_to_graph(trace, calls="merged").nodes}
    assert merged["discriminator"].trainable is not False  # one box: trained by its own update


@pytest.mark.parametrize(
    ("source", "trains", "toggles"),
    [
        ("for l in vgg.layers:\n    l.trainable = False\nd.trainable = False\nd.train_on_batch(x, y)\n", True, False),
        ("def make_trainable(net, val):\n    net.trainable = val\n", False, True),  # a helper: whatever it is given
        ("def step():\n    setattr(d, 'trainable', True)\n    d.train_on_batch(x, y)\n", True, True),
        ("def build():\n    g.trainable = True\n\ndef step():\n    c.train_on_batch(x, y)\n", True, False),
        ("while True:\n    d.trainable, g.trainable = True, False\n", False, True),
        ("def broken(:\n", None, None),
    ],
)
def test_scan_scripts_reads_whether_a_loop_could_set_a_flag_back(
    tmp_path: Path, source: str, trains: bool | None, toggles: bool | None
) -> None:
    from ganviz.extract.step_trace.compiled_system import scan_scripts

    path = tmp_path / "train.py"
    path.write_text(source, encoding="utf-8")
    facts = scan_scripts(path)
    assert (None if facts is None else (facts.trains, facts.toggles)) == (None if trains is None else (trains, toggles))
    assert scan_scripts(None) is None and scan_scripts(tmp_path / "missing.py") is None
