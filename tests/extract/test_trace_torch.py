"""The whole-GAN trace on the PyTorch backend agrees with the TensorFlow trace of the same system.

Keras picks its backend once per process, so the torch traces are made in one subprocess with
``KERAS_BACKEND=torch`` (our torch twins in ``fixtures/torch_zoo.py`` and ``ganviz.GAN``'s torch
step), written as ``ganviz.trace/2`` JSON and read back here, next to the TensorFlow traces of the
twins (``fixtures/gan_zoo.py``, ``ganviz.GAN`` on TensorFlow). The subprocess also checks that no
variable, optimizer iteration, seed state or parameter gradient changed, that torch's random state
did not advance, and that TensorFlow was never imported (JAX may be: Keras imports it where installed). Skipped, with the documented reason, where
torch is not installed.
"""

from __future__ import annotations

import importlib.util
import textwrap
from typing import Any

import pytest

from ganviz.ir import Trace
from support.trace_facts import (
    backend_traces,
    check_twin,
    check_untouched_and_unverified,
    facts,
    semantic_facts,
    tf_gan_trace,
)

_TORCH_SKIP = (
    "PyTorch is not installed: the registry's torch wheel is the CUDA build (~3 GB with its nvidia-* "
    "dependencies), so it is left out of the dev extra; `pip install torch` to run these"
)
# ganviz.GAN on torch and its TensorFlow twin, with the same options.
# each twin of fixtures/torch_zoo.py and the gan_zoo system whose TensorFlow trace it must give
TWINS = {
    "dcgan": "dcgan",
    "wgan_gp": "wgan_gp",
    "conditional_gan": "conditional_gan",
    "ema_dcgan": "ema_dcgan",
    "ema_dcgan_trainable": "ema_dcgan",  # the EMA copy left trainable: the same trace as the frozen one on TensorFlow
}
GAN_OPTIONS: dict[str, dict[str, Any]] = {
    "gan_default": {},  # bce: R1 and the EMA generator, simultaneous updates (the recipe on every backend)
    "gan_bce": {"r1_weight": 0.0, "ema": None},
    "gan_wgan_gp": {"loss": "wgan-gp"},
}

