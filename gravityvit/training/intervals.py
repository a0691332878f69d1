"""Bootstrap confidence intervals of the test scores: how much a score owes to which samples were tested.

A test split of a few hundred glitches, with rare classes of a handful each, gives accuracies and
macro-F1s that move by a point or more with the draw of the samples. ``bootstrap_intervals`` resamples
the (prediction, truth) pairs with replacement ``num_resamples`` times (seeded, so a report is
reproducible) and returns the percentile interval of accuracy, macro-F1 and each class's F1.

The intervals cover the sampling of the test set only: a model retrained with another seed moves
further (``examples/compare_models.py`` reports both).

Example:

```python
>>> from gravityvit.training.intervals import bootstrap_intervals
>>> intervals = bootstrap_intervals([0, 1, 1, 2], [0, 1, 2, 2], num_labels=3)
>>> intervals["accuracy"]  # [low, high] of the 95 % percentile interval
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NUM_RESAMPLES = 1000
CONFIDENCE = 0.95
SEED = 0
# Resamples scored per vectorised step: bounds the memory to about 8 bytes x chunk x samples.
_CHUNK = 100


def _resampled_scores(
    predictions: np.ndarray, references: np.ndarray, num_labels: int, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy (R,), macro-F1 (R,) and per-class F1 (R, K) of the resamples ``indices`` (R, N).

    Macro-F1 averages over the classes present in the resample's references or predictions, as
    ``glitch_metrics`` (and scikit-learn without a label list) does for the full split.
    """
    resamples = indices.shape[0]
    truth, predicted = references[indices], predictions[indices]
    correct = truth == predicted
    # One bincount for all resamples: resample r's class k is bin r * K + k.
    offsets = (np.arange(resamples) * num_labels)[:, None]
    size = resamples * num_labels
    support = np.bincount((truth + offsets).ravel(), minlength=size).reshape(resamples, num_labels)
    predicted_count = np.bincount((predicted + offsets).ravel(), minlength=size).reshape(
        resamples, num_labels
    )
    true_positives = np.bincount((truth + offsets)[correct], minlength=size).reshape(resamples, num_labels)
    denominator = support + predicted_count
    f1 = np.divide(2.0 * true_positives, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
    seen = denominator > 0
    macro_f1 = (f1 * seen).sum(axis=1) / seen.sum(axis=1)
    return correct.mean(axis=1), macro_f1, np.where(support > 0, f1, np.nan)


def bootstrap_intervals(
    predictions: Sequence[int] | np.ndarray,
    references: Sequence[int] | np.ndarray,
    num_labels: int,
    label_names: Sequence[str] | None = None,
    num_resamples: int = NUM_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> dict[str, Any]:
    """Percentile bootstrap intervals of accuracy, macro-F1 and per-class F1.

    Args:
        predictions (`Sequence[int]`): predicted class ids.
        references (`Sequence[int]`): true class ids.
        num_labels (`int`): size of the label set (class ids lie in ``0 .. num_labels - 1``).
        label_names (`Sequence[str]`, *optional*): class names in id order; the per-class intervals are
            keyed by name (else by id as a string).
        num_resamples (`int`): bootstrap resamples (1,000 by default).
        confidence (`float`): coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
        seed (`int`): seed of the resampling, so that a report is reproducible.

    Returns:
        `dict`: ``method``, ``confidence``, ``num_resamples``, ``seed``, ``accuracy`` and ``macro_f1``
        as ``[low, high]``, and ``per_class_f1`` as ``{class: [low, high]}``. A class's F1 interval
        is computed over the resamples that hold the class; a class absent from the references has
        ``None``.

    Raises:
        ValueError: for empty or mismatched inputs, class ids outside the label set, or a confidence
            outside (0, 1).
    """
    predictions = np.asarray(predictions, dtype=np.int64)
    references = np.asarray(references, dtype=np.int64)
    if predictions.shape != references.shape or predictions.ndim != 1:
        raise ValueError(
            f"predictions and references must be 1-D of one length; got {predictions.shape} and "
            f"{references.shape}"
        )
    if len(references) == 0:
        raise ValueError("bootstrap intervals need at least one prediction")
    if (
        (predictions < 0) | (predictions >= num_labels) | (references < 0) | (references >= num_labels)
    ).any():
        raise ValueError(f"class ids must lie in [0, {num_labels - 1}]")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be at least 1; got {num_resamples}")
    if label_names is not None and len(label_names) != num_labels:
        raise ValueError(f"label_names has {len(label_names)} names but num_labels is {num_labels}")

    rng = np.random.default_rng(seed)
    accuracy, macro_f1, per_class = [], [], []
    for start in range(0, num_resamples, _CHUNK):
        count = min(_CHUNK, num_resamples - start)
        indices = rng.integers(0, len(references), size=(count, len(references)))
        scores = _resampled_scores(predictions, references, num_labels, indices)
        accuracy.append(scores[0])
        macro_f1.append(scores[1])
        per_class.append(scores[2])
    tails = 100.0 * np.array([(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])

    def interval(values: np.ndarray) -> list[float] | None:
        values = values[np.isfinite(values)]
        return None if len(values) == 0 else [float(v) for v in np.percentile(values, tails)]

    per_class_f1 = np.concatenate(per_class)
    present = np.bincount(references, minlength=num_labels) > 0
    names = list(label_names) if label_names is not None else [str(i) for i in range(num_labels)]
    return {
        "method": "percentile bootstrap over the evaluated samples",
        "confidence": confidence,
        "num_resamples": num_resamples,
        "seed": seed,
        "accuracy": interval(np.concatenate(accuracy)),
        "macro_f1": interval(np.concatenate(macro_f1)),
        "per_class_f1": {
            str(name): interval(per_class_f1[:, k]) if present[k] else None for k, name in enumerate(names)
        },
    }


def intervals_overlap(first: Sequence[float], second: Sequence[float]) -> bool:
    """Whether two ``[low, high]`` intervals share a point (then the two scores are not told apart)."""
    return first[0] <= second[1] and second[0] <= first[1]


__all__ = ["CONFIDENCE", "NUM_RESAMPLES", "SEED", "bootstrap_intervals", "intervals_overlap"]
