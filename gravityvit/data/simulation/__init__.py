"""A 22-class Gravity Spy glitch simulator: randomised waveforms in Gaussian detector noise.

Each sample is made the way a real Gravity Spy sample is, except for the glitch itself:

1. 8 s of Gaussian noise at 8192 Hz coloured by an analytic aLIGO-like PSD (H1 and L1 differ
   slightly), with one glitch added, centred so that its loudest point (the "trigger", where
   Gravity Spy centres its views on the Omicron peak time) lies within tens of ms of the centre;
2. the views come from :mod:`gravityvit.data.omega`, the same front end as real strain:
   whitening, the gwpy Q scan (search window 0.5 s), Gravity Spy's pixels.

Glitches are designed in whitened units (unit-variance white noise), where the matched-filter SNR
of a waveform ``g`` is ``sqrt(sum(g**2))``, and coloured with the noise before whitening. A
component's *trigger SNR* is its matched-filter SNR within its loudest 0.25 s, a stand-in for the
Omicron SNR of its loudest tile; it is drawn like Omicron triggers (above 7.5 with a power-law
tail) for every class but Extremely_Loud (scaled by its energy instead; its loudest tile is in the
hundreds to thousands). Every class is a randomised model of the Gravity Spy field-guide
morphology; ``docs/simulator.md`` describes each one.

Deviations from Gravity Spy: 8 s of data instead of 64 s, 8192 Hz instead of 16384 Hz (the Q tiles
up to 2048 Hz use only frequencies below 3.3 kHz, so the views are the same), whitening with the
ASD that gwpy's mean-averaged (Welch) estimate over 64 s would give, computed as the noise PSD plus
the glitch's own periodograms over 63 (:func:`welch_asd`; the gwpy of the Gravity Spy images
averaged with the mean, so loud or steady glitches partly whiten themselves), and the tile
energies normalised by the mean of a 64 s row made of the 8 s scanned and 56 s of equally
whitened Gaussian noise (``omega.q_scan(reference_span_s=64)``), so a seconds-long glitch
weighs on the normalisation as much as it does in Gravity Spy's 64 s.

The package's modules:

- :mod:`~gravityvit.data.simulation.constants`: the simulated data's grid, trigger and detector settings;
- :mod:`~gravityvit.data.simulation.noise`: the noise model (coloured Gaussian noise, the Welch ASD
  that whitens it, the noise reference of the row normalisation);
- :mod:`~gravityvit.data.simulation.waveform`: the waveform building blocks (:class:`Waveform` and
  its sine-Gaussians, pulses, tracks and noise bursts; SNR draws; envelopes);
- the glitch families, grouped by morphology: :mod:`~gravityvit.data.simulation.short_transients`
  (Blip, Koi_Fish, Tomte, Extremely_Loud, Repeating_Blips, 1400Ripples),
  :mod:`~gravityvit.data.simulation.chirps_whistles` (Chirp, Whistle, Helix, Paired_Doves),
  :mod:`~gravityvit.data.simulation.scattering` (Scattered_Light, Light_Modulation,
  Low_Frequency_Burst), :mod:`~gravityvit.data.simulation.lines` (Low_Frequency_Lines, 1080Lines,
  Power_Line, Violin_Mode, Air_Compressor, Wandering_Line) and
  :mod:`~gravityvit.data.simulation.irregular` (Scratchy, None_of_the_Above);
- :mod:`~gravityvit.data.simulation.classes`: the class -> generator table (:data:`GENERATORS`,
  with No_Glitch) and the classes drawn faint;
- :mod:`~gravityvit.data.simulation.sample`: one sample's strain and views
  (:func:`simulate_strain`, :func:`simulate_sample`, :func:`simulate_shifted_views`);
- :mod:`~gravityvit.data.simulation.dataset`: data sets (:func:`simulate_dataset` and its plan).

The names below are importable from the package itself.
"""

from __future__ import annotations

