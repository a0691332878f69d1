"""The noise model: coloured Gaussian detector noise and the whitening Gravity Spy applied to it.

- :func:`analytic_psd`, :func:`noise_asd`, :func:`colour`: an aLIGO-like PSD per detector and white
  samples coloured by it;
- :func:`welch_excess`, :func:`welch_asd`: the mean-averaged (Welch) 64 s ASD estimate of the
  Gravity Spy era around a glitch, with which the simulated strain is whitened;
- :func:`noise_reference`: the mean Q-tile energy of whitened noise per row, which pads each row's
  normalisation to 64 s;
- :func:`local_noise_level`: the level of the noise around a trigger relative to the 64 s that
  whiten it, which varies as real detector noise does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft

from gravityvit import gravity_spy
from gravityvit.data.simulation.constants import (
    DATA_DURATION_S,
    IFO_PROBABILITIES,
    N_SAMPLES,
    REFERENCE_SPAN_S,
    SAMPLE_RATE_HZ,
)

FLAT_BELOW_HZ = 10.0

# Real detector noise is not stationary over the 64 s that estimate the whitening ASD: the background
# of real 1 s views lies at 0.092-0.117 gray (5-95 %, median 0.102), where noise at the level of the
# 64 s gives 0.096-0.104 (docs/simulator.md, "Background"). The 8 s around a trigger therefore get a
# level relative to the 64 s: log-normal, wider in a fifth of the samples (the real levels' tails: a
# stretch louder than the 64 s average, or an ASD raised by other glitches in the 64 s).
LOCAL_NOISE_LEVEL_MEAN = 0.05  # log amplitude: real backgrounds sit ~0.004 gray above the 64 s level
LOCAL_NOISE_LEVEL_SIGMA = 0.07
WIDE_LEVEL_PROBABILITY = 0.2
WIDE_LEVEL_SIGMA = 0.2


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


def local_noise_level(rng: np.random.Generator) -> float:
    """Amplitude of the noise around a trigger relative to the 64 s that whiten and normalise it.

    Log-normal: ``LOCAL_NOISE_LEVEL_MEAN`` and ``LOCAL_NOISE_LEVEL_SIGMA``, or ``WIDE_LEVEL_SIGMA`` with
    probability ``WIDE_LEVEL_PROBABILITY``.
    """
    sigma = WIDE_LEVEL_SIGMA if rng.random() < WIDE_LEVEL_PROBABILITY else LOCAL_NOISE_LEVEL_SIGMA
    return float(np.exp(rng.normal(LOCAL_NOISE_LEVEL_MEAN, sigma)))


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

    from gravityvit.data.omega import noise_row_energies
    from gravityvit.data.omega.whitening import prepare_whitened

    rng = np.random.default_rng([20240601, list(IFO_PROBABILITIES).index(ifo)])
    whitened = []
    for _ in range(NOISE_CALIBRATION_REALISATIONS):
        strain = TimeSeries(colour(rng.standard_normal(N_SAMPLES), ifo), sample_rate=SAMPLE_RATE_HZ, t0=0.0)
        values, rate, _ = prepare_whitened(
            strain, DATA_DURATION_S / 2, gravity_spy.VIEW_DURATIONS_S, DATA_DURATION_S, noise_asd(ifo)
        )
        whitened.append(values)
    return noise_row_energies(whitened, rate)
