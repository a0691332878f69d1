"""From an Arrow glitch dataset to model inputs: checks, lazy per-batch decoding, augmentation, collation.

The path of a batch::

    Arrow rows (four Image columns, ClassLabel)             DatasetDict from the converter
        | GlitchViewsTransform (dataset.with_transform)     decodes a whole batch of rows at once
        v                                                   (datasets fetches batches via __getitems__),
    {"views": (V, 140, 170), "view_mask": (V,), "labels"}   augments them in train mode
        | GlitchCollator (the Trainer's data_collator)
        v
    {"pixel_values": (B, V, 3, H, W), "view_mask": (B, V), "labels": (B,)}   one batched processor call

By default no more than one batch is in memory. A split small enough to hold (16-bit views, 190 kB
per sample) can be decoded once into ``InMemoryGlitchViews`` instead, which serves the same samples
without decoding PNGs at every epoch.

The checks of ``check_glitch_dataset`` run before any training step, so that a dataset that does not
fit the model fails in a second with a message saying what is wrong, not after an epoch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gravityvit.data.arrow import decode_views
from gravityvit.gravity_spy import (
    IMAGE_COLUMNS,
    VIEW_DURATIONS_S,
    VIEW_IMAGE_MAX,
    VIEW_SHAPE,
    describe_label_set,
    label_set_name,
    view_position,
)
from gravityvit.training.augmentation import SpectrogramAugmentation

LABEL_COLUMN = "label"

logger = logging.getLogger(__name__)


class GlitchDatasetError(ValueError):
    """A dataset that cannot train or evaluate this model; the message names the dataset, split and column."""


def load_glitch_dataset(name_or_path: str | os.PathLike, cache_dir: str | None = None):
    """Load a converted glitch dataset: a ``save_to_disk`` directory or a Hub dataset id.

    Parameters
    ----------
    name_or_path : str or path
        A directory written by ``gravityvit convert`` (``datasets.load_from_disk``), or a Hub
        dataset id such as ``gravityvit/gravityspy`` (``datasets.load_dataset``, Parquet).
    cache_dir : str, optional
        The datasets cache for Hub downloads.

    Returns
    -------
    datasets.DatasetDict

    Raises
    ------
    GlitchDatasetError
        When a directory is not a saved DatasetDict.
    """
    import datasets

    path = Path(name_or_path)
    if path.is_dir():
        try:
            loaded = datasets.load_from_disk(str(path))
        except FileNotFoundError as error:
            raise GlitchDatasetError(
                f"{path} is not a dataset saved with save_to_disk (run `gravityvit convert` first): {error}"
            ) from error
        if isinstance(loaded, datasets.Dataset):
            raise GlitchDatasetError(
                f"{path} holds a single Dataset; expected a DatasetDict with train/validation/test splits"
            )
        return loaded
    if path.exists() or str(name_or_path).startswith((".", "/")):
        raise GlitchDatasetError(f"dataset directory {path} does not exist or is not a directory")
    return datasets.load_dataset(str(name_or_path), cache_dir=cache_dir)


def view_columns_for(view_durations_s: Sequence[float]) -> list[str]:
    """The Arrow Image columns a model with these view durations (seconds) reads, in view order."""
    return [IMAGE_COLUMNS[view_position(duration_s)] for duration_s in view_durations_s]


def label_names_of(dataset, split: str | None = None, source: str = "dataset") -> list[str]:
    """Class names of the ``label`` ClassLabel column of a Dataset, or raise a clear error."""
    import datasets

    feature = dataset.features.get(LABEL_COLUMN)
    where = f"{source}" + (f", split {split!r}" if split else "")
    if feature is None:
        raise GlitchDatasetError(
            f"{where}: column {LABEL_COLUMN!r} is missing; columns: {dataset.column_names}"
        )
    if not isinstance(feature, datasets.ClassLabel):
        raise GlitchDatasetError(
            f"{where}: column {LABEL_COLUMN!r} must be a ClassLabel with the class names; got {feature}"
        )
    return list(feature.names)


def check_glitch_dataset(
    dataset,
    id2label: Mapping[int, str],
    view_durations_s: Sequence[float] = VIEW_DURATIONS_S,
    splits: Sequence[str] = ("train", "validation"),
    source: str = "dataset",
) -> None:
    """Check that ``dataset`` can train and evaluate a model with labels ``id2label``; raise before training.

    Parameters
    ----------
    dataset : datasets.DatasetDict
        The converted dataset.
    id2label : mapping of int to str
        The model's class names by id (``config.id2label``).
    view_durations_s : sequence of float
        The durations (seconds) the model takes; their Image columns must be present.
    splits : sequence of str
        The splits that must exist and hold at least one sample.
    source : str
        How to name the dataset in messages (its path or Hub id).

    Raises
    ------
    GlitchDatasetError
        For a missing or empty split, a missing label or Image column, a label column that is not a
        ClassLabel, class names (or their order) that differ from the model's ``id2label``, or rows
        that cannot train: a label outside the classes (e.g. -1) or no image in any view column.
        The message names the split and the row numbers.
    """
    model_names = [str(id2label[i]) for i in sorted(int(k) for k in id2label)]
    required = [LABEL_COLUMN, *view_columns_for(view_durations_s)]
    available = list(dataset.keys())
    for split in splits:
        if split not in dataset:
            raise GlitchDatasetError(
                f"{source}: split {split!r} is missing; the dataset has splits {available}"
            )
        data = dataset[split]
        missing = [column for column in required if column not in data.column_names]
        if missing:
            raise GlitchDatasetError(
                f"{source}, split {split!r}: required column(s) {missing} missing; columns present: "
                f"{data.column_names}"
            )
        if len(data) == 0:
            raise GlitchDatasetError(f"{source}, split {split!r} is empty (0 samples)")
        names = label_names_of(data, split, source)
        if names != model_names:
            raise GlitchDatasetError(_label_mismatch(names, model_names, f"{source}, split {split!r}"))
        _check_rows(data, split, source, len(model_names), required[1:])


def _label_mismatch(names: Sequence[str], model_names: Sequence[str], where: str) -> str:
    """Why a dataset's classes do not fit a model's, and the two ways to make them fit."""
    only_data = sorted(set(names) - set(model_names))
    only_model = sorted(set(model_names) - set(names))
    detail = (
        f"in the dataset only: {only_data}; in the model only: {only_model}"
        if only_data or only_model
        else "same names in a different order"
    )
    data_set, model_set = label_set_name(names), label_set_name(model_names)
    remedies = []
    if model_set:
        remedies.append(f"convert the data with `gravityvit convert --label-set {model_set}`")
    remedies.append(
        f"train a model of the dataset's classes (--label_set {data_set})"
        if data_set
        else "train a model of the dataset's classes (--label_set with its class names, comma-separated)"
    )
    remedy = "; or ".join(remedies)
    return (
        f"{where}: the label names of column {LABEL_COLUMN!r} do not match the model's id2label: the dataset "
        f"has {describe_label_set(names)}, the model {describe_label_set(model_names)} ({detail}). "
        f"{remedy[0].upper()}{remedy[1:]}. Dataset: {list(names)}; model: {list(model_names)}"
    )


# Rows named in a message, at most.
_LISTED_ROWS = 10


def _check_rows(data, split: str, source: str, num_labels: int, view_columns: Sequence[str]) -> None:
    """Raise ``GlitchDatasetError`` naming rows with a label outside [0, num_labels) or no view at all.

    Reads the label and image columns as Arrow batches (memory-mapped, no image is decoded), so a
    bad row is named before training rather than as a batch index in the middle of it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    bad_labels: list[tuple[int, Any]] = []
    no_views: list[int] = []
    start = 0
    columns = [LABEL_COLUMN, *view_columns]
    for batch in data.select_columns(columns).with_format("arrow").iter(batch_size=4096):
        labels = batch.column(LABEL_COLUMN)
        invalid = pc.or_kleene(pc.less(labels, 0), pc.greater_equal(labels, num_labels))
        invalid = pc.fill_null(pc.or_kleene(invalid, pc.is_null(labels)), True)
        for row in np.flatnonzero(invalid.to_numpy(zero_copy_only=False)):
            bad_labels.append((start + int(row), labels[int(row)].as_py()))
        missing = None
        for column in view_columns:
            cells = batch.column(column)
            absent = pc.is_null(cells)
            if pa.types.is_struct(cells.type):  # an Image cell {"bytes", "path"} with neither
                empty = pc.and_(
                    pc.is_null(pc.struct_field(cells, "bytes")), pc.is_null(pc.struct_field(cells, "path"))
                )
                absent = pc.or_(absent, pc.fill_null(empty, True))
            missing = absent if missing is None else pc.and_(missing, absent)
        if missing is not None:
            no_views.extend(
                start + int(row) for row in np.flatnonzero(missing.to_numpy(zero_copy_only=False))
            )
        start += batch.num_rows
    if bad_labels:
        listing = ", ".join(f"row {row}: {label!r}" for row, label in bad_labels[:_LISTED_ROWS])
        raise GlitchDatasetError(
            f"{source}, split {split!r}: {len(bad_labels)} row(s) have a label outside 0..{num_labels - 1} "
            f"({listing}{' ...' if len(bad_labels) > _LISTED_ROWS else ''}); fix or drop them before training"
        )
    if no_views:
        rows = ", ".join(map(str, no_views[:_LISTED_ROWS]))
        raise GlitchDatasetError(
            f"{source}, split {split!r}: {len(no_views)} row(s) have no image in any of {list(view_columns)} "
            f"(rows {rows}{' ...' if len(no_views) > _LISTED_ROWS else ''}); a sample needs at least one view"
        )


