"""Random small training steps: the verifier accepts each trace, and the facts of its construction hold.

Each seed writes a step function's source (random losses, weights and signs, a critic loop of 1-4
repeats, a discriminator frozen or not around the generator's gradient, one or two optimizers, tiny
dense models, and sometimes a drift penalty on both score tensors that the other critic terms read
too), runs it through ``verify_trace`` and checks each term's kind, weight and sign and
each model's repeat count against what the source says. The seeds are fixed: the test is
deterministic.
"""

from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from ganviz import verify_trace  # noqa: E402

SEEDS = list(range(25))
LATENT, FEATURES, BATCH = 3, 4, 4

# kind -> the expression of a term on discriminator scores ``s`` (each a mean over the batch)
TERMS = {
    "bce": "bce(tf.ones_like({s}), {s})",
    "mse": "tf.reduce_mean(tf.square({s} - 1.0))",
    "mae": "tf.reduce_mean(tf.abs({s}))",
    "hinge": "tf.reduce_mean(tf.nn.relu(1.0 - {s}))",
    "wasserstein": "tf.reduce_mean({s})",
}
WEIGHTS = (0.5, 1.0, 2.0, 10.0)
# With a drift penalty, a wasserstein term scales the scores by label ones, so that its core is the
# call's output itself: the tensor the drift term reads as well.
LABELLED_WASSERSTEIN = "tf.reduce_mean(tf.ones_like({s}) * {s})"
DRIFT = "tf.reduce_mean(tf.square(tf.concat([real_scores, fake_scores], axis=0)))"
DRIFT_WEIGHT = 0.1


@dataclass
class Plan:
    """What one seed's step does, and so what its trace must say."""

    repeats: int
    two_optimizers: bool
    toggle: bool
    drift: bool = False  # d_loss also adds DRIFT_WEIGHT * DRIFT
    d_terms: list[tuple[str, str, float]] = field(default_factory=list)  # (kind, scores local, signed weight)
    g_terms: list[tuple[str, str, float]] = field(default_factory=list)


def _terms(rng: random.Random, scores: list[str]) -> list[tuple[str, str, float]]:
    out = []
    for s in rng.sample(scores, rng.randint(1, len(scores))):
        out.append((rng.choice(sorted(TERMS)), s, rng.choice((1.0, -1.0)) * rng.choice(WEIGHTS)))
    return out


def _plan(seed: int) -> Plan:
    rng = random.Random(seed)
    plan = Plan(repeats=rng.randint(1, 4), two_optimizers=rng.random() < 0.6, toggle=rng.random() < 0.5)
    plan.d_terms = _terms(rng, ["real_scores", "fake_scores"])
    if plan.two_optimizers:
        plan.g_terms = _terms(rng, ["judged"])
    plan.drift = rng.random() < 0.4  # drawn last: the other choices of each seed stay as they were
    return plan


def _sum(terms: list[tuple[str, str, float]], prefix: str, indent: str, drift: bool = False) -> tuple[list[str], str]:
    lines, parts = [], []
    for i, (kind, scores, weight) in enumerate(terms):
        name = f"{prefix}{i}"
        form = LABELLED_WASSERSTEIN if drift and kind == "wasserstein" else TERMS[kind]
        lines.append(f"{indent}{name} = {form.format(s=scores)}")
        sign = "-" if weight < 0 else "+"
        parts.append((sign, f"{abs(weight)!r} * {name}"))
    if drift:
        lines.append(f"{indent}drift = {DRIFT}")
        parts.append(("+", f"{DRIFT_WEIGHT!r} * drift"))
    first_sign, first = parts[0]
    expr = ("-" if first_sign == "-" else "") + first
    expr += "".join(f" {sign} {term}" for sign, term in parts[1:])
    return lines, expr


