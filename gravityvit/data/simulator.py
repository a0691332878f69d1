"""The glitch simulator's former module, kept so that earlier imports keep working.

The simulator is the package :mod:`gravityvit.data.simulation` (the noise model, the waveform
building blocks, the glitch families, the class table, samples and data sets in their own modules);
``from gravityvit.data.simulator import simulate_dataset`` and the other public names still work.
"""

from gravityvit.data.simulation import *  # noqa: F403
from gravityvit.data.simulation import __all__  # noqa: F401
