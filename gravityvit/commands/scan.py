"""``gravityvit scan``: strain file + GPS time(s) -> Gravity Spy's four Omega-scan views.

Reads any strain gwpy reads (GWOSC HDF5, GWF with ``--channel``, two-column TXT), scans each GPS
time once with Gravity Spy's parameters (``gravityvit.data.omega``) and writes into ``--output``:

- ``views.npz``: ``views`` float32 (N, 4, 140, 170) in [0, 1] (durations 0.5, 1, 2, 4 s; row 0 the
  highest frequency), ``gps`` (N,), ``ifo``, and per time the scan's ``q``, ``peak_time``,
  ``peak_frequency`` (Hz) and ``snr`` of the loudest tile; ``numpy.load`` reads it;
- with ``--png``, Gravity Spy's 800x600 PNGs ``{ifo}_{id}_spectrogram_{d}.png`` with id
  ``gps`` written with a ``p`` for the point (e.g. ``1126259462p391``).

The output directory is written atomically. Exit codes: 0 written, 1 bad input (unreadable file,
too little data, low sample rate, NaNs: the message says which), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gravityvit.commands import common

HELP = "Omega-scan strain around GPS times into Gravity Spy views (and PNGs)"
DESCRIPTION = """
Whiten the strain around each GPS time, compute one Q scan (qrange 4-64, 10-2048 Hz, loudest plane
within 0.5 s) and write the four views (0.5, 1, 2, 4 s) as Gravity Spy makes them, in views.npz,
optionally with the 800x600 PNGs.
"""
EPILOG = "Exit status: 0 written, 1 bad input, 2 usage error."

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2


def _scan_output_kind():
    from gravityvit.file_utils import OutputKind, directory_of_files

    # Outputs written before markers existed are recognised by their files.
    return OutputKind(
        "scan output",
        directory=True,
        recognise=directory_of_files("views.npz", "*_spectrogram_*.png", required=("views.npz",)),
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``scan`` subcommand."""
    parser = common.add_subcommand(subparsers, "scan", run, HELP, DESCRIPTION, EPILOG)
    parser.add_argument(
        "--strain", type=Path, required=True, metavar="FILE", help="strain file (HDF5, GWF, TXT)"
    )
    parser.add_argument(
        "--gps", type=float, nargs="+", required=True, metavar="T", help="GPS time(s) to scan"
    )
    parser.add_argument("--channel", metavar="NAME", help="channel name (GWF, multi-channel HDF5)")
    parser.add_argument(
        "--ifo", default=None, metavar="IFO", help="detector, H1 or L1 (default: from the channel)"
    )
    parser.add_argument("--output", type=Path, required=True, metavar="DIR", help="directory to write")
    parser.add_argument("--png", action="store_true", help="also draw Gravity Spy's 800x600 PNGs")
    parser.add_argument(
        "--asd-average",
        choices=("median", "mean"),
        default="median",
        help=(
            "average of the whitening ASD's periodograms: median (gwpy today, robust) or mean (Welch, "
            "as gwpy did for the Gravity Spy images; loud glitches then partly whiten themselves)"
        ),
    )


def png_id(gps: float) -> str:
    """PNG id of a scanned GPS time: millisecond GPS with ``p`` for the point, e.g. ``1126259462p391``."""
    return f"{gps:.3f}".replace(".", "p")


def _detector(args: argparse.Namespace, strain) -> str:
    if args.ifo:
        return args.ifo
    for name in (args.channel, getattr(strain, "channel", None), strain.name):
        text = str(name or "")
        if len(text) >= 2 and text[:2] in ("H1", "L1", "V1"):
            return text[:2]
    return "H1"


def run(args: argparse.Namespace) -> int:
    """Scan every GPS time and write the outputs; return the exit code."""
    import numpy as np

    from gravityvit.data.omega import (
        DATA_SPAN_S,
        IFO_TITLES,
        StrainError,
        load_strain,
        scan_to_views,
        whiten_and_scan,
        write_gravityspy_pngs,
    )
    from gravityvit.file_utils import OutputError, atomic_path, check_output

    if args.ifo is not None and args.ifo not in IFO_TITLES:
        print(
            f"gravityvit scan: unknown --ifo {args.ifo!r}; expected one of {sorted(IFO_TITLES)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:  # before the strain is read: only an earlier scan output may be replaced
        check_output(args.output, _scan_output_kind(), inputs=(args.strain,))
    except OutputError as error:
        print(f"gravityvit scan: --output {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        gps_min, gps_max = min(args.gps), max(args.gps)
        strain = load_strain(
            args.strain,
            args.channel,
            gps=(gps_min + gps_max) / 2,
            pad_s=(gps_max - gps_min) / 2 + DATA_SPAN_S / 2,
        )
        ifo = _detector(args, strain)
        records = []
        with atomic_path(args.output, kind=_scan_output_kind(), inputs=(args.strain,)) as directory:
            for gps in args.gps:
                try:
                    scan = whiten_and_scan(strain, gps, asd_average=args.asd_average)
                except StrainError as error:
                    raise StrainError(f"{args.strain} at GPS {gps}: {error}") from error
                records.append((gps, scan_to_views(scan, gps), scan))
                if args.png:
                    write_gravityspy_pngs(scan, gps, directory, ifo=ifo, gravityspy_id=png_id(gps))
            np.savez(
                directory / "views.npz",
                views=np.stack([views for _, views, _ in records]).astype(np.float32),
                gps=np.array([gps for gps, _, _ in records]),
                ifo=np.array(ifo),
                q=np.array([scan.q for _, _, scan in records]),
                peak_time=np.array([scan.peak_time_s for _, _, scan in records]),
                peak_frequency=np.array([scan.peak_frequency_hz for _, _, scan in records]),
                snr=np.array([scan.peak_snr for _, _, scan in records]),
            )
    except (OSError, ValueError) as error:
        print(f"gravityvit scan: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote views of {len(records)} time(s) to {args.output}")
    return EXIT_OK
