"""``write_report``: one self-contained ``report.html`` for a training run (images as data URIs)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from ..._io import write_atomic
from ...errors import RunFileError
from ...render.html import asset
from ...render.quoting import html_attr, html_text
from ..run.folder import RunFolder
from ..run.reading import MAX_IMAGE_BYTES, read_run_bytes, step_of

__all__ = ["write_report", "render_diagrams"]

_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}
_MAX_EVENTS = 2000  # rows of the health table; the rest are counted


class _Embedder:
    """Images of one run as data URIs: only the run's own regular files of bounded size; the rest named as skipped."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.skipped: list[str] = []

    def img(self, path: Path, caption: str, *, css: str = "") -> str:
        try:
            data = read_run_bytes(self.root, path, limit=MAX_IMAGE_BYTES)
        except RunFileError as exc:
            self.skipped.append(str(exc))
            return ""
        mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        cls = f' class="{html_attr(css)}"' if css else ""
        return (
            f'<figure{cls}><img src="{html_attr(uri)}" alt="{html_attr(caption)}">'
            f"<figcaption>{html_text(caption)}</figcaption></figure>"
        )

    def note(self) -> str:
        if not self.skipped:
            return ""
        items = "".join(f"<li>{html_text(s)}</li>" for s in self.skipped)
        return f"<p class='note'>Files of the run folder not embedded (only its own regular files are):</p><ul>{items}</ul>"


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


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The dicts of a list read from a run file (anything else in it, or a non-list, is damage and skipped)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, (str, int, float))] if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A value of a run file shown as text (a damaged non-string shown as its JSON)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _rate(lr: Any) -> str | None:
    return f"{lr:g}" if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def _given_optimizers(given: dict[str, Any], shown: set[str]) -> str:
    """The optimizers given to ``Monitor.start()`` (``config.json``) that the step's table does not name."""
    rows = []
    for name, info in given.items():
        if name in shown or not isinstance(info, dict):
            continue
        lr = _rate(info.get("learning_rate")) or "schedule / unknown"
        model = info.get("model") if isinstance(info.get("model"), str) else "-"
        rows.append(f"<tr><td>{html_text(str(name))}</td><td>{html_text(_text(info.get('class_name', '')))}</td>"
                    f"<td>{html_text(lr)}</td><td>{html_text(model)}</td></tr>")  # fmt: skip
    if not rows:
        return ""
    head = "<tr><th>optimizer</th><th>class</th><th>learning rate</th><th>model it belongs to</th></tr>"
    return f"<p>Optimizers given to Monitor.start():</p><table>{head}{''.join(rows)}</table>"


def _optimizers(folder: RunFolder, given: Any = None) -> str:
    """The optimizers the traced step really uses, with what each updates; then those given to the Monitor.

    A row of the step without a class or rate (the assumed loop of a generator that was never
    compiled) takes them from the optimizer given by the same name.
    """
    given = given if isinstance(given, dict) else {}
    trace = folder.read_json(folder.diagrams / "trace.json")
    if not isinstance(trace, dict):
        listed = _given_optimizers(given, set())
        return (listed or "<p class='note'>Optimizers unknown: the training step was not traced (see the diagram "
                "note).</p>")  # fmt: skip
    updates: dict[str, list[str]] = {}
    for u in _dicts(trace.get("updates")):
        updates.setdefault(str(u.get("optimizer")), []).append(str(u.get("model")))
    rows, shown = [], set()
    for o in _dicts(trace.get("optimizers")):
        name = str(o.get("name"))
        mine = given.get(name) if isinstance(given.get(name), dict) else {}
        shown.add(name)
        class_name = str(o.get("class_name") or mine.get("class_name") or "")
        lr_text = _rate(o.get("learning_rate")) or _rate(mine.get("learning_rate"))
        lr_text = lr_text or ("-" if trace.get("assumed") else "schedule / unknown")
        rows.append(f"<tr><td>{html_text(name)}</td><td>{html_text(class_name)}</td>"
                    f"<td>{html_text(lr_text)}</td><td>{html_text(', '.join(updates.get(name, [])) or '-')}</td></tr>")  # fmt: skip
    how = "assumed (standard loop, not traced)" if trace.get("assumed") else "found by tracing the training step"
    listed = _given_optimizers(given, shown)
    if not rows:
        return f"<p class='note'>No optimizer was {html_text(how)}.</p>{listed}"
    head = "<tr><th>optimizer</th><th>class</th><th>learning rate</th><th>updates</th></tr>"
    return f"<p>Optimizers {html_text(how)}:</p><table>{head}{''.join(rows)}</table>{listed}"


def _notes(folder: RunFolder) -> list[str]:
    notes = folder.read_json(folder.notes)
    if not isinstance(notes, dict):
        return []
    out = []
    means = _strings(notes.get("running_means"))
    if means:
        out.append(f"{', '.join(means)} are running means over each epoch (Keras metric results), "
                   "drawn as logged and not smoothed again.")  # fmt: skip
    out += _strings(notes.get("health_notes"))
    if isinstance(notes.get("sampling"), str) and notes["sampling"]:
        out.append(f"Sample grids: {notes['sampling']}.")
    if isinstance(notes.get("step_count"), str) and notes["step_count"]:
        out.append(f"Steps counted from {notes['step_count']}.")
    return out


def _config_table(config: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html_text(str(k))}</th><td>{html_text(_text(v))}</td></tr>" for k, v in config.items()
                   if k != "optimizers")  # shown with the architecture  # fmt: skip
    return f"<table>{rows}</table>" if rows else "<p>No configuration recorded.</p>"