class GlitchViewsTransform:
    """A ``datasets`` transform: decode a batch of rows into views, masks and labels, augmenting in train mode.

    Use with ``dataset.with_transform(GlitchViewsTransform(...))``; the Trainer's DataLoader fetches
    whole batches of rows, so decoding happens per batch and nothing is loaded ahead.

    Parameters
    ----------
    view_durations_s : sequence of float
        Durations (seconds) of the model's views, in its view order.
    augmentation : SpectrogramAugmentation, optional
        Applied to every sample when given (the train split); None for evaluation.
    only_view : int, optional
        Keep only this view position (mask the others): accuracy with a single duration.
    keep_views : sequence of int, optional
        Keep only these view positions (mask the others): accuracy with a subset of the durations.
        Exclusive with ``only_view`` (which is ``keep_views=[only_view]``).
    seed : int, optional
        Fixed seed of the augmentation; by default each batch draws a seed from torch's global
        generator, which the Trainer seeds and restores on resume.
    """

    def __init__(
        self,
        view_durations_s: Sequence[float] = VIEW_DURATIONS_S,
        augmentation: SpectrogramAugmentation | None = None,
        only_view: int | None = None,
        seed: int | None = None,
        keep_views: Sequence[int] | None = None,
    ):
        self.view_durations_s = tuple(float(d) for d in view_durations_s)
        self.columns = view_columns_for(self.view_durations_s)
        self.augmentation = augmentation
        if only_view is not None and keep_views is not None:
            raise ValueError("give only_view or keep_views, not both")
        if only_view is not None:
            keep_views = [only_view]
        if keep_views is not None:
            keep_views = tuple(int(index) for index in keep_views)
            outside = [index for index in keep_views if not 0 <= index < len(self.columns)]
            if not keep_views or outside:
                raise ValueError(
                    f"kept views must be view positions in [0, {len(self.columns)}); got {list(keep_views)}"
                )
        self.only_view = only_view
        self.keep_views = keep_views
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def batch_rng(self) -> np.random.Generator | None:
        """The augmentation's random generator for one batch; None without augmentation."""
        if self.augmentation is None:
            return None
        if self._rng is not None:
            return self._rng
        return np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))

    def finish(
        self, views: np.ndarray, view_mask: np.ndarray, rng: np.random.Generator | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``only_view`` / ``keep_views`` or the augmentation to one sample's decoded views (V, 140, 170)."""
        if self.keep_views is not None:
            keep = np.zeros_like(view_mask)
            keep[list(self.keep_views)] = view_mask[list(self.keep_views)]
            return views * keep[:, None, None], keep
        if self.augmentation is not None:
            return self.augmentation(views, view_mask, rng)
        return views, view_mask

    def __call__(self, batch: Mapping[str, list]) -> dict[str, list]:
        """Transform a batch (dict of column lists) into ``views``, ``view_mask`` and ``labels`` lists."""
        size = len(next(iter(batch.values())))
        rng = self.batch_rng()
        out: dict[str, list] = {"views": [], "view_mask": [], "labels": []}
        for row in range(size):
            example = {column: batch[column][row] for column in self.columns}
            try:
                views, view_mask = decode_views(example, self.columns)
            except Exception as error:
                sample = batch.get("gravityspy_id", [None] * size)[row]
                raise GlitchDatasetError(f"sample {sample!r}: cannot decode its views: {error}") from error
            views, view_mask = self.finish(views, view_mask, rng)
            out["views"].append(views)
            out["view_mask"].append(view_mask)
            out["labels"].append(int(batch[LABEL_COLUMN][row]) if LABEL_COLUMN in batch else -100)
        for key in batch:
            if key not in self.columns and key not in (LABEL_COLUMN, "views", "view_mask"):
                out.setdefault(key, batch[key])
        return out


class GlitchCollator:
    """The Trainer's ``data_collator``: stack a batch's views and run the image processor's batched path once.

    Parameters
    ----------
    image_processor : GravityViTImageProcessor
        Its ``preprocess_views(views, view_mask)`` turns (B, V, 140, 170) views into ``pixel_values``.
    """

    def __init__(self, image_processor):
        self.image_processor = image_processor

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """Collate ``examples`` (outputs of GlitchViewsTransform) into model inputs."""
        views = np.stack([np.asarray(example["views"], dtype=np.float32) for example in examples])
        view_mask = np.stack([np.asarray(example["view_mask"], dtype=bool) for example in examples])
        # Views decoded from 16-bit PNGs and clipped by the augmentation are valid by construction.
        features = self.image_processor.preprocess_views(views, view_mask=view_mask, validate=False)
        batch = {
            "pixel_values": torch.as_tensor(features["pixel_values"]),
            "view_mask": torch.as_tensor(np.asarray(features.get("view_mask", view_mask)), dtype=torch.bool),
        }
        labels = [int(example["labels"]) for example in examples]
        if any(label >= 0 for label in labels):
            batch["labels"] = torch.tensor(labels, dtype=torch.long)
        return batch


# A decoded sample held in memory: its views as the 16-bit integers they were stored as.
_BYTES_PER_VIEW = 2 * VIEW_SHAPE[0] * VIEW_SHAPE[1]


def decoded_size_gib(num_samples: int, num_views: int) -> float:
    """Memory that ``InMemoryGlitchViews`` needs for a split: 16-bit views, in GiB."""
    return num_samples * num_views * _BYTES_PER_VIEW / 2**30


class InMemoryGlitchViews(torch.utils.data.Dataset):
    """One split with its views decoded once into memory, served with the same transform as the Arrow path.

    Decoding four 16-bit PNGs costs about 2.5 ms per sample, about a third of a CPU training step of a
    small model, every epoch; a split that fits in memory is decoded once instead. Views are kept as
    the 16-bit integers the converter stored (exact) and the transform's augmentation or ``only_view``
    is applied per batch, so batches are those of ``dataset.with_transform(transform)``.

    Parameters
    ----------
    dataset : datasets.Dataset
        One split of a converted glitch dataset.
    transform : GlitchViewsTransform
        Its columns are decoded; its augmentation and ``only_view`` are applied to every batch.
    decode_batch_size : int
        Rows decoded per step while loading.
    """

    def __init__(self, dataset, transform: GlitchViewsTransform, decode_batch_size: int = 256):
        self.transform = transform
        decoder = dataset.with_transform(GlitchViewsTransform(transform.view_durations_s))
        size, num_views = len(dataset), len(transform.view_durations_s)
        logger.info(
            "decoding %d samples once into memory (%.2f GiB)", size, decoded_size_gib(size, num_views)
        )
        self.views = np.empty((size, num_views, *VIEW_SHAPE), dtype=np.uint16)
        self.view_mask = np.empty((size, num_views), dtype=bool)
        self.labels = np.empty(size, dtype=np.int64)
        for start in range(0, size, decode_batch_size):
            stop = min(start + decode_batch_size, size)
            batch = decoder[start:stop]
            self.views[start:stop] = np.rint(np.stack(batch["views"]) * VIEW_IMAGE_MAX).astype(np.uint16)
            self.view_mask[start:stop] = np.stack(batch["view_mask"])
            self.labels[start:stop] = batch["labels"]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """A batch of samples, as dicts of ``views``, ``view_mask`` and ``labels`` (the collator's input)."""
        rng = self.transform.batch_rng()
        samples = []
        for index in indices:
            views = self.views[index].astype(np.float32) / np.float32(VIEW_IMAGE_MAX)
            views, view_mask = self.transform.finish(views, self.view_mask[index].copy(), rng)
            samples.append({"views": views, "view_mask": view_mask, "labels": int(self.labels[index])})
        return samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]


