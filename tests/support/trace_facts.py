"""What a reader takes from a trace's picture, by name rather than by id: the facts two backends' traces must share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ganviz.ir import Trace

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

__all__ = ["facts", "semantic_facts", "backend_traces", "tf_gan_trace", "check_untouched_and_unverified", "check_twin"]


def _labels(t: Trace) -> dict[str, str]:
    label = {s.id: f"{s.kind}:{s.name}" for s in t.sources}
    label.update({c.id: c.output or c.model for c in t.calls})
    label.update({o.id: o.kind for o in t.ops})
    return label


def facts(t: Trace) -> dict[str, Any]:
    """Everything a reader takes from the picture, by name rather than by id."""
    label = _labels(t)

    def names(ids: tuple[str, ...]) -> list[str]:
        return sorted(label.get(i, i) for i in ids)

    loss_name = {x.id: x.name for x in t.losses}
    return {
        "models": sorted(m.name for m in t.models),
        "sources": sorted((s.kind, s.name, str(s.shape)) for s in t.sources),
        "calls": [(c.model, names(c.inputs), c.output, c.phase, c.in_tape) for c in t.calls],
        "ops": [(o.kind, names(o.inputs)) for o in t.ops],
        "losses": [(x.name, [(u.name, u.kind, u.weight, names(u.inputs)) for u in x.terms]) for x in t.losses],
        "updates": sorted((loss_name[u.loss], u.optimizer, u.model, u.variables, u.times) for u in t.updates),
        "phases": [
            (p.name, p.repeat, list(p.updates), list(p.frozen), [loss_name[i] for i in p.losses]) for p in t.phases
        ],
        "assignments": [(a.target, a.source, a.kind, a.decay, a.variables) for a in t.assignments],
        "optimizers": [(o.name, o.class_name, o.learning_rate) for o in t.optimizers],
    }


def semantic_facts(t: Trace) -> dict[str, Any]:
    """What two different implementations of one recipe must agree on: models, each loss's terms by
    kind, weight and sign, who updates whom how often, phases and assignments (local names aside)."""
    loss_name = {x.id: x.name for x in t.losses}
    return {
        "models": sorted(m.name for m in t.models),
        "losses": [(x.name, sorted((u.kind, u.weight) for u in x.terms)) for x in t.losses],
        "updates": sorted((loss_name[u.loss], u.optimizer, u.model, u.variables, u.times) for u in t.updates),
        "phases": [(p.name, p.repeat, list(p.updates), [loss_name[i] for i in p.losses]) for p in t.phases],
        "assignments": sorted((a.target, a.source, a.kind, a.decay, a.variables) for a in t.assignments),
        "optimizers": [(o.name, o.class_name, o.learning_rate) for o in t.optimizers],
        "sources": sorted({s.kind for s in t.sources}),
    }


def backend_traces(backend: str, script: str, options: dict[str, Any], svg: Path) -> dict[str, Any]:
    """Run ``script`` in a subprocess on ``backend`` (``argv``: the GAN options as JSON, the SVG path) and read
    the ``JSON``-prefixed line it prints last: one entry per traced system plus what the script checked."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(TESTS)])
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(options), str(svg)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("JSON")]
    assert proc.returncode == 0 and lines, (proc.stdout + proc.stderr)[-4000:]
    out: dict[str, Any] = json.loads(lines[-1][4:])
    return out


def tf_gan_trace(**kw: Any) -> Trace:
    """``ganviz.GAN`` on the zoo's models with these options, traced on TensorFlow (the twin of the other backends' runs)."""
    import keras

    from fixtures import zoo
    from ganviz import trace_gan
    from ganviz.train.gan import gan_class

    gan = gan_class()(zoo.build_generator(8), zoo.build_discriminator(), latent_dim=8, **kw)
    gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(2e-4))
    return trace_gan(gan, data=np.zeros((8, 28, 28, 1), "float32"))


