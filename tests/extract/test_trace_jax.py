"""The whole-GAN trace on the JAX backend agrees with the TensorFlow trace of the same system.

Keras picks its backend once per process, so the JAX traces are made in one subprocess with
``KERAS_BACKEND=jax`` (our JAX twins in ``fixtures/jax_zoo.py`` and ``ganviz.GAN``'s JAX step),
written as ``ganviz.trace/2`` JSON and read back here, next to the TensorFlow traces of the twins
(``fixtures/gan_zoo.py``, ``ganviz.GAN`` on TensorFlow). The subprocess also checks that no
variable or optimizer iteration changed and that TensorFlow was never imported.
"""

from __future__ import annotations

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

# each twin of fixtures/jax_zoo.py and the gan_zoo system whose TensorFlow trace it must give
TWINS = {
    "dcgan": "dcgan",
    "wgan_gp": "wgan_gp",
    "conditional_gan": "conditional_gan",
    "ema_dcgan": "ema_dcgan",
    "ema_dcgan_trainable": "ema_dcgan",  # the EMA copy left trainable: the same trace as the frozen one on TensorFlow
}
GAN_OPTIONS: dict[str, dict[str, Any]] = {
    "gan_default": {},  # bce with R1 and the EMA generator, simultaneous updates
    "gan_wgan_gp": {"loss": "wgan-gp"},
    "gan_ema_alternating": {"ema": 0.999, "r1_weight": 0.0},
}

_JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax"
    import ganviz
    from ganviz.train.gan import gan_class
    from fixtures import jax_zoo, zoo

    def state(obj, opts):
        values = [np.array(v.numpy()) for v in obj.variables]
        for o in opts:
            values += [np.array(v.numpy()) for v in o.variables]
        return values

    out = {}
    systems = {name: build() for name, build in jax_zoo.JAX_ZOO.items()}
    for name, kw in json.loads(sys.argv[1]).items():
        gan = gan_class()(zoo.build_generator(8), zoo.build_discriminator(), latent_dim=8, **kw)
        gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(2e-4))
        gan.build_optimizers()
        systems[name] = (gan, np.zeros((8, 28, 28, 1), "float32"))
    for name, (gan, data) in systems.items():
        opts = [gan.d_optimizer, gan.g_optimizer]
        before = state(gan, opts)
        iterations = [int(o.iterations.numpy()) for o in opts]
        trace = ganviz.trace_gan(gan, data=data)
        after = state(gan, opts)
        same = len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
        out[name] = {
            "trace": trace.to_json(),
            "unchanged": same and iterations == [int(o.iterations.numpy()) for o in opts],
            "variables": len(before),
        }
    gan, data = systems["dcgan"]
    drawn = ganviz.plot_gan(gan, data=data, to_file=sys.argv[2])
    out["svg"] = open(sys.argv[2], encoding="utf-8").read()[:2000]

    # a failed trace leaves no tracer behind: a classic loop (refused in one line) and a step that
    # calls a batch-norm model in training mode, then leaves JAX (float of a traced value)
    import jax
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.BatchNormalization()], name="g")
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

    def leaving_step(real):
        return float(keras.ops.mean(g(real[:, :4], training=True)))

    failures = {}
    for name, step in {"classic": classic_step, "leaving": leaving_step}.items():
        try:
            ganviz.trace_step(step, np.zeros((8, 6), "float32"), models={"generator": g, "discriminator": d, "combined": combined})
            failures[name] = None
        except ganviz.errors.TraceError as exc:
            failures[name] = str(exc)
    every = g.variables + d.variables + combined.optimizer.variables + d.optimizer.variables
    out["failures"] = failures
    out["tracers_left"] = sum(isinstance(v.value, jax.core.Tracer) for v in every)
    classic_step(np.ones((8, 6), "float32"))
    out["iterations_after"] = [int(d.optimizer.iterations.numpy()), int(combined.optimizer.iterations.numpy())]
    out["tensorflow"] = "tensorflow" in sys.modules
    print("JSON" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def jax_traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return backend_traces("jax", _JAX_SCRIPT, GAN_OPTIONS, tmp_path_factory.mktemp("jax") / "dcgan.svg")


def _jax(jax_traces: dict[str, Any], name: str) -> Trace:
    return Trace.from_json(jax_traces[name]["trace"])


@pytest.mark.slow
def test_jax_trace_never_imports_tensorflow_changes_nothing_and_claims_no_verdict(jax_traces: dict[str, Any]) -> None:
    check_untouched_and_unverified(jax_traces, [*TWINS, *GAN_OPTIONS], "jax")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TWINS))
