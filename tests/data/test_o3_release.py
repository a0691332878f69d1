"""Converting PNGs with a CSV of Gravity Spy's ML classification release (O3 style), and label sets in
the converter: labels from ml_label, --min-confidence, --label-set, and the errors that name the file,
sample and column."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from gravityvit.cli import main as cli_main
from gravityvit.data.arrow import STATS_FILENAME, convert_to_arrow
from gravityvit.data.hdf5 import GravitySpyDataError, write_gravityspy_hdf5
from gravityvit.data.o3_release import GravitySpyO3Reader, is_ml_classification_csv
from gravityvit.gravity_spy import O3_CLASS_NAMES

from .conftest import make_sample

DURATIONS = ("0.5", "1.0", "2.0", "4.0")
# The release's columns, in part: the id, the detector, times and Omicron's values, the model's label
# and confidence, the four image addresses, and one score column per class (two shown).
COLUMNS = [
    "event_time",
    "ifo",
    "peak_frequency",
    "snr",
    "gravityspy_id",
    "Blip",
    "Fast_Scattering",
    "ml_label",
    "ml_confidence",
    "url1",
    "url2",
    "url3",
    "url4",
]


def write_png(path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (800, 600), (value, value, value)).save(path)


def write_rows(path, rows, columns=COLUMNS) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def row(gravityspy_id, label, confidence, *, ifo="L1", urls=None, event_time=1253000000.25):
    urls = urls or [f"https://example.org/{gravityspy_id}/{d}.png" for d in DURATIONS]
    return {
        "event_time": event_time,
        "ifo": ifo,
        "peak_frequency": 42.5,
        "snr": 11.0,
        "gravityspy_id": gravityspy_id,
        "Blip": 0.01,
        "Fast_Scattering": 0.02,
        "ml_label": label,
        "ml_confidence": confidence,
        **{f"url{i + 1}": url for i, url in enumerate(urls)},
    }


@pytest.fixture
def o3_release(tmp_path):
    """A tiny release: a CSV of 5 rows and a folder with the PNGs of 4 of them.

    - FastScat01 (Fast_Scattering, 0.95): Gravity Spy file names, in train/;
    - BlipLowF01 (Blip_Low_Frequency, 0.97): named as its url1..url4 (as downloaded), in train/;
    - KoiFish001 (Koi_Fish, 0.92): Gravity Spy file names, in validation/ under a class folder;
    - LowConf001 (Blip, 0.40): PNGs present, below --min-confidence 0.9;
    - NoPngs0001 (Whistle, 0.99): no PNG in the folder.
    """
    pngs = tmp_path / "pngs"
    for index, duration in enumerate(DURATIONS):
        write_png(pngs / "train" / f"L1_FastScat01_spectrogram_{duration}.png", 40 + index)
        write_png(pngs / "train" / f"3f2c9e-{index}.png", 80 + index)
        write_png(pngs / "validation" / "Koi_Fish" / f"H1_KoiFish001_spectrogram_{duration}.png", 120)
        write_png(pngs / "train" / f"L1_LowConf001_spectrogram_{duration}.png", 160)
    csv_path = tmp_path / "L1_O3b.csv"
    write_rows(
        csv_path,
        [
            row("FastScat01", "Fast_Scattering", 0.95),
            row(
                "BlipLowF01",
                "Blip_Low_Frequency",
                0.97,
                urls=[f"https://panoptes.example/subject_location/3f2c9e-{i}.png" for i in range(4)],
            ),
            row("KoiFish001", "Koi_Fish", 0.92, ifo="H1"),
            row("LowConf001", "Blip", 0.40),
            row("NoPngs0001", "Whistle", 0.99),
        ],
    )
    return pngs, csv_path


def test_o3_csv_and_pngs_convert_with_min_confidence(o3_release, tmp_path):
    pngs, csv_path = o3_release
    output = tmp_path / "o3_dataset"
    args = ["convert", "--png-dir", str(pngs), "--metadata", str(csv_path), "--output", str(output)]
    assert cli_main([*args, "--label-set", "o3", "--min-confidence", "0.9"]) == 0

    from datasets import load_from_disk

    dataset = load_from_disk(str(output))
    assert dataset["train"].features["label"].names == list(O3_CLASS_NAMES)
    labels = {
        split: {
            example["gravityspy_id"]: dataset[split].features["label"].int2str(example["label"])
            for example in dataset[split]
        }
        for split in dataset
    }
    assert labels == {
        "train": {"FastScat01": "Fast_Scattering", "BlipLowF01": "Blip_Low_Frequency"},
        "validation": {"KoiFish001": "Koi_Fish"},
        "test": {},
    }
    train = {example["gravityspy_id"]: example for example in dataset["train"]}
    # The release's columns are the samples' metadata; the id's detector comes from the CSV.
    assert train["BlipLowF01"]["ml_confidence"] == pytest.approx(0.97)
    assert train["FastScat01"]["event_time"] == pytest.approx(1253000000.25)
    assert train["FastScat01"]["ifo"] == "L1" and dataset["validation"][0]["ifo"] == "H1"
    # The views are the right files: the url-named PNGs of BlipLowF01 hold 80..83, in duration order.
    views = [
        np.asarray(train["BlipLowF01"][column], dtype=np.float64) / 65535
        for column in ("image_500ms", "image_4000ms")
    ]
    assert views[0].mean() == pytest.approx(80 / 255, abs=2e-3) and views[1].mean() == pytest.approx(
        83 / 255, abs=2e-3
    )

    stats = json.loads((output / STATS_FILENAME).read_text())
    assert stats["label_set"] == "o3" and stats["class_names"] == list(O3_CLASS_NAMES)
    assert stats["selection"] == {
        "csv_rows": 5,
        "below_min_confidence": 1,
        "without_png": 1,
        "samples": 3,
        "unused_pngs": 4,  # LowConf001's
        "min_confidence": 0.9,
        "label_source": "ml_label: the predictions of Gravity Spy's production model, not human labels",
    }


def test_without_min_confidence_every_row_with_pngs_is_a_sample(o3_release):
    pngs, csv_path = o3_release
    assert is_ml_classification_csv(csv_path)
    reader = GravitySpyO3Reader(pngs, csv_path, label_set="o3")
    assert sorted(reader.ids) == ["BlipLowF01", "FastScat01", "KoiFish001", "LowConf001"]
    assert reader.selection["below_min_confidence"] == 0 and reader.selection["unused_pngs"] == 0
    sample = reader[reader.ids.index("LowConf001")]
    assert (
        sample.label == "Blip" and sample.sample_type == "train" and sample.metadata["ml_confidence"] == 0.4
    )


def test_an_o3_label_under_the_v1_label_set_names_the_id_and_label(o3_release, tmp_path, capsys):
    pngs, csv_path = o3_release
    args = ["convert", "--png-dir", str(pngs), "--metadata", str(csv_path), "--output", str(tmp_path / "v1")]
    assert cli_main(args) == 1
    error = capsys.readouterr().err
    assert f"file {csv_path}, sample BlipLowF01, field 'ml_label'" in error
    assert "unknown ml_label 'Blip_Low_Frequency': not in label set 'v1' (22 classes)" in error
    assert "convert with --label-set o3" in error
    # Skipping leaves the O3-only classes out and lists them.
    assert cli_main([*args, "--on-bad-sample", "skip"]) == 0
    stats = json.loads((tmp_path / "v1" / STATS_FILENAME).read_text())
    assert stats["label_set"] == "v1" and stats["num_skipped"] == 2
    assert sorted(item["sample"].rsplit("_", 1)[-1] for item in stats["skipped"]) == [
        "BlipLowF01",
        "FastScat01",
    ]


def test_missing_columns_and_bad_confidences_name_the_file_sample_and_column(o3_release, tmp_path):
    pngs, _ = o3_release
    no_confidence = tmp_path / "no_confidence.csv"
    write_rows(
        no_confidence,
        [row("FastScat01", "Fast_Scattering", 0.95)],
        [c for c in COLUMNS if c != "ml_confidence"],
    )
    with pytest.raises(GravitySpyDataError, match="no 'ml_confidence' column") as caught:
        GravitySpyO3Reader(pngs, no_confidence, label_set="o3")
    assert caught.value.source == str(no_confidence) and caught.value.field == "ml_confidence"

    bad_value = tmp_path / "bad_value.csv"
    write_rows(bad_value, [row("FastScat01", "Fast_Scattering", "high")])
    with pytest.raises(
        GravitySpyDataError, match=r"ml_confidence must be a number in \[0, 1\]; got 'high'"
    ) as caught:
        GravitySpyO3Reader(pngs, bad_value, label_set="o3", min_confidence=0.5)
    assert (caught.value.source, caught.value.sample) == (str(bad_value), "FastScat01")

    unmatched = tmp_path / "unmatched.csv"
    write_rows(unmatched, [row("Elsewhere1", "Blip", 0.9)])
    with pytest.raises(GravitySpyDataError, match="none of the 1 CSV rows kept"):
        GravitySpyO3Reader(pngs, unmatched)


def test_min_confidence_needs_an_ml_classification_csv(o3_release, tmp_path, capsys):
    pngs, csv_path = o3_release
    v1d1_style = tmp_path / "v1d1.csv"
    v1d1_style.write_text("gravityspy_id,label,sample_type,ifo\nFastScat01,Blip,train,L1\n")
    base = ["convert", "--png-dir", str(pngs), "--output", str(tmp_path / "out"), "--min-confidence", "0.9"]
    assert cli_main([*base, "--metadata", str(v1d1_style)]) == 2
    assert "--min-confidence applies to --png-dir with a --metadata CSV" in capsys.readouterr().err
    assert cli_main([*base, "--metadata", str(csv_path), "--min-confidence", "1.5"]) == 2
    assert "--min-confidence must lie in [0, 1]" in capsys.readouterr().err
    assert cli_main([*base[:-2], "--metadata", str(csv_path), "--label-set", "o4"]) == 2
    assert "--label-set unknown label set 'o4'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_hdf5_groups_of_the_o3_classes_and_a_custom_label_set(tmp_path):
    samples = [
        make_sample(0, label="Fast_Scattering", sample_type="train"),
        make_sample(1, label="Blip_Low_Frequency", sample_type="validation"),
        make_sample(2, label="Blip", sample_type="test"),
    ]
    path = tmp_path / "o3.h5"
    write_gravityspy_hdf5(path, samples)  # the writer takes every class of a named label set
    o3 = convert_to_arrow(path, tmp_path / "o3", label_set="o3")
    assert o3["train"].features["label"].names == list(O3_CLASS_NAMES)
    assert o3["validation"].features["label"].int2str(o3["validation"][0]["label"]) == "Blip_Low_Frequency"

    # A custom set keeps the order given, and the stats name no set.
    custom = ["Fast_Scattering", "Blip_Low_Frequency", "Blip"]
    dataset = convert_to_arrow(path, tmp_path / "custom", label_set=custom)
    assert dataset["train"].features["label"].names == custom and dataset["train"][0]["label"] == 0
    stats = json.loads((tmp_path / "custom" / STATS_FILENAME).read_text())
    assert stats["label_set"] is None and stats["class_names"] == custom
    assert list(stats["class_weights_by_name"]) == custom

    # The default, v1, has no Fast_Scattering group: the error names the group and the set to use.
    with pytest.raises(GravitySpyDataError, match=r"unknown class group 'Fast_Scattering'.*--label-set o3"):
        convert_to_arrow(path, tmp_path / "v1")
