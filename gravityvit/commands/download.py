"""``gravityvit download``: fetch the Gravity Spy training set from Zenodo (resume, md5 check).

Exit codes: 0 downloaded and verified, 1 network or checksum failure (a rerun resumes), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gravityvit.commands import common

HELP = "download the Gravity Spy training set from Zenodo"
DESCRIPTION = """
Download a Gravity Spy training-set version from Zenodo (v1d0: record 1476156, v1d1: record
1476551): the HDF5 file and the metadata CSV, and with --include-png the PNG archive. Files are
verified against the md5 checksums Zenodo lists; an interrupted download resumes on the next run.
"""
EPILOG = "Exit status: 0 downloaded and verified, 1 network or checksum failure, 2 usage error."

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``download`` subcommand."""
    parser = common.add_subcommand(subparsers, "download", run, HELP, DESCRIPTION, EPILOG)
    parser.add_argument(
        "--version", choices=("v1d0", "v1d1"), default="v1d1", help="training-set version (default v1d1)"
    )
    parser.add_argument("--include-png", action="store_true", help="also download the PNG archive")
    parser.add_argument(
        "--extract",
        action="store_true",
        help="unpack the PNG archive into OUTPUT/png (for convert --png-dir)",
    )
    parser.add_argument("--output", type=Path, required=True, metavar="DIR", help="destination folder")
    parser.add_argument(
        "--endpoint", default="https://zenodo.org", help="Zenodo base URL (default https://zenodo.org)"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="accept files the record lists without an md5 checksum (kept unverified; refused by default)",
    )


def run(args: argparse.Namespace) -> int:
    """Download, verify, optionally extract; print the next command to run."""
    if args.extract and not args.include_png:
        print("gravityvit download: error: --extract needs --include-png", file=sys.stderr)
        return EXIT_USAGE
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from gravityvit.data.download import ARCHIVE_SUFFIXES, download_gravityspy, extract_archive

    try:
        paths = download_gravityspy(
            args.version,
            args.output,
            include_png=args.include_png,
            endpoint=args.endpoint,
            verify=not args.no_verify,
        )
        archives = [path for name, path in paths.items() if name.endswith(ARCHIVE_SUFFIXES)]
        if args.extract:
            for archive in archives:
                target = args.output / "png"
                print(f"extracting {archive} into {target}")
                extract_archive(archive, target)
    except (OSError, RuntimeError, ValueError) as error:  # unreachable, checksum, interrupted, HTTP errors
        print(f"gravityvit download: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    for path in paths.values():
        print(f"verified {path}")
    hdf5 = [path for name, path in paths.items() if name.endswith((".h5", ".hdf5"))]
    csvs = [path for name, path in paths.items() if name.endswith(".csv")]
    metadata = f" --metadata {csvs[0]}" if csvs else ""
    if hdf5:
        print(f"next: gravityvit convert --hdf5 {hdf5[0]}{metadata} --output {args.output / 'arrow'}")
    elif args.extract:
        print(
            f"next: gravityvit convert --png-dir {args.output / 'png'}{metadata} --output {args.output / 'arrow'}"
        )
    return EXIT_OK