def test_jax_twin_gives_the_tensorflow_trace(jax_traces: dict[str, Any], name: str) -> None:
    check_twin(jax_traces, name, TWINS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GAN_OPTIONS))
def test_ganviz_gan_on_jax_traces_as_on_tensorflow(jax_traces: dict[str, Any], name: str) -> None:
    tf_trace = tf_gan_trace(**GAN_OPTIONS[name])
    jax_trace = _jax(jax_traces, name)
    assert semantic_facts(jax_trace) == semantic_facts(tf_trace)


@pytest.mark.slow
def test_jax_golden_facts_of_the_twins(jax_traces: dict[str, Any]) -> None:
    """The facts themselves, so that a trace wrong on both backends alike still fails."""
    dcgan, wgan = facts(_jax(jax_traces, "dcgan")), facts(_jax(jax_traces, "wgan_gp"))
    assert [(n, [(t[1], t[2]) for t in terms]) for n, terms in dcgan["losses"]] == [
        ("d_loss", [("bce", 1.0)]),
        ("g_loss", [("bce", 1.0)]),
    ]
    assert dcgan["ops"] == [("concat", ["data:real_images", "generated_images"])]
    assert wgan["losses"][0] == (
        "d_loss",
        [("d_cost", "wasserstein", 1.0, ["fake_logits", "real_logits"]), ("gp", "gradient_penalty", 10.0, ["pred"])],
    )
    assert wgan["losses"][1] == ("g_loss", [("wasserstein(gen_img_logits)", "wasserstein", -1.0, ["gen_img_logits"])])
    assert [(p[0], p[1]) for p in wgan["phases"]] == [("update critic", 3), ("update generator", 1)]
    assert wgan["updates"] == [("d_loss", "d_optimizer", "critic", 4, 3), ("g_loss", "g_optimizer", "generator", 6, 1)]
    assert ("interpolate", ["data:real_images", "fake_images", "noise:alpha"]) in wgan["ops"]
    default = semantic_facts(_jax(jax_traces, "gan_default"))
    assert ("generator_ema", "generator", "ema", 0.999, 6) in default["assignments"]
    assert default["losses"] == [("d_loss", [("bce", 1.0), ("gradient_penalty", 0.5)]), ("g_loss", [("bce", 1.0)])]
    assert [p[0] for p in default["phases"]] == ["update discriminator, generator"]


@pytest.mark.slow
def test_a_failed_jax_trace_leaves_no_tracer_and_training_goes_on(jax_traces: dict[str, Any]) -> None:
    """Tracing never changes what training does, on JAX too: a classic train_on_batch loop is refused in
    one line naming ``compiled=``, a step that leaves JAX fails cleanly, and afterwards every variable holds
    an array again and both optimizers advance."""
    classic, leaving = jax_traces["failures"]["classic"], jax_traces["failures"]["leaving"]
    assert classic is not None and "g.predict() inside the step" in classic and "compiled=" in classic
    assert "\n" not in classic
    assert leaving is not None and "cannot trace" in leaving
    assert jax_traces["tracers_left"] == 0
    assert jax_traces["iterations_after"] == [1, 1]


@pytest.mark.slow
def test_jax_golden_facts_of_the_conditional_and_ema_twins(jax_traces: dict[str, Any]) -> None:
    """The conditional GAN's labels reach both models; the EMA copy follows the generator after both updates."""
    cond = facts(_jax(jax_traces, "conditional_gan"))
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
        ema = facts(_jax(jax_traces, name))
        assert ema["assignments"] == [("ema_generator", "generator", "ema", 0.999, 6)], name
        assert ema["models"] == ["discriminator", "ema_generator", "generator"], name
        assert ema["updates"] == [
            ("d_loss", "d_optimizer", "discriminator", 4, 1),
            ("g_loss", "g_optimizer", "generator", 6, 1),
        ], name
        assert [p[0] for p in ema["phases"]] == ["update discriminator", "update generator"], name
        assert all(c[0] != "ema_generator" for c in ema["calls"]), name  # moved, never called