from gravityvit.data.simulation.classes import (
    ALL_GENERATORS,
    FAINT_CLASSES,
    GENERATORS,
    O3_GENERATORS,
)
from gravityvit.data.simulation.constants import (
    DATA_DURATION_S,
    FAINT_SNR,
    FAINT_SNR_FLOOR,
    GPS_RANGE_S,
    HELIX_SNR,
    IFO_PROBABILITIES,
    N_SAMPLES,
    OMICRON_SNR_THRESHOLD,
    PAIRED_DOVES_SNR,
    REFERENCE_SPAN_S,
    SAMPLE_RATE_HZ,
    TRIGGER_JITTER_S,
    TRIGGER_WINDOW_S,
)
from gravityvit.data.simulation.dataset import (
    ID_ALPHABET,
    SPLIT_FRACTIONS,
    SampleJob,
    class_counts,
    default_metadata_csv,
    make_gravityspy_id,
    plan_dataset,
    simulate_dataset,
    simulate_job,
    split_sizes,
)
from gravityvit.data.simulation.irregular import (
    NONE_OF_THE_ABOVE_ODDITIES,
    NONE_OF_THE_ABOVE_SNR,
)
from gravityvit.data.simulation.lines import (
    AIR_COMPRESSOR_HZ,
)
from gravityvit.data.simulation.noise import (
    ASD_SEGMENT_S,
    ASD_SEGMENTS_64S,
    ASD_STEP_S,
    FLAT_BELOW_HZ,
    NOISE_CALIBRATION_REALISATIONS,
    analytic_psd,
    colour,
    noise_asd,
    noise_reference,
    welch_asd,
    welch_excess,
)
from gravityvit.data.simulation.sample import (
    simulate_sample,
    simulate_shifted_views,
    simulate_strain,
)
from gravityvit.data.simulation.short_transients import (
    BLIP_CENTRE_HZ,
    BLIP_LOG_WIDTH,
    BLIP_SNR,
    EXTREMELY_LOUD_ROW_SHARE,
    KOI_FISH_SNR,
    REPEATING_BLIP_CENTRE_HZ,
)
from gravityvit.data.simulation.waveform import (
    GLITCH_SCAN_S,
    Waveform,
    trigger_snr,
)

__all__ = [
    "AIR_COMPRESSOR_HZ",
    "ALL_GENERATORS",
    "ASD_SEGMENTS_64S",
    "ASD_SEGMENT_S",
    "ASD_STEP_S",
    "BLIP_CENTRE_HZ",
    "BLIP_LOG_WIDTH",
    "BLIP_SNR",
    "DATA_DURATION_S",
    "EXTREMELY_LOUD_ROW_SHARE",
    "FAINT_CLASSES",
    "FAINT_SNR",
    "FAINT_SNR_FLOOR",
    "FLAT_BELOW_HZ",
    "GENERATORS",
    "GLITCH_SCAN_S",
    "GPS_RANGE_S",
    "HELIX_SNR",
    "ID_ALPHABET",
    "IFO_PROBABILITIES",
    "KOI_FISH_SNR",
    "NOISE_CALIBRATION_REALISATIONS",
    "NONE_OF_THE_ABOVE_ODDITIES",
    "NONE_OF_THE_ABOVE_SNR",
    "N_SAMPLES",
    "O3_GENERATORS",
    "OMICRON_SNR_THRESHOLD",
    "PAIRED_DOVES_SNR",
    "REFERENCE_SPAN_S",
    "REPEATING_BLIP_CENTRE_HZ",
    "SAMPLE_RATE_HZ",
    "SPLIT_FRACTIONS",
    "TRIGGER_JITTER_S",
    "TRIGGER_WINDOW_S",
    "SampleJob",
    "Waveform",
    "analytic_psd",
    "class_counts",
    "colour",
    "default_metadata_csv",
    "make_gravityspy_id",
    "noise_asd",
    "noise_reference",
    "plan_dataset",
    "simulate_dataset",
    "simulate_job",
    "simulate_sample",
    "simulate_shifted_views",
    "simulate_strain",
    "split_sizes",
    "trigger_snr",
    "welch_asd",
    "welch_excess",
]
