"""Doctest collection over src/: the per-backend GAN modules import their backend, so skip those not installed."""

from __future__ import annotations

import importlib.util

collect_ignore = [
    f"src/ganviz/train/gan/{name}_backend.py" for name in ("jax", "torch") if importlib.util.find_spec(name) is None
]
