"""``gravityvit convert``: Gravity Spy HDF5 file or PNG folders -> Arrow ``DatasetDict`` on disk.

Calls ``gravityvit.data.arrow.convert_to_arrow``; ``conversion_scripts/convert_gravityspy_to_arrow.py``
is the same command as a script. Exit codes: 0 converted, 1 bad input (the error names the file,
sample and field), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gravityvit.commands import common

HELP = "convert Gravity Spy HDF5 / PNGs to an Arrow dataset"
EPILOG = "Exit status: 0 converted, 1 bad input (named in the message), 2 usage error."

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2
DESCRIPTION = """
Convert the Gravity Spy training set (the Zenodo HDF5 file, a simulated file in the same layout,
folders of Gravity Spy PNGs, or PNGs with a CSV of Gravity Spy's ML classification release) into an
Arrow DatasetDict (splits train/validation/test from sample_type, or by GPS time with a gap: --split
time; columns gravityspy_id, label, ifo, metadata, image_500ms ... image_4000ms as 16-bit PNG) saved
with save_to_disk, with gravityspy_stats.json (class counts, class weights, skipped samples) inside.
"""


def add_convert_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the converter's options to ``parser`` (shared by the subcommand and the script)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--hdf5", type=Path, metavar="FILE", help="Gravity Spy HDF5 file (Zenodo layout)")
    source.add_argument(
        "--png-dir",
        type=Path,
        metavar="DIR",
        help=(
            "folder of {Class}/{ifo}_{id}_spectrogram_{d}.png files (800x600 renderings or 569x479 Kaggle "
            "crops), or a Kaggle-style tree train|validation|test/{Class}/*.png whose folders give the split"
        ),
    )
    parser.add_argument(
        "--metadata",
        type=Path,
        metavar="CSV",
        help=(
            "metadata CSV joined on gravityspy_id (v1d1 or v1d0); with --png-dir, a CSV of Gravity Spy's ML "
            "classification release (O1-O3b: gravityspy_id, ml_label, ml_confidence, url1..url4, ...) gives the "
            "samples, matched to the PNGs by id or url file name, and their labels (ml_label)"
        ),
    )
    parser.add_argument(
        "--label-set",
        default="v1",
        metavar="SET",
        help=(
            "the dataset's classes: v1 (the 22 classes of the v1 training set, default), o3 (the 23 classes of "
            "Gravity Spy's O3 model) or a comma-separated list of class names"
        ),
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        metavar="X",
        help=(
            "with an ML classification CSV: keep only the rows with ml_confidence >= X (labels that are the "
            "production model's predictions: see docs/gravity_spy.md)"
        ),
    )
    parser.add_argument(
        "--output", type=Path, required=True, metavar="DIR", help="dataset directory to write"
    )
    parser.add_argument("--num-proc", type=int, default=1, metavar="N", help="worker processes (default 1)")
    parser.add_argument(
        "--on-bad-sample",
        choices=("error", "skip"),
        default="error",
        help="stop at the first bad sample (default) or skip bad samples and list them",
    )
    parser.add_argument(
        "--allow-missing-views",
        action="store_true",
        help=(
            "PNG folders: convert samples that lack some durations (e.g. real data with only the 4 s view), "
            "writing the missing image columns as null; without it such a sample is a bad sample"
        ),
    )
    parser.add_argument(
        "--metadata-conflict",
        choices=("error", "source", "metadata"),
        default="error",
        help=(
            "when the metadata CSV's label or sample_type disagrees with the HDF5 file / PNG folders: stop "
            "and name the ids (default), keep the source's, or take the CSV's"
        ),
    )
    parser.add_argument(
        "--split",
        choices=("sample_type", "time"),
        default="sample_type",
        help=(
            "sample_type (default): the splits of the source (Zenodo groups or the CSV's sample_type); time: "
            "order the samples by GPS time (the metadata CSV's --time-column) and split them 70/15/15 with a "
            "gap, so that glitches of the same minutes are not in both train and test"
        ),
    )
    parser.add_argument(
        "--gap-s",
        type=float,
        default=60.0,
        metavar="S",
        help=(
            "--split time: least seconds between samples of neighbouring splits; samples within S/2 of a "
            "boundary are left out and listed in the stats JSON (default 60)"
        ),
    )
    parser.add_argument(
        "--time-column",
        default="event_time",
        metavar="NAME",
        help="--split time: metadata CSV column of GPS times (default event_time)",
    )
    parser.add_argument(
        "--push-to-hub", metavar="REPO", help="also upload the dataset (Parquet) to this Hub repo"
    )
    parser.add_argument(
        "--no-overwrite",
        action="store_true",
        help=(
            "refuse to replace an earlier converted dataset at --output (by default it is replaced; "
            "anything else there is never touched)"
        ),
    )
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    parser = common.add_subcommand(subparsers, "convert", run, HELP, DESCRIPTION, EPILOG)
    add_convert_arguments(parser)


def _usage_error(args: argparse.Namespace) -> str | None:
    source = args.hdf5 if args.hdf5 is not None else args.png_dir
    if args.hdf5 is not None and not args.hdf5.is_file():
        return f"--hdf5 {args.hdf5}: no such file"
    if args.png_dir is not None and not args.png_dir.is_dir():
        return f"--png-dir {args.png_dir}: no such folder"
    if args.metadata is not None and not args.metadata.is_file():
        return f"--metadata {args.metadata}: no such file"
    if args.num_proc < 1:
        return f"--num-proc must be at least 1; got {args.num_proc}"
    if args.gap_s < 0:
        return f"--gap-s must be at least 0; got {args.gap_s}"
    if args.split == "time" and args.metadata is None:
        return (
            f"--split time needs --metadata CSV: the GPS time of each sample is its {args.time_column} column"
        )
    if args.allow_missing_views and args.hdf5 is not None:
        return "--allow-missing-views applies to --png-dir (an HDF5 file always has all four views)"
    from gravityvit.gravity_spy import resolve_label_set

    try:
        resolve_label_set(args.label_set)
    except ValueError as error:
        return f"--label-set {error}"
    if args.min_confidence is not None:
        if not 0.0 <= args.min_confidence <= 1.0:
            return f"--min-confidence must lie in [0, 1]; got {args.min_confidence}"
        from gravityvit.data.hdf5 import GravitySpyDataError
        from gravityvit.data.o3_release import is_ml_classification_csv

        try:
            ml_csv = args.metadata is not None and is_ml_classification_csv(args.metadata)
        except GravitySpyDataError as error:
            return f"--metadata {error}"
        if args.png_dir is None or not ml_csv:
            return (
                "--min-confidence applies to --png-dir with a --metadata CSV of Gravity Spy's ML classification "
                "release (columns ml_label and ml_confidence)"
            )
    from gravityvit.data.arrow import ARROW_DATASET
    from gravityvit.file_utils import OutputError, check_output

    try:
        check_output(
            args.output, ARROW_DATASET, overwrite=not args.no_overwrite, inputs=(source, args.metadata)
        )
    except OutputError as error:
        return f"--output {error}"
    return None


def run(args: argparse.Namespace) -> int:
    """Run the conversion; print the split sizes and where the dataset went."""
    problem = _usage_error(args)
    if problem:
        print(f"gravityvit convert: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from gravityvit.data.arrow import STATS_FILENAME, convert_to_arrow
    from gravityvit.data.hdf5 import GravitySpyDataError
    from gravityvit.file_utils import OutputError

    source = args.hdf5 if args.hdf5 is not None else args.png_dir
    try:
        dataset_dict = convert_to_arrow(
            source,
            args.output,
            metadata_csv=args.metadata,
            num_proc=args.num_proc,
            on_bad_sample=args.on_bad_sample,
            push_to_hub=args.push_to_hub,
            overwrite=not args.no_overwrite,
            allow_missing_views=args.allow_missing_views,
            metadata_conflict=args.metadata_conflict,
            split_by=args.split,
            gap_s=args.gap_s,
            time_column=args.time_column,
            label_set=args.label_set,
            min_confidence=args.min_confidence,
        )
    except OutputError as error:  # the output changed while the source was read
        print(f"gravityvit convert: error: --output {error}", file=sys.stderr)
        return EXIT_USAGE
    except (GravitySpyDataError, FileNotFoundError) as error:
        # Skipping helps only against a bad sample, not against an unreadable file or metadata CSV.
        per_sample = isinstance(error, GravitySpyDataError) and error.sample is not None
        hint = " (use --on-bad-sample skip to leave bad samples out)" if per_sample else ""
        print(f"gravityvit convert: error: {error}{hint}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as error:  # push_to_hub failed: the dataset is on disk
        print(f"gravityvit convert: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sizes = ", ".join(f"{split} {len(dataset)}" for split, dataset in dataset_dict.items())
    if args.split == "time":
        import json

        print(json.loads((args.output / STATS_FILENAME).read_text())["split"]["summary"])
    print(f"wrote {args.output} ({sizes}); class counts and weights in {args.output / STATS_FILENAME}")
    return EXIT_OK
