"""Whitening: crop the strain around the GPS time, check it, whiten it as gwpy's
``q_transform(whiten=True)`` does and bring it to a rate whose Q tiling covers 10-2048 Hz."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.fft

from gravityvit.data.omega.parameters import FRANGE_HZ, StrainError

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
# whitened data are upsampled (see _prepare_whitened): gwpy truncates the tiling at
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


def prepare_whitened(
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
