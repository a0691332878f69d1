"""Low-frequency arches and lumps: Scattered_Light, Light_Modulation and Low_Frequency_Burst.

Power below ~100 Hz lasting from tenths of a second (lumps, humps) to seconds (stacked arches).

Each generator adds one randomised glitch to ``w`` with its loudest point at ``t0`` (seconds from
the view centre) and returns its trigger SNR; :data:`gravityvit.data.simulation.classes.GENERATORS`
maps the class names to them.
"""

from __future__ import annotations

import numpy as np

from gravityvit.data.simulation.waveform import Waveform, _loguniform, _tukey, trigger_snr

# An arch is brightest at its top and fades towards its feet as |sin|^power: the real 2 s and 4 s
# views are bright over ~0.02-0.03 of the view (an arch bright over 1.3-1.7 s of the 4 s view); with
# power 0.5 the simulated ones were bright over 0.07.
ARCH_ENVELOPE_POWER = 2.0
# Arches repeat every half period of the scattering surface's motion: 1.5-5 s for the 0.1-0.3 Hz
# microseism. The real arches are bright over 1.3-1.7 s of the 2 s and 4 s views (time extent);
# from 2-8 s periods the simulated ones spanned 1.8-2.5 s.
SCATTERED_LIGHT_PERIOD_S: tuple[float, float] = (1.5, 5.0)


def _arch_stack(w: Waveform, t0: float, snr: float, period: float, tops_hz: list[float]) -> None:
    """Add arches f(t) = f_top |sin(pi (t - t_a) / T)| over the whole 8 s, one per top frequency, tops at ``t0``.

    The first arch has SNR ``snr`` and the others fall off as 1 / their rank: the real short views
    show one or two bright lines with fainter ones above.
    """
    offset = t0 - period / 2

    def arch(t: np.ndarray) -> np.ndarray:
        return np.abs(np.sin(np.pi * (t - offset) / period))

    for rank, top_hz in enumerate(tops_hz, start=1):
        w.add_track(
            -4.0,
            4.0,
            lambda t, f=top_hz: f * arch(t),
            snr * rank**-1.0 * w.rng.uniform(0.7, 1.0),
            envelope=lambda t: arch(t) ** ARCH_ENVELOPE_POWER * _tukey((t + 4.0) / 8.0, 0.2),
        )


def _fringe_harmonics(w: Waveform, lowest_hz: float = 18.0) -> list[float]:
    """Top frequencies of the visible fringe harmonics n f_1: 2-4 lines from 18-32 Hz, 8-14 Hz apart.

    Below ~17-20 Hz the whitened view of a real scattering arch stack is dark (the bright region's
    lower edge): the stack shows as two to four lines at multiples of an 8-14 Hz fundamental (e.g.
    22 and 33 Hz), the lowest the brightest.
    """
    fundamental = w.rng.uniform(8.0, 14.0)
    first = int(np.ceil(lowest_hz / fundamental))
    return [n * fundamental for n in range(first, first + int(w.rng.integers(2, 5)))]


def _scattered_light(w: Waveform, t0: float) -> float:
    # Stacked arches below ~60 Hz, seconds long. Real arches are slow (the fringe period is that of
    # the scattering surface's motion, seconds: SCATTERED_LIGHT_PERIOD_S): a few nearly flat lines
    # in the short views, which only the arches of the 2 s and 4 s views tell from
    # Low_Frequency_Lines. Loud enough to saturate their tops, but most of the view stays dark
    # (bright share ~0.04 in the real views).
    snr = trigger_snr(w.rng, low=10.0, cap=40.0)
    _arch_stack(w, t0, snr, _loguniform(w.rng, *SCATTERED_LIGHT_PERIOD_S), _fringe_harmonics(w))
    return snr


FAST_SCATTERING_PERIOD_S: tuple[float, float] = (0.2, 0.5)


def _fast_scattering(w: Waveform, t0: float) -> float:
    # Gravity Spy's O3 class (Soni et al. 2021): scattering from surfaces moving with the 0.1-0.3 Hz
    # microseism and faster, short arches repeating every 0.2-0.5 s below ~60 Hz: a row of small
    # arches in the 2 s and 4 s views, a few humps in the short ones.
    snr = trigger_snr(w.rng, low=10.0, cap=40.0)
    fundamental = w.rng.uniform(15.0, 35.0)
    tops = [n * fundamental for n in range(1, int(w.rng.integers(1, 3)) + 1)]
    _arch_stack(w, t0, snr, _loguniform(w.rng, *FAST_SCATTERING_PERIOD_S), tops)
    return snr


