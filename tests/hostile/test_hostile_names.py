"""#24.12, #24.13: a right-to-left override in a name is shown escaped in the page's details and search results;
a ``$`` in a metric name is text, not matplotlib math (``curves.png`` is drawn)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ganviz.render.html import asset

RLO = "abc\u202eexe.txt"


def _page_js() -> str:
    return asset("page.js")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_the_pages_text_function_shows_bidi_controls_escaped() -> None:
    js = _page_js()
    start = js.index("  var INVISIBLE")
    end = js.index("  function el(")
    script = (
        js[start:end] + f"process.stdout.write(JSON.stringify([vis({json.dumps(RLO)}), vis('a\\u2066b\\u0007c')]));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(out) == ["abc\\u202eexe.txt", "a\\u2066b\\x07c"]


def test_every_text_the_page_sets_goes_through_vis() -> None:
    """The details panel, tooltips and search results set text only through el() or vis()."""
    js = _page_js()
    sets = re.findall(r"\.textContent = (.+?);\s*$", js, re.M)
    assert sets, "no textContent assignment found: the check would be vacuous"
    for value in sets:
        literal = re.fullmatch(r'"[^"]*"|hits\.length === 1 \? "1 match" : hits\.length \+ " matches"', value)
        assert literal or value.startswith("vis("), value


def test_a_dollar_in_a_metric_name_does_not_stop_the_curves(tmp_path: Path) -> None:
    from ganviz.train.outputs.curves import plot_curves

    records = [{"step": i, "g_loss": 1.0 / i, "d_loss": 0.5, "loss$x^{$": 0.3, "a$b$c": 0.2} for i in range(1, 30)]
    out = tmp_path / "curves.png"
    plot_curves(records, out, notes=["a note with $x$ and $ alone"])
    assert out.read_bytes().startswith(b"\x89PNG")
