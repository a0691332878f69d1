"""Unknown glitches: a score per prediction that is high for samples unlike every trained class.

Each observing run brings glitch families the model was not trained on. A softmax always sums to 1
over the known classes, so the top score alone flags them poorly. The score here is the energy of
the temperature-scaled logits (Liu et al. 2020, "Energy-based out-of-distribution detection"):

    unknown_score = -logsumexp(logits / T)

Known samples have a large logit for some class, so a low (very negative) score; a sample that
excites no class scores high. The threshold is chosen on validation data so that 95 % of known
samples score at or below it (``known_pass_rate``), stored in the config as ``unknown_threshold``,
and ``is_unknown = unknown_score > unknown_threshold``.

Imports only numpy and torch (the pipeline computes the same score inline for remote-code use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

DEFAULT_KNOWN_PASS_RATE = 0.95


def unknown_scores(logits: np.ndarray | torch.Tensor) -> np.ndarray:
    """Energy score ``-logsumexp`` over the last axis of temperature-scaled ``logits``; higher = more unknown.

    Parameters
    ----------
    logits : np.ndarray or torch.Tensor
        (N, num_labels) logits as the model returns them (already divided by ``logit_temperature``).

    Returns
    -------
    np.ndarray
        float64 (N,).
    """
    values = torch.as_tensor(np.asarray(logits, dtype=np.float64) if not torch.is_tensor(logits) else logits)
    return (-torch.logsumexp(values.double(), dim=-1)).cpu().numpy()


def fit_unknown_threshold(scores: np.ndarray, known_pass_rate: float = DEFAULT_KNOWN_PASS_RATE) -> float:
    """The threshold under which ``known_pass_rate`` of the (known) validation ``scores`` fall.

    Raises
    ------
    ValueError
        For an empty or non-finite ``scores`` or a rate outside (0, 1].
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError(f"need finite unknown scores of known samples; got {scores.size} values")
    if not 0.0 < float(known_pass_rate) <= 1.0:
        raise ValueError(f"known_pass_rate must lie in (0, 1]; got {known_pass_rate}")
    # "higher" keeps at least the requested fraction of known samples at or below the threshold.
    return float(np.quantile(scores, known_pass_rate, method="higher"))


def flag_unknown(scores: np.ndarray, threshold: float | None) -> np.ndarray | None:
    """``scores > threshold`` (bool array), or None when the model has no threshold."""
    if threshold is None:
        return None
    return np.asarray(scores) > float(threshold)


def open_set_auroc(known_scores: np.ndarray, unknown_scores_: np.ndarray) -> float:
    """AUROC of the score at separating unknown samples (positives) from known ones (negatives).

    0.5 is chance, 1.0 every unknown sample scores above every known one.
    """
    from sklearn.metrics import roc_auc_score

    known, unknown = np.asarray(known_scores).reshape(-1), np.asarray(unknown_scores_).reshape(-1)
    if not known.size or not unknown.size:
        raise ValueError(f"AUROC needs known and unknown samples; got {known.size} and {unknown.size}")
    targets = np.concatenate([np.zeros(known.size), np.ones(unknown.size)])
    return float(roc_auc_score(targets, np.concatenate([known, unknown])))


def unknown_summary(logits: np.ndarray, threshold: float | None) -> dict[str, Any]:
    """Median and 95th percentile of the unknown scores of ``logits`` and the fraction flagged."""
    scores = unknown_scores(logits)
    flags = flag_unknown(scores, threshold)
    return {
        "threshold": threshold,
        "score_median": float(np.median(scores)),
        "score_p95": float(np.quantile(scores, 0.95)),
        "fraction_flagged": None if flags is None else float(flags.mean()),
    }


def replace_unknown_labels(predictions: Sequence[dict[str, Any]], unknown_label: str) -> int:
    """Set ``label`` to ``unknown_label`` in every prediction flagged ``is_unknown``; return how many.

    The model's own top class stays in ``top_k``.
    """
    replaced = 0
    for prediction in predictions:
        if prediction.get("is_unknown"):
            prediction["label"] = unknown_label
            replaced += 1
    return replaced


__all__ = [
    "DEFAULT_KNOWN_PASS_RATE",
    "fit_unknown_threshold",
    "flag_unknown",
    "open_set_auroc",
    "replace_unknown_labels",
    "unknown_scores",
    "unknown_summary",
]
