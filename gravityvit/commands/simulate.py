"""``gravityvit simulate``: a simulated Gravity Spy training set in the Zenodo HDF5 layout.

Calls ``gravityvit.data.simulation.simulate_dataset``: 22 randomised glitch families in Gaussian
detector noise, turned into the four Omega-scan views by the same front end as real strain, split
70/15/15 per class, with a v1d1-style metadata CSV beside the file. Exit codes: 0 written, 1 error
(nothing is left behind), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from gravityvit.commands import common

HELP = "simulate a 22-class Gravity Spy training set (HDF5 + metadata CSV)"
DESCRIPTION = """
Simulate glitches of the 22 Gravity Spy classes in Gaussian detector noise and write their four
Omega-scan views in the Zenodo HDF5 layout f[label][sample_type][id]['0.5.png'...], with a metadata
CSV (gravityspy_id, label, ifo, snr, peak_frequency, duration, sample_type, ...). The same --seed
gives the same file for any --num-proc.
"""
EPILOG = "Exit status: 0 written, 1 error, 2 usage error. See docs/simulator.md."

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = common.add_subcommand(subparsers, "simulate", run, HELP, DESCRIPTION, EPILOG)
    parser.add_argument("--output", type=Path, required=True, metavar="FILE.h5", help="HDF5 file to write")
    counts = parser.add_mutually_exclusive_group(required=True)
    counts.add_argument("--samples-per-class", type=int, metavar="N", help="N samples of every class")
    counts.add_argument(
        "--like-v1d1",
        action="store_true",
        help="the class counts of the real v1d1 training set (7,966 samples) times --scale",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        metavar="S",
        help="with --like-v1d1: multiply every class count by S, rounded, at least 1 (default 1)",
    )
    parser.add_argument(
        "--label-set",
        choices=("v1", "o3"),
        default="v1",
        help="the classes: v1's 22 (default) or the 23 of Gravity Spy's O3 model",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument("--num-proc", type=int, default=1, metavar="P", help="worker processes (default 1)")
    parser.add_argument(
        "--metadata-csv",
        type=Path,
        metavar="CSV",
        help="metadata CSV to write (default: <output stem>_metadata.csv beside the HDF5 file)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Simulate and write the data set; return the exit code."""
    if args.scale != 1.0 and not args.like_v1d1:
        print("gravityvit simulate: --scale applies only with --like-v1d1", file=sys.stderr)
        return EXIT_USAGE
    if args.samples_per_class is not None and args.samples_per_class < 1:
        print("gravityvit simulate: --samples-per-class must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.like_v1d1 and args.label_set != "v1":
        print(
            "gravityvit simulate: --like-v1d1 gives the v1 class counts; use --samples-per-class",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.num_proc < 1 or not args.scale > 0:
        print("gravityvit simulate: --num-proc must be at least 1 and --scale positive", file=sys.stderr)
        return EXIT_USAGE

    from gravityvit.data.simulation import class_counts, default_metadata_csv, simulate_dataset

    counts = class_counts(
        args.samples_per_class, like_v1d1=args.like_v1d1, scale=args.scale, label_set=args.label_set
    )
    total = sum(counts.values())
    metadata_csv = args.metadata_csv or default_metadata_csv(args.output)
    start = time.perf_counter()
    try:
        simulate_dataset(
            args.output,
            samples_per_class=args.samples_per_class,
            like_v1d1=args.like_v1d1,
            scale=args.scale,
            seed=args.seed,
            num_proc=args.num_proc,
            metadata_csv=metadata_csv,
            progress=not args.no_progress,
            label_set=args.label_set,
        )
    except (OSError, ValueError) as error:
        logging.getLogger(__name__).debug("simulate failed", exc_info=True)
        print(f"gravityvit simulate: {error}", file=sys.stderr)
        return EXIT_ERROR
    elapsed = time.perf_counter() - start
    print(
        f"wrote {total} samples ({len(counts)} classes) to {args.output} and {metadata_csv} "
        f"in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.1f} samples/s, {args.num_proc} process(es))"
    )
    return EXIT_OK