# Scattering is part of the detector's state, not of a glitch: in real data, glitches sit on top of
# it for hours at a time (it shows under real wandering lines and whistles). The classes whose glitch
# lies well above the arches' band (>~ 200 Hz) and is loud enough to be what a volunteer labels
# carry, in a share of their samples, a fainter arch stack in the background at any phase, so that a
# model learns them from the glitch and does not take the arches for Scattered_Light. Below ~200 Hz
# the arches would overlap the glitch and blur its label.
BACKGROUND_SCATTERING_CLASSES: tuple[str, ...] = ("1400Ripples", "Wandering_Line", "Whistle")
BACKGROUND_SCATTERING_PROBABILITY = 0.3
BACKGROUND_SCATTERING_SNR: tuple[float, float] = (4.0, 12.0)


def add_background_scattering(w: Waveform, label: str, glitch_snr: float) -> bool:
    """Add, with probability ``BACKGROUND_SCATTERING_PROBABILITY``, a faint arch stack; return whether it did.

    Its SNR is drawn from ``BACKGROUND_SCATTERING_SNR`` and kept below 0.3-0.6 of ``glitch_snr``.
    """
    if label not in BACKGROUND_SCATTERING_CLASSES or w.rng.random() >= BACKGROUND_SCATTERING_PROBABILITY:
        return False
    snr = min(_loguniform(w.rng, *BACKGROUND_SCATTERING_SNR), glitch_snr * w.rng.uniform(0.3, 0.6))
    _arch_stack(w, w.rng.uniform(-4.0, 4.0), snr, _loguniform(w.rng, 2.0, 8.0), _fringe_harmonics(w))
    return True


def _light_modulation(w: Waveform, t0: float) -> float:
    # Low-frequency bursts of the arm power: a bright lump at 10-20 Hz, wide in time (0.1-0.5 s),
    # most often with a thin spike rising from it, two to seven of them 0.15-0.7 s apart at uneven
    # intervals: the modulation repeats. In the real views the spikes are bright up to ~90-130 Hz
    # (a pulse centred at 35-80 Hz, narrower than a blip's) and the 4 s view shows a few of them over
    # 1.5-2 s; the lumps fill the bottom of the short views. Louder trains (SNR above ~100) saturate
    # cones far wider than the real spikes.
    snr = _loguniform(w.rng, 15.0, 100.0)
    count = int(w.rng.integers(2, 8))
    spacing = _loguniform(w.rng, 0.15, 0.7)
    first = -int(w.rng.integers(0, count))
    for k in range(first, first + count):
        time_s = t0 + k * spacing * (1 + w.rng.normal(0, 0.25))
        level = snr if k == 0 else snr * w.rng.uniform(0.4, 1.0)
        lump = level * w.rng.uniform(0.3, 0.8)
        w.add_sine_gaussian(time_s, _loguniform(w.rng, 10, 20), w.rng.uniform(2.5, 5.0), lump)
        if w.rng.random() < 0.75:
            w.add_pulse(
                time_s + w.rng.normal(0, 0.01),
                _loguniform(w.rng, 35, 80),
                w.rng.uniform(0.5, 0.7),
                level * w.rng.uniform(0.4, 0.9),
            )
    return snr


LOW_FREQUENCY_BURST_TOP_HZ: tuple[float, float] = (13.0, 20.0)
LOW_FREQUENCY_BURST_Q: tuple[float, float] = (5.0, 10.0)


def _low_frequency_burst(w: Waveform, t0: float) -> float:
    # A smooth hump of power at the very bottom of the view lasting 0.3-2 s: overlapping bursts.
    # Real ones are bright (often saturated) and flat: bright from 11 Hz to only 22-24 Hz, over
    # 0.4 s of the 0.5 s view and 1.3 s of the 4 s view, so the bursts are narrow-band (Q 5-10).
    snr = trigger_snr(w.rng, low=12.0, index=1.2, cap=120.0)
    duration = _loguniform(w.rng, 0.5, 3.0)
    top = w.rng.uniform(*LOW_FREQUENCY_BURST_TOP_HZ)
    w.add_sine_gaussian(t0, w.rng.uniform(11, top), w.rng.uniform(*LOW_FREQUENCY_BURST_Q), snr)
    for _ in range(int(w.rng.integers(3, 10))):
        offset = w.rng.uniform(-duration / 3, duration / 3)
        # Lower frequencies towards the ends of the hump.
        frequency_hz = 11 + (top - 11) * (1 - (2 * offset / duration) ** 2) * w.rng.uniform(0.5, 1.0)
        q = w.rng.uniform(*LOW_FREQUENCY_BURST_Q)
        w.add_sine_gaussian(t0 + offset, frequency_hz, q, snr * w.rng.uniform(0.5, 0.9))
    return snr
