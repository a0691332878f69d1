"""The Gravity Spy data contract: class names, view durations and the one view transformation.

Every module that touches a view (HDF5 reader and writer, PNG reader, Arrow converter, image
processor, pipelines, CLI) takes its constants and its PNG -> view transformation from here, so that
a view means the same thing everywhere. A *view* is a float32 array of shape (140, 170) with values
in [0, 1]: rows are frequency (row 0 is the highest frequency, as in the Omega-scan image),
columns are time.

This module imports only numpy and Pillow: it is copied beside the model code by ``save_pretrained``
so that checkpoints load with ``trust_remote_code=True`` where gravityvit is not installed.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image

# The 22 Gravity Spy classes in the label order of the configs (alphabetical, as spelled).
CLASS_NAMES: tuple[str, ...] = (
    "1080Lines",
    "1400Ripples",
    "Air_Compressor",
    "Blip",
    "Chirp",
    "Extremely_Loud",
    "Helix",
    "Koi_Fish",
    "Light_Modulation",
    "Low_Frequency_Burst",
    "Low_Frequency_Lines",
    "No_Glitch",
    "None_of_the_Above",
    "Paired_Doves",
    "Power_Line",
    "Repeating_Blips",
    "Scattered_Light",
    "Scratchy",
    "Tomte",
    "Violin_Mode",
    "Wandering_Line",
    "Whistle",
)

# Gravity Spy's O3 model (Glanzer et al. 2023, arXiv:2208.12849): v1's classes plus Blip_Low_Frequency and
# Fast_Scattering, without None_of_the_Above; 23 classes in the same alphabetical order.
O3_CLASS_NAMES: tuple[str, ...] = tuple(
    sorted((set(CLASS_NAMES) - {"None_of_the_Above"}) | {"Blip_Low_Frequency", "Fast_Scattering"})
)

# The named label sets: a config's ``label_set``, ``gravityvit convert --label-set``. A label set is
# the ordered list of class names of a classifier (its ``id2label``) and of a converted dataset.
DEFAULT_LABEL_SET = "v1"
LABEL_SETS: dict[str, tuple[str, ...]] = {"v1": CLASS_NAMES, "o3": O3_CLASS_NAMES}
# Every class of a named label set: what the readers and writers accept as a Gravity Spy class.
KNOWN_CLASS_NAMES: tuple[str, ...] = tuple(sorted(set().union(*LABEL_SETS.values())))
_CLASS_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+$")


def resolve_label_set(label_set: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Return the class names of a label set, in label order.

    Args:
        label_set: ``None`` (the default set, ``"v1"``), the name of a set in ``LABEL_SETS``
            (``"v1"``: the 22 classes of the v1 training set; ``"o3"``: the 23 classes of Gravity
            Spy's O3 model), a comma-separated string of class names (``"Blip,Koi_Fish"``, as the
            command line gives it), or a sequence of class names in label order.

    Raises:
        ValueError: for an unknown set name, fewer than two classes, a name that is not letters,
            digits, ``_`` or ``-``, or a name given twice.
    """
    if label_set is None:
        return LABEL_SETS[DEFAULT_LABEL_SET]
    if isinstance(label_set, str):
        if label_set in LABEL_SETS:
            return LABEL_SETS[label_set]
        if "," not in label_set:
            raise ValueError(
                f"unknown label set {label_set!r}: expected one of {sorted(LABEL_SETS)} or a list of class "
                "names (comma-separated on the command line)"
            )
        label_set = [name.strip() for name in label_set.split(",")]
    names = list(label_set)
    bad = [name for name in names if not isinstance(name, str) or not _CLASS_NAME_PATTERN.match(name)]
    if bad:
        raise ValueError(
            f"label set: class names must be non-empty letters, digits, _ or -; got {bad} in {names}"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"label set: class names must be distinct; {duplicates} given more than once in {names}"
        )
    if len(names) < 2:
        raise ValueError(f"label set: a classifier needs at least 2 classes; got {names}")
    return tuple(names)


def label_set_name(names: Sequence[str]) -> str | None:
    """The name of the named label set whose classes are ``names`` in that order, or None."""
    names = tuple(names)
    return next((name for name, classes in LABEL_SETS.items() if classes == names), None)


def describe_label_set(names: Sequence[str]) -> str:
    """How messages name a label set: ``'o3' (23 classes)`` or ``a custom set of 3 classes``."""
    name = label_set_name(names)
    return (
        f"label set {name!r} ({len(names)} classes)"
        if name
        else f"a custom label set of {len(names)} classes"
    )


