"""A sample grid for every system the Monitor meets: many inputs, tuple outputs, a map condition, diffusion, a VAE.

Each system of ``fixtures/sample_zoo.py`` is trained 4 steps with ``fit`` and a Monitor; the tests
check which input got what and the grid's size and cells.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from fixtures import sample_zoo as sz  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402
from ganviz.train.outputs.images import grid_size, to_uint8  # noqa: E402


def _fit(model, data, run: Path, **kwargs) -> Monitor:
    mon = Monitor(run, every_n_steps=2, checkpoint_every=None, progress=False, diagrams=False, **kwargs)
    extra = {} if isinstance(data, tf.data.Dataset) else {"batch_size": 8}
    model.fit(data, epochs=1, verbose=0, callbacks=[mon], **extra)
    assert mon.global_step == 4
    return mon


def _errors(run: Path) -> list[str]:
    path = run / "events.jsonl"
    events = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    return [e["message"] for e in events if e["kind"] == "monitor_error"]


def _grid(run: Path, step: int = 4) -> np.ndarray:
    with Image.open(run / "samples" / f"step_{step:06d}.png") as im:
        return np.asarray(im)


def _cell(grid: np.ndarray, row: int, col: int, h: int, w: int) -> np.ndarray:
    """Cell (row, col) of a grid of (h, w) images drawn at zoom 2 with 2-pixel padding, back at zoom 1."""
    top, left = 2 + row * (2 * h + 2), 2 + col * (2 * w + 2)
    return grid[top : top + 2 * h : 2, left : left + 2 * w : 2]


def test_style_generator_gets_each_input_by_its_kind(tmp_path):
    keras.utils.set_random_seed(0)
    gan = sz.StyleGAN()
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 3)).astype("float32")
    mon = _fit(gan, x, tmp_path)
    assert _errors(tmp_path) == []
    desc = mon.sampler.description
    for said in ("const (4, 4, 8): constant ones", "w (16,): mapping(fixed noise (16,))",
                 "noise_4 (4, 4, 1): fixed noise map", "noise_8 (8, 8, 1): fixed noise map",
                 "alpha (1,): schedule: the current model.alpha"):  # fmt: skip
        assert said in desc, desc
    a = mon.sampler.arrays
    assert sorted(a) == ["input1_mapped", "input2_noise_map", "input3_noise_map"]
    assert a["input1_mapped"].shape == (16, 16) and a["input3_noise_map"].shape == (16, 8, 8, 1)
    assert float(gan.alpha.numpy()) == 1.0  # faded in over the 4 steps: the grid uses the current value

    def feed(alpha: float) -> np.ndarray:
        w = np.asarray(gan.mapping(a["input1_mapped"], training=False))
        ins = [np.ones((16, 4, 4, 8), "float32"), w, a["input2_noise_map"], a["input3_noise_map"],
               np.full((16, 1), alpha, "float32")]  # fmt: skip
        return to_uint8(np.asarray(gan.generator(ins, training=False)), (-1.0, 1.0))

    drawn = mon.generate()
    np.testing.assert_array_equal(drawn, feed(1.0))
    assert not np.array_equal(drawn, feed(0.0))  # the fade-in value matters, so it was fed
    grid = _grid(tmp_path)
    assert grid.shape == (*grid_size(4, 4, 8, 8)[::-1], 3)
    np.testing.assert_array_equal(_cell(grid, 1, 2, 8, 8), drawn[6])
    notes = json.loads((tmp_path / "notes.json").read_text())
    assert notes["sampling"] == desc  # what the report says


def test_tuple_output_graph_generator_is_drawn_as_heatmaps(tmp_path):
    keras.utils.set_random_seed(0)
    gan = sz.GraphGAN()
    gan.compile()
    adj, feat = sz.graphs(32)
    mon = _fit(gan, tf.data.Dataset.from_tensor_slices((adj, feat)).batch(8), tmp_path)
    assert _errors(tmp_path) == []
    assert mon.sampler.description == (
        "fixed noise (8,); no image output: 0 (4, 9, 9), 1 (9, 5) drawn as heatmaps side by side "
        "(argmax over the axis of size 4)"
    )
    grid = _grid(tmp_path)
    # a cell: adjacency 9x9 and features 9x5, each drawn 2x (small maps) and 2 pixels apart
    assert grid.shape == grid_size(4, 4, 18, 18 + 2 + 10 + 2)[::-1]
    out_adj = np.asarray(gan.generator(mon.fixed_noise, training=False)[0])
    bonds = out_adj.argmax(axis=1)  # (16, 9, 9): the bond type of each atom pair
    levels = np.round((bonds - bonds.min()) / (bonds.max() - bonds.min()) * 255).astype(np.uint8)
    cell = _cell(grid, 0, 1, 18, 32)[::2, ::2][:, :9]  # sample 1: its adjacency, back to 9x9
    np.testing.assert_array_equal(cell, levels[1])


def test_map_conditioned_generator_gets_the_first_batch_maps(tmp_path):
    keras.utils.set_random_seed(0)
    gan = sz.MapGAN()
    gan.compile()
    seg, img = sz.maps_and_photos(32)
    mon = _fit(gan, tf.data.Dataset.from_tensor_slices((seg, img)).batch(8), tmp_path)
    assert _errors(tmp_path) == []
    assert "latent (16,): fixed noise" in mon.sampler.description
    assert "segmentation_map (16, 16, 4): condition from the first batch" in mon.sampler.description
    a = mon.sampler.arrays
    np.testing.assert_array_equal(a["input1_condition"], seg[:8])  # 4 rows of 2 map | output pairs
    assert a["input0_noise"].shape == (8, 16)
    grid = _grid(tmp_path)
    assert grid.shape == (*grid_size(4, 4, 16, 16)[::-1], 3)
    from ganviz.train.monitor.sampler_kinds import _PALETTE

    np.testing.assert_array_equal(_cell(grid, 0, 2, 16, 16), _PALETTE[seg[1].argmax(-1)])  # pair 1: its map
    np.testing.assert_array_equal(_cell(grid, 0, 3, 16, 16), mon.generate()[1])  # and the image made from it


def test_diffusion_model_is_sampled_through_its_generate_with_a_fixed_seed(tmp_path):
    keras.utils.set_random_seed(0)
    model = sz.Diffusion()
    model.compile()
    mon = _fit(model, sz.blobs(32), tmp_path, seed=5)
    assert _errors(tmp_path) == []
    assert mon.sampler.description == "the model's own generate(num_images=16, seed=5)"
    expected = to_uint8(np.asarray(model.generate(16, seed=5)))
    np.testing.assert_array_equal(mon.generate(), expected)
    assert _grid(tmp_path).shape == grid_size(4, 4, 16, 16)[::-1]


def test_unseeded_generate_draws_the_same_noise_and_leaves_training_randomness_alone(tmp_path):
    from keras.src.random.seed_generator import global_seed_generator

    keras.utils.set_random_seed(0)
    model = sz.UnseededDiffusion()
    model.compile()
    mon = _fit(model, sz.blobs(32), tmp_path)
    assert "generate(num_images=16, diffusion_steps=10) under Keras's global seed 0" in mon.sampler.description
    before = np.asarray(global_seed_generator().state.numpy()).copy()
    first = mon.generate()
    np.testing.assert_array_equal(first, mon.generate())
    np.testing.assert_array_equal(np.asarray(global_seed_generator().state.numpy()), before)
    assert len({im.tobytes() for im in first}) == 16  # 16 different draws, not one noise 16 times


def test_vae_draws_prior_samples_and_reconstructions_side_by_side(tmp_path):
    keras.utils.set_random_seed(0)
    vae = sz.VAE()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = sz.blobs(32)
    mon = _fit(vae, x, tmp_path)
    assert _errors(tmp_path) == []
    assert mon.sampler.kind == "encoder_decoder"
    assert mon.sampler.description.startswith("decoder decoder on fixed prior noise (4,) (8, the top rows)")
    assert "input | reconstruction" in mon.sampler.description
    assert mon.fixed_noise.shape == (8, 4)
    np.testing.assert_array_equal(mon.sampler.arrays["fixed_inputs"], x[:4])
    grid = _grid(tmp_path)
    assert grid.shape == grid_size(4, 4, 16, 16)[::-1]
    prior = to_uint8(np.asarray(vae.decoder(mon.fixed_noise, training=False)), (0.0, 1.0))
    np.testing.assert_array_equal(_cell(grid, 1, 3, 16, 16), prior[7, ..., 0])
    np.testing.assert_array_equal(_cell(grid, 3, 2, 16, 16), (x[3, ..., 0] * 255).astype(np.uint8))  # input 3
    mean = np.asarray(vae.encoder(x[3:4], training=False)[0])
    rec = to_uint8(np.asarray(vae.decoder(mean, training=False)), (0.0, 1.0))
    np.testing.assert_array_equal(_cell(grid, 3, 3, 16, 16), rec[0, ..., 0])  # beside it, its reconstruction


class _NoSampler(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])

    def train_step(self, data):
        return {"loss": 0.0}


class _NeedsPrompt(_NoSampler):
    def generate(self, prompt, num_images=4):
        return np.zeros((num_images, 8, 8, 1))


@pytest.mark.parametrize(("model", "why"), [(_NoSampler, ""), (_NeedsPrompt, " (_NeedsPrompt.generate needs prompt)")])
def test_a_system_that_cannot_be_sampled_is_one_report_line_saying_what_to_pass(tmp_path, model, why):
    m = model()
    m.compile()
    mon = _fit(m, np.zeros((32, 4), "float32"), tmp_path)
    assert mon.sampler is None and not list((tmp_path / "samples").glob("*.png"))
    from ganviz.train.outputs.report import write_report

    page = write_report(tmp_path).read_text()
    line = (f"Sample grids: none drawn: found no generator, decoder or sampling method on {model.__name__}{why}: "
            "pass Monitor(sample_fn=lambda: images) (or Monitor(generator=...) for a generator it did not find).")  # fmt: skip
    assert line in page


def test_sample_fn_still_overrides_a_model_with_its_own_method(tmp_path):
    model = sz.Diffusion()
    model.compile()
    mon = _fit(model, sz.blobs(32), tmp_path, sample_fn=lambda: np.ones((4, 16, 16, 1), "float32"))
    assert mon.sampler.kind == "function"


def test_generators_held_in_torch_modules_are_found():
    """On the PyTorch backend a Keras model keeps its sub-models in ``_modules`` (torch's), not ``vars()``."""
    from ganviz.train.roles import find_generators

    gen_g, gen_f = (
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]),
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]),
    )
    holder = types.SimpleNamespace(_modules={"gen_G": gen_g, "disc_X": object(), "gen_F": gen_f}, latent_dim=2)
    assert [n for n, _ in find_generators(holder)] == ["gen_G", "gen_F"]


