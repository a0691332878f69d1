"""Whitening: crop the strain around the GPS time, check it, whiten it as gwpy's
``q_transform(whiten=True)`` does and bring it to a rate whose Q tiling covers 10-2048 Hz."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

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
    start, end = float(strain.span[0]), float(strain.span[1])
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
    from scipy.signal.windows import tukey

    # FrequencySeries.interpolate(1 / duration)
    df = 1.0 / duration_s
    asd_values = np.asarray(asd.value)
    frequencies = np.asarray(asd.frequencies.value)
    n_frequencies = (asd_values.size - 1) * (float(asd.df.to("Hz").value) / df) + 1
    grid = np.arange(0, np.rint(n_frequencies), dtype=asd_values.real.dtype) * df + float(
        asd.f0.to("Hz").value
    )
    transfer = 1 / np.interp(grid, frequencies, asd_values)
    # fir_from_transfer(transfer, ntaps, window="hann", ncorner=0)
    ntaps = int(fduration_s * sample_rate_hz)
    taper = tukey(10, alpha=1.0)
    transfer[:5] *= taper[:5]
    transfer[transfer.size - 5 :] *= taper[-5:]
    impulse = np.fft.irfft(transfer)
    window = _hann(ntaps)
    start = int(ntaps / 2)
    stop = impulse.size - start
    impulse[:start] *= window[start:ntaps]
    impulse[stop:] *= window[:start]
    impulse[start:stop] = 0
    fir = np.roll(impulse, int(ntaps / 2 - 1))[:ntaps]
    # detrend("constant"), then TimeSeries.convolve(fir, window="hann")
    data = np.asarray(values, dtype=np.float64) - np.mean(values)
    pad = int(np.ceil(fir.size / 2))
    window = _hann(fir.size)
    data[:pad] *= window[:pad]
    data[-pad:] *= window[-pad:]
    return _convolve_same(data, fir) * np.sqrt(2.0 / sample_rate_hz)


def _convolve_same(data: np.ndarray, fir: np.ndarray) -> np.ndarray:
    """``fftconvolve(data, fir, mode="same")`` in one FFT or overlap-save blocks, as gwpy chooses."""
    from scipy.signal import fftconvolve

    pad = int(np.ceil(fir.size / 2))
    nfft = min(8 * fir.size, data.size)
    if nfft >= data.size / 2:
        return fftconvolve(data, fir, mode="same")
    step = nfft - 2 * pad
    out = np.zeros(data.size)
    out[: nfft - pad] = fftconvolve(data[:nfft], fir, mode="same")[: nfft - pad]
    k = nfft - pad
    while k < data.size - nfft + pad:
        block = fftconvolve(data[k - pad : k + step + pad], fir, mode="same")
        out[k : k + block.size - 2 * pad] = block[pad:-pad]
        k += step
    out[-nfft + pad :] = fftconvolve(data[-nfft:], fir, mode="same")[-nfft + pad :]
    return out


def prepare_whitened(
    strain: TimeSeries,
    gps: float,
    durations_s: Sequence[float],
    data_span_s: float,
    whiten: bool | FrequencySeries,
    asd_average: str = "median",
    backend: str = "gwpy",
) -> tuple[np.ndarray, float, float]:
    """Crop to the scan span, check values, whiten and bring to a rate that covers 2048 Hz.

    ``backend`` whitens with gwpy's ``TimeSeries.whiten`` (``"gwpy"``) or :func:`whiten_array`
    (``"fast"``, the same numbers up to rounding).
    """
    if asd_average not in ASD_AVERAGES:
        raise ValueError(f"asd_average must be one of {tuple(ASD_AVERAGES)}; got {asd_average!r}")
    check_backend(backend)
    half_span = check_strain(strain, gps, durations_s)
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
    epoch = float(data.t0.value)
    if whiten is not False:
        with np.errstate(all="raise"):
            try:
                if backend == "fast":
                    values = whiten_array(values, rate, float(data.duration.to("s").value), asd)
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
