"""The only way user text reaches DOT, HTML or Mermaid: explicit, typed escaping functions.

Every function accepts any Python ``str`` (quotes, ``<>&{}|``, backslashes, newlines, emoji,
control characters, lone surrogates) and returns text that is valid where its name says it goes.
The return types are ``NewType`` wrappers so that mypy can tell escaped text from raw text.

Text is first made *displayable* by :func:`clean_text`: characters that XML cannot carry or that
would be invisible or misleading (control characters, lone surrogates, bidirectional overrides,
non-characters) become visible Python-style escapes such as ``\\x01``; tabs become spaces and
every line break becomes ``\\n``.
"""

from __future__ import annotations

import re
from typing import NewType

__all__ = [
    "DotString",
    "DotHtml",
    "HtmlText",
    "MermaidText",
    "SafeId",
    "clean_text",
    "dot_string",
    "dot_html",
    "dot_html_join",
    "html_text",
    "html_attr",
    "markup_text",
    "markup_attr",
    "mermaid_text",
    "safe_id",
    "matplotlib_text",
]

DotString = NewType("DotString", str)
"""A complete DOT double-quoted string, quotes included (an ID or an attribute value)."""
DotHtml = NewType("DotHtml", str)
"""Text that is safe inside a DOT HTML-like label ``<...>`` (markup produced by ganviz only)."""
HtmlText = NewType("HtmlText", str)
"""Text escaped for HTML element content or a double- or single-quoted HTML attribute value."""
MermaidText = NewType("MermaidText", str)
"""Text safe inside a Mermaid double-quoted label ``"..."`` (node, subgraph or edge)."""
SafeId = NewType("SafeId", str)
"""An identifier matching ``[A-Za-z][A-Za-z0-9_]*``, usable as a Mermaid or HTML id."""

# Bidirectional embedding/override/isolate controls: shown escaped so text cannot be reordered.
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C))
_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _visible(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _needs_escape(ch: str) -> bool:
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:  # C0 and C1 controls, DEL
        return True
    if 0xD800 <= code <= 0xDFFF:  # lone surrogates (cannot be encoded as UTF-8)
        return True
    if (code & 0xFFFE) == 0xFFFE or 0xFDD0 <= code <= 0xFDEF:  # non-characters (U+FFFE, U+FFFF ...)
        return True
    return ch in _BIDI


def clean_text(text: str) -> str:
    """Make any string displayable: visible escapes for invisible or invalid characters.

    Line breaks of every kind become ``\\n``; tabs become a space.

    >>> clean_text("a\\tb\\r\\nc\\x00d\\ud800")
    'a b\\nc\\\\x00d\\\\ud800'
    >>> clean_text("emoji 😀 ok")
    'emoji 😀 ok'
    """
    text = _LINE_BREAKS.sub("\n", str(text)).replace("\t", " ")
    if text.isascii() and text.isprintable():
        return text
    return "".join(_visible(ch) if ch != "\n" and _needs_escape(ch) else ch for ch in text)


def dot_string(text: str) -> DotString:
    """Quote ``text`` as a DOT string: an ID, a plain label or any attribute value.

    Backslashes are doubled (so ``\\N``, ``\\l`` are never interpreted), quotes escaped, ``&``
    written as ``&amp;`` (Graphviz decodes entities in labels and ids) and a line break
    becomes Graphviz's centred line break ``\\n``.

    >>> print(dot_string('a"b\\\\c & d\\ne'))
    "a\\"b\\\\c &amp; d\\ne"
    """
    out = clean_text(text).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;").replace("\n", "\\n")
    return DotString(f'"{out}"')


def _xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def dot_html(text: str, *, br: str = '<BR ALIGN="CENTER"/>') -> DotHtml:
    """Escape ``text`` for a DOT HTML-like label; a line break becomes ``br``.

    >>> dot_html('a<b> & "c"\\nd', br="<BR/>")
    'a&lt;b&gt; &amp; &quot;c&quot;<BR/>d'
    """
    return DotHtml(_xml_escape(clean_text(text)).replace("\n", br))


def dot_html_join(parts: list[DotHtml], sep: str = "") -> DotHtml:
    """Join already-escaped HTML-like label fragments (``sep`` is ganviz's own markup)."""
    return DotHtml(sep.join(parts))


def html_text(text: str) -> HtmlText:
    """Escape ``text`` for HTML element content (line breaks are kept as ``\\n``).

    >>> html_text("<script>alert('x') & \\"y\\"</script>")
    '&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;'
    """
    return HtmlText(_xml_escape(clean_text(text)))


def html_attr(text: str) -> HtmlText:
    """Escape ``text`` for a quoted HTML attribute value (line breaks become ``&#10;``).

    >>> html_attr('a"b\\nc')
    'a&quot;b&#10;c'
    """
    return HtmlText(_xml_escape(clean_text(text)).replace("\n", "&#10;"))


def markup_text(text: str) -> HtmlText:
    """Escape markup that ganviz re-serializes as it is (sanitized SVG, a whole page for ``srcdoc``): no cleaning.

    >>> markup_text("a < b & c")
    'a &lt; b &amp; c'
    """
    return HtmlText(_xml_escape(text))


def markup_attr(text: str) -> HtmlText:
    """:func:`markup_text` for a double-quoted attribute value: line breaks and tabs become character references.

    >>> markup_attr('x="1"\\n')
    'x=&quot;1&quot;&#10;'
    """
    return HtmlText(_xml_escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


_MERMAID_CODES = {'"': "#34;", "#": "#35;", "&": "#38;", "<": "#60;", ">": "#62;", "`": "#96;", "|": "#124;"}
_MERMAID_RE = re.compile('["#&<>`|]')


def mermaid_text(text: str) -> MermaidText:
    """Escape ``text`` for a Mermaid double-quoted label; a line break becomes ``<br>``.

    Mermaid's own entity codes (``#34;``) are used for the characters that could end the
    label or be read as markup.

    >>> mermaid_text('a"b<c>&{d}|e\\n#1')
    'a#34;b#60;c#62;#38;{d}#124;e<br>#35;1'
    """
    out = _MERMAID_RE.sub(lambda m: _MERMAID_CODES[m.group(0)], clean_text(text))
    return MermaidText(out.replace("\n", "<br>"))


_PLAIN_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
_RESERVED_IDS = frozenset(
    w.lower()
    for w in (
        "end graph flowchart subgraph style classDef class click linkStyle direction default call href "
        "interpolate TB TD BT RL LR"
    ).split()
)


def safe_id(text: str) -> SafeId:
    """A deterministic, injective identifier for ``text`` matching ``[A-Za-z][A-Za-z0-9_]*``.

    Simple ids (letters, digits, single inner underscores) are kept; anything else, and
    Mermaid keywords such as ``end``, become ``id__`` followed by the UTF-8 hex of the text.

    >>> safe_id("n0"), safe_id("call_1"), safe_id("end"), safe_id("a b")
    ('n0', 'call_1', 'id__656e64', 'id__612062')
    """
    if _PLAIN_ID.fullmatch(text) and text.lower() not in _RESERVED_IDS:
        return SafeId(text)
    return SafeId("id__" + text.encode("utf-8", "surrogatepass").hex())


def matplotlib_text(text: str) -> str:
    """Text that matplotlib draws as written: a ``$`` never starts math (a metric named ``loss$a$`` draws as is).

    >>> print(matplotlib_text("g$loss$"))
    g\\$loss\\$
    """
    return clean_text(text).replace("$", "\\$")
