"""The backend-neutral tests again under KERAS_BACKEND=jax (and torch where installed), each in a subprocess.

Keras picks its backend once per process, so every other backend gets a fresh interpreter. JAX's
CPU wheel is in the ``dev`` extra, so these run in ``make test`` and CI. PyTorch from the package
registry is the CUDA build (about 3 GB with its nvidia-* wheels), so it is not in ``dev``: the
torch runs skip with that reason unless torch is installed.
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
    "PyTorch is not installed: the registry's torch wheel is the CUDA build (~3 GB with its nvidia-* "
    "dependencies), so it is left out of the dev extra; `pip install torch` to run these"
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
    """The demo on a backend without tracing: every picture, the standard loop labelled assumed, a short run."""
    _needs(backend)
    out = _run(backend, ["-m", "ganviz", "demo", "--quick", "--steps", "8", "-o", str(tmp_path)], timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "tracing a step needs TensorFlow" in out.stdout
    for name in ("generator_plot.png", "gan_system.png", "gan_system.html", "run/report.html", "run/metrics.jsonl"):
        assert (tmp_path / name).is_file(), name
    assert "Assumed" in (tmp_path / "gan_system.html").read_text(encoding="utf-8")


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
    mon = ganviz.Monitor(sys.argv[1], every_n_steps=2, checkpoint_every=2, progress=False)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    print(json.dumps({"tf": "tensorflow" in sys.modules, "step": mon.global_step}))
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_gan_fit_with_a_monitor_never_imports_tensorflow_on(backend: str, tmp_path: Path) -> None:
    """TensorFlow is installed here; a JAX/PyTorch run must still leave it unloaded (it would take GPU memory)."""
    _needs(backend)
    assert importlib.util.find_spec("tensorflow") is not None  # the test means something only with it installed
    out = _run(backend, ["-c", _MONITOR_NO_TF, str(tmp_path)], timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"tf": False, "step": 4}, result
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    system = json.loads((tmp_path / "diagrams" / "system.json").read_text())
    assert system == {"how": "assumed", "error": None}  # drawn from ganviz.GAN's loop, not traced
    trace = json.loads((tmp_path / "diagrams" / "trace.json").read_text())
    expected = (
        "ganviz.GAN (bce)" if backend == "torch" else "ganviz.GAN (bce, R1 1, EMA 0.999)"
    )  # the bce recipe where the step has it
    assert trace["name"] == expected and trace["assumed"] is True
    assert [o["class_name"] for o in trace["optimizers"]] == ["Adam", "Adam"]
    assert "<svg" in (tmp_path / "diagrams" / "system.svg").read_text(encoding="utf-8")
