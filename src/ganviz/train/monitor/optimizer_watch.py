"""``OptimizerWatch``: the optimizers given to ``Monitor.start()``, what each trains, and one that never advances.

Keras 3 reads ``trainable`` when a compiled model's train function is first built (its first
``train_on_batch``), not at ``compile``: a classic script that sets ``discriminator.trainable =
False`` before compiling ``combined`` and never sets it back trains nothing in the discriminator,
and its optimizer's ``iterations`` stay where they were. The watch compares each optimizer's
``iterations`` over the run's first sampled interval and names the model and the fix.
"""

from __future__ import annotations

from typing import Any

from .health import HealthEvent

__all__ = ["OptimizerWatch", "learning_rate"]


def learning_rate(optimizer: Any) -> float | None:
    """The optimizer's learning rate when it is a number (a schedule gives ``None``)."""
    try:
        lr = optimizer.get_config().get("learning_rate")
    except Exception:  # noqa: BLE001 - an odd optimizer has no rate to show
        return None
    return float(f"{lr:.7g}") if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def _iterations(opt: Any) -> int | None:
    try:
        it = opt.iterations
        return int(it.numpy() if hasattr(it, "numpy") else it)
    except Exception:  # noqa: BLE001 - an optimizer without a readable count is not watched
        return None


def _contains(outer: Any, inner: Any) -> bool:
    return any(layer is inner for layer in getattr(outer, "layers", None) or [])


class OptimizerWatch:
    """The optimizers of a hand-written loop and the models they belong to.

    Args:
        optimizers: The optimizers given to (or found by) ``Monitor.start()``, by name.
        models: The models given or held, by name: an optimizer belongs to the compiled model whose
            ``optimizer`` it is, else to the model its name points at (``d_optimizer`` ->
            ``discriminator``).
        judge: Check for idle optimizers (``start()``'s loops; ``fit`` counts its own steps).
    """

    def __init__(self, optimizers: dict[str, Any], models: dict[str, Any], *, judge: bool = True) -> None:
        self.optimizers = dict(optimizers)
        self.models = dict(models)
        self._base: dict[str, int] = {}
        self.pending = judge and bool(optimizers)

    def owner(self, name: str, opt: Any) -> tuple[str | None, bool]:
        """(the model ``opt`` trains, whether it is that model's compiled optimizer)."""
        for mname, model in self.models.items():
            if getattr(model, "optimizer", None) is opt:
                return mname, True
        target = {"d_optimizer": "discriminator", "g_optimizer": "generator"}.get(name, name.removesuffix("_optimizer"))
        return (target, False) if target in self.models else (None, False)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each optimizer's class, learning rate and model, for ``config.json`` and the report."""
        out = {}
        for name, opt in self.optimizers.items():
            model, _ = self.owner(name, opt)
            out[name] = {"class_name": type(opt).__name__, "learning_rate": learning_rate(opt), "model": model}
        return out

    def begin(self) -> None:
        """Remember each optimizer's ``iterations`` (after any restore)."""
        self._base = {n: v for n, o in self.optimizers.items() if (v := _iterations(o)) is not None}

    def check(self, step: int, steps: int) -> list[HealthEvent]:
        """After the first sampled interval (``steps`` steps): an event for each optimizer that did not advance
        while another did (a loop in which none advances counts its own steps, and is not judged)."""
        self.pending = False
        now = {n: _iterations(o) for n, o in self.optimizers.items()}
        moved = [n for n, v in now.items() if n in self._base and v is not None and v > self._base[n]]
        idle = [n for n, v in now.items() if n in self._base and v is not None and v == self._base[n]]
        if not moved:
            return []
        return [HealthEvent(step, "optimizer_idle", "warning", self._message(n, steps, moved)) for n in idle]

    def _message(self, name: str, steps: int, moved: list[str]) -> str:
        opt = self.optimizers[name]
        head = (f"{name} ({type(opt).__name__}) made no update in the first {steps} steps (iterations stayed at "
                f"{self._base[name]}) while {', '.join(moved)} did")  # fmt: skip
        model_name, compiled = self.owner(name, opt)
        model = self.models.get(model_name) if model_name else None
        if model is None:
            return (f"{head}: what it should train is not updated; check that the step applies its gradients "
                    "(a model set trainable = False has no trainable weights)")  # fmt: skip
        flag = getattr(model, "trainable", None)
        if not compiled:
            return (f"{head}: {model_name} is not updated; check that its loss reaches {name}.apply_gradients "
                    f"({model_name}.trainable is {flag})")  # fmt: skip
        others = [n for n, m in self.models.items() if m is not model and _contains(m, model)]
        inside = others[0] if others else "the combined model"
        return (
            f"{head}: {model_name} trains nothing. Keras 3 fixes a compiled model's trainable weights at its first "
            f"train_on_batch ({model_name}.trainable is {flag} now): set {model_name}.trainable = True before "
            f"{model_name}.train_on_batch and False again before {inside}.train_on_batch (setting it False once, "
            f"before compiling {inside}, freezes it for good), then start the run again"
        )
