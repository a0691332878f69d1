"""What the glitch-classification pipeline and ``gravityvit predict`` accept, turned into samples.

:func:`expand_inputs` takes what a user passes and yields one :class:`GlitchSample` per glitch:

- a dict of views by duration (``{0.5: view, "1.0": image, "image_2000ms": "path.png", ...}``);
- the PNG paths of Gravity Spy samples (``{ifo}_{id}_spectrogram_{d}.png``), grouped by sample id;
- a folder of such PNGs (searched recursively, grouped by sample id);
- a Gravity Spy HDF5 file or an Arrow dataset directory (``save_to_disk``) of the converter;
- strain and GPS time(s): ``{"strain": FILE_OR_TIMESERIES, "gps": T or [T, ...], "channel": ...}``,
  Omega-scanned first;
- one array, tuple of views, PIL image or path (as the image processor reads them);
- or a list of these.

Every file is read lazily (``GlitchSample.load``) and every error is an :class:`InputError` naming the
file or sample. Like ``pipelines.py``, this module is saved beside the model code for
``trust_remote_code``: it imports the Gravity Spy contract module relatively, and gravityvit's readers
only when an input needs them.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .gravity_spy import (
    HDF5_VIEW_KEYS,
    IMAGE_COLUMNS,
    KNOWN_CLASS_NAMES,
    PNG_NAME_PATTERN,
    VIEW_DURATIONS_S,
    duration_label,
    open_image_file,
)

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
HDF5_SUFFIXES: tuple[str, ...] = (".h5", ".hdf5", ".hdf")
# Keys of an input dict that describe the sample rather than hold a view.
_ID_KEYS: tuple[str, ...] = ("sample_id", "gravityspy_id", "id")
_VIEW_KEY = re.compile(r"^\d+(\.\d+)?s?(\.png)?$")


class InputError(ValueError):
    """An input that cannot be classified; the message names the file or sample and the reason.

    Attributes
    ----------
    source : str
        The file, folder or sample at fault.
    """

    def __init__(self, source: str, reason: str):
        self.source, self.reason = str(source), str(reason)
        super().__init__(f"{self.source}: {self.reason}")

    def __reduce__(self):
        return (type(self), (self.source, self.reason))


@dataclasses.dataclass
class GlitchSample:
    """One sample to classify.

    Attributes
    ----------
    sample_id : str
        Gravity Spy id, file stem or ``input-N``; the key of the sample in predictions.
    source : str
        Where the sample came from (file, folder, HDF5 path); error messages name it.
    load : callable
        Returns the sample in a form the image processor reads (dict of views by duration, tuple,
        array, PIL image or path). Called lazily so large inputs stream.
    label : str, optional
        The known class (HDF5 / Arrow label, or the class folder of a PNG), for evaluation.
    metadata : dict
        Extra fields for the output (ifo, gps, split, ...).
    """

    sample_id: str
    source: str
    load: Callable[[], Any]
    label: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Reading files (every error names the file)
# ---------------------------------------------------------------------------------------------------


def _gravityvit_module(name: str, what: str) -> Any:
    """Import ``gravityvit.<name>``, absent in remote-code environments, with a clear error."""
    try:
        return importlib.import_module(f"gravityvit.{name}")
    except ImportError as error:
        raise ImportError(
            f"{what} needs the gravityvit package (pip install gravityvit); this environment has only the "
            f"model's remote code: {error}"
        ) from error


def open_image(path: str | os.PathLike) -> Image.Image:
    """Read an image file fully into memory; raise ``InputError`` naming it when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found")
    try:
        return open_image_file(path)  # decoded now: a truncated or oversized file fails here
    except ValueError as error:
        raise InputError(str(path), str(error).removeprefix(f"{path}: ")) from error


def _load_value(value: Any) -> Any:
    """Read a path inside a dict or tuple of views into an image; leave other values as they are."""
    if isinstance(value, (str, os.PathLike)):
        return open_image(value)
    return value


def load_sample(sample: GlitchSample) -> Any:
    """Return the processor input of ``sample``, with every file read (errors name the file)."""
    try:
        data = sample.load()
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as error:
        raise InputError(sample.source, f"{type(error).__name__}: {error}") from error
    if isinstance(data, Mapping):
        return {key: _load_value(value) for key, value in data.items()}
    if isinstance(data, tuple):
        return tuple(_load_value(value) for value in data)
    if isinstance(data, (str, os.PathLike)):
        open_image(data)  # check it reads; the processor reads the path itself (duration from the name)
    return data


# ---------------------------------------------------------------------------------------------------
# Input grouping, shared by the pipeline and ``gravityvit predict``
# ---------------------------------------------------------------------------------------------------


def _is_view_key(key: Any) -> bool:
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return True
    text = str(key)
    return text in IMAGE_COLUMNS or text in HDF5_VIEW_KEYS or _VIEW_KEY.match(text) is not None


