"""The embedded default dataset is made once and reused, and made again when what made it changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("gwpy")

from gravityvit.data import simulated_dataset


@pytest.mark.slow
def test_made_once_reused_then_remade_when_the_simulator_changes(tmp_path, monkeypatch):
    arrow_dir = simulated_dataset.simulated_arrow_dataset(tmp_path, samples_per_class=1, seed=3)
    base = tmp_path / "simulated_n1_seed3"
    assert arrow_dir == base / "arrow" and (arrow_dir / "dataset_dict.json").is_file()
    h5_path = base / "simulated.h5"
    stamp = json.loads((base / "simulated.json").read_text())
    assert stamp == {"samples_per_class": 1, "seed": 3, "simulator": simulated_dataset.simulator_digest()}

    # Same settings and simulator: nothing is redone.
    mtime = h5_path.stat().st_mtime_ns
    assert not simulated_dataset.simulate_cached(h5_path, 1, 3)
    assert not simulated_dataset.convert_cached(h5_path, arrow_dir)
    assert h5_path.stat().st_mtime_ns == mtime

    # An edited simulator makes new data, and the new file a new conversion.
    monkeypatch.setattr(simulated_dataset, "simulator_digest", lambda: "edited")
    assert simulated_dataset.simulate_cached(h5_path, 1, 3)
    assert simulated_dataset.convert_cached(h5_path, arrow_dir)
    assert json.loads((base / "arrow.json").read_text())["mtime_ns"] == h5_path.stat().st_mtime_ns


def test_digest_covers_every_module_of_the_simulator(tmp_path, monkeypatch):
    from gravityvit.data import simulation

    copy = tmp_path / "simulation"
    shutil.copytree(Path(simulation.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(simulation, "__file__", str(copy / "__init__.py"))
    original = simulated_dataset.simulator_digest()
    assert original == simulated_dataset.simulator_digest()

    # An edit to a glitch family, not only to the package's entry point, is a new simulator.
    lines = copy / "lines.py"
    lines.write_text(lines.read_text() + "\n# edited\n")
    edited = simulated_dataset.simulator_digest()
    assert edited != original

    # So is a module renamed with the same contents.
    lines.rename(copy / "tones.py")
    assert simulated_dataset.simulator_digest() not in (original, edited)
