"""Omega scan: strain around a GPS time -> the four Gravity Spy views.

Gravity Spy makes each view with gwpy (``docs/gravity_spy.md``)::

    data.q_transform(qrange=(4, 64), frange=(10, 2048), gps=t0, search=0.5, tres=0.002,
                     fres=0.5, outseg=(t0 - d / 2, t0 + d / 2), whiten=True)

then plots it (8x6 in at 100 dpi, log frequency axis, viridis, normalized energy 0-25.5) and its
reader crops the plot axes, converts to gray and shrinks to 140x170. This package does the same in
one pass, one module per step:

1. :mod:`.whitening`: whiten the strain as ``q_transform(whiten=True)`` does (median ASD with 2 s
   Hann segments, 2 s FIR whitening filter);
2. :mod:`.qscan`: compute the Q scan *once* over the whitened data (:func:`q_scan`: the tiling and
   windows of ``gwpy.signal.qtransform``, batched over the rows of each Q plane; each row divided
   by its mean energy, as the gwpy of the Gravity Spy images did, or its median, as gwpy does
   today) and keep the Q plane with the loudest tile within 0.5 s of the GPS time, as gwpy does;
3. :mod:`.views`: for each duration, sample that plane at the centres of the pixels Gravity Spy's
   crop keeps, as gwpy's interpolation and the plot show them (2 ms x 0.5 Hz output cells, cubic
   interpolation in time, cubic spline across the frequency rows); clip the normalized energy to
   0-25.5, map it through viridis to 8-bit RGB as the PNG stores it, convert to gray with
   :func:`gravityvit.gravity_spy.rgb_to_gray` and shrink with
   :func:`gravityvit.gravity_spy.resize_view`, the same functions the PNG reader uses.

:mod:`.qscan_fast` computes the same plane keeping only the tiles the views show; ``backend="fast"``
(the default) of :func:`whiten_and_scan`, :func:`scan_to_views` and :func:`omega_scan_views` uses it
with gwpy's whitening arithmetic on plain arrays (strain faster than 8192 Hz whitened at 8192 Hz
from its band below 4096 Hz, all the tiling reads) and all four views sampled at once, and
``backend="gwpy"`` is the reference implementation (views within 0.01, tested).

:mod:`.front_end` chains the three (:func:`omega_scan_views`, :func:`whiten_and_scan`);
:mod:`.rendering` draws the 800x600 PNG Gravity Spy draws from the same scan
(:func:`render_gravityspy_png`), so ``gravity_spy.png_to_view(png)`` closes the loop with the real
PNG path; :mod:`.strain_io` reads strain files (:func:`load_strain`) and moves it in time (:func:`roll_strain`). Only reading strain,
whitening and the tiling import gwpy, when they are used.
"""

from __future__ import annotations

from gravityvit.data.omega.front_end import omega_scan_views, whiten_and_scan
from gravityvit.data.omega.parameters import (
    BACKENDS,
    DATA_SPAN_S,
    DEFAULT_BACKEND,
    FRANGE_HZ,
    FREQUENCY_RESOLUTION_HZ,
    MISMATCH,
    QRANGE,
    SEARCH_WINDOW_S,
    TIME_RESOLUTION_S,
    StrainError,
)
from gravityvit.data.omega.qscan import (
    NORMALIZATIONS,
    QScan,
    noise_row_energies,
    peak_tile_snr,
    q_scan,
    tile_weighted_mean,
)
from gravityvit.data.omega.qscan_fast import fast_q_scan
from gravityvit.data.omega.rendering import (
    IFO_TITLES,
    OMEGA_SCAN_PNG,
    png_filename,
    render_gravityspy_png,
    write_gravityspy_pngs,
)
from gravityvit.data.omega.strain_io import load_strain, roll_strain
from gravityvit.data.omega.views import (
    AXES_HEIGHT_PX,
    AXES_LEFT_PX,
    AXES_RECT,
    AXES_TOP_PX,
    AXES_WIDTH_PX,
    COLORBAR_PAD,
    COLORBAR_SIZE,
    PNG_DPI,
    PNG_FIGSIZE_IN,
    energy_to_colour_index,
    energy_to_view,
    sample_scan,
    scan_to_views,
)
from gravityvit.data.omega.whitening import (
    ASD_AVERAGES,
    ASD_FFT_LENGTH_S,
    MIN_SAMPLE_RATE_HZ,
    SCAN_SAMPLE_RATE_HZ,
    WHITENING_FILTER_DURATION_S,
    prepare_whitened,
)

__all__ = [
    "ASD_AVERAGES",
    "ASD_FFT_LENGTH_S",
    "AXES_HEIGHT_PX",
    "AXES_LEFT_PX",
    "AXES_RECT",
    "AXES_TOP_PX",
    "AXES_WIDTH_PX",
    "BACKENDS",
    "COLORBAR_PAD",
    "COLORBAR_SIZE",
    "DATA_SPAN_S",
    "DEFAULT_BACKEND",
    "FRANGE_HZ",
    "FREQUENCY_RESOLUTION_HZ",
    "IFO_TITLES",
    "MIN_SAMPLE_RATE_HZ",
    "MISMATCH",
    "NORMALIZATIONS",
    "OMEGA_SCAN_PNG",
    "PNG_DPI",
    "PNG_FIGSIZE_IN",
    "QRANGE",
    "SCAN_SAMPLE_RATE_HZ",
    "SEARCH_WINDOW_S",
    "TIME_RESOLUTION_S",
    "WHITENING_FILTER_DURATION_S",
    "QScan",
    "StrainError",
    "energy_to_colour_index",
    "energy_to_view",
    "fast_q_scan",
    "load_strain",
    "noise_row_energies",
    "omega_scan_views",
    "peak_tile_snr",
    "png_filename",
    "prepare_whitened",
    "q_scan",
    "render_gravityspy_png",
    "roll_strain",
    "sample_scan",
    "scan_to_views",
    "tile_weighted_mean",
    "whiten_and_scan",
    "write_gravityspy_pngs",
]
