"""The whole front end: strain around a GPS time -> whitened -> loudest Q plane -> four views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gravityvit import gravity_spy
from gravityvit.data.omega.parameters import (
    DATA_SPAN_S,
    DEFAULT_BACKEND,
    FRANGE_HZ,
    KEEP_MARGIN_FRACTION,
    QRANGE,
    SEARCH_WINDOW_S,
    check_backend,
)
from gravityvit.data.omega.qscan import QScan, q_scan
from gravityvit.data.omega.qscan_fast import fast_q_scan
from gravityvit.data.omega.views import scan_to_views
from gravityvit.data.omega.whitening import SCAN_SAMPLE_RATE_HZ, prepare_whitened

if TYPE_CHECKING:
    from gwpy.frequencyseries import FrequencySeries
    from gwpy.timeseries import TimeSeries


def whiten_and_scan(
    strain: TimeSeries,
    gps: float,
    *,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    whiten: bool | FrequencySeries = True,
    data_span_s: float = DATA_SPAN_S,
    normalization: str = "mean",
    reference_span_s: float | None = None,
    noise_energy: Sequence[np.ndarray] | None = None,
    asd_average: str = "median",
    backend: str = DEFAULT_BACKEND,
) -> QScan:
    """Whiten ``strain`` around ``gps`` and return its loudest Q plane (search window 0.5 s).

    Parameters are those of :func:`omega_scan_views`, plus ``reference_span_s`` and
    ``noise_energy`` of :func:`q_scan`. With ``backend="fast"`` the plane keeps only the tiles
    within ``max(durations_s) / 2`` (plus 5 %) of ``gps``: enough for the views and the PNGs of
    those durations; and, unless ``noise_energy`` is given, strain sampled at a multiple of
    8192 Hz is whitened at 8192 Hz from its band below 4096 Hz (the tiling reads only below
    3.75 kHz; see :func:`~gravityvit.data.omega.whitening.prepare_whitened`).

    Raises
    ------
    StrainError
        Too little data around ``gps``, sample rate below 4096 Hz, or non-finite samples.
    """
    check_backend(backend)
    # The fast backend whitens faster strain at the scan rate: the tiling reads nothing above
    # 3.75 kHz. A given noise_energy was measured at the strain's own rate, so it keeps that rate.
    max_rate = SCAN_SAMPLE_RATE_HZ if noise_energy is None else None
    values, rate, epoch = prepare_whitened(
        strain,
        float(gps),
        durations_s,
        data_span_s,
        whiten,
        asd_average,
        backend=backend,
        max_rate_hz=max_rate,
    )
    duration = values.size / rate
    search = (max(epoch, gps - SEARCH_WINDOW_S / 2), min(epoch + duration, gps + SEARCH_WINDOW_S / 2))
    settings = dict(
        qrange=qrange,
        frange_hz=frange_hz,
        normalization=normalization,
        reference_span_s=reference_span_s,
        noise_energy=noise_energy,
    )
    if backend == "gwpy":
        return q_scan(values, rate, epoch, search, **settings)
    half_span = max(durations_s) / 2 * (1 + 2 * KEEP_MARGIN_FRACTION)
    return fast_q_scan(values, rate, epoch, search, keep_s=(gps - half_span, gps + half_span), **settings)


def omega_scan_views(
    strain: TimeSeries,
    gps: float,
    *,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
    qrange: tuple[float, float] = QRANGE,
    frange_hz: tuple[float, float] = FRANGE_HZ,
    whiten: bool | FrequencySeries = True,
    data_span_s: float = DATA_SPAN_S,
    normalization: str = "mean",
    asd_average: str = "median",
    backend: str = DEFAULT_BACKEND,
) -> np.ndarray:
    """Make Gravity Spy's four views of ``strain`` around ``gps``.

    Parameters
    ----------
    strain : gwpy.timeseries.TimeSeries
        Strain with at least ``max(durations_s) / 2 + 2`` s on each side of ``gps``, sampled at
        4096 Hz or more, finite. Up to ``data_span_s`` around ``gps`` is used.
    gps : float
        GPS time of the trigger (the centre of every view).
    durations_s : sequence of float
        View durations in seconds (Gravity Spy: 0.5, 1, 2, 4).
    qrange : tuple of float
        Q range of the tiling.
    frange_hz : tuple of float
        Frequency range in Hz (the image's log axis).
    whiten : bool or gwpy.frequencyseries.FrequencySeries
        Whiten before the scan (Gravity Spy does) with the ASD estimated from the data (``True``)
        or with the given ASD; ``False`` scans the data as they are.
    data_span_s : float
        Longest stretch of data around ``gps`` to whiten and scan (Gravity Spy: 64 s).
    normalization : {"mean", "median"}
        Energy normalisation of each row (see :func:`q_scan`); the Gravity Spy images match
        ``"mean"``.
    asd_average : {"median", "mean"}
        How the estimated whitening ASD averages its 2 s periodograms: ``"median"`` (gwpy today,
        robust to glitches) or ``"mean"`` (Welch, gwpy's default when the Gravity Spy images were
        made: a loud or steady glitch raises the ASD and partly whitens itself). Only used with
        ``whiten=True``.
    backend : {"fast", "gwpy"}
        ``"gwpy"``: the reference implementation (gwpy's whitening, every tile of every Q plane,
        each view sampled in turn); ``"fast"``: the same numbers, computing only the tiles the
        views show (views within 0.01 of the reference, several times faster).

    Returns
    -------
    np.ndarray
        float32 (len(durations_s), 140, 170) in [0, 1], row 0 the highest frequency.

    Raises
    ------
    StrainError
        Too little data around ``gps``, sample rate below 4096 Hz, or NaN/inf samples.
    """
    gps = float(gps)
    scan = whiten_and_scan(
        strain,
        gps,
        durations_s=durations_s,
        qrange=qrange,
        frange_hz=frange_hz,
        whiten=whiten,
        data_span_s=data_span_s,
        normalization=normalization,
        asd_average=asd_average,
        backend=backend,
    )
    return scan_to_views(scan, gps, durations_s=durations_s, frange_hz=frange_hz, backend=backend)
