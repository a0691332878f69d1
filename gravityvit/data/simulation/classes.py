"""The 22 classes: Gravity Spy class name -> glitch generator, and the classes drawn faint.

Each class's loudness is drawn by its generator (``trigger_snr`` with per-class threshold, index
and cap, or the module constants beside it: ``BLIP_SNR``, ``KOI_FISH_SNR``,
``EXTREMELY_LOUD_ROW_SHARE``, ...); the classes in :data:`FAINT_CLASSES` draw ``FAINT_SNR``
(:mod:`gravityvit.data.simulation.constants`).
"""

from __future__ import annotations

from collections.abc import Callable

from gravityvit import gravity_spy
from gravityvit.data.simulation.chirps_whistles import _chirp, _helix, _paired_doves, _whistle
from gravityvit.data.simulation.irregular import _none_of_the_above, _scratchy
from gravityvit.data.simulation.lines import (
    _air_compressor,
    _lines_1080,
    _low_frequency_lines,
    _power_line,
    _violin_mode,
    _wandering_line,
)
from gravityvit.data.simulation.scattering import (
    _fast_scattering,
    _light_modulation,
    _low_frequency_burst,
    _scattered_light,
)
from gravityvit.data.simulation.short_transients import (
    _blip,
    _blip_low_frequency,
    _extremely_loud,
    _koi_fish,
    _repeating_blips,
    _ripples_1400,
    _tomte,
)
from gravityvit.data.simulation.waveform import Waveform

# The classes whose real views are faint: loudness drawn from FAINT_SNR (Helix and Paired_Doves from
# HELIX_SNR and PAIRED_DOVES_SNR, Violin_Mode from 6-10, Scratchy from a Pareto from 6, its blobs'
# tiles being clustered into one Omicron trigger), so their loudest tile may lie below the Omicron
# threshold, down to FAINT_SNR_FLOOR.
FAINT_CLASSES: tuple[str, ...] = ("1080Lines", "Helix", "Paired_Doves", "Scratchy", "Violin_Mode")


def _no_glitch(w: Waveform, t0: float) -> float:
    return 0.0


GENERATORS: dict[str, Callable[[Waveform, float], float]] = {
    "1080Lines": _lines_1080,
    "1400Ripples": _ripples_1400,
    "Air_Compressor": _air_compressor,
    "Blip": _blip,
    "Chirp": _chirp,
    "Extremely_Loud": _extremely_loud,
    "Helix": _helix,
    "Koi_Fish": _koi_fish,
    "Light_Modulation": _light_modulation,
    "Low_Frequency_Burst": _low_frequency_burst,
    "Low_Frequency_Lines": _low_frequency_lines,
    "No_Glitch": _no_glitch,
    "None_of_the_Above": _none_of_the_above,
    "Paired_Doves": _paired_doves,
    "Power_Line": _power_line,
    "Repeating_Blips": _repeating_blips,
    "Scattered_Light": _scattered_light,
    "Scratchy": _scratchy,
    "Tomte": _tomte,
    "Violin_Mode": _violin_mode,
    "Wandering_Line": _wandering_line,
    "Whistle": _whistle,
}
assert tuple(GENERATORS) == gravity_spy.CLASS_NAMES

# The classes of Gravity Spy's O3 model that v1 lacks (label set "o3").
O3_GENERATORS: dict[str, Callable[[Waveform, float], float]] = {
    "Blip_Low_Frequency": _blip_low_frequency,
    "Fast_Scattering": _fast_scattering,
}
# Every class the simulator draws, of either label set.
ALL_GENERATORS: dict[str, Callable[[Waveform, float], float]] = {**GENERATORS, **O3_GENERATORS}
assert set(gravity_spy.O3_CLASS_NAMES) <= set(ALL_GENERATORS)
