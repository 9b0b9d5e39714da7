"""The backend-neutral tests again under KERAS_BACKEND=jax (and torch where installed), each in a subprocess.

Keras picks its backend once per process, so every other backend gets a fresh interpreter. JAX's
CPU wheel is in the ``dev`` extra; PyTorch's CPU build (torch 2.13.0) is installed by ``make setup``
from a wheel on the machine's disk (the registry's torch is the ~3 GB CUDA build, never downloaded
by it), so both run in ``make test`` and CI. Where torch is missing the torch runs skip, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Files whose tests use only Keras's backend-neutral API (no tf.* and no traced tf.GradientTape steps).
NEUTRAL = ["extract/test_keras_model.py", "test_plot_model_keras.py", "train/gan/test_train_gan_backends.py"]
_TORCH_SKIP = (
    "PyTorch is not installed: `make setup` installs its CPU build (torch==2.13.0) only from a wheel on "
    "the machine's disk, and it was not there; `pip install torch==2.13.0` to run these"
)


def _needs(backend: str) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(_TORCH_SKIP if backend == "torch" else f"{backend} is not installed (pip install -e '.[dev]')")


def _env(backend: str) -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _run(backend: str, args: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_env(backend), capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("name", NEUTRAL)
def test_backend_neutral_tests_pass_on(backend: str, name: str) -> None:
    _needs(backend)
    out = _run(backend, ["-m", "pytest", str(TESTS / name), "-x", "-p", "no:cacheprovider", "-W", "ignore"])
    tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-25:])
    assert out.returncode == 0, f"{name} under KERAS_BACKEND={backend}:\n{tail}"
    assert " passed" in out.stdout and " failed" not in out.stdout, tail


_NO_TF = textwrap.dedent(
    """
    import sys, keras, ganviz
    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    from ganviz.api import plot_gan, plot_model
    sys.path.insert(0, "tests")
    from fixtures import zoo
    g, d = zoo.build_generator(8), zoo.build_discriminator()
    plot_model(g, sys.argv[2] + "/g.svg", show_shapes=True)
    plot_model(zoo.build_subclassed(), sys.argv[2] + "/sub.json")
    plot_model(zoo.build_subclassed_nesting(), None)
    plot_gan(generator=g, discriminator=d, to_file=sys.argv[2] + "/gan.svg")
    ganviz.GAN(g, d, latent_dim=8)
    print("tensorflow" in sys.modules)
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_ganviz_never_imports_tensorflow_on(backend: str, tmp_path: Path) -> None:
    _needs(backend)
    out = _run(backend, ["-c", _NO_TF, backend, str(tmp_path)], timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False", "TensorFlow was imported"
    assert (tmp_path / "g.svg").read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    assert '"format": "ganviz.graph/1"' in (tmp_path / "sub.json").read_text(encoding="utf-8")
    assert "<svg" in (tmp_path / "gan.svg").read_text(encoding="utf-8")


def test_tracing_a_step_off_tensorflow_says_so_in_one_line() -> None:
    _needs("jax")
    code = textwrap.dedent(
        """
        import keras, ganviz
        class Step(keras.Model):
            def __init__(self):
                super().__init__()
                self.generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
            def train_step(self, data):
                return {}
        try:
            ganviz.trace_gan(Step(), data=None)
        except ganviz.GanvizError as exc:
            print(exc)
        """
    )
    out = _run("jax", ["-c", code], timeout=300)
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and len(lines) == 1, out.stdout + out.stderr[-2000:]
    assert "needs TensorFlow" in lines[0] and "backend is 'jax'" in lines[0]
    assert "plot_gan(generator=..., discriminator=...)" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_ganviz_demo_runs_on(backend: str, tmp_path: Path) -> None:
    """The demo on JAX and PyTorch: every picture, the GAN's step traced on that backend, a short run."""
    _needs(backend)
    out = _run(backend, ["-m", "ganviz", "demo", "--quick", "--steps", "8", "-o", str(tmp_path)], timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"tracing one training step of the whole GAN ({backend})" in out.stdout
    for name in ("generator_plot.png", "gan_system.png", "gan_system.html", "run/report.html", "run/metrics.jsonl"):
        assert (tmp_path / name).is_file(), name
    page = (tmp_path / "gan_system.html").read_text(encoding="utf-8")
    assert "Assumed" not in page and "generator_ema" in page  # traced: the EMA assignment of the recipe is drawn


def test_the_command_line_picks_an_installed_backend_when_none_is_set(tmp_path: Path) -> None:
    """KERAS_BACKEND unset and TensorFlow missing (blocked here): JAX is picked, in one line, and the plot works."""
    _needs("jax")
    code = textwrap.dedent(
        """
        import os, sys
        sys.modules["tensorflow"] = None  # as if TensorFlow were not installed
        os.environ.pop("KERAS_BACKEND", None)
        from ganviz.cli import main
        rc = main(["plot", sys.argv[1], "-o", sys.argv[2]])
        import keras
        print(rc, keras.backend.backend())
        """
    )
    model = ROOT / "tests" / "fixtures" / "zoo.py"
    env = {k: v for k, v in _env("jax").items() if k != "KERAS_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", code, f"{model}:build_generator", str(tmp_path / "g.svg")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "0 jax", out.stdout + out.stderr[-2000:]
    notes = [line for line in out.stderr.splitlines() if line.startswith("ganviz:")]
    assert notes == ["ganviz: KERAS_BACKEND is not set and TensorFlow is not installed: using the jax backend "
                     "(set KERAS_BACKEND to choose)"]  # fmt: skip
    assert (tmp_path / "g.svg").is_file()


def test_a_missing_optional_dependency_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["sklearn"] = None  # as after a plain `pip install ganviz`, without [train]
        from ganviz.cli import main
        sys.exit(main(["train", "--quick", "--steps", "2", "-o", sys.argv[1]]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], cwd=ROOT, env=_env("tensorflow"),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    lines = [line for line in out.stderr.splitlines() if line.startswith("ganviz:")]
    assert out.returncode == 2, out.stderr[-2000:]
    assert lines == ["ganviz: error: this needs scikit-learn, which is not installed: pip install 'ganviz[train]'"]
    assert "Traceback" not in out.stderr


_MONITOR_NO_TF = textwrap.dedent(
    """
    import json, sys
    import numpy as np, keras, ganviz
    from ganviz.train.models import seed_discriminator, seed_generator
    gan = ganviz.GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    mon = ganviz.Monitor(sys.argv[1], every_n_steps=2, checkpoint_every=2, progress=False, tensorboard=True)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    from ganviz.train.outputs.tensorboard import read_events
    events = read_events(sys.argv[1] + "/tensorboard")
    tags = {tag: [step for step, _ in values] for tag, values in events.items()}
    print(json.dumps({"tf": "tensorflow" in sys.modules, "step": mon.global_step, "tags": tags}))
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_gan_fit_with_a_monitor_never_imports_tensorflow_on(backend: str, tmp_path: Path) -> None:
    """TensorFlow is installed here; a JAX/PyTorch run must still leave it unloaded (it would take GPU memory),
    also while it writes TensorBoard events."""
    _needs(backend)
    assert importlib.util.find_spec("tensorflow") is not None  # the test means something only with it installed
    out = _run(backend, ["-c", _MONITOR_NO_TF, str(tmp_path)], timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    tags = result.pop("tags")
    assert result == {"tf": False, "step": 4}, result
    # TensorBoard events written without TensorFlow: the grids at the sample steps, the logged losses
    assert tags["samples"] == [2, 4], tags
    assert any(t.startswith("train/") for t in tags), tags
    assert any(p.name.startswith("events.out.tfevents.") for p in (tmp_path / "tensorboard").iterdir())
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    system = json.loads((tmp_path / "diagrams" / "system.json").read_text())
    assert system == {"how": "assumed", "error": None}  # drawn from ganviz.GAN's loop, not traced
    trace = json.loads((tmp_path / "diagrams" / "trace.json").read_text())
    expected = "ganviz.GAN (bce, R1 1, EMA 0.999)"  # the bce recipe, on every backend's step
    assert trace["name"] == expected and trace["assumed"] is True
    assert [o["class_name"] for o in trace["optimizers"]] == ["Adam", "Adam"]
    assert "<svg" in (tmp_path / "diagrams" / "system.svg").read_text(encoding="utf-8")


_TORCH_GUIDE = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np, keras, torch, ganviz
    from ganviz.train.models import seed_discriminator, seed_generator
    from ganviz.train.outputs.report import write_report

    class GuideGAN(keras.Model):  # the GAN of Keras's "customizing fit() with PyTorch" guide
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337)
            self.built = True

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real):
            real = real[0] if isinstance(real, tuple) else real
            n = real.shape[0]
            fake = self.generator(keras.random.normal((n, self.latent_dim), seed=self.seed_generator))
            self.zero_grad()
            d_loss = self.loss_fn(torch.concat([torch.ones((n, 1)), torch.zeros((n, 1))]),
                                  self.discriminator(torch.concat([fake, real])))
            d_loss.backward()
            with torch.no_grad():
                self.d_optimizer.apply([v.value.grad for v in self.discriminator.trainable_weights],
                                       self.discriminator.trainable_weights)
            self.zero_grad()
            z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
            g_loss = self.loss_fn(torch.zeros((n, 1)), self.discriminator(self.generator(z)))
            g_loss.backward()
            with torch.no_grad():
                self.g_optimizer.apply([v.value.grad for v in self.generator.trainable_weights],
                                       self.generator.trainable_weights)
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    run, loop = sys.argv[1], sys.argv[2]
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    steps = []
    for resume in (False, True):
        gan = GuideGAN(seed_discriminator(), seed_generator(8), 8)
        gan.compile(keras.optimizers.Adam(3e-4), keras.optimizers.RMSprop(1e-3), keras.losses.BinaryCrossentropy())
        mon = ganviz.Monitor(run, every_n_steps=2, checkpoint_every=2, progress=False, resume=resume)
        gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
        steps.append((mon.initial_step, mon.global_step))
    write_report(run, gan=gan)

    g, d = seed_generator(8), seed_discriminator()  # a hand-written torch loop logging its loss tensors
    opt, bce = keras.optimizers.SGD(0.01), keras.losses.BinaryCrossentropy()
    mon = ganviz.Monitor(loop, every_n_steps=2, checkpoint_every=2, progress=False)
    mon.start(generator=g, discriminator=d, g_optimizer=opt, total_steps=2)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for step in (1, 2):
            g.zero_grad()
            g_loss = bce(torch.ones((8, 1)), d(g(torch.randn(8, 8))))
            g_loss.backward()
            with torch.no_grad():
                opt.apply([v.value.grad for v in g.trainable_weights], g.trainable_weights)
            mon.step(step, {"g_loss": g_loss})
    mon.end()
    print(json.dumps({"steps": steps, "tf": "tensorflow" in sys.modules,
                      "grad_warnings": [str(w.message)[:80] for w in seen if "requires_grad" in str(w.message)]}))
    """
)


def test_a_torch_guide_gan_and_a_hand_written_loop_keep_every_monitor_feature(tmp_path: Path) -> None:
    """Item 3 of the backends issue on PyTorch: grids, GIF, curves, checkpoints, resume, report, system, optimizers."""
    _needs("torch")
    import json

    run, loop = tmp_path / "run", tmp_path / "loop"
    out = _run("torch", ["-c", _TORCH_GUIDE, str(run), str(loop)], timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"steps": [[0, 4], [4, 8]], "tf": False, "grad_warnings": []}, result
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"step_{s:06d}.png" for s in (2, 4, 6, 8)]
    assert (run / "checkpoints" / "ckpt_00000008.npz").is_file()
    assert (run / "progress.gif").stat().st_size > 0 and (run / "curves.png").stat().st_size > 0
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == list(range(1, 9))
    system = json.loads((run / "diagrams" / "system.json").read_text())
    assert system["how"] == "traced" and system["error"] is None  # the guide's step, traced on fake tensors
    trace = json.loads((run / "diagrams" / "trace.json").read_text())
    assert {o["name"]: o["class_name"] for o in trace["optimizers"]} == {
        "d_optimizer": "Adam",
        "g_optimizer": "RMSprop",
    }
    report = (run / "report.html").read_text(encoding="utf-8")
    assert "not traced" not in report and "could not be drawn" not in report
    assert "RMSprop" in report
    assert sorted(p.name for p in (loop / "samples").iterdir()) == ["step_000002.png"]
    assert [json.loads(line)["g_loss"] > 0 for line in (loop / "metrics.jsonl").read_text().splitlines()] == [True] * 2