def test_torch_outputs_that_require_grad_are_detached_before_numpy():
    from ganviz.train.monitor.samplers import to_host

    class Tensor:  # what torch does: numpy() refuses a tensor that requires grad
        def __init__(self, requires_grad: bool) -> None:
            self.requires_grad = requires_grad

        def detach(self):
            return Tensor(False)

        def cpu(self):
            return self

        def numpy(self):
            if self.requires_grad:
                raise RuntimeError("Can't call numpy() on Tensor that requires grad")
            return np.zeros((2, 8, 8, 1))

    out = to_host((Tensor(True), {"aux": Tensor(True)}))
    assert out[0].shape == (2, 8, 8, 1) and out[1]["aux"].shape == (2, 8, 8, 1)


def test_a_tuple_with_an_image_draws_the_image():
    from ganviz.train.monitor.samplers import drawable

    img = np.linspace(-1, 1, 2 * 8 * 8).reshape(2, 8, 8, 1)
    drawn, note = drawable({"logits": np.zeros((2, 10)), "image": img}, (-1.0, 1.0))
    np.testing.assert_array_equal(drawn, to_uint8(img, (-1.0, 1.0)))
    assert note == "key image of 2 drawn (the image-like one)"


def test_a_resumed_vae_run_keeps_its_prior_noise_and_fixed_inputs(tmp_path):
    keras.utils.set_random_seed(0)
    vae = sz.VAE()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = sz.blobs(32)
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=4, progress=False, diagrams=False)
    vae.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    keras.utils.set_random_seed(1)
    again = sz.VAE()
    again.compile(optimizer=keras.optimizers.Adam(1e-3))
    again.optimizer.build(again.trainable_variables)  # restoring a model's own unbuilt optimizer fails (left alone)
    mon2 = Monitor(tmp_path, every_n_steps=2, checkpoint_every=4, resume=True, progress=False, diagrams=False,
                   seed=9)  # fmt: skip
    assert mon2.start(again) == 4 and not mon2.sampler.needs_inputs  # no batch given: the checkpoint's inputs
    np.testing.assert_array_equal(mon2.sampler.arrays["fixed_inputs"], x[:4])
    np.testing.assert_array_equal(mon2.fixed_noise, mon.fixed_noise)
    mon2.end()