# Class counts of the v1d1 training set (all splits), used by ``simulate --like-v1d1``.
V1D1_CLASS_COUNTS: dict[str, int] = {
    "1080Lines": 328,
    "1400Ripples": 81,
    "Air_Compressor": 58,
    "Blip": 1821,
    "Chirp": 60,
    "Extremely_Loud": 447,
    "Helix": 279,
    "Koi_Fish": 706,
    "Light_Modulation": 512,
    "Low_Frequency_Burst": 621,
    "Low_Frequency_Lines": 447,
    "No_Glitch": 150,
    "None_of_the_Above": 81,
    "Paired_Doves": 27,
    "Power_Line": 449,
    "Repeating_Blips": 263,
    "Scattered_Light": 443,
    "Scratchy": 337,
    "Tomte": 103,
    "Violin_Mode": 412,
    "Wandering_Line": 42,
    "Whistle": 299,
}

SPLITS: tuple[str, ...] = ("train", "validation", "test")
IFOS: tuple[str, ...] = ("H1", "L1")

# Omega-scan window durations of the four views, in seconds, in view order.
VIEW_DURATIONS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
# HDF5 dataset name of each view: f[label][sample_type][gravityspy_id][key].
HDF5_VIEW_KEYS: tuple[str, ...] = tuple(f"{d:.1f}.png" for d in VIEW_DURATIONS_S)
# Arrow column of each view.
IMAGE_COLUMNS: tuple[str, ...] = tuple(f"image_{round(d * 1000)}ms" for d in VIEW_DURATIONS_S)

VIEW_HEIGHT = 140  # frequency bins (rows), highest frequency first
VIEW_WIDTH = 170  # time bins (columns)
VIEW_SHAPE: tuple[int, int] = (VIEW_HEIGHT, VIEW_WIDTH)

# Per-view pixel statistics over v1d0 train+validation, in view order.
VIEW_PIXEL_MEAN: tuple[float, ...] = (0.178, 0.164, 0.151, 0.142)
VIEW_PIXEL_STD: tuple[float, ...] = (0.116, 0.101, 0.085, 0.072)

# Gravity Spy's rendered PNGs: 800x600 and the pixel box just inside the plot axes.
PNG_SIZE: tuple[int, int] = (800, 600)  # (width, height)
PNG_AXES_ROWS: tuple[int, int] = (66, 532)
PNG_AXES_COLS: tuple[int, int] = (105, 671)
# The Gravity Spy Kaggle dataset ships crops of the plot area, rows 60:539 and columns 100:669 of the
# 800x600 rendering; the axes box above is rows 6:472, columns 5:571 of such a crop, whose last two
# of those columns fall outside it.
KAGGLE_PNG_SIZE: tuple[int, int] = (569, 479)  # (width, height)
KAGGLE_CROP_ORIGIN: tuple[int, int] = (60, 100)  # (row, column) of the crop in the 800x600 image
# Every image size that is read as a rendered Omega scan, with the axes box inside it as
# (row start, row stop, column start, column stop); the stops may lie past the image's edge.
RENDERED_PNG_AXES: dict[tuple[int, int], tuple[int, int, int, int]] = {
    PNG_SIZE: (*PNG_AXES_ROWS, *PNG_AXES_COLS),
    KAGGLE_PNG_SIZE: (
        PNG_AXES_ROWS[0] - KAGGLE_CROP_ORIGIN[0],
        PNG_AXES_ROWS[1] - KAGGLE_CROP_ORIGIN[0],
        PNG_AXES_COLS[0] - KAGGLE_CROP_ORIGIN[1],
        PNG_AXES_COLS[1] - KAGGLE_CROP_ORIGIN[1],
    ),
}
RENDERED_PNG_FORMATS = " or ".join(f"{w}x{h}" for w, h in RENDERED_PNG_AXES)
# skimage.color.rgb2gray weights (ITU-R BT.709), as in Gravity Spy's reader.
RGB_TO_GRAY = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
# Two durations in seconds are the same view when they differ by less than this.
DURATION_TOLERANCE_S = 1e-6
# Gravity Spy PNG names, e.g. H1_zmIdpucyOG_spectrogram_1.0.png; an id may itself contain underscores.
PNG_NAME_PATTERN = re.compile(
    r"^(?P<ifo>[A-Z][0-9])_(?P<gravityspy_id>.+)_spectrogram_(?P<duration>[0-9.]+)\.png$"
)
# Omega-scan colour scale of the rendered PNGs (normalized energy).
NORMALIZED_ENERGY_RANGE: tuple[float, float] = (0.0, 25.5)
# Largest image that is decoded, in pixels (a rendered PNG has 480,000): a larger file is refused
# from its header, before its pixels take memory (Pillow's own limit raises for a whole run).
MAX_IMAGE_PIXELS = 50_000_000


