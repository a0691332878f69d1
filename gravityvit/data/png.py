"""Reader of Gravity Spy PNG folders: ``{Class}/{ifo}_{gravityspy_id}_spectrogram_{d}.png``.

Gravity Spy renders each duration d (0.5, 1.0, 2.0, 4.0 s) of a glitch as an 800x600 RGBA PNG; the
Gravity Spy Kaggle dataset ships 569x479 crops of their plot area under the same names. This
reader groups the four files of each sample and turns each into a (140, 170) view with
``gravity_spy.png_to_view`` (crop to the axes, gray, resize: Gravity Spy's own transformation), so a
sample read from PNGs looks like one read from the HDF5 file: values in [0, 1], row 0 the highest
frequency, low frequency at the bottom row.

The folder tree is searched recursively; the class is the name of the folder holding the PNGs. The
split (``sample_type``) comes from the metadata CSV when one is given, else from a ``train`` /
``validation`` / ``test`` folder above the class folder, else ``default_sample_type`` ("test": PNG
folders without metadata are usually data to classify or evaluate, not to train on).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from gravityvit.data.hdf5 import (
    KEY_COLUMNS,
    LABEL_CORRECTIONS,
    GravitySpyDataError,
    GravitySpySample,
    IndexedSampleReader,
    read_metadata_csv,
    unknown_class_reason,
    validate_gravityspy_id,
    validate_view,
)
from gravityvit.gravity_spy import (
    PNG_NAME_PATTERN,
    SPLITS,
    VIEW_DURATIONS_S,
    VIEW_SHAPE,
    duration_label,
    png_to_view,
    resolve_label_set,
)

DURATION_LABELS: tuple[str, ...] = tuple(duration_label(d) for d in VIEW_DURATIONS_S)


def read_png_view(
    path: str | os.PathLike, *, sample: str | None = None, field: str | None = None
) -> np.ndarray:
    """Read one rendered Gravity Spy PNG (800x600, or a 569x479 Kaggle crop) as a (140, 170) view.

    Raises ``GravitySpyDataError`` naming the file, ``sample`` and ``field`` when the file cannot be
    read as an image or has neither size.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            view = png_to_view(image)
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as error:
        raise GravitySpyDataError(f"cannot read the PNG: {error}", str(path), sample, field) from error
    except ValueError as error:
        raise GravitySpyDataError(str(error), str(path), sample, field) from error
    return validate_view(view, source=str(path), sample=sample, field=field)


@dataclasses.dataclass(frozen=True)
class PNGEntry:
    """One sample of a PNG folder: its class folder, split, id, detector and files per duration."""

    label: str
    sample_type: str
    gravityspy_id: str
    ifo: str
    folder: Path
    files: tuple[tuple[str, Path], ...]  # (duration label "0.5", path), sorted by duration
    problem: str | None = None  # why the sample cannot be read although its files exist (duplicate id)

    @property
    def name(self) -> str:
        """How errors name the sample: ``folder/ifo_id``."""
        return str(self.folder / f"{self.ifo}_{self.gravityspy_id}")


