"""View sampling: the loudest Q plane -> normalized energy at the pixel centres Gravity Spy's crop
keeps -> viridis -> gray -> the (140, 170) view."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from gravityvit import gravity_spy
from gravityvit.data.omega.parameters import (
    DEFAULT_BACKEND,
    FRANGE_HZ,
    FREQUENCY_RESOLUTION_HZ,
    TIME_RESOLUTION_S,
    check_backend,
)
from gravityvit.data.omega.qscan import QScan

# The rendered PNG: axes at [0.125, 0.1, 0.775, 0.8] of an 8x6 in figure at 100 dpi, shrunk on the
# right by a colorbar (5 % wide, 3 % pad) as in Gravity Spy's plot code.
PNG_DPI = 100
PNG_FIGSIZE_IN: tuple[float, float] = (8.0, 6.0)
AXES_RECT: tuple[float, float, float, float] = (0.125, 0.1, 0.775, 0.8)
COLORBAR_SIZE, COLORBAR_PAD = 0.05, 0.03
# Axes box in PNG pixels (x from the left, y from the top), derived from the numbers above.
AXES_LEFT_PX = AXES_RECT[0] * PNG_FIGSIZE_IN[0] * PNG_DPI
AXES_WIDTH_PX = AXES_RECT[2] * PNG_FIGSIZE_IN[0] * PNG_DPI / (1 + COLORBAR_SIZE + COLORBAR_PAD)
AXES_TOP_PX = (1 - AXES_RECT[1] - AXES_RECT[3]) * PNG_FIGSIZE_IN[1] * PNG_DPI
AXES_HEIGHT_PX = AXES_RECT[3] * PNG_FIGSIZE_IN[1] * PNG_DPI


def sample_scan(
    scan: QScan, times_s: np.ndarray, frequencies_hz: np.ndarray, *, grid_start_s: float
) -> np.ndarray:
    """Normalized energy of the scan at pixel centres, as gwpy's ``QGram.interpolate`` + a plot show it.

    ``interpolate(tres=0.002, fres=0.5, outseg=...)`` puts a cubic spline through each row in time
    on a 2 ms grid starting at ``grid_start_s``, then a cubic spline across rows (linear frequency,
    clamped outside the rows as FITPACK does) on a 0.5 Hz grid starting at the tiling's lowest
    frequency; a plot shows in each pixel the grid cell under its centre.

    Parameters
    ----------
    scan : QScan
    times_s : np.ndarray
        GPS times of the pixel-column centres.
    frequencies_hz : np.ndarray
        Frequencies of the pixel-row centres (any order).
    grid_start_s : float
        Start of the 2 ms output grid (``outseg[0]``).

    Returns
    -------
    np.ndarray
        float32 array (len(frequencies_hz), len(times_s)).
    """
    cells = np.floor((np.asarray(times_s) - grid_start_s) / TIME_RESOLUTION_S + 1e-9).astype(np.int64)
    unique_cells, column_of = np.unique(cells, return_inverse=True)
    grid_times = grid_start_s + unique_cells * TIME_RESOLUTION_S
    rows = _time_interpolated_rows(scan, grid_times - scan.epoch_s)
    operator = _frequency_operator(*_frequency_grid_key(scan, frequencies_hz))
    return (operator @ rows)[:, column_of].astype(np.float32)


def _frequency_grid_key(scan: QScan, frequencies_hz: np.ndarray) -> tuple[bytes, bytes]:
    """The scan's row frequencies and the 0.5 Hz grid cells under ``frequencies_hz``, as cache keys."""
    fmin = scan.frange_hz[0]
    grid_frequencies = fmin + np.floor((np.asarray(frequencies_hz) - fmin) / FREQUENCY_RESOLUTION_HZ) * (
        FREQUENCY_RESOLUTION_HZ
    )
    grid_frequencies = np.clip(grid_frequencies, scan.frequencies_hz[0], scan.frequencies_hz[-1])
    return (
        np.ascontiguousarray(scan.frequencies_hz, dtype=np.float64).tobytes(),
        np.ascontiguousarray(grid_frequencies, dtype=np.float64).tobytes(),
    )


