"""``NotebookDisplay``: the latest sample grid and the curves inline in Jupyter, updated in place."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

from ...render.quoting import html_text

__all__ = ["NotebookDisplay", "in_notebook"]


def in_notebook() -> bool:
    """Whether code runs in a Jupyter kernel (IPython with a kernel attached), without importing IPython."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure style="margin:0 1rem 0 0"><img src="data:image/png;base64,{data}" '
        f'style="image-rendering:pixelated;max-width:100%"><figcaption style="font-size:85%">'
        f"{html_text(caption)}</figcaption></figure>"
    )


class NotebookDisplay:
    """One output cell area that shows the newest grid and curves, replaced at every update.

    The first :meth:`update` creates one display (``IPython.display.display(..., display_id=True)``);
    later ones call the handle's ``update``, so a run leaves one picture, not one per interval.
    """

    def __init__(self) -> None:
        from IPython import display as ipd  # the caller checks IPython is there

        self._ipd = ipd
        self._handle: Any = None
        self.updates = 0

    def update(self, *, step: int, grid: str | os.PathLike[str] | None, curves: str | os.PathLike[str] | None,
               note: str = "") -> None:  # fmt: skip
        """Show the grid and curves PNG files (either may be missing) with a one-line caption."""
        parts = ['<div style="display:flex;flex-wrap:wrap;align-items:flex-start">']
        if grid is not None and Path(grid).exists():
            parts.append(_img(Path(grid), f"samples at step {step}"))
        if curves is not None and Path(curves).exists():
            parts.append(_img(Path(curves), "losses and discriminator outputs"))
        parts.append("</div>")
        if note:
            parts.append(f'<p style="font-size:85%">{html_text(note)}</p>')
        obj = self._ipd.HTML("".join(parts))
        if self._handle is None:
            self._handle = self._ipd.display(obj, display_id=True)
        else:
            self._handle.update(obj)
        self.updates += 1
