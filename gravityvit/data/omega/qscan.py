"""Batched Q scan over gwpy's tiling (same numbers as ``gwpy.signal.qtransform.q_scan``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from gravityvit.data.omega.parameters import FRANGE_HZ, MISMATCH, QRANGE, StrainError
from gravityvit.data.omega.whitening import WHITENING_FILTER_DURATION_S


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
        Duration of the transformed data; row ``i`` has ``row_tiles[i]`` tiles over it.
    energies : list of np.ndarray
        Normalised energy of each row, float32: tiles ``tile_offsets[i]`` to
        ``tile_offsets[i] + len(energies[i])`` of row ``i`` (all of them unless the scan was cropped).
    peak_time_s, peak_frequency_hz, peak_energy : float
        The loudest tile within the search window.
    tile_offsets, row_tiles : np.ndarray, optional
        Index of the first kept tile and tile count of each row, for a scan that keeps only part of
        each row (:func:`gravityvit.data.omega.qscan_fast.fast_q_scan`); ``None``: whole rows.
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
    tile_offsets: np.ndarray | None = None
    row_tiles: np.ndarray | None = None

    @classmethod
    def of_plane(
        cls,
        plan: _PlanePlan,
        epoch_s: float,
        duration_s: float,
        energies: list[np.ndarray],
        peak: tuple[float, float, float],
    ) -> QScan:
        """The scan of the plane ``plan`` with its ``(peak_time_s, peak_frequency_hz, peak_energy)``."""
        peak_time, peak_frequency, peak_energy = peak
        return cls(
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

    def row_size(self, row: int) -> int:
        """Tile count of the whole row ``row`` (its time step is ``duration_s / row_size(row)``)."""
        return self.energies[row].size if self.row_tiles is None else int(self.row_tiles[row])

    def row_offset(self, row: int) -> int:
        """Index within the whole row of the first tile ``energies[row]`` holds."""
        return 0 if self.tile_offsets is None else int(self.tile_offsets[row])

    def row_layout(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`row_size` and :meth:`row_offset` of every row, as int64 arrays."""
        sizes = (
            np.array([energy.size for energy in self.energies], dtype=np.int64)
            if self.row_tiles is None
            else np.asarray(self.row_tiles, dtype=np.int64)
        )
        offsets = (
            np.zeros(len(self.energies), dtype=np.int64)
            if self.tile_offsets is None
            else np.asarray(self.tile_offsets, dtype=np.int64)
        )
        return sizes, offsets

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
    return padded_span_reference(
        lambda: _interior(energy, duration_s).mean(axis=1, keepdims=True),
        group,
        n_samples,
        normalization,
        reference_span_s,
        noise_mean,
    )


def padded_span_reference(
    interior_mean: Callable[[], np.ndarray],
    group: _RowGroup,
    n_samples: int,
    normalization: str,
    reference_span_s: float,
    noise_mean: np.ndarray | None,
) -> np.ndarray:
    """Each row's reference energy over ``reference_span_s`` of which only the data is not noise.

    ``interior_mean`` gives the rows' mean tile energy over the part of the data the whitening
    filter leaves intact (called only for the mean normalisation); both Q-scan backends share this.
    """
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
    duration_s = n_samples / group.sampling_rate_hz
    duration_fraction = (duration_s - WHITENING_FILTER_DURATION_S) / reference_span_s
    return duration_fraction * interior_mean() + (1 - duration_fraction) * noise_mean


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
            best = QScan.of_plane(
                plan, epoch_s, duration_s, energies, (peak_time, peak_frequency, peak_energy)
            )
    assert best is not None
    return best
