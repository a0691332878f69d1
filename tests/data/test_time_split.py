"""Time-ordered splits with a gap, on times whose split is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import load_from_disk

from gravityvit.data.arrow import STATS_FILENAME, convert_to_arrow
from gravityvit.data.hdf5 import GravitySpyDataError, GravitySpyHDF5Writer
from gravityvit.data.splits import time_split

from .conftest import make_sample
from .test_arrow import _run_convert

T0 = 1_126_259_462.0


def test_time_split_orders_cuts_70_15_15_and_drops_the_gap():
    # 20 samples 10 s apart, given out of order. Cuts after the 14th and 17th: boundaries at 135 s and
    # 165 s; a 25 s gap drops the samples within 12.5 s of them (130, 140, 160, 170 s).
    times = np.arange(20) * 10.0
    shuffled = np.random.default_rng(0).permutation(20)
    split = time_split(T0 + times[shuffled], gap_s=25)
    kept = {name: sorted(times[shuffled[split.indices[name]]].tolist()) for name in split.indices}
    assert kept == {
        "train": [10.0 * k for k in range(13)],
        "validation": [150.0],
        "test": [180.0, 190.0],
    }
    assert sorted(times[shuffled[split.dropped]].tolist()) == [130.0, 140.0, 160.0, 170.0]
    assert split.boundaries_gps == [T0 + 135.0, T0 + 165.0]
    assert split.ranges_gps["train"] == [T0, T0 + 120.0]
    # Within each split the samples are in time order.
    assert [T0 + times[shuffled[i]] for i in split.indices["train"]] == sorted(
        T0 + times[shuffled[i]] for i in split.indices["train"]
    )
    assert "4 sample(s) dropped within 12.5 s of the boundaries" in split.summary()


def test_neighbouring_splits_are_at_least_the_gap_apart():
    rng = np.random.default_rng(1)
    # Bursts: 30 clusters of glitches seconds apart, the clusters minutes apart.
    times = np.concatenate([c * 300.0 + rng.uniform(0, 40, size=rng.integers(1, 12)) for c in range(30)])
    split = time_split(times, gap_s=60)
    first, second, third = (times[split.indices[name]] for name in ("train", "validation", "test"))
    assert second.min() - first.max() >= 60 and third.min() - second.max() >= 60
    assert len(first) + len(second) + len(third) + len(split.dropped) == len(times)
    no_gap = time_split(times, gap_s=0)
    assert not no_gap.dropped
    n = len(times)
    assert [len(no_gap.indices[s]) for s in ("train", "validation", "test")] == [
        round(0.7 * n),
        round(0.85 * n) - round(0.7 * n),
        n - round(0.85 * n),
    ]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="gap_s"):
        time_split([1.0, 2.0], gap_s=-1)
    with pytest.raises(ValueError, match="finite"):
        time_split([1.0, float("nan")])
    with pytest.raises(ValueError, match="fractions"):
        time_split([1.0, 2.0], fractions=(0.5, 0.5))


def _write_timed_file(tmp_path, times: list[float | None]):
    """Samples whose Zenodo split says nothing about time (round robin) and whose CSV gives ``times``."""
    h5_path, csv_path = tmp_path / "timed.h5", tmp_path / "timed_metadata.csv"
    samples = []
    with GravitySpyHDF5Writer(h5_path, metadata_csv=csv_path) as writer:
        for index, time in enumerate(times):
            sample = make_sample(index)
            sample.metadata = {"snr": 8.0} if time is None else {"snr": 8.0, "event_time": time}
            writer.write(sample)
            samples.append(sample)
    return h5_path, csv_path, samples


def test_convert_split_time_with_gap(tmp_path, capsys):
    times = [T0 + 10.0 * k for k in range(20)]
    order = np.random.default_rng(2).permutation(20)
    h5_path, csv_path, samples = _write_timed_file(tmp_path, [times[k] for k in order])
    time_of = {s.gravityspy_id: s.metadata["event_time"] - T0 for s in samples}
    output = tmp_path / "arrow"
    argv = ["--hdf5", str(h5_path), "--metadata", str(csv_path), "--output", str(output)]
    assert _run_convert([*argv, "--split", "time", "--gap-s", "25"]) == 0
    printed = capsys.readouterr().out
    assert "time split: train 13" in printed and "4 sample(s) dropped" in printed and "gap 25 s" in printed

    dataset = load_from_disk(str(output))
    kept = {split: [time_of[i] for i in dataset[split]["gravityspy_id"]] for split in dataset}
    assert kept == {"train": [10.0 * k for k in range(13)], "validation": [150.0], "test": [180.0, 190.0]}
    stats = json.loads((output / STATS_FILENAME).read_text())
    assert stats["split"]["method"] == "time" and stats["split"]["gap_s"] == 25
    assert sorted(time_of[i] for i in stats["split"]["dropped"]) == [130.0, 140.0, 160.0, 170.0]
    assert stats["num_samples"] == {"train": 13, "validation": 1, "test": 2}

    # The default stays the file's own sample_type split.
    assert _run_convert(argv) == 0
    assert json.loads((output / STATS_FILENAME).read_text())["split"] == {"method": "sample_type"}
    assert load_from_disk(str(output))["train"].num_rows == 7  # round robin over 20 samples


def test_time_split_needs_a_time_for_every_sample(tmp_path, capsys):
    h5_path, csv_path, samples = _write_timed_file(tmp_path, [T0, T0 + 1.0, None, T0 + 3.0])
    output = tmp_path / "arrow"
    assert _run_convert(["--hdf5", str(h5_path), "--output", str(output), "--split", "time"]) == 2
    assert "--split time needs --metadata" in capsys.readouterr().err
    with pytest.raises(GravitySpyDataError) as info:
        convert_to_arrow(h5_path, output, metadata_csv=csv_path, split_by="time")
    assert info.value.sample == samples[2].gravityspy_id and info.value.field == "event_time"
    assert str(csv_path) in str(info.value)
    assert not output.exists()
