"""The embedded default dataset: simulate a Gravity Spy HDF5 file, convert it to Arrow, and reuse both.

``examples/train.py`` without ``--dataset`` and ``make demo`` train on it. Each step writes a small
JSON stamp beside its output saying what it was made from; a later call with the same stamp reuses
the output, anything else (other settings, an edited simulator, a new HDF5 file) makes it again::

    ROOT/simulated_n{samples_per_class}_seed{seed}/
        simulated.h5, simulated_metadata.csv   simulate_cached   (stamp: simulated.json)
        arrow/                                 convert_cached    (stamp: arrow.json)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _stamp_matches(stamp: Path, expected: dict[str, Any]) -> bool:
    try:
        return json.loads(stamp.read_text()) == expected
    except (OSError, ValueError):
        return False


def _is_stamp(path: Path) -> bool:
    """Whether ``path`` is one of the stamps below: a JSON object with only their keys."""
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and set(content) <= _STAMP_KEYS


_STAMP_KEYS = {"samples_per_class", "seed", "simulator", "hdf5", "mtime_ns", "size"}


def _write_stamp(stamp: Path, content: dict[str, Any]) -> None:
    from gravityvit.file_utils import OutputKind, atomic_path

    with atomic_path(stamp, kind=OutputKind("dataset stamp", recognise=_is_stamp)) as temporary:
        temporary.write_text(json.dumps(content))


def simulator_digest() -> str:
    """A short hash of the simulator's source: simulated data made by other code is not reused.

    Hashes every module of the :mod:`gravityvit.data.simulation` package, with its name, so that an
    edit to any of them (or a module added, removed or renamed) makes new data.
    """
    from gravityvit.data import simulation

    digest = hashlib.sha256()
    for source in sorted(Path(simulation.__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def simulated_dataset_paths(root: str | os.PathLike, samples_per_class: int, seed: int) -> tuple[Path, Path]:
    """The HDF5 file and the Arrow directory of the simulated dataset of these settings under ``root``."""
    base = Path(root) / f"simulated_n{samples_per_class}_seed{seed}"
    return base / "simulated.h5", base / "arrow"


def simulate_cached(h5_path: str | os.PathLike, samples_per_class: int, seed: int, num_proc: int = 1) -> bool:
    """Simulate ``h5_path`` unless it was made with these settings by this simulator; True if simulated."""
    from gravityvit.data.simulation import default_metadata_csv, simulate_dataset

    h5_path = Path(h5_path)
    stamp = h5_path.with_suffix(".json")
    settings = {"samples_per_class": samples_per_class, "seed": seed, "simulator": simulator_digest()}
    if h5_path.exists() and _stamp_matches(stamp, settings):
        return False
    if _is_stamp(stamp):
        # A stale cache of ours (the stamp says so): files written before output markers existed
        # are not recognised by the writer, so they go here.
        h5_path.unlink(missing_ok=True)
        default_metadata_csv(h5_path).unlink(missing_ok=True)
        stamp.unlink()
    simulate_dataset(h5_path, samples_per_class=samples_per_class, seed=seed, num_proc=num_proc)
    _write_stamp(stamp, settings)
    return True


def convert_cached(h5_path: str | os.PathLike, arrow_dir: str | os.PathLike, num_proc: int = 1) -> bool:
    """Convert ``h5_path`` into ``arrow_dir`` unless that is the conversion of this very file; True if converted."""
    from gravityvit.data.arrow import convert_to_arrow
    from gravityvit.data.simulation import default_metadata_csv

    h5_path, arrow_dir = Path(h5_path), Path(arrow_dir)
    stamp = arrow_dir.with_name(arrow_dir.name + ".json")
    source = {"hdf5": str(h5_path), "mtime_ns": h5_path.stat().st_mtime_ns, "size": h5_path.stat().st_size}
    if (arrow_dir / "dataset_dict.json").exists() and _stamp_matches(stamp, source):
        return False
    stamp.unlink(missing_ok=True)
    metadata_csv = default_metadata_csv(h5_path)
    convert_to_arrow(
        h5_path, arrow_dir, metadata_csv=metadata_csv if metadata_csv.exists() else None, num_proc=num_proc
    )
    _write_stamp(stamp, source)
    return True


def simulated_arrow_dataset(
    root: str | os.PathLike, samples_per_class: int, seed: int, num_proc: int = 1
) -> Path:
    """Simulate and convert the default dataset under ``root``, or reuse what is there; return the Arrow dir."""
    h5_path, arrow_dir = simulated_dataset_paths(root, samples_per_class, seed)
    logger.info(
        "simulated dataset: %d samples per class x 22 classes, seed %d, in %s",
        samples_per_class,
        seed,
        h5_path.parent,
    )
    if not simulate_cached(h5_path, samples_per_class, seed, num_proc):
        logger.info("reusing %s", h5_path)
    if not convert_cached(h5_path, arrow_dir, num_proc):
        logger.info("reusing %s", arrow_dir)
    return arrow_dir