def _mapping_sample(mapping: Mapping[Any, Any], index: int) -> GlitchSample:
    views = {key: value for key, value in mapping.items() if _is_view_key(key)}
    extra = {str(key): value for key, value in mapping.items() if not _is_view_key(key)}
    sample_id = next((str(extra.pop(key)) for key in _ID_KEYS if key in extra), f"input-{index}")
    if not views:
        raise InputError(
            sample_id,
            f"no view in the input dict (keys {list(mapping)}); use durations (0.5, '1.0'), HDF5 keys "
            f"{HDF5_VIEW_KEYS} or columns {IMAGE_COLUMNS}, or 'strain' + 'gps'",
        )
    label = extra.pop("label", None)
    label = str(label) if label is not None else None
    return GlitchSample(sample_id, sample_id, lambda: views, label=label, metadata=extra)


def _strain_samples(spec: Mapping[str, Any], index: int) -> Iterator[GlitchSample]:
    """Samples of ``{"strain": FILE_OR_TIMESERIES, "gps": T or [T, ...], "channel": str, "ifo": str}``."""
    strain, gps_times = spec["strain"], spec.get("gps")
    if gps_times is None:
        raise InputError(f"input-{index}", "strain input needs 'gps': the GPS time(s) of the glitch(es)")
    gps_times = [gps_times] if isinstance(gps_times, (int, float, str)) else list(gps_times)
    channel = spec.get("channel")
    is_file = isinstance(strain, (str, os.PathLike))
    name = Path(strain).name if is_file else getattr(strain, "name", None) or f"strain-{index}"
    ifo = spec.get("ifo") or (str(channel).split(":")[0] if channel else None)
    for gps in gps_times:
        try:
            gps = float(gps)
        except ValueError:
            raise InputError(str(name), f"GPS time {gps!r} is not a number") from None

        def load(gps: float = gps) -> dict[float, np.ndarray]:
            omega = _gravityvit_module("data.omega", "strain input (Omega scan)")
            series = strain
            if is_file:
                series = omega.load_strain(strain, channel, gps=gps, pad_s=omega.DATA_SPAN_S / 2)
            try:
                views = omega.omega_scan_views(series, gps)
            except ValueError as error:  # StrainError: too little data, low sample rate, NaN
                raise InputError(f"{name} at GPS {gps}", str(error)) from error
            return dict(zip(VIEW_DURATIONS_S, views))

        prefix = f"{ifo}_" if ifo else ""
        yield GlitchSample(
            f"{prefix}{gps:.3f}",
            f"{name} at GPS {gps}",
            load,
            metadata={"gps": gps, "ifo": ifo, "strain": name},
        )


def _group_image_paths(paths: Sequence[Path]) -> Iterator[GlitchSample]:
    """Group Gravity Spy PNGs by (folder, ifo, id); any other image is a sample of its own."""
    groups: dict[tuple[Path, str, str], dict[float, Path]] = {}
    order: list[tuple[Path, str, str] | Path] = []
    for path in paths:
        match = PNG_NAME_PATTERN.match(path.name)
        duration = None
        if match is not None:
            try:
                duration = float(match["duration"])
            except ValueError:
                duration = None
        if duration is None:
            order.append(path)
            continue
        key = (path.parent, match["ifo"], match["gravityspy_id"])
        if key not in groups:
            groups[key] = {}
            order.append(key)
        groups[key][duration] = path
    for item in order:
        if isinstance(item, Path):
            yield GlitchSample(item.stem, str(item), lambda item=item: item)
            continue
        folder, ifo, gravityspy_id = item
        files = dict(sorted(groups[item].items()))
        # A folder named after a class of any label set (v1, o3) gives the sample's true label.
        label = folder.name if folder.name in KNOWN_CLASS_NAMES else None
        source = str(
            folder / f"{ifo}_{gravityspy_id}_spectrogram_{{{','.join(map(duration_label, files))}}}.png"
        )
        yield GlitchSample(
            gravityspy_id,
            source,
            lambda files=files: {duration: path for duration, path in files.items()},
            label=label,
            metadata={"ifo": ifo},
        )


def _is_arrow_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def _arrow_samples(path: Path) -> Iterator[GlitchSample]:
    import datasets

    example_to_views = _gravityvit_module("data.arrow", "Arrow dataset input").example_to_views
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as error:  # datasets raises several types for a broken directory
        raise InputError(
            str(path), f"cannot load the Arrow dataset ({type(error).__name__}: {error})"
        ) from error
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    for split, dataset in splits:
        label_feature = dataset.features.get("label")
        for row in range(len(dataset)):

            def load(dataset=dataset, row=row) -> dict[float, np.ndarray]:
                views, mask = example_to_views(dataset[row])
                return {d: view for d, view, present in zip(VIEW_DURATIONS_S, views, mask) if present}

            sample_id = (
                str(dataset[row]["gravityspy_id"]) if "gravityspy_id" in dataset.column_names else None
            )
            label = None
            if label_feature is not None:
                value = dataset[row]["label"]
                label = label_feature.int2str(value) if hasattr(label_feature, "int2str") else str(value)
            where = f"{path}[{split}][{row}]" if split else f"{path}[{row}]"
            yield GlitchSample(
                sample_id or f"{split or 'row'}-{row}", where, load, label=label, metadata={"split": split}
            )


