"""The Monitor in classic Keras GAN scripts: a plain object holding compiled models, ``train_on_batch`` loops.

Each system of ``fixtures/classic_zoo.py`` is held by a plain Python object, as the classic
scripts hold theirs (``self.generator``, ``self.discriminator``, ``self.combined``), and trained
a few steps in a Python loop calling ``Monitor.step``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fixtures import classic_zoo as cz  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402
from ganviz.train.run.checkpoint import Checkpointer  # noqa: E402


class Script:
    """A classic script's object: its models as attributes (not a keras.Model)."""

    def __init__(self, entry: cz.ClassicEntry) -> None:
        for name, model in entry.models.items():
            setattr(self, name, model)


def _events(run: Path) -> list[dict[str, Any]]:
    path = run / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _loop(mon: Monitor, entry: cz.ClassicEntry, first: int, last: int, **kwargs: Any) -> None:
    for step in range(first, last + 1):
        d_loss, g_loss = entry.step(*entry.data)
        logs = {"d_loss": float(np.mean(d_loss)), "g_loss": float(np.mean(g_loss))}
        assert mon.step(step, logs, batch=entry.data, **kwargs)


def _monitor(run: Path, **kwargs: Any) -> Monitor:
    options: dict[str, Any] = {"every_n_steps": 2, "checkpoint_every": 2, "progress": False, "diagrams": False}
    return Monitor(run, **{**options, **kwargs})


def test_plain_object_checkpoints_the_models_it_holds_and_resumes_them(tmp_path):
    keras.utils.set_random_seed(0)
    entry = cz.cyclegan()
    mon = _monitor(tmp_path)
    assert mon.start(Script(entry), total_steps=4) == 0
    assert mon.sampler.kind == "cycle"
    _loop(mon, entry, 1, 4)
    mon.end()
    assert [e for e in _events(tmp_path) if e["level"] != "info"] == []
    state, _, meta = Checkpointer(tmp_path / "checkpoints").load_latest()
    # combined's weights are those of the four models: kept once; each compiled model's optimizer by its model
    assert set(state) == {"g_AB", "g_BA", "d_A", "d_B", "d_A_optimizer", "d_B_optimizer", "combined_optimizer"}
    assert meta["step"] == 4
    saved = {n: [v.numpy().copy() for v in m.variables] for n, m in entry.models.items()}
    d_slots = [v.numpy().copy() for v in entry.models["d_A"].optimizer.variables]
    g_slots = [v.numpy().copy() for v in entry.models["combined"].optimizer.variables]

    keras.utils.set_random_seed(1)
    again = cz.cyclegan()  # fresh weights; optimizers never built; d_A, d_B frozen (as the script leaves them)
    mon2 = _monitor(tmp_path, resume=True)
    assert mon2.start(Script(again), total_steps=6) == 4
    for name, model in again.models.items():
        for a, b in zip(saved[name], model.variables):
            np.testing.assert_array_equal(a, b.numpy())
    assert len(d_slots) == len(again.models["d_A"].optimizer.variables) > 2  # built for d_A's own weights
    for a, b in zip(d_slots, again.models["d_A"].optimizer.variables):
        np.testing.assert_array_equal(a, b.numpy())
    for a, b in zip(g_slots, again.models["combined"].optimizer.variables):
        np.testing.assert_array_equal(a, b.numpy())
    _loop(mon2, again, 5, 6)  # the restored optimizers train on (their variables are the models')
    mon2.end()
    assert int(again.models["d_A"].optimizer.iterations.numpy()) == 8 + 4
    assert [e["kind"] for e in _events(tmp_path) if e["level"] != "info"] == []


def test_plain_object_with_no_models_is_one_line(tmp_path):
    class Empty:
        latent_dim = 4

    mon = _monitor(tmp_path)
    with pytest.raises(ValueError, match=r"no Keras model or optimizer on Empty.*start\(generator="):
        mon.start(Empty())


def test_resume_with_a_compiled_model_whose_optimizer_was_never_built(tmp_path):
    keras.utils.set_random_seed(0)
    entry = cz.dcgan()
    combined = entry.models["combined"]
    mon = _monitor(tmp_path, every_n_steps=None)
    mon.start(combined, generator=entry.models["generator"], total_steps=2)
    _loop(mon, entry, 1, 2)
    mon.end()
    slots = [v.numpy().copy() for v in combined.optimizer.variables]
    keras.utils.set_random_seed(1)
    again = cz.dcgan()  # combined.optimizer exists since compile(), never built
    assert not again.models["combined"].optimizer.built
    mon2 = _monitor(tmp_path, every_n_steps=None, resume=True)
    assert mon2.start(again.models["combined"], generator=again.models["generator"]) == 2
    for a, b in zip(slots, again.models["combined"].optimizer.variables):
        np.testing.assert_array_equal(a, b.numpy())
    mon2.end()


