"""Unknown glitches: a score per prediction that is high for samples unlike every trained class.

Each observing run brings glitch families the model was not trained on. A softmax always sums to 1
over the known classes, so the top score alone flags them poorly. The classifiers return an
``unknown_score`` with their logits (``gravityvit.modeling_unknown``), of the config's
``unknown_score_method``:

- ``"energy"``, the energy of the temperature-scaled logits (Liu et al. 2020, "Energy-based
  out-of-distribution detection"): ``unknown_score = -logsumexp(logits / T)``. Known samples have a
  large logit for some class, so a low (very negative) score; a sample that excites no class scores
  high.
- ``"relative_mahalanobis"`` (Ren et al. 2021): ``min_k [MD_k(z) - MD_0(z)]`` on the pooled feature
  ``z``, with class means and a shared covariance, and the mean and covariance of all features
  (``MD_0``), fitted on the training split by :func:`fit_feature_statistics` and saved with the
  weights. Training fits them and selects this score: it separates left-out classes better on the
  simulator (docs/inference.md, "Unknown glitches").

The threshold is chosen on validation data so that 95 % of known samples score at or below it
(``known_pass_rate``), stored in the config as ``unknown_threshold``, and ``is_unknown =
unknown_score > unknown_threshold``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

DEFAULT_KNOWN_PASS_RATE = 0.95
# Ridge added to each covariance before inverting it, relative to its mean variance: keeps the
# precision finite when features are collinear (more dimensions than samples of a class, dead units).
COVARIANCE_RIDGE = 1e-6


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


def _precision(centred: np.ndarray, ridge: float) -> np.ndarray:
    """Inverse of the covariance of the (N, D) ``centred`` rows plus ``ridge`` times their mean variance."""
    covariance = centred.T @ centred / len(centred)
    scale = max(float(np.trace(covariance)) / covariance.shape[0], np.finfo(np.float64).tiny)
    regularised = covariance + ridge * scale * np.eye(covariance.shape[0])
    return np.linalg.pinv(regularised, hermitian=True)


def fit_feature_statistics(
    features: np.ndarray, labels: np.ndarray, num_labels: int, ridge: float = COVARIANCE_RIDGE
) -> dict[str, np.ndarray]:
    """The statistics of the relative Mahalanobis score from labelled (training) features.

    Parameters
    ----------
    features : np.ndarray
        (N, D) pooled features of the training split (no augmentation).
    labels : np.ndarray
        (N,) their class ids in [0, num_labels).
    num_labels : int
        Classes of the model; a class without samples gets a zero mean and count 0 (left out of the score).
    ridge : float
        Added to the diagonal of each covariance, relative to its mean variance, before inverting.

    Returns
    -------
    dict
        float64 ``class_means`` (num_labels, D), ``class_counts`` (num_labels,), ``precision``
        (D, D) of the covariance shared by the classes, ``background_mean`` (D,) and
        ``background_precision`` (D, D) of all features: the buffers of
        ``GlitchFeatureStatistics``.

    Raises
    ------
    ValueError
        For fewer than 2 samples, mismatched shapes, labels out of range or non-finite features.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(
            f"features must be (N, D) with one label each; got {features.shape} and {labels.shape}"
        )
    if len(features) < 2:
        raise ValueError(f"fitting class statistics needs at least 2 labelled samples; got {len(features)}")
    if labels.min() < 0 or labels.max() >= num_labels:
        raise ValueError(f"labels must lie in [0, {num_labels}); got range [{labels.min()}, {labels.max()}]")
    if not np.isfinite(features).all():
        raise ValueError("the features hold NaN or infinite values")
    counts = np.bincount(labels, minlength=num_labels).astype(np.float64)
    sums = np.zeros((num_labels, features.shape[1]))
    np.add.at(sums, labels, features)
    means = sums / np.maximum(counts, 1.0)[:, None]
    background_mean = features.mean(axis=0)
    return {
        "class_means": means,
        "class_counts": counts,
        "precision": _precision(features - means[labels], ridge),
        "background_mean": background_mean,
        "background_precision": _precision(features - background_mean, ridge),
    }


