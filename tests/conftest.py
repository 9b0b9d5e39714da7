"""Shared pytest set-up: quiet TensorFlow, deterministic hash seeds for subprocesses."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
