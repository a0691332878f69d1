"""Gravity Spy data: HDF5 and PNG readers, the HDF5 writer, the Arrow converter, the download,
the Omega scan and the simulator.

Names are imported on first use (PEP 562 ``__getattr__``), so ``import gravityvit.data`` stays light:
it imports neither gwpy nor datasets until a function that needs them is used.
"""

from __future__ import annotations

from gravityvit.lazy_exports import lazy_exports

# Public name -> submodule of gravityvit.data that defines it.
_EXPORTS: dict[str, str] = {
    # hdf5.py: the Zenodo layout
    "GravitySpyDataError": "hdf5",
    "GravitySpySample": "hdf5",
    "GravitySpyHDF5Writer": "hdf5",
    "GravitySpyHDF5Reader": "hdf5",
    "LABEL_CORRECTIONS": "hdf5",
    "read_metadata_csv": "hdf5",
    "validate_views": "hdf5",
    "write_gravityspy_hdf5": "hdf5",
    # png.py: folders of Gravity Spy PNGs
    "GravitySpyPNGReader": "png",
    "read_png_sample": "png",
    "read_png_view": "png",
    # arrow.py: the converter to datasets
    "MAX_PIXEL_ERROR": "arrow",
    "STATS_FILENAME": "arrow",
    "batch_to_views": "arrow",
    "convert_to_arrow": "arrow",
    "example_to_views": "arrow",
    "gravityspy_features": "arrow",
    # download.py: Zenodo
    "download_gravityspy": "download",
    "extract_archive": "download",
    # omega/: strain -> views (imports gwpy when used)
    "StrainError": "omega",
    "load_strain": "omega",
    "omega_scan_views": "omega",
    "write_gravityspy_pngs": "omega",
    # simulation/: the 22-class glitch simulator (a package)
    "simulate_dataset": "simulation",
    "simulate_sample": "simulation",
    "simulate_strain": "simulation",
    # simulated_dataset.py: the embedded default dataset, made once and reused
    "convert_cached": "simulated_dataset",
    "simulate_cached": "simulated_dataset",
    "simulated_arrow_dataset": "simulated_dataset",
    # splits.py: time-ordered splits with a gap
    "TimeSplit": "splits",
    "time_split": "splits",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
