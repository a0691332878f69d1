"""Short transients: Blip, Koi_Fish, Tomte, Extremely_Loud, Repeating_Blips and 1400Ripples.

Broadband pulses and bursts of tens to hundreds of ms, alone or in short trains.

Each generator adds one randomised glitch to ``w`` with its loudest point at ``t0`` (seconds from
the view centre) and returns its trigger SNR; :data:`gravityvit.data.simulation.classes.GENERATORS`
maps the class names to them.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from gravityvit.data.simulation.constants import REFERENCE_SPAN_S
from gravityvit.data.simulation.waveform import Waveform, _glitch_tile_snr, _loguniform, trigger_snr

# The blip's pulse (shared with Repeating_Blips): centre frequency (Hz, log-uniform), log width and
# trigger SNR (threshold, index, cap of ``trigger_snr``; Koi_Fish start where blips stop).
BLIP_CENTRE_HZ: tuple[float, float] = (55.0, 150.0)
BLIP_LOG_WIDTH: tuple[float, float] = (0.8, 1.1)
BLIP_SNR: tuple[float, float, float] = (10.0, 1.4, 40.0)


def _blip(w: Waveform, t0: float) -> float:
    # A tall, thin teardrop: a short broadband pulse centred 55-150 Hz, log-width 0.8-1.1. In the
    # 0.5 s view the 12 real blips are bright (normalized energy >= 6) from ~27 Hz to ~370 Hz over ~3 %
    # of the pixels, and their peak lies near 80 / 68 / 55 / 50 Hz in the 0.5 / 1 / 2 / 4 s views;
    # these settings give ~24-380 Hz and 77 / 68 / 62 / 53 Hz. Centred at 45-110 Hz they were bright
    # only up to ~250 Hz, and real blips' short views, which reach higher, were taken for
    # Repeating_Blips; centred at 65-165 Hz with log-width 0.7-1.0 they peaked at 88 / 77 / 69 / 59 Hz
    # and were half as bright as the real ones at ~33 Hz.
    snr = trigger_snr(w.rng, *BLIP_SNR)
    w.add_pulse(t0, _loguniform(w.rng, *BLIP_CENTRE_HZ), w.rng.uniform(*BLIP_LOG_WIDTH), snr)
    return snr


BLIP_LOW_FREQUENCY_CENTRE_HZ: tuple[float, float] = (15.0, 35.0)


def _blip_low_frequency(w: Waveform, t0: float) -> float:
    # Gravity Spy's O3 class (Glanzer et al. 2023): a blip whose power sits below ~50 Hz, a short
    # squat pulse low in the view without the blip's tail to hundreds of Hz; fainter than Tomte.
    snr = trigger_snr(w.rng, *BLIP_SNR)
    w.add_pulse(t0, _loguniform(w.rng, *BLIP_LOW_FREQUENCY_CENTRE_HZ), w.rng.uniform(0.4, 0.6), snr)
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
    # A short triangle with a saturated base at 25-70 Hz, narrower in log frequency than a blip and
    # usually louder. The real ones are bright from ~19 Hz to only ~90-125 Hz in the 1-4 s views (a
    # log-width of 0.5-0.7 reached 13-160 Hz, towards the blips' band) and last longer.
    snr = trigger_snr(w.rng, low=20.0, index=1.0, cap=150.0)
    w.add_pulse(t0, _loguniform(w.rng, 35, 70), w.rng.uniform(0.3, 0.45), snr)
    return snr


EXTREMELY_LOUD_ROW_SHARE = (0.25, 1.5)  # glitch energy per Hz over that of 64 s of noise
# Share of extremely loud glitches whose loudest part lies 1.5-3 s from the trigger time that
# centres the views (an Omicron trigger on the edge of a far louder, saturating event), and their
# row share: enough to whiten everything else in the scan to black.
EXTREMELY_LOUD_OFF_TRIGGER = 0.2
EXTREMELY_LOUD_OFF_TRIGGER_ROW_SHARE = (10.0, 100.0)


def _extremely_loud(w: Waveform, t0: float) -> float:
    # A broadband, long, saturating burst: bands of noise from 10 Hz to 0.9-2 kHz lasting 0.2-1.2 s
    # (the low frequencies lasting longer, a tent in the long views) and loud pulses at the trigger.
    # With mean-normalised rows a glitch that dominates its rows reaches about 64 s / its duration
    # in normalized energy, whatever its SNR, and darkens the rest of the row by 1 / (1 + share);
    # so the glitch is scaled by its energy per Hz relative to 64 s of noise (the share), which
    # decides the look (saturated column, noise-like surroundings), and its loudest-tile SNR, in
    # the hundreds to thousands, follows from it.
    # A burst off the trigger still raises the 64 s ASD and darkens its rows over the whole scan:
    # the views are black but for the glitch at the edge of the long ones.
    row_share = EXTREMELY_LOUD_ROW_SHARE
    if w.rng.random() < EXTREMELY_LOUD_OFF_TRIGGER:
        t0 += w.rng.choice((-1.0, 1.0)) * w.rng.uniform(1.5, 3.0)
        row_share = EXTREMELY_LOUD_OFF_TRIGGER_ROW_SHARE
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
    w.data *= np.sqrt(_loguniform(w.rng, *row_share) * 2.0 * REFERENCE_SPAN_S / per_hz)
    return _glitch_tile_snr(w.data)


REPEATING_BLIP_CENTRE_HZ: tuple[float, float] = (130.0, 450.0)


def _repeating_blips(w: Waveform, t0: float) -> float:
    # 3-12 blip-like pulses (no louder than blips: a lone loud blip must not read as a repeating one)
    # at regular 0.1-0.5 s spacing: the real trains run over most of the 2 s and 4 s views (bright
    # region 1.1 s and 1.6 s long there). They are centred higher than lone blips, at ~130-450 Hz
    # (brightest at 120-180 Hz, bright from ~60 Hz to 500-900 Hz).
    snr = trigger_snr(w.rng, *BLIP_SNR)
    count, spacing = int(w.rng.integers(3, 13)), w.rng.uniform(0.1, 0.5)
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


# trigger_snr's (low, index, cap) for 1400Ripples, and each ripple's length: the real streaks are as
# bright in the 4 s view (normalized energy ~23) as in the 0.5 s one, so they last tens of
# milliseconds as one tone, not a train of millisecond bursts that the 4 s view would average away.
RIPPLES_1400_SNR: tuple[float, float, float] = (8.0, 2.0, 30.0)
RIPPLES_1400_LENGTH_S: tuple[float, float] = (0.03, 0.12)


def _ripples_1400(w: Waveform, t0: float) -> float:
    # One or two thin streaks near 1400 Hz (within 0.1-1 s): each a short tone whose frequency
    # wiggles by +-20-80 Hz. The real views show a single thin streak 0.05-0.1 s long near the top,
    # bright over only ~0.3 % of the short views.
    snr = trigger_snr(w.rng, *RIPPLES_1400_SNR)
    span = _loguniform(w.rng, 0.1, 1.0)
    centre = w.rng.uniform(1300, 1500)
    for k in range(1 if w.rng.random() < 0.6 else 2):
        time_s = t0 if k == 0 else t0 + w.rng.uniform(-span / 2, span / 2)
        level = snr if k == 0 else snr * w.rng.uniform(0.5, 1.0)
        frequency_hz = centre + w.rng.uniform(-60, 60)
        length = _loguniform(w.rng, *RIPPLES_1400_LENGTH_S)
        wiggle, rate = w.rng.uniform(20, 80), w.rng.uniform(20, 60)
        w.add_track(
            time_s - length / 2,
            time_s + length / 2,
            lambda t, f=frequency_hz, a=wiggle, r=rate, c=time_s: f + a * np.sin(2 * np.pi * r * (t - c)),
            level,
        )
    return snr
