"""Reader of Gravity Spy's machine-learning classification release (O1 to O3b) with its PNGs.

Gravity Spy published the classifications of every Omicron trigger of O1, O2, O3a and O3b by its
production model (Glanzer et al. 2023, Zenodo record 5649212) as one CSV per detector and run. A row
is one glitch: its ``gravityspy_id``, ``ifo``, ``event_time`` (GPS s), Omicron's ``peak_frequency``,
``snr``, ``duration``, ..., one score column per class, the model's ``ml_label`` (the class with
the highest score) and ``ml_confidence`` (that score), and ``url1`` to ``url4``, the addresses of
the 0.5, 1, 2 and 4 s Omega-scan PNGs. There is no HDF5 file and no ``label`` or ``sample_type``
column: the labels are the production model's own predictions.

``GravitySpyO3Reader`` joins such a CSV with a folder of the PNGs a user downloaded: a row's views
are the files named ``{ifo}_{gravityspy_id}_spectrogram_{d}.png`` (Gravity Spy's file names,
anywhere under the folder), or else the files named as the last part of its ``url1`` ... ``url4``.
The label is ``ml_label``; ``min_confidence`` keeps only the rows with ``ml_confidence`` at or above
it. Rows without any PNG in the folder are not samples (the CSVs list hundreds of thousands of
glitches); the reader counts them, and the PNGs that no kept row claims, in ``selection``.

Accuracy measured against these labels is agreement with the production model, not accuracy
against human labels (``docs/gravity_spy.md``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gravityvit.data.hdf5 import GravitySpyDataError, read_metadata_csv, unknown_class_reason
from gravityvit.data.png import DURATION_LABELS, GravitySpyPNGReader, PNGEntry
from gravityvit.gravity_spy import PNG_NAME_PATTERN, SPLITS, duration_label, resolve_label_set

ML_LABEL_COLUMN = "ml_label"
ML_CONFIDENCE_COLUMN = "ml_confidence"
# Columns a row needs; the release's other columns are kept as metadata when present.
REQUIRED_COLUMNS: tuple[str, ...] = ("gravityspy_id", ML_LABEL_COLUMN, ML_CONFIDENCE_COLUMN)
# url1 ... url4 are the images of the four durations, in view order (0.5, 1, 2, 4 s).
URL_COLUMNS: tuple[str, ...] = ("url1", "url2", "url3", "url4")
LABEL_SOURCE = "ml_label: the predictions of Gravity Spy's production model, not human labels"


def read_csv_columns(path: str | os.PathLike) -> list[str]:
    """The column names of a CSV file's header (stripped; empty and pandas-index columns left out)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GravitySpyDataError(f"cannot read the CSV header: {error}", source=str(path)) from error
    return [name.strip() for name in header if name.strip() and not name.startswith("Unnamed:")]


def is_ml_classification_csv(path: str | os.PathLike) -> bool:
    """Whether a CSV is in the style of the ML classification release: ``ml_label``, no ``label`` column."""
    columns = read_csv_columns(path)
    return ML_LABEL_COLUMN in columns and "label" not in columns


