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


class StrainError(ValueError):
    """Strain that cannot give Gravity Spy views: too short, sampled too slowly or not finite."""
