"""Former home of the Omega scan, now the package :mod:`gravityvit.data.omega`.

Kept so that ``from gravityvit.data.omega_scan import ...`` (the simulator's imports among them)
keeps working: every name it held is re-exported from the module that now defines it.
"""

from __future__ import annotations

from gravityvit.data.omega import *  # noqa: F403
from gravityvit.data.omega import __all__ as _omega_all
from gravityvit.data.omega.qscan import _scan_plan  # noqa: F401
from gravityvit.data.omega.views import _gray_lut, _viridis_lut  # noqa: F401
from gravityvit.data.omega.views import axes_pixel_grid as _axes_pixel_grid  # noqa: F401
from gravityvit.data.omega.whitening import check_strain as _check_strain  # noqa: F401
from gravityvit.data.omega.whitening import prepare_whitened as _prepare_whitened  # noqa: F401

__all__ = list(_omega_all)
