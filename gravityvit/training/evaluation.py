"""The evaluation report of a trained glitch classifier on one split, as files a person can open.

Used by ``examples/evaluate.py`` and, on the test split, at the end of ``examples/train.py``.
``write_evaluation_report`` writes into one directory (atomically: all files or none):

- ``metrics.json``: accuracy, balanced accuracy, macro / weighted F1, per-class precision / recall /
  F1 / support, the confusion matrix, the accuracy with one duration only, the worst mistakes, and
  under ``intervals`` the 95 % bootstrap intervals of accuracy, macro-F1 and each class's F1 (1,000
  resamples of the evaluated samples, seed 0; each class's interval is also its ``f1_interval``);
- ``classification_report.txt``: the intervals, then scikit-learn's per-class table with class names;
- ``confusion_matrix.png``: row-normalised (recall on the diagonal), class names on both axes;
- ``view_importance.png``: mean fusion view weight per true class and duration (which windows the
  model looked at), when the model reports ``view_weights``;
- ``single_duration_accuracy.png``: accuracy and macro-F1 with only the 0.5, 1, 2 or 4 s view given;
- ``worst_mistakes.png``: the most confident wrong predictions with their views;
- ``reliability_diagram.png``: accuracy per confidence bin before and after temperature scaling
  (``metrics.json`` has the 15-bin ECE and NLL of both under ``calibration``, the unknown-glitch
  scores under ``unknown`` and, when asked for, the label-flip rates under small time shifts under
  ``time_shift``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gravityvit.file_utils import OutputKind, atomic_path, check_output, directory_of_files
from gravityvit.inference.calibration import add_calibration_to_report
from gravityvit.inference.unknown import effective_unknown_score_method, unknown_scores, unknown_summary
from gravityvit.training.data import GlitchCollator, GlitchViewsTransform, prepare_split
from gravityvit.training.intervals import bootstrap_intervals
from gravityvit.training.metrics import compute_glitch_metrics

logger = logging.getLogger(__name__)
# A report directory; reports written before output markers existed are recognised by their files.
EVALUATION_REPORT = OutputKind(
    "evaluation report",
    directory=True,
    recognise=directory_of_files(
        "metrics.json", "classification_report.txt", "*.png", required=("metrics.json",)
    ),
)

REPORT_FILES: tuple[str, ...] = (
    "metrics.json",
    "classification_report.txt",
    "confusion_matrix.png",
    "single_duration_accuracy.png",
    "worst_mistakes.png",
    "reliability_diagram.png",
)


@dataclasses.dataclass
class Predictions:
    """What a model predicted on a split.

    Attributes
    ----------
    logits : np.ndarray
        float32 (N, num_labels).
    labels : np.ndarray
        int64 (N,) true class ids.
    view_weights : np.ndarray or None
        float32 (N, V) fusion weight of each view, None when the model does not report them.
    view_mask : np.ndarray
        bool (N, V), the views given to the model.
    unknown_scores : np.ndarray or None
        float64 (N,) the model's ``unknown_score`` (of its config's ``unknown_score_method``), or the
        energy of ``logits`` for a model that returns none.
    features : np.ndarray or None
        float64 (N, D) the pooled features the unknown score reads, with ``return_features``.
    """

    logits: np.ndarray
    labels: np.ndarray
    view_weights: np.ndarray | None
    view_mask: np.ndarray
    unknown_scores: np.ndarray | None = None
    features: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class ids (N,)."""
        return self.logits.argmax(axis=-1)

    @property
    def probabilities(self) -> np.ndarray:
        """Softmax scores (N, num_labels)."""
        shifted = self.logits - self.logits.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=-1, keepdims=True)


