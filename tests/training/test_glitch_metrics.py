"""The glitch_metrics evaluate module against scikit-learn on known inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from gravityvit.gravity_spy import CLASS_NAMES
from gravityvit.training.metrics import compute_glitch_metrics, load_glitch_metric, make_compute_metrics


def _random_predictions(seed: int, size: int = 300, num_labels: int = 22, accuracy: float = 0.7):
    rng = np.random.default_rng(seed)
    references = rng.integers(0, num_labels, size)
    predictions = np.where(rng.random(size) < accuracy, references, rng.integers(0, num_labels, size))
    return predictions, references


def test_hand_computed_example():
    result = load_glitch_metric().compute(predictions=[0, 1, 1, 2], references=[0, 1, 0, 2], num_labels=4)
    assert result["accuracy"] == pytest.approx(0.75)
    # Recalls: class 0 1/2, class 1 1/1, class 2 1/1 -> balanced accuracy 5/6 (class 3 absent).
    assert result["balanced_accuracy"] == pytest.approx(5 / 6)
    assert result["f1"] == pytest.approx([2 / 3, 2 / 3, 1.0, 0.0])
    assert result["support"] == [2, 1, 1, 0]
    assert result["confusion_matrix"] == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_learn(seed):
    predictions, references = _random_predictions(seed)
    # Leave one class out of the references only (predicted, never true) and one out of both.
    references = np.where(references == 5, 6, references)
    predictions = np.where(predictions == 7, 8, predictions)
    references = np.where(references == 7, 8, references)
    result = compute_glitch_metrics(predictions, references, CLASS_NAMES)
    labels = np.arange(len(CLASS_NAMES))
    assert result["accuracy"] == pytest.approx(accuracy_score(references, predictions))
    assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(references, predictions))
    assert result["macro_f1"] == pytest.approx(
        f1_score(references, predictions, average="macro", zero_division=0)
    )
    assert result["weighted_f1"] == pytest.approx(
        f1_score(references, predictions, average="weighted", zero_division=0)
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        references, predictions, labels=labels, zero_division=0
    )
    np.testing.assert_allclose(result["precision"], precision)
    np.testing.assert_allclose(result["recall"], recall)
    np.testing.assert_allclose(result["f1"], f1)
    assert result["support"] == support.tolist()
    assert result["confusion_matrix"] == confusion_matrix(references, predictions, labels=labels).tolist()
    assert set(result["per_class"]) == set(CLASS_NAMES)
    assert result["per_class"]["Chirp"]["f1"] == pytest.approx(f1[CLASS_NAMES.index("Chirp")])


def test_trainer_compute_metrics_takes_logits_tuple():
    from transformers import EvalPrediction

    predictions, references = _random_predictions(3, size=50)
    logits = np.eye(22)[predictions] + 0.01
    view_weights = np.full((50, 4), 0.25)
    metrics = make_compute_metrics(CLASS_NAMES)(EvalPrediction((logits, view_weights), references))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(references, predictions))
    assert metrics["macro_f1"] == pytest.approx(f1_score(references, predictions, average="macro"))
    assert all(isinstance(value, float) for value in metrics.values())


def test_bad_input_is_rejected():
    metric = load_glitch_metric()
    with pytest.raises(ValueError, match="class ids must lie"):
        metric.compute(predictions=[0, 5], references=[0, 1], num_labels=3)
    with pytest.raises(ValueError, match="label_names has 2 names"):
        metric.compute(predictions=[0], references=[0], num_labels=3, label_names=["a", "b"])
