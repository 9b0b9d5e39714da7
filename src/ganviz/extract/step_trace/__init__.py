"""Trace a GAN's training step with ``tf.function`` into a :class:`~ganviz.ir.Trace`, never updating; and check one.

``tracing.py`` holds ``trace_gan`` and ``trace_step``, ``verify.py`` ``verify_trace`` (which traces
through ``tracing``): this package only names them.
"""

from __future__ import annotations

from .tracing import trace_gan, trace_step
from .verify import verify_trace

__all__ = ["trace_gan", "trace_step", "verify_trace"]