def default_device() -> torch.device:
    """CUDA, then MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@torch.no_grad()
def predict_split(
    model,
    image_processor,
    dataset,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    only_view: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
    keep_views: Sequence[int] | None = None,
    return_features: bool = False,
) -> Predictions:
    """Run ``model`` over one split (an untransformed Dataset) in batches.

    Parameters
    ----------
    model : PreTrainedModel
        GravityViT or the CNN baseline; called with ``pixel_values`` and ``view_mask``.
    image_processor : GravityViTImageProcessor
        The model's processor (its batched ``preprocess_views``).
    dataset : datasets.Dataset
        The split as converted (Image columns + label).
    batch_size : int
        Samples per forward pass.
    device : str or torch.device, optional
        Defaults to CUDA > MPS > CPU.
    only_view : int, optional
        Give the model only this view position (the others masked).
    num_workers : int
        DataLoader worker processes for decoding.
    progress : bool
        Show a tqdm progress bar.
    keep_views : sequence of int, optional
        Give the model only these view positions (the others masked); exclusive with ``only_view``.
    return_features : bool
        Also collect the pooled features that ``model.unknown_statistics`` reads (``features``).
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else default_device()
    view_durations_s = getattr(model.config, "view_durations_s", None) or (0.5, 1.0, 2.0, 4.0)
    split = prepare_split(dataset, view_durations_s, only_view=only_view, keep_views=keep_views)
    loader = DataLoader(
        split, batch_size=batch_size, collate_fn=GlitchCollator(image_processor), num_workers=num_workers
    )
    was_training = model.training
    model.eval().to(device)
    logits, labels, weights, masks, scores, features = [], [], [], [], [], []
    hook = None
    if return_features:
        statistics = getattr(model, "unknown_statistics", None)
        if statistics is None:
            raise ValueError(f"{type(model).__name__} has no unknown_statistics to read pooled features from")
        # The statistics module is called with (logits, features, method): keep the features.
        hook = statistics.register_forward_hook(
            lambda _module, inputs, _output: features.append(inputs[1].detach().double().cpu().numpy())
        )
    description = "predict" if only_view is None else f"predict (view {only_view} only)"
    if keep_views is not None:
        description = f"predict (views {list(keep_views)})"
    try:
        for batch in tqdm(loader, desc=description, disable=not progress, leave=False):
            output = model(
                pixel_values=batch["pixel_values"].to(device), view_mask=batch["view_mask"].to(device)
            )
            logits.append(output.logits.float().cpu().numpy())
            labels.append(batch["labels"].numpy() if "labels" in batch else np.full(len(output.logits), -100))
            masks.append(batch["view_mask"].numpy())
            view_weights = getattr(output, "view_weights", None)
            weights.append(None if view_weights is None else view_weights.float().cpu().numpy())
            score = getattr(output, "unknown_score", None)
            scores.append(unknown_scores(output.logits) if score is None else score.double().cpu().numpy())
    finally:
        if hook is not None:
            hook.remove()
        model.train(was_training)
    return Predictions(
        logits=np.concatenate(logits),
        labels=np.concatenate(labels).astype(np.int64),
        view_weights=None if any(w is None for w in weights) else np.concatenate(weights),
        view_mask=np.concatenate(masks).astype(bool),
        unknown_scores=np.concatenate(scores),
        features=np.concatenate(features) if return_features else None,
    )


def _label_names(model) -> list[str]:
    id2label = model.config.id2label
    return [str(id2label[i]) for i in sorted(int(k) for k in id2label)]