def _needed_tiles(scan: QScan, size: int, offset: int, kept: int, offsets_s: np.ndarray) -> tuple[int, int]:
    """Tiles ``lo`` to ``hi`` of a ``size``-tile row whose spline gives its values at ``offsets_s``.

    The interpolating cubic spline through a local stretch (16 samples beyond the needed span)
    equals the full-row spline to ~1e-6: the influence of the ends decays 3.7x per knot.

    Raises:
        ValueError: when the scan keeps only tiles ``offset`` to ``offset + kept`` of the row and
            they do not cover the stretch.
    """
    dt = scan.duration_s / size
    first_s, last_s = float(offsets_s.min()), float(offsets_s.max())
    lo = max(0, math.floor(first_s / dt) - 16)
    hi = min(size, math.ceil(last_s / dt) + 17)
    if lo < offset or hi > offset + kept:
        raise ValueError(
            f"the scan keeps tiles {offset}-{offset + kept} of its {size}-tile rows, but sampling "
            f"{first_s:.3f}-{last_s:.3f} s after its start needs tiles {lo}-{hi}"
        )
    return lo, hi


def _time_interpolated_rows(scan: QScan, offsets_s: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Every row of ``scan`` interpolated in time at ``offsets_s`` (seconds from ``scan.epoch_s``).

    Returns an array (rows, len(offsets_s)) of ``dtype``, the precision of the arithmetic.
    """
    rows = np.empty((len(scan.frequencies_hz), offsets_s.size), dtype=dtype)
    by_size: dict[tuple[int, int], list[int]] = {}
    for row in range(len(scan.energies)):
        by_size.setdefault((scan.row_size(row), scan.row_offset(row)), []).append(row)
    sizes = np.array([size for size, _ in by_size], dtype=np.float64)
    dts = scan.duration_s / sizes
    bounds = [
        _needed_tiles(scan, size, offset, len(scan.energies[members[0]]), offsets_s)
        for (size, offset), members in by_size.items()
    ]
    los, his = (np.array(values, dtype=np.int64) for values in zip(*bounds))
    # The cubic weights of every row group at once: the groups differ only in tile spacing.
    taps = _cubic_taps(offsets_s[None, :] / dts[:, None] - los[:, None], his - los - 1)
    for index, ((_, offset), members) in enumerate(by_size.items()):
        lo, hi = bounds[index]
        block = np.stack([scan.energies[row][lo - offset : hi - offset] for row in members])
        block = block.astype(dtype, copy=False)
        rows[members] = _cubic_rows(block, [(tap[index], weight[index]) for tap, weight in taps])
    return rows


def _time_interpolated_rows_fast(scan: QScan, offsets_s: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """:func:`_time_interpolated_rows` with one cached sparse matrix per run of rows that share their
    tiles: the same numbers, in one product per run instead of four gathers.

    The gwpy backend keeps :func:`_time_interpolated_rows`: it is the reference whose speed and
    views the fast backend is measured and tested against (benchmarks/run.py ``--only omega``).
    """
    rows = np.empty((len(scan.frequencies_hz), offsets_s.size), dtype=dtype)
    sizes, tile_offsets = scan.row_layout()
    # Runs of rows with the same tiles share one interpolation matrix (in a Q plane, the rows of
    # one tile count are adjacent).
    change = (np.diff(sizes, prepend=-1) != 0) | (np.diff(tile_offsets, prepend=-1) != 0)
    starts = np.flatnonzero(change).tolist()
    for first, stop in zip(starts, [*starts[1:], sizes.size]):
        size, offset = int(sizes[first]), int(tile_offsets[first])
        dt = scan.duration_s / size
        lo, hi = _needed_tiles(scan, size, offset, len(scan.energies[first]), offsets_s)
        # Time-major, so that the sparse product runs along the rows of the run.
        block = np.stack(
            [scan.energies[row][lo - offset : hi - offset] for row in range(first, stop)], axis=1
        )
        matrix = _cubic_matrix((offsets_s / dt - lo).tobytes(), hi - lo - 1, np.dtype(dtype).str)
        rows[first:stop] = (matrix @ block.astype(dtype, copy=False)).T
    return rows


@functools.lru_cache(maxsize=64)
def _cubic_matrix(positions: bytes, last: int, dtype: str) -> Any:
    """Sparse (points, last + 1) matrix of :func:`_cubic_rows`'s cubic convolution at ``positions``
    (float64 bytes: fractional indices into a block whose last index is ``last``).

    Cached: the positions depend only on the views' geometry around the GPS time.
    """
    from scipy import sparse

    taps = _cubic_taps(np.frombuffer(positions, dtype=np.float64)[None, :], np.array([last]))
    indices = np.stack([index[0] for index, _ in taps], axis=1)
    weights = np.stack([weight[0] for _, weight in taps], axis=1).astype(dtype)
    indptr = np.arange(0, indices.size + 1, len(taps))
    return sparse.csr_matrix((weights.ravel(), indices.ravel(), indptr), shape=(indices.shape[0], last + 1))


def _cubic_taps(positions: np.ndarray, last: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Indices and weights of the four taps of cubic convolution (Keys, a = -0.5) at ``positions``.

    ``positions`` (groups, points) are fractional indices into blocks whose last index is
    ``last`` (groups,); taps beyond a block's ends read its first or last sample.
    """
    base = np.floor(positions).astype(np.int64)
    t = positions - base
    weights = (
        ((-0.5 * t + 1.0) * t - 0.5) * t,
        (1.5 * t - 2.5) * t * t + 1.0,
        ((-1.5 * t + 2.0) * t + 0.5) * t,
        (0.5 * t - 0.5) * t * t,
    )
    # np.minimum / np.maximum: np.clip's checks of its bounds cost more than the clipping here.
    return [
        (np.minimum(np.maximum(base + offset, 0), last[:, None]), weight)
        for offset, weight in zip(range(-1, 3), weights)
    ]


def _cubic_rows(block: np.ndarray, taps: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Cubic convolution (Keys, a = -0.5) through each row of ``block`` with the taps of :func:`_cubic_taps`.

    It passes through the samples like gwpy's interpolating spline and differs from it between
    samples by a small fraction of the local variation; it needs no global solve, which makes it
    several times cheaper on rows of tens of thousands of tiles.
    """
    out = None
    for index, weight in taps:
        values = block[:, index]
        values *= weight.astype(block.dtype)
        if out is None:
            out = values
        else:
            out += values
    return out


@functools.lru_cache(maxsize=64)
def _frequency_operator32(row_frequencies: bytes, grid_frequencies: bytes) -> Any:
    """:func:`_frequency_operator` in single precision."""
    return _frequency_operator(row_frequencies, grid_frequencies).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _frequency_operator(row_frequencies: bytes, grid_frequencies: bytes) -> Any:
    """Sparse linear map from row values to the not-a-knot cubic spline across rows at the grid.

    The spline's dependence on a row decays by ~3.7x per row, so weights below 1e-5 are dropped.
    """
    from scipy import sparse

    rows = np.frombuffer(row_frequencies, dtype=np.float64)
    grid = np.frombuffer(grid_frequencies, dtype=np.float64)
    dense = CubicSpline(rows, np.eye(rows.size), axis=0, bc_type="not-a-knot")(grid)
    dense[np.abs(dense) < 1e-5] = 0.0
    return sparse.csr_matrix(dense)


def axes_pixel_grid(
    duration_s: float,
    gps: float,
    rows: tuple[int, int],
    cols: tuple[int, int],
    frange_hz: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Times and frequencies at the centres of PNG pixels rows[0]:rows[1], cols[0]:cols[1]."""
    x = np.arange(cols[0], cols[1]) + 0.5
    times = gps - duration_s / 2 + (x - AXES_LEFT_PX) / AXES_WIDTH_PX * duration_s
    y = np.arange(rows[0], rows[1]) + 0.5
    log_top, log_bottom = np.log(frange_hz[1]), np.log(frange_hz[0])
    frequencies = np.exp(log_top - (y - AXES_TOP_PX) / AXES_HEIGHT_PX * (log_top - log_bottom))
    return times, frequencies


@functools.lru_cache(maxsize=1)
def _viridis_lut() -> np.ndarray:
    """Viridis as 256 8-bit RGB entries, as matplotlib writes them into the PNG."""
    from matplotlib import colormaps

    return colormaps["viridis"](np.arange(256), bytes=True)[:, :3]


@functools.lru_cache(maxsize=1)
def _gray_lut() -> np.ndarray:
    return gravity_spy.rgb_to_gray(_viridis_lut()[None])[0]


def energy_to_colour_index(energy: np.ndarray) -> np.ndarray:
    """Colormap index (0-255) of normalized energy under the 0-25.5 colour scale (matplotlib's rule)."""
    low, high = gravity_spy.NORMALIZED_ENERGY_RANGE
    scaled = (np.asarray(energy, dtype=np.float32) - low) * np.float32(256 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)  # truncation = floor for non-negative values


def _colour_index_in_place(energy: np.ndarray) -> np.ndarray:
    """:func:`energy_to_colour_index` of a float32 array, overwriting it (fewer passes over memory)."""
    low, high = gravity_spy.NORMALIZED_ENERGY_RANGE
    if low:
        energy -= np.float32(low)
    energy *= np.float32(256 / (high - low))
    np.clip(energy, 0, 255, out=energy)
    return energy.astype(np.uint8)


def energy_to_view(energy: np.ndarray) -> np.ndarray:
    """Turn normalized energy on the cropped axes pixels (466x566) into a (140, 170) gray view."""
    return gravity_spy.resize_view(_gray_lut()[energy_to_colour_index(energy)])


def scan_to_views(
    scan: QScan,
    gps: float,
    *,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    backend: str = DEFAULT_BACKEND,
) -> np.ndarray:
    """Sample one scan for each duration and return the gray views, float32 (len(durations_s), 140, 170).

    ``backend="gwpy"`` samples each view in turn with :func:`sample_scan`; ``"fast"`` interpolates
    every row once at the union of the 2 ms cells all views show and maps energy to gray once per
    cell: the same numbers, as the cells of the views share one 2 ms grid around ``gps``.
    """
    check_backend(backend)
    if backend == "fast":
        return _views_at_once(scan, float(gps), durations_s, frange_hz)
    views = []
    for duration in durations_s:
        times, frequencies = axes_pixel_grid(
            duration, gps, gravity_spy.PNG_AXES_ROWS, gravity_spy.PNG_AXES_COLS, frange_hz
        )
        energy = sample_scan(scan, times, frequencies, grid_start_s=gps - duration / 2)
        views.append(energy_to_view(energy))
    return np.stack(views).astype(np.float32)


def _views_at_once(
    scan: QScan, gps: float, durations_s: Sequence[float], frange_hz: tuple[float, float]
) -> np.ndarray:
    """:func:`scan_to_views` of all durations from one interpolation over the union of their cells."""
    offsets = []
    frequencies = np.empty(0)
    for duration in durations_s:
        times, frequencies = axes_pixel_grid(
            duration, gps, gravity_spy.PNG_AXES_ROWS, gravity_spy.PNG_AXES_COLS, frange_hz
        )
        # sample_scan's cells of the 2 ms grid starting at gps - duration / 2, as seconds from gps.
        cells = np.floor((times - (gps - duration / 2)) / TIME_RESOLUTION_S + 1e-9)
        offsets.append(cells * TIME_RESOLUTION_S - duration / 2)
    # Offsets of one grid cell from different views agree to rounding: merge them at 1 ns.
    unique_ns, column_of = np.unique(np.round(np.concatenate(offsets) * 1e9), return_inverse=True)
    # Single precision halves the memory traffic; colours resolve 0.1 of normalized energy.
    rows = _time_interpolated_rows_fast(scan, (gps - scan.epoch_s) + unique_ns * 1e-9)
    row_frequencies, grid_frequencies = _frequency_grid_key(scan, frequencies)
    # Below ~44 Hz several pixel rows share a 0.5 Hz cell: interpolate and colour each cell once.
    cell_frequencies, shrink = _cell_rows(grid_frequencies, gravity_spy.VIEW_HEIGHT)
    energy = _frequency_operator32(row_frequencies, cell_frequencies) @ rows
    gray = np.take(_gray_lut(), _colour_index_in_place(energy))
    # resize_view's vertical pass commutes with picking each view's columns: do it once for all.
    vertical = shrink @ gray
    # Each view's horizontal shrink reads its columns of the union: one matrix for all views.
    horizontal = _view_columns_shrink(
        column_of.tobytes(), len(offsets), unique_ns.size, gravity_spy.VIEW_WIDTH
    )
    views = (horizontal @ vertical.T).reshape(len(offsets), gravity_spy.VIEW_WIDTH, -1).transpose(0, 2, 1)
    return np.clip(views, 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _view_columns_shrink(column_of: bytes, views: int, columns: int, new_size: int) -> Any:
    """Sparse float32 (views * new_size, columns): each view's horizontal shrink of its union columns.

    ``column_of`` (int64 bytes) lists, view after view, the union column of each of a view's pixel
    columns (all views have as many); row ``v * new_size + j`` of the result is output column ``j``
    of view ``v``.
    """
    from scipy import sparse

    picks = np.frombuffer(column_of, dtype=np.int64).reshape(views, -1)
    shrink = _bilinear_shrink_matrix(picks.shape[1], new_size)
    return sparse.vstack([shrink @ _selection_matrix(pick, columns) for pick in picks]).tocsr()


def _selection_matrix(indices: np.ndarray, size: int) -> Any:
    """Sparse float32 (len(indices), size) whose row i reads element ``indices[i]``."""
    from scipy import sparse

    return sparse.csr_matrix(
        (np.ones(indices.size, dtype=np.float32), (np.arange(indices.size), indices)),
        shape=(indices.size, size),
    )


@functools.lru_cache(maxsize=64)
def _cell_rows(grid_frequencies: bytes, new_size: int) -> tuple[bytes, Any]:
    """The distinct 0.5 Hz cells of the pixel rows and the vertical shrink matrix that reads them.

    ``grid_frequencies`` (float64 bytes) holds each pixel row's cell; returns the distinct cells (as
    bytes, a cache key of :func:`_frequency_operator32`) and the (new_size, cells) float32 matrix
    equal to :func:`_bilinear_shrink_matrix` applied to the pixel rows, each row read from its cell.
    """
    pixel_cells = np.frombuffer(grid_frequencies, dtype=np.float64)
    cells, cell_of = np.unique(pixel_cells, return_inverse=True)
    expand = _selection_matrix(cell_of, cells.size)
    shrink = (_bilinear_shrink_matrix(pixel_cells.size, new_size) @ expand).tocsr()
    return cells.tobytes(), shrink


@functools.lru_cache(maxsize=8)
def _bilinear_shrink_matrix(size: int, new_size: int) -> Any:
    """Sparse float32 (new_size, size) matrix of Pillow's antialiased bilinear resize along one axis.

    Pillow (``Image.resize(resample=BILINEAR)``, which :func:`gravity_spy.resize_view` calls)
    widens the triangle filter by the shrink factor and normalises each output's weights; applied
    along both axes this reproduces ``resize_view`` to 1e-7 (tested), several times faster.
    """
    from scipy import sparse

    scale = size / new_size
    support = max(scale, 1.0)
    rows, columns, weights = [], [], []
    for index in range(new_size):
        centre = (index + 0.5) * scale
        inputs = np.arange(max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), size))
        weight = np.maximum(0.0, 1.0 - np.abs((inputs - centre + 0.5) / support))
        rows.append(np.full(inputs.size, index))
        columns.append(inputs)
        weights.append(weight / weight.sum())
    matrix = sparse.csr_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))), shape=(new_size, size)
    )
    return matrix.astype(np.float32)