def open_image_file(path: str | os.PathLike) -> Image.Image:
    """Read an image file fully into memory.

    Raises ``ValueError`` naming the file when it cannot be read (missing, truncated, not an
    image) or has more than ``MAX_IMAGE_PIXELS`` pixels, so that one bad file is one error.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValueError(
                        f"{path}: the image is {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS:,} read "
                        f"(a Gravity Spy PNG is {PNG_SIZE[0]}x{PNG_SIZE[1]}); not decoded"
                    )
                image.load()  # decode now: a truncated file fails here, not later
                loaded = image.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{path}: the image is too large to decode ({error})") from None
    except (OSError, SyntaxError, EOFError) as error:
        raise ValueError(f"{path}: cannot read the image ({type(error).__name__}: {error})") from error
    loaded.info["filename"] = str(path)
    return loaded


def duration_label(duration_s: float) -> str:
    """Return the file-name form of a duration, e.g. ``1.0`` for 1 s (as in ``H1_x_spectrogram_1.0.png``)."""
    return f"{float(duration_s):.1f}"


def match_duration(duration_s: float, durations_s: Sequence[float]) -> int | None:
    """Return the position of ``duration_s`` in ``durations_s``, or None when it is not there.

    The one duration comparison of the package: durations come from file names (``1.0``), configs
    (``1``) and JSON, so they match within ``DURATION_TOLERANCE_S`` rather than exactly.
    """
    duration_s = float(duration_s)
    for position, known in enumerate(durations_s):
        if abs(duration_s - float(known)) < DURATION_TOLERANCE_S:
            return position
    return None


def view_position(duration_s: float) -> int:
    """Return the position of a duration among Gravity Spy's four views (``VIEW_DURATIONS_S``: 0 to 3).

    Raises:
        ValueError: for a duration that is not one of Gravity Spy's.
    """
    position = match_duration(duration_s, VIEW_DURATIONS_S)
    if position is None:
        raise ValueError(f"unknown view duration {duration_s!r} s; expected one of {VIEW_DURATIONS_S}")
    return position


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """Convert an (H, W, 3|4) uint8 or [0, 1] float image to gray in [0, 1] with skimage's weights."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"expected an RGB or RGBA image of shape (H, W, 3|4); got {rgb.shape}")
    values = rgb[..., :3].astype(np.float32)
    if np.issubdtype(rgb.dtype, np.integer):
        values /= 255.0
    return np.clip(values @ RGB_TO_GRAY, 0.0, 1.0)