class GravitySpyPNGReader(IndexedSampleReader):
    """Lazy reader of Gravity Spy PNG folders; item ``i`` is a ``GravitySpySample``.

    Parameters
    ----------
    root : path
        Folder searched recursively for ``{ifo}_{id}_spectrogram_{d}.png`` files; the class is the
        name of each file's folder.
    metadata_csv : path, optional
        Metadata CSV joined on gravityspy_id (gives ``sample_type``, ``ifo`` and ``metadata``).
    default_sample_type : str
        Split of samples that neither the CSV nor a split folder assigns ("test" by default).
    apply_label_corrections : bool
        Correct the known mislabelled samples (``LABEL_CORRECTIONS``), as the HDF5 reader does.
    allow_missing_views : bool
        Read a sample that lacks some durations (real data often has only some, e.g. the 4 s view)
        with the missing views all zeros and ``view_mask`` False there. Off by default: a missing
        file in a training set is more often an incomplete copy than a property of the data.
    label_set : str or sequence of str, optional
        The class folders' names (``gravity_spy.resolve_label_set``): ``"v1"`` (the default),
        ``"o3"`` or a list of class names. A sample in another folder fails on access.

    Notes
    -----
    The PNGs (800x600 or Kaggle crops) are read when a sample is accessed. A sample with a missing
    duration (unless ``allow_missing_views``), a file of another size, an unreadable file or an
    unknown class folder raises ``GravitySpyDataError`` naming the sample and the field (the
    duration's HDF5 key, e.g. ``"2.0.png"``) on access; ``convert_to_arrow(...,
    on_bad_sample="skip")`` leaves it out.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        metadata_csv: str | os.PathLike | None = None,
        *,
        default_sample_type: str = "test",
        apply_label_corrections: bool = True,
        allow_missing_views: bool = False,
        label_set: str | Sequence[str] | None = None,
    ):
        self.root = Path(root)
        self.class_names = resolve_label_set(label_set)
        self.allow_missing_views = allow_missing_views
        self.path = self.root  # the source named in errors and stats, as for the HDF5 reader
        if not self.root.is_dir():
            raise FileNotFoundError(f"Gravity Spy PNG folder not found: {self.root}")
        if default_sample_type not in SPLITS:
            raise ValueError(
                f"default_sample_type must be one of {list(SPLITS)}; got {default_sample_type!r}"
            )
        self.default_sample_type = default_sample_type
        self.apply_label_corrections = apply_label_corrections
        self.metadata_csv = Path(metadata_csv) if metadata_csv is not None else None
        if self.metadata_csv is not None:
            self._metadata, self.metadata_column_types = read_metadata_csv(self.metadata_csv)
        else:
            self._metadata, self.metadata_column_types = {}, {}
        self._entries = self._build_index()
        if not self._entries:
            raise GravitySpyDataError(
                "no Gravity Spy PNGs ({ifo}_{id}_spectrogram_{d}.png) found", source=str(self.root)
            )

    def _build_index(self) -> list[PNGEntry]:
        groups: dict[tuple[Path, str, str], dict[str, Path]] = {}
        for path in sorted(self.root.rglob("*_spectrogram_*.png")):
            match = PNG_NAME_PATTERN.match(path.name)
            if match is None:
                continue
            key = (path.parent, match["ifo"], match["gravityspy_id"])
            try:
                duration = duration_label(float(match["duration"]))
            except ValueError:
                continue
            groups.setdefault(key, {})[duration] = path
        entries: list[PNGEntry] = []
        seen: dict[str, Path] = {}
        for (folder, ifo, gravityspy_id), files in groups.items():
            # A second copy of an id (another class folder or detector) is kept in the index but fails
            # on reading, so that the converter's skip policy can leave it out.
            problem = f"the id also appears in {seen[gravityspy_id]}" if gravityspy_id in seen else None
            seen.setdefault(gravityspy_id, folder)
            entries.append(
                PNGEntry(
                    label=folder.name,
                    sample_type=self._sample_type(gravityspy_id, folder),
                    gravityspy_id=gravityspy_id,
                    ifo=ifo,
                    folder=folder,
                    files=tuple(sorted(files.items(), key=lambda item: float(item[0]))),
                    problem=problem,
                )
            )
        class_order = {name: i for i, name in enumerate(self.class_names)}
        entries.sort(key=lambda e: (class_order.get(e.label, len(class_order)), e.label, e.gravityspy_id))
        return entries

    def _sample_type(self, gravityspy_id: str, folder: Path) -> str:
        row = self._metadata.get(gravityspy_id)
        if row is not None and row.get("sample_type") is not None:
            return str(row["sample_type"])
        if folder.parent != folder and folder.parent.name in SPLITS and folder.parent != self.root.parent:
            return folder.parent.name
        return self.default_sample_type

    # -- index ---------------------------------------------------------------------------------------

    @property
    def entries(self) -> list[PNGEntry]:
        """The index: one ``PNGEntry`` per sample (class folder, split, id, files)."""
        return list(self._entries)

    # -- samples -------------------------------------------------------------------------------------

    def _read(self, entry: PNGEntry) -> GravitySpySample:
        source = str(self.root)
        if entry.label not in self.class_names:
            raise GravitySpyDataError(
                unknown_class_reason(entry.label, self.class_names, "class folder"),
                source,
                entry.name,
                "label",
            )
        if entry.sample_type not in SPLITS:
            raise GravitySpyDataError(
                f"unknown sample_type {entry.sample_type!r}; expected one of {list(SPLITS)}",
                source,
                entry.name,
                "sample_type",
            )
        if entry.problem is not None:
            raise GravitySpyDataError(entry.problem, source, entry.name, "gravityspy_id")
        validate_gravityspy_id(entry.gravityspy_id, source=source, sample=entry.name)
        files = dict(entry.files)
        if not self.allow_missing_views:
            for duration in DURATION_LABELS:
                if duration not in files:
                    raise GravitySpyDataError(
                        f"missing view: no {entry.ifo}_{entry.gravityspy_id}_spectrogram_{duration}.png "
                        f"(found durations {sorted(files, key=float)}; allow_missing_views / "
                        "--allow-missing-views reads it with that view masked)",
                        source,
                        entry.name,
                        f"{duration}.png",
                    )
        views, view_mask = _read_views(files, entry.name, source)
        row = self._metadata.get(entry.gravityspy_id, {})
        label = entry.label
        if self.apply_label_corrections:
            label = LABEL_CORRECTIONS.get(entry.gravityspy_id, label)
        return GravitySpySample(
            gravityspy_id=entry.gravityspy_id,
            label=label,
            sample_type=entry.sample_type,
            views=views,
            ifo=str(row.get("ifo") or entry.ifo),
            metadata={k: v for k, v in row.items() if k not in KEY_COLUMNS},
            view_mask=None if view_mask.all() else view_mask,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, samples={len(self)}, metadata_csv={self.metadata_csv})"


def _read_views(files: dict[str, Path], name: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Read the PNGs of one sample, {duration label: path}: views (4, 140, 170), zeros where missing, and mask."""
    if not files:
        raise GravitySpyDataError("no view: a sample needs at least one PNG", source, name, "views")
    views = np.zeros((len(DURATION_LABELS), *VIEW_SHAPE), dtype=np.float32)
    view_mask = np.zeros(len(DURATION_LABELS), dtype=bool)
    for index, duration in enumerate(DURATION_LABELS):
        if duration in files:
            views[index] = read_png_view(files[duration], sample=name, field=f"{duration}.png")
            view_mask[index] = True
    return views, view_mask


