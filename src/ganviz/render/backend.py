"""The only place ganviz runs a subprocess: DOT -> SVG/PNG/PDF with system `dot` or graphviz-pure.

Engines are tried in order: a working system Graphviz ``dot``, then the pip-installed
``graphviz-pure`` (next to ``sys.executable`` or on ``PATH``). An engine that fails on a given
graph (a crash, a timeout, a malformed result) hands over to the next one. graphviz-pure cannot
write PDF, so a PDF is made from its PNG with Pillow: one page exactly the diagram's size.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import RenderBackendError, UnknownFormatError
from .options import check_dpi

__all__ = ["FORMATS", "ENGINES", "MAX_PIXELS", "available_engines", "engine_path", "render_dot"]

FORMATS = ("pdf", "png", "svg")
ENGINES = ("dot", "graphviz-pure")
PDF_DEFAULT_DPI = 150
MAX_PIXELS = 32000  # longest side of a PNG (and of a PDF's image); bigger diagrams are scaled down
_DOT_REMEDY = "install Graphviz's `dot` (https://graphviz.org/download/, e.g. `apt install graphviz`)"
_REMEDY = f"install the pure-Python-installable port with `pip install graphviz-pure`, or {_DOT_REMEDY}"
_PROBE_TIMEOUT = 15.0
_probe_cache: dict[tuple[str, float], bool] = {}


@dataclass(frozen=True)
class _Failure:
    engine: str
    reason: str


def _candidates(engine: str) -> list[Path]:
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    found: list[Path] = []
    if engine == "graphviz-pure":
        beside = Path(sys.executable).parent / exe
        if beside.is_file():
            found.append(beside)
    which = shutil.which("dot" if engine == "dot" else "graphviz-pure")
    if which:
        found.append(Path(which))
    return found


def _works(path: Path) -> bool:
    """True when ``path -V`` runs and exits 0 (cached by path and modification time)."""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return False
    if key not in _probe_cache:
        try:
            proc = subprocess.run(
                [str(path), "-V"], capture_output=True, timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL
            )
            _probe_cache[key] = proc.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _probe_cache[key] = False
    return _probe_cache[key]


def engine_path(engine: str) -> Path | None:
    """The executable of ``engine`` (``"dot"`` or ``"graphviz-pure"``) if it runs, else ``None``."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (must be one of {list(ENGINES)})")
    for path in _candidates(engine):
        if _works(path):
            return path
    return None


def available_engines() -> list[str]:
    """Names of the engines that work here, in the order they are tried.

    ``"dot"`` (a system Graphviz that answers ``dot -V``) comes first, then ``"graphviz-pure"``.
    """
    return [e for e in ENGINES if engine_path(e) is not None]


def _with_graph_attr(dot: str, attr: str) -> str:
    """Append ``graph [attr]`` to the root graph, so it wins over the file's own value."""
    end = dot.rstrip().rfind("}")
    if end < 0:
        return dot
    return f"{dot[:end]}graph [{attr}];\n{dot[end:]}"


def _with_dpi(dot: str, dpi: float) -> str:
    return _with_graph_attr(dot, f"dpi={dpi:g}")


def _capped(dot: str, dpi: float | None) -> str:
    """Scale a huge raster down to at most :data:`MAX_PIXELS` a side (as Graphviz's cairo does).

    Adds a ``size`` (in inches) when the DOT has none; Graphviz only ever shrinks to fit it.
    """
    if re.search(r"^\s*graph\s*\[[^\n]*?\bsize\s*=", dot, re.MULTILINE):
        return dot
    inches = MAX_PIXELS / (dpi or _dot_dpi(dot) or 96.0)
    return _with_graph_attr(dot, f'size="{inches:.2f},{inches:.2f}"')


def _dot_dpi(dot: str) -> float | None:
    match = re.search(r"^\s*graph\s*\[[^\n]*?\bdpi\s*=\s*\"?([0-9]+(?:\.[0-9]*)?)", dot, re.MULTILINE)
    return float(match.group(1)) if match else None


def _valid(fmt: str, data: bytes) -> str | None:
    """``None`` when ``data`` looks like a complete file of ``fmt``, else what is wrong."""
    if not data:
        return "empty output"
    if fmt == "svg":
        return None if b"<svg" in data and data.rstrip().endswith(b"</svg>") else "not a complete SVG"
    if fmt == "png":
        return None if data.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in data[-32:] else "not a complete PNG"
    return None if data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:] else "not a complete PDF"


_PREFIT_CHARS = 20_000  # DOT text longer than this may lay out too big for a raster: measure first
MAX_RASTER_PIXELS = 60_000_000  # and keep a raster's area within this


