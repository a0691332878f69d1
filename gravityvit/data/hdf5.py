"""Reader and writer of the Gravity Spy training-set HDF5 layout (Zenodo v1d0 / v1d1).

The layout (``docs/gravity_spy.md``)::

    f[label][sample_type][gravityspy_id]["0.5.png" | "1.0.png" | "2.0.png" | "4.0.png"]

with every dataset of shape ``(1, 140, 170)``, float32, values in [0, 1] (rows are frequency, row 0
the highest; columns are time). The writer produces exactly this layout, so that a file written by
the simulator is read by the same code (and by Gravity Spy's own readers) as the real one.

The metadata CSV that accompanies the HDF5 file is joined on ``gravityspy_id``: the v1d1 CSV has 28
columns (event_time, ifo, peak_frequency, snr, ..., gravityspy_id, label, sample_type, url1..url4),
the v1d0 CSV only gravityspy_id, label and sample_type.
"""

from __future__ import annotations

import abc
import contextlib
import csv
import dataclasses
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gravityvit.file_utils import OutputKind, atomic_path, check_output, csv_with_header
from gravityvit.gravity_spy import (
    HDF5_VIEW_KEYS,
    KNOWN_CLASS_NAMES,
    LABEL_SETS,
    SPLITS,
    VIEW_SHAPE,
    describe_label_set,
    resolve_label_set,
)

# Known label errors of the published training set, corrected on reading (``apply_label_corrections``).
# VXw4KBWl5g is filed under another class in the Zenodo file but is a Paired_Doves (docs/gravity_spy.md).
LABEL_CORRECTIONS: dict[str, str] = {"VXw4KBWl5g": "Paired_Doves"}

# Columns of the metadata CSV that are fields of GravitySpySample, not entries of ``metadata``.
KEY_COLUMNS: tuple[str, ...] = ("gravityspy_id", "label", "sample_type", "ifo")

# Gravity Spy ids are 10 alphanumeric characters; simulated ids may be longer or use _ and -.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
NUM_VIEWS = len(HDF5_VIEW_KEYS)
# Interpolation and float rounding may overshoot [0, 1] by a hair: such values are clipped, not refused.
VALUE_TOLERANCE = 1e-5
# Root attribute that marks a file written by ``GravitySpyHDF5Writer``: only such a file (not, e.g.,
# the Zenodo training set) may be replaced by a new one.
WRITER_ATTRIBUTE = "gravityvit_writer"


