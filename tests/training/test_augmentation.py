"""Spectrogram augmentation: consistent time shifts in seconds, no flips, view dropout keeps a view."""

from __future__ import annotations

import numpy as np
import pytest

from gravityvit.gravity_spy import VIEW_DURATIONS_S, VIEW_SHAPE
from gravityvit.training.augmentation import SpectrogramAugmentation


def _impulse_views(row: int = 70, time_s: float = 0.0) -> np.ndarray:
    """Four views of one point-like event at ``time_s`` (relative to the centre) and ``row``."""
    views = np.zeros((4, *VIEW_SHAPE), dtype=np.float32)
    for index, duration_s in enumerate(VIEW_DURATIONS_S):
        column = round(VIEW_SHAPE[1] / 2 + time_s / duration_s * VIEW_SHAPE[1])
        views[index, row, column] = 1.0
    return views


def _peak(view: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(view), view.shape))


def test_time_shift_is_common_in_seconds():
    augmentation = SpectrogramAugmentation(
        max_time_shift_s=0.05, max_frequency_shift_rows=0, noise_std=0, gain_range=(1, 1), view_dropout=0
    )
    views = _impulse_views()
    for seed in range(10):
        out, mask = augmentation(views, np.ones(4, bool), np.random.default_rng(seed))
        assert mask.all()
        shifts_px = [_peak(out[i])[1] - _peak(views[i])[1] for i in range(4)]
        # The same shift in seconds in every view: columns scale as 1 / duration.
        shifts_s = [px / VIEW_SHAPE[1] * d for px, d in zip(shifts_px, VIEW_DURATIONS_S)]
        assert abs(shifts_s[0]) <= 0.05 + 1e-9
        for shift_s, duration_s in zip(shifts_s, VIEW_DURATIONS_S):
            assert shift_s == pytest.approx(shifts_s[0], abs=duration_s / VIEW_SHAPE[1])
    assert augmentation.time_shift_columns(0.1) == [34, 17, 8, 4]


def test_frequency_shift_is_small_and_common_never_a_flip():
    augmentation = SpectrogramAugmentation(
        max_time_shift_s=0, max_frequency_shift_rows=2, noise_std=0, gain_range=(1, 1), view_dropout=0
    )
    views = _impulse_views(row=10)
    seen = set()
    for seed in range(30):
        out, _ = augmentation(views, np.ones(4, bool), np.random.default_rng(seed))
        rows = {_peak(out[i])[0] for i in range(4)}
        assert len(rows) == 1
        row = rows.pop()
        assert abs(row - 10) <= 2  # a flip would put it near row 129
        seen.add(row)
    assert len(seen) > 1


def test_chirp_direction_is_kept():
    """A rising track (low frequency early, high late) stays rising: no time reversal or frequency flip."""
    views = np.zeros((4, *VIEW_SHAPE), dtype=np.float32)
    for column in range(20, 150):
        views[:, 130 - (column - 20) // 2, column] = 1.0  # row decreases = frequency rises with time
    augmentation = SpectrogramAugmentation(noise_std=0.0, view_dropout=0.0)
    for seed in range(5):
        out, _ = augmentation(views, np.ones(4, bool), np.random.default_rng(seed))
        rows, columns = np.nonzero(out[1] > 0.5)
        assert np.corrcoef(columns, rows)[0, 1] < -0.9


def test_values_stay_in_range_and_noise_is_mild():
    augmentation = SpectrogramAugmentation(noise_std=0.01, gain_range=(0.9, 1.1), view_dropout=0)
    rng = np.random.default_rng(0)
    views = rng.uniform(0, 1, size=(4, *VIEW_SHAPE)).astype(np.float32)
    out, _ = augmentation(views, np.ones(4, bool), rng)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_view_dropout_keeps_at_least_one_view_and_reaches_one_and_two():
    augmentation = SpectrogramAugmentation(view_dropout=1.0)
    rng = np.random.default_rng(0)
    kept_counts = set()
    views = np.full((4, *VIEW_SHAPE), 0.5, dtype=np.float32)
    for _ in range(200):
        out, mask = augmentation(views, np.ones(4, bool), rng)
        assert 1 <= mask.sum() <= 3
        assert not out[~mask].any()  # dropped views are zero
        kept_counts.add(int(mask.sum()))
    assert kept_counts == {1, 2, 3}
    # A sample with one view present keeps it; an absent view never comes back.
    one = np.array([False, True, False, False])
    for _ in range(20):
        _, mask = augmentation(views, one, rng)
        assert mask.tolist() == one.tolist()


def test_view_dropout_keeps_k_views_with_probability_proportional_to_one_over_k():
    # With four durations present, 1, 2 and 3 kept views have probabilities 6/11, 3/11 and 2/11, so
    # single durations (the commonest partial input, e.g. 4 s-only samples) are seen most.
    augmentation = SpectrogramAugmentation(view_dropout=1.0, noise_std=0.0)
    rng = np.random.default_rng(1)
    views = np.full((4, *VIEW_SHAPE), 0.5, dtype=np.float32)
    draws = 3000
    counts = np.bincount(
        [int(augmentation.drop_views(np.ones(4, bool), rng).sum()) for _ in range(draws)], minlength=4
    )
    expected = np.array([0, 6, 3, 2]) / 11 * draws
    assert counts[0] == 0 and np.all(np.abs(counts - expected) < 4 * np.sqrt(expected + 1))
    # Every duration is as likely to be the one kept.
    singles = [augmentation.drop_views(np.ones(4, bool), rng) for _ in range(draws)]
    kept = np.array([m for m in singles if m.sum() == 1]).sum(0)
    assert kept.min() > 0.8 * kept.mean()
    assert augmentation(views, np.ones(4, bool), rng)[1].sum() < 4


def test_invalid_settings_raise():
    with pytest.raises(ValueError, match="view_dropout"):
        SpectrogramAugmentation(view_dropout=1.5)
    with pytest.raises(ValueError, match="gain_range"):
        SpectrogramAugmentation(gain_range=(1.2, 1.0))
    with pytest.raises(ValueError, match="expected views of shape"):
        SpectrogramAugmentation()(np.zeros((3, 140, 170)), np.ones(3, bool), np.random.default_rng(0))
