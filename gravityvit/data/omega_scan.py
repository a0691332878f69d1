"""Omega scan: strain around a GPS time -> the four Gravity Spy views.

Gravity Spy makes each view with gwpy (``docs/gravity_spy.md``)::

    data.q_transform(qrange=(4, 64), frange=(10, 2048), gps=t0, search=0.5, tres=0.002,
                     fres=0.5, outseg=(t0 - d / 2, t0 + d / 2), whiten=True)

then plots it (8x6 in at 100 dpi, log frequency axis, viridis, normalized energy 0-25.5) and its
reader crops the plot axes, converts to gray and shrinks to 140x170. This module does the same in
one pass:

1. whiten the strain as ``q_transform(whiten=True)`` does (median ASD with 2 s Hann segments,
   2 s FIR whitening filter);
2. compute the Q scan *once* over the whitened data (:func:`q_scan`: the tiling and windows of
   ``gwpy.signal.qtransform``, batched over the rows of each Q plane; each row divided by its mean
   energy, as the gwpy of the Gravity Spy images did, or its median, as gwpy does today) and keep
   the Q plane with the loudest tile within 0.5 s of the GPS time, as gwpy does;
3. for each duration, sample that plane at the centres of the pixels Gravity Spy's crop keeps,
   as gwpy's interpolation and the plot show them (2 ms x 0.5 Hz output cells, cubic interpolation
   in time, cubic spline across the frequency rows);
4. clip the normalized energy to 0-25.5, map it through viridis to 8-bit RGB as the PNG stores it,
   convert to gray with :func:`gravityvit.gravity_spy.rgb_to_gray` and shrink with
   :func:`gravityvit.gravity_spy.resize_view`, the same functions the PNG reader uses.

:func:`render_gravityspy_png` draws the 800x600 PNG Gravity Spy draws from the same scan, so
``gravity_spy.png_to_view(png)`` closes the loop with the real PNG path.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.fft
from scipy.interpolate import CubicSpline

from gravityvit import gravity_spy
from gravityvit.file_utils import OutputKind, atomic_path, is_png_file

if TYPE_CHECKING:
    from gwpy.frequencyseries import FrequencySeries
    from gwpy.timeseries import TimeSeries

# Gravity Spy's Omega-scan parameters.
QRANGE: tuple[float, float] = (4.0, 64.0)
FRANGE_HZ: tuple[float, float] = (10.0, 2048.0)
MISMATCH = 0.2  # gwpy's default maximum fractional tile mismatch
SEARCH_WINDOW_S = 0.5  # the loudest Q plane is chosen within +-0.25 s of the GPS time
TIME_RESOLUTION_S = 0.002  # q_transform(tres=0.002)
FREQUENCY_RESOLUTION_HZ = 0.5  # q_transform(fres=0.5)
DATA_SPAN_S = 64.0  # Gravity Spy scans 64 s centred on the trigger
# How the whitening ASD averages its periodograms: gwpy's default was the mean (Welch) when the
# Gravity Spy images were made (until gwpy 2.1, 2021) and is the median today.
ASD_AVERAGES = {"median": "median", "mean": "welch"}
# Whitening as q_transform(whiten=True) does it: median-averaged ASD over 2 s Hann segments with
# 50 % overlap, then a 2 s FIR filter whose first and last second are corrupted.
ASD_FFT_LENGTH_S = 2.0
WHITENING_FILTER_DURATION_S = 2.0
# Below this rate the top of the 10-2048 Hz band is lost; between it and SCAN_SAMPLE_RATE_HZ the
# whitened data are upsampled (see _prepare_whitened): gwpy truncates the tiling at
# rate / 2 / (1 + sqrt(11) / q_min), which is 1291 Hz at 4096 Hz and 2582 Hz at 8192 Hz.
MIN_SAMPLE_RATE_HZ = 4096.0
SCAN_SAMPLE_RATE_HZ = 8192.0

# The rendered PNG: axes at [0.125, 0.1, 0.775, 0.8] of an 8x6 in figure at 100 dpi, shrunk on the
# right by a colorbar (5 % wide, 3 % pad) as in Gravity Spy's plot code.
PNG_DPI = 100
# A rendered Omega-scan PNG may replace only another PNG image.
OMEGA_SCAN_PNG = OutputKind("Omega-scan PNG", recognise=is_png_file)
PNG_FIGSIZE_IN: tuple[float, float] = (8.0, 6.0)
AXES_RECT: tuple[float, float, float, float] = (0.125, 0.1, 0.775, 0.8)
COLORBAR_SIZE, COLORBAR_PAD = 0.05, 0.03
# Axes box in PNG pixels (x from the left, y from the top), derived from the numbers above.
AXES_LEFT_PX = AXES_RECT[0] * PNG_FIGSIZE_IN[0] * PNG_DPI
AXES_WIDTH_PX = AXES_RECT[2] * PNG_FIGSIZE_IN[0] * PNG_DPI / (1 + COLORBAR_SIZE + COLORBAR_PAD)
AXES_TOP_PX = (1 - AXES_RECT[1] - AXES_RECT[3]) * PNG_FIGSIZE_IN[1] * PNG_DPI
AXES_HEIGHT_PX = AXES_RECT[3] * PNG_FIGSIZE_IN[1] * PNG_DPI


class StrainError(ValueError):
    """Strain that cannot give Gravity Spy views: too short, sampled too slowly or not finite."""


# ----------------------------------------------------------------------------------------------
# Batched Q scan (same numbers as gwpy.signal.qtransform.q_scan)


@dataclass(frozen=True)
class _RowGroup:
    """Rows of one Q plane that share a tile count, transformed with one batched inverse FFT."""

    rows: np.ndarray  # row positions in the plane
    ntiles: int
    source: np.ndarray  # flat indices into the one-sided FFT
    target: np.ndarray  # flat indices into the (len(rows), ntiles) buffer
    weights: np.ndarray  # bi-square window values
    window_power: np.ndarray  # sum of squared window values per row
    sampling_rate_hz: float


@dataclass(frozen=True)
class _PlanePlan:
    q: float
    frequencies_hz: np.ndarray
    frange_hz: tuple[float, float]
    groups: tuple[_RowGroup, ...]


@functools.lru_cache(maxsize=8)
def _scan_plan(
    duration_s: float,
    sample_rate_hz: float,
    qrange: tuple[float, float],
    frange_hz: tuple[float, float],
    mismatch: float,
) -> tuple[_PlanePlan, ...]:
    """Tile geometry of gwpy's ``QTiling``, grouped for batched transforms (cached: data-independent)."""
    import warnings

    from gwpy.signal.qtransform import QTiling

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the truncation warning is handled by the caller
        tiling = QTiling(duration_s, sample_rate_hz, qrange=qrange, frange=frange_hz, mismatch=mismatch)
    plans = []
    for plane in tiling:
        by_ntiles: dict[int, list[tuple[int, object]]] = {}
        for row, tile in enumerate(plane):
            by_ntiles.setdefault(tile.ntiles, []).append((row, tile))
        groups = []
        for ntiles, members in sorted(by_ntiles.items()):
            sources, targets, weights, powers = [], [], [], []
            for slot, (_, tile) in enumerate(members):
                window = tile.get_window()
                left, _right = tile.padding
                # gwpy pads the windowed band to ntiles and applies ifftshift before the IFFT.
                padded_positions = left + np.arange(window.size)
                shifted = (padded_positions - ntiles // 2) % ntiles
                sources.append(tile.get_data_indices())
                targets.append(slot * ntiles + shifted)
                weights.append(window)
                powers.append(float(np.sum(window**2)))
            groups.append(
                _RowGroup(
                    rows=np.array([row for row, _ in members]),
                    ntiles=ntiles,
                    source=np.concatenate(sources),
                    target=np.concatenate(targets),
                    weights=np.concatenate(weights),
                    window_power=np.array(powers),
                    sampling_rate_hz=sample_rate_hz,
                )
            )
        plans.append(
            _PlanePlan(
                q=plane.q,
                frequencies_hz=plane.frequencies,
                frange_hz=tuple(plane.frange),
                groups=tuple(groups),
            )
        )
    return tuple(plans)


@dataclass
class QScan:
    """The loudest Q plane of a scan: normalized tile energies per frequency row.

    Attributes
    ----------
    q : float
        Quality factor of the plane.
    frequencies_hz : np.ndarray
        Centre frequency of each row, ascending.
    frange_hz : tuple of float
        Frequency range of the tiling (the 0.5 Hz output grid spans it).
    epoch_s : float
        GPS time of the first sample of every row.
    duration_s : float
        Duration of the transformed data; row ``i`` has ``len(energies[i])`` samples over it.
    energies : list of np.ndarray
        Median-normalised energy of each row, float32.
    peak_time_s, peak_frequency_hz, peak_energy : float
        The loudest tile within the search window.
    """

    q: float
    frequencies_hz: np.ndarray
    frange_hz: tuple[float, float]
    epoch_s: float
    duration_s: float
    energies: list[np.ndarray]
    peak_time_s: float
    peak_frequency_hz: float
    peak_energy: float

    @property
    def peak_snr(self) -> float:
        """Amplitude SNR of the loudest tile, sqrt(2 E) as gwpy defines it."""
        return math.sqrt(2.0 * self.peak_energy)


NORMALIZATIONS = ("mean", "median")


def _group_energy(fseries: np.ndarray, group: _RowGroup) -> np.ndarray:
    """Raw tile energies of one row group, shape (len(group.rows), group.ntiles)."""
    # Single precision halves the cost of the inverse FFTs, the bulk of a scan; energies keep ~1e-6
    # relative precision, far below what a view can show.
    buffer = np.zeros(len(group.rows) * group.ntiles, dtype=np.complex64)
    buffer[group.target] = fseries[group.source] * group.weights
    tdenergy = scipy.fft.ifft(buffer.reshape(len(group.rows), group.ntiles), axis=1, overwrite_x=True)
    return np.square(tdenergy.real) + np.square(tdenergy.imag)


def _interior(energy: np.ndarray, duration_s: float) -> np.ndarray:
    """Tiles outside the first and last half whitening-filter length, which whitening corrupts."""
    edge = round(energy.shape[-1] * WHITENING_FILTER_DURATION_S / 2 / duration_s)
    return energy[..., edge : energy.shape[-1] - edge]


def _one_sided_fft(data: np.ndarray) -> np.ndarray:
    # gwpy's TimeSeries.fft: one-sided, divided by n, non-DC bins doubled.
    fseries = scipy.fft.rfft(data) / data.size
    fseries[1:] *= 2.0
    return fseries


def _coerced_plan(
    duration_s: float,
    sample_rate_hz: float,
    qrange: Sequence[float],
    frange_hz: Sequence[float],
    mismatch: float,
) -> tuple[_PlanePlan, ...]:
    """``_scan_plan`` of user-given settings, coerced to the hashable floats its cache keys on."""
    return _scan_plan(
        float(duration_s),
        float(sample_rate_hz),
        tuple(map(float, qrange)),
        tuple(map(float, frange_hz)),
        float(mismatch),
    )


def _plan_and_fft(
    data: np.ndarray,
    sample_rate_hz: float,
    qrange: Sequence[float],
    frange_hz: Sequence[float],
    mismatch: float,
) -> tuple[float, tuple[_PlanePlan, ...], np.ndarray]:
    """Duration (s), tile plan and one-sided FFT of float64 ``data`` sampled at ``sample_rate_hz``."""
    duration_s = data.size / float(sample_rate_hz)
    plans = _coerced_plan(duration_s, sample_rate_hz, qrange, frange_hz, mismatch)
    return duration_s, plans, _one_sided_fft(data)


def _plane_energies(
    fseries: np.ndarray,
    plan: _PlanePlan,
    n_samples: int,
    normalization: str,
    reference_span_s: float | None,
    noise_energy: np.ndarray | None,
) -> list[np.ndarray]:
    energies: list[np.ndarray | None] = [None] * len(plan.frequencies_hz)
    for group in plan.groups:
        energy = _group_energy(fseries, group)
        noise = None if noise_energy is None else noise_energy[group.rows][:, None]
        reference = _row_reference(energy, group, n_samples, normalization, reference_span_s, noise)
        normalised = (energy / reference).astype(np.float32)
        for slot, row in enumerate(group.rows):
            energies[row] = normalised[slot]
    return energies  # type: ignore[return-value]


def _row_reference(
    energy: np.ndarray,
    group: _RowGroup,
    n_samples: int,
    normalization: str,
    reference_span_s: float | None,
    noise_mean: np.ndarray | None,
) -> np.ndarray:
    """The energy each row is divided by: its mean or median, optionally over a padded span."""
    duration_s = n_samples / group.sampling_rate_hz
    if reference_span_s is None or reference_span_s <= duration_s:
        statistic = np.mean if normalization == "mean" else np.median
        return statistic(energy, axis=1, keepdims=True)
    if noise_mean is None:
        # Mean tile energy of unit-variance white Gaussian noise: each one-sided FFT bin has
        # E|X|^2 = 4 / n (gwpy's FFT normalisation) and a tile sums sum(w^2) of them / ntiles^2.
        noise_mean = (4.0 / n_samples * group.window_power / group.ntiles**2)[:, None]
    if normalization == "median":
        # A glitch short against the padded span barely moves a median: use the noise's
        # (tile energies are exponential, whose median is ln 2 times the mean).
        return np.log(2.0) * noise_mean
    # Only the part of the data the whitening filter leaves intact counts; the rest of the padded
    # span is noise.
    duration_fraction = (duration_s - WHITENING_FILTER_DURATION_S) / reference_span_s
    interior_mean = _interior(energy, duration_s).mean(axis=1, keepdims=True)
    return duration_fraction * interior_mean + (1 - duration_fraction) * noise_mean


def peak_tile_snr(
    whitened_signal: np.ndarray,
    sample_rate_hz: float,
    search_s: tuple[float, float],
    *,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    mismatch: float = MISMATCH,
) -> float:
    """SNR of the loudest Q tile of a noise-free whitened signal, as Omicron would rank it.

    Each tile's energy is compared with the mean energy unit-variance white noise gives it:
    ``snr = sqrt(2 E / E_noise)``, so a tile matching a signal of matched-filter SNR rho gives rho.

    Parameters
    ----------
    whitened_signal : np.ndarray
        The signal in whitened units (unit-variance noise), noise-free; time 0 at its first sample.
    sample_rate_hz : float
        Its sample rate.
    search_s : tuple of float
        Start and end (seconds from the first sample) of the window searched for the peak.
    """
    data = np.asarray(whitened_signal, dtype=np.float64)
    duration_s, plans, fseries = _plan_and_fft(data, sample_rate_hz, qrange, frange_hz, mismatch)
    peak = 0.0
    for plan in plans:
        for group in plan.groups:
            energy = _group_energy(fseries, group)
            dt = duration_s / group.ntiles
            lo = max(0, math.floor(search_s[0] / dt))
            hi = min(group.ntiles, math.floor(search_s[1] / dt))
            if hi <= lo:
                continue
            noise_mean = 4.0 / data.size * group.window_power / group.ntiles**2
            peak = max(peak, float(np.max(energy[:, lo:hi].max(axis=1) / noise_mean)))
    return math.sqrt(2.0 * peak)


def noise_row_energies(
    whitened_noise: Sequence[np.ndarray],
    sample_rate_hz: float,
    *,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    mismatch: float = MISMATCH,
) -> tuple[np.ndarray, ...]:
    """Mean raw tile energy of each row of each Q plane over whitened noise-only realisations.

    Gives :func:`q_scan` the reference of its ``reference_span_s`` padding for noise that is not
    exactly white (a 2 s whitening filter leaks some of a steep low-frequency spectrum).

    Returns
    -------
    tuple of np.ndarray
        One array per Q plane (tiling order), one value per row.
    """
    sums: list[np.ndarray] | None = None
    for data in whitened_noise:
        data = np.asarray(data, dtype=np.float64)
        duration_s, plans, fseries = _plan_and_fft(data, sample_rate_hz, qrange, frange_hz, mismatch)
        means = []
        for plan in plans:
            row_means = np.empty(len(plan.frequencies_hz))
            for group in plan.groups:
                row_means[group.rows] = _interior(_group_energy(fseries, group), duration_s).mean(axis=1)
            means.append(row_means)
        sums = means if sums is None else [a + b for a, b in zip(sums, means)]
    if sums is None:
        raise ValueError("noise_row_energies needs at least one noise realisation")
    return tuple(total / len(whitened_noise) for total in sums)


def tile_weighted_mean(
    values: np.ndarray,
    duration_s: float,
    sample_rate_hz: float,
    *,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    mismatch: float = MISMATCH,
) -> tuple[np.ndarray, ...]:
    """Average of a per-frequency quantity over each tile's squared window, per row and plane.

    With ``values`` the factor by which whitening scales the noise power in each frequency bin,
    this is the factor by which it scales the noise's mean tile energy in each row (what
    :func:`q_scan`'s ``noise_energy`` must be multiplied by when the whitening ASD is not the
    noise's own, e.g. a mean-averaged ASD raised by a loud glitch).

    Parameters
    ----------
    values : np.ndarray
        One value per bin of the one-sided FFT of ``duration_s`` of data at ``sample_rate_hz``
        (bin spacing ``1 / duration_s``).
    duration_s, sample_rate_hz : float
        The data the scan will transform.

    Returns
    -------
    tuple of np.ndarray
        One array per Q plane (tiling order), one value per row.
    """
    values = np.asarray(values, dtype=np.float64)
    plans = _coerced_plan(duration_s, sample_rate_hz, qrange, frange_hz, mismatch)
    out = []
    for plan in plans:
        row_values = np.empty(len(plan.frequencies_hz))
        for group in plan.groups:
            slot = group.target // group.ntiles
            sums = np.bincount(
                slot, weights=group.weights**2 * values[group.source], minlength=len(group.rows)
            )
            row_values[group.rows] = sums / group.window_power
        out.append(row_values)
    return tuple(out)


def q_scan(
    whitened: np.ndarray,
    sample_rate_hz: float,
    epoch_s: float,
    search_s: tuple[float, float] | None,
    *,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    mismatch: float = MISMATCH,
    normalization: str = "mean",
    reference_span_s: float | None = None,
    noise_energy: Sequence[np.ndarray] | None = None,
) -> QScan:
    """Scan whitened data over gwpy's Q tiling and return the plane with the loudest tile.

    The tiling, bi-square windows and the choice of plane are those of
    ``gwpy.signal.qtransform.q_scan``, and with ``normalization="median"`` so are the energies
    (tested to agree to 2e-4). Rows of equal tile count are transformed together in one
    single-precision inverse FFT, about five times faster than gwpy.

    Parameters
    ----------
    whitened : np.ndarray
        Whitened strain samples.
    sample_rate_hz : float
        Sample rate of ``whitened`` in Hz.
    epoch_s : float
        GPS time of the first sample.
    search_s : tuple of float or None
        GPS ``(start, end)`` within which the loudest tile picks the plane; ``None`` for all data.
    qrange, frange_hz, mismatch
        Tiling parameters, as in gwpy.
    normalization : {"mean", "median"}
        Divide each row by its mean energy (default) or its median energy (gwpy >= 0.8's
        ``norm="median"``). The Gravity Spy training-set images match the mean: in glitch-free
        parts of the real Blip PNGs the normalized-energy quantiles (10/50/90 %) are 0.3/0.8/1.6,
        as a mean-normalised scan gives, while a median-normalised one gives 1 / ln 2 = 1.44
        times more (see docs/simulator.md).
    reference_span_s : float, optional
        Compute each row's mean (or median) as if the row lasted ``reference_span_s`` seconds, the
        part beyond the data being unit-variance white Gaussian noise. Whitened data that are
        mostly noise give the same views either way; it lets a short stretch of data (the
        simulator's 8 s) be normalised like Gravity Spy's 64 s, where a glitch of a few seconds
        moves the reference far less than in 8 s.
    noise_energy : sequence of np.ndarray, optional
        The mean raw tile energy of the noise for each row of each plane
        (:func:`noise_row_energies`) used for the padding; default: that of white noise.

    Returns
    -------
    QScan
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}; got {normalization!r}")
    data = np.asarray(whitened, dtype=np.float64)
    if not np.isfinite(data).all():
        raise StrainError("whitened data contain NaN or infinite values")
    duration_s, plans, fseries = _plan_and_fft(data, sample_rate_hz, qrange, frange_hz, mismatch)
    best: QScan | None = None
    for index, plan in enumerate(plans):
        noise = None if noise_energy is None else np.asarray(noise_energy[index])
        energies = _plane_energies(fseries, plan, data.size, normalization, reference_span_s, noise)
        peak_energy, peak_time, peak_frequency = 0.0, epoch_s, float(plan.frequencies_hz[0])
        for frequency, energy in zip(plan.frequencies_hz, energies):
            dt = duration_s / energy.size
            lo, hi = 0, energy.size
            if search_s is not None:  # gwpy's Series.crop index arithmetic
                lo = max(0, math.floor((search_s[0] - epoch_s) / dt))
                hi = min(energy.size, math.floor((search_s[1] - epoch_s) / dt))
            if hi <= lo:
                continue
            index = lo + int(np.argmax(energy[lo:hi]))
            if energy[index] > peak_energy:
                peak_energy, peak_time, peak_frequency = (
                    float(energy[index]),
                    epoch_s + dt * index,
                    float(frequency),
                )
        if best is None or peak_energy > best.peak_energy:
            best = QScan(
                q=plan.q,
                frequencies_hz=plan.frequencies_hz,
                frange_hz=plan.frange_hz,
                epoch_s=float(epoch_s),
                duration_s=duration_s,
                energies=energies,
                peak_time_s=peak_time,
                peak_frequency_hz=peak_frequency,
                peak_energy=peak_energy,
            )
    assert best is not None
    return best


# ----------------------------------------------------------------------------------------------
# Sampling the plane on the pixel grid


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


def _axes_pixel_grid(
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


# ----------------------------------------------------------------------------------------------
# Strain conditioning


def _check_strain(strain: TimeSeries, gps: float, durations_s: Sequence[float]) -> float:
    """Validate rate, span and values; return the minimum half-span needed around ``gps``."""
    rate = float(strain.sample_rate.to("Hz").value)
    name = strain.name or strain.channel or "strain"
    if rate < MIN_SAMPLE_RATE_HZ:
        raise StrainError(
            f"{name}: sample rate {rate:g} Hz is too low for Omega scans up to {FRANGE_HZ[1]:g} Hz; "
            f"need at least {MIN_SAMPLE_RATE_HZ:g} Hz"
        )
    # The longest view, plus the settle-in of the whitening filter, plus one ASD segment.
    half_span = max(durations_s) / 2 + WHITENING_FILTER_DURATION_S / 2 + ASD_FFT_LENGTH_S / 2
    start, end = float(strain.span[0]), float(strain.span[1])
    if gps - half_span < start or gps + half_span > end:
        raise StrainError(
            f"{name}: data cover GPS [{start:.3f}, {end:.3f}) but the {max(durations_s):g} s view around "
            f"{gps:.3f} with {WHITENING_FILTER_DURATION_S:g} s whitening needs at least "
            f"[{gps - half_span:.3f}, {gps + half_span:.3f})"
        )
    return half_span


def _prepare_whitened(
    strain: TimeSeries,
    gps: float,
    durations_s: Sequence[float],
    data_span_s: float,
    whiten: bool | FrequencySeries,
    asd_average: str = "median",
) -> tuple[np.ndarray, float, float]:
    """Crop to the scan span, check values, whiten and bring to a rate that covers 2048 Hz."""
    if asd_average not in ASD_AVERAGES:
        raise ValueError(f"asd_average must be one of {tuple(ASD_AVERAGES)}; got {asd_average!r}")
    half_span = _check_strain(strain, gps, durations_s)
    start = max(float(strain.span[0]), gps - max(data_span_s / 2, half_span))
    end = min(float(strain.span[1]), gps + max(data_span_s / 2, half_span))
    rate = float(strain.sample_rate.to("Hz").value)
    data = strain.crop(start, end) if (start, end) != tuple(map(float, strain.span)) else strain
    values = np.asarray(data.value)
    bad = ~np.isfinite(values)
    if bad.any():
        first = float(data.t0.value) + np.argmax(bad) / rate
        raise StrainError(
            f"{strain.name or 'strain'}: {int(bad.sum())} NaN or infinite samples within the scanned span "
            f"(first at GPS {first:.4f})"
        )
    if whiten is True:
        overlap = ASD_FFT_LENGTH_S / 2  # recommended_overlap('hann') * fftlength
        asd = data.asd(ASD_FFT_LENGTH_S, overlap, window="hann", method=ASD_AVERAGES[asd_average])
    elif whiten is not False:
        asd = whiten  # a known ASD, as q_transform(whiten=FrequencySeries) accepts
    if whiten is not False:
        with np.errstate(all="raise"):
            try:
                data = data.whiten(asd=asd, fduration=WHITENING_FILTER_DURATION_S)
            except FloatingPointError as error:
                raise StrainError(
                    f"{strain.name or 'strain'}: cannot whiten (zero in the ASD): {error}"
                ) from error
    values = np.asarray(data.value, dtype=np.float64)
    epoch = float(data.t0.value)
    if rate < SCAN_SAMPLE_RATE_HZ:
        # Band-limited upsampling of the whitened data (zero-padded FFT), so that gwpy's tiling keeps
        # the full 10-2048 Hz band; Gravity Spy resampled to 16384 Hz before whitening instead.
        factor = math.ceil(SCAN_SAMPLE_RATE_HZ / rate)
        spectrum = scipy.fft.rfft(values)
        padded = np.zeros(values.size * factor // 2 + 1, dtype=np.complex128)
        padded[: spectrum.size] = spectrum
        values = scipy.fft.irfft(padded, n=values.size * factor) * factor
        rate *= factor
    return values, rate, epoch


def whiten_and_scan(
    strain: TimeSeries,
    gps: float,
    *,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    whiten: bool | FrequencySeries = True,
    data_span_s: float = DATA_SPAN_S,
    normalization: str = "mean",
    reference_span_s: float | None = None,
    noise_energy: Sequence[np.ndarray] | None = None,
    asd_average: str = "median",
) -> QScan:
    """Whiten ``strain`` around ``gps`` and return its loudest Q plane (search window 0.5 s).

    Parameters are those of :func:`omega_scan_views`, plus ``reference_span_s`` and
    ``noise_energy`` of :func:`q_scan`.

    Raises
    ------
    StrainError
        Too little data around ``gps``, sample rate below 4096 Hz, or non-finite samples.
    """
    values, rate, epoch = _prepare_whitened(strain, float(gps), durations_s, data_span_s, whiten, asd_average)
    duration = values.size / rate
    search = (max(epoch, gps - SEARCH_WINDOW_S / 2), min(epoch + duration, gps + SEARCH_WINDOW_S / 2))
    return q_scan(
        values,
        rate,
        epoch,
        search,
        qrange=qrange,
        frange_hz=frange_hz,
        normalization=normalization,
        reference_span_s=reference_span_s,
        noise_energy=noise_energy,
    )


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
        times, frequencies = _axes_pixel_grid(
            duration, gps, gravity_spy.PNG_AXES_ROWS, gravity_spy.PNG_AXES_COLS, frange_hz
        )
        energy = sample_scan(scan, times, frequencies, grid_start_s=gps - duration / 2)
        views.append(energy_to_view(energy))
    return np.stack(views).astype(np.float32)


def omega_scan_views(
    strain: TimeSeries,
    gps: float,
    *,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    whiten: bool | FrequencySeries = True,
    data_span_s: float = DATA_SPAN_S,
    normalization: str = "mean",
    asd_average: str = "median",
) -> np.ndarray:
    """Make Gravity Spy's four views of ``strain`` around ``gps``.

    Parameters
    ----------
    strain : gwpy.timeseries.TimeSeries
        Strain with at least ``max(durations_s) / 2 + 2`` s on each side of ``gps``, sampled at
        4096 Hz or more, finite. Up to ``data_span_s`` around ``gps`` is used.
    gps : float
        GPS time of the trigger (the centre of every view).
    durations_s : sequence of float
        View durations in seconds (Gravity Spy: 0.5, 1, 2, 4).
    qrange : tuple of float
        Q range of the tiling.
    frange_hz : tuple of float
        Frequency range in Hz (the image's log axis).
    whiten : bool or gwpy.frequencyseries.FrequencySeries
        Whiten before the scan (Gravity Spy does) with the ASD estimated from the data (``True``)
        or with the given ASD; ``False`` scans the data as they are.
    data_span_s : float
        Longest stretch of data around ``gps`` to whiten and scan (Gravity Spy: 64 s).
    normalization : {"mean", "median"}
        Energy normalisation of each row (see :func:`q_scan`); the Gravity Spy images match
        ``"mean"``.
    asd_average : {"median", "mean"}
        How the estimated whitening ASD averages its 2 s periodograms: ``"median"`` (gwpy today,
        robust to glitches) or ``"mean"`` (Welch, gwpy's default when the Gravity Spy images were
        made: a loud or steady glitch raises the ASD and partly whitens itself). Only used with
        ``whiten=True``.

    Returns
    -------
    np.ndarray
        float32 (len(durations_s), 140, 170) in [0, 1], row 0 the highest frequency.

    Raises
    ------
    StrainError
        Too little data around ``gps``, sample rate below 4096 Hz, or NaN/inf samples.
    """
    gps = float(gps)
    scan = whiten_and_scan(
        strain,
        gps,
        durations_s=durations_s,
        qrange=qrange,
        frange_hz=frange_hz,
        whiten=whiten,
        data_span_s=data_span_s,
        normalization=normalization,
        asd_average=asd_average,
    )
    return scan_to_views(scan, gps, durations_s=durations_s, frange_hz=frange_hz)


# ----------------------------------------------------------------------------------------------
# The rendered PNG


IFO_TITLES = {"H1": "Hanford", "L1": "Livingston", "V1": "Virgo"}


def png_filename(ifo: str, gravityspy_id: str, duration_s: float) -> str:
    """Gravity Spy's PNG name, e.g. ``H1_zmIdpucyOG_spectrogram_1.0.png``."""
    return f"{ifo}_{gravityspy_id}_spectrogram_{gravity_spy.duration_label(duration_s)}.png"


def render_gravityspy_png(
    scan: QScan,
    gps: float,
    duration_s: float,
    path: str | os.PathLike,
    *,
    ifo: str = "H1",
    frange_hz: tuple[float, float] = FRANGE_HZ,
) -> Path:
    """Draw one 800x600 Omega-scan PNG the way Gravity Spy draws it and write it atomically.

    Axes at [0.125, 0.1, 0.775, 0.8] with a colorbar appended on the right (5 %, pad 3 %), log
    frequency axis 10-2048 Hz with power-of-two ticks, time axis from -d/2 to d/2 s, viridis with
    normalized energy 0-25.5, title "Hanford"/"Livingston". Each pixel of the axes shows the
    normalized energy at its centre, sampled by the same :func:`sample_scan` as the views.

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    if ifo not in IFO_TITLES:
        raise ValueError(f"unknown interferometer {ifo!r}; expected one of {sorted(IFO_TITLES)}")
    rows = (0, math.ceil(AXES_TOP_PX + AXES_HEIGHT_PX))
    cols = (math.floor(AXES_LEFT_PX), math.ceil(AXES_LEFT_PX + AXES_WIDTH_PX))
    times, frequencies = _axes_pixel_grid(duration_s, gps, rows, cols, frange_hz)
    # Pixel-aligned quads: edges half a pixel either side of every sampled centre.
    x_edges = np.arange(cols[0], cols[1] + 1, dtype=np.float64)
    y_edges = np.arange(rows[0], rows[1] + 1, dtype=np.float64)
    t_edges = (x_edges - AXES_LEFT_PX) / AXES_WIDTH_PX * duration_s - duration_s / 2
    log_top, log_bottom = np.log(frange_hz[1]), np.log(frange_hz[0])
    f_edges = np.exp(log_top - (y_edges - AXES_TOP_PX) / AXES_HEIGHT_PX * (log_top - log_bottom))
    inside = (frequencies <= frange_hz[1] * 1.01) & (frequencies >= frange_hz[0] * 0.99)
    energy = np.zeros((frequencies.size, times.size), dtype=np.float32)
    energy[inside] = sample_scan(scan, times, frequencies[inside], grid_start_s=gps - duration_s / 2)

    figure = Figure(figsize=PNG_FIGSIZE_IN, dpi=PNG_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes(AXES_RECT)
    low, high = gravity_spy.NORMALIZED_ENERGY_RANGE
    mesh = axes.pcolormesh(
        t_edges, f_edges, energy, cmap="viridis", norm=Normalize(low, high), shading="flat", antialiased=False
    )
    mesh.set_rasterized(True)
    axes.grid(False)
    axes.set_yscale("log", base=2)
    axes.set_xlim(-duration_s / 2, duration_s / 2)
    axes.set_ylim(*frange_hz)
    ticks = [2**k for k in range(4, 12) if frange_hz[0] < 2**k < frange_hz[1]]
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.set_xticks(np.linspace(-duration_s / 2, duration_s / 2, 5))
    axes.set_xticklabels([str(tick) for tick in np.linspace(-duration_s / 2, duration_s / 2, 5)])
    axes.tick_params(direction="in", which="both", top=True, right=True)
    axes.tick_params(axis="x", labelsize=15)
    axes.tick_params(axis="y", labelsize=12)
    axes.set_xlabel("Time (s)", labelpad=0.1, fontsize=20)
    axes.set_ylabel("Frequency (Hz)", fontsize=20)
    axes.set_title(IFO_TITLES[ifo], fontsize=20, y=1.05)
    colorbar_axes = make_axes_locatable(axes).append_axes(
        "right", size=f"{COLORBAR_SIZE:.0%}", pad=f"{COLORBAR_PAD:.0%}"
    )
    colorbar = figure.colorbar(mesh, cax=colorbar_axes, label="Normalized energy")
    colorbar.ax.grid(False)  # gwpy's style turns grids on
    colorbar.ax.tick_params(labelsize=12, direction="in")
    colorbar.ax.yaxis.label.set_size(15)
    path = Path(path)
    with atomic_path(path, kind=OMEGA_SCAN_PNG) as temporary:
        figure.savefig(temporary, format="png", dpi=PNG_DPI)
    return path


def write_gravityspy_pngs(
    scan: QScan,
    gps: float,
    directory: str | os.PathLike,
    *,
    ifo: str,
    gravityspy_id: str,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
) -> list[Path]:
    """Write the four PNGs ``{ifo}_{id}_spectrogram_{d}.png`` of one scan into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        render_gravityspy_png(
            scan, gps, duration, directory / png_filename(ifo, gravityspy_id, duration), ifo=ifo
        )
        for duration in durations_s
    ]


# ----------------------------------------------------------------------------------------------
# Reading strain


def load_strain(
    path: str | os.PathLike,
    channel: str | None = None,
    *,
    gps: float | None = None,
    pad_s: float | None = None,
) -> TimeSeries:
    """Read strain from any file gwpy reads (GWOSC HDF5, GWF with a channel, two-column TXT, gwpy HDF5).

    Parameters
    ----------
    path : path
        The strain file.
    channel : str, optional
        Channel name (required for GWF, and for HDF5 files holding several series).
    gps : float, optional
        Centre of the stretch to read; with ``pad_s`` only ``[gps - pad_s, gps + pad_s)`` is read.
    pad_s : float, optional
        Half-length in seconds of the stretch to read (default: the whole file).

    Returns
    -------
    gwpy.timeseries.TimeSeries

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, or a file gwpy cannot read (the message names it and what was tried).
    """
    from gwpy.timeseries import TimeSeries

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"strain file not found: {path}")
    suffix = path.suffix.lower()
    attempts: list[tuple[str | None, dict]] = []
    if suffix in (".h5", ".hdf5", ".hdf"):
        attempts = [("hdf5.gwosc", {}), ("hdf5", {"path": channel} if channel else {})]
    elif suffix == ".gwf":
        if channel is None:
            raise ValueError(f"{path}: reading a GWF file needs --channel (e.g. H1:GWOSC-16KHZ_R1_STRAIN)")
        attempts = [("gwf", {})]
    elif suffix in (".txt", ".dat", ".csv", ".gz"):
        attempts = [("txt", {})]
    else:
        attempts = [(None, {})]
    errors = []
    for format_name, extra in attempts:
        args = (path,) if channel is None or format_name in ("hdf5.gwosc", "txt", "hdf5") else (path, channel)
        kwargs = dict(extra)
        if format_name is not None:
            kwargs["format"] = format_name
        try:
            strain = TimeSeries.read(*args, **kwargs)
        except Exception as error:  # gwpy raises many types; report them all together
            errors.append(f"{format_name or 'auto'}: {type(error).__name__}: {error}")
            continue
        if gps is not None and pad_s is not None:
            # Keep what the file has of the requested stretch; the scan says if it is too little.
            start = max(float(gps) - pad_s, float(strain.span[0]))
            end = min(float(gps) + pad_s, float(strain.span[1]))
            if end <= start:
                raise ValueError(
                    f"{path}: data cover GPS [{float(strain.span[0]):.3f}, {float(strain.span[1]):.3f}), "
                    f"nothing within {pad_s:g} s of {float(gps):.3f}"
                )
            if (start, end) != (float(strain.span[0]), float(strain.span[1])):
                strain = strain.crop(start, end)
        return strain
    raise ValueError(f"cannot read strain from {path}: " + "; ".join(errors))
