"""Fast Q scan: the tiling, windows and plane choice of :func:`~gravityvit.data.omega.qscan.q_scan`,
computing only what the views need.

:func:`q_scan` squares and normalises every tile of every Q plane. The views need less:

- each row's mean energy, which Parseval's theorem gives from the windowed spectrum without
  the inverse FFT (the energy of an inverse FFT's output is that of its input over its length):
  one sparse product of all planes' squared windows with the power spectrum;
- the tiles within the search window of every plane, to choose the plane: the rows of all planes
  whose transforms have the same length are gathered and inverse-transformed together (a few
  batched FFTs instead of one per row group);
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
(:data:`MAX_SEGMENT_FRACTION`) are transformed whole, as :func:`q_scan` does. Search segments are
the shortest that hold their stretch (:data:`SEARCH_PLACEMENT`): the loudest tiles then agree with
the full transform's to about 2e-5.
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
# Segment placement (steps, slack): segments start on multiples of 1 / steps of their length (a
# common grid, so that the groups of every plane share segment FFTs) and are at least slack times
# the stretch they hold, margins included. Kept tiles get generous slack, which widens the margins
# (tiles within ~1e-5 of the full transform); the search, where only each row's loudest tile counts,
# the least that fits (peaks within ~1e-5, on transforms up to 4 times shorter).
KEEP_PLACEMENT = (8, 1.25)
SEARCH_PLACEMENT = (32, 32 / 31)


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
    row_tiles: np.ndarray  # each row's tile count


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
        row_tiles = np.zeros(len(plan.frequencies_hz), dtype=np.int64)
        for group in plan.groups:
            row_tiles[group.rows] = group.ntiles
        out.append(_FastPlane(plan, tuple(groups), squared, row_tiles))
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
    """``(|tiles|^2 / reference).astype(float32)`` without the double-precision temporary; real
    ``tiles`` are energies already."""
    energy = _abs2(tiles) if np.iscomplexobj(tiles) else tiles
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


def _segment_placement(
    fast: _FastGroup,
    lo: int,
    hi: int,
    centre: float,
    n_samples: int,
    placement: tuple[int, float] = KEEP_PLACEMENT,
) -> tuple[int, int, int] | None:
    """``(start, size, length)`` of the data segment (samples) whose ``length`` tiles hold tiles
    ``lo`` to ``hi`` of the group's rows with their kernel margins; ``None``: transform whole rows.

    ``centre`` (a sample index) places the segment, so that the groups of every plane that need a
    segment of the same length around the same time share its FFT.
    """
    ntiles = fast.group.ntiles
    needed = hi - lo + 2 * fast.margin_tiles
    steps, slack = placement
    length = max(steps, 1 << math.ceil(math.log2(needed * slack)))
    if (
        length > MAX_SEGMENT_FRACTION * ntiles
        or n_samples % ntiles
        or n_samples % (length * (n_samples // ntiles))
    ):
        return None
    per_tile = n_samples // ntiles
    size = length * per_tile
    step = size // steps  # a multiple of per_tile: segment starts fall on tile boundaries
    first, stop = (lo - fast.margin_tiles) * per_tile, (hi + fast.margin_tiles) * per_tile
    start = math.floor((centre - size / 2) / step) * step
    if start > first or start + size < stop:  # the stretch is off the shared centre
        start = math.floor(((first + stop) / 2 - size / 2) / step) * step
    return start, size, length


@functools.lru_cache(maxsize=8)
def _stacked_squared_windows(plan_key: tuple) -> sparse.csr_matrix:
    """The squared-window matrices of every plane, stacked: all row powers in one product."""
    return sparse.vstack([plane.squared_windows for plane in _fast_plan(*plan_key)]).tocsr()


@dataclass(frozen=True)
class _SearchBatch:
    """Search tiles of the rows of several groups, of any plane, whose transforms have ``length`` points.

    The buffer of ``rows`` x ``length`` bins is filled from the full spectrum (groups transformed
    whole) and from the concatenated segment spectra, and inverse-transformed at once.
    """

    length: int
    rows: int
    whole: tuple[np.ndarray, np.ndarray, np.ndarray]  # full-spectrum bins, buffer positions, weights
    segment: tuple[np.ndarray, np.ndarray, np.ndarray]  # bins of the concatenated segment spectra, ...
    stretch: np.ndarray  # flat output positions of each row's search tiles, row after row
    whole_groups: tuple[tuple[int, int, int, int], ...]  # (plane, group, first row, rows) of whole groups


@dataclass(frozen=True)
class _SearchLayout:
    segments: tuple[tuple[int, int], ...]  # (start, size) of each segment spectrum, as concatenated
    batches: tuple[_SearchBatch, ...]
    # Of each row of the batches, in turn: where its search tiles start among those of all batches,
    # the tile index of the first, and the row's index among the rows of all planes, stacked.
    stretch_starts: np.ndarray
    first_tiles: np.ndarray
    plane_rows: np.ndarray


@functools.lru_cache(maxsize=32)
def _search_placements(
    plan_key: tuple,
    n_samples: int,
    offsets_s: tuple[float, float] | None,
    centre: float,
    plane_indices: tuple[int, ...],
) -> tuple[tuple[int, int, int, int, tuple[int, int, int] | None], ...]:
    """``(plane, group, lo, hi, segment placement or None)`` of every group with search tiles.

    ``offsets_s``: the search window in seconds from the data's start (``None``: whole rows);
    ``centre``: the sample index segments are placed around (:func:`_segment_placement`).
    """
    planes = _fast_plan(*plan_key)
    duration_s = plan_key[0]
    placements = []
    for plane_index in plane_indices:
        for group_index, fast in enumerate(planes[plane_index].groups):
            ntiles = fast.group.ntiles
            lo, hi = (
                (0, ntiles) if offsets_s is None else _tile_range(offsets_s, 0.0, duration_s / ntiles, ntiles)
            )
            if hi > lo:
                placement = _segment_placement(fast, lo, hi, centre, n_samples, SEARCH_PLACEMENT)
                placements.append((plane_index, group_index, lo, hi, placement))
    return tuple(placements)


@functools.lru_cache(maxsize=32)
def _search_layout(
    plan_key: tuple, placements: tuple[tuple[int, int, int, int, tuple[int, int, int] | None], ...]
) -> _SearchLayout:
    """The search tiles of :func:`_search_placements`, batched by transform length.

    Cached on the placements (integers), so that scans whose search window falls on the same tiles
    share it whatever their sub-sample offsets.
    """
    planes = _fast_plan(*plan_key)
    first_rows = np.cumsum([0] + [len(plane.plan.frequencies_hz) for plane in planes])
    segments: dict[tuple[int, int], int] = {}  # (start, size) -> first bin in the concatenation
    by_length: dict[int, list[tuple[int, int, int, int, tuple[int, int, int] | None]]] = {}
    for plane_index, group_index, lo, hi, placement in placements:
        if placement is not None and placement[:2] not in segments:
            segments[placement[:2]] = sum(size // 2 + 1 for _, size in segments)
        length = planes[plane_index].groups[group_index].group.ntiles if placement is None else placement[2]
        by_length.setdefault(length, []).append((plane_index, group_index, lo, hi, placement))
    batches, widths, first_tiles, plane_rows = [], [], [], []
    for length, members in sorted(by_length.items()):
        whole, segment, stretch, whole_groups = [], [], [], []
        row0 = 0
        for plane_index, group_index, lo, hi, placement in members:
            fast = planes[plane_index].groups[group_index]
            group = fast.group
            count = len(group.rows)
            if placement is None:
                whole.append((group.source, group.target + row0 * length, fast.weights))
                whole_groups.append((plane_index, group_index, row0, count))
                offset = lo
            else:
                start, size, _ = placement
                ratio = group.ntiles // length
                bins, targets, weights = _segment_layout(plan_key, plane_index, group_index, ratio)
                segment.append((bins + segments[start, size], targets + row0 * length, weights))
                offset = lo - start // (size // length)
            stretch.append(
                ((row0 + np.arange(count))[:, None] * length + offset + np.arange(hi - lo)).ravel()
            )
            widths.append(np.full(count, hi - lo))
            first_tiles.append(np.full(count, lo))
            plane_rows.append(first_rows[plane_index] + group.rows)
            row0 += count
        batches.append(
            _SearchBatch(
                length=length,
                rows=row0,
                whole=_concatenated(whole),
                segment=_concatenated(segment),
                stretch=np.concatenate(stretch),
                whole_groups=tuple(whole_groups),
            )
        )
    return _SearchLayout(
        tuple(segments),
        tuple(batches),
        stretch_starts=np.cumsum(np.concatenate([[0], *widths]))[:-1],
        first_tiles=np.concatenate([np.empty(0, dtype=np.int64), *first_tiles]),
        plane_rows=np.concatenate([np.empty(0, dtype=np.int64), *plane_rows]),
    )


def _concatenated(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bins, positions, float32 weights) of several gathers as one."""
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    bins, positions, weights = zip(*parts)
    return np.concatenate(bins), np.concatenate(positions), np.concatenate(weights).astype(np.float32)


