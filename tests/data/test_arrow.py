"""HDF5 / PNG -> Arrow: columns, precision, stats, bad samples, atomic output, decoding."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from datasets import load_from_disk

from gravityvit.data.arrow import (
    ARROW_DATASET,
    MAX_PIXEL_ERROR,
    STATS_FILENAME,
    batch_to_views,
    class_weights_from_counts,
    convert_to_arrow,
    example_to_views,
)
from gravityvit.data.hdf5 import GravitySpyDataError, GravitySpyHDF5Writer
from gravityvit.file_utils import MARKER_NAME, atomic_path
from gravityvit.gravity_spy import CLASS_NAMES, HDF5_VIEW_KEYS, IMAGE_COLUMNS

from .conftest import make_sample

FLOAT_EPS = 1e-7  # float32 rounding of values near 1


def test_hdf5_to_arrow_round_trip_and_stats(tmp_path, small_hdf5):
    h5_path, csv_path, samples = small_hdf5
    output = tmp_path / "arrow"
    dataset_dict = convert_to_arrow(h5_path, output, metadata_csv=csv_path, num_proc=2)
    assert set(dataset_dict) == {"train", "validation", "test"}
    reloaded = load_from_disk(str(output))
    features = reloaded["train"].features
    assert features["label"].names == list(CLASS_NAMES)
    assert [c for c in features if c.startswith("image_")] == list(IMAGE_COLUMNS)
    assert features["snr"].dtype == "float64" and features["event_time"].dtype == "int64"
    by_id = {s.gravityspy_id: s for s in samples}
    worst = 0.0
    for split in ("train", "validation", "test"):
        assert len(reloaded[split]) == 4
        for example in reloaded[split]:
            source = by_id[example["gravityspy_id"]]
            assert source.sample_type == split
            assert features["label"].int2str(example["label"]) == source.label
            assert example["ifo"] == source.ifo and example["snr"] == source.metadata["snr"]
            views, mask = example_to_views(example)
            assert views.dtype == np.float32 and mask.all()
            worst = max(worst, float(np.abs(views - source.views).max()))
    assert worst <= MAX_PIXEL_ERROR + FLOAT_EPS
    assert worst > MAX_PIXEL_ERROR * 0.9  # random views do reach the stated bound: it is tight
    stats = json.loads((output / STATS_FILENAME).read_text())
    assert stats["num_samples"] == {"train": 4, "validation": 4, "test": 4}
    assert sum(stats["class_counts"]["train"].values()) == 4
    weights = np.array(stats["class_weights"])
    train_labels = reloaded["train"]["label"]
    assert np.mean(weights[train_labels]) == pytest.approx(1.0)  # mean 1 over training samples
    assert stats["num_skipped"] == 0 and stats["skipped"] == []


def test_class_weights_inverse_frequency():
    weights = dict(zip(CLASS_NAMES, class_weights_from_counts({"Blip": 30, "Chirp": 10})))
    assert weights["Chirp"] == pytest.approx(3 * weights["Blip"])
    assert weights["Blip"] * 30 + weights["Chirp"] * 10 == pytest.approx(40)
    assert weights["Whistle"] == 0.0


def write_with_bad_sample(path, bad: dict[str, np.ndarray] | None = None, drop: str | None = None) -> str:
    """Three valid samples plus datasets overwritten/removed to make one bad; returns its path."""
    with GravitySpyHDF5Writer(path) as writer:
        for i in range(3):
            writer.write(make_sample(i, label="Blip", sample_type="train"))
    bad_path = "Blip/train/id00000001"
    with h5py.File(path, "a") as handle:
        for key, data in (bad or {}).items():
            if key.startswith("/"):  # a sample in a new group (unknown class)
                handle.create_dataset(key, data=data)
                bad_path = key.rsplit("/", 1)[0].lstrip("/")
            else:
                del handle[f"{bad_path}/{key}"]
                handle.create_dataset(f"{bad_path}/{key}", data=data)
        if drop:
            del handle[f"{bad_path}/{drop}"]
    return bad_path


GOOD_VIEW = np.full((1, 140, 170), 0.5, np.float32)
BAD_CASES = {
    "missing_view": ({}, "2.0.png", "missing view"),
    "wrong_shape": ({"1.0.png": np.zeros((1, 128, 170), np.float32)}, "1.0.png", "shape"),
    "nan": ({"0.5.png": np.full((1, 140, 170), np.nan, np.float32)}, "0.5.png", "NaN"),
    "unknown_class": (
        {f"/Bleep/train/zzzzzzzzzz/{k}": GOOD_VIEW for k in HDF5_VIEW_KEYS},
        "label",
        "unknown class",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_sample_error_names_it_and_existing_output_is_untouched(tmp_path, case):
    bad, field, reason = BAD_CASES[case]
    h5_path = tmp_path / "bad.h5"
    bad_path = write_with_bad_sample(h5_path, bad, drop="2.0.png" if case == "missing_view" else None)
    output = tmp_path / "arrow"
    with atomic_path(output, kind=ARROW_DATASET) as earlier:  # an earlier output, which must survive
        (earlier / "keep.txt").write_text("previous dataset")
    with pytest.raises(GravitySpyDataError) as info:
        # The error must also come out whole from a worker process.
        convert_to_arrow(h5_path, output, num_proc=2 if case == "nan" else 1)
    assert bad_path in str(info.value) and str(h5_path) in str(info.value) and reason in str(info.value)
    assert info.value.field == field
    assert sorted(p.name for p in output.iterdir()) == [MARKER_NAME, "keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrow", "bad.h5"]  # no temporary leftovers


def test_skip_bad_samples_lists_them(tmp_path, caplog):
    h5_path = tmp_path / "bad.h5"
    bad_path = write_with_bad_sample(h5_path, {"0.5.png": np.full((1, 140, 170), 2.0, np.float32)})
    output = tmp_path / "arrow"
    with caplog.at_level("WARNING"):
        dataset_dict = convert_to_arrow(h5_path, output, on_bad_sample="skip", num_proc=2)
    assert len(dataset_dict["train"]) == 2
    assert len(dataset_dict["test"]) == 0 and len(dataset_dict["validation"]) == 0  # empty splits are kept
    assert dataset_dict["test"].features == dataset_dict["train"].features
    stats = json.loads((output / STATS_FILENAME).read_text())
    assert stats["num_skipped"] == 1 and stats["skipped"][0]["sample"] == bad_path
    assert "[0, 1]" in stats["skipped"][0]["error"]
    assert "skipped 1 bad sample" in caplog.text and bad_path in caplog.text
    assert stats["num_samples"]["test"] == 0


def test_truncated_file_fails_before_touching_output(tmp_path, small_hdf5):
    h5_path, _, _ = small_hdf5
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(h5_path.read_bytes()[:100_000])
    with pytest.raises(GravitySpyDataError, match="truncated"):
        convert_to_arrow(truncated, tmp_path / "arrow")
    assert not (tmp_path / "arrow").exists()


def test_png_folder_to_arrow(tmp_path, real_samples_dir):
    dataset_dict = convert_to_arrow(real_samples_dir, tmp_path / "arrow")
    assert len(dataset_dict["test"]) == 18 and len(dataset_dict["train"]) == 0
    views, mask = example_to_views(dataset_dict["test"][0])
    assert mask.all() and views.min() >= 0.0 and views.max() <= 1.0
    stats = json.loads((tmp_path / "arrow" / STATS_FILENAME).read_text())
    assert stats["class_counts"]["test"]["Blip"] == 10 and stats["class_counts"]["test"]["Scratchy"] == 8


def test_example_to_views_masks_missing_columns(small_hdf5, tmp_path):
    h5_path, _, _ = small_hdf5
    dataset = convert_to_arrow(h5_path, tmp_path / "arrow")["train"]
    example = dataset[0]
    example["image_2000ms"] = None
    del example["image_4000ms"]
    views, mask = example_to_views(example)
    assert mask.tolist() == [True, True, False, False]
    assert not views[2:].any()
    undecoded = dataset.cast_column("image_500ms", dataset.features["image_500ms"].__class__(decode=False))[0]
    views_undecoded, _ = example_to_views(undecoded)
    np.testing.assert_array_equal(views_undecoded[0], views[0])
    batch_views, batch_mask = batch_to_views(dataset[:3])
    assert batch_views.shape == (3, 4, 140, 170) and batch_mask.all()
    np.testing.assert_array_equal(batch_views[0, :2], views[:2])


def test_a_stored_view_of_the_wrong_shape_raises_naming_sample_and_column():
    from PIL import Image

    from gravityvit.data.arrow import decode_view

    assert decode_view(None) is None
    assert decode_view(np.zeros((1, 140, 170), np.uint8)).shape == (140, 170)
    with pytest.raises(ValueError, match=r"column image_1000ms: a stored view must be 170x140 pixels"):
        decode_view(Image.new("L", (171, 140)), "column image_1000ms")
    example = {"gravityspy_id": "abc123", "image_500ms": np.zeros((70, 85), np.float32)}
    with pytest.raises(ValueError, match=r"sample abc123, column image_500ms: .* got shape \(70, 85\)"):
        example_to_views(example)


def _run_convert(argv: list[str]) -> int:
    import argparse

    from gravityvit.commands import convert

    parser = argparse.ArgumentParser(prog="gravityvit")
    convert.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["convert", *argv])
    return args.func(args)


def test_convert_command_and_script(tmp_path, small_hdf5, capsys):
    h5_path, csv_path, _ = small_hdf5
    output = tmp_path / "arrow"
    assert _run_convert(["--hdf5", str(h5_path), "--metadata", str(csv_path), "--output", str(output)]) == 0
    assert "train 4" in capsys.readouterr().out
    assert load_from_disk(str(output))["validation"].num_rows == 4
    assert _run_convert(["--hdf5", str(tmp_path / "absent.h5"), "--output", str(output)]) == 2
    bad = tmp_path / "bad.h5"
    bad_path = write_with_bad_sample(bad, {"0.5.png": np.full((1, 140, 170), np.nan, np.float32)})
    assert _run_convert(["--hdf5", str(bad), "--output", str(output)]) == 1
    err = capsys.readouterr().err
    assert bad_path in err and "--on-bad-sample skip" in err
    assert load_from_disk(str(output))["validation"].num_rows == 4  # the earlier dataset is intact
    assert _run_convert(["--hdf5", str(bad), "--output", str(output), "--on-bad-sample", "skip"]) == 0
    assert load_from_disk(str(output))["train"].num_rows == 2

    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "conversion_scripts" / "convert_gravityspy_to_arrow.py"
    spec = importlib.util.spec_from_file_location("convert_gravityspy_to_arrow", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as info:
        module.main(["--help"])
    assert info.value.code == 0 and "--on-bad-sample" in capsys.readouterr().out


def test_push_to_hub_failure_is_clear_and_keeps_the_dataset(tmp_path, small_hdf5, monkeypatch):
    import datasets

    def unreachable(self, repo_id, **kwargs):
        raise ConnectionError("Cannot reach https://huggingface.co: offline")

    monkeypatch.setattr(datasets.DatasetDict, "push_to_hub", unreachable)
    h5_path, _, _ = small_hdf5
    with pytest.raises(RuntimeError, match="could not push the dataset to the Hub repo 'me/gravityspy'"):
        convert_to_arrow(h5_path, tmp_path / "arrow", push_to_hub="me/gravityspy")
    assert load_from_disk(str(tmp_path / "arrow"))["train"].num_rows == 4


def test_arrow_rows_through_the_image_processor_equal_the_source(tmp_path, small_hdf5):
    from gravityvit.image_processing_gravityvit import GravityViTImageProcessor

    h5_path, _, samples = small_hdf5
    dataset = convert_to_arrow(h5_path, tmp_path / "arrow")["test"]
    # Identity processing (no resize, no normalisation) exposes the decoded views themselves.
    processor = GravityViTImageProcessor(image_size=(140, 170), image_mean=(0, 0, 0), image_std=(1, 1, 1))
    rows = [dataset[i] for i in range(len(dataset))]
    batch = processor([{c: row[c] for c in IMAGE_COLUMNS} for row in rows], return_tensors="np")
    assert batch["view_mask"].all()
    by_id = {s.gravityspy_id: s for s in samples}
    source = np.stack([by_id[row["gravityspy_id"]].views for row in rows])
    error = np.abs(batch["pixel_values"][:, :, 0] - source).max()
    assert error <= MAX_PIXEL_ERROR + FLOAT_EPS
