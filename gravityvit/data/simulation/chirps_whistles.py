"""Sweeps and strands: Chirp, Whistle, Helix and Paired_Doves.

Tracks whose frequency rises or falls within a fraction of a second (an inspiral hook, the V of a
radio beat note, pairs of arcs) and Helix's trains of thin kinked strands.

Each generator adds one randomised glitch to ``w`` with its loudest point at ``t0`` (seconds from
the view centre) and returns its trigger SNR; :data:`gravityvit.data.simulation.classes.GENERATORS`
maps the class names to them.
"""

from __future__ import annotations

import numpy as np

from gravityvit.data.simulation.constants import HELIX_SNR, PAIRED_DOVES_SNR
from gravityvit.data.simulation.noise import analytic_psd
from gravityvit.data.simulation.waveform import Waveform, _loguniform, _tukey, trigger_snr

WHISTLE_SNR: tuple[float, float] = (5.0, 12.0)


def _chirp(w: Waveform, t0: float) -> float:
    # Newtonian inspiral: f = f_end ((t_c - t + eps) / eps)^(-3/8), rising to the centre. The real
    # ones (stellar-mass binaries, hardware injections) are a thin hook that enters the view at
    # 35-70 Hz a tenth to half a second before the end, nearly vertical at the top, and never
    # saturates: a longer sweep lies along the bottom of the short views like a line, and a louder
    # one swells into a lump. Its strain amplitude grows as f^(2/3), and whitening divides it by the
    # detector's ASD, which falls steeply from 35 to 100 Hz: the hook is faint where it enters and
    # brightest in its last tens of milliseconds, at 60-100 Hz, as in the real views.
    snr = trigger_snr(w.rng, low=8.0, index=1.5, cap=30.0)
    duration = _loguniform(w.rng, 0.1, 0.6)
    f_start, f_end = w.rng.uniform(35, 70), _loguniform(w.rng, 250, 900)
    eps = duration * (f_start / f_end) ** (8 / 3)

    def frequency(t: np.ndarray) -> np.ndarray:
        return f_end * ((np.maximum(t0 - t, 0.0) + eps) / eps) ** (-3 / 8)

    def envelope(t: np.ndarray) -> np.ndarray:
        f = frequency(t)
        rise = f ** (2 / 3) / np.sqrt(analytic_psd(f)) * _tukey((t - (t0 - duration)) / duration, 0.1)
        return np.where(t <= t0, rise, rise * np.exp(-(t - t0) / 0.004))

    w.add_track(t0 - duration, t0 + 0.03, frequency, snr, envelope)
    return snr


def _whistle(w: Waveform, t0: float) -> float:
    # Radio-frequency beat notes: a frequency that sweeps down from above the top of the view (kHz)
    # to a minimum of a few hundred Hz and back up within a tenth of a second or so, a narrow V
    # with curved arms, often repeating as the beating oscillators drift.
    # Thin tracks: their brightest pixels sit at a normalized energy of ~16 in the real views, below
    # the top of the colour scale, for a loudest-tile SNR from about 5.
    snr = _loguniform(w.rng, *WHISTLE_SNR)
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


# Log-width of a helix strand's pulses: a pulse lasts about 1 / (2 pi f log_width) (16 ms at 100 Hz
# for 0.1), four times a broadband blip-like pulse, so the 4 s view does not average it away.
HELIX_PULSE_LOG_WIDTH: tuple[float, float] = (0.08, 0.15)


def _helix(w: Waveform, t0: float) -> float:
    # A regular train of faint, thin vertical strands across the whole window, every 0.15-0.4 s:
    # each strand a column of pulses stacked in frequency from 30-60 Hz to 250-1000 Hz, each a
    # little later or earlier than the one below, so that the strand kinks like a helix seen from
    # the side. The pulses are narrow-band (HELIX_PULSE_LOG_WIDTH), so the strands keep their
    # brightness in the 4 s view as the real ones do.
    snr = _loguniform(w.rng, *HELIX_SNR)
    period = w.rng.uniform(0.15, 0.4)
    f_low, f_high = _loguniform(w.rng, 30, 60), _loguniform(w.rng, 250, 1000)
    log_width = w.rng.uniform(*HELIX_PULSE_LOG_WIDTH)
    pulses = int(np.ceil(np.log(f_high / f_low) / (1.5 * log_width))) + 1
    twist_s = w.rng.uniform(0.003, 0.015)
    for k in range(-int(3.8 / period), int(3.8 / period) + 1):
        column = t0 + k * period + w.rng.normal(0, 0.004)
        level = snr if k == 0 else snr * w.rng.uniform(0.6, 1.0)
        for j in range(pulses):
            u = j / (pulses - 1)
            w.add_pulse(
                column + twist_s * (-1) ** j,
                f_low * (f_high / f_low) ** u,
                log_width,
                level * w.rng.uniform(0.6, 1.0) * (0.3 + 0.7 * u),  # faint at the bottom: thin strands
            )
    return snr


def _paired_doves(w: Waveform, t0: float) -> float:
    # Pairs of smooth arcs, one rising then one falling (a swoosh up, then down), at 25-200 Hz,
    # repeating.
    snr = _loguniform(w.rng, *PAIRED_DOVES_SNR)
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
