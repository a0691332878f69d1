"""Calibrated probabilities: temperature scaling, the expected calibration error, reliability diagrams.

A classifier trained with cross-entropy is usually over-confident: among the samples it scores 0.9,
fewer than 90 % are right. Temperature scaling (Guo et al. 2017, "On calibration of modern neural
networks") divides the logits by one scalar ``T`` fitted on held-out data by minimising the negative
log-likelihood; it changes no predicted label. The fitted ``T`` is stored in the model config
(``logit_temperature``) and the models divide their logits by it, so every consumer (both pipelines,
``gravityvit predict``, the evaluation report) sees calibrated scores.

:func:`calibrate_model` does it for a trained model on a validation split, together with the
unknown-glitch threshold (and, given the training split, the class statistics of the relative
Mahalanobis score) of :mod:`gravityvit.inference.unknown`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

ECE_BINS = 15
# Temperatures outside this range mean the logits carry no usable signal (or a bug): refuse them.
TEMPERATURE_RANGE: tuple[float, float] = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``logits / temperature`` along the last axis, float64."""
    scaled = np.asarray(logits, dtype=np.float64) / float(temperature)
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def _check_logits_labels(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits, labels = np.asarray(logits), np.asarray(labels).astype(np.int64).reshape(-1)
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"logits must have shape (N, num_labels) and labels (N,); got {logits.shape} and {labels.shape}"
        )
    if labels.size == 0:
        raise ValueError("no samples: calibration needs at least one labelled sample")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(
            f"labels must lie in [0, {logits.shape[1]}); got range [{labels.min()}, {labels.max()}]"
        )
    if not np.isfinite(logits).all():
        raise ValueError("logits contain NaN or infinite values")
    return logits, labels


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, num_bins: int = ECE_BINS
) -> dict[str, np.ndarray]:
    """Bin samples by confidence (the top softmax score) into ``num_bins`` equal-width bins of (0, 1].

    Returns
    -------
    dict
        ``edges`` (num_bins + 1,), and per bin ``count``, ``accuracy`` (fraction right) and
        ``confidence`` (mean top score); accuracy and confidence are NaN for empty bins.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == labels
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # Bin b holds confidences in (edges[b], edges[b + 1]]; a confidence is never below 1 / num_labels > 0.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, num_bins - 1)
    count = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(index, weights=correct, minlength=num_bins) / count
        mean_confidence = np.bincount(index, weights=confidence, minlength=num_bins) / count
    return {"edges": edges, "count": count, "accuracy": accuracy, "confidence": mean_confidence}


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, num_bins: int = ECE_BINS
) -> float:
    """ECE: the sample-weighted mean over confidence bins of |accuracy - mean confidence|.

    Parameters
    ----------
    probabilities : np.ndarray
        (N, num_labels) softmax scores.
    labels : np.ndarray
        (N,) true class ids.
    num_bins : int
        Equal-width confidence bins over (0, 1] (15, as in Guo et al. 2017).
    """
    bins = reliability_bins(probabilities, labels, num_bins)
    filled = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float((bins["count"][filled] * gaps).sum() / bins["count"].sum())


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    logits, labels = _check_logits_labels(logits, labels)
    scaled = torch.as_tensor(logits, dtype=torch.float64) / float(temperature)
    return float(torch.nn.functional.cross_entropy(scaled, torch.as_tensor(labels)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """Fit the temperature ``T`` minimising the NLL of ``softmax(logits / T)`` (LBFGS on ``log T``).

    Parameters
    ----------
    logits : np.ndarray
        (N, num_labels) undivided logits of held-out samples (the validation split).
    labels : np.ndarray
        (N,) their true class ids.
    max_iter : int
        LBFGS iterations (the problem is one-dimensional and convex in ``1 / T``).

    Returns
    -------
    float
        ``T`` > 0, clipped to ``TEMPERATURE_RANGE``; T > 1 softens over-confident scores.
    """
    logits, labels = _check_logits_labels(logits, labels)
    values = torch.as_tensor(logits, dtype=torch.float64)
    targets = torch.as_tensor(labels)
    # Optimising log T keeps T positive; start at T = 1.
    log_temperature = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(values / log_temperature.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_temperature.detach().exp())
    if not math.isfinite(temperature):
        raise ValueError("temperature fit diverged (non-finite); are the logits constant?")
    low, high = TEMPERATURE_RANGE
    if not low <= temperature <= high:
        logger.warning("fitted temperature %.4g clipped to [%g, %g]", temperature, low, high)
    return float(np.clip(temperature, low, high))


def calibration_summary(raw_logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict[str, Any]:
    """ECE (15 bins) and NLL of ``raw_logits`` before (T = 1) and after dividing by ``temperature``."""
    raw_logits, labels = _check_logits_labels(raw_logits, labels)
    before, after = softmax(raw_logits), softmax(raw_logits, temperature)
    return {
        "temperature": float(temperature),
        "num_bins": ECE_BINS,
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "nll_before": negative_log_likelihood(raw_logits, labels),
        "nll_after": negative_log_likelihood(raw_logits, labels, temperature),
    }


def plot_reliability_diagram(
    raw_logits: np.ndarray, labels: np.ndarray, temperature: float, path: str | Path, title: str = ""
) -> None:
    """Two reliability diagrams side by side: accuracy per confidence bin before and after scaling.

    Bars are the accuracy of each bin, the diagonal is perfect calibration, the gap between them is
    what the ECE averages; bin counts are written above the bars.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    for ax, (name, t) in zip(
        axes, (("before scaling (T = 1)", 1.0), (f"after scaling (T = {temperature:.3f})", temperature))
    ):
        probabilities = softmax(raw_logits, t)
        bins = reliability_bins(probabilities, labels)
        ece = expected_calibration_error(probabilities, labels)
        centres = (bins["edges"][:-1] + bins["edges"][1:]) / 2
        width = bins["edges"][1] - bins["edges"][0]
        filled = bins["count"] > 0
        ax.bar(
            centres[filled], bins["accuracy"][filled], width=width * 0.95, color="tab:blue", label="accuracy"
        )
        ax.bar(
            centres[filled],
            bins["confidence"][filled] - bins["accuracy"][filled],
            bottom=bins["accuracy"][filled],
            width=width * 0.95,
            color="tab:red",
            alpha=0.3,
            label="gap to confidence",
        )
        for x, y, n in zip(centres[filled], bins["accuracy"][filled], bins["count"][filled]):
            ax.text(x, min(y, 1.0) + 0.02, str(int(n)), ha="center", fontsize=6)
        ax.plot([0, 1], [0, 1], "k--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.08)
        ax.set_xlabel("confidence (top softmax score)")
        ax.set_title(f"{name}\nECE {ece:.4f} ({ECE_BINS} bins)", fontsize=10)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_calibration_to_report(
    report: dict[str, Any],
    logits: np.ndarray,
    labels: np.ndarray,
    temperature: float,
    directory: Path,
    split: str,
) -> None:
    """Add ``calibration`` (ECE / NLL before and after scaling) to an evaluation report and draw
    ``reliability_diagram.png`` in ``directory``.

    ``logits`` are what the model returned, already divided by ``temperature``; unlabelled samples
    (label -100) are left out.
    """
    labelled = np.asarray(labels) >= 0
    if not labelled.any():
        return
    raw = np.asarray(logits, dtype=np.float64)[labelled] * float(temperature)
    report["calibration"] = calibration_summary(raw, np.asarray(labels)[labelled], temperature)
    plot_reliability_diagram(
        raw,
        np.asarray(labels)[labelled],
        temperature,
        Path(directory) / "reliability_diagram.png",
        title=f"{split} split",
    )


def calibrate_model(
    model: Any,
    image_processor: Any,
    dataset: Any,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    known_pass_rate: float = 0.95,
    progress: bool = False,
    statistics_dataset: Any | None = None,
    unknown_score_method: str | None = None,
) -> dict[str, Any]:
    """Fit ``logit_temperature`` and ``unknown_threshold`` of ``model.config`` on a labelled split,
    and with ``statistics_dataset`` the feature statistics of the relative Mahalanobis score.

    Parameters
    ----------
    model : PreTrainedModel
        A GravityViT or CNN-baseline classifier; its config (and its ``unknown_statistics`` buffers,
        when fitted) are updated in place (save it afterwards).
    image_processor : GravityViTImageProcessor
        The model's processor.
    dataset : datasets.Dataset
        Held-out labelled samples, as converted (the validation split; never the test split).
    batch_size : int
        Samples per forward pass.
    device : str or torch.device, optional
        Defaults to CUDA > MPS > CPU.
    known_pass_rate : float
        Fraction of these (known) samples whose unknown score stays at or below the threshold.
    statistics_dataset : datasets.Dataset, optional
        The training split: with the ``"relative_mahalanobis"`` score, the class statistics are
        (re)fitted on its pooled features first. Without it, the model's fitted statistics are used.
    unknown_score_method : str, optional
        ``"energy"`` or ``"relative_mahalanobis"``; default: the config's ``unknown_score_method``.
        Stored in the config; the threshold is fitted on that score.

    Returns
    -------
    dict
        ``temperature``, the ECE / NLL before and after (:func:`calibration_summary`),
        ``unknown_score_method``, ``unknown_threshold``, ``known_pass_rate``, ``num_samples`` and,
        when fitted here, ``feature_statistics``.

    Raises
    ------
    ValueError
        For fewer than 2 labelled samples, an unknown score method, or the relative Mahalanobis
        score for a model without fitted statistics and without ``statistics_dataset``.
    """
    from gravityvit.configuration_common import check_unknown_score_method
    from gravityvit.inference.unknown import (
        fit_model_feature_statistics,
        fit_unknown_threshold,
        unknown_scores,
    )
    from gravityvit.training.evaluation import predict_split

    if len(dataset) < 2:
        raise ValueError(f"calibration needs at least 2 labelled samples; the split has {len(dataset)}")
    method = check_unknown_score_method(
        unknown_score_method or getattr(model.config, "unknown_score_method", "energy")
    )
    statistics_summary = None
    if method == "relative_mahalanobis":
        statistics = getattr(model, "unknown_statistics", None)
        if statistics_dataset is not None:
            statistics_summary = fit_model_feature_statistics(
                model,
                image_processor,
                statistics_dataset,
                batch_size=batch_size,
                device=device,
                progress=progress,
            )
        elif statistics is None or not statistics.is_fitted():
            raise ValueError(
                "the relative Mahalanobis unknown score needs class statistics: give the training split "
                "to fit them on (statistics_dataset; gravityvit calibrate --statistics-split train)"
            )
    model.config.unknown_score_method = method
    predictions = predict_split(
        model, image_processor, dataset, batch_size=batch_size, device=device, progress=progress
    )
    labelled = predictions.labels >= 0
    if labelled.sum() < 2:
        raise ValueError("calibration needs labelled samples; the split has fewer than 2 labels")
    # The model already divides by its current temperature: undo it to fit from scratch.
    raw = predictions.logits[labelled].astype(np.float64) * float(model.config.logit_temperature)
    labels = predictions.labels[labelled]
    temperature = fit_temperature(raw, labels)
    # The energy depends on the temperature just fitted; the relative Mahalanobis score does not.
    scores = unknown_scores(raw / temperature) if method == "energy" else predictions.unknown_scores[labelled]
    threshold = fit_unknown_threshold(scores, known_pass_rate)
    model.config.logit_temperature = temperature
    model.config.unknown_threshold = threshold
    summary = calibration_summary(raw, labels, temperature)
    summary.update(
        {
            "unknown_score_method": method,
            "unknown_threshold": threshold,
            "known_pass_rate": float(known_pass_rate),
            "num_samples": int(labelled.sum()),
        }
    )
    if statistics_summary is not None:
        summary["feature_statistics"] = statistics_summary
    logger.info(
        "calibrated on %d samples: temperature %.4f (ECE %.4f -> %.4f), %s unknown threshold %.4f",
        summary["num_samples"],
        temperature,
        summary["ece_before"],
        summary["ece_after"],
        method,
        threshold,
    )
    return summary


def calibrate_and_save(
    model: Any, image_processor: Any, dataset: Any, output_dir: str | Path, **kwargs: Any
) -> dict[str, Any]:
    """:func:`calibrate_model` on ``dataset``, then rewrite ``output_dir/config.json`` with the fit
    (and the weights file, whose ``unknown_statistics`` buffers change when statistics are fitted).

    Called at the end of training on the validation split; ``kwargs`` go to :func:`calibrate_model`.
    """
    summary = calibrate_model(model, image_processor, dataset, **kwargs)
    if "feature_statistics" in summary:
        model.save_pretrained(output_dir, safe_serialization=True)
    else:
        model.config.save_pretrained(output_dir)
    return summary


__all__: Sequence[str] = [
    "ECE_BINS",
    "add_calibration_to_report",
    "calibrate_and_save",
    "calibrate_model",
    "calibration_summary",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "plot_reliability_diagram",
    "reliability_bins",
    "softmax",
]
