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
from gravityvit.data.omega.parameters import FRANGE_HZ, FREQUENCY_RESOLUTION_HZ, TIME_RESOLUTION_S
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
    rows = np.empty((len(scan.frequencies_hz), grid_times.size), dtype=np.float64)
    by_size: dict[int, list[int]] = {}
    for row, energy in enumerate(scan.energies):
        by_size.setdefault(energy.size, []).append(row)
    for size, members in by_size.items():
        dt = scan.duration_s / size
        # The interpolating cubic spline through a local stretch (16 samples beyond the needed
        # span) equals the full-row spline to ~1e-6: the influence of the ends decays 3.7x per knot.
        lo = max(0, math.floor((grid_times.min() - scan.epoch_s) / dt) - 16)
        hi = min(size, math.ceil((grid_times.max() - scan.epoch_s) / dt) + 17)
        block = np.stack([scan.energies[row][lo:hi] for row in members]).astype(np.float64)
        rows[members] = _cubic_rows(block, (grid_times - scan.epoch_s) / dt - lo)
    fmin = scan.frange_hz[0]
    grid_frequencies = fmin + np.floor((np.asarray(frequencies_hz) - fmin) / FREQUENCY_RESOLUTION_HZ) * (
        FREQUENCY_RESOLUTION_HZ
    )
    grid_frequencies = np.clip(grid_frequencies, scan.frequencies_hz[0], scan.frequencies_hz[-1])
    operator = _frequency_operator(
        np.ascontiguousarray(scan.frequencies_hz, dtype=np.float64).tobytes(),
        np.ascontiguousarray(grid_frequencies, dtype=np.float64).tobytes(),
    )
    return (operator @ rows)[:, column_of].astype(np.float32)


def _cubic_rows(block: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Cubic convolution (Keys, a = -0.5) through each row of ``block`` at fractional ``positions``.

    It passes through the samples like gwpy's interpolating spline and differs from it between
    samples by a small fraction of the local variation; it needs no global solve, which makes it
    several times cheaper on rows of tens of thousands of tiles.
    """
    last = block.shape[1] - 1
    base = np.floor(positions).astype(np.int64)
    t = positions - base
    weights = (
        ((-0.5 * t + 1.0) * t - 0.5) * t,
        (1.5 * t - 2.5) * t * t + 1.0,
        ((-1.5 * t + 2.0) * t + 0.5) * t,
        (0.5 * t - 0.5) * t * t,
    )
    out = np.zeros((block.shape[0], positions.size))
    for offset, weight in zip(range(-1, 3), weights):
        out += block[:, np.clip(base + offset, 0, last)] * weight
    return out


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


def energy_to_view(energy: np.ndarray) -> np.ndarray:
    """Turn normalized energy on the cropped axes pixels (466x566) into a (140, 170) gray view."""
    return gravity_spy.resize_view(_gray_lut()[energy_to_colour_index(energy)])


def scan_to_views(
    scan: QScan,
    gps: float,
    *,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
    frange_hz: tuple[float, float] = FRANGE_HZ,
) -> np.ndarray:
    """Sample one scan for each duration and return the gray views, float32 (len(durations_s), 140, 170)."""
    views = []
    for duration in durations_s:
        times, frequencies = axes_pixel_grid(
            duration, gps, gravity_spy.PNG_AXES_ROWS, gravity_spy.PNG_AXES_COLS, frange_hz
        )
        energy = sample_scan(scan, times, frequencies, grid_start_s=gps - duration / 2)
        views.append(energy_to_view(energy))
    return np.stack(views).astype(np.float32)
