"""Count training steps from the optimizer's ``iterations``: exact under ``steps_per_execution`` and resume."""

from __future__ import annotations

from typing import Any

__all__ = ["StepCounter", "optimizers_of"]

_G_WORDS = ("gen", "g_")
_D_WORDS = ("disc", "d_", "critic")


def _is_optimizer(value: Any) -> bool:
    return hasattr(value, "apply_gradients") and hasattr(value, "iterations")


def optimizers_of(model: Any) -> dict[str, Any]:
    """Optimizer attributes of a model, by attribute name (``optimizer`` only when it is the only one)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for name, value in list(vars(model).items()) if model is not None else []:
        if name.startswith("_") or name == "optimizer" or not _is_optimizer(value) or id(value) in seen:
            continue
        found[name] = value
        seen.add(id(value))
    opt = getattr(model, "optimizer", None)
    if not found and opt is not None and _is_optimizer(opt):
        found["optimizer"] = opt
    return found


def _rank(name: str) -> int:
    """Generator optimizers first (one update per step), then others, discriminators last."""
    low = name.lower()
    if any(low.startswith(w) or f"_{w}" in low for w in _G_WORDS):
        return 0
    if any(low.startswith(w) or f"_{w}" in low for w in _D_WORDS):
        return 2
    return 1


class StepCounter:
    """The global step of a run as optimizer updates since the run's start.

    The generator's optimizer is preferred (a discriminator may update several times a step); an
    optimizer that never moves (Keras's unused ``compile()`` default) is skipped; with none
    moving, batches reported by Keras are counted instead.

    Args:
        optimizers: Candidate optimizers by name.
    """

    def __init__(self, optimizers: dict[str, Any]) -> None:
        self.candidates = sorted(optimizers.items(), key=lambda kv: _rank(kv[0]))
        self._base: dict[str, int] = {}
        self.start_step = 0
        self.source = "batches reported by Keras"

    @staticmethod
    def _read(opt: Any) -> int | None:
        try:
            return int(opt.iterations.numpy() if hasattr(opt.iterations, "numpy") else opt.iterations)
        except Exception:  # noqa: BLE001 - an odd optimizer falls back to batch counting
            return None

    def begin(self, start_step: int) -> None:
        """Remember every candidate's ``iterations`` at ``start_step`` (after any restore)."""
        self.start_step = start_step
        self._base = {n: v for n, o in self.candidates if (v := self._read(o)) is not None}

    def count(self, batch_step: int) -> int:
        """The global step now; ``batch_step`` is the fallback from Keras's batch counter."""
        for name, opt in self.candidates:
            now = self._read(opt)
            if name in self._base and now is not None and now > self._base[name]:
                self.source = f"{name}.iterations"
                return self.start_step + now - self._base[name]
        return batch_step