def _written_by_gravityvit(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as handle:
            return WRITER_ATTRIBUTE in handle.attrs
    except (OSError, ValueError):
        return False


GRAVITYSPY_HDF5 = OutputKind("Gravity Spy HDF5 file", recognise=_written_by_gravityvit)
# The writer's metadata CSV starts with the key columns, in this order (the Zenodo CSVs do not).
METADATA_CSV = OutputKind("metadata CSV", recognise=csv_with_header(*KEY_COLUMNS))


class GravitySpyDataError(ValueError):
    """Bad Gravity Spy input: the message names the file, the sample and the field at fault.

    Attributes
    ----------
    source : str or None
        File (or folder) the bad data came from.
    sample : str or None
        The sample, as its HDF5 path ``label/sample_type/gravityspy_id`` or its id.
    field : str or None
        The field at fault, e.g. ``"1.0.png"``, ``"label"`` or ``"views"``.
    """

    def __init__(
        self, reason: str, source: str | None = None, sample: str | None = None, field: str | None = None
    ):
        self.reason, self.source, self.sample, self.field = reason, source, sample, field
        where = ", ".join(
            part
            for part in (
                f"file {source}" if source else "",
                f"sample {sample}" if sample else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)

    def __reduce__(self):
        # Keep the named parts when the error crosses a process boundary (num_proc workers).
        return (type(self), (self.reason, self.source, self.sample, self.field))


@dataclasses.dataclass
class GravitySpySample:
    """One Gravity Spy sample: four Omega-scan views of one glitch and its labels.

    Attributes
    ----------
    gravityspy_id : str
        The sample id (10 characters in the real data set, e.g. ``zmIdpucyOG``).
    label : str
        A class of the label set read or written (v1's ``gravity_spy.CLASS_NAMES`` by default).
    sample_type : str
        The split: ``train``, ``validation`` or ``test``.
    views : np.ndarray
        float32 array of shape (4, 140, 170), values in [0, 1], in the order of
        ``gravity_spy.VIEW_DURATIONS_S`` (0.5, 1, 2, 4 s); row 0 is the highest frequency.
    ifo : str or None
        Detector (``H1`` or ``L1``) when known.
    metadata : dict
        Further columns of the metadata CSV (snr, peak_frequency in Hz, duration in s, event_time in
        GPS s, ...), values typed as int, float or str.
    view_mask : np.ndarray or None
        bool (4,), ``True`` where the view is present; ``None`` (the default) when all four are. A
        missing view (a PNG folder read with ``allow_missing_views=True``) is all zeros in ``views``.
    """

    gravityspy_id: str
    label: str
    sample_type: str
    views: np.ndarray
    ifo: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    view_mask: np.ndarray | None = None

    @property
    def present_views(self) -> list[np.ndarray | None]:
        """The four views in duration order, ``None`` for a missing one."""
        if self.view_mask is None:
            return list(self.views)
        return [view if present else None for view, present in zip(self.views, self.view_mask)]

    @property
    def hdf5_path(self) -> str:
        """The sample's group in the HDF5 layout: ``label/sample_type/gravityspy_id``."""
        return f"{self.label}/{self.sample_type}/{self.gravityspy_id}"


def unknown_class_reason(label: Any, class_names: Sequence[str], what: str = "class") -> str:
    """The reason given for a label outside ``class_names``: the set, its classes, how to pick another."""
    other_sets = [
        name for name, names in LABEL_SETS.items() if label in names and tuple(class_names) != names
    ]
    hint = (
        f" ({label!r} is a class of the label set {other_sets[0]!r}: convert with --label-set {other_sets[0]})"
        if other_sets
        else ""
    )
    return f"unknown {what} {label!r}: not in {describe_label_set(class_names)} {list(class_names)}{hint}"


def validate_view(
    view: np.ndarray, *, source: str | None = None, sample: str | None = None, field: str | None = None
) -> np.ndarray:
    """Check one view and return it as a float32 (140, 170) array.

    Accepts shape (140, 170) or the HDF5 dataset shape (1, 140, 170). Raises ``GravitySpyDataError``
    naming ``source``, ``sample`` and ``field`` for a wrong shape, a non-numeric dtype, NaN or
    infinite values, or values outside [0, 1]; an overshoot within ``VALUE_TOLERANCE`` (1e-5, float
    rounding of an interpolation) is clipped instead.
    """
    array = np.asarray(view)
    if array.shape == (1, *VIEW_SHAPE):
        array = array[0]
    if array.shape != VIEW_SHAPE:
        raise GravitySpyDataError(
            f"a view must have shape (1, 140, 170) or (140, 170); got {array.shape}",
            source=source,
            sample=sample,
            field=field,
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise GravitySpyDataError(
            f"a view must be numeric; got dtype {array.dtype}", source=source, sample=sample, field=field
        )
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        raise GravitySpyDataError(
            f"{int((~finite).sum())} NaN or infinite pixel values", source=source, sample=sample, field=field
        )
    low, high = float(array.min()), float(array.max())
    if low < -VALUE_TOLERANCE or high > 1.0 + VALUE_TOLERANCE:
        raise GravitySpyDataError(
            f"pixel values must lie in [0, 1]; got [{low:.6g}, {high:.6g}]",
            source=source,
            sample=sample,
            field=field,
        )
    if low < 0.0 or high > 1.0:
        array = np.clip(array, 0.0, 1.0)
    return array


def validate_views(views: np.ndarray, *, source: str | None = None, sample: str | None = None) -> np.ndarray:
    """Check the four views of a sample and return them as a float32 (4, 140, 170) array.

    Raises ``GravitySpyDataError`` naming the view (e.g. ``"2.0.png"``) at fault.
    """
    array = np.asarray(views)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (NUM_VIEWS, *VIEW_SHAPE):
        raise GravitySpyDataError(
            f"views must have shape (4, 140, 170) (0.5, 1, 2, 4 s); got {array.shape}",
            source=source,
            sample=sample,
            field="views",
        )
    return np.stack(
        [
            validate_view(array[i], source=source, sample=sample, field=key)
            for i, key in enumerate(HDF5_VIEW_KEYS)
        ]
    )


def validate_gravityspy_id(
    gravityspy_id: Any, *, source: str | None = None, sample: str | None = None
) -> None:
    """Check a sample id with the one rule that readers and writers share.

    1-64 characters of A-Z, a-z, 0-9, ``_`` or ``-``: no ``..``, path separators, spaces or non-ASCII
    letters, so an id is safe as a file name and the same in every format.
    """
    if not isinstance(gravityspy_id, str) or not _ID_PATTERN.match(gravityspy_id):
        raise GravitySpyDataError(
            f"gravityspy_id must be 1-64 characters of A-Z, a-z, 0-9, _ or -; got {gravityspy_id!r}",
            source=source,
            sample=sample or str(gravityspy_id),
            field="gravityspy_id",
        )


def validate_sample_keys(
    gravityspy_id: Any,
    label: Any,
    sample_type: Any,
    *,
    source: str | None = None,
    class_names: Sequence[str] = KNOWN_CLASS_NAMES,
) -> None:
    """Check the id, label and split of a sample; raise ``GravitySpyDataError`` naming the bad field.

    ``class_names`` are the accepted labels: by default every class of a named label set (v1, o3).
    """
    validate_gravityspy_id(gravityspy_id, source=source)
    if label not in class_names:
        raise GravitySpyDataError(
            unknown_class_reason(label, class_names)
            if tuple(class_names) != KNOWN_CLASS_NAMES
            else f"unknown class {label!r}; expected a class of the label sets {sorted(LABEL_SETS)}: "
            f"{list(KNOWN_CLASS_NAMES)}",
            source=source,
            sample=gravityspy_id,
            field="label",
        )
    if sample_type not in SPLITS:
        raise GravitySpyDataError(
            f"unknown sample_type {sample_type!r}; expected one of {list(SPLITS)}",
            source=source,
            sample=gravityspy_id,
            field="sample_type",
        )


# ---------------------------------------------------------------------------------------------------
# Metadata CSV
# ---------------------------------------------------------------------------------------------------


def _parse_value(text: str) -> int | float | str | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _column_type(values: Iterable[Any]) -> str:
    """The narrowest of ``int64``, ``float64``, ``string`` that holds every non-empty value."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "string"
    if kinds <= {int}:
        return "int64"
    if kinds <= {int, float}:
        return "float64"
    return "string"


def read_metadata_csv(path: str | os.PathLike) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Read a Gravity Spy metadata CSV (v1d1's 28 columns or v1d0's 3) keyed by ``gravityspy_id``.

    Returns
    -------
    rows : dict
        ``{gravityspy_id: {column: value}}`` with values parsed as int, float, str or None (empty).
    column_types : dict
        ``{column: "int64" | "float64" | "string"}`` for every column, inferred over all rows
        (a column with both ints and floats is float64).

    Raises
    ------
    GravitySpyDataError
        When the file cannot be read or has no ``gravityspy_id`` column.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [
                c.strip() for c in (reader.fieldnames or []) if c.strip() and not c.startswith("Unnamed:")
            ]
            if "gravityspy_id" not in columns:
                raise GravitySpyDataError(
                    f"the metadata CSV has no gravityspy_id column (columns: {columns})",
                    source=str(path),
                    field="gravityspy_id",
                )
            rows: dict[str, dict[str, Any]] = {}
            for line_number, raw in enumerate(reader, start=2):
                # Unnamed columns (a pandas index written with to_csv) carry no metadata: drop them.
                row = {
                    key.strip(): _parse_value((value or "").strip())
                    for key, value in raw.items()
                    if key is not None and key.strip() and not key.startswith("Unnamed:")
                }
                gravityspy_id = raw.get("gravityspy_id") or raw.get(" gravityspy_id")
                gravityspy_id = (gravityspy_id or "").strip()
                if not gravityspy_id:
                    raise GravitySpyDataError(
                        f"empty gravityspy_id on line {line_number}", source=str(path), field="gravityspy_id"
                    )
                row["gravityspy_id"] = gravityspy_id  # keep ids as text even when they look numeric
                if gravityspy_id in rows:
                    warnings.warn(
                        f"{path}: gravityspy_id {gravityspy_id} appears more than once; keeping the first row",
                        stacklevel=2,
                    )
                    continue
                rows[gravityspy_id] = row
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GravitySpyDataError(f"cannot read the metadata CSV: {error}", source=str(path)) from error
    column_types = {column: _column_type(row.get(column) for row in rows.values()) for column in columns}
    for column in KEY_COLUMNS:
        if column in column_types:
            column_types[column] = "string"
    return rows, column_types


def _format_csv_value(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


# ---------------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------------


class GravitySpyHDF5Writer:
    """Write samples in the Zenodo HDF5 layout, and optionally a v1d1-style metadata CSV, atomically.

    Use as a context manager; the file (and CSV) appear at their paths only when the ``with`` block
    ends without error, and an existing file is left untouched when it fails::

        with GravitySpyHDF5Writer("sim.h5", metadata_csv="sim_metadata.csv") as writer:
            writer.write(sample)

    Parameters
    ----------
    path : path
        The HDF5 file to write.
    metadata_csv : path, optional
        Also write a CSV with columns ``gravityspy_id, label, sample_type, ifo`` followed by every
        ``metadata`` key seen (in first-seen order; a sample without a key leaves the cell empty).
    overwrite : bool
        Replace files written earlier by this writer on success; with ``False`` an existing file
        raises ``OutputError`` (a ``FileExistsError``). Any other file at either path (the Zenodo
        file, a CSV of other columns) is always refused.
    compression : str, optional
        h5py compression of the view datasets (e.g. ``"gzip"``). The Zenodo files are uncompressed
        (the default), which keeps random access cheap.
    label_set : str or sequence of str, optional
        The classes a sample may have (``gravity_spy.resolve_label_set``); by default any class of
        a named label set (v1's 22 and O3's 23).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        metadata_csv: str | os.PathLike | None = None,
        overwrite: bool = True,
        compression: str | None = None,
        label_set: str | Sequence[str] | None = None,
    ):
        self.path = Path(path)
        self.class_names = KNOWN_CLASS_NAMES if label_set is None else resolve_label_set(label_set)
        self.metadata_csv = Path(metadata_csv) if metadata_csv is not None else None
        self.overwrite = overwrite
        self.compression = compression
        self._stack: contextlib.ExitStack | None = None
        self._file: h5py.File | None = None
        self._rows: list[dict[str, Any]] = []
        self._columns: dict[str, None] = dict.fromkeys(KEY_COLUMNS)
        self._ids: set[str] = set()

    def __enter__(self) -> GravitySpyHDF5Writer:
        if self.metadata_csv is not None:
            # Both outputs are checked before either is started.
            check_output(self.metadata_csv, METADATA_CSV, overwrite=self.overwrite)
        stack = contextlib.ExitStack()
        try:
            temporary_h5 = stack.enter_context(
                atomic_path(self.path, kind=GRAVITYSPY_HDF5, overwrite=self.overwrite)
            )
            self._temporary_csv = (
                stack.enter_context(
                    atomic_path(self.metadata_csv, kind=METADATA_CSV, overwrite=self.overwrite)
                )
                if self.metadata_csv is not None
                else None
            )
            self._file = h5py.File(temporary_h5, "w")
            self._file.attrs[WRITER_ATTRIBUTE] = "gravityvit"
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __len__(self) -> int:
        return len(self._ids)

    def write(self, sample: GravitySpySample) -> None:
        """Validate one sample and write its four views at ``label/sample_type/gravityspy_id``.

        Raises ``GravitySpyDataError`` naming the sample and field for an invalid id, class or split,
        views of the wrong shape, NaN, values outside [0, 1], or an id written before.
        """
        if self._file is None:
            raise RuntimeError("GravitySpyHDF5Writer.write must be called inside its `with` block")
        source = str(self.path)
        validate_sample_keys(
            sample.gravityspy_id,
            sample.label,
            sample.sample_type,
            source=source,
            class_names=self.class_names,
        )
        if sample.gravityspy_id in self._ids:
            raise GravitySpyDataError(
                "this gravityspy_id was already written; ids must be unique across classes and splits",
                source=source,
                sample=sample.gravityspy_id,
                field="gravityspy_id",
            )
        if sample.ifo is not None and not isinstance(sample.ifo, str):
            raise GravitySpyDataError(
                f"ifo must be a string such as 'H1'; got {sample.ifo!r}",
                source=source,
                sample=sample.gravityspy_id,
                field="ifo",
            )
        if sample.view_mask is not None and not np.all(sample.view_mask):
            missing = [key for key, present in zip(HDF5_VIEW_KEYS, sample.view_mask) if not present]
            raise GravitySpyDataError(
                f"the HDF5 layout needs all four views; missing {missing}",
                source=source,
                sample=sample.hdf5_path,
                field=missing[0],
            )
        views = validate_views(sample.views, source=source, sample=sample.hdf5_path)
        group = (
            self._file.require_group(sample.label)
            .require_group(sample.sample_type)
            .create_group(sample.gravityspy_id)
        )
        for key, view in zip(HDF5_VIEW_KEYS, views):
            group.create_dataset(key, data=view[np.newaxis], dtype=np.float32, compression=self.compression)
        self._ids.add(sample.gravityspy_id)
        if self.metadata_csv is not None:
            row = {
                "gravityspy_id": sample.gravityspy_id,
                "label": sample.label,
                "sample_type": sample.sample_type,
                "ifo": sample.ifo,
            }
            for key, value in sample.metadata.items():
                if key in KEY_COLUMNS:
                    continue
                self._columns.setdefault(key, None)
                row[key] = value
            self._rows.append(row)

    def _write_csv(self) -> None:
        with open(self._temporary_csv, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            columns = list(self._columns)
            writer.writerow(columns)
            for row in self._rows:
                writer.writerow([_format_csv_value(row.get(column)) for column in columns])

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, self._stack = self._stack, None
        if stack is None:
            return False
        try:
            if self._file is not None:
                self._file.close()
                self._file = None
            if exc_type is None and self.metadata_csv is not None:
                self._write_csv()
        except BaseException as error:
            # The atomic paths delete their temporary files when they see the error.
            stack.__exit__(type(error), error, error.__traceback__)
            raise
        return bool(stack.__exit__(exc_type, exc, traceback))


def write_gravityspy_hdf5(
    path: str | os.PathLike,
    samples: Iterable[GravitySpySample],
    *,
    metadata_csv: str | os.PathLike | None = None,
    overwrite: bool = True,
) -> int:
    """Write ``samples`` to ``path`` in the Zenodo layout (see ``GravitySpyHDF5Writer``); return the count."""
    with GravitySpyHDF5Writer(path, metadata_csv=metadata_csv, overwrite=overwrite) as writer:
        for sample in samples:
            writer.write(sample)
        return len(writer)


# ---------------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """Where one sample sits in the file: ``f[label][sample_type][gravityspy_id]``."""

    label: str
    sample_type: str
    gravityspy_id: str

    @property
    def hdf5_path(self) -> str:
        return f"{self.label}/{self.sample_type}/{self.gravityspy_id}"

    @property
    def name(self) -> str:
        """How errors name the sample: its HDF5 path."""
        return self.hdf5_path


class IndexedSampleReader(Sequence):
    """Sequence protocol shared by the Gravity Spy readers (HDF5 and PNG).

    A subclass sets ``_entries`` (one index entry per sample, each with ``label`` and
    ``gravityspy_id``) and ``apply_label_corrections``, and implements ``_read(entry)``, which reads
    one ``GravitySpySample``.
    """

    _entries: list[Any]
    apply_label_corrections: bool

    @abc.abstractmethod
    def _read(self, entry: Any) -> GravitySpySample:
        """Read the sample of one index entry (views checked, label corrected)."""

    @property
    def ids(self) -> list[str]:
        """The gravityspy_ids in index order."""
        return [e.gravityspy_id for e in self._entries]

    def label_of(self, index: int) -> str:
        """The (corrected) label of sample ``index`` without reading its views."""
        entry = self._entries[index]
        if self.apply_label_corrections:
            return LABEL_CORRECTIONS.get(entry.gravityspy_id, entry.label)
        return entry.label

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._read(self._entries[index])

    def __iter__(self) -> Iterator[GravitySpySample]:
        for entry in self._entries:
            yield self._read(entry)


def _layout_group(parent: h5py.Group, key: str, expected: str, source: str) -> h5py.Group:
    """``parent[key]``, which the Zenodo layout makes a group (``expected`` says which one).

    Raises:
        GravitySpyDataError: naming the file and the path of the dataset found there instead.
    """
    child = parent[key]
    if not isinstance(child, h5py.Group):
        raise GravitySpyDataError(
            f"expected {expected}, found a dataset", source=source, field=child.name.lstrip("/")
        )
    return child


class GravitySpyHDF5Reader(IndexedSampleReader):
    """Lazy reader of a Gravity Spy HDF5 file; item ``i`` is a ``GravitySpySample``.

    The index of samples (label, sample_type, gravityspy_id) is built once when the reader is
    created; views are read only when a sample is accessed. The h5py handle is opened per process
    (the reader notices a fork through ``os.getpid()`` and pickles without its handle), so a reader
    can be shared with ``multiprocessing`` pools and DataLoader workers.

    Parameters
    ----------
    path : path
        The HDF5 file (e.g. ``trainingsetv1d1.h5``).
    metadata_csv : path, optional
        The metadata CSV to join on ``gravityspy_id`` (v1d1: 28 columns, v1d0: 3). Its ``ifo`` column
        fills ``GravitySpySample.ifo``; its other non-key columns fill ``metadata``.
    splits : sequence of str, optional
        Keep only these sample types (``train``, ``validation``, ``test``).
    apply_label_corrections : bool
        Replace the labels of known mislabelled samples (``LABEL_CORRECTIONS``: VXw4KBWl5g is a
        Paired_Doves) by their corrected class. ``False`` returns the labels as filed.
    label_set : str or sequence of str, optional
        The classes of the file's groups (``gravity_spy.resolve_label_set``): ``"v1"`` (the
        default), ``"o3"`` or a list of class names. A sample under another group fails on access.

    Notes
    -----
    Samples filed under an unknown class or split group are kept in the index (so a converter can
    skip them); accessing one raises ``GravitySpyDataError``. Every read error names the file, the
    sample's HDF5 path and the field.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        metadata_csv: str | os.PathLike | None = None,
        *,
        splits: Sequence[str] | None = None,
        apply_label_corrections: bool = True,
        label_set: str | Sequence[str] | None = None,
    ):
        self.path = Path(path)
        self.class_names = resolve_label_set(label_set)
        self.metadata_csv = Path(metadata_csv) if metadata_csv is not None else None
        self.apply_label_corrections = apply_label_corrections
        self._handle: h5py.File | None = None
        self._pid: int | None = None
        if not self.path.is_file():
            raise FileNotFoundError(f"Gravity Spy HDF5 file not found: {self.path}")
        self._entries: list[IndexEntry] = self._build_index()
        if splits is not None:
            unknown = set(splits) - set(SPLITS)
            if unknown:
                raise ValueError(f"unknown splits {sorted(unknown)}; expected some of {list(SPLITS)}")
            self._entries = [e for e in self._entries if e.sample_type in splits]
        if self.metadata_csv is not None:
            self._metadata, self.metadata_column_types = read_metadata_csv(self.metadata_csv)
        else:
            self._metadata, self.metadata_column_types = {}, {}

    # -- file handle, one per process ----------------------------------------------------------------

    def _file(self) -> h5py.File:
        if self._handle is None or self._pid != os.getpid():
            # After a fork the parent's handle must not be used by the child: open our own.
            self._handle = self._open()
            self._pid = os.getpid()
        return self._handle

    def _open(self) -> h5py.File:
        try:
            return h5py.File(self.path, "r")
        except OSError as error:
            raise GravitySpyDataError(
                f"cannot open as HDF5 (truncated, corrupt or not an HDF5 file): {error}",
                source=str(self.path),
            ) from error

    def close(self) -> None:
        """Close this process's file handle (it reopens on the next access)."""
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle, self._pid = None, None

    def __enter__(self) -> GravitySpyHDF5Reader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle"], state["_pid"] = None, None
        return state

    # -- index ---------------------------------------------------------------------------------------

    def _build_index(self) -> list[IndexEntry]:
        entries: list[IndexEntry] = []
        source = str(self.path)
        try:
            with self._open() as handle:
                for label in handle:
                    label_group = _layout_group(handle, label, "a class group at the top level", source)
                    for sample_type in label_group:
                        split_group = _layout_group(label_group, sample_type, "a sample_type group", source)
                        entries.extend(
                            IndexEntry(label, sample_type, gravityspy_id) for gravityspy_id in split_group
                        )
        except OSError as error:
            raise GravitySpyDataError(
                f"cannot read the file's index (truncated or corrupt): {error}", source=source
            ) from error
        # Stable order: class order of the label set, then split, then id.
        class_order = {name: i for i, name in enumerate(self.class_names)}
        split_order = {name: i for i, name in enumerate(SPLITS)}
        entries.sort(
            key=lambda e: (
                class_order.get(e.label, len(class_order)),
                e.label,
                split_order.get(e.sample_type, 9),
                e.sample_type,
                e.gravityspy_id,
            )
        )
        paths_by_id: dict[str, list[str]] = {}
        for entry in entries:
            paths_by_id.setdefault(entry.gravityspy_id, []).append(entry.hdf5_path)
        duplicates = {key: paths for key, paths in paths_by_id.items() if len(paths) > 1}
        if duplicates:
            # Kept as filed (the reader reproduces the file), but a user should know.
            listing = "; ".join(", ".join(paths) for paths in list(duplicates.values())[:5])
            warnings.warn(
                f"{source}: {len(duplicates)} gravityspy_id(s) appear in more than one group, e.g. {listing}",
                stacklevel=3,
            )
        return entries

    @property
    def entries(self) -> list[IndexEntry]:
        """The index: one ``IndexEntry`` (label as filed, sample_type, gravityspy_id) per sample."""
        return list(self._entries)

    def class_counts(self) -> dict[str, dict[str, int]]:
        """``{sample_type: {label: count}}`` from the index (corrected labels), without reading views."""
        counts: dict[str, dict[str, int]] = {}
        for i, entry in enumerate(self._entries):
            split = counts.setdefault(entry.sample_type, {})
            label = self.label_of(i)
            split[label] = split.get(label, 0) + 1
        return counts

    def select(self, indices: Iterable[int]) -> GravitySpyHDF5Reader:
        """A reader over the samples at ``indices`` (same file and metadata, no re-indexing)."""
        subset = object.__new__(type(self))
        subset.__dict__.update(self.__getstate__())
        subset._entries = [self._entries[i] for i in indices]
        return subset

    def split(self, sample_type: str) -> GravitySpyHDF5Reader:
        """A reader over the samples of one split (``train``, ``validation`` or ``test``)."""
        if sample_type not in SPLITS:
            raise ValueError(f"unknown split {sample_type!r}; expected one of {list(SPLITS)}")
        return self.select(i for i, e in enumerate(self._entries) if e.sample_type == sample_type)

    # -- samples -------------------------------------------------------------------------------------

    def read_views(self, entry: IndexEntry) -> np.ndarray:
        """Read and validate the four views of ``entry`` as float32 (4, 140, 170)."""
        source = str(self.path)
        try:
            group = self._file()[entry.hdf5_path]
        except (KeyError, OSError) as error:
            raise GravitySpyDataError(
                f"cannot read the sample group: {error}", source=source, sample=entry.hdf5_path
            ) from error
        views = []
        for key in HDF5_VIEW_KEYS:
            if key not in group:
                raise GravitySpyDataError(
                    f"missing view (the group holds {sorted(group.keys())})",
                    source=source,
                    sample=entry.hdf5_path,
                    field=key,
                )
            dataset = group[key]
            if not isinstance(dataset, h5py.Dataset):
                raise GravitySpyDataError(
                    "expected a dataset, found a group", source=source, sample=entry.hdf5_path, field=key
                )
            try:
                data = dataset[()]
            except (OSError, ValueError, TypeError) as error:
                raise GravitySpyDataError(
                    f"cannot read the view data (truncated or corrupt file?): {error}",
                    source=source,
                    sample=entry.hdf5_path,
                    field=key,
                ) from error
            views.append(validate_view(data, source=source, sample=entry.hdf5_path, field=key))
        return np.stack(views)

    def _read(self, entry: IndexEntry) -> GravitySpySample:
        source = str(self.path)
        if entry.label not in self.class_names:
            raise GravitySpyDataError(
                unknown_class_reason(entry.label, self.class_names, "class group"),
                source=source,
                sample=entry.hdf5_path,
                field="label",
            )
        if entry.sample_type not in SPLITS:
            raise GravitySpyDataError(
                f"unknown sample_type group {entry.sample_type!r}; expected one of {list(SPLITS)}",
                source=source,
                sample=entry.hdf5_path,
                field="sample_type",
            )
        validate_gravityspy_id(entry.gravityspy_id, source=source, sample=entry.hdf5_path)
        views = self.read_views(entry)
        row = self._metadata.get(entry.gravityspy_id, {})
        label = entry.label
        if self.apply_label_corrections:
            label = LABEL_CORRECTIONS.get(entry.gravityspy_id, label)
        ifo = row.get("ifo")
        return GravitySpySample(
            gravityspy_id=entry.gravityspy_id,
            label=label,
            sample_type=entry.sample_type,
            views=views,
            ifo=str(ifo) if ifo is not None else None,
            metadata={k: v for k, v in row.items() if k not in KEY_COLUMNS},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, samples={len(self)}, metadata_csv={self.metadata_csv})"
