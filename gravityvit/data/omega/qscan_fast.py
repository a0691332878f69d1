"""Fast Q scan: the tiling, windows and plane choice of :func:`~gravityvit.data.omega.qscan.q_scan`,
computing only what the views need.

:func:`q_scan` squares and normalises every tile of every Q plane. The views need less:

- each row's mean energy, which Parseval's theorem gives from the windowed spectrum without
  the inverse FFT (the energy of an inverse FFT's output is that of its input over its length):
  one sparse product of each plane's squared windows with the power spectrum;
- the tiles within the search window of every plane, to choose the plane;
- and, of the chosen plane only, the tiles the views sample (``keep_s``, e.g. the longest view
  around the GPS time).

A row's tiles are the analytic band-pass signal of the data around the row's frequency: each tile
depends on the data within a few of the window's inverse bandwidths of it (the bi-square window's
kernel decays as the cube of the time). So the tiles of a stretch of a row come from a stretch of
the data: a power-of-two segment around it, wide enough for :data:`KERNEL_WIDTHS` inverse
half-bandwidths on either side, whose FFT at the segment's coarser frequency spacing is weighted
by the same bi-square window (evaluated at the segment's frequencies) and inverse-transformed over
the segment's tiles only. Rows of every plane share a few segment FFTs (one per segment length), and
data are read circularly, as the full-length transform sees them. The tiles agree with the full
transform's to about 1e-5 relative (measured on simulated and real-format strain; the kernel's tail
beyond the margin is what differs). Rows whose segment would hold more than a quarter of their tiles
(:data:`MAX_SEGMENT_FRACTION`) are transformed whole, as :func:`q_scan` does.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import sparse

from gravityvit.data.omega.parameters import FRANGE_HZ, MISMATCH, QRANGE, StrainError
from gravityvit.data.omega.qscan import (
    NORMALIZATIONS,
    QScan,
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
# Data read beyond a stretch of tiles on each side, in inverse half-bandwidths of the row's window
# (seconds = KERNEL_WIDTHS / half-bandwidth in Hz). The kernel's tail beyond 12 changes tile energies
# by at most ~1e-5 relative (6 gives ~1e-4, 24 single-precision rounding, ~5e-6).
KERNEL_WIDTHS = 12
# A stretch is computed from a segment only when the segment has at most this fraction of a row's tiles.
MAX_SEGMENT_FRACTION = 0.25


@dataclass(frozen=True)
class _FastGroup:
    """A row group with single-precision windows and each row's window parameters."""

    group: _RowGroup
    weights: np.ndarray  # float32 copy of group.weights
    centres: np.ndarray  # the data index of each row's window centre
    halves: np.ndarray  # each window's half-width in frequency bins
    scales: np.ndarray  # bi-square argument per bin of offset: qprime / (frequency * duration)
    norms: np.ndarray  # the window's value at its centre
    margin_tiles: int  # tiles of data a segment adds on either side of a stretch


@dataclass(frozen=True)
class _FastPlane:
    plan: _PlanePlan
    groups: tuple[_FastGroup, ...]
    squared_windows: sparse.csr_matrix  # (rows, frequency bins): each row's squared window