def read_png_sample(
    paths: Sequence[str | os.PathLike], *, allow_missing_views: bool = False, **fields: Any
) -> GravitySpySample:
    """Read the PNGs of one sample (any order) into a ``GravitySpySample``.

    ``paths`` must hold one ``{ifo}_{id}_spectrogram_{d}.png`` per duration, or at least one with
    ``allow_missing_views`` (the others are then masked in ``view_mask``); ``fields`` override the
    sample's ``label`` (default: the folder name), ``sample_type`` (default "test"), ``metadata``.
    """
    files: dict[str, Path] = {}
    ids, ifos = set(), set()
    for raw in paths:
        path = Path(raw)
        match = PNG_NAME_PATTERN.match(path.name)
        if match is None:
            raise GravitySpyDataError(
                "the file name is not {ifo}_{id}_spectrogram_{d}.png", str(path), field="file name"
            )
        files[duration_label(float(match["duration"]))] = path
        ids.add(match["gravityspy_id"])
        ifos.add(match["ifo"])
    if len(ids) != 1:
        raise GravitySpyDataError(f"the PNGs belong to several samples: {sorted(ids)}", field="gravityspy_id")
    gravityspy_id, ifo = ids.pop(), ifos.pop()
    folder = next(iter(files.values())).parent
    name = str(folder / f"{ifo}_{gravityspy_id}")
    if not allow_missing_views:
        for duration in DURATION_LABELS:
            if duration not in files:
                raise GravitySpyDataError(
                    "missing view (allow_missing_views=True reads it masked)",
                    str(folder),
                    name,
                    f"{duration}.png",
                )
    views, view_mask = _read_views(files, name, str(folder))
    return GravitySpySample(
        gravityspy_id=gravityspy_id,
        label=fields.get("label", folder.name),
        sample_type=fields.get("sample_type", "test"),
        views=views,
        ifo=ifo,
        metadata=dict(fields.get("metadata", {})),
        view_mask=None if view_mask.all() else view_mask,
    )
