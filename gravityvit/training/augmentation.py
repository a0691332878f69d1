"""Physically sensible augmentation of the four Omega-scan views of one glitch.

The four views are windows of 0.5, 1, 2 and 4 s centred on the same trigger, all on the same log
frequency axis (10 Hz - 2048 Hz over 140 rows). An augmentation must keep them one consistent event:

- **time shift**: the trigger time is only known to Omicron's precision, so the glitch is moved by a
  common offset ``dt`` in seconds, which is ``dt / duration_s * 170`` columns in each view (34 columns
  in the 0.5 s view for 0.1 s, 4 in the 4 s view);
- **frequency shift** (off by default): a row or two up or down, the same in every view (the
  frequency axis is shared), a change of the glitch's frequency by about 4 % per row. Several classes
  are defined by an absolute frequency (60 Hz mains for Power_Line, 40-60 Hz for Air_Compressor,
  ~1080 Hz lines, ~500 Hz violin modes, ~1400 Hz ripples), which a shift would blur; it suits
  training sets of broadband classes only;
- **gain and noise**: a mild change of loudness and a little pixel noise;
- **view dropout**: whole durations are masked at random (at least one is kept), so that a sample with
  one or two durations (such as a single Gravity Spy PNG) still classifies well.

What is deliberately **not** done: flipping frequency (a 60 Hz power line is not a 1.4 kHz ripple),
reversing time (a Chirp rises, a Whistle has its own shape, Paired_Doves go up then down), rotating or
scaling, none of which a detector can produce. Shifted-in edges are filled by reflection, which
continues the stationary background (lines, noise) in a plausible way.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gravityvit.gravity_spy import VIEW_DURATIONS_S, VIEW_WIDTH


def _shift_axis(image: np.ndarray, shift: int, axis: int) -> np.ndarray:
    """Shift ``image`` by ``shift`` pixels along ``axis`` (positive = towards higher index), reflect-filled."""
    if shift == 0:
        return image
    size = image.shape[axis]
    shift = int(np.clip(shift, -(size - 1), size - 1))
    pad = [(0, 0)] * image.ndim
    pad[axis] = (shift, 0) if shift > 0 else (0, -shift)
    padded = np.pad(image, pad, mode="reflect")
    window = [slice(None)] * image.ndim
    window[axis] = slice(0, size) if shift > 0 else slice(-shift, -shift + size)
    return padded[tuple(window)]


@dataclasses.dataclass
class SpectrogramAugmentation:
    """Random, physically consistent augmentation of a sample's views.

    Parameters
    ----------
    max_time_shift_s : float
        The common time shift is drawn uniformly in ``[-max_time_shift_s, max_time_shift_s]`` seconds.
        Keep it well below the shortest view (0.5 s) so that short glitches stay in view.
    max_frequency_shift_rows : int
        The frequency shift is a whole number of rows in ``[-max, max]``, the same for every view.
    noise_std : float
        Standard deviation of the Gaussian pixel noise added (pixels are in [0, 1]).
    gain_range : tuple of float
        Pixel values are multiplied by a factor drawn uniformly in this range (loudness).
    view_dropout : float
        Probability that a sample with several present views loses some of them. The number kept k
        is drawn from 1 to (number present - 1) with probability proportional to 1 / k, so that single
        durations, the commonest partial input (e.g. samples with only the 4 s view), are seen most.
    view_durations_s : tuple of float
        Duration of each view in seconds, in view order (which views the model takes).
    """

    max_time_shift_s: float = 0.05
    max_frequency_shift_rows: int = 0
    noise_std: float = 0.01
    gain_range: tuple[float, float] = (0.9, 1.1)
    view_dropout: float = 0.25
    view_durations_s: tuple[float, ...] = VIEW_DURATIONS_S

    def __post_init__(self) -> None:
        if self.max_time_shift_s < 0 or self.max_frequency_shift_rows < 0 or self.noise_std < 0:
            raise ValueError(
                "max_time_shift_s, max_frequency_shift_rows and noise_std must be >= 0; got "
                f"{self.max_time_shift_s}, {self.max_frequency_shift_rows}, {self.noise_std}"
            )
        if not 0.0 <= self.view_dropout <= 1.0:
            raise ValueError(f"view_dropout is a probability in [0, 1]; got {self.view_dropout}")
        low, high = self.gain_range
        if not 0 < low <= high:
            raise ValueError(f"gain_range must be (low, high) with 0 < low <= high; got {self.gain_range}")
        if min(self.view_durations_s) <= 0:
            raise ValueError(f"view durations must be positive seconds; got {self.view_durations_s}")

    def time_shift_columns(self, time_shift_s: float) -> list[int]:
        """Columns each view moves for a common shift of ``time_shift_s`` seconds (positive = later)."""
        return [round(time_shift_s / duration_s * VIEW_WIDTH) for duration_s in self.view_durations_s]

    def drop_views(self, view_mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a copy of ``view_mask`` with some present views removed; at least one stays."""
        view_mask = np.asarray(view_mask, dtype=bool).copy()
        present = np.flatnonzero(view_mask)
        if len(present) < 2 or rng.random() >= self.view_dropout:
            return view_mask
        counts = np.arange(1, len(present))
        weights = 1.0 / counts
        keep = rng.choice(present, size=int(rng.choice(counts, p=weights / weights.sum())), replace=False)
        view_mask[:] = False
        view_mask[keep] = True
        return view_mask

    def __call__(
        self, views: np.ndarray, view_mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one sample.

        Parameters
        ----------
        views : np.ndarray
            float32 (V, 140, 170) views in [0, 1], in the order of ``view_durations_s``.
        view_mask : np.ndarray
            bool (V,), True where the view is present.
        rng : np.random.Generator
            Source of randomness (seeded by the caller for reproducibility).

        Returns
        -------
        views, view_mask
            New arrays; views of dropped or absent durations are zero.
        """
        views = np.asarray(views, dtype=np.float32)
        if views.ndim != 3 or views.shape[0] != len(self.view_durations_s):
            raise ValueError(
                f"expected views of shape ({len(self.view_durations_s)}, H, W); got {views.shape}"
            )
        time_shift_s = rng.uniform(-self.max_time_shift_s, self.max_time_shift_s)
        rows = int(rng.integers(-self.max_frequency_shift_rows, self.max_frequency_shift_rows + 1))
        gain = rng.uniform(*self.gain_range)
        view_mask = self.drop_views(view_mask, rng)
        out = np.zeros_like(views)
        for index, columns in enumerate(self.time_shift_columns(time_shift_s)):
            if not view_mask[index]:
                continue
            view = _shift_axis(views[index], columns, axis=1)
            # A positive row shift moves the glitch down, i.e. to lower frequency (row 0 is the top).
            view = _shift_axis(view, rows, axis=0) * np.float32(gain)
            if self.noise_std > 0:
                view += np.float32(self.noise_std) * rng.standard_normal(view.shape, dtype=np.float32)
            np.clip(view, 0.0, 1.0, out=out[index])
        return out, view_mask
