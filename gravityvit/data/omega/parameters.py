"""Gravity Spy's Omega-scan parameters and the error of strain that cannot give views."""

from __future__ import annotations

# Gravity Spy's Omega-scan parameters.
QRANGE: tuple[float, float] = (4.0, 64.0)
FRANGE_HZ: tuple[float, float] = (10.0, 2048.0)
MISMATCH = 0.2  # gwpy's default maximum fractional tile mismatch
SEARCH_WINDOW_S = 0.5  # the loudest Q plane is chosen within +-0.25 s of the GPS time
TIME_RESOLUTION_S = 0.002  # q_transform(tres=0.002)
FREQUENCY_RESOLUTION_HZ = 0.5  # q_transform(fres=0.5)
DATA_SPAN_S = 64.0  # Gravity Spy scans 64 s centred on the trigger
# Implementations of the scan: "gwpy" is the reference (gwpy's whitening, every tile of every Q
# plane, each view sampled in turn); "fast" computes the same numbers but only those the views
# show (docs/data.md, "Omega scan backends"); views agree to 0.01 (tests/data/test_omega_fast.py).
BACKENDS = ("gwpy", "fast")
DEFAULT_BACKEND = "fast"
# The fast scan keeps the tiles of the longest view plus this fraction of it on each side (the
# rendered PNG shows a pixel column beyond the axes on each side).
KEEP_MARGIN_FRACTION = 0.05


class StrainError(ValueError):
    """Strain that cannot give Gravity Spy views: too short, sampled too slowly or not finite."""


def check_backend(backend: str) -> None:
    """Raise ``ValueError`` naming the choices unless ``backend`` is one of :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
