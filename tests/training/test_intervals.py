"""Bootstrap intervals against cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from gravityvit.training.intervals import _resampled_scores, bootstrap_intervals, intervals_overlap


def test_all_correct_predictions_give_one_one():
    labels = np.repeat(np.arange(4), 25)
    intervals = bootstrap_intervals(labels, labels, num_labels=4, label_names=list("abcd"))
    assert intervals["accuracy"] == [1.0, 1.0]
    assert intervals["macro_f1"] == [1.0, 1.0]
    assert intervals["per_class_f1"] == {name: [1.0, 1.0] for name in "abcd"}
    assert intervals["num_resamples"] == 1000 and intervals["confidence"] == 0.95


def test_accuracy_interval_matches_the_normal_approximation():
    # n = 10,000 samples, exactly 85 % correct: the bootstrap interval of a proportion is
    # p ± 1.96 sqrt(p (1 - p) / n) = 0.85 ± 0.0070; the percentiles of 1,000 resamples scatter by
    # about 0.0003, so a tenth of a point is three of their standard deviations.
    n, p = 10_000, 0.85
    references = np.zeros(n, dtype=int)
    predictions = np.where(np.arange(n) < int(p * n), 0, 1)
    intervals = bootstrap_intervals(predictions, references, num_labels=2)
    half_width = 1.959964 * np.sqrt(p * (1 - p) / n)
    low, high = intervals["accuracy"]
    assert low == pytest.approx(p - half_width, abs=1e-3)
    assert high == pytest.approx(p + half_width, abs=1e-3)
    assert (high - low) == pytest.approx(2 * half_width, rel=0.1)


def test_seeded_and_reproducible():
    rng = np.random.default_rng(3)
    references = rng.integers(0, 5, size=300)
    predictions = np.where(rng.random(300) < 0.7, references, rng.integers(0, 5, size=300))
    first = bootstrap_intervals(predictions, references, num_labels=5)
    assert first == bootstrap_intervals(predictions, references, num_labels=5)
    assert first != bootstrap_intervals(predictions, references, num_labels=5, seed=1)
    accuracy = float((predictions == references).mean())
    assert first["accuracy"][0] < accuracy < first["accuracy"][1]


def test_scores_of_one_resample_equal_the_reported_metrics():
    # The identity "resample" must give what scikit-learn gives, as the report's metrics do (same
    # macro-F1 rule: the classes seen in the references or the predictions).
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    references = rng.integers(0, 6, size=120)
    predictions = np.where(rng.random(120) < 0.6, references, rng.integers(0, 7, size=120))
    accuracy, macro_f1, per_class = _resampled_scores(predictions, references, 8, np.arange(120)[None, :])
    assert accuracy[0] == pytest.approx(accuracy_score(references, predictions))
    assert macro_f1[0] == pytest.approx(f1_score(references, predictions, average="macro"))
    per_class_f1 = f1_score(references, predictions, labels=range(8), average=None, zero_division=0)
    np.testing.assert_allclose(per_class[0, :6], per_class_f1[:6])
    assert np.isnan(per_class[0, 7])  # never in the references: no F1 interval


def test_absent_class_has_no_interval_and_bad_input_is_refused():
    intervals = bootstrap_intervals([0, 1, 1], [0, 1, 0], num_labels=3, label_names=["a", "b", "c"])
    assert intervals["per_class_f1"]["c"] is None
    with pytest.raises(ValueError, match="class ids"):
        bootstrap_intervals([0, 3], [0, 1], num_labels=3)
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_intervals([], [], num_labels=3)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_intervals([0], [0], num_labels=1, confidence=95)


def test_intervals_overlap():
    assert intervals_overlap([0.80, 0.85], [0.84, 0.90])
    assert intervals_overlap([0.80, 0.85], [0.85, 0.90])
    assert not intervals_overlap([0.80, 0.84], [0.85, 0.90])
    assert not intervals_overlap([0.86, 0.90], [0.80, 0.85])
