"""Strain I/O: read strain from the files gwpy reads (GWOSC HDF5, GWF, TXT, gwpy HDF5), move it in time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gwpy.timeseries import TimeSeries


def load_strain(
    path: str | os.PathLike,
    channel: str | None = None,
    *,
    gps: float | None = None,
    pad_s: float | None = None,
) -> TimeSeries:
    """Read strain from any file gwpy reads (GWOSC HDF5, GWF with a channel, two-column TXT, gwpy HDF5).

    Parameters
    ----------
    path : path
        The strain file.
    channel : str, optional
        Channel name (required for GWF, and for HDF5 files holding several series).
    gps : float, optional
        Centre of the stretch to read; with ``pad_s`` only ``[gps - pad_s, gps + pad_s)`` is read.
    pad_s : float, optional
        Half-length in seconds of the stretch to read (default: the whole file).

    Returns
    -------
    gwpy.timeseries.TimeSeries

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, or a file gwpy cannot read (the message names it and what was tried).
    """
    from gwpy.timeseries import TimeSeries

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"strain file not found: {path}")
    suffix = path.suffix.lower()
    attempts: list[tuple[str | None, dict]] = []
    if suffix in (".h5", ".hdf5", ".hdf"):
        attempts = [("hdf5.gwosc", {}), ("hdf5", {"path": channel} if channel else {})]
    elif suffix == ".gwf":
        if channel is None:
            raise ValueError(f"{path}: reading a GWF file needs --channel (e.g. H1:GWOSC-16KHZ_R1_STRAIN)")
        attempts = [("gwf", {})]
    elif suffix in (".txt", ".dat", ".csv", ".gz"):
        attempts = [("txt", {})]
    else:
        attempts = [(None, {})]
    errors = []
    for format_name, extra in attempts:
        args = (path,) if channel is None or format_name in ("hdf5.gwosc", "txt", "hdf5") else (path, channel)
        kwargs = dict(extra)
        if format_name is not None:
            kwargs["format"] = format_name
        try:
            strain = TimeSeries.read(*args, **kwargs)
        except Exception as error:  # gwpy raises many types; report them all together
            errors.append(f"{format_name or 'auto'}: {type(error).__name__}: {error}")
            continue
        if gps is not None and pad_s is not None:
            # Keep what the file has of the requested stretch; the scan says if it is too little.
            start = max(float(gps) - pad_s, float(strain.span[0]))
            end = min(float(gps) + pad_s, float(strain.span[1]))
            if end <= start:
                raise ValueError(
                    f"{path}: data cover GPS [{float(strain.span[0]):.3f}, {float(strain.span[1]):.3f}), "
                    f"nothing within {pad_s:g} s of {float(gps):.3f}"
                )
            if (start, end) != (float(strain.span[0]), float(strain.span[1])):
                strain = strain.crop(start, end)
        return strain
    raise ValueError(f"cannot read strain from {path}: " + "; ".join(errors))


def roll_strain(strain: TimeSeries, steps: int) -> TimeSeries:
    """``strain`` with its samples moved ``steps`` later, circularly, at the same start time and rate.

    What a glitch moved in time looks like to a scan around an unchanged trigger time, as long as the
    samples that wrap around stay outside the views.
    """
    from gwpy.timeseries import TimeSeries

    if not steps:
        return strain
    return TimeSeries(
        np.roll(np.asarray(strain.value), steps),
        t0=strain.t0,
        sample_rate=strain.sample_rate,
        name=strain.name,
    )