@functools.lru_cache(maxsize=8)
def _fast_plan(
    duration_s: float,
    sample_rate_hz: float,
    qrange: tuple[float, float],
    frange_hz: tuple[float, float],
    mismatch: float,
) -> tuple[_FastPlane, ...]:
    """``_scan_plan`` with single-precision windows, window parameters and squared-window matrices."""
    from gwpy.signal.qtransform import QTiling

    plans = _scan_plan(duration_s, sample_rate_hz, qrange, frange_hz, mismatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tiling = QTiling(duration_s, sample_rate_hz, qrange=qrange, frange=frange_hz, mismatch=mismatch)
    n_bins = round(duration_s * sample_rate_hz) // 2 + 1
    out = []
    for plan, plane in zip(plans, tiling):
        tiles = list(plane)
        groups = []
        matrix_rows, matrix_columns, matrix_values = [], [], []
        for group in plan.groups:
            slot = group.target // group.ntiles
            starts = np.flatnonzero(np.concatenate([[True], slot[1:] != slot[:-1]]))
            sizes = np.diff(np.append(starts, slot.size))
            halves = (sizes - 1) // 2
            row_tiles = [tiles[row] for row in group.rows]
            scales = np.array([tile.qprime / (tile.frequency * tile.duration) for tile in row_tiles])
            # The kernel's time scale is the inverse half-bandwidth, scale * duration_s seconds.
            margin = math.ceil(KERNEL_WIDTHS * float(scales.max()) * group.ntiles)
            groups.append(
                _FastGroup(
                    group=group,
                    weights=group.weights.astype(np.float32),
                    centres=group.source[starts + halves],
                    halves=halves,
                    scales=scales,
                    norms=group.weights[starts + halves],
                    margin_tiles=margin,
                )
            )
            matrix_rows.append(group.rows[slot])
            matrix_columns.append(group.source)
            matrix_values.append(group.weights**2)
        squared = sparse.csr_matrix(
            (np.concatenate(matrix_values), (np.concatenate(matrix_rows), np.concatenate(matrix_columns))),
            shape=(len(plan.frequencies_hz), n_bins),
        )
        out.append(_FastPlane(plan, tuple(groups), squared))
    return tuple(out)


def _one_sided_fft(data: np.ndarray) -> np.ndarray:
    """``qscan._one_sided_fft`` (gwpy's normalisation) in the precision of ``data``."""
    fseries = scipy.fft.rfft(data)
    fseries *= np.float32(2.0 / data.size) if data.dtype == np.float32 else 2.0 / data.size
    fseries[0] /= 2  # the DC bin is not doubled
    return fseries


def _abs2(values: np.ndarray) -> np.ndarray:
    out = np.square(values.real)
    out += np.square(values.imag)
    return out


def _normalised(tiles: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(|tiles|^2 / reference).astype(float32)`` without the double-precision temporary."""
    energy = _abs2(tiles)
    return np.divide(energy, reference, out=energy, casting="unsafe")


def _tile_range(span_s: tuple[float, float], epoch_s: float, dt: float, ntiles: int) -> tuple[int, int]:
    """Tiles of a row whose start lies within ``span_s`` (gwpy's ``Series.crop`` index arithmetic)."""
    lo = max(0, math.floor((span_s[0] - epoch_s) / dt))
    hi = min(ntiles, math.floor((span_s[1] - epoch_s) / dt))
    return lo, hi


@functools.lru_cache(maxsize=256)
def _segment_layout(
    plan_key: tuple, plane_index: int, group_index: int, ratio: int
) -> tuple[np.ndarray, ...]:
    """Where each row's window falls on a segment spectrum ``ratio`` times coarser than the full one.

    Returns the segment bins read, their flat positions in the (rows, ntiles // ratio) buffer and the
    window weights there: the same bi-square, evaluated at the segment's frequencies, times
    ``1 / ratio`` (a segment of 1 / ratio of the data has 1 / ratio of the tiles over the same band).
    """
    fast = _fast_plan(*plan_key)[plane_index].groups[group_index]
    length = fast.group.ntiles // ratio
    first = -((fast.halves - fast.centres) // ratio)  # ceil((centre - half) / ratio)
    last = (fast.centres + fast.halves) // ratio
    counts = last - first + 1
    slots = np.repeat(np.arange(counts.size), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    bins = np.repeat(first, counts) + within
    offsets = bins * ratio - fast.centres[slots]
    weights = fast.norms[slots] * (1.0 - np.square(offsets * fast.scales[slots])) ** 2 / ratio
    return bins, slots * length + within, weights.astype(np.float32)


class _PlaneTransformer:
    """Complex tiles of stretches of a plane's rows, from the full spectrum or from data segments."""

    def __init__(self, data: np.ndarray, fseries: np.ndarray, plan_key: tuple) -> None:
        self.data = data
        self.fseries = fseries
        self.plan_key = plan_key
        self._segments: dict[tuple[int, int], np.ndarray] = {}
        self._whole: dict[tuple[int, int], np.ndarray] = {}

    def forget(self, plane_index: int) -> None:
        """Drop the whole rows kept of a plane (less memory, and fewer cache misses on what is read)."""
        for key in [key for key in self._whole if key[0] == plane_index]:
            del self._whole[key]

    def whole_rows(self, plane_index: int, group_index: int, fast: _FastGroup) -> np.ndarray:
        """Every tile of the group's rows (one batched inverse FFT, as ``q_scan``)."""
        key = (plane_index, group_index)
        if key not in self._whole:
            group = fast.group
            buffer = np.zeros(len(group.rows) * group.ntiles, dtype=np.complex64)
            buffer[group.target] = self.fseries[group.source] * fast.weights
            self._whole[key] = scipy.fft.ifft(
                buffer.reshape(len(group.rows), group.ntiles), axis=1, overwrite_x=True
            )
        return self._whole[key]

    def _segment_spectrum(self, start: int, size: int) -> np.ndarray:
        """One-sided FFT (gwpy's normalisation) of ``size`` samples from ``start``, read circularly."""
        key = (start, size)
        if key not in self._segments:
            n = self.data.size
            if start >= 0 and start + size <= n:
                segment = self.data[start : start + size]
            else:
                segment = np.take(self.data, np.arange(start, start + size), mode="wrap")
            self._segments[key] = scipy.fft.rfft(segment) * np.float32(2.0 / size)
        return self._segments[key]

    def tiles(
        self, plane_index: int, group_index: int, fast: _FastGroup, lo: int, hi: int, centre: float
    ) -> np.ndarray:
        """Complex tiles ``lo`` to ``hi`` (read circularly) of the group's rows, shape (rows, hi - lo).

        ``centre`` (a sample index) places the segment, so that the groups of every plane that need
        a segment of the same length around the same time share its FFT.
        """
        group = fast.group
        ntiles, n = group.ntiles, self.data.size
        needed = hi - lo + 2 * fast.margin_tiles
        length = max(8, 1 << math.ceil(math.log2(needed * 1.25)))
        if length > MAX_SEGMENT_FRACTION * ntiles or n % ntiles or n % (length * (n // ntiles)):
            whole = self.whole_rows(plane_index, group_index, fast)
            if lo >= 0 and hi <= ntiles:
                return whole[:, lo:hi]
            return np.take(whole, np.arange(lo, hi), axis=1, mode="wrap")
        per_tile = n // ntiles
        size = length * per_tile
        step = size // 8  # a multiple of per_tile: segment starts fall on tile boundaries
        first, stop = (lo - fast.margin_tiles) * per_tile, (hi + fast.margin_tiles) * per_tile
        start = math.floor((centre - size / 2) / step) * step
        if start > first or start + size < stop:  # the stretch is off the shared centre
            start = math.floor(((first + stop) / 2 - size / 2) / step) * step
        spectrum = self._segment_spectrum(start, size)
        ratio = ntiles // length
        bins, targets, weights = _segment_layout(self.plan_key, plane_index, group_index, ratio)
        buffer = np.zeros(len(group.rows) * length, dtype=np.complex64)
        buffer[targets] = spectrum[bins] * weights
        segment_tiles = scipy.fft.ifft(buffer.reshape(len(group.rows), length), axis=1, overwrite_x=True)
        offset = lo - start // per_tile
        return segment_tiles[:, offset : offset + hi - lo]


def _reference(
    transformer: _PlaneTransformer,
    plane_index: int,
    group_index: int,
    fast: _FastGroup,
    row_power: np.ndarray,
    n_samples: int,
    normalization: str,
    reference_span_s: float | None,
    noise_mean: np.ndarray | None,
) -> np.ndarray:
    """:func:`qscan._row_reference` of a group: the row means by Parseval's theorem."""
    group = fast.group
    duration_s = n_samples / group.sampling_rate_hz
    ntiles = group.ntiles
    # sum_k |ifft(x)_k|^2 = sum_m |x_m|^2 / n: the sum of each row's tile energies.
    row_sum = (row_power / ntiles)[:, None]
    if normalization == "median" and (reference_span_s is None or reference_span_s <= duration_s):
        whole = transformer.whole_rows(plane_index, group_index, fast)
        return _row_reference(_abs2(whole), group, n_samples, normalization, reference_span_s, noise_mean)
    if reference_span_s is None or reference_span_s <= duration_s:
        return row_sum / ntiles

    def interior_mean() -> np.ndarray:
        # The row sums less the tiles at the edges that the whitening filter corrupts: one circular
        # stretch around the data's first sample.
        edge = round(ntiles * WHITENING_FILTER_DURATION_S / 2 / duration_s)
        edges = transformer.tiles(plane_index, group_index, fast, -edge, edge, 0.0)
        return (row_sum - _abs2(edges).sum(axis=1, dtype=np.float64)[:, None]) / (ntiles - 2 * edge)

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
    plan_key = (
        duration_s,
        float(sample_rate_hz),
        tuple(map(float, qrange)),
        tuple(map(float, frange_hz)),
        float(mismatch),
    )
    planes = _fast_plan(*plan_key)
    # Single precision throughout, as the tiles' inverse FFTs already are (q_scan's too): a
    # single-precision FFT is about three times faster, and energies keep ~1e-6 relative precision.
    data32 = data.astype(np.float32)
    fseries = _one_sided_fft(data32)
    power = _abs2(fseries).astype(np.float64)
    transformer = _PlaneTransformer(data32, fseries, plan_key)
    search_centre = 0.0 if search_s is None else ((search_s[0] + search_s[1]) / 2 - epoch_s) * sample_rate_hz
    best: QScan | None = None
    best_index = -1
    references: dict[int, list[np.ndarray]] = {}
    for plane_index, plane in enumerate(planes):
        plan = plane.plan
        noise = None if noise_energy is None else np.asarray(noise_energy[plane_index])
        row_powers = plane.squared_windows @ power
        peaks = np.zeros(len(plan.frequencies_hz), dtype=np.float32)
        peak_tiles = np.zeros(len(plan.frequencies_hz), dtype=np.int64)
        row_tiles = np.zeros(len(plan.frequencies_hz), dtype=np.int64)
        plane_references = []
        for group_index, fast in enumerate(plane.groups):
            group = fast.group
            row_noise = None if noise is None else noise[group.rows][:, None]
            reference = _reference(
                transformer,
                plane_index,
                group_index,
                fast,
                row_powers[group.rows],
                data.size,
                normalization,
                reference_span_s,
                row_noise,
            )
            plane_references.append(reference)
            row_tiles[group.rows] = group.ntiles
            dt = duration_s / group.ntiles
            lo, hi = (
                (0, group.ntiles) if search_s is None else _tile_range(search_s, epoch_s, dt, group.ntiles)
            )
            if hi <= lo:
                continue
            tiles = transformer.tiles(plane_index, group_index, fast, lo, hi, search_centre)
            # Each row has one reference: its loudest tile is that of the raw energies.
            energy = _abs2(tiles)
            where = np.argmax(energy, axis=1)
            peaks[group.rows] = _normalised(tiles[np.arange(len(group.rows)), where], reference[:, 0])
            peak_tiles[group.rows] = lo + where
        references[plane_index] = plane_references
        # The first of the loudest rows, as q_scan's strict comparison row after row picks it.
        row = int(np.argmax(peaks))
        peak_energy = float(peaks[row])
        if best is not None and not peak_energy > best.peak_energy:
            transformer.forget(plane_index)  # a losing plane's rows are not read again
            continue
        transformer.forget(best_index)
        if peak_energy > 0.0:
            peak_time = epoch_s + duration_s / int(row_tiles[row]) * int(peak_tiles[row])
            peak_frequency = float(plan.frequencies_hz[row])
        else:  # nothing in the search window: q_scan's defaults
            peak_time, peak_frequency = epoch_s, float(plan.frequencies_hz[0])
        best = QScan(
            q=plan.q,
            frequencies_hz=plan.frequencies_hz,
            frange_hz=plan.frange_hz,
            epoch_s=float(epoch_s),
            duration_s=duration_s,
            energies=[],
            peak_time_s=peak_time,
            peak_frequency_hz=peak_frequency,
            peak_energy=peak_energy,
        )
        best_index = plane_index
    assert best is not None
    _keep_tiles(
        best, planes[best_index], best_index, transformer, references[best_index], keep_s, sample_rate_hz
    )
    return best


def _keep_tiles(
    scan: QScan,
    plane: _FastPlane,
    plane_index: int,
    transformer: _PlaneTransformer,
    references: list[np.ndarray],
    keep_s: tuple[float, float] | None,
    sample_rate_hz: float,
) -> None:
    """Fill ``scan`` with the normalised energies of the chosen plane's kept tiles (in place)."""
    rows = len(plane.plan.frequencies_hz)
    energies: list[np.ndarray | None] = [None] * rows
    offsets = np.zeros(rows, dtype=np.int64)
    sizes = np.zeros(rows, dtype=np.int64)
    epoch_s, duration_s = scan.epoch_s, scan.duration_s
    centre = 0.0 if keep_s is None else ((keep_s[0] + keep_s[1]) / 2 - epoch_s) * sample_rate_hz
    for group_index, (fast, reference) in enumerate(zip(plane.groups, references)):
        group = fast.group
        lo, hi = 0, group.ntiles
        if keep_s is not None:
            dt = duration_s / group.ntiles
            lo = max(0, math.floor((keep_s[0] - epoch_s) / dt) - KEEP_MARGIN_TILES)
            hi = min(group.ntiles, math.ceil((keep_s[1] - epoch_s) / dt) + KEEP_MARGIN_TILES)
        tiles = transformer.tiles(plane_index, group_index, fast, lo, hi, centre)
        normalised = _normalised(tiles, reference)
        for slot, row in enumerate(group.rows):
            energies[row] = normalised[slot]
        offsets[group.rows], sizes[group.rows] = lo, group.ntiles
    scan.energies = energies  # type: ignore[assignment]
    if keep_s is not None:
        scan.tile_offsets, scan.row_tiles = offsets, sizes
