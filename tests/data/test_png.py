"""Gravity Spy PNG folders: the real samples (orientation, range, statistics) and bad folders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from gravityvit.data.hdf5 import GravitySpyDataError
from gravityvit.data.png import GravitySpyPNGReader, read_png_sample
from gravityvit.gravity_spy import CLASS_NAMES, KAGGLE_PNG_SIZE, VIEW_PIXEL_MEAN, png_to_view


def write_fake_png(path, *, size=(800, 600), value=128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", size, (value, value, value, 255)).save(path)


def make_fake_sample(
    folder, gravityspy_id, *, durations=("0.5", "1.0", "2.0", "4.0"), ifo="L1", size=(800, 600)
):
    for duration in durations:
        write_fake_png(folder / f"{ifo}_{gravityspy_id}_spectrogram_{duration}.png", size=size)


def test_real_samples_values_orientation_and_statistics(real_samples_dir):
    reader = GravitySpyPNGReader(real_samples_dir)
    assert len(reader) == 18
    assert {e.label for e in reader.entries} == {"Blip", "Scratchy"}
    samples = list(reader)
    views = np.stack([s.views for s in samples])
    assert views.dtype == np.float32 and views.shape == (18, 4, 140, 170)
    assert views.min() >= 0.0 and views.max() <= 1.0
    # Quiet classes (Blip, Scratchy) sit a little below the all-class v1d0 means (0.142-0.178).
    np.testing.assert_allclose(views.mean(axis=(0, 2, 3)), VIEW_PIXEL_MEAN, atol=0.06)
    for sample in samples:
        assert sample.sample_type == "test" and sample.ifo in ("H1", "L1") and len(sample.gravityspy_id) == 10
        if sample.label != "Blip":
            continue
        short = sample.views[0]  # 0.5 s view
        row_profile = short.mean(axis=1)
        # Row 0 is the highest frequency: a Blip's energy lies in the lower (mid/low frequency) rows,
        # not in the top rows, and it is centred in time.
        assert row_profile[40:].mean() > row_profile[:20].mean() + 0.005, sample.gravityspy_id
        assert row_profile.argmax() >= 70, sample.gravityspy_id
        assert 60 <= np.unravel_index(short.argmax(), short.shape)[1] <= 110, sample.gravityspy_id
    scratchy_l1 = next(s for s in samples if s.gravityspy_id == "123abc1234")
    assert scratchy_l1.ifo == "L1" and scratchy_l1.label == "Scratchy"


def test_read_png_sample_matches_reader(real_samples_dir):
    reader = GravitySpyPNGReader(real_samples_dir)
    entry = reader.entries[0]
    sample = read_png_sample([path for _, path in reversed(entry.files)])
    np.testing.assert_array_equal(sample.views, reader[0].views)
    assert sample.label == entry.label


def test_split_from_csv_then_folder_then_default(tmp_path):
    make_fake_sample(tmp_path / "Blip", "aaaaaaaaaa")
    make_fake_sample(tmp_path / "validation" / "Tomte", "bbbbbbbbbb")
    make_fake_sample(tmp_path / "Whistle", "cccccccccc")
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("gravityspy_id,label,sample_type,ifo,snr\naaaaaaaaaa,Blip,train,L1,12.5\n")
    reader = GravitySpyPNGReader(tmp_path, csv_path)
    by_id = {s.gravityspy_id: s for s in reader}
    assert by_id["aaaaaaaaaa"].sample_type == "train" and by_id["aaaaaaaaaa"].metadata == {"snr": 12.5}
    assert by_id["bbbbbbbbbb"].sample_type == "validation" and by_id["bbbbbbbbbb"].label == "Tomte"
    assert by_id["cccccccccc"].sample_type == "test"
    assert GravitySpyPNGReader(tmp_path, default_sample_type="train").entries[-1].sample_type == "train"
    gray = by_id["cccccccccc"].views
    np.testing.assert_allclose(gray, 128 / 255, atol=1e-5)  # gray(128,128,128) = 128/255


@pytest.mark.parametrize(
    ("build", "field", "reason"),
    [
        (
            lambda d: make_fake_sample(d / "Blip", "aaaaaaaaaa", durations=("0.5", "1.0", "4.0")),
            "2.0.png",
            "missing view",
        ),
        (lambda d: make_fake_sample(d / "Blip", "aaaaaaaaaa", size=(400, 300)), "0.5.png", "800x600"),
        (lambda d: make_fake_sample(d / "Bleep", "aaaaaaaaaa"), "label", "unknown class folder"),
    ],
    ids=["missing_duration", "wrong_size", "unknown_class"],
)
def test_bad_png_samples_name_the_sample(tmp_path, build, field, reason):
    build(tmp_path)
    reader = GravitySpyPNGReader(tmp_path)
    with pytest.raises(GravitySpyDataError) as info:
        reader[0]
    assert "aaaaaaaaaa" in str(info.value) and reason in str(info.value) and info.value.field == field


def test_corrupt_png_and_empty_folder(tmp_path):
    make_fake_sample(tmp_path / "Blip", "aaaaaaaaaa")
    (tmp_path / "Blip" / "L1_aaaaaaaaaa_spectrogram_1.0.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with pytest.raises(GravitySpyDataError, match="cannot read the PNG") as info:
        GravitySpyPNGReader(tmp_path)[0]
    assert info.value.field == "1.0.png" and "L1_aaaaaaaaaa_spectrogram_1.0.png" in str(info.value)
    shutil.rmtree(tmp_path / "Blip")
    with pytest.raises(GravitySpyDataError, match="no Gravity Spy PNGs"):
        GravitySpyPNGReader(tmp_path)


def test_duplicate_id_fails_on_reading_only(tmp_path):
    make_fake_sample(tmp_path / "Blip", "aaaaaaaaaa")
    make_fake_sample(tmp_path / "Tomte", "aaaaaaaaaa")
    make_fake_sample(tmp_path / "Tomte", "bbbbbbbbbb")
    reader = GravitySpyPNGReader(tmp_path)
    assert reader[0].label == "Blip"  # the first copy reads
    with pytest.raises(GravitySpyDataError, match="also appears in") as info:
        reader[1]
    assert info.value.field == "gravityspy_id" and "Tomte" in str(info.value)
    assert reader[2].gravityspy_id == "bbbbbbbbbb"


def test_kaggle_crop_of_a_rendering_gives_its_view(real_samples_dir):
    """A 569x479 Kaggle crop (rows 60:539, cols 100:669) maps onto the 800x600 rendering's view."""
    path = sorted((real_samples_dir / "Blip").glob("*_spectrogram_1.0.png"))[0]
    with Image.open(path) as rendering:
        rendering = rendering.convert("RGBA")
    crop = rendering.crop((100, 60, 669, 539))
    assert crop.size == KAGGLE_PNG_SIZE
    full_view, crop_view = png_to_view(rendering), png_to_view(crop)
    assert crop_view.shape == full_view.shape == (140, 170)
    # The crop lacks the last two of the 566 axes columns, which only the view's last column sees.
    np.testing.assert_allclose(crop_view[:, :-1], full_view[:, :-1], atol=1 / 255)
    assert np.abs(crop_view - full_view).max() > 0  # the last column differs: not the same image read twice


def test_kaggle_samples_read_like_renderings(kaggle_samples_dir):
    reader = GravitySpyPNGReader(kaggle_samples_dir)
    assert {entry.label for entry in reader.entries} == set(CLASS_NAMES)
    complete = [i for i, entry in enumerate(reader.entries) if len(entry.files) == 4]
    views = np.stack([reader[i].views for i in complete])
    assert views.shape[1:] == (4, 140, 170) and views.min() >= 0.0 and views.max() <= 1.0
    # Over all 22 classes the mean pixel sits near the v1d0 training-set means (0.14-0.18).
    np.testing.assert_allclose(views.mean(axis=(0, 2, 3)), VIEW_PIXEL_MEAN, atol=0.06)


def test_other_png_sizes_are_refused_with_both_formats_named(tmp_path):
    make_fake_sample(tmp_path / "Blip", "abcdefghij", size=(570, 479))
    with pytest.raises(GravitySpyDataError, match="800x600 or 569x479"):
        GravitySpyPNGReader(tmp_path)[0]
