"""Fast Q scan: the tiling, windows and plane choice of :func:`~gravityvit.data.omega.qscan.q_scan`,
computing only what the views need.

:func:`q_scan` squares and normalises every tile of every Q plane. The views need less:

- each row's mean energy, which Parseval's theorem gives from the windowed spectrum without
  the inverse FFT (the energy of an inverse FFT's output is that of its input over its length);
- the tiles within the search window of every plane, to choose the plane;
- and, of the chosen plane only, the tiles the views sample (``keep_s``, e.g. the longest view
  around the GPS time).

The inverse FFTs themselves are the same as :func:`q_scan`'s (single precision, rows of equal
tile count batched), so the kept energies agree with it to single-precision rounding.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from gravityvit.data.omega.parameters import FRANGE_HZ, MISMATCH, QRANGE, StrainError
from gravityvit.data.omega.qscan import (
    NORMALIZATIONS,
    QScan,
    _one_sided_fft,
    _PlanePlan,
    _row_reference,
    _RowGroup,
    _scan_plan,
    padded_span_reference,
)
from gravityvit.data.omega.whitening import WHITENING_FILTER_DURATION_S

# Tiles kept beyond ``keep_s`` on each side: the views' time interpolation reads 16 tiles past the
# span it samples (``views._time_interpolated_rows``), plus one for rounding.
KEEP_MARGIN_TILES = 18


@dataclass(frozen=True)
class _FastGroup:
    """A row group with single-precision windows and where each row's entries start."""

    group: _RowGroup
    weights: np.ndarray  # float32 copy of group.weights
    row_starts: np.ndarray  # first entry of each row in group.source (rows are contiguous)


@functools.lru_cache(maxsize=8)
def _fast_plan(
    duration_s: float,
    sample_rate_hz: float,
    qrange: tuple[float, float],
    frange_hz: tuple[float, float],
    mismatch: float,
) -> tuple[tuple[_PlanePlan, ...], tuple[tuple[_FastGroup, ...], ...]]:
    """``_scan_plan`` and its groups with single-precision windows (cached: data-independent)."""
    plans = _scan_plan(duration_s, sample_rate_hz, qrange, frange_hz, mismatch)
    out = []
    for plan in plans:
        groups = []
        for group in plan.groups:
            slot = group.target // group.ntiles
            starts = np.flatnonzero(np.concatenate([[True], slot[1:] != slot[:-1]]))
            groups.append(_FastGroup(group, group.weights.astype(np.float32), starts))
        out.append(tuple(groups))
    return plans, tuple(out)


def _abs2(values: np.ndarray) -> np.ndarray:
    return np.square(values.real) + np.square(values.imag)


def _tile_range(span_s: tuple[float, float], epoch_s: float, dt: float, ntiles: int) -> tuple[int, int]:
    """Tiles of a row whose start lies within ``span_s`` (gwpy's ``Series.crop`` index arithmetic)."""
    lo = max(0, math.floor((span_s[0] - epoch_s) / dt))
    hi = min(ntiles, math.floor((span_s[1] - epoch_s) / dt))
    return lo, hi


def _reference(
    tiles: np.ndarray,
    row_power: np.ndarray,
    group: _RowGroup,
    n_samples: int,
    normalization: str,
    reference_span_s: float | None,
    noise_mean: np.ndarray | None,
) -> np.ndarray:
    """:func:`qscan._row_reference` from the complex tiles, the row means by Parseval's theorem."""
    duration_s = n_samples / group.sampling_rate_hz
    ntiles = group.ntiles
    # sum_k |ifft(x)_k|^2 = sum_m |x_m|^2 / n: the sum of each row's tile energies.
    row_sum = (row_power / ntiles)[:, None]
    if normalization == "median" and (reference_span_s is None or reference_span_s <= duration_s):
        return _row_reference(_abs2(tiles), group, n_samples, normalization, reference_span_s, noise_mean)
    if reference_span_s is None or reference_span_s <= duration_s:
        return row_sum / ntiles

    def interior_mean() -> np.ndarray:
        # The row sums less the tiles at the edges that the whitening filter corrupts.
        edge = round(ntiles * WHITENING_FILTER_DURATION_S / 2 / duration_s)
        edges = _abs2(tiles[:, :edge]).sum(axis=1, dtype=np.float64) + _abs2(tiles[:, ntiles - edge :]).sum(
            axis=1, dtype=np.float64
        )
        return (row_sum - edges[:, None]) / (ntiles - 2 * edge)

    return padded_span_reference(interior_mean, group, n_samples, normalization, reference_span_s, noise_mean)