def _source(plan: Plan) -> str:
    body = [
        "def step(real):",
        "    n = tf.shape(real)[0]",
        f"    for _ in range({plan.repeats}):",
        f"        z = tf.random.normal((n, {LATENT}))",
        "        fake = generator(z, training=False)",
    ]
    if plan.toggle:
        body.append("        discriminator.trainable = True")
    d_lines, d_expr = _sum(plan.d_terms, "d_term", "            ", plan.drift)
    body += [
        "        with tf.GradientTape() as tape:",
        "            real_scores = discriminator(real, training=True)",
        "            fake_scores = discriminator(fake, training=True)",
        *d_lines,
        f"            d_loss = {d_expr}",
        "        weights = discriminator.trainable_variables",
        "        d_opt.apply_gradients(zip(tape.gradient(d_loss, weights), weights))",
    ]
    if plan.two_optimizers:
        if plan.toggle:
            body.append("    discriminator.trainable = False")
        g_lines, g_expr = _sum(plan.g_terms, "g_term", "        ")
        body += [
            f"    z = tf.random.normal((n, {LATENT}))",
            "    with tf.GradientTape() as tape:",
            "        judged = discriminator(generator(z, training=True), training=True)",
            *g_lines,
            f"        g_loss = {g_expr}",
            "    weights = generator.trainable_variables",
            "    g_opt.apply_gradients(zip(tape.gradient(g_loss, weights), weights))",
        ]
    return "\n".join(body) + "\n"


def _build(seed: int) -> tuple[Plan, Any, np.ndarray]:
    plan = _plan(seed)
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(FEATURES)], name="generator")
    discriminator = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(1)],
        name="discriminator",
    )
    scope = {
        "tf": tf,
        "generator": generator,
        "discriminator": discriminator,
        "bce": keras.losses.BinaryCrossentropy(from_logits=True),
        "d_opt": keras.optimizers.SGD(0.01),
        "g_opt": keras.optimizers.SGD(0.02),
    }
    exec(compile(_source(plan), f"<property step {seed}>", "exec"), scope)  # noqa: S102 - our own generated code
    data = np.random.default_rng(seed).random((BATCH, FEATURES), dtype=np.float32)
    return plan, scope["step"], data


@pytest.mark.parametrize("seed", SEEDS)
def test_random_step_verifies_with_its_construction_facts(seed: int) -> None:
    plan, step, data = _build(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace = verify_trace(step, data)
    assert trace.verified is not None and trace.verified.holds, [str(w.message) for w in caught]
    label = {c.id: c.output or c.model for c in trace.calls}
    d_want = [(f"d_term{i}", k, w, [s]) for i, (k, s, w) in enumerate(plan.d_terms)]
    if plan.drift:  # it reads both calls through the concatenation, an op of the step
        d_want.append(("drift", "mse", DRIFT_WEIGHT, []))
    want = [("d_loss", d_want)]
    if plan.two_optimizers:
        want.append(("g_loss", [(f"g_term{i}", k, w, [s]) for i, (k, s, w) in enumerate(plan.g_terms)]))
    got = [
        (x.name, [(t.name, t.kind, t.weight, [label[i] for i in t.inputs if i in label]) for t in x.terms])
        for x in trace.losses
    ]
    assert got == want, _source(plan)
    times = {"discriminator": plan.repeats, **({"generator": 1} if plan.two_optimizers else {})}
    assert {u.model: u.times for u in trace.updates} == times
    frozen = {"update generator": ["discriminator"]} if plan.toggle and plan.two_optimizers else {}
    assert {p.name: list(p.frozen) for p in trace.phases if p.frozen} == frozen


def test_the_seeds_cover_every_choice() -> None:
    """The fixed seeds exercise each loss kind, both signs, every repeat count, and both flags."""
    plans = [_plan(s) for s in SEEDS]
    terms = [t for p in plans for t in p.d_terms + p.g_terms]
    assert {k for k, _, _ in terms} == set(TERMS)
    assert {w < 0 for _, _, w in terms} == {True, False}
    assert {p.repeats for p in plans} == {1, 2, 3, 4}
    assert {p.two_optimizers for p in plans} == {True, False}
    assert {p.toggle for p in plans if p.two_optimizers} == {True, False}
    assert any(p.drift and any(k == "wasserstein" for k, _, _ in p.d_terms) for p in plans)
