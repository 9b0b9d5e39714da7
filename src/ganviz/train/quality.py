"""Sample quality: a small cached digit classifier, Fréchet distance on its features, class coverage."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_atomic
from ..errors import DataError
from ..ir.records import Record

__all__ = ["QualityScore", "DigitScorer", "frechet_distance", "cache_dir", "sample_quality"]

_VERSION = "v1"


def cache_dir() -> Path:
    """Where trained classifiers are cached: ``$GANVIZ_CACHE_DIR``, else ``$XDG_CACHE_HOME/ganviz``, else ``~/.cache/ganviz``."""
    if os.environ.get("GANVIZ_CACHE_DIR"):
        return Path(os.environ["GANVIZ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ganviz"


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between two Gaussians (the FID formula).

    >>> frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2)) < 1e-6
    True
    """
    import warnings

    from scipy import linalg

    diff = mu1 - mu2
    offset = np.eye(len(mu1)) * 1e-6  # keeps sqrtm defined for singular covariances (e.g. blank images)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(np.real(covmean))
    return float(max(value, 0.0))


@dataclass(frozen=True)
class QualityScore(Record):
    """Sample-quality numbers for one set of images.

    Attributes:
        fid: Fréchet distance to the training digits in classifier-feature space (lower is better).
        coverage: Share of the classes that get at least a fifth of a fair share of the samples.
        confidence: Mean top class probability (sharp, digit-like samples score high).
        n: Number of images scored.
    """

    fid: float
    coverage: float
    confidence: float
    n: int


def _batched(model: Any, x: np.ndarray, size: int = 512) -> np.ndarray:
    """Call a model on ``x`` in batches (no ``predict`` function to trace)."""
    parts = [np.asarray(model(x[i : i + size], training=False)) for i in range(0, len(x), size)]
    return np.concatenate(parts) if parts else np.zeros((0,))


def _build_classifier(n_classes: int, side: int) -> Any:
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(side, side, 1)),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(64, activation="relu", name="features"),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name="digit_classifier",
    )


class DigitScorer:
    """Score images with a small classifier trained on labelled data (cached on disk by dataset).

    Args:
        images: Labelled images in the ``scale`` range, shape (N, H, W, 1).
        labels: Integer labels.
        name: Dataset name for the cache key.
        scale: ``"tanh"`` or ``"sigmoid"``: the range of every image given to this scorer.
        test_fraction: Held-out share used for the real-data reference score.
        seed: Split and training seed.
        epochs: Classifier training epochs.
        use_cache: Read and write the cached classifier.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        name: str = "data",
        scale: str = "tanh",
        test_fraction: float = 0.2,
        seed: int = 0,
        epochs: int = 20,
        use_cache: bool = True,
    ) -> None:
        from .data import split

        self.scale = scale
        (self.x_train, self.y_train), (self.x_test, self.y_test) = split(
            self._unit(images), labels, test_fraction=test_fraction, seed=seed
        )
        self.n_classes = int(labels.max()) + 1
        digest = hashlib.sha1(np.ascontiguousarray(self.x_train).tobytes()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() else "_" for c in name)[:40]
        self.cache_path = cache_dir() / f"classifier-{safe}-{digest}-{_VERSION}.npz"
        self.model = _build_classifier(self.n_classes, images.shape[1])
        if not (use_cache and self._load()):
            import keras

            keras.utils.set_random_seed(seed)
            self.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
            self.model.fit(self.x_train, self.y_train, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
            if use_cache:
                self._save()
        import keras

        self._features = keras.Model(self.model.inputs[0], self.model.get_layer("features").output)
        f = self.features(self.x_train, unit=True)
        self.mu, self.sigma = f.mean(axis=0), np.cov(f, rowvar=False)
        self.test_accuracy = float((self.predict(self.x_test, unit=True).argmax(1) == self.y_test).mean())

    def _unit(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        return (x + 1.0) / 2.0 if self.scale == "tanh" else x

    def _load(self) -> bool:
        try:
            with np.load(self.cache_path, allow_pickle=False) as z:
                self.model.set_weights([z[f"w{i:03d}"] for i in range(len(z.files))])
            return True
        except (OSError, ValueError, KeyError):
            return False

    def _save(self) -> None:
        buf = io.BytesIO()
        np.savez(buf, **{f"w{i:03d}": w for i, w in enumerate(self.model.get_weights())})
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.cache_path, buf.getvalue())

    def features(self, images: np.ndarray, *, unit: bool = False) -> np.ndarray:
        """Penultimate-layer features of images (in the scorer's ``scale`` unless ``unit``)."""
        x = images if unit else self._unit(images)
        return _batched(self._features, x).astype(np.float64)

    def predict(self, images: np.ndarray, *, unit: bool = False) -> np.ndarray:
        """Class probabilities."""
        x = images if unit else self._unit(images)
        return _batched(self.model, x)

    def score(self, images: np.ndarray, *, unit: bool = False) -> QualityScore:
        """Fréchet distance to the training features, class coverage and confidence of ``images``."""
        x = np.clip(np.nan_to_num(images if unit else self._unit(images)), 0.0, 1.0)
        f = self.features(x, unit=True)
        fid = frechet_distance(f.mean(axis=0), np.cov(f, rowvar=False), self.mu, self.sigma)
        probs = self.predict(x, unit=True)
        counts = np.bincount(probs.argmax(axis=1), minlength=self.n_classes)
        fair = len(x) / self.n_classes
        coverage = float((counts >= max(1.0, 0.2 * fair)).sum() / self.n_classes)
        return QualityScore(fid=fid, coverage=coverage, confidence=float(probs.max(axis=1).mean()), n=len(x))

    def real_score(self) -> QualityScore:
        """The same score for the held-out real images: what good looks like."""
        return self.score(self.x_test, unit=True)


def sample_quality(generator: Any, *, data: str = "digits", n: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Score a generator (tanh output) against ``digits`` or ``mnist:PATH`` with labels.

    Returns:
        ``{"generated": {...}, "real": {...}, "classifier_accuracy": float}``.
    """
    from . import data as data_mod

    if data == "digits":
        x, y = data_mod.digits(return_labels=True)
    elif data.startswith("mnist:"):
        x, y = data_mod.mnist(data[len("mnist:") :], return_labels=True)
        if y is None:
            raise DataError(f"{data!r} has no labels; the quality score needs labelled digits")
    else:
        raise DataError(f"sample quality needs labelled digits ('digits' or 'mnist:PATH'), got {data!r}")
    scorer = DigitScorer(x, y, name=data)
    n = n or len(scorer.x_test)
    latent = int(generator.inputs[0].shape[-1])
    z = np.random.default_rng(seed).standard_normal((n, latent)).astype("float32")
    fake = _batched(generator, z)
    return {
        "generated": scorer.score(fake).to_dict(),
        "real": scorer.real_score().to_dict(),
        "classifier_accuracy": scorer.test_accuracy,
    }
