"""Low-frequency arches and lumps: Scattered_Light, Light_Modulation and Low_Frequency_Burst.

Power below ~100 Hz lasting from tenths of a second (lumps, humps) to seconds (stacked arches).

Each generator adds one randomised glitch to ``w`` with its loudest point at ``t0`` (seconds from
the view centre) and returns its trigger SNR; :data:`gravityvit.data.simulation.classes.GENERATORS`
maps the class names to them.
"""

from __future__ import annotations

import numpy as np

from gravityvit.data.simulation.waveform import Waveform, _loguniform, _tukey, trigger_snr


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
