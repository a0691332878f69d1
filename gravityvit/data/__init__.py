"""Gravity Spy data: HDF5 and PNG readers, the HDF5 writer, the Arrow converter, the download,
the Omega scan and the simulator.

Names are imported on first use (PEP 562 ``__getattr__``), so ``import gravityvit.data`` stays light:
it imports neither gwpy nor datasets until a function that needs them is used.
"""

from __future__ import annotations

from gravityvit.lazy_exports import export_table, lazy_exports

# Public names by the submodule of gravityvit.data that defines them.
_EXPORTS: dict[str, str] = export_table(
    """
    # hdf5.py: the Zenodo layout
    hdf5: GravitySpyDataError GravitySpySample GravitySpyHDF5Writer GravitySpyHDF5Reader
    hdf5: LABEL_CORRECTIONS read_metadata_csv validate_views write_gravityspy_hdf5
    # png.py: folders of Gravity Spy PNGs
    png: GravitySpyPNGReader read_png_sample read_png_view
    # arrow.py: the converter to datasets
    arrow: MAX_PIXEL_ERROR STATS_FILENAME batch_to_views convert_to_arrow example_to_views
    arrow: gravityspy_features
    # download.py: Zenodo
    download: download_gravityspy extract_archive
    # omega/: strain -> views (imports gwpy when used)
    omega: StrainError load_strain omega_scan_views write_gravityspy_pngs
    # simulation/: the 22-class glitch simulator (a package)
    simulation: simulate_dataset simulate_sample simulate_strain
    # simulated_dataset.py: the embedded default dataset, made once and reused
    simulated_dataset: convert_cached simulate_cached simulated_arrow_dataset
    # splits.py: time-ordered splits with a gap
    splits: TimeSplit time_split
    """
)

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