def _hdf5_samples(path: Path) -> Iterator[GlitchSample]:
    hdf5 = _gravityvit_module("data.hdf5", "HDF5 input")
    try:
        reader = hdf5.GravitySpyHDF5Reader(path)
    except (OSError, ValueError) as error:
        raise InputError(
            str(path), f"cannot read the Gravity Spy HDF5 file ({type(error).__name__}: {error})"
        ) from error
    for index, entry in enumerate(reader.entries):

        def load(entry=entry) -> dict[float, np.ndarray]:
            return dict(zip(VIEW_DURATIONS_S, reader.read_views(entry)))

        label = reader.label_of(index)
        yield GlitchSample(
            entry.gravityspy_id,
            f"{path}:{entry.hdf5_path}",
            load,
            label=label if label in KNOWN_CLASS_NAMES else None,
            metadata={"split": entry.sample_type},
        )


def _path_samples(paths: list[Path]) -> Iterator[GlitchSample]:
    """Samples of file and folder paths given together (image files are grouped across the list)."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            if _is_arrow_dataset(path):
                yield from _arrow_samples(path)
                continue
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise InputError(str(path), "the folder holds no images (PNG) and is not an Arrow dataset")
            images.extend(found)
        elif path.suffix.lower() in HDF5_SUFFIXES:
            if not path.is_file():
                raise InputError(str(path), "file not found")
            yield from _hdf5_samples(path)
        elif path.suffix.lower() in IMAGE_SUFFIXES or not path.suffix:
            images.append(path)
        else:
            raise InputError(
                str(path),
                f"unknown input type {path.suffix!r}; expected images (PNG), a folder, a Gravity Spy HDF5 "
                "file or an Arrow dataset directory (strain files go with --strain/--gps)",
            )
    yield from _group_image_paths(images)


def expand_inputs(inputs: Any, *, errors: str = "raise") -> Iterator[GlitchSample | InputError]:
    """Turn what a user passes into samples (see the module docstring for the forms).

    Parameters
    ----------
    inputs : input or list of inputs
        A list is a batch; paths in it are grouped across the list (the four PNGs of one sample
        give one sample).
    errors : {"raise", "yield"}
        ``"raise"`` raises ``InputError`` at the first input that cannot be expanded; ``"yield"``
        yields the error in its place and goes on (``gravityvit predict`` reports and continues).

    Yields
    ------
    GlitchSample or InputError
    """
    if errors not in ("raise", "yield"):
        raise ValueError(f"errors must be 'raise' or 'yield'; got {errors!r}")
    items = list(inputs) if isinstance(inputs, list) else [inputs]
    pending_paths: list[Path] = []

    def flush() -> Iterator[GlitchSample | InputError]:
        # Paths are expanded one at a time so a bad file does not hide the others.
        images = [p for p in pending_paths if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()]
        others = [p for p in pending_paths if p not in images]
        for path in others:
            yield from _guard(lambda path=path: _path_samples([path]))
        if images:
            yield from _guard(lambda: _path_samples(images))
        pending_paths.clear()

    def _guard(make: Callable[[], Iterable[GlitchSample]]) -> Iterator[GlitchSample | InputError]:
        try:
            yield from make()
        except InputError as error:
            if errors == "raise":
                raise
            yield error

    for index, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            pending_paths.append(Path(item))
            continue
        yield from flush()
        if isinstance(item, GlitchSample):
            yield item
        elif isinstance(item, Mapping) and "strain" in item:
            yield from _guard(lambda item=item, index=index: _strain_samples(item, index))
        elif isinstance(item, Mapping):
            yield from _guard(lambda item=item, index=index: [_mapping_sample(item, index)])
        elif isinstance(item, (tuple, np.ndarray, torch.Tensor, Image.Image)):
            name = item.info.get("filename") if isinstance(item, Image.Image) else None
            sample_id = Path(name).stem if name else f"input-{index}"
            yield GlitchSample(sample_id, name or sample_id, lambda item=item: item)
        else:
            error = InputError(
                f"input-{index}",
                f"cannot classify a {type(item).__name__}; expected a path, a folder, a dict of views, "
                "strain + gps, an array, a tuple of views or a PIL image",
            )
            if errors == "raise":
                raise error
            yield error
    yield from flush()


__all__ = [
    "HDF5_SUFFIXES",
    "IMAGE_SUFFIXES",
    "GlitchSample",
    "InputError",
    "expand_inputs",
    "load_sample",
    "open_image",
]