def fast_q_scan(
    whitened: np.ndarray,
    sample_rate_hz: float,
    epoch_s: float,
    search_s: tuple[float, float] | None,
    *,
    keep_s: tuple[float, float] | None = None,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    mismatch: float = MISMATCH,
    normalization: str = "mean",
    reference_span_s: float | None = None,
    noise_energy: Sequence[np.ndarray] | None = None,
) -> QScan:
    """The scan of :func:`~gravityvit.data.omega.qscan.q_scan`, keeping only the tiles the views need.

    Parameters are those of ``q_scan``, plus:

    keep_s : tuple of float, optional
        GPS ``(start, end)`` of the tiles of the chosen plane to keep (each row keeps a margin of
        18 tiles beyond it, which the views' interpolation reads); ``None`` keeps whole rows.

    Returns
    -------
    QScan
        With ``tile_offsets`` and ``row_tiles`` set when ``keep_s`` crops the rows.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}; got {normalization!r}")
    data = np.asarray(whitened, dtype=np.float64)
    if not np.isfinite(data).all():
        raise StrainError("whitened data contain NaN or infinite values")
    duration_s = data.size / float(sample_rate_hz)
    plans, fast_groups = _fast_plan(
        duration_s,
        float(sample_rate_hz),
        tuple(map(float, qrange)),
        tuple(map(float, frange_hz)),
        float(mismatch),
    )
    fseries = _one_sided_fft(data).astype(np.complex64)
    best: QScan | None = None
    for plane_index, (plan, groups) in enumerate(zip(plans, fast_groups)):
        noise = None if noise_energy is None else np.asarray(noise_energy[plane_index])
        peaks = np.zeros(len(plan.frequencies_hz), dtype=np.float32)
        peak_tiles = np.zeros(len(plan.frequencies_hz), dtype=np.int64)
        row_tiles = np.zeros(len(plan.frequencies_hz), dtype=np.int64)
        transformed = []
        for fast in groups:
            group = fast.group
            values = fseries[group.source] * fast.weights
            row_power = np.add.reduceat(_abs2(values), fast.row_starts, dtype=np.float64)
            buffer = np.zeros(len(group.rows) * group.ntiles, dtype=np.complex64)
            buffer[group.target] = values
            tiles = scipy.fft.ifft(buffer.reshape(len(group.rows), group.ntiles), axis=1, overwrite_x=True)
            row_noise = None if noise is None else noise[group.rows][:, None]
            reference = _reference(
                tiles, row_power, group, data.size, normalization, reference_span_s, row_noise
            )
            transformed.append((group, tiles, reference))
            row_tiles[group.rows] = group.ntiles
            dt = duration_s / group.ntiles
            lo, hi = (
                (0, group.ntiles) if search_s is None else _tile_range(search_s, epoch_s, dt, group.ntiles)
            )
            if hi <= lo:
                continue
            window = (_abs2(tiles[:, lo:hi]) / reference).astype(np.float32)
            where = np.argmax(window, axis=1)
            peaks[group.rows] = window[np.arange(len(group.rows)), where]
            peak_tiles[group.rows] = lo + where
        # The first of the loudest rows, as q_scan's strict comparison row after row picks it.
        row = int(np.argmax(peaks))
        peak_energy = float(peaks[row])
        if best is not None and not peak_energy > best.peak_energy:
            continue
        if peak_energy > 0.0:
            peak_time = epoch_s + duration_s / int(row_tiles[row]) * int(peak_tiles[row])
            peak_frequency = float(plan.frequencies_hz[row])
        else:  # nothing in the search window: q_scan's defaults
            peak_time, peak_frequency = epoch_s, float(plan.frequencies_hz[0])
        best = _kept_plane(plan, transformed, duration_s, epoch_s, keep_s)
        best.peak_time_s, best.peak_frequency_hz, best.peak_energy = peak_time, peak_frequency, peak_energy
    assert best is not None
    return best


def _kept_plane(
    plan: _PlanePlan,
    transformed: list[tuple[_RowGroup, np.ndarray, np.ndarray]],
    duration_s: float,
    epoch_s: float,
    keep_s: tuple[float, float] | None,
) -> QScan:
    """The normalised energies of a plane's kept tiles, as a (cropped) QScan without its peak."""
    rows = len(plan.frequencies_hz)
    energies: list[np.ndarray | None] = [None] * rows
    offsets = np.zeros(rows, dtype=np.int64)
    sizes = np.zeros(rows, dtype=np.int64)
    for group, tiles, reference in transformed:
        lo, hi = 0, group.ntiles
        if keep_s is not None:
            dt = duration_s / group.ntiles
            lo = max(0, math.floor((keep_s[0] - epoch_s) / dt) - KEEP_MARGIN_TILES)
            hi = min(group.ntiles, math.ceil((keep_s[1] - epoch_s) / dt) + KEEP_MARGIN_TILES)
        normalised = (_abs2(tiles[:, lo:hi]) / reference).astype(np.float32)
        for slot, row in enumerate(group.rows):
            energies[row] = normalised[slot]
        offsets[group.rows], sizes[group.rows] = lo, group.ntiles
    return QScan(
        q=plan.q,
        frequencies_hz=plan.frequencies_hz,
        frange_hz=plan.frange_hz,
        epoch_s=float(epoch_s),
        duration_s=duration_s,
        energies=energies,  # type: ignore[arg-type]
        peak_time_s=float(epoch_s),
        peak_frequency_hz=float(plan.frequencies_hz[0]),
        peak_energy=0.0,
        tile_offsets=None if keep_s is None else offsets,
        row_tiles=None if keep_s is None else sizes,
    )
