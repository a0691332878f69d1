"""Irregular glitches: Scratchy and None_of_the_Above.

A band of many similar blobs and arcs across the window, and oddities that no named class describes.

Each generator adds one randomised glitch to ``w`` with its loudest point at ``t0`` (seconds from
the view centre) and returns its trigger SNR; :data:`gravityvit.data.simulation.classes.GENERATORS`
maps the class names to them.
"""

from __future__ import annotations

import numpy as np

from gravityvit.data.simulation.waveform import Waveform, _loguniform, trigger_snr

# The real bands run across the whole 4 s view as a nearly continuous stripe of similar blobs.
SCRATCHY_SPAN_S: tuple[float, float] = (3.5, 7.0)
SCRATCHY_BLOB_LEVEL: tuple[float, float] = (0.5, 0.9)


def _scratchy(w: Waveform, t0: float) -> float:
    # A band of short blobs and arcs at ~110-350 Hz repeating every 40-120 ms (with jitter and
    # dropouts) for SCRATCHY_SPAN_S, all of similar brightness: no blob stands out (one loud blob
    # would smear bright pixels down to ~30 Hz, where real scratchy views are dark below ~120 Hz).
    # Omicron clusters the blobs' tiles into one trigger, so each blob's own SNR may lie below 7.5.
    snr = trigger_snr(w.rng, low=6.0, index=5.0, cap=9.5)
    band = _loguniform(w.rng, 130, 290)
    period = 1.0 / w.rng.uniform(8, 25)
    span = w.rng.uniform(*SCRATCHY_SPAN_S)
    start = t0 - span * w.rng.uniform(0.35, 0.65)
    times = start + period * (
        np.arange(int(span / period) + 1) + w.rng.normal(0, 0.2, int(span / period) + 1)
    )
    times = times[(times < start + span) & (w.rng.random(times.size) > w.rng.uniform(0.0, 0.3))]
    q_range = (w.rng.uniform(5, 7), w.rng.uniform(9, 14))
    for time_s in times:
        level = snr * w.rng.uniform(*SCRATCHY_BLOB_LEVEL)
        frequency_hz = band * np.exp(w.rng.normal(0, 0.12))
        if w.rng.random() < 0.3:  # a short arc
            arc, sweep = w.rng.uniform(0.03, 0.07), w.rng.uniform(-0.25, 0.25)
            w.add_track(
                time_s,
                time_s + arc,
                lambda t, f=frequency_hz, b=time_s, a=arc, s=sweep: f * (1 + s * (t - b) / a),
                level,
            )
        else:
            w.add_sine_gaussian(time_s, frequency_hz, w.rng.uniform(*q_range), level)
    return snr


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
