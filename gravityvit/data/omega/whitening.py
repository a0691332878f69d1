"""Whitening: crop the strain around the GPS time, check it, whiten it as gwpy's
``q_transform(whiten=True)`` does and bring it to a rate whose Q tiling covers 10-2048 Hz."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import scipy.fft

from gravityvit.data.omega.parameters import FRANGE_HZ, StrainError, check_backend

if TYPE_CHECKING:
    from gwpy.frequencyseries import FrequencySeries
    from gwpy.timeseries import TimeSeries

# How the whitening ASD averages its periodograms: gwpy's default was the mean (Welch) when the
# Gravity Spy images were made (until gwpy 2.1, 2021) and is the median today.
ASD_AVERAGES = {"median": "median", "mean": "welch"}
# Whitening as q_transform(whiten=True) does it: median-averaged ASD over 2 s Hann segments with
# 50 % overlap, then a 2 s FIR filter whose first and last second are corrupted.
ASD_FFT_LENGTH_S = 2.0
WHITENING_FILTER_DURATION_S = 2.0
# Below this rate the top of the 10-2048 Hz band is lost; between it and SCAN_SAMPLE_RATE_HZ the
# whitened data are upsampled (see prepare_whitened): gwpy truncates the tiling at
# rate / 2 / (1 + sqrt(11) / q_min), which is 1291 Hz at 4096 Hz and 2582 Hz at 8192 Hz.
MIN_SAMPLE_RATE_HZ = 4096.0
SCAN_SAMPLE_RATE_HZ = 8192.0
# Samples of ASD segments transformed per batch (2 MB of float64).
ASD_BATCH_SAMPLES = 1 << 18


def check_strain(strain: TimeSeries, gps: float, durations_s: Sequence[float]) -> float:
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
    start, end = map(float, strain.span)
    if gps - half_span < start or gps + half_span > end:
        raise StrainError(
            f"{name}: data cover GPS [{start:.3f}, {end:.3f}) but the {max(durations_s):g} s view around "
            f"{gps:.3f} with {WHITENING_FILTER_DURATION_S:g} s whitening needs at least "
            f"[{gps - half_span:.3f}, {gps + half_span:.3f})"
        )
    return half_span


@functools.lru_cache(maxsize=8)
def _hann(size: int) -> np.ndarray:
    """``scipy.signal.get_window("hann", size)`` (periodic), which gwpy computes at every call."""
    from scipy.signal import get_window

    window = get_window("hann", size)
    window.flags.writeable = False
    return window


def estimate_asd(
    values: np.ndarray,
    sample_rate_hz: float,
    average: str = "median",
    fftlength_s: float = ASD_FFT_LENGTH_S,
    max_frequency_hz: float | None = None,
) -> np.ndarray:
    """``TimeSeries.asd(fftlength_s, fftlength_s / 2, window="hann", method=ASD_AVERAGES[average])`` of gwpy.

    The same arithmetic as scipy's ``welch`` (which gwpy calls): Hann-windowed segments with 50 %
    overlap, each less its mean, one-sided density periodograms, their median (divided by scipy's
    median bias) or mean; the square root. All segments are transformed in one batched FFT and the
    median is a partition along the segment axis, about twice as fast as gwpy's call. Returns the
    ASD at ``0, 1 / fftlength_s, ...`` Hz (float64, equal to gwpy's to 1e-13), up to
    ``max_frequency_hz`` when given (the segment FFTs are the same; the periodograms and their
    median cost in proportion to the bins kept).
    """
    if average not in ASD_AVERAGES:
        raise ValueError(f"asd_average must be one of {tuple(ASD_AVERAGES)}; got {average!r}")
    from numpy.lib.stride_tricks import sliding_window_view

    nperseg = int(fftlength_s * sample_rate_hz)
    step = nperseg - nperseg // 2  # noverlap = nperseg // 2, as gwpy's recommended Hann overlap
    values = np.asarray(values, dtype=np.float64)
    frames = sliding_window_view(values, nperseg)[::step]
    window = _hann(nperseg)
    bins = nperseg // 2 + 1
    last = bins - (1 if nperseg % 2 == 0 else 0)  # the Nyquist bin is not doubled
    if max_frequency_hz is not None:
        bins = min(bins, math.floor(max_frequency_hz * fftlength_s) + 1)
    power = np.empty((frames.shape[0], bins))
    # A few segments at a time, so that each batch stays within the caches (64 s at 16384 Hz
    # would be 16 MB of segments and as much of spectra), detrended and windowed in place.
    chunk = max(1, ASD_BATCH_SAMPLES // nperseg)
    for first in range(0, frames.shape[0], chunk):
        batch = frames[first : first + chunk]
        batch = np.subtract(batch, batch.mean(axis=1, keepdims=True))
        batch *= window
        spectra = scipy.fft.rfft(batch, axis=1, overwrite_x=True)[:, :bins]
        np.square(spectra.real, out=power[first : first + chunk])
        power[first : first + chunk] += np.square(spectra.imag)
    power *= 1.0 / (sample_rate_hz * np.sum(window**2))
    power[:, 1:last] *= 2.0
    count = power.shape[0]
    if average == "mean" or count == 1:
        return np.sqrt(power.mean(axis=0))
    # scipy's median of the segments (the mean of the middle two for an even count), over its bias.
    middle = count // 2
    if count % 2:
        median = np.partition(power, middle, axis=0)[middle]
    else:
        ordered = np.partition(power, (middle - 1, middle), axis=0)
        median = (ordered[middle - 1] + ordered[middle]) / 2.0
    pairs = 2 * np.arange(1.0, (count - 1) // 2 + 1)
    bias = 1.0 + np.sum(1.0 / (pairs + 1) - 1.0 / pairs)
    return np.sqrt(median / bias)


class _AsdGrid(NamedTuple):
    """An ASD on a regular frequency grid: its values and frequencies, their spacing and the first one (Hz)."""

    values: np.ndarray
    frequencies: np.ndarray
    df: float
    f0: float

    @classmethod
    def of_series(cls, asd: FrequencySeries) -> _AsdGrid:
        return cls(
            np.asarray(asd.value),
            np.asarray(asd.frequencies.value),
            float(asd.df.to("Hz").value),
            float(asd.f0.to("Hz").value),
        )

    @classmethod
    def of_estimate(cls, asd: np.ndarray) -> _AsdGrid:
        """The grid of :func:`estimate_asd`'s result: from 0 Hz in steps of ``1 / ASD_FFT_LENGTH_S``."""
        return cls(asd, np.arange(asd.size) / ASD_FFT_LENGTH_S, 1 / ASD_FFT_LENGTH_S, 0.0)


def whiten_array(
    values: np.ndarray,
    sample_rate_hz: float,
    duration_s: float,
    asd: FrequencySeries,
    fduration_s: float = WHITENING_FILTER_DURATION_S,
) -> np.ndarray:
    """``TimeSeries.whiten(asd=asd, fduration=fduration_s)`` of gwpy on a plain array.

    The same steps and numbers: the ASD linearly interpolated to the data's frequency resolution,
    the FIR filter of ``gwpy.signal.filter_design.fir_from_transfer`` (transfer 1 / ASD tapered by
    5-sample Tukey edges, impulse response truncated to ``fduration_s`` with a Hann window), the
    mean removed, the first and last half-filter tapered by the Hann window, the FFT convolution
    (in overlap-save blocks beyond 16 filter lengths), scaled by ``sqrt(2 / sample_rate_hz)``. Without gwpy's array wrappers, and with the windows cached, it
    is several times faster.

    Parameters
    ----------
    values : np.ndarray
        The strain samples.
    sample_rate_hz : float
        Their sample rate.
    duration_s : float
        Their duration as gwpy computes it (``TimeSeries.duration``).
    asd : gwpy.frequencyseries.FrequencySeries
        Amplitude spectral density to whiten with.
    fduration_s : float
        Length of the whitening filter in seconds.

    Returns
    -------
    np.ndarray
        float64 whitened samples.
    """
    return _whiten_with_asd(values, sample_rate_hz, duration_s, _AsdGrid.of_series(asd), fduration_s)


def _whiten_with_asd(
    values: np.ndarray,
    sample_rate_hz: float,
    duration_s: float,
    asd: _AsdGrid,
    fduration_s: float = WHITENING_FILTER_DURATION_S,
) -> np.ndarray:
    """:func:`whiten_array` with the ASD as an :class:`_AsdGrid`."""
    fir = _fir_from_asd(sample_rate_hz, duration_s, asd, fduration_s)
    data = _detrend_and_taper(values, fir.size)
    return _convolve_same(data, fir) * np.sqrt(2.0 / sample_rate_hz)


def _fir_from_asd(
    sample_rate_hz: float,
    duration_s: float,
    asd: _AsdGrid,
    fduration_s: float = WHITENING_FILTER_DURATION_S,
) -> np.ndarray:
    """The whitening filter of ``TimeSeries.whiten``: ``fir_from_transfer(1 / asd, ntaps, window="hann")``.

    The transfer 1 / ASD is interpolated to ``1 / duration_s`` from 0 Hz to the ASD's last frequency,
    which sets the length of the impulse response: ``2 * (bins - 1)`` samples.
    """
    # FrequencySeries.interpolate(1 / duration)
    df = 1.0 / duration_s
    n_frequencies = (asd.values.size - 1) * (asd.df / df) + 1
    grid = _frequency_grid(int(np.rint(n_frequencies)), df, asd.f0, asd.values.real.dtype.str)
    transfer = 1 / np.interp(grid, asd.frequencies, asd.values)
    # fir_from_transfer(transfer, ntaps, window="hann", ncorner=0)
    ntaps = int(fduration_s * sample_rate_hz)
    taper = _tukey_edges()
    transfer[:5] *= taper[:5]
    transfer[transfer.size - 5 :] *= taper[-5:]
    impulse = scipy.fft.irfft(transfer)
    positions, sources, weights = _fir_taps(ntaps, impulse.size)
    fir = np.zeros(ntaps)
    fir[positions] = impulse[sources] * weights
    return fir


@functools.lru_cache(maxsize=8)
def _frequency_grid(size: int, df: float, f0: float, dtype: str) -> np.ndarray:
    """``np.arange(0, size) * df + f0``, the frequencies ``FrequencySeries.interpolate`` samples."""
    grid = np.arange(0, size, dtype=dtype) * df + f0
    grid.flags.writeable = False
    return grid


@functools.lru_cache(maxsize=1)
def _tukey_edges() -> np.ndarray:
    """``tukey(10, alpha=1.0)``: ``fir_from_transfer``'s taper of the transfer's first and last 5 bins."""
    from scipy.signal.windows import tukey

    taper = tukey(10, alpha=1.0)
    taper.flags.writeable = False
    return taper


@functools.lru_cache(maxsize=8)
def _fir_taps(ntaps: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``fir_from_transfer`` puts the samples of a ``size``-sample impulse response in its
    ``ntaps`` taps: (tap positions, impulse indices, Hann weights).

    gwpy windows the first and last ntaps / 2 samples of the impulse response with the two halves
    of a Hann window, zeroes the rest, rolls it by ntaps / 2 - 1 and keeps the first ntaps: the
    same products, read only where they are kept.
    """
    window = _hann(ntaps)
    start = int(ntaps / 2)
    stop = size - start
    source = (np.arange(ntaps) - int(ntaps / 2 - 1)) % size
    head, tail = source < start, source >= stop
    positions = np.concatenate([np.flatnonzero(head), np.flatnonzero(tail)])
    sources = np.concatenate([source[head], source[tail]])
    weights = np.concatenate([window[source[head] + start], window[source[tail] - stop]])
    return positions, sources, weights


def _detrend_and_taper(values: np.ndarray, ntaps: int) -> np.ndarray:
    """``detrend("constant")`` and the Hann taper of the first and last ``ntaps / 2`` samples.

    What ``TimeSeries.whiten`` does to the data before convolving them with an ``ntaps`` filter.
    """
    data = np.asarray(values, dtype=np.float64) - np.mean(values)
    pad = int(np.ceil(ntaps / 2))
    window = _hann(ntaps)
    data[:pad] *= window[:pad]
    data[-pad:] *= window[-pad:]
    return data


def _whiten_band_limited(
    values: np.ndarray,
    sample_rate_hz: float,
    duration_s: float,
    asd: np.ndarray,
    scan_rate_hz: float,
    fduration_s: float = WHITENING_FILTER_DURATION_S,
) -> np.ndarray:
    """gwpy's whitened data below :data:`BAND_LIMIT_HZ` below ``scan_rate_hz / 2``, sampled at ``scan_rate_hz``.

    ``sample_rate_hz`` must be an integer multiple of ``scan_rate_hz`` and ``asd`` the estimated ASD
    (:func:`estimate_asd`, bins of ``1 / ASD_FFT_LENGTH_S`` Hz) up to ``scan_rate_hz / 2``.
    Whitening is linear and time-invariant but for the taper of the data's edges, which is done at
    the input rate as gwpy does. The tapered data are then convolved with the filter
    ``TimeSeries.whiten`` designs for ``scan_rate_hz`` from the same ASD (its response equals that
    of the filter gwpy designs at the input rate to 1e-10 below 3.75 kHz) times a Hann roll-off from
    ``scan_rate_hz / 2 - BAND_LIMIT_HZ`` to ``scan_rate_hz / 2``, and kept at ``scan_rate_hz``
    (:func:`_filter_and_decimate`). Below 3.75 kHz, where the Q tiling up to 2048 Hz reads, the
    spectrum of the result is that of gwpy's whitened data to 1e-6 of the typical bin below 1 kHz
    and 2e-5 near 3.7 kHz: what differs is the leakage of gwpy's band above the cut through the ends
    of the record (tested also with a detector-like f^-4 wall below 10 Hz, 1e7 in amplitude at
    1 Hz; down to 0.1 Hz, 1e11, the peak energy moves by 3e-6, measured). A far steeper f^-8 wall
    (1e4 at 10 Hz), which gwpy's 2 s filter leaves largely unwhitened and the taper's edges spread
    across the band, gives a few percent instead (2 % on the peak energy, 0.015 on the views). The
    scale is that of whitening at ``scan_rate_hz``: unit-variance white noise there.
    """
    factor = round(sample_rate_hz / scan_rate_hz)
    data = _detrend_and_taper(values, int(fduration_s * sample_rate_hz))
    fir = _fir_from_asd(scan_rate_hz, duration_s, _AsdGrid.of_estimate(asd), fduration_s)
    return _filter_and_decimate(data, fir, factor, scan_rate_hz) * np.sqrt(2.0 / scan_rate_hz)


# Width of the Hann roll-off below the scan rate's Nyquist frequency in band-limited whitening: from
# 3846 Hz at 8192 Hz, above the 3746 Hz the Q tiling up to 2048 Hz reads (the top tile of Q = 4).
BAND_LIMIT_HZ = 250.0
# Input samples transformed per block of band-limited whitening: 2^18 (16 s at 16384 Hz) keeps each
# FFT within the caches, where one FFT of 64 s of 16384 Hz data costs about 1.5 times more per
# sample.
DECIMATION_BLOCK = 1 << 18
# Extra margin of each block beyond the whitening filter, in output samples, for the tails of the
# roll-off's impulse response (about 1e-8 of its peak 0.1 s out).
DECIMATION_MARGIN = 1024


def _filter_and_decimate(data: np.ndarray, fir: np.ndarray, factor: int, rate_hz: float) -> np.ndarray:
    """``_convolve_same(band_limited(data), fir)`` at ``1 / factor`` of the data's rate, in blocks.

    ``fir`` is sampled at ``rate_hz`` (the output rate) with its zero lag at ``(fir.size - 1) // 2``
    as ``fftconvolve(mode="same")`` reads it. Each block of :data:`DECIMATION_BLOCK` input samples is
    transformed, its spectrum below ``rate_hz / 2`` multiplied by the filter's response and the Hann
    roll-off of :data:`BAND_LIMIT_HZ`, and inverse-transformed at the output rate; blocks overlap by
    the filter's length plus a margin, so the circular convolution of each block is the linear one
    of the data padded with zeros, as gwpy's.
    """
    out_block = DECIMATION_BLOCK // factor
    zero_lag = (fir.size - 1) // 2
    # Output samples a block needs before (positive lags) and after (negative lags) each output.
    before = fir.size - 1 - zero_lag + DECIMATION_MARGIN
    after = zero_lag + DECIMATION_MARGIN
    step = out_block - before - after
    response = _decimation_response(fir, out_block, rate_hz)
    size = data.size // factor
    blocks = -(-size // step)
    padded = np.zeros((blocks - 1) * step * factor + DECIMATION_BLOCK)
    padded[before * factor : before * factor + data.size] = data
    out = np.empty(blocks * step)
    for block in range(blocks):
        start = block * step * factor
        spectrum = scipy.fft.rfft(padded[start : start + DECIMATION_BLOCK])[: response.size]
        spectrum *= response
        filtered = scipy.fft.irfft(spectrum, out_block, overwrite_x=True)
        out[block * step : (block + 1) * step] = filtered[before : before + step]
    return out[:size] / factor


def _decimation_response(taps: np.ndarray, size: int, rate_hz: float) -> np.ndarray:
    """The response of ``taps`` (zero lag at ``(taps.size - 1) // 2``) at the ``size``-point DFT bins
    of ``rate_hz``, times the Hann roll-off of :data:`BAND_LIMIT_HZ` below ``rate_hz / 2``."""
    zero_lag = (taps.size - 1) // 2
    circular = np.zeros(size)
    circular[(np.arange(taps.size) - zero_lag) % size] = taps
    response = scipy.fft.rfft(circular)
    frequencies = np.arange(response.size) * rate_hz / size
    ramp = np.clip((frequencies - (rate_hz / 2 - BAND_LIMIT_HZ)) / BAND_LIMIT_HZ, 0.0, 1.0)
    response *= np.cos(np.pi / 2 * ramp) ** 2
    return response


def _convolve_same(data: np.ndarray, fir: np.ndarray) -> np.ndarray:
    """``fftconvolve(data, fir, mode="same")`` in one FFT or overlap-save blocks, as gwpy chooses.

    The blocks all have ``8 * fir.size`` samples: they are transformed together, with one FFT of
    the filter (``fftconvolve`` per block would transform the filter again for every block).
    """
    pad = int(np.ceil(fir.size / 2))
    nfft = min(8 * fir.size, data.size)
    if nfft >= data.size / 2:
        # fftconvolve's arithmetic (the same transform sizes, the same numbers) without its checks.
        size = scipy.fft.next_fast_len(data.size + fir.size - 1, real=True)
        spectrum = scipy.fft.rfft(data, size)
        spectrum *= scipy.fft.rfft(fir, size)
        full = scipy.fft.irfft(spectrum, size, overwrite_x=True)
        start = (fir.size - 1) // 2
        return full[start : start + data.size]
    step = nfft - 2 * pad
    # gwpy's blocks: the first nfft samples, then blocks starting every `step` samples from
    # `step` while the block ends before the last nfft samples, then the last nfft samples.
    middle_starts = np.arange(nfft - 2 * pad, data.size - nfft, step)
    starts = np.concatenate([[0], middle_starts, [data.size - nfft]])
    size = scipy.fft.next_fast_len(nfft + fir.size - 1, real=True)
    blocks = np.zeros((starts.size, size))  # zero-padded in place: one copy of the data
    for row, start in enumerate(starts):
        blocks[row, :nfft] = data[start : start + nfft]
    spectra = scipy.fft.rfft(blocks, axis=1, overwrite_x=True)
    spectra *= scipy.fft.rfft(fir, size)
    full = scipy.fft.irfft(spectra, size, axis=1, overwrite_x=True)
    centre = (fir.size - 1) // 2
    convolved = full[:, centre : centre + nfft]  # fftconvolve's "same" part of each block
    out = np.zeros(data.size)
    out[: nfft - pad] = convolved[0, : nfft - pad]
    for index, start in enumerate(middle_starts, start=1):
        k = start + pad
        out[k : k + step] = convolved[index, pad : nfft - pad]
    out[-nfft + pad :] = convolved[-1, -nfft + pad :]
    return out


def prepare_whitened(
    strain: TimeSeries,
    gps: float,
    durations_s: Sequence[float],
    data_span_s: float,
    whiten: bool | FrequencySeries,
    asd_average: str = "median",
    backend: str = "gwpy",
    max_rate_hz: float | None = None,
) -> tuple[np.ndarray, float, float]:
    """Crop to the scan span, check values, whiten and bring to a rate that covers 2048 Hz.

    ``backend`` estimates the ASD and whitens with gwpy's ``TimeSeries.asd`` and
    ``TimeSeries.whiten`` (``"gwpy"``) or with :func:`estimate_asd` and :func:`whiten_array`
    (``"fast"``, the same numbers up to rounding).

    ``max_rate_hz`` (fast backend, ASD estimated from the data): strain sampled at an integer
    multiple of it is whitened at this rate from its band below ``max_rate_hz / 2``
    (:func:`_whiten_band_limited`): with :data:`SCAN_SAMPLE_RATE_HZ` the Q tiling up to 2048 Hz reads
    the same whitened spectrum, and 64 s of 16384 Hz strain whiten in about half the time.
    """
    if asd_average not in ASD_AVERAGES:
        raise ValueError(f"asd_average must be one of {tuple(ASD_AVERAGES)}; got {asd_average!r}")
    check_backend(backend)
    half_span = check_strain(strain, gps, durations_s)
    span = tuple(map(float, strain.span))
    start = max(span[0], gps - max(data_span_s / 2, half_span))
    end = min(span[1], gps + max(data_span_s / 2, half_span))
    rate = float(strain.sample_rate.to("Hz").value)
    data = strain.crop(start, end) if (start, end) != span else strain
    values = np.asarray(data.value)
    bad = ~np.isfinite(values)
    if bad.any():
        first = float(data.t0.value) + np.argmax(bad) / rate
        raise StrainError(
            f"{strain.name or 'strain'}: {int(bad.sum())} NaN or infinite samples within the scanned span "
            f"(first at GPS {first:.4f})"
        )
    band_limit = (
        backend == "fast"
        and whiten is True
        and max_rate_hz is not None
        and rate > max_rate_hz
        and (rate / max_rate_hz).is_integer()
        and values.size % round(rate / max_rate_hz) == 0
    )
    if whiten is True and backend == "gwpy":
        overlap = ASD_FFT_LENGTH_S / 2  # recommended_overlap('hann') * fftlength
        asd = data.asd(ASD_FFT_LENGTH_S, overlap, window="hann", method=ASD_AVERAGES[asd_average])
    elif whiten is True:
        # gwpy's arithmetic, batched; band-limited whitening needs the ASD below the cut only.
        max_frequency = max_rate_hz / 2 if band_limit else None
        asd = estimate_asd(values, rate, asd_average, max_frequency_hz=max_frequency)
    elif whiten is not False:
        asd = whiten  # a known ASD, as q_transform(whiten=FrequencySeries) accepts
    epoch = float(data.t0.value)
    if whiten is not False:
        with np.errstate(all="raise"):
            try:
                duration = float(data.duration.to("s").value)
                if band_limit:
                    values = _whiten_band_limited(values, rate, duration, asd, max_rate_hz)
                    rate = float(max_rate_hz)
                elif backend == "fast" and whiten is True:
                    values = _whiten_with_asd(values, rate, duration, _AsdGrid.of_estimate(asd))
                elif backend == "fast":
                    values = whiten_array(values, rate, duration, asd)
                else:
                    values = data.whiten(asd=asd, fduration=WHITENING_FILTER_DURATION_S).value
            except FloatingPointError as error:
                raise StrainError(
                    f"{strain.name or 'strain'}: cannot whiten (zero in the ASD): {error}"
                ) from error
    values = np.asarray(values, dtype=np.float64)
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