def single_duration_results(
    model, image_processor, dataset, label_names: Sequence[str], batch_size: int = 64, device=None
) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 when the model sees only one duration, for each of its views.

    Samples whose view of that duration is missing are left out of that duration's score.
    """
    durations = getattr(model.config, "view_durations_s", None) or (0.5, 1.0, 2.0, 4.0)
    results = {}
    for index, duration_s in enumerate(durations):
        predictions = predict_split(
            model, image_processor, dataset, batch_size=batch_size, device=device, only_view=index
        )
        present = predictions.view_mask[:, index]
        if not present.any():
            continue
        metrics = compute_glitch_metrics(
            predictions.predicted[present], predictions.labels[present], label_names
        )
        results[f"{duration_s:g}s"] = {
            "duration_s": float(duration_s),
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "num_samples": int(present.sum()),
        }
    return results


# Numbers of durations given in ``view_subset_results``: one, two and all four.
VIEW_SUBSET_SIZES: tuple[int, ...] = (1, 2, 4)


def view_subset_results(
    model,
    image_processor,
    dataset,
    sizes: Sequence[int] = VIEW_SUBSET_SIZES,
    durations_s: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    batch_size: int = 64,
    device=None,
) -> dict[str, dict[str, Any]]:
    """Accuracy and macro-F1 when the model is given k of the Gravity Spy durations, for each k in ``sizes``.

    For each k, every subset of k durations of ``durations_s`` is given in turn (the other views
    masked, as for a real sample that lacks them) and the scores are averaged over the subsets: k=1
    averages the 0.5, 1, 2 and 4 s views alone, k=2 the six pairs. A model sees the durations of a
    subset that it takes; a subset with none of them (the 0.5 s view for a 1 s single-view model) is
    left out of its average, and ``subsets_read`` says how many of ``subsets_total`` counted. Every
    sample of ``dataset`` must hold the durations given (simulated splits hold all four).

    Returns:
        `dict`: ``{"1": {"num_views": 1, "accuracy", "macro_f1", "subsets_read", "subsets_total",
        "subsets": [{"durations_s", "accuracy", "macro_f1", "num_samples"}, ...]}, "2": ..., "4": ...}``;
        a size larger than ``len(durations_s)`` is an error.
    """
    import itertools
    import math

    label_names = _label_names(model)
    model_durations = list(getattr(model.config, "view_durations_s", None) or (0.5, 1.0, 2.0, 4.0))
    results: dict[str, dict[str, Any]] = {}
    for size in sizes:
        if not 1 <= size <= len(durations_s):
            raise ValueError(f"view subset size must be in [1, {len(durations_s)}]; got {size}")
        subsets = list(itertools.combinations(durations_s, size))
        scores = []
        for subset in subsets:
            positions = [
                index
                for index, duration_s in enumerate(model_durations)
                if any(math.isclose(duration_s, given) for given in subset)
            ]
            if not positions:
                continue
            predictions = predict_split(
                model,
                image_processor,
                dataset,
                batch_size=batch_size,
                device=device,
                keep_views=positions,
                progress=False,
            )
            metrics = compute_glitch_metrics(predictions.predicted, predictions.labels, label_names)
            scores.append(
                {
                    "durations_s": [float(d) for d in subset],
                    "accuracy": metrics["accuracy"],
                    "macro_f1": metrics["macro_f1"],
                    "num_samples": len(predictions.labels),
                }
            )
        if scores:
            results[str(size)] = {
                "num_views": size,
                "accuracy": float(np.mean([score["accuracy"] for score in scores])),
                "macro_f1": float(np.mean([score["macro_f1"] for score in scores])),
                "subsets_read": len(scores),
                "subsets_total": len(subsets),
                "subsets": scores,
            }
    return results


def _figure(width_in: float, height_in: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width_in, height_in))


def plot_confusion_matrix(confusion: np.ndarray, label_names: Sequence[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix (each row sums to 1: recall on the diagonal) with class names."""
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion, dtype=float)
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    size = max(6.0, 0.45 * len(label_names) + 3)
    fig, ax = _figure(size, size * 0.9)
    image = ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = np.arange(len(label_names))
    ax.set_xticks(ticks, labels=label_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, labels=[f"{n} ({int(c)})" for n, c in zip(label_names, rows[:, 0])], fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (support)")
    for i, j in zip(*np.nonzero(normalised >= 0.005)):
        ax.text(
            j,
            i,
            f"{normalised[i, j]:.2f}",
            ha="center",
            va="center",
            fontsize=6,
            color="white" if normalised[i, j] > 0.5 else "black",
        )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def view_importance(predictions: Predictions, num_labels: int) -> np.ndarray:
    """Mean fusion weight per true class (rows) and view (columns) over samples with all views given."""
    full = predictions.view_mask.all(axis=1)
    table = np.full((num_labels, predictions.view_mask.shape[1]), np.nan)
    for label in range(num_labels):
        chosen = full & (predictions.labels == label)
        if chosen.any():
            table[label] = predictions.view_weights[chosen].mean(axis=0)
    return table


def plot_view_importance(
    table: np.ndarray, label_names: Sequence[str], durations_s: Sequence[float], path: Path
) -> None:
    """Heat map of the mean view weight per class and duration."""
    import matplotlib.pyplot as plt

    fig, ax = _figure(2.0 + 1.2 * len(durations_s), 0.35 * len(label_names) + 2)
    image = ax.imshow(np.ma.masked_invalid(table), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(np.arange(len(durations_s)), labels=[f"{d:g} s" for d in durations_s])
    ax.set_yticks(np.arange(len(label_names)), labels=label_names, fontsize=8)
    for i, j in zip(*np.nonzero(np.isfinite(table))):
        ax.text(j, i, f"{table[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.set_xlabel("Omega-scan window")
    ax.set_title("Mean fusion view weight per true class")
    fig.colorbar(image, ax=ax, label="view weight")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_single_duration(
    results: dict[str, dict[str, float]], all_views: dict[str, float], path: Path
) -> None:
    """Bar chart of accuracy and macro-F1 with one duration only, beside the score with all views."""
    import matplotlib.pyplot as plt

    names = [*results, "all views"]
    accuracy = [results[n]["accuracy"] for n in results] + [all_views["accuracy"]]
    macro_f1 = [results[n]["macro_f1"] for n in results] + [all_views["macro_f1"]]
    positions = np.arange(len(names))
    fig, ax = _figure(7, 4)
    ax.bar(positions - 0.2, accuracy, width=0.4, label="accuracy")
    ax.bar(positions + 0.2, macro_f1, width=0.4, label="macro-F1")
    for x, (a, f) in enumerate(zip(accuracy, macro_f1)):
        ax.text(x - 0.2, a + 0.01, f"{a:.3f}", ha="center", fontsize=7)
        ax.text(x + 0.2, f + 0.01, f"{f:.3f}", ha="center", fontsize=7)
    ax.set_xticks(positions, labels=names)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("score")
    ax.set_title("Only one duration given")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def worst_mistakes(predictions: Predictions, count: int) -> np.ndarray:
    """Indices of the ``count`` wrong predictions made with the highest confidence."""
    probabilities = predictions.probabilities
    wrong = np.flatnonzero(predictions.predicted != predictions.labels)
    confidence = probabilities[wrong, predictions.predicted[wrong]]
    return wrong[np.argsort(-confidence)][:count]


def plot_mistakes(
    dataset,
    indices: np.ndarray,
    predictions: Predictions,
    label_names: Sequence[str],
    durations_s: Sequence[float],
    path: Path,
) -> None:
    """Gallery of mistakes: one row per sample, its views (low frequency at the bottom), true vs predicted."""
    import matplotlib.pyplot as plt

    transform = GlitchViewsTransform(durations_s)
    rows = max(len(indices), 1)
    fig, axes = plt.subplots(
        rows, len(durations_s), figsize=(2.2 * len(durations_s), 2.0 * rows), squeeze=False
    )
    probabilities = predictions.probabilities
    for row, index in enumerate(indices):
        decoded = transform(dataset[int(index) : int(index) + 1])
        views, mask = decoded["views"][0], decoded["view_mask"][0]
        true, predicted = predictions.labels[index], predictions.predicted[index]
        sample = decoded.get("gravityspy_id", [str(index)])[0]
        for column, duration_s in enumerate(durations_s):
            ax = axes[row, column]
            if mask[column]:
                ax.imshow(views[column], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{duration_s:g} s", fontsize=9)
        axes[row, 0].set_ylabel(
            f"{sample}\ntrue {label_names[true]}\npred {label_names[predicted]} "
            f"({probabilities[index, predicted]:.2f})",
            fontsize=7,
        )
    if not len(indices):
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center", transform=axes[0, 0].transAxes)
    fig.suptitle("Most confident mistakes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def add_intervals(report: dict[str, Any], predictions: Predictions, label_names: Sequence[str]) -> None:
    """Add the bootstrap intervals to ``report``: ``intervals`` and each class's ``f1_interval`` (after its F1)."""
    intervals = bootstrap_intervals(predictions.predicted, predictions.labels, len(label_names), label_names)
    report["intervals"] = intervals
    for name, scores in report.get("per_class", {}).items():
        bounds = intervals["per_class_f1"][name]
        report["per_class"][name] = {
            "precision": scores["precision"],
            "recall": scores["recall"],
            "f1": scores["f1"],
            "f1_interval": bounds,
            "support": scores["support"],
        }


def format_interval(bounds: Sequence[float] | None, digits: int = 3) -> str:
    """``[0.912, 0.947]``, or ``-`` when there is no interval."""
    return "-" if bounds is None else f"[{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]"


def _intervals_text(report: dict[str, Any]) -> str:
    intervals = report["intervals"]
    return (
        f"accuracy {report['accuracy']:.4f} {format_interval(intervals['accuracy'], 4)}, macro-F1 "
        f"{report['macro_f1']:.4f} {format_interval(intervals['macro_f1'], 4)} "
        f"({intervals['confidence']:.0%} bootstrap intervals, {intervals['num_resamples']} resamples, "
        f"seed {intervals['seed']})"
    )


def _classification_report(predictions: Predictions, label_names: Sequence[str]) -> str:
    from sklearn.metrics import classification_report

    return classification_report(
        predictions.labels,
        predictions.predicted,
        labels=np.arange(len(label_names)),
        target_names=list(label_names),
        digits=4,
        zero_division=0,
    )


def write_evaluation_report(
    model,
    image_processor,
    dataset,
    output_dir: str | os.PathLike,
    split: str = "test",
    batch_size: int = 64,
    device: str | torch.device | None = None,
    gallery_size: int = 12,
    single_duration: bool = True,
    time_shift_samples_per_class: int = 0,
) -> dict[str, Any]:
    """Evaluate ``model`` on one split and write the report files (see the module docstring).

    Parameters
    ----------
    model : PreTrainedModel
        The classifier; its ``config.id2label`` names the classes.
    image_processor : GravityViTImageProcessor
        The model's processor.
    dataset : datasets.Dataset
        The split to evaluate, untransformed (as converted).
    output_dir : path
        The report directory, written atomically. It may replace only an earlier evaluation report
        (``OutputError`` otherwise, raised before any work).
    split : str
        Name of the split, for titles and the JSON.
    batch_size : int
        Samples per forward pass.
    device : str or torch.device, optional
        Defaults to CUDA > MPS > CPU.
    gallery_size : int
        Number of mistakes shown in ``worst_mistakes.png``.
    single_duration : bool
        Also score the model with each duration alone (one extra pass per view).
    time_shift_samples_per_class : int
        When positive, also measure label flips under ±1, ±5 and ±10 ms time shifts on this many
        simulated glitches per class (``gravityvit.inference.stability``; about 7 Omega scans each).

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    if len(dataset) == 0:
        raise ValueError(f"split {split!r} is empty: nothing to evaluate")
    check_output(output_dir, EVALUATION_REPORT)
    label_names = _label_names(model)
    durations = list(getattr(model.config, "view_durations_s", None) or (0.5, 1.0, 2.0, 4.0))
    logger.info("evaluating on %d %s samples", len(dataset), split)
    predictions = predict_split(model, image_processor, dataset, batch_size=batch_size, device=device)
    metrics = compute_glitch_metrics(predictions.predicted, predictions.labels, label_names)
    report: dict[str, Any] = {"split": split, "num_samples": len(dataset), **metrics}
    add_intervals(report, predictions, label_names)
    if single_duration and len(durations) > 1:
        report["single_duration"] = single_duration_results(
            model, image_processor, dataset, label_names, batch_size=batch_size, device=device
        )
    mistakes = worst_mistakes(predictions, gallery_size)
    ids = dataset["gravityspy_id"] if "gravityspy_id" in dataset.column_names else None
    report["worst_mistakes"] = [
        {
            "index": int(i),
            "gravityspy_id": None if ids is None else ids[int(i)],
            "true": label_names[predictions.labels[i]],
            "predicted": label_names[predictions.predicted[i]],
            "confidence": float(predictions.probabilities[i, predictions.predicted[i]]),
        }
        for i in mistakes
    ]
    if predictions.view_weights is not None:
        table = view_importance(predictions, len(label_names))
        report["view_importance"] = {
            name: {f"{d:g}s": (None if np.isnan(v) else float(v)) for d, v in zip(durations, row)}
            for name, row in zip(label_names, table)
        }

    report["unknown"] = unknown_summary(
        predictions.unknown_scores,
        getattr(model.config, "unknown_threshold", None),
        effective_unknown_score_method(model),
    )
    if time_shift_samples_per_class > 0:
        from gravityvit.inference.stability import time_shift_stability

        report["time_shift"] = time_shift_stability(
            model, image_processor, samples_per_class=time_shift_samples_per_class, batch_size=batch_size
        )

    with atomic_path(output_dir, kind=EVALUATION_REPORT) as temporary:
        # ECE before / after temperature scaling and reliability_diagram.png.
        add_calibration_to_report(
            report,
            predictions.logits,
            predictions.labels,
            float(getattr(model.config, "logit_temperature", 1.0)),
            temporary,
            split,
        )
        (temporary / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        (temporary / "classification_report.txt").write_text(
            f"{split} split, {len(dataset)} samples\n{_intervals_text(report)}\n\n"
            f"{_classification_report(predictions, label_names)}"
        )
        plot_confusion_matrix(
            np.asarray(metrics["confusion_matrix"]),
            label_names,
            temporary / "confusion_matrix.png",
            f"{split}: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}",
        )
        if "view_importance" in report:
            plot_view_importance(table, label_names, durations, temporary / "view_importance.png")
        if "single_duration" in report:
            plot_single_duration(
                report["single_duration"], metrics, temporary / "single_duration_accuracy.png"
            )
        plot_mistakes(
            dataset, mistakes, predictions, label_names, durations, temporary / "worst_mistakes.png"
        )
    logger.info("%s: %s; report in %s", split, _intervals_text(report), output_dir)
    return report