def _number(value: Any) -> float:
    """A metric as a float; ``null`` (a NaN that JSON can hold) and damaged values read as NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _summary(folder: RunFolder) -> str:
    """How many steps were logged and the last one's values, from ``metrics.jsonl`` streamed (bounded memory)."""
    count, last = 0, None
    for record in folder.iter_metrics():
        if step_of(record) is None:
            continue  # a damaged step ("abc", null, NaN) is not a logged step
        count, last = count + 1, record
    if last is None:
        return "<p>No metrics recorded.</p>"
    keys = [k for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in last]
    cells = "".join(f"<tr><th>{html_text(k)}</th><td>{_number(last[k]):.4f}</td></tr>" for k in keys)
    return f"<p>{count} logged steps; last step {step_of(last)}.</p><table>{cells}</table>"


def _events(folder: RunFolder, notes: list[str]) -> list[str]:
    """The health events' table, streamed; past ``_MAX_EVENTS`` rows only counted."""
    rows, more = [], 0
    for e in folder.iter_events():
        if len(rows) >= _MAX_EVENTS:
            more += 1
            continue
        level = html_attr(_text(e.get("level", "info")))
        rows.append(
            f"<tr class='{level}'><td>{html_text(_text(e.get('step', '')))}</td>"
            f"<td>{html_text(_text(e.get('kind', '')))}</td><td>{html_text(_text(e.get('message', '')))}</td></tr>"
        )
    if rows:
        tail = f"<p class='note'>{more} more events are in events.jsonl.</p>" if more else ""
        return ["<table><tr><th>step</th><th>kind</th><th>message</th></tr>", *rows, "</table>", tail]
    if any(n.startswith("Health check off") for n in notes):
        return ["<p>No health events, but some checks were off (see the notes above).</p>"]
    return ["<p>No health events: training looked healthy.</p>"]


def _exists(folder: RunFolder, path: Path) -> bool:
    """Whether the run has an entry at ``path`` (a broken link too: the report then says it skipped it)."""
    return os.path.lexists(path)


def write_report(
    run_dir: str | os.PathLike[str],
    *,
    gan: Any = None,
    title: str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``run_dir/report.html`` (or ``out``): config, diagrams, latest grid, GIF, curves and health events.

    Only the run folder's own regular files are embedded: a link out of the folder, a pipe or a
    device is named in the report as skipped, never read.

    Args:
        run_dir: A folder written by ``ganviz.Monitor``.
        gan: The trained model; when given, its diagrams are drawn first (failures become notes).
        title: Page title (default: the folder name).
        out: The report file (default ``run_dir/report.html``); nothing else is written then.

    Returns:
        The report's path.
    """
    folder = RunFolder(Path(run_dir))
    errors: dict[str, Any] = render_diagrams(folder.root, gan) if gan is not None else {}
    if gan is None:
        saved = folder.read_json(folder.diagrams / "errors.json")
        errors = saved if isinstance(saved, dict) else {}
    embed = _Embedder(folder.root)
    config = folder.read_config()
    samples = folder.sample_grids()
    name = title or folder.root.resolve().name
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html_text(name)} · ganviz run</title><style>{asset('report.css')}</style></head><body>",
        f"<h1>Training run: {html_text(name)}</h1>",
        "<h2>Configuration</h2>",
        _config_table(config),
        "<h2>Progress</h2>",
        _summary(folder),
        "<div class='row'>",
    ]
    shown = ""
    for step, grid in reversed(samples):  # the newest grid that is the run's own file
        shown = embed.img(grid, f"samples at step {step}")
        if shown:
            break
    parts.append(shown or "<p class='note'>No sample grids yet.</p>")
    if _exists(folder, folder.gif):
        parts.append(embed.img(folder.gif, f"progress over {len(samples)} grids"))
    parts.append("</div>")
    if _exists(folder, folder.curves):
        parts.append(embed.img(folder.curves, "losses and discriminator outputs"))
    notes = _notes(folder)
    parts += [f"<p class='note'>{html_text(n)}</p>" for n in notes]
    system = folder.read_json(folder.diagrams / "system.json")
    system = system if isinstance(system, dict) else {}
    parts.append("<h2>Architecture and system</h2>")
    parts.append(_optimizers(folder, config.get("optimizers")))
    parts.append("<div class='row'>")
    for key, caption in (("system", "GAN system"), ("generator", "generator"), ("discriminator", "discriminator")):
        svg = folder.diagrams / f"{key}.svg"
        if key == "system" and system.get("how") == "assumed":
            caption = "GAN system (assumed standard loop, not traced)"
        why = (system.get("error") if key == "system" else None) or errors.get(key)
        if _exists(folder, svg):
            parts.append(embed.img(svg, caption, css="diagram"))
        elif why:
            parts.append(
                f"<p class='note'>The {html_text(caption)} diagram could not be drawn: {html_text(_text(why))}</p>"
            )
    if not folder.diagrams.is_dir() or errors.get("diagrams"):
        why = errors.get("diagrams") or "the run was not watched with diagrams=True and no model was given"
        parts.append(f"<p class='note'>Diagrams unavailable: {html_text(_text(why))}</p>")
    parts.append("</div>")
    parts.append(embed.note())
    parts.append("<h2>Health events</h2>")
    parts += _events(folder, notes)
    parts.append("</body></html>\n")
    return write_atomic(Path(out) if out is not None else folder.report, "".join(parts))
