"""Settings shared by the simulator's modules: the simulated data's grid, the trigger, the detectors.

``FAINT_SNR`` (and ``HELIX_SNR``, ``PAIRED_DOVES_SNR``) is the loudness of the classes whose real views are faint
(:data:`gravityvit.data.simulation.classes.FAINT_CLASSES`).
"""

from __future__ import annotations

SAMPLE_RATE_HZ = 8192.0
DATA_DURATION_S = 8.0
N_SAMPLES = int(SAMPLE_RATE_HZ * DATA_DURATION_S)
REFERENCE_SPAN_S = 64.0  # tile energies are normalised as over Gravity Spy's 64 s of data
TRIGGER_WINDOW_S = 0.25  # window of the trigger SNR (a stand-in for one Omicron tile)
TRIGGER_JITTER_S = 0.015  # std of the trigger offset from the view centre (Omicron vs loudest tile)
OMICRON_SNR_THRESHOLD = 7.5
GPS_RANGE_S = (1126400000.0, 1187000000.0)  # O1 to O2, where the Gravity Spy training set comes from
IFO_PROBABILITIES = {"H1": 4798 / 7966, "L1": 3168 / 7966}  # the v1d1 detector mix


# Loudest-tile SNR of the classes whose real views are faint: their brightest pixels stand at a
# normalized energy of ~10-20 (SNR = sqrt(2 E) ~ 4.5-6.3), below the colour scale's top (25.5), and
# only a few pixels pass it, unlike the Omicron SNR above 7.5 that selected them.
FAINT_SNR: tuple[float, float] = (5.0, 8.0)
# Helix and Paired_Doves draw lower still: their real views peak at normalized energy ~9-13 (Helix)
# and ~15-18 (Paired_Doves) in every duration.
HELIX_SNR: tuple[float, float] = (4.5, 6.5)
PAIRED_DOVES_SNR: tuple[float, float] = (4.0, 6.5)
# The lowest loudness a faint class draws (Violin_Mode draws 6-10, Scratchy a Pareto from 6).
FAINT_SNR_FLOOR = min(FAINT_SNR[0], HELIX_SNR[0], PAIRED_DOVES_SNR[0])
