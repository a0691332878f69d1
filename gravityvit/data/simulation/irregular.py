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


# What volunteers call None_of_the_Above is large: the real views' bright region covers ~0.1 of the
# 1-4 s views (other classes: ~0.005-0.03), so several oddities are drawn, loud and spread in time.
# The hump is drawn half as often as the others: it saturates the bottom of the view, and of the
# real views about half peak there (at 18-19 Hz) and half in the cloud (~160 Hz).
NONE_OF_THE_ABOVE_ODDITY_WEIGHTS: dict[str, float] = {
    "box": 1.0,
    "cloud": 1.0,
    "step": 1.0,
    "high_blob": 1.0,
    "hump_under_cloud": 0.5,
}
NONE_OF_THE_ABOVE_ODDITIES = tuple(NONE_OF_THE_ABOVE_ODDITY_WEIGHTS)
# Pareto from 12 with index 1 (median 24): the real ones range from barely visible (peak normalized
# energy ~19) to saturated over a tenth of the view.
NONE_OF_THE_ABOVE_SNR: tuple[float, float, float] = (12.0, 1.0, 120.0)
NONE_OF_THE_ABOVE_COUNT: tuple[int, int] = (2, 3)


def _noise_box(w: Waveform, time_s: float, level: float) -> None:
    # A block of noise at an arbitrary band above the low-frequency classes.
    low = _loguniform(w.rng, 60, 500)
    w.add_noise_burst(time_s, _loguniform(w.rng, 0.1, 1.0), low, low * w.rng.uniform(2.0, 4.0), level)


def _blob_cloud(w: Waveform, time_s: float, level: float, band_hz: tuple[float, float] = (60, 800)) -> None:
    # A cluster of scattered low-Q bursts over a wide band and up to ~1.2 s.
    spread = w.rng.uniform(0.2, 0.6)
    for j in range(int(w.rng.integers(8, 20))):
        w.add_sine_gaussian(
            time_s + (0.0 if j == 0 else w.rng.uniform(-spread, spread)),
            _loguniform(w.rng, *band_hz),
            w.rng.uniform(3, 10),
            level * (1.0 if j == 0 else w.rng.uniform(0.5, 1.0)),
        )


def _ringing_step(w: Waveform, time_s: float, level: float) -> None:
    # A wideband pulse followed by a ringing tone between the power-line harmonics and the violin modes.
    w.add_pulse(time_s, _loguniform(w.rng, 300, 1200), 0.9, level)
    ring_hz = w.rng.uniform(200, 400)
    w.add_track(
        time_s,
        time_s + w.rng.uniform(0.3, 1.5),
        lambda t, f=ring_hz: np.full_like(t, f),
        level * w.rng.uniform(0.6, 1.0),
        envelope=lambda t, s=time_s: np.exp(-np.maximum(t - s, 0) / 0.3),
    )


def _high_blob(w: Waveform, time_s: float, level: float) -> None:
    # A rounded blob high above where blips live.
    w.add_pulse(time_s, _loguniform(w.rng, 350, 900), w.rng.uniform(0.15, 0.35), level)


def _hump_under_cloud(w: Waveform, time_s: float, level: float) -> None:
    # A composite no single class names: a low-frequency hump (alone, a Low_Frequency_Burst) lasting
    # 0.5-1.5 s under a cloud of blobs at 60-300 Hz over the same stretch. The cloud is never left
    # out, so the hump alone keeps its own name.
    duration = _loguniform(w.rng, 0.5, 1.5)
    for _ in range(int(w.rng.integers(3, 8))):
        w.add_sine_gaussian(
            time_s + w.rng.uniform(-duration / 3, duration / 3),
            w.rng.uniform(12, 25),
            w.rng.uniform(5, 10),
            level * w.rng.uniform(0.6, 1.0),
        )
    _blob_cloud(w, time_s, level * w.rng.uniform(0.6, 0.9), band_hz=(60, 300))


_ODDITY_DRAWERS = {
    "box": _noise_box,
    "cloud": _blob_cloud,
    "step": _ringing_step,
    "high_blob": _high_blob,
    "hump_under_cloud": _hump_under_cloud,
}


def _none_of_the_above(w: Waveform, t0: float) -> float:
    # Two or three clearly visible oddities that no other class describes, each kept out of the
    # named classes' territory, as a volunteer would give a glitch that looks like a named class
    # that name: nothing at low frequencies except a hump under a cloud (alone, the hump is a
    # Low_Frequency_Burst and a blob at 12-20 Hz a Tomte), no blob near 1400 Hz (1400Ripples),
    # and no sweeps (a falling one or a cross reads as Whistle, Chirp or Paired_Doves).
    snr = trigger_snr(w.rng, *NONE_OF_THE_ABOVE_SNR)
    count = int(w.rng.integers(NONE_OF_THE_ABOVE_COUNT[0], NONE_OF_THE_ABOVE_COUNT[1] + 1))
    weights = np.array(list(NONE_OF_THE_ABOVE_ODDITY_WEIGHTS.values()))
    chosen = w.rng.choice(NONE_OF_THE_ABOVE_ODDITIES, size=count, replace=False, p=weights / weights.sum())
    for k, oddity in enumerate(chosen):
        level = snr if k == 0 else snr * w.rng.uniform(0.6, 1.0)
        time_s = t0 if k == 0 else t0 + w.rng.uniform(-1.0, 1.0)
        _ODDITY_DRAWERS[str(oddity)](w, time_s, level)
    return snr