def check_untouched_and_unverified(traces: dict[str, Any], names: list[str], backend: str) -> None:
    """No TensorFlow loaded, no weight or iteration changed, each trace ``ganviz.trace/2`` of ``backend``
    with no verdict (tracing alone never claims one), and an SVG drawn."""
    assert traces["tensorflow"] is False
    for name in names:
        assert traces[name]["variables"] > 10, name
        assert traces[name]["unchanged"] is True, f"{name}: a weight, gradient or optimizer iteration changed"
        d = json.loads(traces[name]["trace"])
        assert d["format"] == "ganviz.trace/2", name
        assert d.get("verified") is None, name
        assert d["details"]["backend"] == backend
    assert "<svg" in traces["svg"]


def check_twin(traces: dict[str, Any], name: str, tf_name: str | None = None) -> None:
    """The backend's twin ``name`` of ``gan_zoo``'s system ``tf_name`` (``name`` unless given) gives its TensorFlow
    trace, fact for fact."""
    from fixtures import gan_zoo
    from ganviz import trace_gan

    entry = getattr(gan_zoo, tf_name or name)()
    assert facts(Trace.from_json(traces[name]["trace"])) == facts(trace_gan(entry.system, data=entry.data))


def failed_facts(result: dict[str, Any]) -> set[tuple[str, str]]:
    """``(kind, subject)`` of each fact a verification (as the backend scripts report it) found false."""
    return {(k, s) for k, s in result["failed"]}


def check_verified_numbers(verified: dict[str, Any]) -> None:
    """The facts that carry numbers, as a backend script measured them on the real step of the twins
    and ``ganviz.GAN``: ×3 critic updates, gp weight 10, the generator's -1, the EMA's decay, the
    recipe's R1 weight and its warming-up EMA."""
    wgan = verified["wgan_gp"]["observed"]
    assert wgan["update|d_optimizer -> critic"] == "4 variables with gradients, ×3"
    assert wgan["iterations|d_optimizer"] == "iterations +3"
    assert wgan["term|gp of d_loss"].endswith("= 10")
    assert wgan["term|wasserstein(gen_img_logits) of g_loss"].endswith("= -1")
    assert wgan["sign|wasserstein(gen_img_logits) of g_loss"].startswith("the term rises with gen_img_logits")
    assert wgan["phases|order of updates"] == "d_optimizer -> critic ×3; g_optimizer -> generator"
    ema = verified["ema_dcgan"]["observed"]["assignment|ema_generator"]
    assert "implied decay 0.999" in ema and "warms up" not in ema
    assert verified["ema_dcgan_trainable"]["observed"]["assignment|ema_generator"] == ema
    default = verified["gan_default"]["observed"]
    assert default["term|r1 of d_loss"].endswith("= 0.5")
    assert "at most 0.999 while it warms up" in default["assignment|generator_ema"]
    assert default["phases|order of updates"] == "d_optimizer -> discriminator + g_optimizer -> generator"


def check_broken_verifications(broken: dict[str, Any]) -> None:
    """Each trace broken on purpose (the backend scripts' ``broken``) fails on the facts it broke, and only
    those where the fact is one; checking changed nothing."""
    failed = {name: failed_facts(r) for name, r in broken.items()}
    assert {("loss", "g_loss"), ("term", "wasserstein(gen_img_logits) of g_loss")} <= failed["flipped_sign"]
    assert any(
        "term wasserstein(gen_img_logits) of g_loss does not hold" in w for w in broken["flipped_sign"]["warned"]
    )
    assert failed["gp_weight"] == {("loss", "d_loss"), ("term", "gp of d_loss")}
    assert {
        ("update", "g_optimizer -> generator"),
        ("iterations", "g_optimizer"),
        ("explained", "changed weights"),
    } <= failed["dropped_update"]
    assert {("phases", "order of updates"), ("update", "d_optimizer -> critic")} <= failed["repeat"]
    assert failed["frozen"] == {("frozen", "critic")}
    assert ("feeds", "d_loss") in failed["dropped_input"]
    assert failed["dropped_assignment"] == {("assignment", "ema_generator")}
    # a trainable copy's weights changed with no update or assignment drawn: "explained" fails too
    assert failed["dropped_trainable_assignment"] == {("assignment", "ema_generator"), ("explained", "changed weights")}
    assert failed["wrong_decay"] == {("assignment", "ema_generator")}
    assert all(r["unchanged"] for r in broken.values())
