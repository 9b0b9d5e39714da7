"""The Monitor on published GAN shapes: conditional, CycleGAN, pix2pix loop; counts, one bar, TensorBoard, notebook."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from fixtures import monitor_zoo as mz  # noqa: E402
from ganviz.train.gan.tf_backend import GAN  # noqa: E402
from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402
from ganviz.train.outputs.images import grid_size  # noqa: E402
from ganviz.train.outputs.tensorboard import read_events  # noqa: E402


def _events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _errors(run: Path) -> list[str]:
    return [e["message"] for e in _events(run) if e["kind"] == "monitor_error"]


def _steps(run: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_conditional_gan_latent_128_plus_10_gets_a_row_per_class(tmp_path):
    keras.utils.set_random_seed(0)
    gan = mz.conditional_gan()
    x, y = mz.digits_like(64)
    data = tf.data.Dataset.from_tensor_slices((x, np.eye(10, dtype="float32")[y])).batch(16)
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=None, progress=False, diagrams=False)
    gan.fit(data, epochs=1, verbose=0, callbacks=[mon])
    assert _errors(tmp_path) == []
    assert mon.sampler.kind == "conditional" and mon.fixed_noise.shape == (40, 138)
    onehot = mon.fixed_noise[:, 128:]
    assert (onehot.argmax(1) == np.repeat(np.arange(10), 4)).all()  # a row of 4 per class
    np.testing.assert_array_equal(mon.fixed_noise[0, :128], mon.fixed_noise[4, :128])  # same noise down a column
    grid = _png(tmp_path / "samples" / "step_000004.png")
    assert grid.shape == grid_size(10, 4, 16, 16)[::-1]
    assert mon.running_means == {"g_loss", "d_loss"}  # the example logs keras.metrics.Mean results


def test_cyclegan_shows_both_directions_from_the_first_batch(tmp_path):
    keras.utils.set_random_seed(0)
    gan = mz.cyclegan()
    x, y = mz.horses_and_zebras(24)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    mon = Monitor(tmp_path, every_n_steps=3, checkpoint_every=3, progress=False, diagrams=False)
    gan.fit(data, epochs=1, verbose=0, callbacks=[mon])
    assert _errors(tmp_path) == []
    assert mon.sampler.kind == "cycle" and "gen_G" in mon.sampler.description
    np.testing.assert_allclose(mon.sampler.arrays["fixed_x"], x[:4])
    np.testing.assert_allclose(mon.sampler.arrays["fixed_y"], y[:4])
    grid = _png(tmp_path / "samples" / "step_000003.png")
    assert grid.shape == (*grid_size(4, 4, 16, 16)[::-1], 3)
    cell = grid[2 : 2 + 32 : 2, 2 : 2 + 32 : 2]  # row 0, column 0: the input x[0]
    assert cell[..., 0].max() == 255 and cell[..., 2].max() == 0  # a red disc, no blue
    cell_y = grid[2 : 2 + 32 : 2, 2 + 2 * 34 : 2 + 2 * 34 + 32 : 2]  # column 2: y[0], blue stripes
    assert cell_y[..., 2].max() == 255 and cell_y[..., 0].max() == 0
    assert mon.global_step == 3 and _steps(tmp_path) == [1, 2, 3]
    assert int(gan.gen_G_optimizer.iterations.numpy()) == 3


def test_pix2pix_loop_gets_fixed_input_images_never_noise(tmp_path):
    keras.utils.set_random_seed(0)
    gen, disc, g_opt, d_opt, train_step = mz.pix2pix()
    inp, tar = mz.edges_and_photos(16)
    import ganviz

    trace = ganviz.trace_step(train_step, inp[:8], tar[:8])
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=4, progress=False)
    start = mon.start(generator=gen, discriminator=disc, g_optimizer=g_opt, d_optimizer=d_opt, total_steps=4,
                      trace=trace)  # fmt: skip
    assert mon.sampler.kind == "image_to_image" and mon.fixed_noise is None
    for step in range(start + 1, 5):
        assert mon.step(step, train_step(inp[:8], tar[:8]), batch=(inp[:8], tar[:8]))
    mon.end()
    assert _errors(tmp_path) == []
    np.testing.assert_allclose(mon.sampler.arrays["fixed_inputs"], inp[:8])
    grid = _png(tmp_path / "samples" / "step_000004.png")
    assert grid.shape == (*grid_size(4, 4, 16, 16)[::-1], 3)  # 8 pairs: input | output, two pairs a row
    first_input = grid[2 : 2 + 32 : 2, 2 : 2 + 32 : 2]
    np.testing.assert_array_equal(first_input[..., 0] > 127, inp[0, ..., 0] > 0)  # the outline square, as given
    from ganviz.train.outputs.report import write_report

    page = write_report(tmp_path).read_text()
    assert "g_opt</td><td>Adam" in page and "unet_generator" in page and "found by tracing" in page
    assert (tmp_path / "diagrams" / "system.svg").exists() and "input | output" in page


def test_image_to_image_without_inputs_draws_nothing_and_says_so(tmp_path):
    gen, disc, g_opt, d_opt, _ = mz.pix2pix()
    mon = Monitor(tmp_path, every_n_steps=1, checkpoint_every=None, progress=False)
    mon.start(generator=gen, discriminator=disc, g_optimizer=g_opt, d_optimizer=d_opt)
    assert mon.step(1, {"gen_total_loss": 1.0}) and mon.step(2, {"gen_total_loss": 0.9})
    mon.end()
    assert not list((tmp_path / "samples").glob("*.png"))
    errors = _errors(tmp_path)
    assert len(errors) == 2 and "noise is never fed" in errors[0] and "sample_inputs" in errors[0]
    assert "3 times" in errors[1]  # steps 1, 2 and the final grid
    system = json.loads((tmp_path / "diagrams" / "system.json").read_text())  # no noise-fed "standard loop"
    assert "maps images to images" in system["error"] and "trace_step" in system["error"]


def test_drawing_failures_never_stop_fit(tmp_path):
    def broken() -> np.ndarray:
        raise RuntimeError("sampler exploded")

    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (48, 28, 28, 1)).astype("float32")
    mon = Monitor(tmp_path, every_n_steps=1, checkpoint_every=3, progress=False, sample_fn=broken, diagrams=False)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    assert mon.global_step == 6 and _steps(tmp_path) == list(range(1, 7))
    errors = _errors(tmp_path)
    assert "could not draw the sample grid: RuntimeError: sampler exploded" in errors[0]
    assert "7 times" in errors[-1]
    from ganviz.train.outputs.report import write_report

    page = write_report(tmp_path).read_text()
    assert "training looked healthy" not in page and "sampler exploded" in page


def test_counts_come_from_the_optimizer_under_steps_per_execution(tmp_path, capsys):
    """58 steps with steps_per_execution=8: counts are exact and grids land where intervals are crossed.

    ``GAN.fit`` runs whole executions per epoch (Keras would run past ``steps_per_epoch`` on the
    repeated pipeline), so 58 steps run as executions of the largest divisor of 58 not above 8.
    """
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0)
    gan.compile(steps_per_execution=8)
    x = np.random.default_rng(0).uniform(-1, 1, (58 * 4, 28, 28, 1)).astype("float32")
    mon = Monitor(tmp_path, every_n_steps=20, checkpoint_every=None, progress=True, diagrams=False)
    gan.fit(x, batch_size=4, epochs=1, verbose=1, callbacks=[mon])
    assert mon.global_step == 58 == int(gan.g_optimizer.iterations.numpy())
    block = int(gan.steps_per_execution)
    assert 1 < block <= 8 and 58 % block == 0
    steps = _steps(tmp_path)
    assert steps == list(range(block, 59, block))  # one record per execution, none past the end
    crossed = sorted({next(s for s in steps if s >= k) for k in (20, 40)} | {58})
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"step_{s:06d}.png" for s in crossed]
    out, err = capsys.readouterr()
    assert "━" not in out and "step/" not in out  # Keras's bar was turned off
    assert "step 58/58" in err
    assert any("Keras's own progress bar was turned off" in e["message"] for e in _events(tmp_path))


def test_resumed_loop_keeps_total_and_sample_interval(tmp_path):
    gen, disc = seed_generator(8), seed_discriminator()
    mon = Monitor(tmp_path, every_n_steps=4, checkpoint_every=5, progress=False, diagrams=False)
    mon.start(generator=gen, discriminator=disc, total_steps=20)
    for s in range(1, 11):
        mon.step(s, {"d_loss": 1.0})
    mon.end()
    again = Monitor(tmp_path, every_n_steps=8, checkpoint_every=5, resume=True, progress=False, diagrams=False)
    assert again.start(generator=gen, discriminator=disc, total_steps=20) == 10
    assert again.total_steps == 20 and again.every_n_steps == 4
    for s in range(11, 21):
        again.step(s, {"d_loss": 1.0})
    again.end()
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == [f"step_{s:06d}.png" for s in (4, 8, 10, 12, 16, 20)]
    assert any("kept the run's every_n_steps=4 (asked for 8)" in e["message"] for e in _events(tmp_path))


def test_tensorboard_events_hold_scalars_grids_and_the_diagram(tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=None, progress=False, tensorboard=True)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    events = read_events(tmp_path / "tensorboard")
    assert [s for s, _ in events["train/d_loss"]] == [2, 4]  # once per execution: 2 steps (the grid interval)
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [v for _, v in events["train/g_loss"]] == pytest.approx([m["g_loss"] for m in metrics], rel=1e-6)
    grids = dict(events["samples"])
    assert sorted(grids) == [2, 4]
    np.testing.assert_array_equal(grids[4].squeeze(), _png(tmp_path / "samples" / "step_000004.png"))
    diagram = events["system_diagram"][0][1]
    assert diagram.ndim == 3 and diagram.shape[0] > 100 and diagram.shape[1] > 100
    assert "fixed noise" in events["sampling"][0][1]


def test_notebook_view_is_one_display_updated_in_place(tmp_path, monkeypatch):
    shown: list = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj.data))

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(("display", obj.data))
        return Handle()

    ipd = types.ModuleType("IPython.display")
    ipd.display = display
    ipd.HTML = lambda data: types.SimpleNamespace(data=data)
    ipython = types.ModuleType("IPython")
    ipython.display = ipd
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipd)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=2, progress=False, display=True, diagrams=False)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    assert [kind for kind, _ in shown].count("display") == 1 and len(shown) >= 3  # 2 executions of 2 steps
    assert all(kind == "update" for kind, _ in shown[1:])
    last = shown[-1][1]
    assert last.count("data:image/png;base64,") == 2 and "step 4/4" in last


def test_cyclegan_resumes_with_all_four_optimizers_and_the_same_inputs(tmp_path):
    x, y = mz.horses_and_zebras(24)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    keras.utils.set_random_seed(0)
    first = mz.cyclegan()
    mon = Monitor(tmp_path, every_n_steps=3, checkpoint_every=3, progress=False, diagrams=False)
    first.fit(data, epochs=1, verbose=0, callbacks=[mon])
    slots = [v.numpy().copy() for v in first.disc_Y_optimizer.variables]
    keras.utils.set_random_seed(1)
    again = mz.cyclegan()  # fresh weights, optimizers not built yet
    mon2 = Monitor(tmp_path, every_n_steps=3, checkpoint_every=3, resume=True, progress=False, diagrams=False)
    assert mon2.start(again) == 3
    for a, b in zip(slots, again.disc_Y_optimizer.variables):
        np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_allclose(mon2.sampler.arrays["fixed_x"], x[:4])
    mon2.end()
    mon3 = Monitor(tmp_path, every_n_steps=3, checkpoint_every=3, resume=True, progress=False, diagrams=False)
    again.fit(data.skip(1), epochs=1, verbose=0, callbacks=[mon3])
    assert mon3.initial_step == 3 and mon3.global_step == 5 and _steps(tmp_path) == [1, 2, 3, 4, 5]
    assert _errors(tmp_path) == []
