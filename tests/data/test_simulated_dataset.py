"""The embedded default dataset is made once and reused, and made again when what made it changes."""

from __future__ import annotations

import json

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
