"""Convert Gravity Spy samples (HDF5 file or PNG folders) into an Arrow ``DatasetDict``.

The dataset has the splits ``train``, ``validation`` and ``test`` (from ``sample_type``, or by GPS
time with a gap: ``split_by="time"``, see ``gravityvit.data.splits``) and the columns

- ``gravityspy_id`` (string), ``label`` (ClassLabel with the classes of the label set: v1's 22
  ``CLASS_NAMES`` by default, ``--label-set o3`` for the 23 of Gravity Spy's O3 model), ``ifo``
  (string);
- the metadata CSV's columns when a CSV is given (typed int64 / float64 / string from its values);
- four ``Image`` columns ``image_500ms``, ``image_1000ms``, ``image_2000ms``, ``image_4000ms``.

Precision: each view is stored as a 16-bit grayscale PNG with pixel value ``round(view * 65535)``
(``gravity_spy.view_to_image``), so a decoded view differs from the HDF5 float32 by at most
0.5 / 65535 ~ 7.6e-6 (plus float32 rounding), far below the float resolution that matters for the
model and 256 times finer than an 8-bit PNG.

Beside the dataset, in the same output directory, ``gravityspy_stats.json`` (``STATS_FILENAME``)
holds the class counts per split, class weights for the loss and the list of skipped samples.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gravityvit.data.hdf5 import (
    KEY_COLUMNS,
    GravitySpyDataError,
    GravitySpyHDF5Reader,
    read_metadata_csv,
    unknown_class_reason,
)
from gravityvit.data.splits import DEFAULT_FRACTIONS, DEFAULT_GAP_S, SPLIT_METHODS, time_split
from gravityvit.file_utils import (
    OutputKind,
    atomic_path,
    check_output,
    die_with_parent,
    directory_of_files,
    work_directory,
)
from gravityvit.gravity_spy import (
    HDF5_VIEW_KEYS,
    IMAGE_COLUMNS,
    SPLITS,
    VIEW_IMAGE_MAX,
    VIEW_SHAPE,
    image_to_view,
    label_set_name,
    resolve_label_set,
    view_to_image,
)

logger = logging.getLogger(__name__)

# Name of the JSON written beside the dataset (inside the output directory); the trainer reads it.
STATS_FILENAME = "gravityspy_stats.json"
STATS_FORMAT_VERSION = 1
# Largest difference between a decoded view and the float view it was encoded from.
MAX_PIXEL_ERROR = 0.5 / VIEW_IMAGE_MAX
# zlib run-length strategy for the stored PNGs: on real views it takes ~40 % less CPU than zlib's
# default strategy (which dominated conversion time) and the files come out slightly smaller,
# because the low byte of a 16-bit pixel is close to noise that matching cannot exploit.
PNG_COMPRESS_LEVEL = 6
PNG_COMPRESS_TYPE = zlib.Z_RLE
ON_BAD_SAMPLE_CHOICES = ("error", "skip")
METADATA_CONFLICT_CHOICES = ("error", "source", "metadata")
# A converted dataset directory. Directories written before output markers existed are recognised
# by their files: those of save_to_disk and the stats JSON, and nothing else.
ARROW_DATASET = OutputKind(
    "Gravity Spy Arrow dataset",
    directory=True,
    recognise=directory_of_files(
        "dataset_dict.json",
        STATS_FILENAME,
        "*/data-*.arrow",
        "*/dataset_info.json",
        "*/state.json",
        "*/cache-*.arrow",
        required=("dataset_dict.json", STATS_FILENAME),
    ),
    # datasets writes the results of map / filter on a loaded split beside its data.
    derived=("*/cache-*.arrow",),
)

_VALUE_TYPES = ("int64", "float64", "string")


def gravityspy_features(
    metadata_column_types: Mapping[str, str] | None = None, label_set: str | Sequence[str] | None = None
):
    """The ``datasets.Features`` of a converted Gravity Spy dataset.

    Parameters
    ----------
    metadata_column_types : mapping, optional
        ``{column: "int64" | "float64" | "string"}`` of the metadata columns to add (the key columns
        gravityspy_id, label, sample_type and ifo are left out: they are fields of their own).
    label_set : str or sequence of str, optional
        The names of the ``label`` ClassLabel (``gravity_spy.resolve_label_set``; v1 by default).
    """
    from datasets import ClassLabel, Features, Value
    from datasets import Image as ImageFeature

    columns: dict[str, Any] = {
        "gravityspy_id": Value("string"),
        "label": ClassLabel(names=list(resolve_label_set(label_set))),
        "ifo": Value("string"),
    }
    for column, dtype in (metadata_column_types or {}).items():
        if column in KEY_COLUMNS:
            continue
        if dtype not in _VALUE_TYPES:
            raise ValueError(f"metadata column {column!r} has type {dtype!r}; expected one of {_VALUE_TYPES}")
        columns[column] = Value(dtype)
    for column in IMAGE_COLUMNS:
        columns[column] = ImageFeature()
    return Features(columns)


def encode_view(view: np.ndarray) -> bytes:
    """Encode one (140, 170) view as 16-bit grayscale PNG bytes (error at most ``MAX_PIXEL_ERROR``)."""
    buffer = io.BytesIO()
    # Passing bytes to the Image feature keeps the PNG: given a 16-bit PIL image it would write TIFF.
    view_to_image(view).save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_COMPRESS_TYPE
    )
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# Decoding, for training and evaluation
# ---------------------------------------------------------------------------------------------------


def decode_view(value: Any, where: str = "view") -> np.ndarray | None:
    """Decode one stored view cell into a float32 (140, 170) view in [0, 1]; None for a missing view.

    The one decoder of a dataset's view cells: the converter's checks, the training data path and
    the pipelines' Arrow input all read views through it.

    Parameters
    ----------
    value : PIL image, {"bytes", "path"} cell, array or None
        A decoded Image cell (the default), an undecoded one, a (140, 170) or (1, 140, 170) array
        (integers are scaled by their range), or None.
    where : str
        What the cell is (column, sample), for the error message.

    Raises
    ------
    ValueError
        For a view that is not 170x140 pixels: a stored view is never resized.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):  # an undecoded Image cell: {"bytes": ..., "path": ...}
        if value.get("bytes") is not None:
            value = Image.open(io.BytesIO(value["bytes"]))
        elif value.get("path") is not None:
            value = Image.open(value["path"])
        else:
            return None
    if isinstance(value, Image.Image):
        view = image_to_view(value)
    else:
        view = np.asarray(value, dtype=np.float32)
        if np.issubdtype(np.asarray(value).dtype, np.integer):
            view = view / (VIEW_IMAGE_MAX if np.asarray(value).dtype == np.uint16 else 255.0)
    if view.ndim == 3 and view.shape[0] == 1:
        view = view[0]
    if view.shape != VIEW_SHAPE:
        raise ValueError(
            f"{where}: a stored view must be {VIEW_SHAPE[1]}x{VIEW_SHAPE[0]} pixels; got shape {view.shape}"
        )
    return view.astype(np.float32, copy=False)