def _first_maxima(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum of each run ``values[starts[i]:starts[i + 1]]`` and the offset of its first
    occurrence in the run (``np.argmax`` of each run)."""
    maxima = np.maximum.reduceat(values, starts)
    lengths = np.diff(np.append(starts, values.size))
    positions = np.arange(values.size)
    positions[values != np.repeat(maxima, lengths)] = values.size
    return maxima, np.minimum.reduceat(positions, starts) - starts


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

    def search(self, layout: _SearchLayout, total_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The raw energy and index of each row's loudest search tile, over the rows of all planes
        stacked (zero where a row has no search tiles); whole rows are kept for :meth:`whole_rows`."""
        spectra = [self._segment_spectrum(start, size) for start, size in layout.segments]
        segment_bins = np.concatenate(spectra) if spectra else np.empty(0, dtype=np.complex64)
        energies = []
        for batch in layout.batches:
            buffer = np.zeros(batch.rows * batch.length, dtype=np.complex64)
            for source, (bins, positions, weights) in (
                (self.fseries, batch.whole),
                (segment_bins, batch.segment),
            ):
                if bins.size:
                    buffer[positions] = source[bins] * weights
            tiles = scipy.fft.ifft(buffer.reshape(batch.rows, batch.length), axis=1, overwrite_x=True)
            for plane_index, group_index, row0, count in batch.whole_groups:
                self._whole[plane_index, group_index] = tiles[row0 : row0 + count]
            energies.append(_abs2(tiles.reshape(-1)[batch.stretch]))
        peaks = np.zeros(total_rows, dtype=np.float32)
        peak_tiles = np.zeros(total_rows, dtype=np.int64)
        if energies:
            loudest, first = _first_maxima(np.concatenate(energies), layout.stretch_starts)
            peaks[layout.plane_rows] = loudest
            peak_tiles[layout.plane_rows] = layout.first_tiles + first
        return peaks, peak_tiles

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
        """Complex tiles ``lo`` to ``hi`` (read circularly) of the group's rows, shape (rows, hi - lo);
        ``centre`` places the segment (:func:`_segment_placement`)."""
        group = fast.group
        placement = _segment_placement(fast, lo, hi, centre, self.data.size)
        if placement is None:
            whole = self.whole_rows(plane_index, group_index, fast)
            if lo >= 0 and hi <= group.ntiles:
                return whole[:, lo:hi]
            return np.take(whole, np.arange(lo, hi), axis=1, mode="wrap")
        start, size, length = placement
        spectrum = self._segment_spectrum(start, size)
        bins, targets, weights = _segment_layout(
            self.plan_key, plane_index, group_index, group.ntiles // length
        )
        buffer = np.zeros(len(group.rows) * length, dtype=np.complex64)
        buffer[targets] = spectrum[bins] * weights
        segment_tiles = scipy.fft.ifft(buffer.reshape(len(group.rows), length), axis=1, overwrite_x=True)
        offset = lo - start // (size // length)
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


def _plane_reference(
    transformer: _PlaneTransformer,
    plane_index: int,
    row_powers: np.ndarray,
    duration_s: float,
    normalization: str,
    reference_span_s: float | None,
    noise: np.ndarray | None,
) -> np.ndarray:
    """Each row's reference energy (:func:`_reference`) over a whole plane, shape (rows,)."""
    plane = _fast_plan(*transformer.plan_key)[plane_index]
    if normalization == "mean" and (reference_span_s is None or reference_span_s <= duration_s):
        # The row means by Parseval's theorem, as _reference divides them.
        return row_powers / plane.row_tiles / plane.row_tiles
    reference = np.empty(row_powers.size)
    n_samples = transformer.data.size
    for group_index, fast in enumerate(plane.groups):
        rows = fast.group.rows
        row_noise = None if noise is None else noise[rows][:, None]
        reference[rows] = _reference(
            transformer,
            plane_index,
            group_index,
            fast,
            row_powers[rows],
            n_samples,
            normalization,
            reference_span_s,
            row_noise,
        )[:, 0]
    return reference


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
    offsets_s = None if search_s is None else (search_s[0] - epoch_s, search_s[1] - epoch_s)
    search_centre = 0.0 if search_s is None else ((search_s[0] + search_s[1]) / 2 - epoch_s) * sample_rate_hz
    # All planes' search tiles in a few batched transforms; without a search window (whole rows)
    # one plane at a time, so that only one plane's rows are held at once.
    subsets = (
        [tuple(range(len(planes)))] if search_s is not None else [(index,) for index in range(len(planes))]
    )
    row_powers = _stacked_squared_windows(plan_key) @ power
    first_rows = np.cumsum([0] + [len(plane.plan.frequencies_hz) for plane in planes])
    best: QScan | None = None
    best_index = -1
    references: dict[int, np.ndarray] = {}
    for subset in subsets:
        placements = _search_placements(plan_key, data.size, offsets_s, search_centre, subset)
        layout = _search_layout(plan_key, placements)
        raw_peaks, peak_tiles = transformer.search(layout, first_rows[-1])
        for plane_index in subset:
            plane = planes[plane_index]
            plan = plane.plan
            noise = None if noise_energy is None else np.asarray(noise_energy[plane_index])
            rows = slice(first_rows[plane_index], first_rows[plane_index + 1])
            reference = _plane_reference(
                transformer, plane_index, row_powers[rows], duration_s, normalization, reference_span_s, noise
            )
            references[plane_index] = reference
            # Each row has one reference: its loudest tile is that of the raw energies.
            peaks = _normalised(raw_peaks[rows], reference)
            row_tiles, plane_tiles = plane.row_tiles, peak_tiles[rows]
            # The first of the loudest rows, as q_scan's strict comparison row after row picks it.
            row = int(np.argmax(peaks))
            peak_energy = float(peaks[row])
            if best is not None and not peak_energy > best.peak_energy:
                transformer.forget(plane_index)  # a losing plane's rows are not read again
                continue
            transformer.forget(best_index)
            if peak_energy > 0.0:
                peak_time = epoch_s + duration_s / int(row_tiles[row]) * int(plane_tiles[row])
                peak_frequency = float(plan.frequencies_hz[row])
            else:  # nothing in the search window: q_scan's defaults
                peak_time, peak_frequency = epoch_s, float(plan.frequencies_hz[0])
            best = QScan.of_plane(plan, epoch_s, duration_s, [], (peak_time, peak_frequency, peak_energy))
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
    reference: np.ndarray,
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
    for group_index, fast in enumerate(plane.groups):
        group = fast.group
        lo, hi = 0, group.ntiles
        if keep_s is not None:
            dt = duration_s / group.ntiles
            lo = max(0, math.floor((keep_s[0] - epoch_s) / dt) - KEEP_MARGIN_TILES)
            hi = min(group.ntiles, math.ceil((keep_s[1] - epoch_s) / dt) + KEEP_MARGIN_TILES)
        tiles = transformer.tiles(plane_index, group_index, fast, lo, hi, centre)
        # A single-precision reciprocal: twice as fast as dividing by the float64 reference, within
        # 1.2e-7 of it.
        normalised = _abs2(tiles)
        normalised *= (1.0 / reference[group.rows][:, None]).astype(np.float32)
        for slot, row in enumerate(group.rows):
            energies[row] = normalised[slot]
        offsets[group.rows], sizes[group.rows] = lo, group.ntiles
    scan.energies = energies  # type: ignore[assignment]
    if keep_s is not None:
        scan.tile_offsets, scan.row_tiles = offsets, sizes
