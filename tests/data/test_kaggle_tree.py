"""Kaggle-style PNG trees (``train|validation|test/<Class>/*.png`` of 569x479 crops), with samples that
lack some durations: the reader and ``gravityvit convert --png-dir`` (API, subcommand and script)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from inference_helpers import write_kaggle_sample
from PIL import Image

from gravityvit.cli import main as cli_main
from gravityvit.data.arrow import STATS_FILENAME, convert_to_arrow, example_to_views
from gravityvit.data.hdf5 import GravitySpyDataError
from gravityvit.data.png import GravitySpyPNGReader, read_png_sample
from gravityvit.gravity_spy import IMAGE_COLUMNS, png_to_view


@pytest.fixture
def kaggle_tree(tmp_path):
    """train/Blip (complete), validation/Whistle (4 s only), test/Koi_Fish (0.5 and 1.0 s only)."""
    root = tmp_path / "kaggle"
    files = {
        "aaaaaaaaaa": write_kaggle_sample(root / "train" / "Blip", "aaaaaaaaaa", seed=1),
        "bbbbbbbbbb": write_kaggle_sample(
            root / "validation" / "Whistle", "bbbbbbbbbb", durations=("4.0",), seed=2
        ),
        "cccccccccc": write_kaggle_sample(
            root / "test" / "Koi_Fish", "cccccccccc", durations=("0.5", "1.0"), ifo="L1", seed=3
        ),
    }
    return root, files


def test_reader_masks_missing_views_only_when_allowed(kaggle_tree):
    root, files = kaggle_tree
    strict = GravitySpyPNGReader(root)
    assert strict[0].gravityspy_id == "aaaaaaaaaa" and strict[0].view_mask is None
    with pytest.raises(GravitySpyDataError, match="allow-missing-views") as info:
        strict[2]  # the Whistle: only 4 s
    assert info.value.field == "0.5.png" and "bbbbbbbbbb" in str(info.value)

    reader = GravitySpyPNGReader(root, allow_missing_views=True)
    by_id = {sample.gravityspy_id: sample for sample in reader}
    assert {i: s.sample_type for i, s in by_id.items()} == {
        "aaaaaaaaaa": "train",
        "bbbbbbbbbb": "validation",
        "cccccccccc": "test",
    }
    whistle, koi = by_id["bbbbbbbbbb"], by_id["cccccccccc"]
    assert whistle.label == "Whistle" and whistle.view_mask.tolist() == [False, False, False, True]
    np.testing.assert_array_equal(whistle.views[3], png_to_view(Image.open(files["bbbbbbbbbb"][4.0])))
    assert not whistle.views[:3].any()
    assert [v is None for v in whistle.present_views] == [True, True, True, False]
    assert koi.view_mask.tolist() == [True, True, False, False] and koi.ifo == "L1"
    assert by_id["aaaaaaaaaa"].view_mask is None and len(by_id["aaaaaaaaaa"].present_views) == 4

    single = read_png_sample([files["bbbbbbbbbb"][4.0]], allow_missing_views=True)
    np.testing.assert_array_equal(single.views, whistle.views)
    assert single.view_mask.tolist() == whistle.view_mask.tolist() and single.label == "Whistle"
    with pytest.raises(GravitySpyDataError, match="missing view"):
        read_png_sample([files["bbbbbbbbbb"][4.0]])


def test_convert_writes_missing_views_as_null(kaggle_tree, tmp_path):
    root, files = kaggle_tree
    with pytest.raises(GravitySpyDataError, match="allow-missing-views"):
        convert_to_arrow(root, tmp_path / "strict")
    assert not (tmp_path / "strict").exists()

    dataset = convert_to_arrow(root, tmp_path / "arrow", allow_missing_views=True)
    assert {split: len(dataset[split]) for split in dataset} == {"train": 1, "validation": 1, "test": 1}
    whistle = dataset["validation"][0]
    assert whistle["gravityspy_id"] == "bbbbbbbbbb"
    assert [whistle[c] is None for c in IMAGE_COLUMNS] == [True, True, True, False]
    views, mask = example_to_views(whistle)
    assert mask.tolist() == [False, False, False, True]
    np.testing.assert_allclose(views[3], png_to_view(Image.open(files["bbbbbbbbbb"][4.0])), atol=1e-5)
    koi_views, koi_mask = example_to_views(dataset["test"][0])
    assert koi_mask.tolist() == [True, True, False, False] and not koi_views[2:].any()
    assert example_to_views(dataset["train"][0])[1].all()
    stats = json.loads((tmp_path / "arrow" / STATS_FILENAME).read_text())
    assert stats["missing_views"]["validation"] == dict(zip(IMAGE_COLUMNS, [1, 1, 1, 0]))
    assert stats["missing_views"]["test"] == dict(zip(IMAGE_COLUMNS, [0, 0, 1, 1]))
    assert stats["missing_views"]["train"] == dict.fromkeys(IMAGE_COLUMNS, 0)


def test_convert_command_allow_missing_views(kaggle_tree, tmp_path, capsys):
    root, _ = kaggle_tree
    assert cli_main(["convert", "--png-dir", str(root), "--output", str(tmp_path / "strict")]) == 1
    assert "--allow-missing-views" in capsys.readouterr().err
    assert not (tmp_path / "strict").exists()
    args = ["convert", "--png-dir", str(root), "--output", str(tmp_path / "out"), "--allow-missing-views"]
    assert cli_main(args) == 0
    assert "train 1, validation 1, test 1" in capsys.readouterr().out
    # The flag is for PNG folders: an HDF5 file has all four views by its layout.
    hdf5 = tmp_path / "x.h5"
    hdf5.write_bytes(b"")
    assert (
        cli_main(["convert", "--hdf5", str(hdf5), "--output", str(tmp_path / "h"), "--allow-missing-views"])
        == 2
    )
    assert "applies to --png-dir" in capsys.readouterr().err


@pytest.mark.slow  # converts every real Kaggle sample
def test_real_kaggle_samples_convert_with_missing_views(kaggle_samples_dir, tmp_path):
    """Every real Kaggle sample converts; the samples lacking durations have null image columns."""
    reader = GravitySpyPNGReader(kaggle_samples_dir, allow_missing_views=True)
    incomplete = sum(len(entry.files) < 4 for entry in reader.entries)
    assert incomplete > 0
    dataset = convert_to_arrow(kaggle_samples_dir, tmp_path / "arrow", allow_missing_views=True)
    assert len(dataset["test"]) == len(reader)
    stats = json.loads((tmp_path / "arrow" / STATS_FILENAME).read_text())
    assert stats["num_skipped"] == 0
    missing = sum(stats["missing_views"]["test"].values())
    assert missing == sum(4 - len(entry.files) for entry in reader.entries)
    for index in (0, len(reader) - 1):
        views, mask = example_to_views(dataset["test"][index])
        sample = reader[index]
        expected_mask = np.ones(4, bool) if sample.view_mask is None else sample.view_mask
        assert mask.tolist() == expected_mask.tolist()
        np.testing.assert_allclose(views, sample.views, atol=1e-5)


def test_hdf5_writer_refuses_missing_views(kaggle_tree, tmp_path):
    """The Zenodo HDF5 layout has all four views: a sample read with a view missing is not written."""
    from gravityvit.data.hdf5 import write_gravityspy_hdf5

    root, _ = kaggle_tree
    whistle = next(s for s in GravitySpyPNGReader(root, allow_missing_views=True) if s.label == "Whistle")
    with pytest.raises(GravitySpyDataError, match="needs all four views") as info:
        write_gravityspy_hdf5(tmp_path / "out.h5", [whistle])
    assert info.value.field == "0.5.png" and "bbbbbbbbbb" in str(info.value)
