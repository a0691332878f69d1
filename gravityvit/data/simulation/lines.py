"""Narrow-band lines and tones: Low_Frequency_Lines, 1080Lines, Power_Line, Violin_Mode,
Air_Compressor and Wandering_Line.

Power at one frequency (or a few harmonics), steady, wandering or dotted, from a tenth of a second
to the whole window.

Each generator adds one randomised glitch to ``w`` with its loudest point at ``t0`` (seconds from
the view centre) and returns its trigger SNR; :data:`gravityvit.data.simulation.classes.GENERATORS`
maps the class names to them.
"""

from __future__ import annotations

import numpy as np

from gravityvit.data.simulation.constants import FAINT_SNR
from gravityvit.data.simulation.waveform import Waveform, _loguniform, trigger_snr


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


def _dot_times(w: Waveform, t0: float, count: int, span_s: float) -> np.ndarray:
    """``count`` sorted random times within ``span_s`` centred on ``t0``."""
    return t0 + np.sort(w.rng.uniform(-span_s / 2, span_s / 2, count))


def _dotted_line(
    w: Waveform,
    t0: float,
    centre_hz: float,
    snr: float,
    count: int,
    span_s: float,
    times_s: np.ndarray | None = None,
) -> None:
    # A faint dotted line: one short high-Q burst at the trigger and ``count`` more at random times
    # within ``span_s`` (or at ``times_s``), all at ``centre_hz`` to within a few Hz.
    w.add_sine_gaussian(t0, centre_hz, w.rng.uniform(20, 60), snr)
    if times_s is None:
        times_s = _dot_times(w, t0, count, span_s)
    for time_s in times_s:
        w.add_sine_gaussian(
            time_s, centre_hz + w.rng.normal(0, 3), w.rng.uniform(20, 80), snr * w.rng.uniform(0.4, 0.9)
        )


def _lines_1080(w: Waveform, t0: float) -> float:
    # A faint dotted line near 1080 Hz: many short dashes at one frequency, spread over seconds.
    snr = _loguniform(w.rng, *FAINT_SNR)
    _dotted_line(w, t0, w.rng.uniform(1060, 1100), snr, int(w.rng.integers(6, 40)), w.rng.uniform(1.0, 7.0))
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


# Dots per harmonic: the real views are dotted densely enough for a bright share of ~0.6-1.3 %
# (energy >= 6) in every duration.
VIOLIN_MODE_DOTS: tuple[int, int] = (10, 40)
VIOLIN_MODE_SHARED_DOTS_PROBABILITY = 0.5
# The disturbance that rings the violin modes up also shows lower down: every real Violin_Mode view
# has a short, bright blob at 40-100 Hz under some of its dots (it is the brightest feature of the
# single-duration samples; the bright region reaches down to ~36-42 Hz in the 1-4 s views).
VIOLIN_MODE_LOW_BLOB_PROBABILITY = 0.7
VIOLIN_MODE_LOW_BLOB_HZ: tuple[float, float] = (35.0, 100.0)


def _violin_mode(w: Waveform, t0: float) -> float:
    # The suspension fibres' modes near 500 Hz ringing up briefly: in the real views faint dots near
    # 500 Hz, often with more at the harmonics near 1 and 1.5 kHz, scattered over a second or more
    # (not bright lines: a steady tone would also be whitened away by the 64 s ASD). Their dots are
    # a little brighter than the 1080 Hz ones (peak normalized energy ~19 against ~16).
    # In half of the samples the harmonics ring up together, so their dots line up in time (stacked
    # pairs near 500 Hz and 1 kHz, as in the real view with all four durations).
    snr = _loguniform(w.rng, 6.0, 10.0)
    base = w.rng.uniform(485, 515)
    span = w.rng.uniform(0.5, 6.0)
    fundamental_times = _dot_times(w, t0, int(w.rng.integers(*VIOLIN_MODE_DOTS)), span)
    shared = w.rng.random() < VIOLIN_MODE_SHARED_DOTS_PROBABILITY
    for harmonic, weight in ((1, 1.0), (2, w.rng.uniform(0.0, 1.0)), (3, w.rng.uniform(0.0, 0.6))):
        if weight > 0.3:
            # The dot count is drawn for every harmonic, and unused where the times are given, so
            # that the random stream (and the simulated data of a seed) does not depend on sharing.
            _dotted_line(
                w,
                t0,
                harmonic * base,
                snr * weight,
                int(w.rng.integers(*VIOLIN_MODE_DOTS)),
                span,
                times_s=fundamental_times if harmonic == 1 or shared else None,
            )
    if w.rng.random() < VIOLIN_MODE_LOW_BLOB_PROBABILITY:
        _low_blobs_under(w, [t0, *fundamental_times], snr)
    return snr


def _low_blobs_under(w: Waveform, dot_times_s: list[float], snr: float) -> None:
    """Add one to three short blobs at 35-100 Hz, each under one of ``dot_times_s`` (the first is the trigger)."""
    count = min(len(dot_times_s), int(w.rng.integers(1, 4)))
    picks = [0, *w.rng.choice(np.arange(1, len(dot_times_s)), size=count - 1, replace=False)]
    for index in picks:
        w.add_sine_gaussian(
            dot_times_s[index] + w.rng.normal(0, 0.005),
            _loguniform(w.rng, *VIOLIN_MODE_LOW_BLOB_HZ),
            w.rng.uniform(3.0, 8.0),
            snr * w.rng.uniform(0.5, 1.0),
        )


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


WANDERING_LINE_HZ: tuple[float, float] = (200.0, 1900.0)


def _wandering_line(w: Waveform, t0: float) -> float:
    # A loud line at 200 Hz-1.9 kHz (the real ones at ~220, ~360 and ~1080 Hz) whose
    # frequency wanders by several per cent over seconds, smoothly or in a sawtooth of slow falls
    # and quick resets; loud enough that the rest of the view looks dark beside it.
    snr = _loguniform(w.rng, 30.0, 250.0)
    f0 = _loguniform(w.rng, *WANDERING_LINE_HZ)
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