def test_an_optimizer_saved_before_its_first_update_stays_unbuilt_on_resume(tmp_path):
    keras.utils.set_random_seed(0)
    entry = cz.dcgan()
    mon = _monitor(tmp_path, every_n_steps=None)
    mon.start(Script(entry))
    g_loss = entry.models["combined"].train_on_batch(np.zeros((cz.BATCH, cz.LATENT_DIM)), np.ones((cz.BATCH, 1)))
    mon.step(1, {"g_loss": float(g_loss)})  # D never trained: its optimizer is saved unbuilt
    mon.end()
    again = cz.dcgan()
    mon2 = _monitor(tmp_path, every_n_steps=None, resume=True)
    assert mon2.start(Script(again)) == 1
    assert not again.models["discriminator"].optimizer.built  # not built for D's frozen (empty) weight list
    _loop(mon2, again, 2, 2)  # D's first train_on_batch builds it for D's weights
    mon2.end()


@pytest.mark.parametrize("toggle", [False, True])
def test_an_optimizer_that_never_advances_is_an_event_naming_the_model_and_the_fix(tmp_path, caplog, toggle):
    keras.utils.set_random_seed(0)
    entry = cz.dcgan(toggle=toggle)
    d, combined = entry.models["discriminator"], entry.models["combined"]
    mon = _monitor(tmp_path, checkpoint_every=None)
    mon.start(Script(entry), g_optimizer=combined.optimizer, d_optimizer=d.optimizer)
    with caplog.at_level("WARNING", logger="ganviz.train"):
        _loop(mon, entry, 1, 4)
    mon.end()
    idle = [e for e in _events(tmp_path) if e["kind"] == "optimizer_idle"]
    if toggle:
        assert idle == []
        return
    assert len(idle) == 1 and idle[0]["step"] == 2 and idle[0]["level"] == "warning"
    text = idle[0]["message"]
    assert "d_optimizer (Adam)" in text and "discriminator trains nothing" in text
    assert "discriminator.trainable = True before discriminator.train_on_batch" in text and "combined" in text
    assert text.startswith("d_optimizer (Adam) made no update in the first 2 steps") and "while g_optimizer did" in text
    assert [r.getMessage() for r in caplog.records if "optimizer_idle" in r.getMessage() or text in r.getMessage()]


def test_the_report_names_the_optimizers_given_to_start(tmp_path):
    from ganviz.train.outputs.report import write_report

    keras.utils.set_random_seed(0)
    entry = cz.dcgan()
    d, combined = entry.models["discriminator"], entry.models["combined"]
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=None, progress=False)
    mon.start(generator=entry.models["generator"], discriminator=d, g_optimizer=combined.optimizer,
              d_optimizer=d.optimizer)  # fmt: skip
    _loop(mon, entry, 1, 2)
    mon.end()
    page = write_report(tmp_path).read_text()
    assert "<td>g_optimizer</td><td>Adam</td><td>0.0002</td>" in page
    assert "<td>d_optimizer</td><td>Adam</td><td>0.0002</td>" in page


def test_the_report_lists_given_optimizers_without_a_diagram(tmp_path):
    from ganviz.train.outputs.report import write_report

    entry = cz.wgan_gp()
    mon = _monitor(tmp_path, checkpoint_every=None)
    mon.start(Script(entry))
    _loop(mon, entry, 1, 2)
    mon.end()
    page = write_report(tmp_path).read_text()
    assert "Optimizers given to Monitor.start()" in page
    assert "<td>critic_model_optimizer</td><td>RMSprop</td><td>5e-05</td><td>critic_model</td>" in page
    assert "<td>generator_model_optimizer</td><td>RMSprop</td><td>5e-05</td><td>generator_model</td>" in page


def _grid(run: Path, step: int) -> np.ndarray:
    from PIL import Image

    with Image.open(run / "samples" / f"step_{step:06d}.png") as im:
        return np.asarray(im)


def test_infogan_grids_put_one_hot_codes_in_the_code_dims(tmp_path):
    keras.utils.set_random_seed(0)
    entry = cz.infogan()
    mon = _monitor(tmp_path, checkpoint_every=None, grid=(2, 4))
    mon.start(Script(entry))
    assert mon.sampler.kind == "codes"
    z = mon.fixed_noise
    assert z.shape == (cz.CLASSES * 4, cz.LATENT_DIM + cz.CLASSES)  # a row per code, 4 noise columns
    codes = z[:, cz.LATENT_DIM :]
    np.testing.assert_array_equal(codes, np.eye(cz.CLASSES)[np.repeat(np.arange(cz.CLASSES), 4)])
    np.testing.assert_array_equal(z[:4, : cz.LATENT_DIM], z[4:8, : cz.LATENT_DIM])  # the same noise in each row
    assert "categorical code (3)" in mon.sampler.description and "auxiliary" in mon.sampler.description
    _loop(mon, entry, 1, 2)
    mon.end()
    from ganviz.train.outputs.images import grid_size

    assert _grid(tmp_path, 2).shape[:2] == grid_size(cz.CLASSES, 4, 8, 8)[::-1]


