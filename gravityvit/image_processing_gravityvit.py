"""Image processor for GravityViT (and the Gravity Spy CNN baseline): views -> pixel_values + view_mask.

What users hold becomes the views of the Gravity Spy contract (``gravity_spy.py``: float32 (140, 170)
in [0, 1], decoded and cropped only by that module's functions; ``to_views``), then one vectorised
torch step (``preprocess_views``) resizes all present views of the batch to the model's input size,
repeats gray into three channels and normalises with the backbone's mean and std. The pipeline calls
the two halves apart: ``to_views`` per sample, ``preprocess_views`` once per batch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

from .gravity_spy import (
    HDF5_VIEW_KEYS,
    IMAGE_COLUMNS,
    RENDERED_PNG_FORMATS,
    VIEW_DURATIONS_S,
    VIEW_HEIGHT,
    VIEW_SHAPE,
    VIEW_WIDTH,
    image_to_view,
    is_rendered_png_size,
    match_duration,
    open_image_file,
    split_merged_view,
)

MERGED_VIEW_SHAPE: tuple[int, int] = (2 * VIEW_HEIGHT, 2 * VIEW_WIDTH)
# Gravity Spy file names end in "_spectrogram_<duration>.png", e.g. H1_zmIdpucyOG_spectrogram_1.0.png.
_DURATION_IN_NAME = re.compile(r"(?:spectrogram_|_)(\d+(?:\.\d+)?)\.png$", re.IGNORECASE)
_VALUE_TOLERANCE = 1e-6


class GravityViTImageProcessor(BaseImageProcessor):
    r"""Turn Omega-scan views into ``pixel_values`` (B, V, 3, H, W) and ``view_mask`` (B, V).

    Parameters
    ----------
    image_size : int or (int, int), default 224
        Model input size in pixels (square, or (height, width)); each (140, 170) view is resized to it.
    view_durations_s : list of float, default (0.5, 1.0, 2.0, 4.0)
        Duration in seconds of each view slot of the model, in order.
    image_mean : list of float, default (0.5, 0.5, 0.5)
        Per-channel mean subtracted after the gray view is repeated into RGB (the backbone's).
    image_std : list of float, default (0.5, 0.5, 0.5)
        Per-channel std divided by (the backbone's).
    default_view_duration_s : float, default 1.0
        Duration given to a lone view whose duration cannot be known (an array, or a PIL image
        without a file name, as the stock image-classification pipeline passes) and no
        ``view_duration_s`` argument was given. 1 s is Gravity Spy's reference window.

    What a sample may be (a batch is a ``list`` of samples; anything else is one sample):
        - a ``dict`` from duration to view: keys ``0.5`` / ``"0.5"`` / ``"0.5.png"`` (HDF5 keys) /
          ``"image_500ms"`` (Arrow columns); missing or ``None`` views are masked;
        - a ``tuple`` of views in the model's slot order (or the four Gravity Spy views in duration
          order when the model has fewer slots); ``None`` entries are masked;
        - one array: a view (140, 170) or (1, 140, 170), all views (V, 140, 170) / (V, 1, 140, 170),
          or a 2x2 merged view (280, 340) (Gravity Spy's production mosaic, split into 4 views);
        - a PIL image or a file path: a rendered Gravity Spy PNG of one duration (800x600, or the
          Kaggle dataset's 569x479 crop of its plot area; cropped,
          gray, resized by ``gravity_spy.png_to_view``), a 16-bit view image (170x140) or a merged
          view (340x280). A lone view fills one slot and masks the others; its duration comes from
          ``view_duration_s``, else the file name (``..._spectrogram_1.0.png``), else
          ``default_view_duration_s``.
        Views given as arrays are float in [0, 1].

    Raises
    ------
    ValueError
        Naming the sample index, the file (when known) and the field (view duration) for an unknown
        input type, a wrong size or channel count, NaN or values outside [0, 1], an unknown
        duration, or a sample without any view.
    """

    model_input_names: ClassVar[list[str]] = ["pixel_values", "view_mask"]

    def __init__(
        self,
        image_size: int | Sequence[int] = 224,
        view_durations_s: Sequence[float] = VIEW_DURATIONS_S,
        image_mean: Sequence[float] = (0.5, 0.5, 0.5),
        image_std: Sequence[float] = (0.5, 0.5, 0.5),
        default_view_duration_s: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_size = image_size if isinstance(image_size, int) else [int(s) for s in image_size]
        self.view_durations_s = [float(d) for d in view_durations_s]
        self.image_mean = [float(m) for m in image_mean]
        self.image_std = [float(s) for s in image_std]
        self.default_view_duration_s = float(default_view_duration_s)
        if len(self.image_mean) != 3 or len(self.image_std) != 3 or min(self.image_std) <= 0:
            raise ValueError(
                f"image_mean and image_std need 3 values (std > 0); got {self.image_mean}, {self.image_std}"
            )
        # Raises for an unknown default duration.
        self._slot_of(self.default_view_duration_s, "default_view_duration_s")

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> GravityViTImageProcessor:
        """Build the processor matching a ``GravityViTConfig`` or ``GravitySpyCNNConfig``.

        A GravityViT config whose ``image_mean`` / ``image_std`` are left to the backbone (no model
        built from it yet) gets them from the timm backbone, built on the meta device.
        """
        if getattr(config, "backbone", None) and (config.image_mean is None or config.image_std is None):
            from .modeling_backbone import resolve_backbone_fields

            resolve_backbone_fields(config)
        return cls(
            image_size=config.image_size,
            view_durations_s=config.view_durations_s,
            image_mean=config.image_mean,
            image_std=config.image_std,
            **kwargs,
        )

    @property
    def num_views(self) -> int:
        """Number of view slots of the model."""
        return len(self.view_durations_s)

    @property
    def image_size_hw(self) -> tuple[int, int]:
        """Model input size as (height, width) pixels."""
        if isinstance(self.image_size, int):
            return (self.image_size, self.image_size)
        return (int(self.image_size[0]), int(self.image_size[1]))

    def __call__(self, images: Any, **kwargs: Any) -> BatchFeature:
        """Same as ``preprocess``."""
        return self.preprocess(images, **kwargs)

    def preprocess(
        self,
        images: Any,
        view_duration_s: float | Sequence[float | None] | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Any,
    ) -> BatchFeature:
        """Turn one sample or a list of samples into ``pixel_values`` and ``view_mask``.

        Parameters
        ----------
        images : sample or list of samples
            See the class docstring for what a sample may be. An array or tensor of 4 or more dimensions
            is a batch of views, (B, V, 140, 170) or (B, V, 1, 140, 170), for ``preprocess_views``.
        view_duration_s : float or list of float, optional
            Duration in seconds of lone-view samples, one for all or one per sample (None entries
            fall back to the file name, then ``default_view_duration_s``).
        return_tensors : {"pt", "np", None}
            "pt" (default, also for None) gives torch tensors, "np" numpy arrays.

        Returns
        -------
        BatchFeature
            ``pixel_values`` float32 (B, V, 3, H, W) and ``view_mask`` bool (B, V).
        """
        if kwargs:
            raise TypeError(f"unexpected arguments for GravityViTImageProcessor: {sorted(kwargs)}")
        if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim >= 4:
            if view_duration_s is not None:
                raise ValueError("view_duration_s applies to lone views, not to a (batch, views, ...) array")
            return self.preprocess_views(images, return_tensors=return_tensors)
        views, mask = self.to_views(images, view_duration_s=view_duration_s)
        # to_views checked every present view (finite, in [0, 1]): no second pass over the batch.
        return self.preprocess_views(views, mask, return_tensors=return_tensors, validate=False)

    def to_views(
        self, images: Any, view_duration_s: float | Sequence[float | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decode samples into the model's view slots, without resizing or normalising.

        The cheap per-sample half of ``preprocess``: the pipeline calls it per sample and runs
        ``preprocess_views`` once per batch. Every present view is checked (shape, finite, in [0, 1]).

        Parameters
        ----------
        images : sample or list of samples
            See the class docstring for what a sample may be.
        view_duration_s : float or list of float, optional
            Duration in seconds of lone-view samples, as in ``preprocess``.

        Returns
        -------
        views : np.ndarray
            float32 (B, V, 140, 170) views in the model's slot order, zeros where absent.
        view_mask : np.ndarray
            bool (B, V), True where a view is present.

        Raises
        ------
        ValueError
            Naming the sample, the file (when known) and the view duration, as ``preprocess``.
        """
        samples = images if isinstance(images, list) else [images]
        if not samples:
            raise ValueError("images is an empty list; expected at least one sample")
        if view_duration_s is None or isinstance(view_duration_s, (int, float)):
            durations = [view_duration_s] * len(samples)
        else:
            durations = list(view_duration_s)
            if len(durations) != len(samples):
                raise ValueError(
                    f"view_duration_s has {len(durations)} entries for {len(samples)} samples; give one per sample"
                )
        views = np.zeros((len(samples), self.num_views, *VIEW_SHAPE), dtype=np.float32)
        mask = np.zeros((len(samples), self.num_views), dtype=bool)
        for index, (sample, duration) in enumerate(zip(samples, durations)):
            for slot, view in self._sample_to_slots(sample, index, duration).items():
                views[index, slot] = view
                mask[index, slot] = True
        return views, mask

    @torch.no_grad()
    def preprocess_views(
        self,
        views: np.ndarray | torch.Tensor,
        view_mask: np.ndarray | torch.Tensor | None = None,
        return_tensors: str | None = "pt",
        validate: bool = True,
    ) -> BatchFeature:
        """Vectorised path (used by training): a batch of views -> ``pixel_values`` and ``view_mask``.

        Parameters
        ----------
        views : np.ndarray or torch.Tensor
            (B, V, 140, 170) or (B, V, 1, 140, 170) float views in [0, 1], V in the model's slot order;
            or V = 4 Gravity Spy views in duration order for a model with other slots (the model's
            durations are selected). A tensor stays on its device (resizing can run on the GPU).
        view_mask : np.ndarray or torch.Tensor, optional
            (B, V) bool, True where a view is present; default all present. Absent views are not
            checked and become zeros.
        return_tensors : {"pt", "np", None}
            "pt" (default, also for None) gives torch tensors, "np" numpy arrays.
        validate : bool
            Check that present views are finite and in [0, 1] (default). ``False`` skips that pass
            for trusted inputs (views decoded from PNGs, or from ``to_views``, which checks them).

        Returns
        -------
        BatchFeature
            ``pixel_values`` float32 (B, V, 3, H, W): each view resized (bilinear, antialiased) to
            ``image_size``, repeated into 3 channels and normalised; ``view_mask`` bool (B, V).

        Raises
        ------
        ValueError
            For a wrong shape, or NaN / values outside [0, 1] in a present view (naming the sample
            and the view duration).
        """
        if return_tensors not in ("pt", "np", None):
            raise ValueError(f"return_tensors must be 'pt', 'np' or None; got {return_tensors!r}")
        views = torch.as_tensor(views)
        expected = f"(batch, {self.num_views}, 140, 170) or (batch, {self.num_views}, 1, 140, 170)"
        if views.ndim == 5 and views.shape[2] == 1:
            views = views[:, :, 0]
        if views.ndim != 4 or tuple(views.shape[2:]) != VIEW_SHAPE:
            raise ValueError(f"views must have shape {expected}; got {tuple(views.shape)}")
        batch, num_given = views.shape[:2]
        if view_mask is None:
            view_mask = torch.ones(batch, num_given, dtype=torch.bool, device=views.device)
        view_mask = torch.as_tensor(view_mask, device=views.device).bool()
        if tuple(view_mask.shape) != (batch, num_given):
            raise ValueError(
                f"view_mask must have shape ({batch}, {num_given}); got {tuple(view_mask.shape)}"
            )
        if num_given != self.num_views:
            if num_given != len(VIEW_DURATIONS_S):
                raise ValueError(
                    f"views must have shape {expected} (or 4 Gravity Spy views); got {tuple(views.shape)}"
                )
            slots = [_gravity_spy_slot(d) for d in self.view_durations_s]
            views, view_mask = views[:, slots], view_mask[:, slots]
        if batch == 0:
            raise ValueError(f"views holds no sample (shape {tuple(views.shape)}); give at least one")
        without_view = ~view_mask.any(dim=1)
        if bool(without_view.any()):
            empty = torch.nonzero(without_view).flatten().tolist()
            raise ValueError(
                f"every sample needs at least one present view; samples {empty} have none (view_mask all False)"
            )
        views = views.float()
        all_present = bool(view_mask.all())
        # Only present views are checked, resized and normalised: absent ones may hold anything (NaN
        # placeholders) and become zero pixels. With every view present nothing is gathered.
        present = views.reshape(-1, *VIEW_SHAPE) if all_present else views[view_mask]
        if validate:
            self._check_values(present, view_mask)
        pixels = self._resize_and_normalise(present)
        if all_present:
            pixels = pixels.view(batch, self.num_views, *pixels.shape[1:])
        else:
            scattered = pixels.new_zeros(batch, self.num_views, *pixels.shape[1:])
            scattered[view_mask] = pixels
            pixels = scattered
        data = {"pixel_values": pixels.contiguous(), "view_mask": view_mask}
        if return_tensors == "np":
            data = {key: value.cpu().numpy() for key, value in data.items()}
        return BatchFeature(data=data)

    def _resize_and_normalise(self, views: torch.Tensor) -> torch.Tensor:
        """(N, 140, 170) views -> (N, 3, H, W) pixels: resized, gray repeated into RGB, normalised."""
        height, width = self.image_size_hw
        flat = views.reshape(views.shape[0], 1, *VIEW_SHAPE)
        if (height, width) != VIEW_SHAPE:
            flat = F.interpolate(
                flat, size=(height, width), mode="bilinear", align_corners=False, antialias=True
            )
        mean = torch.tensor(self.image_mean, device=flat.device).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std, device=flat.device).view(1, 3, 1, 1)
        return (flat.expand(-1, 3, -1, -1) - mean) / std

    def _check_values(self, present: torch.Tensor, view_mask: torch.Tensor) -> None:
        """Raise for NaN or values outside [0, 1] in a present view, naming the first bad sample.

        ``present`` holds the present views (N, 140, 170) in ``view_mask``'s row-major order. One
        min/max reduction per view (NaN propagates through it) replaces elementwise comparisons.
        """
        low, high = torch.aminmax(present.reshape(present.shape[0], -1), dim=-1)
        bad = torch.isnan(low) | torch.isnan(high) | (low < -_VALUE_TOLERANCE) | (high > 1 + _VALUE_TOLERANCE)
        if bool(bad.any()):
            first = int(torch.nonzero(bad)[0])
            sample, slot = (int(i) for i in torch.nonzero(view_mask)[first])
            view = present[first]
            raise ValueError(
                f"sample {sample}, view {self.view_durations_s[slot]} s: values must be finite and lie in "
                f"[0, 1]; got min {float(view.nan_to_num(0.0).min()):.4g}, max {float(view.nan_to_num(0.0).max()):.4g}, "
                f"{int(torch.isnan(view).sum())} NaN"
            )

    def _slot_of(self, duration_s: float, field: str) -> int:
        slot = match_duration(duration_s, self.view_durations_s)
        if slot is not None:
            return slot
        raise ValueError(
            f"{field}: duration {duration_s} s is not one of the model's views {self.view_durations_s}"
        )

    def _sample_to_slots(self, sample: Any, index: int, duration_s: float | None) -> dict[int, np.ndarray]:
        """Decode one sample into {slot: (140, 170) view}; raise a ValueError naming the sample."""
        where = f"sample {index}"
        if isinstance(sample, Mapping):
            slots = {}
            for key, view in sample.items():
                if view is None:
                    continue
                duration = _duration_of_key(key, where)
                unused = match_duration(duration, self.view_durations_s) is None
                if unused and match_duration(duration, VIEW_DURATIONS_S) is not None:
                    continue  # a Gravity Spy view the model does not use (e.g. a single-view model)
                field = f"{where}, view {duration} s"
                slots[self._slot_of(duration, field)] = _single_view(view, field)
            if not slots:
                raise ValueError(
                    f"{where}: no view for the model's durations {self.view_durations_s} in {list(sample)}"
                )
            return slots
        if isinstance(sample, tuple):
            return self._views_to_slots(list(sample), where)
        if isinstance(sample, (str, os.PathLike)):
            path = Path(sample)
            if not path.is_file():
                raise ValueError(f"{where}: file not found: {path}")
            where = f"{where} ({path})"
            if duration_s is None:
                match = _DURATION_IN_NAME.search(path.name)
                duration_s = float(match.group(1)) if match else None
            sample = open_image_file(path)
        if isinstance(sample, Image.Image):
            return self._image_to_slots(sample, where, duration_s)
        if isinstance(sample, (np.ndarray, torch.Tensor)):
            array = _as_float_array(sample, where)
            if array.shape == MERGED_VIEW_SHAPE:
                return self._views_to_slots(list(split_merged_view(array)), f"{where} (merged view)")
            if array.shape in (VIEW_SHAPE, (1, *VIEW_SHAPE)):
                return self._lone_view(array, where, duration_s)
            if array.ndim == 4 and array.shape[1] == 1:
                array = array[:, 0]
            if array.ndim == 3 and array.shape[1:] == VIEW_SHAPE:
                return self._views_to_slots(list(array), where)
            raise ValueError(
                f"{where}: an array must be one view (140, 170) or (1, 140, 170), all views (V, 140, 170) or "
                f"a merged view (280, 340); got shape {array.shape}"
            )
        raise ValueError(
            f"{where}: expected a dict of views, a tuple of views, an array, a PIL image or a file path; "
            f"got {type(sample).__name__}"
        )

    def _image_to_slots(
        self, image: Image.Image, where: str, duration_s: float | None
    ) -> dict[int, np.ndarray]:
        width, height = image.size
        if (height, width) == MERGED_VIEW_SHAPE:
            return self._views_to_slots(
                list(split_merged_view(_decode_image(image, where))), f"{where} (merged view)"
            )
        if is_rendered_png_size((width, height)) or (width, height) == (VIEW_WIDTH, VIEW_HEIGHT):
            return self._lone_view(_decode_image(image, where), where, duration_s)
        raise ValueError(
            f"{where}: an image must be a rendered Gravity Spy PNG ({RENDERED_PNG_FORMATS}), a view "
            f"({VIEW_WIDTH}x{VIEW_HEIGHT}) or a merged view ({2 * VIEW_WIDTH}x{2 * VIEW_HEIGHT}); got {width}x{height}"
        )

    def _lone_view(self, view: np.ndarray, where: str, duration_s: float | None) -> dict[int, np.ndarray]:
        duration = self.default_view_duration_s if duration_s is None else float(duration_s)
        field = f"{where}, view {duration} s"
        return {self._slot_of(duration, field): _single_view(view, field)}

    def _views_to_slots(self, views: list[Any], where: str) -> dict[int, np.ndarray]:
        """Views in the model's slot order, or the 4 Gravity Spy views in duration order."""
        if len(views) == self.num_views:
            durations = self.view_durations_s
        elif len(views) == len(VIEW_DURATIONS_S):
            durations = list(VIEW_DURATIONS_S)
        else:
            raise ValueError(
                f"{where}: expected {self.num_views} views (durations {self.view_durations_s} s) or the 4 Gravity "
                f"Spy views; got {len(views)}"
            )
        slots = {}
        for duration, view in zip(durations, views):
            if view is None or match_duration(duration, self.view_durations_s) is None:
                continue
            field = f"{where}, view {duration} s"
            slots[self._slot_of(duration, field)] = _single_view(view, field)
        if not slots:
            raise ValueError(f"{where}: every view is None; a sample needs at least one view")
        return slots


def _gravity_spy_slot(duration_s: float) -> int:
    slot = match_duration(duration_s, VIEW_DURATIONS_S)
    if slot is not None:
        return slot
    raise ValueError(f"view duration {duration_s} s is not one of the Gravity Spy views {VIEW_DURATIONS_S}")


def _duration_of_key(key: Any, where: str) -> float:
    """Duration in seconds of a dict key: 0.5, "0.5", "0.5.png" or "image_500ms"."""
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return float(key)
    text = str(key)
    if text in IMAGE_COLUMNS:
        return VIEW_DURATIONS_S[IMAGE_COLUMNS.index(text)]
    if text in HDF5_VIEW_KEYS:
        return VIEW_DURATIONS_S[HDF5_VIEW_KEYS.index(text)]
    try:
        return float(text.removesuffix(".png").removesuffix("s"))
    except ValueError:
        raise ValueError(
            f"{where}: unknown view key {key!r}; use a duration in seconds (0.5), an HDF5 key "
            f"{HDF5_VIEW_KEYS} or a column name {IMAGE_COLUMNS}"
        ) from None


def _as_float_array(value: np.ndarray | torch.Tensor, where: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise ValueError(f"{where}: expected a numeric array; got dtype {value.dtype}")
    return np.asarray(value, dtype=np.float32)


def _decode_image(image: Image.Image, where: str) -> np.ndarray:
    try:
        return image_to_view(image)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _single_view(view: Any, field: str) -> np.ndarray:
    """One view from an array, PIL image or path, checked: (140, 170), finite, in [0, 1]."""
    if isinstance(view, (str, os.PathLike)):
        path = Path(view)
        if not path.is_file():
            raise ValueError(f"{field}: file not found: {path}")
        view = open_image_file(path)
        field = f"{field} ({path})"
    if isinstance(view, Image.Image):
        width, height = view.size
        if not (is_rendered_png_size((width, height)) or (width, height) == (VIEW_WIDTH, VIEW_HEIGHT)):
            raise ValueError(
                f"{field}: a view image must be {VIEW_WIDTH}x{VIEW_HEIGHT} or a rendered {RENDERED_PNG_FORMATS} "
                f"Gravity Spy PNG; got {width}x{height}"
            )
        view = _decode_image(view, field)
    elif isinstance(view, (np.ndarray, torch.Tensor)):
        view = _as_float_array(view, field)
    else:
        raise ValueError(
            f"{field}: a view must be an array, a PIL image or a file path; got {type(view).__name__}"
        )
    if view.shape == (1, *VIEW_SHAPE):
        view = view[0]
    if view.shape != VIEW_SHAPE:
        channels = f" ({view.shape[0]} channels; views are single-channel)" if view.ndim == 3 else ""
        raise ValueError(
            f"{field}: a view must have shape (140, 170) or (1, 140, 170); got {view.shape}{channels}"
        )
    # NaN and inf propagate into the min / max: two passes check finiteness and the range.
    low, high = float(view.min()), float(view.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(
            f"{field}: a view must be finite; got {int((~np.isfinite(view)).sum())} NaN/inf values"
        )
    if low < -_VALUE_TOLERANCE or high > 1 + _VALUE_TOLERANCE:
        raise ValueError(f"{field}: view values must lie in [0, 1]; got min {low:.4g}, max {high:.4g}")
    return view


__all__ = ["GravityViTImageProcessor"]