_TORCH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras, torch
    assert keras.backend.backend() == "torch"
    import ganviz
    from ganviz.train.gan import gan_class
    from fixtures import torch_zoo, zoo

    def state(obj, opts):
        values = [np.array(v.numpy()) for v in obj.variables]
        for o in opts:
            values += [np.array(v.numpy()) for v in o.variables]
        grads = [v.value.grad for v in obj.variables]
        return values, grads

    out = {}
    systems = {name: build() for name, build in torch_zoo.TORCH_ZOO.items()}
    for name, kw in json.loads(sys.argv[1]).items():
        gan = gan_class()(zoo.build_generator(8), zoo.build_discriminator(), latent_dim=8, **kw)
        gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(2e-4))
        gan.build_optimizers()
        systems[name] = (gan, np.zeros((8, 28, 28, 1), "float32"))
    for name, (gan, data) in systems.items():
        opts = [gan.d_optimizer, gan.g_optimizer]
        before, grads = state(gan, opts)
        iterations = [int(o.iterations.numpy()) for o in opts]
        rng = torch.get_rng_state()
        trace = ganviz.trace_gan(gan, data=data)
        after, grads_after = state(gan, opts)
        same = len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
        same = same and all(a is b for a, b in zip(grads, grads_after))
        out[name] = {
            "trace": trace.to_json(),
            "unchanged": same and iterations == [int(o.iterations.numpy()) for o in opts],
            "rng": bool(torch.equal(rng, torch.get_rng_state())),
            "variables": len(before),
        }
    gan, data = systems["dcgan"]
    ganviz.plot_gan(gan, data=data, to_file=sys.argv[2])
    out["svg"] = open(sys.argv[2], encoding="utf-8").read()[:2000]

    # a classic train_on_batch loop is refused in one line, and training afterwards is untouched
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6)], name="g")
    d = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1, activation="sigmoid")], name="d")
    d.compile(optimizer="adam", loss="binary_crossentropy")
    d.trainable = False
    z = keras.Input((4,))
    combined = keras.Model(z, d(g(z)), name="combined")
    combined.compile(optimizer="adam", loss="binary_crossentropy")

    def classic_step(real):
        noise = np.random.normal(size=(8, 4)).astype("float32")
        fake = g.predict(noise, verbose=0)
        d.trainable = True
        d.train_on_batch(np.concatenate([real, fake]), np.zeros((16, 1)))
        d.trainable = False
        combined.train_on_batch(noise, np.ones((8, 1)))

    before = [np.array(v.numpy()) for v in g.weights + d.weights]
    try:
        ganviz.trace_step(classic_step, np.zeros((8, 6), "float32"), models={"generator": g, "discriminator": d, "combined": combined})
        out["classic"] = None
    except ganviz.errors.TraceError as exc:
        out["classic"] = str(exc)
    out["classic_unchanged"] = all(np.array_equal(a, np.array(v.numpy())) for a, v in zip(before, g.weights + d.weights))
    classic_step(np.ones((8, 6), "float32"))
    out["iterations_after"] = [int(d.optimizer.iterations.numpy()), int(combined.optimizer.iterations.numpy())]
    out["tensorflow"] = "tensorflow" in sys.modules
    print("JSON" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def torch_traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if importlib.util.find_spec("torch") is None:
        pytest.skip(_TORCH_SKIP)
    return backend_traces("torch", _TORCH_SCRIPT, GAN_OPTIONS, tmp_path_factory.mktemp("torch") / "dcgan.svg")


def _torch(torch_traces: dict[str, Any], name: str) -> Trace:
    return Trace.from_json(torch_traces[name]["trace"])


@pytest.mark.slow
def test_torch_trace_never_imports_tensorflow_changes_nothing_and_claims_no_verdict(
    torch_traces: dict[str, Any],
) -> None:
    check_untouched_and_unverified(torch_traces, [*TWINS, *GAN_OPTIONS], "torch")
    for name in [*TWINS, *GAN_OPTIONS]:
        assert torch_traces[name]["rng"] is True, f"{name}: torch's random state advanced"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TWINS))
def test_torch_twin_gives_the_tensorflow_trace(torch_traces: dict[str, Any], name: str) -> None:
    check_twin(torch_traces, name, TWINS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GAN_OPTIONS))
def test_ganviz_gan_on_torch_traces_as_on_tensorflow(torch_traces: dict[str, Any], name: str) -> None:
    torch_facts, tf_facts = (
        semantic_facts(_torch(torch_traces, name)),
        semantic_facts(tf_gan_trace(**GAN_OPTIONS[name])),
    )
    if name == "gan_default":  # the warm-up bound min(0.999, (1+t)/(10+t)), not its value at the traced step
        assert [a for a in torch_facts["assignments"] if a[2] == "ema"] == [
            ("generator_ema", "generator", "ema", 0.999, 6)
        ]
    assert torch_facts == tf_facts