def test_codes_option_for_a_generator_alone(tmp_path):
    entry = cz.infogan()
    mon = _monitor(tmp_path, checkpoint_every=None, codes=3)
    mon.start(generator=entry.models["generator"])
    assert mon.sampler.kind == "codes" and "codes=3" in mon.sampler.description
    assert mon.fixed_noise[:, -3:].sum(axis=1).tolist() == [1.0] * 12
    wrong = Monitor(tmp_path / "b", codes=7, progress=False, diagrams=False)
    wrong.start(generator=entry.models["generator"])
    assert wrong.sampler is None and "codes=7 does not fit the generator's input [(7,)]" in wrong._sampling_line()
    wrong.end()


def test_a_dcgan_generator_gets_no_codes(tmp_path):
    mon = _monitor(tmp_path)
    mon.start(Script(cz.dcgan()))
    assert mon.sampler.kind == "noise"


def test_pix2pix_grid_feeds_the_generator_what_combined_feeds_it(tmp_path):
    keras.utils.set_random_seed(0)
    entry = cz.pix2pix()
    imgs_a, imgs_b = entry.data
    mon = _monitor(tmp_path, checkpoint_every=None)
    mon.start(Script(entry))
    _loop(mon, entry, 1, 2)  # batch=(imgs_A, imgs_B): the generator takes imgs_B (combined's second input)
    mon.end()
    np.testing.assert_array_equal(mon.sampler.arrays["fixed_inputs"], imgs_b)
    assert "element 2 of 2" in mon.sampler.description and "combined" in mon.sampler.description


def test_generator_inputs_say_what_the_generator_is_fed(tmp_path):
    entry = cz.pix2pix()
    imgs_a, imgs_b = entry.data
    mon = _monitor(tmp_path, checkpoint_every=None)
    mon.start(generator=entry.models["generator"], discriminator=entry.models["discriminator"])
    _loop(mon, entry, 1, 2, generator_inputs=imgs_b)
    mon.end()
    np.testing.assert_array_equal(mon.sampler.arrays["fixed_inputs"], imgs_b)
    assert "generator_inputs" in mon.sampler.description


def test_without_a_hint_a_pair_batch_gives_its_first_element_and_says_so(tmp_path):
    entry = cz.pix2pix()
    imgs_a, _ = entry.data
    mon = _monitor(tmp_path, checkpoint_every=None)
    mon.start(generator=entry.models["generator"])
    _loop(mon, entry, 1, 2)
    mon.end()
    np.testing.assert_array_equal(mon.sampler.arrays["fixed_inputs"], imgs_a)
    assert "element 1 of 2" in mon.sampler.description and "generator_inputs=" in mon.sampler.description


_KINDS = {"dcgan": "noise", "cgan": "conditional", "acgan": "conditional", "pix2pix": "image_to_image",
          "wgan_gp": "noise", "cyclegan": "cycle", "infogan": "codes", "bigan": "noise", "srgan": "image_to_image"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(cz.CLASSIC))
def test_every_classic_script_object_samples_checkpoints_and_resumes(tmp_path, name):
    keras.utils.set_random_seed(0)
    entry = cz.CLASSIC[name]()
    mon = _monitor(tmp_path)
    mon.start(Script(entry))
    assert mon.sampler.kind == _KINDS[name]
    _loop(mon, entry, 1, 2)
    mon.end()
    state, _, _ = Checkpointer(tmp_path / "checkpoints").load_latest()
    # every compiled model's optimizer, by the model's attribute; no model whose weights others hold
    compiled = list(entry.compiled.values())
    held = {f"{n}_optimizer" for n, m in entry.models.items() if any(m is c for c in compiled)}
    assert {g for g in state if g.endswith("_optimizer")} == held
    assert all(n in state for n, m in entry.models.items() if not any(m is c for c in compiled))
    assert "combined" not in state and "generator_model" not in state  # their weights are the models'
    weights = {n: [v.numpy().copy() for v in m.variables] for n, m in entry.models.items()}
    slots = {n: [v.numpy().copy() for v in m.optimizer.variables] for n, m in entry.compiled.items()}
    keras.utils.set_random_seed(1)
    again = cz.CLASSIC[name]()
    mon2 = _monitor(tmp_path, resume=True)
    assert mon2.start(Script(again)) == 2
    for n, m in again.models.items():
        for a, b in zip(weights[n], m.variables, strict=True):
            np.testing.assert_array_equal(a, b.numpy())
    for n, m in again.compiled.items():
        for a, b in zip(slots[n], m.optimizer.variables, strict=True):
            np.testing.assert_array_equal(a, b.numpy())
    _loop(mon2, again, 3, 3)
    mon2.end()
    assert [e["message"] for e in _events(tmp_path) if e["level"] != "info"] == []