def resize_view(gray: np.ndarray, shape: tuple[int, int] = VIEW_SHAPE) -> np.ndarray:
    """Resize a gray [0, 1] image to ``shape`` (rows, cols) with antialiased bilinear interpolation.

    Pillow's bilinear filter widens its support when it shrinks, which is the anti-aliased rescale
    that Gravity Spy's reader (``skimage.transform.rescale(..., 0.3)``) performs.
    """
    image = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    resized = image.resize((shape[1], shape[0]), resample=Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def is_rendered_png_size(size: tuple[int, int]) -> bool:
    """Whether a (width, height) is that of a rendered Omega scan: the 800x600 PNG or a Kaggle crop."""
    return tuple(size) in RENDERED_PNG_AXES


def png_to_view(png: np.ndarray | Image.Image) -> np.ndarray:
    """Turn one rendered Gravity Spy PNG into a (140, 170) float32 view in [0, 1].

    Two formats are recognised by their size: Gravity Spy's 800x600 rendering and the Kaggle
    dataset's 569x479 crop of its plot area. Both are cropped to the plot axes (rows 66:532, columns
    105:671 of the rendering), converted to gray and resized, as Gravity Spy's own reader does. The
    Kaggle crop lacks the last two of those 566 columns; they are filled with its last column, which
    changes only the view's last column. Raises ``ValueError`` for any other size.
    """
    pixels = np.asarray(png.convert("RGB") if isinstance(png, Image.Image) else png)
    size = (pixels.shape[1], pixels.shape[0]) if pixels.ndim == 3 else None
    if size is None or not is_rendered_png_size(size):
        raise ValueError(
            f"a Gravity Spy PNG must be {RENDERED_PNG_FORMATS} pixels (width x height: the "
            f"rendering or its Kaggle crop) with colour channels; got an array of shape {pixels.shape}"
        )
    row_start, row_stop, col_start, col_stop = RENDERED_PNG_AXES[size]
    axes = pixels[row_start:row_stop, col_start:col_stop]
    missing_columns = col_stop - col_start - axes.shape[1]
    if missing_columns:
        axes = np.pad(axes, ((0, 0), (0, missing_columns), (0, 0)), mode="edge")
    return resize_view(rgb_to_gray(axes))


def merge_views(views: np.ndarray) -> np.ndarray:
    """Tile four (140, 170) views into Gravity Spy's 2x2 merged view (280, 340).

    0.5 s and 1.0 s on top, 2.0 s and 4.0 s below, as the production classifier lays them out.
    """
    views = np.asarray(views)
    if views.shape != (len(VIEW_DURATIONS_S), *VIEW_SHAPE):
        raise ValueError(f"expected views of shape (4, 140, 170); got {views.shape}")
    top = np.concatenate([views[0], views[1]], axis=1)
    bottom = np.concatenate([views[2], views[3]], axis=1)
    return np.concatenate([top, bottom], axis=0)


def split_merged_view(merged: np.ndarray) -> np.ndarray:
    """Split a 2x2 merged view (280, 340) back into four (140, 170) views in duration order."""
    merged = np.asarray(merged)
    expected = (2 * VIEW_HEIGHT, 2 * VIEW_WIDTH)
    if merged.shape != expected:
        raise ValueError(f"a merged view must have shape {expected}; got {merged.shape}")
    h, w = VIEW_HEIGHT, VIEW_WIDTH
    return np.stack([merged[:h, :w], merged[:h, w:], merged[h:, :w], merged[h:, w:]])


# 16-bit gray PNG is how views are stored as images (Arrow Image columns): the rounding error is at
# most 0.5 / 65535 ~ 7.6e-6 of the [0, 1] range, far below the 8-bit PNG's 0.5 / 255 ~ 2e-3.
VIEW_IMAGE_MAX = 65535


def view_to_image(view: np.ndarray) -> Image.Image:
    """Encode a (140, 170) or (1, 140, 170) float view in [0, 1] as a 16-bit gray PIL image."""
    view = np.asarray(view, dtype=np.float32)
    if view.ndim == 3 and view.shape[0] == 1:
        view = view[0]
    if view.ndim != 2:
        raise ValueError(f"a view must have shape (140, 170) or (1, 140, 170); got {view.shape}")
    # Little-endian uint16 maps to mode "I;16"; Pillow 13 refuses an explicit mode= for it.
    quantised = np.rint(np.clip(view, 0.0, 1.0) * VIEW_IMAGE_MAX).astype("<u2")
    return Image.fromarray(quantised)


def image_to_view(image: Image.Image) -> np.ndarray:
    """Decode a PIL image into a float32 gray view in [0, 1], keeping its size.

    16-bit and 32-bit integer gray images are read as ``view_to_image`` wrote them, 8-bit gray as
    x / 255, float images as they are. A colour image that is a rendered Gravity Spy PNG (800x600, or
    a 569x479 Kaggle crop) is cropped to its axes and resized (``png_to_view``); any other colour image is converted to gray.
    """
    if is_rendered_png_size(image.size) and image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float images are stored views (170x140); a rendering of this size is 8-bit.
        raise ValueError(
            f"a {image.size[0]}x{image.size[1]} image is read as a rendered Gravity Spy PNG, which has 8-bit "
            f"colour (RGB/RGBA); this one is {image.mode} ({'16-bit' if image.mode.startswith('I;16') else '32-bit'} "
            f"gray). Views stored as 16-bit gray images are {VIEW_WIDTH}x{VIEW_HEIGHT}"
        )
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(image, dtype=np.float32) / VIEW_IMAGE_MAX
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    if image.mode in ("L", "LA"):
        if is_rendered_png_size(image.size):  # a gray rendering: cropped to its axes like a colour one
            return png_to_view(image)
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    rgb = np.asarray(image.convert("RGB"))
    if is_rendered_png_size((rgb.shape[1], rgb.shape[0])):
        return png_to_view(rgb)
    return rgb_to_gray(rgb)