def example_to_views(example: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Decode the four image columns of one dataset example into views and a view mask.

    Parameters
    ----------
    example : mapping
        A row of a converted dataset: ``IMAGE_COLUMNS`` holding PIL images (the default decoding),
        undecoded ``{"bytes", "path"}`` cells, arrays, or ``None`` for a missing view. A column
        absent from the example counts as missing.

    Returns
    -------
    views : np.ndarray
        float32 (4, 140, 170) in [0, 1], view order 0.5, 1, 2, 4 s; a missing view is all zeros.
    view_mask : np.ndarray
        bool (4,), ``True`` where the view is present.
    """
    return decode_views(example, IMAGE_COLUMNS)


def decode_views(example: Mapping[str, Any], columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Decode the view cells ``columns`` of one example into views (V, 140, 170) and a view mask (V,).

    A missing cell (None, or a column absent from the example) is a masked, all-zero view; a view of
    the wrong shape raises a ValueError naming the sample and the column.
    """
    views = np.zeros((len(columns), *VIEW_SHAPE), dtype=np.float32)
    view_mask = np.zeros(len(columns), dtype=bool)
    sample = example.get("gravityspy_id")
    for index, column in enumerate(columns):
        where = f"sample {sample}, column {column}" if sample is not None else f"column {column}"
        view = decode_view(example.get(column), where)
        if view is not None:
            views[index], view_mask[index] = view, True
    return views, view_mask


def batch_to_views(batch: Mapping[str, Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``example_to_views`` over a batch (dict of columns): (B, 4, 140, 170) views, (B, 4) mask."""
    size = len(next(iter(batch.values()))) if batch else 0
    decoded = [example_to_views({c: batch[c][i] for c in IMAGE_COLUMNS if c in batch}) for i in range(size)]
    if not decoded:
        return np.zeros((0, len(IMAGE_COLUMNS), *VIEW_SHAPE), np.float32), np.zeros(
            (0, len(IMAGE_COLUMNS)), bool
        )
    return np.stack([v for v, _ in decoded]), np.stack([m for _, m in decoded])


# ---------------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------------


def open_source(
    source: Any,
    metadata_csv: str | os.PathLike | None = None,
    *,
    allow_missing_views: bool = False,
    label_set: str | Sequence[str] | None = None,
    min_confidence: float | None = None,
):
    """Open ``source`` as a Gravity Spy reader: an HDF5 file path, a PNG folder path, or a reader.

    ``allow_missing_views`` lets a PNG folder's samples lack some durations (see
    ``GravitySpyPNGReader``); an HDF5 file always has all four. ``label_set`` names the classes of
    the class folders or groups (v1 by default). A PNG folder with a metadata CSV in the style of
    Gravity Spy's ML classification release (an ``ml_label`` column and no ``label``) is read with
    ``GravitySpyO3Reader``: labels from ``ml_label``, only the rows with ``ml_confidence >=
    min_confidence`` when that is given (it applies to such a CSV only).

    A reader is any object with ``entries`` (items with ``label``, ``sample_type``,
    ``gravityspy_id`` and ``name``, how errors name the sample), ``metadata_column_types``,
    ``__len__`` and ``__getitem__`` returning ``GravitySpySample``; ``GravitySpyHDF5Reader`` and
    ``GravitySpyPNGReader`` are two.
    """
    from gravityvit.data.o3_release import GravitySpyO3Reader, is_ml_classification_csv

    ml_csv = (
        metadata_csv is not None and Path(metadata_csv).is_file() and is_ml_classification_csv(metadata_csv)
    )
    if min_confidence is not None and not ml_csv:
        raise ValueError(
            "min_confidence applies to a metadata CSV with ml_label and ml_confidence columns (Gravity Spy's "
            f"ML classification release); {metadata_csv or 'no CSV'} is not one"
        )
    if hasattr(source, "entries") and hasattr(source, "__getitem__"):
        if min_confidence is not None:
            raise ValueError("min_confidence applies to a PNG folder path, not to a reader object")
        return source
    path = Path(source)
    if min_confidence is not None and not path.is_dir():
        raise ValueError(
            f"min_confidence applies to a PNG folder with an ML classification CSV; {path} is not a folder"
        )
    if path.is_dir() and ml_csv:
        return GravitySpyO3Reader(
            path,
            metadata_csv,
            label_set=label_set,
            min_confidence=min_confidence,
            allow_missing_views=allow_missing_views,
        )
    if path.is_dir():
        from gravityvit.data.png import GravitySpyPNGReader

        return GravitySpyPNGReader(
            path, metadata_csv=metadata_csv, allow_missing_views=allow_missing_views, label_set=label_set
        )
    if path.is_file():
        return GravitySpyHDF5Reader(path, metadata_csv=metadata_csv, label_set=label_set)
    raise FileNotFoundError(f"no Gravity Spy HDF5 file or PNG folder at {path}")


def _generate_examples(
    shards: list[list[int]],
    reader,
    metadata_columns: Sequence[str],
    on_bad_sample: str,
    skip_log_dir: str,
    label_overrides: Mapping[int, str] | None = None,
    parent_pid: int | None = None,
    class_names: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield dataset rows for the sample indices of ``shards`` (runs in datasets' worker processes).

    ``label_overrides`` maps a sample index to the label the metadata CSV gives it, when the user
    chose the CSV over the source in a disagreement. ``class_names`` are the dataset's classes: a
    sample with another label is a bad sample (named), not a crash of the ClassLabel encoder.
    """
    class_names = resolve_label_set(class_names)
    label_overrides = label_overrides or {}
    if parent_pid is not None and os.getpid() != parent_pid:
        # A worker process: end with the converter, even when it is killed (no orphans left running).
        die_with_parent()
    for shard in shards:
        skipped: list[dict[str, str]] = []
        for index in shard:
            try:
                sample = reader[index]
                # A missing view (PNG folders read with allow_missing_views) is a null image cell.
                label = label_overrides.get(index, sample.label)
                if label not in class_names:
                    raise GravitySpyDataError(
                        unknown_class_reason(label, class_names),
                        str(getattr(reader, "path", "")) or None,
                        reader.entries[index].name,
                        "label",
                    )
                images = {
                    column: None if view is None else encode_view(view)
                    for column, view in zip(IMAGE_COLUMNS, sample.present_views)
                }
            except GravitySpyDataError as error:
                if on_bad_sample != "skip":
                    # datasets' worker pool loses the exception's type and message: leave it on disk.
                    record = {k: getattr(error, k) for k in ("reason", "source", "sample", "field")}
                    (Path(skip_log_dir) / f"error-{uuid.uuid4().hex}.json").write_text(json.dumps(record))
                    raise
                skipped.append({"sample": reader.entries[index].name, "index": index, "error": str(error)})
                continue
            row: dict[str, Any] = {
                "gravityspy_id": sample.gravityspy_id,
                "label": label,
                "ifo": sample.ifo,
            }
            for column in metadata_columns:
                row[column] = sample.metadata.get(column)
            row.update(images)
            yield row
        if skipped:
            # Workers are separate processes: each shard leaves its skip list in a file for the parent.
            log = Path(skip_log_dir) / f"skipped-{shard[0]}-{uuid.uuid4().hex}.json"
            log.write_text(json.dumps(skipped))


def _shards(indices: list[int], num_proc: int) -> list[list[int]]:
    # A few shards per process so that uneven sample costs still balance; contiguous to keep order.
    count = max(1, min(len(indices), num_proc * 4 if num_proc > 1 else 1))
    bounds = np.linspace(0, len(indices), count + 1).astype(int)
    return [indices[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _original_error(error: BaseException) -> BaseException:
    """The ``GravitySpyDataError`` inside a ``DatasetGenerationError`` chain, if there is one."""
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, GravitySpyDataError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return error


def class_weights_from_counts(
    train_counts: Mapping[str, int], label_set: str | Sequence[str] | None = None
) -> list[float]:
    """Inverse-frequency class weights in the label set's order (v1 by default), averaging 1 over training samples.

    ``w_c = n_train / (n_present_classes * n_c)`` (scikit-learn's "balanced"); a class absent from
    train gets 0.0 (it never appears in the loss).
    """
    class_names = resolve_label_set(label_set)
    total = sum(train_counts.get(name, 0) for name in class_names)
    present = [name for name in class_names if train_counts.get(name, 0) > 0]
    if not total:
        return [0.0] * len(class_names)
    return [
        total / (len(present) * train_counts[name]) if train_counts.get(name, 0) > 0 else 0.0
        for name in class_names
    ]


def _class_counts(dataset, class_names: Sequence[str]) -> dict[str, int]:
    labels = np.asarray(dataset["label"], dtype=np.int64) if len(dataset) else np.zeros(0, np.int64)
    counts = np.bincount(labels, minlength=len(class_names))
    return {name: int(counts[i]) for i, name in enumerate(class_names)}


def _empty_split(features, split: str):
    from datasets import Dataset

    # datasets cannot build a split from a generator that yields nothing: an empty table instead.
    return Dataset.from_dict({name: [] for name in features}, features=features, split=split)


def _skipped_indices(skip_log_dir: Path) -> set[int]:
    return {
        item["index"] for log in skip_log_dir.glob("skipped-*.json") for item in json.loads(log.read_text())
    }


def _build_split(
    reader,
    indices,
    features,
    metadata_columns,
    *,
    split,
    num_proc,
    on_bad_sample,
    cache_dir,
    skip_log_dir,
    label_overrides=None,
    class_names=None,
):
    from datasets import Dataset

    if not indices:
        return _empty_split(features, split)
    shards = _shards(indices, num_proc)
    return Dataset.from_generator(
        _generate_examples,
        features=features,
        cache_dir=cache_dir,
        gen_kwargs={
            "shards": shards,
            "reader": reader,
            "metadata_columns": tuple(metadata_columns),  # a list would be sharded too
            "on_bad_sample": on_bad_sample,
            "skip_log_dir": skip_log_dir,
            "label_overrides": label_overrides or {},
            "parent_pid": os.getpid(),
            "class_names": tuple(resolve_label_set(class_names)),  # a tuple: a list would be sharded
        },
        num_proc=num_proc if num_proc > 1 and len(shards) > 1 else None,
        split=split,
        # A fresh cache directory per run: a fixed fingerprint avoids hashing the reader.
        fingerprint=f"gravityspy-{split}-{uuid.uuid4().hex}",
    )


def convert_to_arrow(
    source: Any,
    output_dir: str | os.PathLike,
    *,
    metadata_csv: str | os.PathLike | None = None,
    num_proc: int = 1,
    on_bad_sample: str = "error",
    push_to_hub: str | None = None,
    overwrite: bool = True,
    allow_missing_views: bool = False,
    metadata_conflict: str = "error",
    split_by: str = "sample_type",
    gap_s: float = DEFAULT_GAP_S,
    time_column: str = "event_time",
    label_set: str | Sequence[str] | None = None,
    min_confidence: float | None = None,
):
    """Convert a Gravity Spy HDF5 file or PNG folder tree into a ``DatasetDict`` saved on disk.

    Parameters
    ----------
    source : path or reader
        The Zenodo-layout HDF5 file (e.g. ``trainingsetv1d1.h5`` or a simulated file), a folder of
        Gravity Spy PNGs (``{Class}/{ifo}_{id}_spectrogram_{d}.png``), or a reader object.
    output_dir : path
        Where ``save_to_disk`` writes the dataset, with ``gravityspy_stats.json`` inside. Written to
        a temporary sibling and renamed into place: a failed run leaves no partial dataset and an
        existing ``output_dir`` untouched.
    metadata_csv : path, optional
        The metadata CSV joined on gravityspy_id (v1d1: its columns become typed dataset columns).
        With a PNG folder, a CSV of Gravity Spy's ML classification release (O1 to O3b: columns
        ``gravityspy_id``, ``ml_label``, ``ml_confidence``, ``url1`` ... ``url4``, ...) gives the
        samples and their labels instead (``gravityvit.data.o3_release``).
    label_set : str or sequence of str, optional
        The dataset's classes, the names of its ``label`` ClassLabel: ``"v1"`` (the 22 classes of
        the v1 training set, the default), ``"o3"`` (the 23 of Gravity Spy's O3 model) or a list of
        class names (``gravity_spy.resolve_label_set``). A sample of another class is a bad sample.
    min_confidence : float, optional
        With an ML classification CSV: keep only the rows with ``ml_confidence >= min_confidence``.
    num_proc : int
        Worker processes that read, check and encode samples.
    on_bad_sample : {"error", "skip"}
        ``"error"`` stops at the first bad sample (missing view, wrong shape, NaN, value outside
        [0, 1], unknown class or split) with an error naming it; ``"skip"`` leaves bad samples out
        and lists them (with the count) in the log and the stats JSON.
    push_to_hub : str, optional
        A Hub dataset repo id; the dataset is uploaded as Parquet (with the stats JSON) after saving.
    overwrite : bool
        Replace an earlier converted dataset at ``output_dir`` on success (default); with ``False``
        any existing ``output_dir`` raises ``OutputError`` before any work. Anything else at
        ``output_dir`` (another folder, a file, a folder holding the input) is always refused.
    metadata_conflict : {"error", "source", "metadata"}
        What to do when the metadata CSV's label or sample_type disagrees with the source: stop
        with an error naming the ids (default), keep the source's, or take the CSV's.
    allow_missing_views : bool
        Convert PNG-folder samples that lack some durations (real data often has only some), writing
        their missing image columns as null (``example_to_views`` masks them). Off by default: a
        missing view is then a bad sample, as an incomplete copy of a training set most often is.
        The stats JSON counts the null cells per split and column (``missing_views``).
    split_by : {"sample_type", "time"}
        ``"sample_type"`` (default) keeps the splits of the source (the Zenodo file's groups or the
        CSV's column). ``"time"`` orders the samples by GPS time (the metadata CSV's ``time_column``)
        and splits them 70 / 15 / 15 with a gap (``gravityvit.data.splits.time_split``), so that
        glitches of the same minutes do not land in both train and test.
    gap_s : float
        With ``split_by="time"``: least time in seconds between kept samples of neighbouring splits;
        the samples within ``gap_s / 2`` of a boundary are left out (listed in the stats JSON).
    time_column : str
        With ``split_by="time"``: the metadata CSV column holding each sample's GPS time.

    Returns
    -------
    datasets.DatasetDict
        Splits train, validation and test, loaded back from ``output_dir``. A split with no samples
        (e.g. a file without test samples) is kept as an empty dataset with the same features.

    Raises
    ------
    GravitySpyDataError
        For a bad sample with ``on_bad_sample="error"``, or an unreadable / truncated source file.
    """
    from datasets import DatasetDict, load_from_disk

    if on_bad_sample not in ON_BAD_SAMPLE_CHOICES:
        raise ValueError(f"on_bad_sample must be one of {ON_BAD_SAMPLE_CHOICES}; got {on_bad_sample!r}")
    if metadata_conflict not in METADATA_CONFLICT_CHOICES:
        raise ValueError(
            f"metadata_conflict must be one of {METADATA_CONFLICT_CHOICES}; got {metadata_conflict!r}"
        )
    if num_proc < 1:
        raise ValueError(f"num_proc must be at least 1; got {num_proc}")
    if split_by not in SPLIT_METHODS:
        raise ValueError(f"split_by must be one of {SPLIT_METHODS}; got {split_by!r}")
    source_path = getattr(source, "path", source)
    inputs = [source_path, metadata_csv, getattr(source, "metadata_csv", None)]
    # Absolute: the output may be given relative to a working directory that the swap must not affect.
    output_dir = check_output(output_dir, ARROW_DATASET, overwrite=overwrite, inputs=inputs)
    class_names = resolve_label_set(label_set)
    reader = open_source(
        source,
        metadata_csv,
        allow_missing_views=allow_missing_views,
        label_set=class_names,
        min_confidence=min_confidence,
    )
    metadata_columns = [c for c in reader.metadata_column_types if c not in KEY_COLUMNS]
    features = gravityspy_features(
        {c: reader.metadata_column_types[c] for c in metadata_columns}, label_set=class_names
    )
    overrides, metadata_matched = join_metadata(reader, metadata_conflict, class_names)
    split_indices = {split: [] for split in SPLITS}
    unknown_split: list[int] = []
    for index, entry in enumerate(reader.entries):
        sample_type = overrides[index][1] if index in overrides else entry.sample_type
        split_indices.get(sample_type, unknown_split).append(index)
    if unknown_split:
        # Their reading raises the error naming them; under "skip" they are listed as skipped.
        split_indices["train"].extend(unknown_split)
        split_indices["train"].sort()
    split_stats: dict[str, Any] = {"method": "sample_type"}
    if split_by == "time":
        split_indices, split_stats = _time_split(reader, gap_s, time_column)
    logger.info(
        "converting %d samples from %s (%s) with num_proc=%d",
        len(reader.entries),
        getattr(reader, "path", source),
        ", ".join(f"{split} {len(split_indices[split])}" for split in SPLITS),
        num_proc,
    )

    with work_directory(output_dir) as work_dir:
        skip_log_dir = work_dir / "skipped"
        skip_log_dir.mkdir()
        splits = {}
        for split in SPLITS:
            try:
                splits[split] = _build_split(
                    reader,
                    split_indices[split],
                    features,
                    metadata_columns,
                    split=split,
                    num_proc=num_proc,
                    on_bad_sample=on_bad_sample,
                    cache_dir=str(work_dir / "cache"),
                    skip_log_dir=str(skip_log_dir),
                    label_overrides={i: overrides[i][0] for i in split_indices[split] if i in overrides},
                    class_names=class_names,
                )
            except Exception as error:
                recorded = sorted(skip_log_dir.glob("error-*.json"))
                if recorded:
                    raise GravitySpyDataError(**json.loads(recorded[0].read_text())) from None
                if on_bad_sample == "skip" and set(split_indices[split]) <= _skipped_indices(skip_log_dir):
                    # Every sample of the split was bad: keep the split, empty (as documented).
                    splits[split] = _empty_split(features, split)
                    continue
                original = _original_error(error)
                if original is not error:
                    raise original from None
                raise
        skipped = sorted(
            (item for log in skip_log_dir.glob("skipped-*.json") for item in json.loads(log.read_text())),
            key=lambda item: item["sample"],
        )
        dataset_dict = DatasetDict(splits)
        stats = _stats(dataset_dict, source, skipped, metadata_columns, class_names)
        stats["metadata_matched"] = metadata_matched
        stats["split"] = split_stats
        if getattr(reader, "selection", None) is not None:
            stats["selection"] = reader.selection
        with atomic_path(output_dir, kind=ARROW_DATASET, overwrite=overwrite, inputs=inputs) as temporary:
            # An empty split saved with datasets' default of 0 shards cannot be loaded back: force 1.
            empty_splits = {split: 1 for split in SPLITS if len(dataset_dict[split]) == 0}
            dataset_dict.save_to_disk(str(temporary), num_shards=empty_splits)
            (temporary / STATS_FILENAME).write_text(json.dumps(stats, indent=2) + "\n")

    if skipped:
        listing = "\n".join(f"  {item['sample']}: {item['error']}" for item in skipped)
        logger.warning("skipped %d bad sample(s):\n%s", len(skipped), listing)
        for split in SPLITS:
            if split_indices[split] and len(dataset_dict[split]) == 0:
                logger.warning(
                    "split %s is empty: all of its %d sample(s) were skipped",
                    split,
                    len(split_indices[split]),
                )
    result = load_from_disk(str(output_dir))
    if push_to_hub:
        _push_to_hub(result, output_dir / STATS_FILENAME, push_to_hub)
    return result


def _time_split(reader, gap_s: float, time_column: str) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Split ``reader``'s samples by the GPS times of its metadata CSV; return the indices and their stats entry.

    Raises:
        GravitySpyDataError: without a metadata CSV, or for a sample whose time is missing or not a number
            (naming the CSV, the sample and the column).
    """
    csv_path = getattr(reader, "metadata_csv", None)
    if csv_path is None:
        raise GravitySpyDataError(
            f"a time split needs each sample's GPS time: give the metadata CSV (--metadata) with a "
            f"{time_column!r} column",
            source=str(getattr(reader, "path", "the source")),
            field=time_column,
        )
    rows, _ = read_metadata_csv(csv_path)
    times = []
    for entry in reader.entries:
        value = rows.get(entry.gravityspy_id, {}).get(time_column)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise GravitySpyDataError(
                f"no GPS time for the time split: {time_column} is {value!r} in the metadata CSV",
                str(csv_path),
                entry.gravityspy_id,
                time_column,
            )
        times.append(float(value))
    split = time_split(times, gap_s=gap_s)
    logger.info("%s", split.summary())
    entries = reader.entries
    return split.indices, {
        "method": "time",
        "time_column": time_column,
        "fractions": list(DEFAULT_FRACTIONS),
        "gap_s": split.gap_s,
        "boundaries_gps": split.boundaries_gps,
        "ranges_gps": split.ranges_gps,
        "num_dropped": len(split.dropped),
        "dropped": sorted(entries[i].gravityspy_id for i in split.dropped),
        "summary": split.summary(),
    }


def join_metadata(
    reader, metadata_conflict: str = "error", label_set: str | Sequence[str] | None = None
) -> tuple[dict[int, tuple[str, str]], int | None]:
    """Check how the metadata CSV of ``reader`` matches its samples.

    Logs how many sample ids the CSV matched. A CSV that matches no sample is an error; so is a
    sample whose CSV ``label`` or ``sample_type`` disagrees with the source (HDF5 group or PNG
    folder), unless ``metadata_conflict`` says which wins: ``"source"`` keeps the source's,
    ``"metadata"`` takes the CSV's. A CSV label that is the known correction of a mislabelled sample
    (``LABEL_CORRECTIONS``) is no disagreement.

    Returns
    -------
    overrides : dict
        ``{sample index: (label, sample_type)}`` taken from the CSV (only with ``"metadata"``).
    matched : int or None
        How many samples the CSV matched; None without a CSV.

    Raises
    ------
    GravitySpyDataError
        Naming the CSV and, for disagreements, the first ids.
    """
    csv_path = getattr(reader, "metadata_csv", None)
    if csv_path is None:
        return {}, None
    rows, _ = read_metadata_csv(csv_path)
    entries = reader.entries
    matched = [index for index, entry in enumerate(entries) if entry.gravityspy_id in rows]
    logger.info(
        "metadata CSV %s: %d of %d sample ids matched (%d CSV rows unused)",
        csv_path,
        len(matched),
        len(entries),
        len(rows) - len(matched),
    )
    if entries and not matched:
        raise GravitySpyDataError(
            f"none of the {len(entries)} sample ids of {getattr(reader, 'path', 'the source')} appear in the "
            f"metadata CSV's {len(rows)} rows (CSV ids e.g. {sorted(rows)[:3]}, sample ids e.g. "
            f"{[e.gravityspy_id for e in entries[:3]]}): is it the CSV of another data set?",
            source=str(csv_path),
            field="gravityspy_id",
        )
    conflicts: list[str] = []
    overrides: dict[int, tuple[str, str]] = {}
    for index in matched:
        entry, row = entries[index], rows[entries[index].gravityspy_id]
        label, split = row.get("label"), row.get("sample_type")
        filed = {entry.label, reader.label_of(index)}
        differs = []
        if label is not None and str(label) not in filed:
            differs.append(f"label {label!r} (source {reader.label_of(index)!r})")
        if split is not None and str(split) != entry.sample_type:
            differs.append(f"sample_type {split!r} (source {entry.sample_type!r})")
        if not differs:
            continue
        conflicts.append(f"{entry.gravityspy_id}: {', '.join(differs)}")
        if metadata_conflict == "metadata":
            overrides[index] = (
                str(label) if label is not None else reader.label_of(index),
                str(split) if split is not None else entry.sample_type,
            )
    if conflicts and metadata_conflict == "error":
        raise GravitySpyDataError(
            f"{len(conflicts)} sample(s) have a label or sample_type in the metadata CSV that disagrees with "
            f"{getattr(reader, 'path', 'the source')}: {'; '.join(conflicts[:5])}"
            f"{' ...' if len(conflicts) > 5 else ''}. Say which wins (convert --metadata-conflict source "
            "or metadata)",
            source=str(csv_path),
            field="label" if "label" in conflicts[0] else "sample_type",
        )
    if conflicts:
        logger.warning(
            "%d sample(s) disagree with the metadata CSV; the %s wins: %s",
            len(conflicts),
            "CSV" if metadata_conflict == "metadata" else "source",
            "; ".join(conflicts[:5]),
        )
    for index, (label, _) in overrides.items():
        if label not in resolve_label_set(label_set):
            raise GravitySpyDataError(
                unknown_class_reason(label, resolve_label_set(label_set)) + " (the metadata CSV's label)",
                str(csv_path),
                entries[index].gravityspy_id,
                "label",
            )
    return overrides, len(matched)


def _stats(
    dataset_dict,
    source: Any,
    skipped: list[dict[str, str]],
    metadata_columns: list[str],
    class_names: Sequence[str],
) -> dict[str, Any]:
    counts = {split: _class_counts(dataset_dict[split], class_names) for split in SPLITS}
    weights = class_weights_from_counts(counts["train"], class_names)
    return {
        "format_version": STATS_FORMAT_VERSION,
        "source": str(getattr(source, "path", source)),
        "label_set": label_set_name(class_names),  # None for a custom list of classes
        "class_names": list(class_names),
        "num_samples": {split: len(dataset_dict[split]) for split in SPLITS},
        "class_counts": counts,
        "class_weights": weights,
        "class_weights_by_name": dict(zip(class_names, weights)),
        "class_weighting": "balanced: n_train / (n_classes_in_train * n_train_of_class); 0.0 for classes absent from train",
        "image_columns": list(IMAGE_COLUMNS),
        "hdf5_view_keys": list(HDF5_VIEW_KEYS),
        "image_encoding": "16-bit grayscale PNG, pixel = round(view * 65535)",
        "max_pixel_error": MAX_PIXEL_ERROR,
        "metadata_columns": metadata_columns,
        "missing_views": {split: _missing_views(dataset_dict[split]) for split in SPLITS},
        "num_skipped": len(skipped),
        "skipped": skipped,
    }


def _missing_views(dataset) -> dict[str, int]:
    """Null cells per image column (missing views), read from the Arrow table without decoding images."""
    return {column: int(dataset.data.column(column).null_count) for column in IMAGE_COLUMNS}


def _push_to_hub(dataset_dict, stats_path: Path, repo_id: str) -> None:
    """Upload the dataset as Parquet and the stats JSON to a Hub dataset repo, with a clear error offline."""
    from huggingface_hub import HfApi

    try:
        dataset_dict.push_to_hub(repo_id)
        HfApi().upload_file(
            path_or_fileobj=str(stats_path), path_in_repo=STATS_FILENAME, repo_id=repo_id, repo_type="dataset"
        )
    except Exception as error:
        raise RuntimeError(
            f"could not push the dataset to the Hub repo {repo_id!r} (offline, HF_HUB_OFFLINE=1, or not logged in?): "
            f"{error}. The dataset is saved on disk; push it later with DatasetDict.push_to_hub."
        ) from error