def relative_mahalanobis_scores(features: np.ndarray, statistics: dict[str, np.ndarray]) -> np.ndarray:
    """``min_k [MD_k(z) - MD_0(z)]`` of each row of ``features`` under ``statistics`` (float64, numpy).

    The reference of what ``GlitchFeatureStatistics.relative_mahalanobis`` computes in the model.
    """
    z = np.asarray(features, dtype=np.float64)
    offsets = z[:, None, :] - statistics["class_means"][None]
    class_distances = np.einsum("nkd,de,nke->nk", offsets, statistics["precision"], offsets)
    class_distances[:, np.asarray(statistics["class_counts"]) <= 0] = np.inf
    background = z - statistics["background_mean"]
    background_distance = np.einsum("nd,de,ne->n", background, statistics["background_precision"], background)
    return (class_distances - background_distance[:, None]).min(axis=1)


def fit_model_feature_statistics(
    model: Any,
    image_processor: Any,
    dataset: Any,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    ridge: float = COVARIANCE_RIDGE,
    progress: bool = False,
) -> dict[str, Any]:
    """Fit ``model``'s feature statistics on a labelled split and select the relative Mahalanobis score.

    The split's pooled features (the model in eval mode, no augmentation) give the statistics of
    :func:`fit_feature_statistics`, copied into ``model.unknown_statistics``;
    ``model.config.unknown_score_method`` becomes ``"relative_mahalanobis"``. Fit the threshold
    afterwards (:func:`gravityvit.inference.calibration.calibrate_model` does both).

    Parameters
    ----------
    model : PreTrainedModel
        A GravityViT or CNN-baseline classifier (modified in place; save it afterwards).
    image_processor : GravityViTImageProcessor
        Its processor.
    dataset : datasets.Dataset
        The training split as converted (labelled).

    Returns
    -------
    dict
        ``num_samples``, ``hidden_size``, ``classes_without_samples`` (names) and ``ridge``.
    """
    from gravityvit.training.evaluation import predict_split

    statistics_module = getattr(model, "unknown_statistics", None)
    if statistics_module is None:
        raise ValueError(
            f"{type(model).__name__} has no unknown_statistics: it supports the energy score only"
        )
    predictions = predict_split(
        model,
        image_processor,
        dataset,
        batch_size=batch_size,
        device=device,
        progress=progress,
        return_features=True,
    )
    labelled = predictions.labels >= 0
    num_labels = len(model.config.id2label)
    statistics = fit_feature_statistics(
        predictions.features[labelled], predictions.labels[labelled], num_labels, ridge=ridge
    )
    statistics_module.load_statistics(statistics)
    model.config.unknown_score_method = "relative_mahalanobis"
    missing = [str(model.config.id2label[i]) for i in np.flatnonzero(statistics["class_counts"] == 0)]
    if missing:
        logger.warning("no training samples of %s: they take no part in the unknown score", missing)
    return {
        "num_samples": int(labelled.sum()),
        "hidden_size": int(statistics["precision"].shape[0]),
        "classes_without_samples": missing,
        "ridge": float(ridge),
    }


def effective_unknown_score_method(model: Any) -> str:
    """The score ``model`` returns: its config's ``unknown_score_method``, or ``"energy"`` when the
    config asks for the relative Mahalanobis score but the model holds no fitted statistics."""
    method = getattr(model.config, "unknown_score_method", "energy")
    statistics = getattr(model, "unknown_statistics", None)
    if method == "relative_mahalanobis" and (statistics is None or not statistics.is_fitted()):
        return "energy"
    return method


def unknown_summary(scores: np.ndarray, threshold: float | None, method: str = "energy") -> dict[str, Any]:
    """Median and 95th percentile of the unknown ``scores`` (of ``method``) and the fraction flagged."""
    scores = np.asarray(scores, dtype=np.float64)
    flags = flag_unknown(scores, threshold)
    return {
        "method": method,
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
    "COVARIANCE_RIDGE",
    "DEFAULT_KNOWN_PASS_RATE",
    "effective_unknown_score_method",
    "fit_feature_statistics",
    "fit_model_feature_statistics",
    "fit_unknown_threshold",
    "flag_unknown",
    "open_set_auroc",
    "relative_mahalanobis_scores",
    "replace_unknown_labels",
    "unknown_scores",
    "unknown_summary",
]