def _fitted_dpi(path: Path, dot: str, dpi: float | None, timeout: float) -> float | None:
    """The dpi at which a big diagram's raster fits :data:`MAX_PIXELS` and :data:`MAX_RASTER_PIXELS`.

    Rasterising a 1,000-layer chain at full size and then shrinking it costs seconds; laying it
    out once as SVG (cheap) tells its size, so the raster can be drawn at the right dpi directly.
    """
    want = dpi or _dot_dpi(dot) or 96.0
    if len(dot) < _PREFIT_CHARS:
        return dpi
    svg = _run(path, dot, "svg", 72.0, timeout)
    match = re.search(rb'<svg[^>]*?\swidth="([0-9.]+)pt"[^>]*?\sheight="([0-9.]+)pt"', svg[:4096])
    if not match:
        return dpi
    w_px, h_px = (float(v) / 72.0 * want for v in match.groups())
    scale = min(1.0, MAX_PIXELS / max(w_px, h_px, 1.0), (MAX_RASTER_PIXELS / max(w_px * h_px, 1.0)) ** 0.5)
    return dpi if scale >= 1.0 else max(1.0, want * scale * 0.995)


def _run(path: Path, dot: str, fmt: str, dpi: float | None, timeout: float) -> bytes:
    if fmt == "png":
        dpi = _fitted_dpi(path, dot, dpi, timeout)
    args = [str(path), f"-T{fmt}"]
    if dpi is not None:
        args.append(f"-Gdpi={dpi:g}")
        dot = _with_dpi(dot, dpi)
    if fmt != "svg":
        dot = _capped(dot, dpi)
    try:
        proc = subprocess.run(args, input=dot.encode("utf-8", "replace"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout:g} s") from None
    except OSError as exc:
        raise RuntimeError(f"could not run: {exc}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = " / ".join(line.strip() for line in err[-3:]) or "no message"
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise RuntimeError(f"{how}: {detail}")
    problem = _valid(fmt, proc.stdout)
    if problem:
        raise RuntimeError(problem)
    return proc.stdout


def _png_to_pdf(png: bytes, dpi: float) -> bytes:
    from PIL import Image  # Pillow is a dependency of ganviz; imported only when a PDF is asked for

    with Image.open(io.BytesIO(png)) as im:
        im.load()
        page = Image.new("RGB", im.size, "white")
        page.paste(im, mask=im.getchannel("A") if im.mode in ("RGBA", "LA") else None)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=float(dpi), creator="ganviz", producer="ganviz")
    return out.getvalue()


def _render_with(engine: str, path: Path, dot: str, fmt: str, dpi: float | None, timeout: float) -> bytes:
    if fmt != "pdf":
        return _run(path, dot, fmt, dpi, timeout)
    pdf_dpi = dpi if dpi is not None else (_dot_dpi(dot) or PDF_DEFAULT_DPI)
    if engine == "dot":
        try:
            return _run(path, dot, "pdf", dpi, timeout)
        except RuntimeError:
            pass  # e.g. a Graphviz built without cairo: make the PDF from its PNG instead
    return _png_to_pdf(_run(path, dot, "png", pdf_dpi, timeout), pdf_dpi)


def render_dot(
    dot: str, fmt: str, *, dpi: int | float | None = None, timeout: float = 120, engine: str | None = None
) -> bytes:
    """Lay out and draw DOT text as ``"svg"``, ``"png"`` or ``"pdf"`` bytes.

    Args:
        dot: DOT source (e.g. from :func:`ganviz.render.dot.graph_to_dot`).
        fmt: ``"svg"``, ``"png"`` or ``"pdf"``.
        dpi: resolution of PNG and PDF output (overrides a ``dpi`` in the DOT). SVG is always
            drawn at its natural size in points, whatever ``dpi`` here or in the DOT says.
            A PDF is drawn at ``dpi``, else the DOT's ``dpi``, else 150, and its page is the
            diagram's natural size.
        timeout: seconds each engine may take before the next one is tried.
        engine: ``"dot"`` or ``"graphviz-pure"`` to use only that engine.

    Raises:
        UnknownFormatError: ``fmt`` is not one of :data:`FORMATS`.
        RenderBackendError: no engine is installed, or every engine failed on this DOT.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown render format {fmt!r} (must be one of {list(FORMATS)})")
    check_dpi(dpi)
    # SVG is drawn at its natural size (1 unit = 1 pt) whatever dpi the DOT asks rasters for.
    use_dpi = (72 if _dot_dpi(dot) is not None else None) if fmt == "svg" else dpi
    names = list(ENGINES) if engine is None else [engine]
    found = [(name, engine_path(name)) for name in names]
    usable = [(name, path) for name, path in found if path is not None]
    if not usable:
        wanted = f"the {engine!r} engine" if engine else "a Graphviz engine"
        raise RenderBackendError(f"cannot render {fmt.upper()}: {wanted} was not found or does not run; {_REMEDY}")
    failures: list[_Failure] = []
    for name, path in usable:
        try:
            return _render_with(name, path, dot, fmt, use_dpi, timeout)
        except RuntimeError as exc:
            failures.append(_Failure(name, str(exc)))
    detail = "; ".join(f"{f.engine} failed ({f.reason})" for f in failures)
    missing = [name for name, path in found if path is None]
    hint = ""
    if missing == ["dot"]:  # only then can installing something help: graphviz-pure is here and failed
        hint = f"; Graphviz's own `dot` may succeed: {_DOT_REMEDY}"
    elif missing:
        hint = f"; another engine may succeed: {_REMEDY}"
    raise RenderBackendError(f"cannot render {fmt.upper()}: {detail}{hint}")
