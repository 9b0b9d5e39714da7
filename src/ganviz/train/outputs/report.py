"""``write_report``: one self-contained ``report.html`` for a training run (images as data URIs)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from ..._io import write_atomic
from ...render.html import asset
from ...render.quoting import html_attr, html_text
from ..run.folder import RunFolder

__all__ = ["write_report", "render_diagrams"]

_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _img(path: Path, caption: str, *, css: str = "") -> str:
    cls = f' class="{html_attr(css)}"' if css else ""
    return (
        f'<figure{cls}><img src="{_data_uri(path)}" alt="{html_attr(caption)}">'
        f"<figcaption>{html_text(caption)}</figcaption></figure>"
    )


def render_diagrams(run_dir: str | os.PathLike[str], gan: Any) -> dict[str, str]:
    """Draw the GAN's models and its traced system into ``run_dir/diagrams/`` (``system.svg`` ...).

    The system is drawn from the traced step unless the Monitor already drew it. Each drawing
    that fails is skipped; returns ``{name: error message}`` for those.
    """
    from .system import draw_system

    run = Path(run_dir)
    folder = RunFolder(run).diagrams
    folder.mkdir(parents=True, exist_ok=True)
    errors: dict[str, str] = {}
    if not (folder / "system.svg").exists():
        outcome = draw_system(run, model=gan, generator=getattr(gan, "generator", None),
                              discriminator=getattr(gan, "discriminator", None))  # fmt: skip
        if outcome["error"]:
            errors["system"] = outcome["error"]
    try:
        from ... import api
    except Exception as exc:  # noqa: BLE001 - the report must not depend on the drawing code
        return {"diagrams": f"{type(exc).__name__}: {exc}"}
    for name in ("generator", "discriminator"):
        model = getattr(gan, name, None)
        if model is None:
            continue
        try:
            api.plot_model(model, to_file=str(folder / f"{name}.svg"), show_shapes=True)
        except Exception as exc:  # noqa: BLE001
            errors[name] = f"{type(exc).__name__}: {exc}"
            (folder / f"{name}.svg").unlink(missing_ok=True)
    write_atomic(folder / "errors.json", json.dumps(errors))
    return errors


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _optimizers(run: Path) -> str:
    """The optimizers the traced step really uses, with what each updates."""
    trace = _read_json(run / "diagrams" / "trace.json")
    if not isinstance(trace, dict):
        return "<p class='note'>Optimizers unknown: the training step was not traced (see the diagram note).</p>"
    updates: dict[str, list[str]] = {}
    for u in trace.get("updates", []):
        updates.setdefault(str(u.get("optimizer")), []).append(str(u.get("model")))
    rows = []
    for o in trace.get("optimizers", []):
        name = str(o.get("name"))
        lr = o.get("learning_rate")
        lr_text = f"{lr:g}" if isinstance(lr, (int, float)) else "-" if trace.get("assumed") else "schedule / unknown"
        rows.append(f"<tr><td>{html_text(name)}</td><td>{html_text(str(o.get('class_name', '')))}</td>"
                    f"<td>{html_text(lr_text)}</td><td>{html_text(', '.join(updates.get(name, [])) or '-')}</td></tr>")  # fmt: skip
    how = "assumed (standard loop, not traced)" if trace.get("assumed") else "found by tracing the training step"
    if not rows:
        return f"<p class='note'>No optimizer was {html_text(how)}.</p>"
    head = "<tr><th>optimizer</th><th>class</th><th>learning rate</th><th>updates</th></tr>"
    return f"<p>Optimizers {html_text(how)}:</p><table>{head}{''.join(rows)}</table>"


def _notes(run: Path) -> list[str]:
    notes = _read_json(run / "notes.json")
    if not isinstance(notes, dict):
        return []
    out = []
    means = notes.get("running_means") or []
    if means:
        out.append(f"{', '.join(map(str, means))} are running means over each epoch (Keras metric results), "
                   "drawn as logged and not smoothed again.")  # fmt: skip
    out += [str(n) for n in notes.get("health_notes", [])]
    if notes.get("sampling"):
        out.append(f"Sample grids: {notes['sampling']}.")
    if notes.get("step_count"):
        out.append(f"Steps counted from {notes['step_count']}.")
    return out


def _config_table(config: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html_text(str(k))}</th><td>{html_text(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
        for k, v in config.items()
    )
    return f"<table>{rows}</table>" if rows else "<p>No configuration recorded.</p>"


def _number(value: Any) -> float:
    """A metric as a float; ``null`` (a NaN that JSON can hold) and damaged values read as NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _summary(metrics: list[dict[str, Any]]) -> str:
    if not metrics:
        return "<p>No metrics recorded.</p>"
    last = metrics[-1]
    keys = [k for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in last]
    values = {k: _number(last[k]) for k in keys}
    cells = "".join(f"<tr><th>{html_text(k)}</th><td>{values[k]:.4f}</td></tr>" for k in keys)
    return f"<p>{len(metrics)} logged steps; last step {int(last.get('step', 0))}.</p><table>{cells}</table>"


