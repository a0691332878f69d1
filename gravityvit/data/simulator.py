"""A 22-class Gravity Spy glitch simulator: randomised waveforms in Gaussian detector noise.

Each sample is made the way a real Gravity Spy sample is, except for the glitch itself:

1. 8 s of Gaussian noise at 8192 Hz coloured by an analytic aLIGO-like PSD (H1 and L1 differ
   slightly), with one glitch added, centred so that its loudest point (the "trigger", where
   Gravity Spy centres its views on the Omicron peak time) lies within tens of ms of the centre;
2. the views come from :mod:`gravityvit.data.omega_scan`, the same front end as real strain:
   whitening, the gwpy Q scan (search window 0.5 s), Gravity Spy's pixels.

Glitches are designed in whitened units (unit-variance white noise), where the matched-filter SNR
of a waveform ``g`` is ``sqrt(sum(g**2))``, and coloured with the noise before whitening. A
component's *trigger SNR* is its matched-filter SNR within its loudest 0.25 s, a stand-in for the
Omicron SNR of its loudest tile; it is drawn like Omicron triggers (above 7.5 with a power-law
tail) for every class but Extremely_Loud (scaled by its energy instead; its loudest tile is in the
hundreds to thousands). Every class is a randomised model of the Gravity Spy field-guide
morphology; ``docs/simulator.md`` describes each one.

Deviations from Gravity Spy: 8 s of data instead of 64 s, 8192 Hz instead of 16384 Hz (the Q tiles
up to 2048 Hz use only frequencies below 3.3 kHz, so the views are the same), whitening with the
ASD that gwpy's mean-averaged (Welch) estimate over 64 s would give, computed as the noise PSD plus
the glitch's own periodograms over 63 (:func:`welch_asd`; the gwpy of the Gravity Spy images
averaged with the mean, so loud or steady glitches partly whiten themselves), and the tile
energies normalised by the mean of a 64 s row made of the 8 s scanned and 56 s of equally
whitened Gaussian noise (``omega_scan.q_scan(reference_span_s=64)``), so a seconds-long glitch
weighs on the normalisation as much as it does in Gravity Spy's 64 s.
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


# Gravity Spy's whitening ASD: gwpy's ``asd(2, 1)`` over its 64 s, which before gwpy 2.1 (2021,
# gwpy issue #1228 / PR #1282) averaged the 63 periodograms with the *mean* (Welch), not the median.
ASD_SEGMENT_S = 2.0
ASD_STEP_S = 1.0
ASD_SEGMENTS_64S = int((REFERENCE_SPAN_S - ASD_SEGMENT_S) / ASD_STEP_S) + 1


def welch_excess(glitch_white: np.ndarray) -> np.ndarray:
    """The glitch's share of a 64 s mean-averaged PSD estimate, relative to the noise, per rfft bin.

    Mean of the 2 s Hann periodograms at 1 s steps (each normalised so that unit-variance white
    noise gives 1) over the 63 of Gravity Spy's 64 s, the glitch being in the simulated 8 s only;
    interpolated onto the rfft grid of the simulated data.
    """
    segment = int(ASD_SEGMENT_S * SAMPLE_RATE_HZ)
    step = int(ASD_STEP_S * SAMPLE_RATE_HZ)
    window = np.hanning(segment + 1)[:-1]  # periodic Hann, as scipy.signal.get_window("hann")
    starts = np.arange(0, glitch_white.size - segment + 1, step)
    stacked = np.stack([glitch_white[start : start + segment] for start in starts]) * window
    periodograms = np.abs(scipy.fft.rfft(stacked, axis=1)) ** 2 / np.sum(window**2)
    excess = periodograms.sum(axis=0) / ASD_SEGMENTS_64S
    frequencies = np.fft.rfftfreq(N_SAMPLES, 1.0 / SAMPLE_RATE_HZ)
    return np.interp(frequencies, np.fft.rfftfreq(segment, 1.0 / SAMPLE_RATE_HZ), excess)


def welch_asd(glitch_white: np.ndarray, ifo: str, excess: np.ndarray | None = None) -> Any:
    """The ASD Gravity Spy's whitening would estimate around a glitch: noise plus the glitch's share.

    gwpy's ``q_transform(whiten=True)`` of the Gravity Spy era estimated the ASD from 2 s Hann
    periodograms at 1 s steps over the 64 s of data and took their *mean*. A glitch is in only a
    few of the 63 periodograms, so a quiet one barely moves the estimate, but a very loud one
    (Extremely_Loud, the loudest Koi_Fish) raises it over its whole band and so whitens itself
    down: its whitened energy cannot exceed that of tens of seconds of noise, which is why real
    Extremely_Loud views show a saturated region over noise-like background, not a black one.

    Parameters
    ----------
    glitch_white : np.ndarray
        The glitch over the simulated 8 s, in whitened units (unit-variance white noise).
    ifo : str
        Detector whose noise PSD the estimate adds to.
    excess : np.ndarray, optional
        :func:`welch_excess` of the glitch, when already computed.

    Returns
    -------
    gwpy.frequencyseries.FrequencySeries
        The ASD on the rfft grid of the simulated data; the expected Welch estimate: the noise
        ASD times ``sqrt(1 + sum of the glitch's normalised periodograms / 63)``.
    """
    from gwpy.frequencyseries import FrequencySeries

    excess = welch_excess(glitch_white) if excess is None else excess
    frequencies = np.fft.rfftfreq(N_SAMPLES, 1.0 / SAMPLE_RATE_HZ)
    return FrequencySeries(
        np.asarray(noise_asd(ifo).value) * np.sqrt(1.0 + excess),
        f0=0.0,
        df=frequencies[1],
        unit="1/Hz^(1/2)",
    )


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


# The blip's pulse (shared with Repeating_Blips): centre frequency (Hz, log-uniform), log width and
# trigger SNR (threshold, index, cap of ``trigger_snr``; Koi_Fish start where blips stop).
BLIP_CENTRE_HZ: tuple[float, float] = (45.0, 110.0)
BLIP_LOG_WIDTH: tuple[float, float] = (0.7, 1.0)
BLIP_SNR: tuple[float, float, float] = (10.0, 1.4, 40.0)


def _blip(w: Waveform, t0: float) -> float:
    # A tall, thin teardrop: a short broadband pulse centred 45-110 Hz. The real Gravity Spy blips
    # (0.5 s view) are brightest near 45 Hz (38-79 Hz), bright (> 0.5) over ~2 % of the pixels and
    # ~80 of the 140 rows, a narrow head at the bottom and a thin tail up to several hundred Hz;
    # these settings give 35 Hz (24-58 Hz), 1.8 % and 64 rows. Earlier settings (centre up to 250 Hz,
    # narrower band, fainter) made blips that a model trained on them did not recognise in real data.
    snr = trigger_snr(w.rng, *BLIP_SNR)
    w.add_pulse(t0, _loguniform(w.rng, *BLIP_CENTRE_HZ), w.rng.uniform(*BLIP_LOG_WIDTH), snr)
    return snr


KOI_FISH_SNR: tuple[float, float] = (80.0, 800.0)


def _koi_fish(w: Waveform, t0: float) -> float:
    # A very loud blip: a fat, saturated head at 25-70 Hz with "fins", bright low-frequency lobes
    # (15-40 Hz) 0.04-0.15 s to either side, and a thin tail up to ~1-2 kHz. The fins are what
    # real koi fish show and loud blips do not; the loudness (from the blips' cap up to hundreds)
    # saturates the head over a tenth of a second.
    snr = _loguniform(w.rng, *KOI_FISH_SNR)
    w.add_pulse(t0, _loguniform(w.rng, 25, 70), w.rng.uniform(0.5, 0.8), snr)
    w.add_pulse(
        t0 + w.rng.normal(0, 0.002),
        _loguniform(w.rng, 250, 900),
        w.rng.uniform(0.35, 0.6),
        snr * w.rng.uniform(0.1, 0.3),
    )
    for side in (-1.0, 1.0):
        for _ in range(int(w.rng.integers(1, 3))):
            w.add_sine_gaussian(
                t0 + side * w.rng.uniform(0.04, 0.15),
                _loguniform(w.rng, 14, 40),
                w.rng.uniform(3, 8),
                snr * w.rng.uniform(0.2, 0.5),
            )
    return snr


def _tomte(w: Waveform, t0: float) -> float:
    # A short triangle whose wide, bright base sits at 25-70 Hz and narrows to a point near
    # 100-200 Hz: a low, squat pulse (narrower in log frequency than a blip), usually louder.
    snr = trigger_snr(w.rng, low=20.0, index=1.0, cap=150.0)
    w.add_pulse(t0, _loguniform(w.rng, 35, 70), w.rng.uniform(0.5, 0.7), snr)
    return snr


EXTREMELY_LOUD_ROW_SHARE = (0.25, 1.5)  # glitch energy per Hz over that of 64 s of noise


def _extremely_loud(w: Waveform, t0: float) -> float:
    # A broadband, long, saturating burst: bands of noise from 10 Hz to 0.9-2 kHz lasting 0.2-1.2 s
    # (the low frequencies lasting longer, a tent in the long views) and loud pulses at the trigger.
    # With mean-normalised rows a glitch that dominates its rows reaches about 64 s / its duration
    # in normalized energy, whatever its SNR, and darkens the rest of the row by 1 / (1 + share);
    # so the glitch is scaled by its energy per Hz relative to 64 s of noise (the share), which
    # decides the look (saturated column, noise-like surroundings), and its loudest-tile SNR, in
    # the hundreds to thousands, follows from it.
    duration = _loguniform(w.rng, 0.08, 0.8)
    top = _loguniform(w.rng, 900, 2048)
    w.add_noise_burst(t0 + w.rng.uniform(-0.15, 0.15) * duration, duration, 10, top, 1.0)
    w.add_noise_burst(
        t0 + w.rng.uniform(-0.2, 0.2) * duration,
        duration * w.rng.uniform(1.3, 2.5),
        10,
        _loguniform(w.rng, 60, 250),
        w.rng.uniform(0.5, 1.2),
    )
    for k in range(int(w.rng.integers(1, 5))):
        w.add_pulse(
            t0 if k == 0 else t0 + w.rng.uniform(-0.5, 0.5) * duration,
            _loguniform(w.rng, 30, 300),
            w.rng.uniform(0.8, 1.4),
            2.0 if k == 0 else w.rng.uniform(0.5, 1.5),
        )
    spectrum = np.abs(scipy.fft.rfft(w.data)) ** 2
    frequencies = np.fft.rfftfreq(w.n_samples, 1.0 / w.sample_rate_hz)
    band = (frequencies >= 20) & (frequencies <= 1500)
    # Energy per Hz (Parseval, one-sided) over that of 64 s of unit-variance white noise (2 per Hz s).
    per_hz = 2.0 * spectrum[band].sum() / w.n_samples / (frequencies[band][-1] - frequencies[band][0])
    w.data *= np.sqrt(_loguniform(w.rng, *EXTREMELY_LOUD_ROW_SHARE) * 2.0 * REFERENCE_SPAN_S / per_hz)
    return _glitch_tile_snr(w.data)


def _chirp(w: Waveform, t0: float) -> float:
    # Newtonian inspiral: f = f_end ((t_c - t + eps) / eps)^(-3/8), rising to the centre. The real
    # ones (stellar-mass binaries, hardware injections) are a thin hook visible from 30-60 Hz for a
    # few tenths of a second, nearly vertical at the top: a long slow sweep would be a line.
    snr = trigger_snr(w.rng, low=9.0, index=1.5, cap=50.0)
    duration = _loguniform(w.rng, 0.2, 1.5)
    f_start, f_end = w.rng.uniform(25, 60), _loguniform(w.rng, 250, 900)
    eps = duration * (f_start / f_end) ** (8 / 3)

    def frequency(t: np.ndarray) -> np.ndarray:
        return f_end * ((np.maximum(t0 - t, 0.0) + eps) / eps) ** (-3 / 8)

    def envelope(t: np.ndarray) -> np.ndarray:
        rise = frequency(t) ** (2 / 3) * _tukey((t - (t0 - duration)) / duration, 0.1)
        return np.where(t <= t0, rise, rise * np.exp(-(t - t0) / 0.004))

    w.add_track(t0 - duration, t0 + 0.03, frequency, snr, envelope)
    return snr


def _whistle(w: Waveform, t0: float) -> float:
    # Radio-frequency beat notes: a frequency that sweeps down from above the top of the view (kHz)
    # to a minimum of a few hundred Hz and back up within a tenth of a second or so, a narrow V
    # with curved arms, often repeating as the beating oscillators drift.
    snr = trigger_snr(w.rng, index=2.0, cap=25.0)
    f_min = _loguniform(w.rng, 150, 1000)
    count = 1 if w.rng.random() < 0.5 else int(w.rng.integers(2, 5))
    spacing = _loguniform(w.rng, 0.15, 1.5)
    first = -int(w.rng.integers(0, count))
    for k in range(first, first + count):
        centre = t0 + k * spacing * (1 + w.rng.normal(0, 0.1))
        rate = _loguniform(w.rng, 1.5e4, 1e5)  # Hz per second on the arms
        half = np.sqrt(3500.0**2 - f_min**2) / rate

        def frequency(t: np.ndarray, c: float = centre, r: float = rate) -> np.ndarray:
            return np.sqrt(f_min**2 + (r * (t - c)) ** 2)

        w.add_track(centre - half, centre + half, frequency, snr if k == 0 else snr * w.rng.uniform(0.5, 1.0))
    return snr


# Loudest-tile SNR of the classes whose real views are faint: their brightest pixels stand at a
# normalized energy of ~10-20 (SNR = sqrt(2 E) ~ 4.5-6.3), below the colour scale's top (25.5), and
# only a few pixels pass it, unlike the Omicron SNR above 7.5 that selected them.
FAINT_SNR: tuple[float, float] = (5.0, 8.0)
FAINT_CLASSES: tuple[str, ...] = ("1080Lines", "Helix", "Paired_Doves", "Violin_Mode")


def _helix(w: Waveform, t0: float) -> float:
    # A regular train of faint, thin vertical strands across the whole window, every 0.15-0.4 s:
    # each strand a few broadband pulses stacked in frequency, each a little later or earlier than
    # the one below, so that the strand kinks like a helix seen from the side.
    snr = _loguniform(w.rng, *FAINT_SNR)
    period = w.rng.uniform(0.15, 0.4)
    f_low, f_high = _loguniform(w.rng, 30, 60), _loguniform(w.rng, 200, 600)
    strands = int(w.rng.integers(2, 5))
    twist_s = w.rng.uniform(0.003, 0.015)
    for k in range(-int(3.8 / period), int(3.8 / period) + 1):
        column = t0 + k * period + w.rng.normal(0, 0.004)
        level = snr if k == 0 else snr * w.rng.uniform(0.6, 1.0)
        for j in range(strands):
            u = j / max(strands - 1, 1)
            w.add_pulse(
                column + twist_s * (-1) ** j,
                f_low * (f_high / f_low) ** u,
                w.rng.uniform(0.35, 0.6),
                level * w.rng.uniform(0.6, 1.0) * (0.3 + 0.7 * u),  # faint at the bottom: thin strands
            )
    return snr


def _light_modulation(w: Waveform, t0: float) -> float:
    # Loud low-frequency bursts of the arm power: a bright, saturated lump at 10-30 Hz, wide in time
    # (0.1-0.5 s), most often with a tall spike rising from it, two to several of them 0.1-0.6 s
    # apart: the modulation repeats, and the lumps fill much of the short views.
    snr = _loguniform(w.rng, 25.0, 300.0)
    count = int(w.rng.integers(2, 7))
    spacing = _loguniform(w.rng, 0.1, 0.6)
    first = -int(w.rng.integers(0, count))
    for k in range(first, first + count):
        time_s = t0 + k * spacing * (1 + w.rng.normal(0, 0.1))
        level = snr if k == 0 else snr * w.rng.uniform(0.4, 1.0)
        w.add_sine_gaussian(time_s, _loguniform(w.rng, 11, 25), w.rng.uniform(1.5, 3.5), level)
        if w.rng.random() < 0.75:
            w.add_pulse(
                time_s + w.rng.normal(0, 0.01),
                _loguniform(w.rng, 30, 90),
                w.rng.uniform(0.8, 1.2),
                level * w.rng.uniform(0.3, 0.8),
            )
    return snr


def _paired_doves(w: Waveform, t0: float) -> float:
    # Pairs of smooth arcs, one rising then one falling (a swoosh up, then down), at 25-200 Hz,
    # repeating.
    snr = _loguniform(w.rng, *FAINT_SNR)
    n_pairs, period = int(w.rng.integers(1, 5)), w.rng.uniform(0.3, 1.0)
    arc = w.rng.uniform(0.1, 0.35)
    f_low, f_high = w.rng.uniform(15, 30), _loguniform(w.rng, 45, 120)
    first = -int(w.rng.integers(0, n_pairs))
    for k in range(first, first + n_pairs):
        start = t0 + k * period - arc
        for rising in (True, False):
            begin = start if rising else start + arc

            def frequency(t: np.ndarray, begin: float = begin, rising: bool = rising) -> np.ndarray:
                u = np.clip((t - begin) / arc, 0, 1)
                return f_low + (f_high - f_low) * np.sin(0.5 * np.pi * (u if rising else 1 - u)) ** 2

            w.add_track(begin, begin + arc, frequency, snr if k == 0 else snr * w.rng.uniform(0.5, 1.0))
    return snr


REPEATING_BLIP_CENTRE_HZ: tuple[float, float] = (90.0, 350.0)


def _repeating_blips(w: Waveform, t0: float) -> float:
    # 2-6 blip-like pulses (no louder than blips: a lone loud blip must not read as a repeating one)
    # at regular 0.1-0.5 s spacing. The real ones are centred higher than lone blips, at ~90-350 Hz,
    # with tails up to several hundred Hz.
    snr = trigger_snr(w.rng, *BLIP_SNR)
    count, spacing = int(w.rng.integers(2, 7)), w.rng.uniform(0.1, 0.5)
    centre, width = _loguniform(w.rng, *REPEATING_BLIP_CENTRE_HZ), w.rng.uniform(*BLIP_LOG_WIDTH)
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
    # Real arches are slow (the fringe period is that of the scattering surface's motion, seconds):
    # nearly flat stacked lines in the short views, one or two arches in the 4 s view.
    snr = trigger_snr(w.rng, low=12.0, cap=60.0)
    period = _loguniform(w.rng, 2.0, 8.0)
    f_top = w.rng.uniform(12, 35)
    n_harmonics = int(w.rng.integers(3, 7))  # a stack: one or two thin lines are Low_Frequency_Lines
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
    # Real ones sit at the very bottom of the view (10-25 Hz), bright and often saturated.
    snr = trigger_snr(w.rng, low=12.0, index=1.2, cap=120.0)
    duration = _loguniform(w.rng, 0.5, 3.0)
    top = w.rng.uniform(16, 30)
    w.add_sine_gaussian(t0, w.rng.uniform(11, top), w.rng.uniform(2.5, 5), snr)
    for _ in range(int(w.rng.integers(3, 10))):
        offset = w.rng.uniform(-duration / 3, duration / 3)
        # Lower frequencies towards the ends of the hump.
        frequency_hz = 11 + (top - 11) * (1 - (2 * offset / duration) ** 2) * w.rng.uniform(0.5, 1.0)
        w.add_sine_gaussian(t0 + offset, frequency_hz, w.rng.uniform(2.5, 6), snr * w.rng.uniform(0.5, 0.9))
    return snr


def _low_frequency_lines(w: Waveform, t0: float) -> float:
    # One or two thin, unrelated horizontal lines low in the band (10-40 Hz) across the window,
    # bursting on and off within the data. Not a harmonic stack: in the short views a stack of
    # bright lines is the top of a Scattered_Light arch.
    snr = trigger_snr(w.rng, low=10.0, index=1.5, cap=30.0)
    for k in range(int(w.rng.integers(1, 3))):
        frequency_hz = _loguniform(w.rng, 10, 40)
        length = w.rng.uniform(4.5, 7.5)
        start = w.rng.uniform(-3.8, 3.8 - length) if length < 7.5 else -3.75
        # A slow wander of a few per cent (about a pixel row): real low-frequency lines drift, which
        # spreads their power over several bins of the 64 s ASD estimate and keeps them from being
        # whitened away (a perfectly steady line would be).
        terms = [
            (w.rng.uniform(0.15, 1.0), w.rng.uniform(0.01, 0.04), w.rng.uniform(0, 2 * np.pi))
            for _ in range(2)
        ]
        w.add_track(
            start,
            start + length,
            lambda t, f=frequency_hz, terms=terms: (
                f * (1 + sum(d * np.sin(2 * np.pi * r * t + p) for r, d, p in terms))
            ),
            snr * (1.0 if k == 0 else w.rng.uniform(0.6, 1.0)),
        )
    return snr


def _dotted_line(w: Waveform, t0: float, centre_hz: float, snr: float, count: int, span_s: float) -> None:
    # A faint dotted line: one short high-Q burst at the trigger and ``count`` more at random times
    # within ``span_s``, all at ``centre_hz`` to within a few Hz.
    w.add_sine_gaussian(t0, centre_hz, w.rng.uniform(20, 60), snr)
    for time_s in t0 + np.sort(w.rng.uniform(-span_s / 2, span_s / 2, count)):
        w.add_sine_gaussian(
            time_s, centre_hz + w.rng.normal(0, 3), w.rng.uniform(20, 80), snr * w.rng.uniform(0.4, 0.9)
        )


def _lines_1080(w: Waveform, t0: float) -> float:
    # A faint dotted line near 1080 Hz: many short dashes at one frequency, spread over seconds.
    snr = _loguniform(w.rng, *FAINT_SNR)
    _dotted_line(w, t0, w.rng.uniform(1060, 1100), snr, int(w.rng.integers(6, 40)), w.rng.uniform(1.0, 7.0))
    return snr


def _ripples_1400(w: Waveform, t0: float) -> float:
    # Several short ripples near 1400 Hz within 0.1-1 s: each a quick train of 5-15 short bursts
    # (Q 10-25, a few ms) whose frequency wiggles by +-20-80 Hz: faint specks near the top of the views.
    snr = trigger_snr(w.rng, low=8.0, index=2.0, cap=30.0)
    span = _loguniform(w.rng, 0.1, 1.0)
    centre = w.rng.uniform(1300, 1500)
    for k in range(int(w.rng.integers(2, 7))):
        time_s = t0 if k == 0 else t0 + w.rng.uniform(-span / 2, span / 2)
        level = snr if k == 0 else snr * w.rng.uniform(0.5, 1.0)
        frequency_hz = centre + w.rng.uniform(-60, 60)
        bursts, gap = int(w.rng.integers(5, 16)), w.rng.uniform(0.004, 0.012)
        wiggle, rate = w.rng.uniform(20, 80), w.rng.uniform(20, 60)
        for j in range(bursts):
            offset = (j - bursts / 2) * gap
            w.add_sine_gaussian(
                time_s + offset,
                frequency_hz + wiggle * np.sin(2 * np.pi * rate * offset),
                w.rng.uniform(10, 25),
                level * np.exp(-2.0 * (2 * offset / (bursts * gap)) ** 2),  # loudest mid-train
            )
    return snr


def _power_line(w: Waveform, t0: float) -> float:
    # A thin 60 Hz line lasting 0.3-3 s (sometimes with 120 and 180 Hz), of modest loudness: a
    # short loud 50-60 Hz lump is an Air_Compressor.
    snr = trigger_snr(w.rng, low=12.0, index=1.5, cap=40.0)
    mains = w.rng.uniform(59.7, 60.3)
    weights = (1.0, w.rng.uniform(0.0, 0.8), w.rng.uniform(0.0, 0.5))
    count = 1 if w.rng.random() < 0.7 else int(w.rng.integers(2, 4))
    spacing = w.rng.uniform(0.5, 1.5)
    first = -int(w.rng.integers(0, count))
    for k in range(first, first + count):
        duration = _loguniform(w.rng, 0.3, 3.0)
        centre = t0 + k * spacing * (1 + w.rng.normal(0, 0.05))
        level = snr if k == 0 else snr * w.rng.uniform(0.5, 1.0)
        for harmonic, weight in enumerate(weights, start=1):
            if weight > 0.1:
                w.add_track(
                    centre - duration / 2,
                    centre + duration / 2,
                    lambda t, f=harmonic * mains: np.full_like(t, f),
                    level * weight,
                )
    return snr


def _violin_mode(w: Waveform, t0: float) -> float:
    # The suspension fibres' modes near 500 Hz ringing up briefly: in the real views faint dots near
    # 500 Hz, often with more at the harmonics near 1 and 1.5 kHz, scattered over a second or more
    # (not bright lines: a steady tone would also be whitened away by the 64 s ASD). Their dots are
    # a little brighter than the 1080 Hz ones (peak normalized energy ~19 against ~16).
    snr = _loguniform(w.rng, 6.0, 10.0)
    base = w.rng.uniform(485, 515)
    span = w.rng.uniform(0.5, 6.0)
    for harmonic, weight in ((1, 1.0), (2, w.rng.uniform(0.0, 1.0)), (3, w.rng.uniform(0.0, 0.6))):
        if weight > 0.3:
            _dotted_line(w, t0, harmonic * base, snr * weight, int(w.rng.integers(3, 20)), span)
    return snr


AIR_COMPRESSOR_HZ: tuple[float, float] = (45.0, 55.0)


def _air_compressor(w: Waveform, t0: float) -> float:
    # A short, bright lump at ~50 Hz (field guide: "~50 Hz"), 0.1-0.4 s long: an oval in the short
    # views and a dot in the 4 s one, sometimes with its second harmonic. 45-55 Hz: up to 62 Hz a
    # lump would sit on Power_Line's 60 Hz.
    snr = trigger_snr(w.rng, low=12.0, index=1.5, cap=80.0)
    frequency_hz, length = w.rng.uniform(*AIR_COMPRESSOR_HZ), _loguniform(w.rng, 0.15, 0.6)
    start = t0 - length * w.rng.uniform(0.4, 0.6)
    w.add_track(start, start + length, lambda t: np.full_like(t, frequency_hz), snr)
    if w.rng.random() < 0.3:
        w.add_track(
            start, start + length, lambda t: np.full_like(t, 2 * frequency_hz), snr * w.rng.uniform(0.2, 0.5)
        )
    return snr


def _scratchy(w: Waveform, t0: float) -> float:
    # A band of short blobs and arcs at ~90-400 Hz repeating every 40-120 ms (with jitter and
    # dropouts) across the whole window, all of similar brightness: many tiles of moderate SNR.
    snr = trigger_snr(w.rng, index=3.0, cap=16.0)
    band = _loguniform(w.rng, 110, 300)
    period = 1.0 / w.rng.uniform(8, 25)
    span = w.rng.uniform(5.0, 7.5)
    start = t0 - span * w.rng.uniform(0.35, 0.65)
    times = start + period * (
        np.arange(int(span / period) + 1) + w.rng.normal(0, 0.2, int(span / period) + 1)
    )
    times = times[(times < start + span) & (w.rng.random(times.size) > w.rng.uniform(0.0, 0.3))]
    w.add_sine_gaussian(t0, band * np.exp(w.rng.normal(0, 0.08)), w.rng.uniform(5, 12), snr)
    q_range = (w.rng.uniform(3, 5), w.rng.uniform(6, 10))
    for time_s in times:
        level = snr * w.rng.uniform(0.4, 0.8)
        frequency_hz = band * np.exp(w.rng.normal(0, 0.12))
        if w.rng.random() < 0.3:  # a short arc
            arc, sweep = w.rng.uniform(0.02, 0.06), w.rng.uniform(-0.4, 0.4)
            w.add_track(
                time_s,
                time_s + arc,
                lambda t, f=frequency_hz, b=time_s, a=arc, s=sweep: f * (1 + s * (t - b) / a),
                level,
            )
        else:
            w.add_sine_gaussian(time_s, frequency_hz, w.rng.uniform(*q_range), level)
    return snr


def _wandering_line(w: Waveform, t0: float) -> float:
    # A loud line high in the band (300 Hz-1.8 kHz) whose frequency wanders by several per cent
    # over seconds, smoothly or in a sawtooth of slow falls and quick resets; loud enough that the
    # rest of the view looks dark beside it.
    snr = _loguniform(w.rng, 30.0, 250.0)
    f0 = _loguniform(w.rng, 300, 1800)
    terms = [
        (w.rng.uniform(0.1, 0.8), w.rng.uniform(0.02, 0.08), w.rng.uniform(0, 2 * np.pi)) for _ in range(3)
    ]
    sawtooth_hz, sawtooth_depth = w.rng.uniform(1.0, 4.0), w.rng.uniform(0.03, 0.1)
    sawtooth = w.rng.random() < 0.4
    length = w.rng.uniform(4.5, 7.5)
    start = w.rng.uniform(-3.8, 3.8 - length)

    def frequency(t: np.ndarray) -> np.ndarray:
        wander = sum(depth * np.sin(2 * np.pi * rate * t + phase) for rate, depth, phase in terms)
        if sawtooth:
            wander = wander + sawtooth_depth * (0.5 - np.mod(sawtooth_hz * t, 1.0))
        return f0 * (1 + wander)

    w.add_track(start, start + length, frequency, snr)
    if w.rng.random() < 0.3:  # a second line beside it
        ratio = w.rng.uniform(1.05, 1.3)
        w.add_track(start, start + length, lambda t: ratio * frequency(t), snr * w.rng.uniform(0.4, 0.9))
    return snr


def _no_glitch(w: Waveform, t0: float) -> float:
    return 0.0


NONE_OF_THE_ABOVE_ODDITIES = ("box", "cloud", "step", "high_blob")


def _none_of_the_above(w: Waveform, t0: float) -> float:
    # One or two clearly visible oddities that no other class describes, each kept out of the
    # named classes' territory, as a volunteer would give a glitch that looks like a named class
    # that name: nothing below ~60 Hz (Tomte, Low_Frequency_Burst), no blob near 1400 Hz
    # (1400Ripples), and no sweeps (earlier versions had a falling one and a cross, which a
    # trained model took for Whistle, Chirp or Paired_Doves).
    snr = trigger_snr(w.rng, low=15.0, cap=80.0)  # from 15: several at 10-15 were hard to see
    chosen = w.rng.choice(NONE_OF_THE_ABOVE_ODDITIES, size=int(w.rng.integers(1, 3)), replace=False)
    for k, oddity in enumerate(chosen):
        level = snr if k == 0 else snr * w.rng.uniform(0.6, 1.0)
        time_s = t0 if k == 0 else w.rng.uniform(-1.5, 1.5)
        if oddity == "box":  # a compact block of noise at an arbitrary band
            low = _loguniform(w.rng, 60, 600)
            w.add_noise_burst(
                time_s, _loguniform(w.rng, 0.05, 0.5), low, low * w.rng.uniform(1.5, 3.0), level
            )
        elif oddity == "cloud":  # a cluster of scattered low-Q bursts over a wide band
            for j in range(int(w.rng.integers(4, 12))):
                w.add_sine_gaussian(
                    time_s + (0.0 if j == 0 else w.rng.uniform(-0.5, 0.5)),
                    _loguniform(w.rng, 80, 1000),
                    w.rng.uniform(3, 10),
                    level * (1.0 if j == 0 else w.rng.uniform(0.5, 1.0)),
                )
        elif oddity == "step":  # a wideband pulse followed by a ringing tone that decays
            w.add_pulse(time_s, _loguniform(w.rng, 300, 1200), 0.9, level)
            ring_hz = w.rng.uniform(200, 400)  # between the power-line harmonics and the violin modes
            w.add_track(
                time_s,
                time_s + w.rng.uniform(0.3, 1.5),
                lambda t, f=ring_hz: np.full_like(t, f),
                level * w.rng.uniform(0.6, 1.0),
                envelope=lambda t, s=time_s: np.exp(-np.maximum(t - s, 0) / 0.3),
            )
        else:  # a high blob: rounded, high above where blips live
            w.add_pulse(time_s, _loguniform(w.rng, 350, 900), w.rng.uniform(0.15, 0.35), level)
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
    strain, event_time, metadata, _ = _simulate_strain(label, seed, ifo)
    return strain, event_time, metadata


def _simulate_strain(
    label: str, seed: int | np.random.SeedSequence | np.random.Generator, ifo: str | None = None
) -> tuple[Any, float, dict[str, Any], np.ndarray]:
    """:func:`simulate_strain`, also returning the glitch alone in whitened units."""
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
    return strain, event_time, metadata, waveform.data


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
    from gravityvit.data.omega_scan import scan_to_views, tile_weighted_mean, whiten_and_scan

    rng = _as_generator(seed)
    strain, event_time, metadata, glitch = _simulate_strain(label, rng, ifo)
    noise_energy = noise_reference(metadata["ifo"])
    excess = welch_excess(glitch)
    if excess.any():
        # The raised ASD whitens the noise of all 64 s down too (by 1 / (1 + excess) in power),
        # so the noise that pads each row's mean is scaled the same way.
        scale = tile_weighted_mean(1.0 / (1.0 + excess), DATA_DURATION_S, SAMPLE_RATE_HZ)
        noise_energy = tuple(energy * factor for energy, factor in zip(noise_energy, scale))
    scan = whiten_and_scan(
        strain,
        event_time,
        whiten=welch_asd(glitch, metadata["ifo"], excess=excess),
        data_span_s=DATA_DURATION_S,
        normalization="mean",
        reference_span_s=REFERENCE_SPAN_S,
        noise_energy=noise_energy,
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
