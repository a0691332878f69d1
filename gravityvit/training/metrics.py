"""The glitch metrics for the Trainer and the reports, through the ``evaluate`` module shipped in the package."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The evaluate metric module (a script evaluate.load reads by path, offline).
GLITCH_METRICS_PATH = str(Path(__file__).resolve().parent / "glitch_metrics" / "glitch_metrics.py")

# Scalars the Trainer logs at every evaluation (per-class scores go to the final report only).
SUMMARY_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "weighted_f1",
    "macro_precision",
    "macro_recall",
)


@functools.lru_cache(maxsize=1)
def load_glitch_metric():
    """Load the package's ``glitch_metrics`` evaluate module by path (no Hub access).

    ``keep_in_memory`` keeps evaluate from sharing a cache file between the processes of a
    distributed run, which would make them wait on each other's lock.
    """
    import evaluate

    return evaluate.load(GLITCH_METRICS_PATH, keep_in_memory=True)


def compute_glitch_metrics(
    predictions: Sequence[int] | np.ndarray,
    references: Sequence[int] | np.ndarray,
    label_names: Sequence[str],
) -> dict[str, Any]:
    """All glitch metrics (see ``glitch_metrics.py``) for integer ``predictions`` against ``references``."""
    return load_glitch_metric().compute(
        predictions=np.asarray(predictions, dtype=np.int64).tolist(),
        references=np.asarray(references, dtype=np.int64).tolist(),
        num_labels=len(label_names),
        label_names=list(label_names),
    )


def logits_of(predictions: Any) -> np.ndarray:
    """The logits array of what the Trainer gathered: the first element when the model returned a tuple
    (logits, view_weights, ...)."""
    while isinstance(predictions, (tuple, list)):
        predictions = predictions[0]
    return np.asarray(predictions)


def make_compute_metrics(label_names: Sequence[str]) -> Callable[[Any], dict[str, float]]:
    """A ``compute_metrics`` for the HF Trainer: the summary scalars of ``SUMMARY_METRICS``.

    ``metric_for_best_model="macro_f1"`` selects the checkpoint with the best validation macro-F1.
    """
    names = list(label_names)

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = logits_of(eval_prediction.predictions)
        references = np.asarray(eval_prediction.label_ids).reshape(-1)
        result = compute_glitch_metrics(logits.argmax(axis=-1), references, names)
        return {key: float(result[key]) for key in SUMMARY_METRICS}

    return compute_metrics
