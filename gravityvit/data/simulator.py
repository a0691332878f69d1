"""A 22-class Gravity Spy glitch simulator: randomised waveforms in Gaussian detector noise.

Each sample is made the way a real Gravity Spy sample is, except for the glitch itself:

1. 8 s of Gaussian noise at 8192 Hz coloured by an analytic aLIGO-like PSD (H1 and L1 differ
   slightly), with one glitch added, centred so that its loudest point (the "trigger", where
   Gravity Spy centres its views on the Omicron peak time) lies within tens of ms of the centre;
2. the views come from :mod:`gravityvit.data.omega_scan`, the same front end as real strain:
   whitening with the noise ASD, the gwpy Q scan (search window 0.5 s), Gravity Spy's pixels.

Glitches are designed in whitened units (unit-variance white noise), where the matched-filter SNR
of a waveform ``g`` is ``sqrt(sum(g**2))``, and coloured with the noise before whitening. A
component's *trigger SNR* is its matched-filter SNR within its loudest 0.25 s, a stand-in for the
Omicron SNR of its loudest tile; it is drawn like Omicron triggers (above 7.5 with a power-law
tail) for every class but Extremely_Loud (hundreds to thousands). Every class is a randomised model
of the Gravity Spy field-guide morphology; ``docs/simulator.md`` describes each one.

Deviations from Gravity Spy: 8 s of data instead of 64 s, 8192 Hz instead of 16384 Hz (the Q tiles
up to 2048 Hz use only frequencies below 3.3 kHz, so the views are the same), whitening with the
known noise ASD (what a 64 s median ASD converges to when the glitch is short against it), and the
tile energies normalised by the mean of a 64 s row made of the 8 s scanned and 56 s of Gaussian
noise (``omega_scan.q_scan(reference_span_s=64)``), so a seconds-long glitch weighs on the
normalisation as little as it does in Gravity Spy's 64 s.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft

from gravityvit import gravity_spy

SAMPLE_RATE_HZ = 8192.0
DATA_DURATION_S = 8.0
N_SAMPLES = int(SAMPLE_RATE_HZ * DATA_DURATION_S)
REFERENCE_SPAN_S = 64.0  # tile energies are normalised as over Gravity Spy's 64 s of data
TRIGGER_WINDOW_S = 0.25  # window of the trigger SNR (a stand-in for one Omicron tile)
TRIGGER_JITTER_S = 0.015  # std of the trigger offset from the view centre (Omicron vs loudest tile)
OMICRON_SNR_THRESHOLD = 7.5
GPS_RANGE_S = (1126400000.0, 1187000000.0)  # O1 to O2, where the Gravity Spy training set comes from
IFO_PROBABILITIES = {"H1": 4798 / 7966, "L1": 3168 / 7966}  # the v1d1 detector mix
FLAT_BELOW_HZ = 10.0
SPLIT_FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
ID_ALPHABET = string.ascii_letters + string.digits


# ----------------------------------------------------------------------------------------------
# Noise


def analytic_psd(frequencies_hz: np.ndarray, ifo: str = "H1") -> np.ndarray:
    """One-sided strain PSD (1/Hz) of an aLIGO-like detector: seismic wall, thermal bucket, shot noise.

    The fit of Ajith (2011) for the aLIGO design sensitivity, held flat below 10 Hz. L1
    is given a slightly lower low-frequency noise and higher shot noise than H1, as in O1/O2; after
    whitening only the Gaussian character of the noise and the whitening filter's imperfections
    remain, so the exact shape matters little.
    """
    # Flat below 10 Hz: a steeper wall only leaks through the 2 s whitening filter into the rows
    # above 10 Hz, with a realisation-dependent excess that real Gravity Spy views do not show.
    f = np.maximum(np.asarray(frequencies_hz, dtype=np.float64), FLAT_BELOW_HZ)
    x = f / 215.0
    low, high = (1.0, 1.0) if ifo == "H1" else (0.7, 1.25)
    return 1e-49 * (low * x**-4.14 - 5 * x**-2 + high * 111 * (1 - x**2 + x**4 / 2) / (1 + x**2 / 2))


@lru_cache(maxsize=4)
def noise_asd(ifo: str) -> Any:
    """The noise ASD as a gwpy FrequencySeries on the rfft grid of the simulated data."""
    from gwpy.frequencyseries import FrequencySeries

    frequencies = np.fft.rfftfreq(N_SAMPLES, 1.0 / SAMPLE_RATE_HZ)
    return FrequencySeries(
        np.sqrt(analytic_psd(frequencies, ifo)), f0=0.0, df=frequencies[1], unit="1/Hz^(1/2)"
    )


def colour(whitened: np.ndarray, ifo: str) -> np.ndarray:
    """Turn unit-variance white samples into strain with the ifo's PSD (inverse of whitening).

    White noise of unit variance at rate fs has the one-sided PSD 2 / fs, so its spectrum is
    multiplied by ASD(f) * sqrt(fs / 2).
    """
    spectrum = scipy.fft.rfft(whitened)
    spectrum *= np.asarray(noise_asd(ifo).value) * np.sqrt(SAMPLE_RATE_HZ / 2.0)
    spectrum[0] = 0.0
    return scipy.fft.irfft(spectrum, n=whitened.size)


NOISE_CALIBRATION_REALISATIONS = 6


@lru_cache(maxsize=4)
def noise_reference(ifo: str) -> tuple[np.ndarray, ...]:
    """Mean raw Q-tile energy of the ifo's whitened noise per row and plane (fixed seed, cached).

    The 2 s whitening filter cannot follow the steep low-frequency wall of the PSD exactly, so the
    whitened noise is not perfectly white below ~40 Hz; Gravity Spy's own normalisation over 64 s
    absorbs that, and this reference lets the simulator's 8 s do the same.
    """
    from gwpy.timeseries import TimeSeries

    from gravityvit.data.omega_scan import _prepare_whitened, noise_row_energies

    rng = np.random.default_rng([20240601, list(IFO_PROBABILITIES).index(ifo)])
    whitened = []
    for _ in range(NOISE_CALIBRATION_REALISATIONS):
        strain = TimeSeries(colour(rng.standard_normal(N_SAMPLES), ifo), sample_rate=SAMPLE_RATE_HZ, t0=0.0)
        values, rate, _ = _prepare_whitened(
            strain, DATA_DURATION_S / 2, gravity_spy.VIEW_DURATIONS_S, DATA_DURATION_S, noise_asd(ifo)
        )
        whitened.append(values)
    return noise_row_energies(whitened, rate)


# ----------------------------------------------------------------------------------------------
# Waveform building blocks (whitened units, time relative to the view centre)


def _loguniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def trigger_snr(
    rng: np.random.Generator, low: float = OMICRON_SNR_THRESHOLD, index: float = 1.6, cap: float = 80.0
) -> float:
    """Draw an Omicron-like trigger SNR: Pareto above ``low`` (p ~ SNR^-(index + 1)), capped.

    With ``index`` 1.6 the median is 1.5 ``low`` (11 for 7.5) and one trigger in eight is above
    3.7 ``low``; values above ``cap`` are drawn again uniformly in log between ``cap / 2`` and ``cap``
    so the tail keeps its mass without reaching absurd values.
    """
    value = low * (1.0 - rng.random()) ** (-1.0 / index)
    return value if value <= cap else _loguniform(rng, cap / 2, cap)


def _windowed_snr(waveform: np.ndarray, window_samples: int) -> float:
    """Largest matched-filter SNR of ``waveform`` within any ``window_samples`` stretch."""
    energy = np.concatenate([[0.0], np.cumsum(waveform * waveform)])
    if energy.size - 1 <= window_samples:
        return float(np.sqrt(energy[-1]))
    return float(np.sqrt(np.max(energy[window_samples:] - energy[:-window_samples])))


class Waveform:
    """Glitch waveform in whitened units over the simulated data, built from components.

    Every ``add_*`` method draws one component, scales it so that its trigger SNR (matched-filter
    SNR within its loudest 0.25 s) is ``snr`` and adds it. Times are seconds from the view centre.
    """

    def __init__(
        self, rng: np.random.Generator, sample_rate_hz: float = SAMPLE_RATE_HZ, n_samples: int = N_SAMPLES
    ):
        self.rng = rng
        self.sample_rate_hz = float(sample_rate_hz)
        self.n_samples = int(n_samples)
        self.start_s = -self.n_samples / self.sample_rate_hz / 2
        self.data = np.zeros(self.n_samples)
        self.window_samples = int(TRIGGER_WINDOW_S * self.sample_rate_hz)

    # -- placement helpers
    def _span(self, start_s: float, end_s: float) -> tuple[int, int, np.ndarray] | None:
        i0 = max(0, int(np.floor((start_s - self.start_s) * self.sample_rate_hz)))
        i1 = min(self.n_samples, int(np.ceil((end_s - self.start_s) * self.sample_rate_hz)))
        if i1 - i0 < 4:
            return None
        return i0, i1, self.start_s + np.arange(i0, i1) / self.sample_rate_hz

    def _add(self, i0: int, values: np.ndarray, snr: float) -> None:
        level = _windowed_snr(values, self.window_samples)
        if level > 0:
            self.data[i0 : i0 + values.size] += values * (snr / level)

    def _phase(self) -> float:
        return float(self.rng.uniform(0, 2 * np.pi))

    # -- components
    def add_sine_gaussian(self, time_s: float, frequency_hz: float, q: float, snr: float) -> None:
        """Sine-Gaussian of quality factor ``q`` (Gaussian width q / (2 sqrt(2) pi f))."""
        width = q / (2 * np.sqrt(2) * np.pi * frequency_hz)
        span = self._span(time_s - 4 * width, time_s + 4 * width)
        if span is None:
            return
        i0, _, t = span
        tau = t - time_s
        self._add(
            i0,
            np.exp(-(tau**2) / (2 * width**2)) * np.cos(2 * np.pi * frequency_hz * tau + self._phase()),
            snr,
        )

    def add_pulse(self, time_s: float, centre_hz: float, log_width: float, snr: float) -> None:
        """Short broadband pulse whose spectrum is Gaussian in log frequency (a blip's teardrop).

        Energy spans about ``centre_hz * exp(+-2 log_width)``; the pulse is as short as that band
        allows, so low frequencies last longer, as in a real blip.
        """
        length = 8192 if centre_hz > 25 else 16384
        frequencies = np.fft.rfftfreq(length, 1.0 / self.sample_rate_hz)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.maximum(frequencies, 1e-3) / centre_hz)
        spectrum = np.exp(-0.5 * (log_ratio / log_width) ** 2).astype(np.complex128)
        spectrum[0] = 0.0
        # Centre in the local buffer with the sub-sample offset as a phase ramp, random phase.
        offset = (time_s - self.start_s) * self.sample_rate_hz - length / 2
        whole = int(np.floor(offset))
        spectrum *= np.exp(
            -2j * np.pi * frequencies * (offset - whole) / self.sample_rate_hz + 1j * self._phase()
        )
        local = np.fft.fftshift(np.fft.irfft(spectrum, n=length))
        i0, i1 = max(0, whole), min(self.n_samples, whole + length)
        if i1 - i0 < 4:
            return
        self._add(i0, local[i0 - whole : i1 - whole], snr)

    def add_track(
        self,
        start_s: float,
        end_s: float,
        frequency: Callable[[np.ndarray], np.ndarray],
        snr: float,
        envelope: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """A narrow track of instantaneous frequency ``frequency(t)`` (Hz) with a smooth envelope.

        ``envelope(t)`` defaults to a Tukey taper; ``t`` are seconds from the view centre.
        """
        span = self._span(start_s, end_s)
        if span is None:
            return
        i0, _, t = span
        f = np.clip(frequency(t), 0.0, 3000.0)
        phase = 2 * np.pi * np.cumsum(f) / self.sample_rate_hz + self._phase()
        if envelope is None:
            amplitude = _tukey((t - start_s) / max(end_s - start_s, 1e-6), 0.3)
        else:
            amplitude = envelope(t)
        self._add(i0, amplitude * np.sin(phase), snr)

    def add_noise_burst(
        self, time_s: float, duration_s: float, low_hz: float, high_hz: float, snr: float
    ) -> None:
        """Band-limited Gaussian noise in ``[low_hz, high_hz]`` under a Hann envelope of ``duration_s``."""
        span = self._span(time_s - duration_s / 2, time_s + duration_s / 2)
        if span is None:
            return
        i0, i1, _ = span
        spectrum = scipy.fft.rfft(self.rng.standard_normal(i1 - i0))
        frequencies = np.fft.rfftfreq(i1 - i0, 1.0 / self.sample_rate_hz)
        edge = 0.15 * (high_hz - low_hz) + 1.0
        mask = np.clip(np.minimum(frequencies - low_hz, high_hz - frequencies) / edge + 0.5, 0.0, 1.0)
        burst = scipy.fft.irfft(spectrum * mask, n=i1 - i0)
        self._add(i0, burst * np.hanning(i1 - i0), snr)


def _tukey(u: np.ndarray, alpha: float) -> np.ndarray:
    """Tukey window on u in [0, 1] (0 outside)."""
    u = np.asarray(u)
    out = np.where((u >= 0) & (u <= 1), 1.0, 0.0)
    edge = alpha / 2
    rising = (u >= 0) & (u < edge)
    falling = (u > 1 - edge) & (u <= 1)
    out[rising] = 0.5 * (1 - np.cos(np.pi * u[rising] / edge))
    out[falling] = 0.5 * (1 - np.cos(np.pi * (1 - u[falling]) / edge))
    return out


# ----------------------------------------------------------------------------------------------
# The 22 classes. Each generator adds one randomised glitch to ``w`` with its loudest point at
# ``t0`` (seconds from the view centre) and returns its trigger SNR.


def _blip(w: Waveform, t0: float) -> float:
    # Short symmetric teardrop: a broadband pulse centred 40-250 Hz spanning ~30-500 Hz.
    snr = trigger_snr(w.rng, cap=60.0)
    w.add_pulse(t0, _loguniform(w.rng, 40, 250), w.rng.uniform(0.35, 0.8), snr)
    return snr


def _koi_fish(w: Waveform, t0: float) -> float:
    # A loud blip: wide low-frequency head, thin tail up to ~1 kHz.
    snr = trigger_snr(w.rng, low=25.0, index=1.2, cap=600.0)
    w.add_pulse(t0, _loguniform(w.rng, 35, 110), w.rng.uniform(0.6, 1.0), snr)
    w.add_pulse(
        t0 + w.rng.normal(0, 0.002),
        _loguniform(w.rng, 250, 900),
        w.rng.uniform(0.35, 0.6),
        snr * w.rng.uniform(0.1, 0.3),
    )
    return snr


def _tomte(w: Waveform, t0: float) -> float:
    # Short triangular blip below ~100 Hz.
    snr = trigger_snr(w.rng, cap=60.0)
    w.add_pulse(t0, _loguniform(w.rng, 18, 55), w.rng.uniform(0.25, 0.5), snr)
    return snr


def _extremely_loud(w: Waveform, t0: float) -> float:
    # Hundreds to thousands of SNR, broadband and longer than a blip: saturates most of every view.
    snr = _loguniform(w.rng, 400, 8000)
    w.add_pulse(t0, _loguniform(w.rng, 30, 200), w.rng.uniform(0.8, 1.3), snr)
    for _ in range(w.rng.integers(0, 5)):
        w.add_pulse(
            t0 + w.rng.uniform(-0.3, 0.3),
            _loguniform(w.rng, 20, 400),
            w.rng.uniform(0.6, 1.3),
            snr * w.rng.uniform(0.1, 0.7),
        )
    w.add_noise_burst(
        t0 + w.rng.uniform(-0.1, 0.1),
        _loguniform(w.rng, 0.1, 1.5),
        10,
        w.rng.uniform(500, 2000),
        snr * w.rng.uniform(0.3, 1.0),
    )
    return snr


def _chirp(w: Waveform, t0: float) -> float:
    # Newtonian inspiral: f = f_end ((t_c - t + eps) / eps)^(-3/8), rising to the centre.
    snr = trigger_snr(w.rng, low=8.0, index=2.0, cap=40.0)
    duration = _loguniform(w.rng, 0.2, 2.0)
    f_start, f_end = w.rng.uniform(20, 40), _loguniform(w.rng, 200, 700)
    eps = duration * (f_start / f_end) ** (8 / 3)

    def frequency(t: np.ndarray) -> np.ndarray:
        return f_end * ((np.maximum(t0 - t, 0.0) + eps) / eps) ** (-3 / 8)

    def envelope(t: np.ndarray) -> np.ndarray:
        rise = frequency(t) ** (2 / 3) * _tukey((t - (t0 - duration)) / duration, 0.1)
        return np.where(t <= t0, rise, rise * np.exp(-(t - t0) / 0.004))

    w.add_track(t0 - duration, t0 + 0.03, frequency, snr, envelope)
    return snr


def _whistle(w: Waveform, t0: float) -> float:
    # Radio beat note: a narrow V, U or W track at hundreds of Hz to kHz.
    snr = trigger_snr(w.rng, cap=50.0)
    duration = _loguniform(w.rng, 0.1, 1.0)
    f_min = _loguniform(w.rng, 250, 1400)
    depth = w.rng.uniform(0.4, 2.0) * f_min
    shape = w.rng.choice(["V", "U", "W"])
    power = 1.0 if shape != "U" else 2.0
    half = duration / 2

    def frequency(t: np.ndarray) -> np.ndarray:
        u = np.abs(t - t0) / half
        if shape == "W":
            u = np.abs(2 * u - 1)
        return f_min + depth * np.minimum(u, 1.0) ** power

    w.add_track(t0 - half, t0 + half, frequency, snr)
    return snr


def _helix(w: Waveform, t0: float) -> float:
    # A column of loops: a fast-rising track whose frequency oscillates around it (spiral-like).
    snr = trigger_snr(w.rng, low=10.0, cap=60.0)
    duration = w.rng.uniform(0.15, 0.5)
    f_low, f_high = w.rng.uniform(25, 60), _loguniform(w.rng, 300, 1200)
    loop_hz, depth = w.rng.uniform(8, 30), w.rng.uniform(0.2, 0.45)
    start = t0 - duration * w.rng.uniform(0.3, 0.7)

    def frequency(t: np.ndarray) -> np.ndarray:
        u = np.clip((t - start) / duration, 0, 1)
        return f_low * (f_high / f_low) ** u * (1 + depth * np.sin(2 * np.pi * loop_hz * (t - start)))

    w.add_track(start, start + duration, frequency, snr)
    for _ in range(w.rng.integers(1, 4)):
        w.add_pulse(
            t0 + w.rng.uniform(-0.1, 0.1), _loguniform(w.rng, 40, 300), 0.5, snr * w.rng.uniform(0.3, 0.8)
        )
    return snr


def _light_modulation(w: Waveform, t0: float) -> float:
    # Regularly repeating broadband spikes at low to mid frequency across the whole window.
    snr = trigger_snr(w.rng, cap=60.0)
    period = _loguniform(w.rng, 0.08, 0.6)
    centre, width = _loguniform(w.rng, 30, 150), w.rng.uniform(0.6, 1.1)
    for k in range(-int(4.5 / period), int(4.5 / period) + 1):
        level = snr if k == 0 else snr * w.rng.uniform(0.35, 1.0)
        w.add_pulse(
            t0 + k * period + w.rng.normal(0, 0.003), centre * np.exp(w.rng.normal(0, 0.1)), width, level
        )
    return snr


def _paired_doves(w: Waveform, t0: float) -> float:
    # Pairs of short arcs, one rising then one falling, repeating.
    snr = trigger_snr(w.rng, cap=40.0)
    n_pairs, period = int(w.rng.integers(2, 6)), w.rng.uniform(0.3, 1.0)
    arc = w.rng.uniform(0.08, 0.3)
    f_low, f_high = w.rng.uniform(25, 60), _loguniform(w.rng, 70, 250)
    first = -int(w.rng.integers(0, n_pairs))
    for k in range(first, first + n_pairs):
        start = t0 + k * period - arc
        for rising in (True, False):
            begin = start if rising else start + arc

            def frequency(t: np.ndarray, begin: float = begin, rising: bool = rising) -> np.ndarray:
                u = np.clip((t - begin) / arc, 0, 1)
                return f_low + (f_high - f_low) * (u if rising else 1 - u) ** 1.5

            w.add_track(begin, begin + arc, frequency, snr if k == 0 else snr * w.rng.uniform(0.5, 1.0))
    return snr


def _repeating_blips(w: Waveform, t0: float) -> float:
    # 2-6 blips at regular 0.25-0.5 s spacing.
    snr = trigger_snr(w.rng, cap=50.0)
    count, spacing = int(w.rng.integers(2, 7)), w.rng.uniform(0.25, 0.5)
    centre, width = _loguniform(w.rng, 40, 250), w.rng.uniform(0.35, 0.8)
    first = -int(w.rng.integers(0, count))
    for k in range(first, first + count):
        level = snr if k == 0 else snr * w.rng.uniform(0.5, 1.0)
        w.add_pulse(
            t0 + k * spacing * (1 + w.rng.normal(0, 0.03)),
            centre * np.exp(w.rng.normal(0, 0.15)),
            width,
            level,
        )
    return snr


def _scattered_light(w: Waveform, t0: float) -> float:
    # Stacked arches f_n(t) = n f_1 |sin(pi (t - t_a) / T)| below ~100 Hz, seconds long.
    snr = trigger_snr(w.rng, low=9.0, cap=50.0)
    period = w.rng.uniform(0.8, 3.5)
    f_top = w.rng.uniform(18, 50)
    n_harmonics = int(w.rng.integers(1, 6))
    offset = t0 - period / 2  # an arch top at the trigger

    def arch(t: np.ndarray) -> np.ndarray:
        return np.abs(np.sin(np.pi * (t - offset) / period))

    for n in range(1, n_harmonics + 1):
        w.add_track(
            -4.0,
            4.0,
            lambda t, n=n: n * f_top * arch(t),
            snr * n**-0.5 * w.rng.uniform(0.7, 1.0),
            envelope=lambda t: arch(t) ** 0.5 * _tukey((t + 4.0) / 8.0, 0.2),
        )
    return snr


def _low_frequency_burst(w: Waveform, t0: float) -> float:
    # A smooth hump of power below ~50 Hz lasting 0.3-2 s: overlapping low-Q bursts.
    snr = trigger_snr(w.rng, cap=60.0)
    duration = _loguniform(w.rng, 0.3, 2.0)
    top = w.rng.uniform(20, 45)
    w.add_sine_gaussian(t0, w.rng.uniform(12, top), w.rng.uniform(2.5, 5), snr)
    for _ in range(int(w.rng.integers(2, 7))):
        offset = w.rng.uniform(-duration / 3, duration / 3)
        # Lower frequencies towards the ends of the hump.
        frequency_hz = 11 + (top - 11) * (1 - (2 * offset / duration) ** 2) * w.rng.uniform(0.5, 1.0)
        w.add_sine_gaussian(t0 + offset, frequency_hz, w.rng.uniform(2.5, 6), snr * w.rng.uniform(0.5, 0.9))
    return snr


def _low_frequency_lines(w: Waveform, t0: float) -> float:
    # Horizontal lines below ~60 Hz across the window, bursting on and off within the data.
    snr = trigger_snr(w.rng, low=15.0, index=1.5, cap=60.0)
    for _ in range(int(w.rng.integers(1, 4))):
        frequency_hz = w.rng.uniform(12, 60)
        length = w.rng.uniform(4.0, 7.5)
        start = w.rng.uniform(-3.8, 3.8 - length) if length < 7.5 else -3.75
        wobble = w.rng.uniform(0, 0.003)
        w.add_track(
            start,
            start + length,
            lambda t, f=frequency_hz, d=wobble: f * (1 + d * np.sin(2 * np.pi * 0.3 * t)),
            snr * w.rng.uniform(0.6, 1.0),
        )
    return snr


def _line_bursts(w: Waveform, t0: float, centre_hz: float, spread_hz: float, snr: float) -> None:
    count = int(w.rng.integers(2, 9))
    for k in range(count):
        time_s = t0 if k == 0 else w.rng.uniform(-2.2, 2.2)
        duration = _loguniform(w.rng, 0.05, 0.6)
        frequency_hz = centre_hz + w.rng.uniform(-spread_hz, spread_hz)
        w.add_track(
            time_s - duration / 2,
            time_s + duration / 2,
            lambda t, f=frequency_hz: np.full_like(t, f),
            snr if k == 0 else snr * w.rng.uniform(0.4, 1.0),
        )


def _lines_1080(w: Waveform, t0: float) -> float:
    # Short narrow-band lines near 1080 Hz.
    snr = trigger_snr(w.rng, cap=40.0)
    _line_bursts(w, t0, w.rng.uniform(1065, 1095), 15.0, snr)
    return snr


def _ripples_1400(w: Waveform, t0: float) -> float:
    # A cluster of short ripples near 1400 Hz.
    snr = trigger_snr(w.rng, low=9.0, cap=40.0)
    span = _loguniform(w.rng, 0.05, 0.6)
    centre = w.rng.uniform(1320, 1480)
    for k in range(int(w.rng.integers(4, 16))):
        time_s = t0 if k == 0 else t0 + w.rng.uniform(-span / 2, span / 2)
        w.add_sine_gaussian(
            time_s,
            centre + w.rng.uniform(-60, 60),
            w.rng.uniform(20, 120),
            snr if k == 0 else snr * w.rng.uniform(0.4, 1.0),
        )
    return snr


def _power_line(w: Waveform, t0: float) -> float:
    # 60 Hz bursts with weaker 120 and 180 Hz harmonics.
    snr = trigger_snr(w.rng, cap=50.0)
    duration = _loguniform(w.rng, 0.1, 1.5)
    mains = w.rng.uniform(59.6, 60.4)
    for harmonic, weight in ((1, 1.0), (2, w.rng.uniform(0.0, 0.9)), (3, w.rng.uniform(0.0, 0.6))):
        if weight > 0.1:
            w.add_track(
                t0 - duration / 2,
                t0 + duration / 2,
                lambda t, f=harmonic * mains: np.full_like(t, f),
                snr * weight,
            )
    return snr


def _violin_mode(w: Waveform, t0: float) -> float:
    # Lines near 500 Hz (and 1000, 1500 Hz), amplitude-modulated over seconds.
    snr = trigger_snr(w.rng, cap=40.0)
    base = w.rng.uniform(480, 520)
    length = w.rng.uniform(1.5, 7.0)
    start = t0 - length * w.rng.uniform(0.3, 0.7)
    beat = w.rng.uniform(0.1, 1.5)
    for harmonic, weight in ((1, 1.0), (2, w.rng.uniform(0.0, 0.8)), (3, w.rng.uniform(0.0, 0.5))):
        if weight > 0.15:
            w.add_track(
                start,
                start + length,
                lambda t, f=harmonic * base: f + 0.5 * np.sin(2 * np.pi * 0.2 * t),
                snr * weight,
                envelope=lambda t: (
                    (0.6 + 0.4 * np.cos(2 * np.pi * beat * (t - t0))) * _tukey((t - start) / length, 0.3)
                ),
            )
    return snr


def _air_compressor(w: Waveform, t0: float) -> float:
    # A ~40-60 Hz line lasting seconds.
    snr = trigger_snr(w.rng, low=10.0, cap=40.0)
    frequency_hz, length = w.rng.uniform(38, 62), w.rng.uniform(1.0, 6.0)
    start = t0 - length * w.rng.uniform(0.2, 0.8)
    w.add_track(start, start + length, lambda t: frequency_hz + 0.3 * np.sin(2 * np.pi * 0.5 * t), snr)
    if w.rng.random() < 0.4:
        w.add_track(
            start,
            start + length,
            lambda t: 2 * frequency_hz + 0.6 * np.sin(2 * np.pi * 0.5 * t),
            snr * w.rng.uniform(0.3, 0.7),
        )
    return snr


def _scratchy(w: Waveform, t0: float) -> float:
    # Trains of short arcs and blobs in a band around 100-300 Hz across the whole window.
    snr = trigger_snr(w.rng, index=3.0, cap=14.0)
    band = _loguniform(w.rng, 100, 280)
    rate = w.rng.uniform(10, 40)  # blobs per second
    span = w.rng.uniform(3.0, 7.5)
    start = t0 - span * w.rng.uniform(0.3, 0.7)
    times = start + np.cumsum(w.rng.exponential(1 / rate, size=int(span * rate * 1.5) + 2))
    times = times[times < start + span]
    w.add_sine_gaussian(t0, band * np.exp(w.rng.normal(0, 0.1)), w.rng.uniform(5, 12), snr)
    for time_s in times:
        level = snr * float(np.clip(np.exp(w.rng.normal(-1.0, 0.3)), 0.2, 0.8))
        frequency_hz = band * np.exp(w.rng.normal(0, 0.18))
        if w.rng.random() < 0.25:  # a short arc
            arc, sweep = w.rng.uniform(0.02, 0.06), w.rng.uniform(-0.4, 0.4)
            w.add_track(
                time_s,
                time_s + arc,
                lambda t, f=frequency_hz, b=time_s, a=arc, s=sweep: f * (1 + s * (t - b) / a),
                level,
            )
        else:
            w.add_sine_gaussian(time_s, frequency_hz, w.rng.uniform(4, 12), level)
    return snr


def _wandering_line(w: Waveform, t0: float) -> float:
    # A line whose frequency wanders over seconds.
    snr = trigger_snr(w.rng, index=2.0, cap=30.0)
    f0 = _loguniform(w.rng, 60, 1200)
    terms = [
        (w.rng.uniform(0.1, 0.8), w.rng.uniform(0.02, 0.12), w.rng.uniform(0, 2 * np.pi)) for _ in range(3)
    ]
    length = w.rng.uniform(4.5, 7.5)
    start = w.rng.uniform(-3.8, 3.8 - length)

    def frequency(t: np.ndarray) -> np.ndarray:
        return f0 * (1 + sum(depth * np.sin(2 * np.pi * rate * t + phase) for rate, depth, phase in terms))

    w.add_track(start, start + length, frequency, snr)
    return snr


def _no_glitch(w: Waveform, t0: float) -> float:
    return 0.0


def _none_of_the_above(w: Waveform, t0: float) -> float:
    # One or two oddities that no other class describes.
    snr = trigger_snr(w.rng, cap=60.0)
    oddities = ["box", "falling", "cloud", "high_q", "step"]
    for k, oddity in enumerate(w.rng.choice(oddities, size=int(w.rng.integers(1, 3)), replace=False)):
        level = snr if k == 0 else snr * w.rng.uniform(0.5, 1.0)
        time_s = t0 if k == 0 else w.rng.uniform(-1.5, 1.5)
        if oddity == "box":  # a block of broadband noise at an arbitrary band
            low = _loguniform(w.rng, 15, 800)
            w.add_noise_burst(time_s, _loguniform(w.rng, 0.1, 2.0), low, low * w.rng.uniform(1.5, 4.0), level)
        elif oddity == "falling":  # a downward sweep, unlike any chirp
            f_high, duration = _loguniform(w.rng, 150, 1500), _loguniform(w.rng, 0.1, 1.0)
            ratio = w.rng.uniform(0.1, 0.5)
            w.add_track(
                time_s,
                time_s + duration,
                lambda t, s=time_s, d=duration, fh=f_high, r=ratio: fh * r ** ((t - s) / d),
                level,
            )
        elif oddity == "cloud":  # scattered low-Q bursts over a wide band
            for _ in range(int(w.rng.integers(4, 15))):
                w.add_sine_gaussian(
                    time_s + w.rng.uniform(-0.8, 0.8),
                    _loguniform(w.rng, 20, 1500),
                    w.rng.uniform(3, 10),
                    level * w.rng.uniform(0.4, 1.0),
                )
        elif oddity == "high_q":  # a long ring at an unusual frequency
            w.add_sine_gaussian(time_s, _loguniform(w.rng, 70, 1800), w.rng.uniform(40, 120), level)
        else:  # a wideband step: a pulse followed by a slow low-frequency ring-down
            w.add_pulse(time_s, _loguniform(w.rng, 300, 1200), 0.9, level)
            ring_hz = w.rng.uniform(12, 35)
            w.add_track(
                time_s,
                time_s + w.rng.uniform(0.3, 1.5),
                lambda t, f=ring_hz: np.full_like(t, f),
                level * w.rng.uniform(0.4, 0.9),
                envelope=lambda t, s=time_s: np.exp(-np.maximum(t - s, 0) / 0.3),
            )
    return snr


GENERATORS: dict[str, Callable[[Waveform, float], float]] = {
    "1080Lines": _lines_1080,
    "1400Ripples": _ripples_1400,
    "Air_Compressor": _air_compressor,
    "Blip": _blip,
    "Chirp": _chirp,
    "Extremely_Loud": _extremely_loud,
    "Helix": _helix,
    "Koi_Fish": _koi_fish,
    "Light_Modulation": _light_modulation,
    "Low_Frequency_Burst": _low_frequency_burst,
    "Low_Frequency_Lines": _low_frequency_lines,
    "No_Glitch": _no_glitch,
    "None_of_the_Above": _none_of_the_above,
    "Paired_Doves": _paired_doves,
    "Power_Line": _power_line,
    "Repeating_Blips": _repeating_blips,
    "Scattered_Light": _scattered_light,
    "Scratchy": _scratchy,
    "Tomte": _tomte,
    "Violin_Mode": _violin_mode,
    "Wandering_Line": _wandering_line,
    "Whistle": _whistle,
}
assert tuple(GENERATORS) == gravity_spy.CLASS_NAMES


# ----------------------------------------------------------------------------------------------
# One sample


GLITCH_SCAN_S = 2.0  # stretch around the centre scanned to measure a glitch's loudest tile


def _glitch_tile_snr(waveform: np.ndarray) -> float:
    from gravityvit.data.omega_scan import SEARCH_WINDOW_S, peak_tile_snr

    half = int(GLITCH_SCAN_S / 2 * SAMPLE_RATE_HZ)
    centre = waveform.size // 2
    segment = waveform[centre - half : centre + half]
    search = (GLITCH_SCAN_S / 2 - SEARCH_WINDOW_S / 2, GLITCH_SCAN_S / 2 + SEARCH_WINDOW_S / 2)
    snr = peak_tile_snr(segment, SAMPLE_RATE_HZ, search)
    if snr <= 0:  # nothing of the glitch within the search window: fall back to the whole waveform
        snr = float(np.sqrt(np.sum(waveform**2)))
    return max(snr, 1e-12)


def _describe(waveform: np.ndarray, sample_rate_hz: float) -> dict[str, float]:
    """Omicron-like descriptors of a glitch: energy-weighted central frequency, bandwidth, duration."""
    energy = waveform * waveform
    total = float(energy.sum())
    if total <= 0:
        return {"central_freq": 0.0, "bandwidth": 0.0, "duration": 0.0}
    power = np.abs(scipy.fft.rfft(waveform)) ** 2
    frequencies = np.fft.rfftfreq(waveform.size, 1.0 / sample_rate_hz)
    mean = float(np.sum(power * frequencies) / power.sum())
    spread = float(np.sqrt(np.sum(power * (frequencies - mean) ** 2) / power.sum()))
    cumulative = np.cumsum(energy) / total
    first, last = np.searchsorted(cumulative, [0.05, 0.95])
    return {
        "central_freq": mean,
        "bandwidth": 2 * spread,
        "duration": float(last - first + 1) / sample_rate_hz,
    }


def _as_generator(seed: int | np.random.SeedSequence | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def make_gravityspy_id(rng: np.random.Generator) -> str:
    """A 10-character [A-Za-z0-9] id like Gravity Spy's (e.g. ``zmIdpucyOG``)."""
    return "".join(rng.choice(list(ID_ALPHABET), size=10))


def simulate_strain(
    label: str, seed: int | np.random.SeedSequence | np.random.Generator, ifo: str | None = None
) -> tuple[Any, float, dict[str, Any]]:
    """Simulate 8 s of strain with one glitch of class ``label`` centred on its trigger time.

    Returns
    -------
    strain : gwpy.timeseries.TimeSeries
        8192 Hz strain starting 4 s before the trigger time.
    event_time : float
        GPS time of the trigger (the centre of the views).
    metadata : dict
        ``ifo``, ``event_time``, ``injected_snr``, ``central_freq``, ``bandwidth``, ``duration``.
    """
    from gwpy.timeseries import TimeSeries

    if label not in GENERATORS:
        raise ValueError(f"unknown Gravity Spy class {label!r}; expected one of {gravity_spy.CLASS_NAMES}")
    rng = _as_generator(seed)
    if ifo is None:
        ifo = str(rng.choice(list(IFO_PROBABILITIES), p=list(IFO_PROBABILITIES.values())))
    elif ifo not in IFO_PROBABILITIES:
        raise ValueError(f"unknown detector {ifo!r}; expected one of {tuple(IFO_PROBABILITIES)}")
    # Millisecond GPS times keep the views' 2 ms grid exact in float64.
    event_time = float(np.round(rng.uniform(*GPS_RANGE_S), 3))
    waveform = Waveform(rng)
    trigger = float(np.clip(rng.normal(0.0, TRIGGER_JITTER_S), -0.04, 0.04))
    injected_snr = GENERATORS[label](waveform, trigger)
    if injected_snr > 0:
        # Rescale so that the loudest Q tile within the search window has the drawn SNR, as an
        # Omicron trigger's SNR is that of its loudest tile.
        waveform.data *= injected_snr / _glitch_tile_snr(waveform.data)
    white = rng.standard_normal(N_SAMPLES) + waveform.data
    strain = TimeSeries(
        colour(white, ifo),
        sample_rate=SAMPLE_RATE_HZ,
        t0=event_time - DATA_DURATION_S / 2,
        name=f"{ifo}:SIMULATED_STRAIN",
    )
    metadata = {"ifo": ifo, "event_time": event_time, "injected_snr": float(injected_snr)}
    metadata.update(_describe(waveform.data, SAMPLE_RATE_HZ))
    return strain, event_time, metadata


def simulate_sample(
    label: str, seed: int | np.random.SeedSequence | np.random.Generator, ifo: str | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Simulate one Gravity Spy sample of class ``label``: four views and its metadata.

    Parameters
    ----------
    label : str
        One of ``gravity_spy.CLASS_NAMES``.
    seed : int, SeedSequence or Generator
        Source of randomness; the same seed gives the same sample.
    ifo : {"H1", "L1"}, optional
        Detector; drawn with the v1d1 mix when omitted.

    Returns
    -------
    views : np.ndarray
        float32 (4, 140, 170) in [0, 1].
    metadata : dict
        v1d1-style columns: ``ifo``, ``event_time``, ``peak_time``, ``peak_time_ns``,
        ``start_time``, ``start_time_ns``, ``duration`` (s), ``peak_frequency`` (Hz, loudest
        tile), ``central_freq`` and ``bandwidth`` (Hz, of the injected waveform), ``snr`` (the
        loudest tile's sqrt(2 E), as gwpy reports it), ``q_value`` (Q of the plane shown) and
        ``injected_snr`` (the trigger SNR drawn for the glitch).
    """
    from gravityvit.data.omega_scan import scan_to_views, whiten_and_scan

    rng = _as_generator(seed)
    strain, event_time, metadata = simulate_strain(label, rng, ifo)
    scan = whiten_and_scan(
        strain,
        event_time,
        whiten=noise_asd(metadata["ifo"]),
        data_span_s=DATA_DURATION_S,
        normalization="mean",
        reference_span_s=REFERENCE_SPAN_S,
        noise_energy=noise_reference(metadata["ifo"]),
    )
    views = scan_to_views(scan, event_time)
    peak_seconds = int(np.floor(scan.peak_time_s))
    start = scan.peak_time_s - metadata["duration"] / 2
    metadata.update(
        {
            "peak_time": peak_seconds,
            "peak_time_ns": round((scan.peak_time_s - peak_seconds) * 1e9),
            "start_time": int(np.floor(start)),
            "start_time_ns": round((start - np.floor(start)) * 1e9),
            "peak_frequency": float(scan.peak_frequency_hz),
            "snr": float(scan.peak_snr),
            "q_value": float(scan.q),
        }
    )
    return views, metadata


# ----------------------------------------------------------------------------------------------
# Data sets


@dataclass(frozen=True)
class SampleJob:
    """One sample to simulate: its class, split and the entropy its randomness derives from."""

    label: str
    sample_type: str
    entropy: tuple[int, ...]


def class_counts(
    samples_per_class: int | None = None,
    *,
    like_v1d1: bool = False,
    scale: float = 1.0,
    classes: Sequence[str] | None = None,
) -> dict[str, int]:
    """Samples per class: ``samples_per_class`` each, or the v1d1 counts times ``scale``.

    With ``like_v1d1`` each count is ``round(count * scale)`` (half to even), at least 1, so every
    class is present at any scale. ``classes`` keeps only those classes (default: all 22).
    """
    if classes is not None:
        unknown = sorted(set(classes) - set(gravity_spy.CLASS_NAMES))
        if unknown:
            raise ValueError(
                f"unknown Gravity Spy classes {unknown}; expected names from {gravity_spy.CLASS_NAMES}"
            )
        counts = class_counts(samples_per_class, like_v1d1=like_v1d1, scale=scale)
        return {name: count for name, count in counts.items() if name in set(classes)}
    if like_v1d1 == (samples_per_class is not None):
        raise ValueError("give either samples_per_class or like_v1d1=True (with an optional scale)")
    if like_v1d1:
        if not scale > 0:
            raise ValueError(f"scale must be positive; got {scale!r}")
        return {name: max(1, round(count * scale)) for name, count in gravity_spy.V1D1_CLASS_COUNTS.items()}
    if int(samples_per_class) < 1:
        raise ValueError(f"samples_per_class must be at least 1; got {samples_per_class!r}")
    return dict.fromkeys(gravity_spy.CLASS_NAMES, int(samples_per_class))


def split_sizes(count: int) -> dict[str, int]:
    """Stratified 70/15/15 sizes of one class: validation and test round to nearest, train takes the rest."""
    validation = int(np.floor(count * SPLIT_FRACTIONS["validation"] + 0.5))
    test = int(np.floor(count * SPLIT_FRACTIONS["test"] + 0.5))
    if validation + test >= count:  # tiny classes keep at least one training sample
        validation, test = (0, 0) if count < 3 else (1, 1)
    return {"train": count - validation - test, "validation": validation, "test": test}


def plan_dataset(counts: dict[str, int], seed: int) -> list[SampleJob]:
    """The samples of a data set in writing order (class order, then index), with their splits.

    Each sample's entropy is ``(seed, class index, index in class)``, so a sample does not depend
    on the number of samples of other classes, nor on how many processes simulate them.
    """
    jobs = []
    for class_index, label in enumerate(gravity_spy.CLASS_NAMES):
        count = counts.get(label, 0)
        if count <= 0:
            continue
        sizes = split_sizes(count)
        types = np.array(
            ["train"] * sizes["train"] + ["validation"] * sizes["validation"] + ["test"] * sizes["test"]
        )
        types = types[np.random.default_rng([seed, class_index, 2**31 - 1]).permutation(count)]
        jobs.extend(SampleJob(label, str(types[j]), (int(seed), class_index, j)) for j in range(count))
    return jobs


def simulate_job(job: SampleJob) -> Any:
    """Simulate one planned sample into a ``GravitySpySample`` (id, views, ifo, metadata)."""
    from gravityvit.data.hdf5 import GravitySpySample

    id_sequence, sample_sequence = np.random.SeedSequence(list(job.entropy)).spawn(2)
    gravityspy_id = make_gravityspy_id(np.random.default_rng(id_sequence))
    views, metadata = simulate_sample(job.label, np.random.default_rng(sample_sequence))
    ifo = metadata.pop("ifo")
    return GravitySpySample(gravityspy_id, job.label, job.sample_type, views, ifo, metadata)


def _simulated(jobs: Sequence[SampleJob], num_proc: int) -> Iterator[Any]:
    if num_proc <= 1:
        yield from map(simulate_job, jobs)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    if method == "fork":
        # Import the front end and calibrate the noise once here; forked workers inherit both.
        import gravityvit.data.omega_scan  # noqa: F401

        for ifo in IFO_PROBABILITIES:
            noise_reference(ifo)
    with concurrent.futures.ProcessPoolExecutor(
        num_proc, mp_context=multiprocessing.get_context(method)
    ) as pool:
        # map keeps the order of jobs, so the file is the same for any number of processes.
        yield from pool.map(simulate_job, jobs, chunksize=4)


def default_metadata_csv(output_h5: str | os.PathLike) -> Path:
    """``sim.h5`` -> ``sim_metadata.csv`` beside it (as ``trainingset_v1d1_metadata.csv``)."""
    output_h5 = Path(output_h5)
    return output_h5.with_name(f"{output_h5.stem}_metadata.csv")


def simulate_dataset(
    output_h5: str | os.PathLike,
    *,
    samples_per_class: int | None = None,
    like_v1d1: bool = False,
    scale: float = 1.0,
    seed: int = 0,
    num_proc: int = 1,
    metadata_csv: str | os.PathLike | None = None,
    progress: bool = True,
    classes: Sequence[str] | None = None,
) -> Path:
    """Simulate a Gravity Spy training set and write it in the Zenodo HDF5 layout with a metadata CSV.

    Parameters
    ----------
    output_h5 : path
        HDF5 file to write (atomically: it appears only when complete).
    samples_per_class : int, optional
        Samples of each of the 22 classes.
    like_v1d1 : bool
        Instead, the v1d1 class counts times ``scale`` (each at least 1).
    scale : float
        Multiplier of the v1d1 counts.
    seed : int
        Seed of everything; the same seed gives the same file contents for any ``num_proc``.
    num_proc : int
        Worker processes.
    metadata_csv : path, optional
        The CSV to write; default ``<output stem>_metadata.csv`` beside the HDF5 file.
    progress : bool
        Show a progress bar.
    classes : sequence of str, optional
        Simulate only these classes (default: all 22).

    Returns
    -------
    Path
        ``output_h5``.
    """
    from tqdm.auto import tqdm

    from gravityvit.data.hdf5 import GravitySpyHDF5Writer

    counts = class_counts(samples_per_class, like_v1d1=like_v1d1, scale=scale, classes=classes)
    jobs = plan_dataset(counts, int(seed))
    metadata_csv = Path(metadata_csv) if metadata_csv is not None else default_metadata_csv(output_h5)
    seen: set[str] = set()
    with GravitySpyHDF5Writer(output_h5, metadata_csv=metadata_csv) as writer:
        samples = _simulated(jobs, max(1, int(num_proc)))
        for sample in tqdm(samples, total=len(jobs), desc="simulate", unit="sample", disable=not progress):
            while sample.gravityspy_id in seen:  # 62^10 ids: a clash is a curiosity, but stay deterministic
                sample.gravityspy_id = make_gravityspy_id(
                    np.random.default_rng(list(map(ord, sample.gravityspy_id)))
                )
            seen.add(sample.gravityspy_id)
            writer.write(sample)
    return Path(output_h5)