@pytest.mark.slow
def test_torch_golden_facts_of_the_twins(torch_traces: dict[str, Any]) -> None:
    """The facts themselves, so that a trace wrong on both backends alike still fails."""
    dcgan, wgan = facts(_torch(torch_traces, "dcgan")), facts(_torch(torch_traces, "wgan_gp"))
    assert [(n, [(t[1], t[2]) for t in terms]) for n, terms in dcgan["losses"]] == [
        ("d_loss", [("bce", 1.0)]),
        ("g_loss", [("bce", 1.0)]),
    ]
    assert dcgan["ops"] == [("concat", ["data:real_images", "generated_images"])]
    assert [c[4] for c in dcgan["calls"]] == [False, True, True, True]  # the no_grad generator call is no tape's
    assert wgan["losses"][0] == (
        "d_loss",
        [("d_cost", "wasserstein", 1.0, ["fake_logits", "real_logits"]), ("gp", "gradient_penalty", 10.0, ["pred"])],
    )
    assert wgan["losses"][1] == ("g_loss", [("wasserstein(gen_img_logits)", "wasserstein", -1.0, ["gen_img_logits"])])
    assert [(p[0], p[1]) for p in wgan["phases"]] == [("update critic", 3), ("update generator", 1)]
    assert wgan["updates"] == [("d_loss", "d_optimizer", "critic", 4, 3), ("g_loss", "g_optimizer", "generator", 6, 1)]
    assert ("interpolate", ["data:real_images", "fake_images", "noise:alpha"]) in wgan["ops"]
    gan = semantic_facts(_torch(torch_traces, "gan_wgan_gp"))
    assert gan["losses"] == [
        ("d_loss", [("gradient_penalty", 10.0), ("wasserstein", 1.0)]),
        ("g_loss", [("wasserstein", -1.0)]),
    ]
    assert gan["assignments"] == [("gan/noise_counter", None, "assign", None, 1)]


@pytest.mark.slow
def test_a_classic_loop_on_torch_is_refused_in_one_line_and_training_goes_on(torch_traces: dict[str, Any]) -> None:
    classic = torch_traces["classic"]
    assert classic is not None and "g.predict() inside the step: on PyTorch" in classic and "compiled=" in classic
    assert "\n" not in classic
    assert torch_traces["classic_unchanged"] is True
    assert torch_traces["iterations_after"] == [1, 1]


@pytest.mark.slow
def test_torch_golden_facts_of_the_conditional_and_ema_twins(torch_traces: dict[str, Any]) -> None:
    """The conditional GAN's labels reach both models; the EMA copy follows the generator after both updates."""
    cond = facts(_torch(torch_traces, "conditional_gan"))
    assert ("data", "one_hot_labels", "(4, 3)") in cond["sources"]
    # G's input: noise + labels; D's inputs: fake or real images, each with the labels as channels
    assert cond["ops"] == [
        ("concat", ["data:one_hot_labels", "noise:random_latent_vectors"]),
        ("concat", ["data:one_hot_labels", "generated_images"]),
        ("concat", ["data:one_hot_labels", "data:real_images"]),
        ("concat", ["concat", "concat"]),
        ("concat", ["data:one_hot_labels", "noise:random_latent_vectors"]),
        ("concat", ["data:one_hot_labels", "fake_images"]),
    ]
    assert [(c[0], c[1], c[3], c[4]) for c in cond["calls"]] == [
        ("generator", ["concat"], "update discriminator", False),
        ("discriminator", ["concat"], "update discriminator", True),
        ("generator", ["concat"], "update generator", True),
        ("discriminator", ["concat"], "update generator", True),
    ]
    assert cond["losses"] == [
        ("d_loss", [("d_loss", "bce", 1.0, ["constant:ones", "constant:zeros", "predictions"])]),
        ("g_loss", [("g_loss", "bce", 1.0, ["constant:misleading_labels", "predictions"])]),
    ]
    assert cond["updates"] == [
        ("d_loss", "d_optimizer", "discriminator", 4, 1),
        ("g_loss", "g_optimizer", "generator", 6, 1),
    ]
    assert cond["optimizers"] == [("d_optimizer", "Adam", 0.0003), ("g_optimizer", "Adam", 0.0003)]
    assert cond["assignments"] == []
    for name in ("ema_dcgan", "ema_dcgan_trainable"):
        ema = facts(_torch(torch_traces, name))
        assert ema["assignments"] == [("ema_generator", "generator", "ema", 0.999, 6)], name
        assert ema["models"] == ["discriminator", "ema_generator", "generator"], name
        assert ema["updates"] == [
            ("d_loss", "d_optimizer", "discriminator", 4, 1),
            ("g_loss", "g_optimizer", "generator", 6, 1),
        ], name
        assert [p[0] for p in ema["phases"]] == ["update discriminator", "update generator"], name
        assert all(c[0] != "ema_generator" for c in ema["calls"]), name  # moved, never called
