"""One simulated sample: 8 s of coloured noise with one glitch, and its four Omega-scan views.

:func:`simulate_strain` gives the strain and the glitch's descriptors; :func:`simulate_sample` whitens
it as Gravity Spy did and returns the views with v1d1-style metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.fft

from gravityvit.data.simulation.classes import ALL_GENERATORS
from gravityvit.data.simulation.constants import (
    DATA_DURATION_S,
    GPS_RANGE_S,
    IFO_PROBABILITIES,
    N_SAMPLES,
    REFERENCE_SPAN_S,
    SAMPLE_RATE_HZ,
    TRIGGER_JITTER_S,
)
from gravityvit.data.simulation.noise import (
    colour,
    local_noise_level,
    noise_reference,
    welch_asd,
    welch_excess,
)
from gravityvit.data.simulation.scattering import add_background_scattering
from gravityvit.data.simulation.waveform import Waveform, _glitch_tile_snr


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

    if label not in ALL_GENERATORS:
        raise ValueError(f"unknown Gravity Spy class {label!r}; expected one of {sorted(ALL_GENERATORS)}")
    rng = _as_generator(seed)
    if ifo is None:
        ifo = str(rng.choice(list(IFO_PROBABILITIES), p=list(IFO_PROBABILITIES.values())))
    elif ifo not in IFO_PROBABILITIES:
        raise ValueError(f"unknown detector {ifo!r}; expected one of {tuple(IFO_PROBABILITIES)}")
    # Millisecond GPS times keep the views' 2 ms grid exact in float64.
    event_time = float(np.round(rng.uniform(*GPS_RANGE_S), 3))
    # The glitch and the noise draw from streams of their own, so that a change to one class's
    # waveform model leaves the noise of every sample (its level included) as it was.
    glitch_rng, noise_rng = rng.spawn(2)
    waveform = Waveform(glitch_rng)
    trigger = float(np.clip(glitch_rng.normal(0.0, TRIGGER_JITTER_S), -0.04, 0.04))
    injected_snr = ALL_GENERATORS[label](waveform, trigger)
    if injected_snr > 0:
        # Rescale so that the loudest Q tile within the search window has the drawn SNR, as an
        # Omicron trigger's SNR is that of its loudest tile.
        waveform.data *= injected_snr / _glitch_tile_snr(waveform.data)
    descriptors = _describe(waveform.data, SAMPLE_RATE_HZ)  # of the glitch alone
    # Detector state under the glitch, at its own loudness (after the rescaling to the trigger SNR).
    background_scattering = add_background_scattering(waveform, label, injected_snr)
    # Omicron measures a trigger's SNR against the local noise, so the glitch scales with its level.
    noise_level = local_noise_level(noise_rng)
    waveform.data *= noise_level
    white = noise_level * noise_rng.standard_normal(N_SAMPLES) + waveform.data
    strain = TimeSeries(
        colour(white, ifo),
        sample_rate=SAMPLE_RATE_HZ,
        t0=event_time - DATA_DURATION_S / 2,
        name=f"{ifo}:SIMULATED_STRAIN",
    )
    metadata = {
        "ifo": ifo,
        "event_time": event_time,
        "injected_snr": float(injected_snr),
        "background_scattering": int(background_scattering),
        "noise_level": noise_level,
        **descriptors,
    }
    return strain, event_time, metadata, waveform.data


def _scan_views(strain: Any, event_time: float, ifo: str, glitch: np.ndarray) -> tuple[np.ndarray, Any]:
    """The four views of simulated ``strain`` through the simulator's front end, and the Q scan.

    Whitened with the mean-averaged 64 s ASD that ``glitch`` (in whitened units) raises, and rows
    normalised as over 64 s, as Gravity Spy's scans of the O1-O2 era were.
    """
    from gravityvit.data.omega import scan_to_views, tile_weighted_mean, whiten_and_scan

    noise_energy = noise_reference(ifo)
    excess = welch_excess(glitch)
    if excess.any():
        # The raised ASD whitens the noise of all 64 s down too (by 1 / (1 + excess) in power),
        # so the noise that pads each row's mean is scaled the same way.
        scale = tile_weighted_mean(1.0 / (1.0 + excess), DATA_DURATION_S, SAMPLE_RATE_HZ)
        noise_energy = tuple(energy * factor for energy, factor in zip(noise_energy, scale))
    scan = whiten_and_scan(
        strain,
        event_time,
        whiten=welch_asd(glitch, ifo, excess=excess),
        data_span_s=DATA_DURATION_S,
        normalization="mean",
        reference_span_s=REFERENCE_SPAN_S,
        noise_energy=noise_energy,
    )
    return scan_to_views(scan, event_time), scan


def simulate_shifted_views(
    label: str,
    seed: int | np.random.SeedSequence | np.random.Generator,
    shifts_s: Sequence[float],
    ifo: str | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The views of one simulated glitch moved later by each of ``shifts_s`` seconds, around one trigger time.

    The strain (noise and glitch) is rolled by whole samples, so only the glitch's place in the views
    changes (the wrapped samples lie 4 s from the trigger, outside every view), and each copy goes
    through the same front end as :func:`simulate_sample`. A shift of 0 gives that sample's views.

    Returns
    -------
    views : np.ndarray
        float32 (len(shifts_s), 4, 140, 170).
    metadata : dict
        As :func:`simulate_strain`.
    """
    from gravityvit.data.omega import roll_strain

    strain, event_time, metadata, glitch = _simulate_strain(label, _as_generator(seed), ifo)
    views = []
    for shift_s in shifts_s:
        steps = round(float(shift_s) * SAMPLE_RATE_HZ)
        moved = roll_strain(strain, steps)
        views.append(_scan_views(moved, event_time, metadata["ifo"], np.roll(glitch, steps))[0])
    return np.stack(views), metadata


def simulate_sample(
    label: str, seed: int | np.random.SeedSequence | np.random.Generator, ifo: str | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Simulate one Gravity Spy sample of class ``label``: four views and its metadata.

    Parameters
    ----------
    label : str
        A class of ``gravity_spy.CLASS_NAMES`` (v1) or ``gravity_spy.O3_CLASS_NAMES`` (o3).
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
    rng = _as_generator(seed)
    strain, event_time, metadata, glitch = _simulate_strain(label, rng, ifo)
    views, scan = _scan_views(strain, event_time, metadata["ifo"], glitch)
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
