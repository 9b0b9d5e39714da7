"""One compiled ``jax.lax.scan`` per execution (``jax_fused``): the same training as Keras's JAX loop.

Keras picks its backend once per process, so the JAX runs happen in one subprocess with
``KERAS_BACKEND=jax``; it writes what it saw (weights as ``.npz``, counts as JSON) and the
assertions are made here. Both runs of a pair start from the same initial weights (set by hand, so
no TensorFlow is imported for seeding).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[2]
ROOT = TESTS.parent

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    import jax
    import ganviz
    from ganviz.train.gan import jax_fused

    out = Path(sys.argv[1])
    result = {}

    def models():
        g = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(64, activation="tanh"),
             keras.layers.Reshape((8, 8, 1))], name="generator")
        d = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16), keras.layers.LeakyReLU(),
             keras.layers.Dense(1, activation="sigmoid")], name="discriminator")
        return g, d

    G0, D0 = (m.get_weights() for m in models())

    def gan(**options):
        g, d = models()
        g.set_weights(G0)
        d.set_weights(D0)
        return ganviz.GAN(g, d, latent_dim=8, seed=1, **options)

    def counts(model):
        return {
            "g_iterations": int(model.g_optimizer.iterations.numpy()),
            "d_iterations": int(model.d_optimizer.iterations.numpy()),
            "noise_counter": int(model.noise_counter.numpy()),
            "module": model.train_function.__module__,
        }

    def save(model, name, **extra):
        arrays = {}
        for part in ("generator", "discriminator", "ema_generator"):
            for i, w in enumerate(getattr(model, part).get_weights() if getattr(model, part) else []):
                arrays[f"{part}/{i}"] = w
        np.savez(out / f"{name}.npz", **arrays)
        result[name] = {**counts(model), **extra}

    # 19 batches at 8 steps per execution: two whole executions, then 3 batches, the last smaller (10 of 16)
    images = np.random.default_rng(0).uniform(-1, 1, (18 * 16 + 10, 8, 8, 1)).astype("float32")
    stacked = []
    stackable = jax_fused._stackable

    def spy(batches, *args, **kwargs):
        ok = stackable(batches, *args, **kwargs)
        stacked.append([len(batches), ok])
        return ok

    jax_fused._stackable = spy
    for recipe, options in {
        "alternating": {"updates": "alternating", "r1_weight": 1.0, "ema": 0.99},
        "simultaneous": {"updates": "simultaneous", "r1_weight": 1.0, "ema": 0.99, "label_smoothing": 0.1},
        "d_steps": {"loss": "wgan-gp", "d_steps": 2},
    }.items():
        for fused in (True, False):
            stacked.clear()
            model = gan(**options)
            model.compile(steps_per_execution=8)
            if not fused:
                can = jax_fused.can_fuse
                jax_fused.can_fuse = lambda m: False
            history = model.fit(images, batch_size=16, epochs=1, verbose=0, shuffle=False).history
            if not fused:
                jax_fused.can_fuse = can
            name = f"{recipe}_{'fused' if fused else 'keras'}"
            save(model, name, logs={k: float(v[-1]) for k, v in history.items()}, stacked=list(stacked))
    jax_fused._stackable = stackable

    # the default steps per execution end on the Monitor's intervals; its counts stay exact
    model = gan()
    model.compile()
    result["default_spe"] = int(model.steps_per_execution)
    run = out / "run"
    mon = ganviz.Monitor(run, every_n_steps=6, checkpoint_every=12, progress=False, diagrams=False)
    model.fit(images[:96], batch_size=4, epochs=1, verbose=0, callbacks=[mon])  # 24 steps
    result["monitor"] = {
        **counts(model), "spe": int(model.steps_per_execution), "global_step": int(mon.global_step),
        "grids": sorted(p.name for p in (run / "samples").iterdir()),
        "rows": [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()],
    }

    # Keras's own loop without jit, eagerly, and under a keras.distribution distribution
    fallback = {}
    model = gan()
    model.compile(jit_compile=False)
    fallback["no_jit"] = [jax_fused.can_fuse(model)]
    model.fit(images[:64], batch_size=16, epochs=1, verbose=0)
    fallback["no_jit"].append(counts(model))
    model = gan()
    model.compile(run_eagerly=True)
    fallback["eager"] = [jax_fused.can_fuse(model)]
    model.fit(images[:64], batch_size=16, epochs=1, verbose=0)
    fallback["eager"].append(counts(model))
    model = gan()
    model.compile()
    fallback["plain"] = [jax_fused.can_fuse(model)]
    logs = model.train_on_batch(images[:16], return_dict=True)  # Keras hands the function a one-batch generator
    fallback["plain"] += [counts(model), sorted(logs)]
    with keras.distribution.DataParallel(devices=jax.devices()[:1]).scope():
        fallback["distributed"] = [jax_fused.can_fuse(model)]
    result["fallback"] = fallback
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    (out / "result.json").write_text(json.dumps(result))
    """
)


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("jax_fused")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
    assert proc.returncode == 0, f"the JAX run failed:\n{tail}"
    return json.loads((out / "result.json").read_text()), out


