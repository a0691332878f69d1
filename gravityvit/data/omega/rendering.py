"""PNG rendering: the 800x600 Omega-scan PNG Gravity Spy draws, from the same scan as the views."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gravityvit import gravity_spy
from gravityvit.data.omega import views as geometry
from gravityvit.data.omega.parameters import FRANGE_HZ
from gravityvit.data.omega.qscan import QScan
from gravityvit.file_utils import OutputKind, atomic_path, is_png_file

# A rendered Omega-scan PNG may replace only another PNG image.
OMEGA_SCAN_PNG = OutputKind("Omega-scan PNG", recognise=is_png_file)
IFO_TITLES = {"H1": "Hanford", "L1": "Livingston", "V1": "Virgo"}


def png_filename(ifo: str, gravityspy_id: str, duration_s: float) -> str:
    """Gravity Spy's PNG name, e.g. ``H1_zmIdpucyOG_spectrogram_1.0.png``."""
    return f"{ifo}_{gravityspy_id}_spectrogram_{gravity_spy.duration_label(duration_s)}.png"


def render_gravityspy_png(
    scan: QScan,
    gps: float,
    duration_s: float,
    path: str | os.PathLike,
    *,
    ifo: str = "H1",
    frange_hz: tuple[float, float] = FRANGE_HZ,
) -> Path:
    """Draw one 800x600 Omega-scan PNG the way Gravity Spy draws it and write it atomically.

    Axes at [0.125, 0.1, 0.775, 0.8] with a colorbar appended on the right (5 %, pad 3 %), log
    frequency axis 10-2048 Hz with power-of-two ticks, time axis from -d/2 to d/2 s, viridis with
    normalized energy 0-25.5, title "Hanford"/"Livingston". Each pixel of the axes shows the
    normalized energy at its centre, sampled by the same :func:`sample_scan` as the views.

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    if ifo not in IFO_TITLES:
        raise ValueError(f"unknown interferometer {ifo!r}; expected one of {sorted(IFO_TITLES)}")
    rows = (0, math.ceil(geometry.AXES_TOP_PX + geometry.AXES_HEIGHT_PX))
    cols = (math.floor(geometry.AXES_LEFT_PX), math.ceil(geometry.AXES_LEFT_PX + geometry.AXES_WIDTH_PX))
    times, frequencies = geometry.axes_pixel_grid(duration_s, gps, rows, cols, frange_hz)
    # Pixel-aligned quads: edges half a pixel either side of every sampled centre.
    x_edges = np.arange(cols[0], cols[1] + 1, dtype=np.float64)
    y_edges = np.arange(rows[0], rows[1] + 1, dtype=np.float64)
    t_edges = (x_edges - geometry.AXES_LEFT_PX) / geometry.AXES_WIDTH_PX * duration_s - duration_s / 2
    log_top, log_bottom = np.log(frange_hz[1]), np.log(frange_hz[0])
    f_edges = np.exp(
        log_top - (y_edges - geometry.AXES_TOP_PX) / geometry.AXES_HEIGHT_PX * (log_top - log_bottom)
    )
    inside = (frequencies <= frange_hz[1] * 1.01) & (frequencies >= frange_hz[0] * 0.99)
    energy = np.zeros((frequencies.size, times.size), dtype=np.float32)
    energy[inside] = geometry.sample_scan(scan, times, frequencies[inside], grid_start_s=gps - duration_s / 2)

    figure = Figure(figsize=geometry.PNG_FIGSIZE_IN, dpi=geometry.PNG_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes(geometry.AXES_RECT)
    low, high = gravity_spy.NORMALIZED_ENERGY_RANGE
    mesh = axes.pcolormesh(
        t_edges, f_edges, energy, cmap="viridis", norm=Normalize(low, high), shading="flat", antialiased=False
    )
    mesh.set_rasterized(True)
    axes.grid(False)
    axes.set_yscale("log", base=2)
    axes.set_xlim(-duration_s / 2, duration_s / 2)
    axes.set_ylim(*frange_hz)
    ticks = [2**k for k in range(4, 12) if frange_hz[0] < 2**k < frange_hz[1]]
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.set_xticks(np.linspace(-duration_s / 2, duration_s / 2, 5))
    axes.set_xticklabels([str(tick) for tick in np.linspace(-duration_s / 2, duration_s / 2, 5)])
    axes.tick_params(direction="in", which="both", top=True, right=True)
    axes.tick_params(axis="x", labelsize=15)
    axes.tick_params(axis="y", labelsize=12)
    axes.set_xlabel("Time (s)", labelpad=0.1, fontsize=20)
    axes.set_ylabel("Frequency (Hz)", fontsize=20)
    axes.set_title(IFO_TITLES[ifo], fontsize=20, y=1.05)
    colorbar_axes = make_axes_locatable(axes).append_axes(
        "right", size=f"{geometry.COLORBAR_SIZE:.0%}", pad=f"{geometry.COLORBAR_PAD:.0%}"
    )
    colorbar = figure.colorbar(mesh, cax=colorbar_axes, label="Normalized energy")
    colorbar.ax.grid(False)  # gwpy's style turns grids on
    colorbar.ax.tick_params(labelsize=12, direction="in")
    colorbar.ax.yaxis.label.set_size(15)
    path = Path(path)
    with atomic_path(path, kind=OMEGA_SCAN_PNG) as temporary:
        figure.savefig(temporary, format="png", dpi=geometry.PNG_DPI)
    return path


def write_gravityspy_pngs(
    scan: QScan,
    gps: float,
    directory: str | os.PathLike,
    *,
    ifo: str,
    gravityspy_id: str,
    durations_s: Sequence[float] = gravity_spy.VIEW_DURATIONS_S,
) -> list[Path]:
    """Write the four PNGs ``{ifo}_{id}_spectrogram_{d}.png`` of one scan into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        render_gravityspy_png(
            scan, gps, duration, directory / png_filename(ifo, gravityspy_id, duration), ifo=ifo
        )
        for duration in durations_s
    ]
