"""Escaping: any Unicode string gives valid DOT strings, HTML-like labels, HTML and Mermaid text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganviz.render.quoting import (
    clean_text,
    dot_html,
    dot_string,
    html_attr,
    html_text,
    mermaid_text,
    safe_id,
)

NASTY = '"<>&{}|\\\n\r\t\x00\x01\x1b\x7f\x85\u2028\u202e\u200d😀👩‍💻\ufffe\uffff漢é#;`[]()%%'
# Any text, including lone surrogates and the characters every format treats specially.
any_text = st.lists(
    st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr), st.sampled_from(list(NASTY))),
    max_size=40,
).map("".join)

_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


@given(any_text)
def test_clean_text_is_xml_safe_utf8(text: str) -> None:
    out = clean_text(text)
    out.encode("utf-8")  # no lone surrogates left
    assert _XML_CHAR.fullmatch(out)
    assert "\r" not in out and "\t" not in out
    assert clean_text(out) == out  # idempotent


def test_clean_text_makes_invisible_characters_visible() -> None:
    assert clean_text("a\x00b\x1bc\u202ed\ud800") == "a\\x00b\\x1bc\\u202ed\\ud800"
    assert clean_text("x\r\ny\rz\u2028w") == "x\ny\nz\nw"
    assert clean_text("👩‍💻 漢字 é") == "👩‍💻 漢字 é"  # emoji sequences (ZWJ) survive


def _unquote_dot(quoted: str) -> str:
    assert quoted.startswith('"') and quoted.endswith('"') and len(quoted) >= 2
    body = quoted[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        assert ch != '"', f"unescaped quote in {quoted!r}"
        if ch == "\\":
            assert i + 1 < len(body), f"dangling backslash in {quoted!r}"
            nxt = body[i + 1]
            assert nxt in '\\"n', f"unexpected escape \\{nxt} in {quoted!r}"
            out.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@given(any_text)
def test_dot_string_round_trips(text: str) -> None:
    quoted = dot_string(text)
    assert "\n" not in quoted and "\r" not in quoted
    decoded = _unquote_dot(quoted)
    assert decoded.replace("&amp;", "&") == clean_text(text)
    assert re.search(r"&(?!amp;)", decoded) is None  # every & is written as an entity


@given(any_text)
def test_dot_html_is_well_formed_markup_with_the_same_text(text: str) -> None:
    out = dot_html(text, br="<BR/>")
    root = ET.fromstring(f"<x>{out}</x>")
    parts = [root.text or ""] + [child.tail or "" for child in root]
    assert all(child.tag == "BR" for child in root)
    assert "\n".join(parts) == clean_text(text)


@given(any_text)
def test_html_text_and_attr_parse_back(text: str) -> None:
    assert (ET.fromstring(f"<p>{html_text(text)}</p>").text or "") == clean_text(text)
    el = ET.fromstring(f"<p a=\"{html_attr(text)}\" b='{html_attr(text)}'/>")
    assert el.get("a") == clean_text(text) == el.get("b")


def _decode_mermaid(text: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text.replace("<br>", "\n"))


@given(any_text)
def test_mermaid_text_cannot_break_out_of_a_label(text: str) -> None:
    out = mermaid_text(text)
    assert not re.search(r'["`|\n\r]', out)
    assert not re.search(r"<(?!br>)|(?<!<br)>", out)
    assert _decode_mermaid(out) == clean_text(text)


@given(any_text)
def test_safe_id_shape(text: str) -> None:
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", safe_id(text))


@settings(max_examples=200)
@given(any_text, any_text)
def test_safe_id_is_injective(a: str, b: str) -> None:
    if a != b:
        assert safe_id(a) != safe_id(b)


@pytest.mark.parametrize("plain", ["n0", "c12", "call_1", "generator", "Dense_2"])
def test_safe_id_keeps_plain_ids(plain: str) -> None:
    assert safe_id(plain) == plain


@pytest.mark.parametrize("word", ["end", "End", "subgraph", "style", "class", "graph", "_x", "a__b", "1a", ""])
def test_safe_id_encodes_keywords_and_odd_ids(word: str) -> None:
    assert safe_id(word).startswith("id__")