def prepare_split(
    dataset,
    view_durations_s: Sequence[float],
    augmentation: SpectrogramAugmentation | None = None,
    only_view: int | None = None,
    in_memory: bool = False,
    keep_views: Sequence[int] | None = None,
):
    """Attach a GlitchViewsTransform to ``dataset`` (one split); the original is unchanged.

    With ``in_memory`` the views are decoded once into an ``InMemoryGlitchViews`` (a torch Dataset
    giving the same samples) instead of at every batch.
    """
    transform = GlitchViewsTransform(
        view_durations_s, augmentation=augmentation, only_view=only_view, keep_views=keep_views
    )
    if in_memory:
        return InMemoryGlitchViews(dataset, transform)
    return dataset.with_transform(transform)


def balanced_class_weights(counts: Mapping[str, int], label_names: Sequence[str]) -> list[float]:
    """Class weights ``n / (n_present_classes * n_c)`` in ``label_names`` order (scikit-learn's "balanced").

    The same rule as the converter's stats JSON, for datasets that come without it; a class absent
    from ``counts`` gets 0 (it never appears in the loss).
    """
    values = np.array([float(counts.get(name, 0)) for name in label_names])
    present = values > 0
    if not present.any():
        raise GlitchDatasetError("cannot compute class weights: no class has any training sample")
    return np.where(present, values.sum() / (present.sum() * np.maximum(values, 1.0)), 0.0).tolist()


def split_class_counts(dataset, split: str = "train") -> dict[str, int]:
    """Class counts of one split, from its label column (reads only that column)."""
    names = label_names_of(dataset[split], split)
    counts = np.bincount(np.asarray(dataset[split][LABEL_COLUMN], dtype=np.int64), minlength=len(names))
    return {name: int(count) for name, count in zip(names, counts)}