def _weights(out: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(out / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("recipe", ["alternating", "simultaneous", "d_steps"])
def test_fused_executions_train_as_keras_loop_on_jax(jax_runs: tuple[dict[str, Any], Path], recipe: str) -> None:
    result, out = jax_runs
    fused, keras_loop = result[f"{recipe}_fused"], result[f"{recipe}_keras"]
    assert fused["module"] == "ganviz.train.gan.jax_fused"
    assert keras_loop["module"] == "keras.src.backend.jax.trainer"
    # two whole executions stacked; the last three batches (one smaller) step by step
    assert fused["stacked"] == [[8, True], [8, True]]
    assert keras_loop["stacked"] == []
    d_steps = 2 if recipe == "d_steps" else 1
    for run in (fused, keras_loop):
        assert (run["g_iterations"], run["d_iterations"], run["noise_counter"]) == (19, 19 * d_steps, 19)
    a, b = _weights(out, f"{recipe}_fused"), _weights(out, f"{recipe}_keras")
    assert sorted(a) == sorted(b)
    assert any(k.startswith("ema_generator/") for k in a) == (recipe != "d_steps")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5, err_msg=key)
    # the logs are the last step's, as Keras's loop returns them
    assert fused["logs"].keys() == keras_loop["logs"].keys() == {"d_loss", "g_loss", "d_real", "d_fake"}
    for k, v in fused["logs"].items():
        assert v == pytest.approx(keras_loop["logs"][k], rel=1e-4, abs=1e-5), k


def test_default_execution_lands_on_the_monitors_intervals_on_jax(jax_runs: tuple[dict[str, Any], Path]) -> None:
    result, _ = jax_runs
    assert result["default_spe"] == 8
    mon = result["monitor"]
    assert mon["module"] == "ganviz.train.gan.jax_fused"
    assert mon["spe"] == 6  # the largest divisor of 6, 12 and the epoch's 24 steps up to 8
    assert mon["g_iterations"] == mon["global_step"] == 24
    assert mon["grids"] == [f"step_{s:06d}.png" for s in (6, 12, 18, 24)]
    assert mon["rows"] == [6, 12, 18, 24]


def test_keras_loop_without_jit_eagerly_and_distributed(jax_runs: tuple[dict[str, Any], Path]) -> None:
    fallback = jax_runs[0]["fallback"]
    can, counts, logs = fallback["plain"]
    assert can is True and fallback["distributed"] == [False]
    assert counts["module"] == "ganviz.train.gan.jax_fused" and counts["g_iterations"] == 1
    assert logs == ["d_fake", "d_loss", "d_real", "g_loss"]
    for case in ("no_jit", "eager"):
        can, counts = fallback[case]
        assert can is False, case
        assert counts["module"] == "keras.src.backend.jax.trainer", case
        assert (counts["g_iterations"], counts["noise_counter"]) == (4, 4), case


def test_no_tensorflow_on_the_jax_path(jax_runs: tuple[dict[str, Any], Path]) -> None:
    assert jax_runs[0]["tensorflow_imported"] is False


def test_batches_that_cannot_be_stacked_run_one_by_one_on_jax() -> None:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install -e '.[dev]')")
    from ganviz.train.gan import jax_fused

    same = [np.zeros((4, 2), "float32"), np.ones((4, 2), "float32")]
    assert jax_fused._stackable(same)
    assert jax_fused._stackable([(a,) for a in same])  # Keras's 1-tuples
    assert not jax_fused._stackable([np.zeros((4, 2), "float32"), np.zeros((3, 2), "float32")])
    assert not jax_fused._stackable([np.zeros((4, 2), "float32"), np.zeros((4, 2), "int32")])
    assert not jax_fused._stackable([(np.zeros((4, 2), "float32"), np.zeros(4, "float32")), same[0]])
    assert not jax_fused._stackable(same, max_bytes=63)  # 2 batches of 8 float32: 64 bytes
    assert jax_fused._stackable(same, max_bytes=64)
    assert not jax_fused._stackable([[1, 2], [3, 4]])  # not arrays
