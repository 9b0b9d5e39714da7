"""Renderers: pure functions from the IR to text, plus the one backend that runs Graphviz."""
