"""Waveform building blocks, in whitened units with times in seconds from the view centre.

- :class:`Waveform`: a glitch over the simulated data built from components (sine-Gaussians,
  broadband pulses, frequency tracks with envelopes, band-limited noise bursts), each scaled to a
  trigger SNR;
- :func:`trigger_snr`: Omicron-like SNR draws; :func:`_loguniform`, :func:`_tukey`: the draws and
  envelopes the generators share;
- :func:`_glitch_tile_snr`: the loudest Q tile of a glitch, to which a sample's glitch is scaled.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft

from gravityvit.data.simulation.constants import (
    N_SAMPLES,
    OMICRON_SNR_THRESHOLD,
    SAMPLE_RATE_HZ,
    TRIGGER_WINDOW_S,
)


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


GLITCH_SCAN_S = 2.0  # stretch around the centre scanned to measure a glitch's loudest tile


def _glitch_tile_snr(waveform: np.ndarray) -> float:
    from gravityvit.data.omega import SEARCH_WINDOW_S, peak_tile_snr

    half = int(GLITCH_SCAN_S / 2 * SAMPLE_RATE_HZ)
    centre = waveform.size // 2
    segment = waveform[centre - half : centre + half]
    search = (GLITCH_SCAN_S / 2 - SEARCH_WINDOW_S / 2, GLITCH_SCAN_S / 2 + SEARCH_WINDOW_S / 2)
    snr = peak_tile_snr(segment, SAMPLE_RATE_HZ, search)
    if snr <= 0:  # nothing of the glitch within the search window: fall back to the whole waveform
        snr = float(np.sqrt(np.sum(waveform**2)))
    return max(snr, 1e-12)
