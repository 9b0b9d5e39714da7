"""ganviz: see your GANs and multi-model Keras systems. Importing it never imports TensorFlow."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import GanvizError
from .ir import Graph, Trace, collapse_to_depth

__version__ = "0.1.0"

# Public name -> module that defines it; loaded on first use so `import ganviz` stays light.
_LAZY = {
    "model_to_graph": "ganviz.extract.keras_model",
    "file_to_graph": "ganviz.extract.keras_file",
    "trace_gan": "ganviz.extract.step_trace",
    "trace_step": "ganviz.extract.step_trace",
    "verify_trace": "ganviz.extract.step_trace.verify",
    "graph_to_dot": "ganviz.render.dot",
    "graph_to_mermaid": "ganviz.render.mermaid",
    "graph_to_html": "ganviz.render.html",
    "plot_model": "ganviz.api",
    "plot_gan": "ganviz.api",
    "render": "ganviz.api",
    "GAN": "ganviz.train.gan",
    "Monitor": "ganviz.train.monitor.callback",
    "data": "ganviz.train.data",
}

__all__ = ["GanvizError", "Graph", "Trace", "collapse_to_depth", "__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganviz' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name == "data" else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