def write_report(run_dir: str | os.PathLike[str], *, gan: Any = None, title: str | None = None) -> Path:
    """Write ``run_dir/report.html``: config, diagrams, latest grid, GIF, curves and health events.

    Args:
        run_dir: A folder written by ``ganviz.Monitor``.
        gan: The trained model; when given, its diagrams are drawn first (failures become notes).
        title: Page title (default: the folder name).

    Returns:
        The report's path.
    """
    folder = RunFolder(Path(run_dir))
    errors = render_diagrams(folder.root, gan) if gan is not None else {}
    if gan is None and (folder.diagrams / "errors.json").exists():
        try:
            errors = json.loads((folder.diagrams / "errors.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            errors = {}
    config = folder.read_config()
    metrics = folder.read_metrics()
    events = folder.read_events()
    samples = folder.sample_grids()
    name = title or folder.root.resolve().name
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html_text(name)} · ganviz run</title><style>{asset('report.css')}</style></head><body>",
        f"<h1>Training run: {html_text(name)}</h1>",
        "<h2>Configuration</h2>",
        _config_table(config),
        "<h2>Progress</h2>",
        _summary(metrics),
        "<div class='row'>",
    ]
    if samples:
        step, latest = samples[-1]
        parts.append(_img(latest, f"samples at step {step}"))
    else:
        parts.append("<p class='note'>No sample grids yet.</p>")
    if folder.gif.exists():
        parts.append(_img(folder.gif, f"progress over {len(samples)} grids"))
    parts.append("</div>")
    if folder.curves.exists():
        parts.append(_img(folder.curves, "losses and discriminator outputs"))
    notes = _notes(folder.root)
    parts += [f"<p class='note'>{html_text(n)}</p>" for n in notes]
    system = _read_json(folder.diagrams / "system.json") or {}
    parts.append("<h2>Architecture and system</h2>")
    parts.append(_optimizers(folder.root))
    parts.append("<div class='row'>")
    for key, caption in (("system", "GAN system"), ("generator", "generator"), ("discriminator", "discriminator")):
        svg = folder.diagrams / f"{key}.svg"
        if key == "system" and system.get("how") == "assumed":
            caption = "GAN system (assumed standard loop, not traced)"
        if svg.exists():
            parts.append(_img(svg, caption, css="diagram"))
        elif key == "system" and (system.get("error") or errors.get("system")):
            why = system.get("error") or errors.get("system")
            parts.append(f"<p class='note'>The system diagram could not be drawn: {html_text(str(why))}</p>")
        elif key in errors:
            parts.append(
                f"<p class='note'>The {html_text(caption)} diagram could not be drawn: {html_text(errors[key])}</p>"
            )
    if not folder.diagrams.is_dir() or errors.get("diagrams"):
        why = errors.get("diagrams", "the run was not watched with diagrams=True and no model was given")
        parts.append(f"<p class='note'>Diagrams unavailable: {html_text(why)}</p>")
    parts.append("</div><h2>Health events</h2>")
    if events:
        parts.append("<table><tr><th>step</th><th>kind</th><th>message</th></tr>")
        for e in events:
            level = html_attr(str(e.get("level", "info")))
            parts.append(
                f"<tr class='{level}'><td>{html_text(str(e.get('step', '')))}</td>"
                f"<td>{html_text(str(e.get('kind', '')))}</td><td>{html_text(str(e.get('message', '')))}</td></tr>"
            )
        parts.append("</table>")
    elif any(n.startswith("Health check off") for n in notes):
        parts.append("<p>No health events, but some checks were off (see the notes above).</p>")
    else:
        parts.append("<p>No health events: training looked healthy.</p>")
    parts.append("</body></html>\n")
    return write_atomic(folder.report, "".join(parts))