class GravitySpyO3Reader(GravitySpyPNGReader):
    """Samples of an ML classification CSV (O3 release style) whose PNGs are in a folder.

    Item ``i`` is a ``GravitySpySample`` labelled with the row's ``ml_label``; the row's other
    columns (``ml_confidence``, ``event_time``, the per-class scores, ...) are its metadata.

    Parameters
    ----------
    root : path
        Folder searched recursively for the PNGs (class folders, if any, are not read as labels).
    metadata_csv : path
        The release's CSV (``gravityspy_id``, ``ml_label``, ``ml_confidence`` required).
    label_set : str or sequence of str, optional
        The classes (``gravity_spy.resolve_label_set``): ``"v1"`` (the default, the classes of
        the O1/O2 rows) or ``"o3"`` (the 23 classes of the O3 rows). A row whose ``ml_label`` is
        not one of them fails on access, naming the id and the label.
    min_confidence : float, optional
        Keep only the rows with ``ml_confidence >= min_confidence`` (in [0, 1]).
    default_sample_type : str
        Split of the samples that neither a ``sample_type`` column nor a ``train`` / ``validation``
        / ``test`` folder above their PNGs assigns ("test" by default).
    allow_missing_views : bool
        Read a sample that lacks some durations with those views masked (see
        ``GravitySpyPNGReader``).

    Attributes
    ----------
    selection : dict
        How the CSV rows and PNGs were matched: ``csv_rows``, ``below_min_confidence``,
        ``without_png``, ``samples``, ``unused_pngs``, ``min_confidence``, ``label_source``.

    Raises
    ------
    GravitySpyDataError
        Naming the CSV and the column for a missing required column, and the sample for an
        ``ml_confidence`` that is not a number in [0, 1]; naming the folder when no row has a PNG.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        metadata_csv: str | os.PathLike,
        *,
        label_set: str | Sequence[str] | None = None,
        min_confidence: float | None = None,
        default_sample_type: str = "test",
        allow_missing_views: bool = False,
    ):
        self.root = self.path = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"Gravity Spy PNG folder not found: {self.root}")
        if default_sample_type not in SPLITS:
            raise ValueError(
                f"default_sample_type must be one of {list(SPLITS)}; got {default_sample_type!r}"
            )
        if min_confidence is not None and not 0.0 <= float(min_confidence) <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1]; got {min_confidence}")
        self.class_names = resolve_label_set(label_set)
        self.min_confidence = None if min_confidence is None else float(min_confidence)
        self.default_sample_type = default_sample_type
        self.allow_missing_views = allow_missing_views
        # The ML labels are the model's predictions: the training set's label corrections do not apply.
        self.apply_label_corrections = False
        self.metadata_csv = Path(metadata_csv)
        self._metadata, self.metadata_column_types = read_metadata_csv(self.metadata_csv)
        missing = [column for column in REQUIRED_COLUMNS if column not in self.metadata_column_types]
        if missing:
            raise GravitySpyDataError(
                f"the ML classification CSV has no {missing[0]!r} column (required: {list(REQUIRED_COLUMNS)}; "
                f"columns: {list(self.metadata_column_types)})",
                source=str(self.metadata_csv),
                field=missing[0],
            )
        self._entries = self._build_index()
        if not self._entries:
            raise GravitySpyDataError(
                f"none of the {self.selection['csv_rows'] - self.selection['below_min_confidence']} CSV rows kept "
                f"(of {self.selection['csv_rows']}; min_confidence {self.min_confidence}) has a PNG in the folder: "
                "expected {ifo}_{gravityspy_id}_spectrogram_{d}.png or the file names of url1 ... url4",
                source=str(self.root),
            )

    def _build_index(self) -> list[PNGEntry]:
        by_name: dict[tuple[str, str], list[Path]] = {}  # (gravityspy_id, duration) -> files
        by_basename: dict[str, list[Path]] = {}
        pngs = sorted(self.root.rglob("*.png"))
        for path in pngs:
            match = PNG_NAME_PATTERN.match(path.name)
            if match is not None:
                try:
                    duration = duration_label(float(match["duration"]))
                except ValueError:
                    duration = None
                if duration in DURATION_LABELS:
                    by_name.setdefault((match["gravityspy_id"], duration), []).append(path)
                    continue
            by_basename.setdefault(path.name, []).append(path)

        entries: list[PNGEntry] = []
        used: set[Path] = set()
        below, without_png = 0, 0
        for gravityspy_id, row in self._metadata.items():
            if not self._kept(gravityspy_id, row):
                below += 1
                continue
            files: dict[str, Path] = {}
            problems: list[str] = []
            for duration, url_column in zip(DURATION_LABELS, URL_COLUMNS):
                candidates = by_name.get((gravityspy_id, duration))
                if not candidates and row.get(url_column):
                    candidates = by_basename.get(str(row[url_column]).rstrip("/").rsplit("/", 1)[-1])
                if not candidates:
                    continue
                files[duration] = candidates[0]
                used.update(candidates)
                if len(candidates) > 1:
                    problems.append(
                        f"{len(candidates)} PNGs of the {duration} s view: {[str(c) for c in candidates]}"
                    )
            if not files:
                without_png += 1
                continue
            first = next(iter(files.values()))
            name_match = PNG_NAME_PATTERN.match(first.name)
            ifo = row.get("ifo") or (name_match["ifo"] if name_match else "")
            entries.append(
                PNGEntry(
                    label=str(row[ML_LABEL_COLUMN]),
                    sample_type=self._split_of(row, first),
                    gravityspy_id=gravityspy_id,
                    ifo=str(ifo),
                    folder=first.parent,
                    files=tuple(sorted(files.items(), key=lambda item: float(item[0]))),
                    problem="; ".join(problems) or None,
                )
            )
        class_order = {name: i for i, name in enumerate(self.class_names)}
        entries.sort(key=lambda e: (class_order.get(e.label, len(class_order)), e.label, e.gravityspy_id))
        self.selection: dict[str, Any] = {
            "csv_rows": len(self._metadata),
            "below_min_confidence": below,
            "without_png": without_png,
            "samples": len(entries),
            "unused_pngs": len(pngs) - len(used),
            "min_confidence": self.min_confidence,
            "label_source": LABEL_SOURCE,
        }
        return entries

    def _kept(self, gravityspy_id: str, row: dict[str, Any]) -> bool:
        """Whether a row passes ``min_confidence``; raises for an ``ml_confidence`` outside [0, 1]."""
        confidence = row.get(ML_CONFIDENCE_COLUMN)
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, (int, float))
            or not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0)
        ):
            raise GravitySpyDataError(
                f"ml_confidence must be a number in [0, 1]; got {confidence!r}",
                source=str(self.metadata_csv),
                sample=gravityspy_id,
                field=ML_CONFIDENCE_COLUMN,
            )
        return self.min_confidence is None or confidence >= self.min_confidence

    def _split_of(self, row: dict[str, Any], first_png: Path) -> str:
        """The row's ``sample_type``, else a split folder between the root and its PNG, else the default."""
        if row.get("sample_type") is not None:
            return str(row["sample_type"])
        folders = first_png.parent.relative_to(self.root).parts
        return next((folder for folder in reversed(folders) if folder in SPLITS), self.default_sample_type)

    def _read(self, entry: PNGEntry):
        if entry.label not in self.class_names:
            raise GravitySpyDataError(
                unknown_class_reason(entry.label, self.class_names, "ml_label"),
                str(self.metadata_csv),
                entry.gravityspy_id,
                ML_LABEL_COLUMN,
            )
        return super()._read(entry)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.root)!r}, metadata_csv={str(self.metadata_csv)!r}, "
            f"samples={len(self)}, min_confidence={self.min_confidence})"
        )


__all__ = [
    "LABEL_SOURCE",
    "ML_CONFIDENCE_COLUMN",
    "ML_LABEL_COLUMN",
    "REQUIRED_COLUMNS",
    "URL_COLUMNS",
    "GravitySpyO3Reader",
    "is_ml_classification_csv",
    "read_csv_columns",
]
