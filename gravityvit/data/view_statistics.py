"""Robust statistics of Gravity Spy views, to compare simulated glitches with real ones.

A view (``gravity_spy.VIEW_SHAPE``, values in [0, 1]) is the gray image of an Omega scan: rows are
frequency on a log axis from 2048 Hz (top) to 10 Hz (bottom), columns are time across the view's
window, centred on the trigger. :func:`view_statistics` measures, on one view:

- the bright region, the pixels whose normalized energy is at least ``threshold_energy`` (the gray
  value is turned back into normalized energy through the viridis colour scale the PNG uses):
  its frequency band (``band_low_hz``, ``band_high_hz``, ``band_centre_hz``, ``band_octaves``), its
  time extent (``time_start_s``, ``time_stop_s``, ``time_extent_s``, seconds from the window's
  centre), both from quantiles of the bright pixels' rows and columns so that stray noise pixels do
  not stretch them, and its size (``bright_fraction`` of the view);
- the peak: its gray value and normalized energy, and where it is (``peak_frequency_hz``,
  ``peak_time_s``: the median position of the pixels within 0.01 of the maximum, so a saturated
  region gives its middle rather than its first pixel);
- the background, the darkest half of the pixels: its level (median), spread (standard deviation)
  and texture (median absolute difference between neighbouring background pixels along time and
  along frequency).

:func:`class_statistics_table` summarises these per class and per view duration for real and
simulated samples side by side, with the difference of the medians, so that one can read off where
the simulator departs from the data. This module needs only numpy and matplotlib (for viridis).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from gravityvit import gravity_spy

# The Omega scan's frequency range and the rendered PNG's axes geometry, as in
# ``gravityvit.data.omega.views`` (repeated here so that this module does not need scipy): the axes
# occupy y 60-540 and x 100-674.07 of the 800x600 image, and a view is the resized crop rows 66:532,
# columns 105:671 (``gravity_spy.PNG_AXES_ROWS`` / ``PNG_AXES_COLS``).
FRANGE_HZ: tuple[float, float] = (10.0, 2048.0)
AXES_TOP_PX = 60.0
AXES_HEIGHT_PX = 480.0
AXES_LEFT_PX = 100.0
AXES_WIDTH_PX = 0.775 * 800 / 1.08
# The colour scale: normalized energy 0-25.5 over the 256 viridis entries.
ENERGY_PER_COLOUR_INDEX = (
    gravity_spy.NORMALIZED_ENERGY_RANGE[1] - gravity_spy.NORMALIZED_ENERGY_RANGE[0]
) / 256

# Defaults of the bright region: a normalized energy of 6 is e^-6 ~ 0.25 % of Gaussian-noise tiles
# (whose normalized energy is exponential with mean 1), and the 5 %-95 % quantiles of its rows and
# columns ignore the few noise pixels that still pass.
DEFAULT_THRESHOLD_ENERGY = 6.0
DEFAULT_QUANTILES: tuple[float, float] = (0.05, 0.95)
# The quantiles whose distance is a statistic's scale among real views (class_statistics_table).
SCALE_QUANTILES: tuple[float, float] = (0.1, 0.9)
# Pixels within this of the view's maximum count as its peak.
PEAK_TOLERANCE = 0.01

# The statistics view_statistics returns, in order; those in Hz are compared in octaves.
STATISTICS: tuple[str, ...] = (
    "peak",
    "peak_energy",
    "peak_frequency_hz",
    "peak_time_s",
    "bright_fraction",
    "band_low_hz",
    "band_high_hz",
    "band_centre_hz",
    "band_octaves",
    "time_start_s",
    "time_stop_s",
    "time_extent_s",
    "background_level",
    "background_spread",
    "background_roughness_time",
    "background_roughness_frequency",
)


def row_frequency_hz(rows: np.ndarray | float) -> np.ndarray | float:
    """Frequency (Hz) at the centre of view row ``rows`` (fractional rows allowed; row 0 is the top)."""
    y = gravity_spy.PNG_AXES_ROWS[0] + (np.asarray(rows, dtype=np.float64) + 0.5) * _row_scale()
    log_top, log_bottom = math.log(FRANGE_HZ[1]), math.log(FRANGE_HZ[0])
    frequencies = np.exp(log_top - (y - AXES_TOP_PX) / AXES_HEIGHT_PX * (log_top - log_bottom))
    return float(frequencies) if np.ndim(frequencies) == 0 else frequencies


def frequency_row(frequency_hz: np.ndarray | float) -> np.ndarray | float:
    """The (fractional) view row whose centre is at ``frequency_hz``: the inverse of :func:`row_frequency_hz`."""
    log_top, log_bottom = math.log(FRANGE_HZ[1]), math.log(FRANGE_HZ[0])
    y = (
        AXES_TOP_PX
        + (log_top - np.log(np.asarray(frequency_hz, dtype=np.float64)))
        / (log_top - log_bottom)
        * AXES_HEIGHT_PX
    )
    rows = (y - gravity_spy.PNG_AXES_ROWS[0]) / _row_scale() - 0.5
    return float(rows) if np.ndim(rows) == 0 else rows


def column_time_s(columns: np.ndarray | float, duration_s: float) -> np.ndarray | float:
    """Time (s from the window's centre) at the centre of view column ``columns`` of a ``duration_s`` view."""
    x = gravity_spy.PNG_AXES_COLS[0] + (np.asarray(columns, dtype=np.float64) + 0.5) * _column_scale()
    times = -duration_s / 2 + (x - AXES_LEFT_PX) / AXES_WIDTH_PX * duration_s
    return float(times) if np.ndim(times) == 0 else times


def time_column(time_s: np.ndarray | float, duration_s: float) -> np.ndarray | float:
    """The (fractional) view column whose centre is at ``time_s``: the inverse of :func:`column_time_s`."""
    x = AXES_LEFT_PX + (np.asarray(time_s, dtype=np.float64) + duration_s / 2) / duration_s * AXES_WIDTH_PX
    columns = (x - gravity_spy.PNG_AXES_COLS[0]) / _column_scale() - 0.5
    return float(columns) if np.ndim(columns) == 0 else columns


def _row_scale() -> float:
    """PNG pixels per view row."""
    return (gravity_spy.PNG_AXES_ROWS[1] - gravity_spy.PNG_AXES_ROWS[0]) / gravity_spy.VIEW_HEIGHT


def _column_scale() -> float:
    """PNG pixels per view column."""
    return (gravity_spy.PNG_AXES_COLS[1] - gravity_spy.PNG_AXES_COLS[0]) / gravity_spy.VIEW_WIDTH


@functools.lru_cache(maxsize=1)
def _monotone_gray_scale() -> tuple[np.ndarray, np.ndarray]:
    """Gray value of each viridis entry (made non-decreasing) and the normalized energy it stands for."""
    from matplotlib import colormaps

    rgb = colormaps["viridis"](np.arange(256), bytes=True)[:, :3]
    gray = gravity_spy.rgb_to_gray(rgb[None])[0].astype(np.float64)
    # Viridis's luminance rises everywhere but for a few 8-bit rounding steps; a running maximum
    # makes the inverse single-valued without moving any entry by more than those steps.
    gray = np.maximum.accumulate(gray)
    energy = (np.arange(256) + 0.5) * ENERGY_PER_COLOUR_INDEX + gravity_spy.NORMALIZED_ENERGY_RANGE[0]
    return gray, energy


def gray_to_energy(gray: np.ndarray | float) -> np.ndarray | float:
    """Normalized energy (0-25.5) that a view's gray value stands for, through the viridis colour scale.

    Resizing averages neighbouring pixels' gray values, so on a view this is an approximation where
    the energy changes fast; it is exact on flat regions.
    """
    scale_gray, scale_energy = _monotone_gray_scale()
    energy = np.interp(np.asarray(gray, dtype=np.float64), scale_gray, scale_energy)
    return float(energy) if np.ndim(energy) == 0 else energy


def energy_to_gray(energy: np.ndarray | float) -> np.ndarray | float:
    """Gray value of a normalized energy under the colour scale: the inverse of :func:`gray_to_energy`."""
    scale_gray, scale_energy = _monotone_gray_scale()
    gray = np.interp(np.asarray(energy, dtype=np.float64), scale_energy, scale_gray)
    return float(gray) if np.ndim(gray) == 0 else gray


def _check_view(view: np.ndarray) -> np.ndarray:
    view = np.asarray(view, dtype=np.float32)
    if view.ndim == 3 and view.shape[0] == 1:
        view = view[0]
    if view.shape != gravity_spy.VIEW_SHAPE:
        raise ValueError(f"a view must have shape {gravity_spy.VIEW_SHAPE}; got {view.shape}")
    if not np.isfinite(view).all():
        raise ValueError("a view must be finite; got NaN or infinite values")
    return view


def _background(view: np.ndarray) -> dict[str, float]:
    """Level, spread and texture of the darkest half of the pixels."""
    dark = view <= np.median(view)
    values = view[dark]
    # Texture: how much neighbouring background pixels differ, along time (columns) and along
    # frequency (rows). Noise made with a coarser tiling than the pixels is smoother along that axis.
    along_time = np.abs(np.diff(view, axis=1))[dark[:, 1:] & dark[:, :-1]]
    along_frequency = np.abs(np.diff(view, axis=0))[dark[1:, :] & dark[:-1, :]]
    return {
        "background_level": float(np.median(values)),
        "background_spread": float(np.std(values)),
        "background_roughness_time": float(np.median(along_time)) if along_time.size else math.nan,
        "background_roughness_frequency": float(np.median(along_frequency))
        if along_frequency.size
        else math.nan,
    }


def view_statistics(
    view: np.ndarray,
    duration_s: float,
    *,
    threshold_energy: float = DEFAULT_THRESHOLD_ENERGY,
    quantiles: tuple[float, float] = DEFAULT_QUANTILES,
) -> dict[str, float]:
    """Measure one view: its bright region's band, time extent and size, its peak and its background.

    Parameters
    ----------
    view : np.ndarray
        A (140, 170) (or (1, 140, 170)) gray view in [0, 1], row 0 the highest frequency.
    duration_s : float
        The view's window (0.5, 1, 2 or 4 s), which sets the seconds per column.
    threshold_energy : float
        Normalized energy (0-25.5, the colour scale) from which a pixel is bright.
    quantiles : (float, float)
        Quantiles of the bright pixels' rows and columns that bound the band and the time extent.

    Returns
    -------
    dict
        The keys of :data:`STATISTICS`. Frequencies in Hz, times in seconds from the window's centre,
        ``peak`` and ``background_*`` in gray units, ``peak_energy`` in normalized energy. Without
        any bright pixel, the band and time statistics are NaN.
    """
    view = _check_view(view)
    if not quantiles[0] < quantiles[1] or not quantiles[0] >= 0.0 or not quantiles[1] <= 1.0:
        raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1; got {quantiles}")
    peak = float(view.max())
    peak_rows, peak_columns = np.nonzero(view >= peak - PEAK_TOLERANCE)
    statistics: dict[str, float] = {
        "peak": peak,
        "peak_energy": gray_to_energy(peak),
        "peak_frequency_hz": row_frequency_hz(float(np.median(peak_rows))),
        "peak_time_s": column_time_s(float(np.median(peak_columns)), duration_s),
    }
    bright = view >= energy_to_gray(threshold_energy)
    statistics["bright_fraction"] = float(bright.mean())
    rows, columns = np.nonzero(bright)
    if rows.size:
        # Row quantile ``high`` is the lowest frequency: rows count down the frequency axis.
        top_row, bottom_row = np.quantile(rows, quantiles)
        first_column, last_column = np.quantile(columns, quantiles)
        band_high, band_low = row_frequency_hz(top_row), row_frequency_hz(bottom_row)
        statistics |= {
            "band_low_hz": band_low,
            "band_high_hz": band_high,
            "band_centre_hz": row_frequency_hz(float(np.median(rows))),
            "band_octaves": math.log2(band_high / band_low),
            "time_start_s": column_time_s(first_column, duration_s),
            "time_stop_s": column_time_s(last_column, duration_s),
        }
        statistics["time_extent_s"] = statistics["time_stop_s"] - statistics["time_start_s"]
    else:
        for name in ("band_low_hz", "band_high_hz", "band_centre_hz", "band_octaves"):
            statistics[name] = math.nan
        for name in ("time_start_s", "time_stop_s", "time_extent_s"):
            statistics[name] = math.nan
    statistics |= _background(view)
    return {name: statistics[name] for name in STATISTICS}


def sample_statistics(
    views: Sequence[np.ndarray | None] | np.ndarray, **kwargs: Any
) -> list[dict[str, float] | None]:
    """:func:`view_statistics` of each of a sample's four views, in duration order; ``None`` for a missing view."""
    if len(views) != len(gravity_spy.VIEW_DURATIONS_S):
        raise ValueError(
            f"a sample has {len(gravity_spy.VIEW_DURATIONS_S)} views (None for a missing one); got {len(views)}"
        )
    return [
        None if view is None else view_statistics(view, duration, **kwargs)
        for view, duration in zip(views, gravity_spy.VIEW_DURATIONS_S)
    ]


def _summary(values: list[float], in_log: bool) -> dict[str, float]:
    """Count, median and quartiles of the finite values (in log2 for frequencies, returned in Hz)."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if not finite.size:
        return {"n": 0, "median": math.nan, "q25": math.nan, "q75": math.nan}
    data = np.log2(finite) if in_log else finite
    q25, median, q75 = np.quantile(data, (0.25, 0.5, 0.75))
    if in_log:
        q25, median, q75 = 2.0**q25, 2.0**median, 2.0**q75
    return {"n": int(finite.size), "median": float(median), "q25": float(q25), "q75": float(q75)}


def _collect(samples: Iterable[Any], **kwargs: Any) -> list[list[dict[str, float]]]:
    """Per view duration, the statistics of every present view of ``samples``."""
    per_duration: list[list[dict[str, float]]] = [[] for _ in gravity_spy.VIEW_DURATIONS_S]
    for views in samples:
        for index, statistics in enumerate(sample_statistics(views, **kwargs)):
            if statistics is not None:
                per_duration[index].append(statistics)
    return per_duration


def class_statistics_table(
    real_by_class: Mapping[str, Iterable[Any]],
    simulated_by_class: Mapping[str, Iterable[Any]],
    *,
    statistics: Sequence[str] = STATISTICS,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Compare real and simulated views per class, view duration and statistic.

    Parameters
    ----------
    real_by_class, simulated_by_class : Mapping[str, Iterable]
        Class name -> samples. A sample is a (4, 140, 170) array or a sequence of four views in
        duration order, ``None`` for a missing view. A class in only one mapping gets rows with the
        other side's count 0.
    statistics : sequence of str
        Which of :data:`STATISTICS` to compare.
    **kwargs
        ``threshold_energy`` and ``quantiles`` of :func:`view_statistics`.

    Returns
    -------
    list of dict
        One row per (class, duration, statistic), in ``CLASS_NAMES`` order (unknown classes after,
        sorted), durations ascending: ``class``, ``duration_s``, ``statistic``, ``real_n``,
        ``real_median``, ``real_q25``, ``real_q75``, the same for ``simulated_``, ``difference``
        (simulated median - real median; in octaves, log2 of the ratio, for statistics in Hz),
        ``unit`` of that difference, ``scale``: the range of the central 80 % (10 %-90 % quantiles)
        of the statistic over the real views of that duration of *all* classes (of the simulated
        ones where there is no real view), in the same units, but at least the statistic's
        :func:`resolution` (one pixel), and ``separation`` = ``|difference| / scale``: how far apart
        simulated and real are against how much the statistic varies among real glitches. The scale
        is pooled over classes because a class has only a few real samples, whose own spread says
        little (one sample has none). It is the central 80 % rather than the interquartile range
        because some statistics are the same for most classes and differ for a few: the peak's time
        is the window's centre for short glitches (the trigger) and anywhere for long ones, so its
        interquartile range over the 65 real samples is under one column of the 1 s view (0.0014 s)
        and would rank every class's peak time first. ``separation`` is NaN when a side has no value.
    """
    unknown = [name for name in statistics if name not in STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}; choose from {STATISTICS}")
    known = [name for name in gravity_spy.CLASS_NAMES if name in real_by_class or name in simulated_by_class]
    others = sorted((set(real_by_class) | set(simulated_by_class)) - set(gravity_spy.CLASS_NAMES))
    labels = known + others
    real = {label: _collect(real_by_class.get(label, ()), **kwargs) for label in labels}
    simulated = {label: _collect(simulated_by_class.get(label, ()), **kwargs) for label in labels}
    scales = {
        (index, name): max(
            _pooled_scale(
                [s[name] for label in labels for s in real[label][index]],
                [s[name] for label in labels for s in simulated[label][index]],
                name.endswith("_hz"),
            ),
            resolution(name, duration),
        )
        for index, duration in enumerate(gravity_spy.VIEW_DURATIONS_S)
        for name in statistics
    }
    rows: list[dict[str, Any]] = []
    for label in labels:
        for index, duration in enumerate(gravity_spy.VIEW_DURATIONS_S):
            for name in statistics:
                rows.append(
                    _compare(
                        label,
                        duration,
                        name,
                        real[label][index],
                        simulated[label][index],
                        scales[index, name],
                    )
                )
    return rows


def resolution(name: str, duration_s: float) -> float:
    """The smallest difference a statistic can show, in the units of its ``difference``: one pixel.

    One row in octaves for frequencies and ``band_octaves``, one column in seconds for times, one
    colour-scale step for ``peak_energy``, one 8-bit gray level for gray values, one pixel of the
    view for ``bright_fraction``.
    """
    if name not in STATISTICS:
        raise ValueError(f"unknown statistic {name!r}; choose from {STATISTICS}")
    if name.endswith("_hz") or name == "band_octaves":
        return abs(math.log2(row_frequency_hz(0.0) / row_frequency_hz(1.0)))
    if name.endswith("_s"):
        return abs(column_time_s(1.0, duration_s) - column_time_s(0.0, duration_s))
    if name == "peak_energy":
        return ENERGY_PER_COLOUR_INDEX
    if name == "bright_fraction":
        return 1.0 / (gravity_spy.VIEW_HEIGHT * gravity_spy.VIEW_WIDTH)
    return 1.0 / 255


def _pooled_scale(real: list[float], simulated: list[float], in_log: bool) -> float:
    """Range of the central 80 % of the finite real values (else the simulated ones), in log2 for frequencies."""
    for values in (real, simulated):
        finite = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
        if finite.size:
            data = np.log2(finite) if in_log else finite
            low, high = np.quantile(data, SCALE_QUANTILES)
            return float(high - low)
    return 0.0  # no value anywhere: the resolution floor stands in


def _compare(
    label: str,
    duration: float,
    name: str,
    real: list[dict[str, float]],
    simulated: list[dict[str, float]],
    scale: float,
) -> dict[str, Any]:
    in_log = name.endswith("_hz")
    real_summary = _summary([s[name] for s in real], in_log)
    simulated_summary = _summary([s[name] for s in simulated], in_log)
    row: dict[str, Any] = {"class": label, "duration_s": duration, "statistic": name}
    row |= {f"real_{key}": value for key, value in real_summary.items()}
    row |= {f"simulated_{key}": value for key, value in simulated_summary.items()}
    if real_summary["n"] and simulated_summary["n"]:
        transform = math.log2 if in_log else float
        difference = transform(simulated_summary["median"]) - transform(real_summary["median"])
        separation = abs(difference) / scale if scale > 0 else (0.0 if difference == 0 else math.inf)
    else:
        difference = separation = math.nan
    row |= {
        "difference": difference,
        "unit": "octaves" if in_log else _unit(name),
        "scale": scale,
        "separation": separation,
    }
    return row


def _unit(name: str) -> str:
    if name.endswith("_s"):
        return "s"
    if name == "peak_energy":
        return "normalized energy"
    if name == "bright_fraction":
        return "fraction of the view"
    return "gray"
