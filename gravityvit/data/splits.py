"""Time-ordered train / validation / test splits with a gap: splits that do not leak.

Glitches come in bursts: a scattering episode or a noisy hour puts many similar Omega scans within
minutes of each other. A random split (and the Zenodo file's ``sample_type``) puts members of one
burst into both train and test, so the test score partly measures memory of that burst. A split
ordered by GPS time keeps each stretch of detector data in one part; the gap removes the samples that
straddle a boundary, so that no train sample lies within ``gap_s`` seconds of a test or validation
sample.

``time_split`` orders the samples by time (both detectors together: a coincident glitch in H1 and L1
stays in one part), cuts them 70 / 15 / 15 (by count, before the gap) and drops every sample within
``gap_s / 2`` of a boundary, the boundary lying halfway between the last sample of one part and the
first of the next. The kept samples of neighbouring parts are then at least ``gap_s`` apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from gravityvit.gravity_spy import SPLITS

DEFAULT_FRACTIONS: tuple[float, float, float] = (0.70, 0.15, 0.15)
DEFAULT_GAP_S = 60.0
SPLIT_METHODS: tuple[str, ...] = ("sample_type", "time")


@dataclasses.dataclass
class TimeSplit:
    """The result of ``time_split``.

    Attributes:
        indices (`dict[str, list[int]]`): sample positions per split (train, validation, test), in time order.
        dropped (`list[int]`): positions of the samples left out for lying in a gap.
        boundaries_gps (`list[float]`): the two boundaries (train | validation, validation | test), GPS s.
        ranges_gps (`dict[str, list[float] | None]`): first and last GPS time kept in each split.
        gap_s (`float`): the least time between kept samples of neighbouring splits.
    """

    indices: dict[str, list[int]]
    dropped: list[int]
    boundaries_gps: list[float]
    ranges_gps: dict[str, list[float] | None]
    gap_s: float

    def summary(self) -> str:
        """One line for logs: the size and GPS range of each split and what the gap removed."""
        parts = []
        for split in SPLITS:
            span = self.ranges_gps[split]
            where = f" (GPS {span[0]:.1f}-{span[1]:.1f})" if span else ""
            parts.append(f"{split} {len(self.indices[split])}{where}")
        boundaries = ", ".join(f"{b:.1f}" for b in self.boundaries_gps)
        return (
            f"time split: {', '.join(parts)}; {len(self.dropped)} sample(s) dropped within "
            f"{self.gap_s / 2:g} s of the boundaries at GPS {boundaries} (gap {self.gap_s:g} s)"
        )


def time_split(
    times_gps: Sequence[float] | np.ndarray,
    gap_s: float = DEFAULT_GAP_S,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> TimeSplit:
    """Split samples into train / validation / test by time, with a gap between the parts.

    Args:
        times_gps (`Sequence[float]`): each sample's GPS time (e.g. the metadata CSV's ``event_time``).
        gap_s (`float`): least time, in seconds, between kept samples of neighbouring parts; 0 keeps all.
        fractions (`Sequence[float]`): the shares of train, validation and test, by count before the gap.

    Returns:
        `TimeSplit`.

    Raises:
        ValueError: for a negative gap, fractions that are not three positive numbers summing to 1,
            or times that are not finite.
    """
    times = np.asarray(times_gps, dtype=float)
    if gap_s < 0:
        raise ValueError(f"gap_s must be at least 0; got {gap_s}")
    if len(fractions) != len(SPLITS) or min(fractions) <= 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"fractions must be {len(SPLITS)} positive shares summing to 1; got {list(fractions)}"
        )
    if not np.isfinite(times).all():
        raise ValueError("every sample needs a finite GPS time")
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    n = len(times)
    cuts = [round(fractions[0] * n), round((fractions[0] + fractions[1]) * n)]
    boundaries = (
        [
            float((ordered[cut - 1] + ordered[cut]) / 2) if 0 < cut < n else float(ordered[min(cut, n - 1)])
            for cut in cuts
        ]
        if n
        else []
    )
    near = np.zeros(n, dtype=bool)
    for boundary in boundaries:
        near |= np.abs(ordered - boundary) < gap_s / 2
    part = np.searchsorted(np.asarray(cuts), np.arange(n), side="right")  # 0, 1, 2 by position
    indices = {split: [int(i) for i in order[(part == k) & ~near]] for k, split in enumerate(SPLITS)}
    ranges = {
        split: [float(times[indices[split][0]]), float(times[indices[split][-1]])] if indices[split] else None
        for split in SPLITS
    }
    return TimeSplit(
        indices=indices,
        dropped=[int(i) for i in order[near]],
        boundaries_gps=boundaries,
        ranges_gps=ranges,
        gap_s=float(gap_s),
    )


__all__ = ["DEFAULT_FRACTIONS", "DEFAULT_GAP_S", "SPLIT_METHODS", "TimeSplit", "time_split"]
