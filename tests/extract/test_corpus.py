"""Systems written from published patterns: golden facts of each picture, and verify_trace on each."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_step_trace import _same_state, _state  # noqa: E402

from fixtures import trace_corpus as corpus  # noqa: E402
from ganviz import verify_trace  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402


@pytest.fixture(scope="module")
def checked() -> dict[str, tuple[Trace, list[str], bool]]:
    out = {}
    for name, build in corpus.CORPUS.items():
        entry = build()
        before = _state(entry)
        args = (entry.data,) if entry.kind == "gan" else entry.data
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = verify_trace(entry.system, *args)
        out[name] = (trace, [str(w.message) for w in caught], _same_state(before, _state(entry)))
    return out


@pytest.mark.parametrize("name", list(corpus.CORPUS))
def test_verified(checked: Any, name: str) -> None:
    trace, warned, unchanged = checked[name]
    assert trace.verified is not None and trace.verified.holds, warned
    assert unchanged


@pytest.mark.parametrize("name", list(corpus.CORPUS))
def test_golden_facts(checked: Any, name: str) -> None:
    trace = checked[name][0]
    golden = corpus.GOLDEN[name]
    label = {c.id: c.output or c.model for c in trace.calls}
    got = [
        (
            loss.name,
            [(t.name, t.kind, t.weight, [label[i] for i in t.inputs if i in label]) for t in loss.terms],
        )
        for loss in trace.losses
    ]
    assert got == [(n, [(a, b, c, list(d)) for a, b, c, d in terms]) for n, terms in golden["losses"]]
    assert trace.updates_by_model() == golden["updates"]
    if "assignments" in golden:
        assert [(a.target, a.source, a.kind, a.decay) for a in trace.assignments] == golden["assignments"]
    if "times" in golden:
        assert {u.model: u.times for u in trace.updates} == golden["times"]
    assert [m.name for m in trace.models if not m.trainable] == golden["frozen"]
    assert {p.name: list(p.frozen) for p in trace.phases if p.frozen} == golden.get("frozen_in", {})
    _check_wiring(trace, golden)


def _check_wiring(trace: Trace, golden: dict[str, Any]) -> None:
    """The optional facts: distinct sources, what feeds each call (edge labels), tuple outputs, terms reading elements, phases, rates."""
    from ganviz.ir.trace_calls import input_label

    names = {s.id: s.name for s in trace.sources} | {o.id: o.output or o.kind for o in trace.ops}
    names |= {c.id: c.output or c.model for c in trace.calls}
    if "sources" in golden:
        assert list(dict.fromkeys((s.kind, s.name, s.shape) for s in trace.sources)) == golden["sources"]
    for output, feeds in golden.get("feeds", {}).items():
        call = next(c for c in trace.calls if c.output == output)
        assert [(names[r], input_label(call, r)) for r in call.inputs] == feeds, output
    for output, elements in golden.get("outputs", {}).items():
        assert next(c for c in trace.calls if c.output == output).outputs == elements
    if "reads" in golden:  # (loss, term, call, elements) of each term reading part of a tuple output
        reads = [
            (loss.name, t.name, names[ref], elements)
            for loss in trace.losses
            for t in loss.terms
            for ref, elements in t.input_elements.items()
        ]
        assert reads == golden["reads"]
    if "phases" in golden:  # (name, repeat, updates in the order applied) of each phase
        assert [(p.name, p.repeat, list(p.updates)) for p in trace.phases] == golden["phases"]
    if "optimizers" in golden:
        assert {o.name: (o.class_name, o.learning_rate) for o in trace.optimizers} == golden["optimizers"]


def test_label_signs_fold_and_leave_no_stray_constants(checked: Any) -> None:
    """``mean(-labels * scores)`` with labels ±1: the sign is the weight, the labels are no source."""
    trace = checked["signed_critic"][0]
    assert not [s for s in trace.sources if s.kind == "constant"]
    signs = {f.subject: f.holds for f in trace.verified.facts if f.kind == "sign"}
    assert signs == {
        "real_term of critic_loss": True,
        "fake_term of critic_loss": True,
        "wasserstein(scores) of gen_loss": True,
    }


def test_same_name_losses_stay_two_in_the_merged_view(checked: Any) -> None:
    trace = checked["vae_gan"][0]
    assert [x.name for x in trace.losses] == ["total_loss", "total_loss"]
    for graph in (trace_to_graph(trace, calls="merged"), trace_to_graph(trace, expand_nested=True)):
        losses = [n for n in graph.nodes if n.kind == "loss"]
        assert sorted(n.name for n in losses) == [
            "total_loss (update discriminator)",
            "total_loss (update encoder, decoder)",
        ]
        grads = {(e.source, e.target) for e in graph.edges if e.kind == "gradient"}
        assert len({src for src, _ in grads}) == 2  # each loss trains its own models


def test_model_unfrozen_for_its_own_step_is_drawn_trainable(checked: Any) -> None:
    trace = checked["toggled_gan"][0]
    d = trace.model("discriminator")
    assert d.trainable and d.trainable_params == d.params == 105


def test_same_name_losses_are_two_subjects_of_the_verdict(checked: Any) -> None:
    subjects = [f.subject for f in checked["vae_gan"][0].verified.facts if f.kind == "loss"]
    assert subjects == ["total_loss (update discriminator)", "total_loss (update encoder, decoder)"]
