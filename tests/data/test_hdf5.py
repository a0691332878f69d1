"""The Zenodo HDF5 layout: writer, lazy reader, metadata join and every kind of bad input."""

from __future__ import annotations

import multiprocessing
import pickle

import h5py
import numpy as np
import pytest

from gravityvit.data.hdf5 import (
    GravitySpyDataError,
    GravitySpyHDF5Reader,
    GravitySpyHDF5Writer,
    read_metadata_csv,
    write_gravityspy_hdf5,
)
from gravityvit.gravity_spy import HDF5_VIEW_KEYS

from .conftest import make_sample


def write_raw(path, datasets: dict[str, np.ndarray]) -> None:
    """Write datasets at arbitrary paths, bypassing the writer's checks (to make bad files)."""
    with h5py.File(path, "w") as handle:
        for name, data in datasets.items():
            handle.create_dataset(name, data=data)


def valid_views_raw(sample_path: str, rng=None) -> dict[str, np.ndarray]:
    rng = rng or np.random.default_rng(0)
    return {f"{sample_path}/{key}": rng.random((1, 140, 170), dtype=np.float32) for key in HDF5_VIEW_KEYS}


def test_writer_produces_the_exact_zenodo_layout(small_hdf5):
    h5_path, _, samples = small_hdf5
    with h5py.File(h5_path, "r") as handle:
        for sample in samples:
            group = handle[sample.label][sample.sample_type][sample.gravityspy_id]
            assert sorted(group.keys()) == sorted(HDF5_VIEW_KEYS)
            for i, key in enumerate(HDF5_VIEW_KEYS):
                assert group[key].shape == (1, 140, 170)
                assert group[key].dtype == np.float32
                np.testing.assert_array_equal(group[key][0], sample.views[i])


def test_reader_round_trip_with_metadata(small_hdf5):
    h5_path, csv_path, samples = small_hdf5
    reader = GravitySpyHDF5Reader(h5_path, csv_path)
    assert len(reader) == len(samples)
    assert sorted(reader.ids) == sorted(s.gravityspy_id for s in samples)
    by_id = {s.gravityspy_id: s for s in samples}
    for sample in reader:
        source = by_id[sample.gravityspy_id]
        assert (sample.label, sample.sample_type, sample.ifo) == (
            source.label,
            source.sample_type,
            source.ifo,
        )
        assert sample.views.dtype == np.float32 and sample.views.shape == (4, 140, 170)
        np.testing.assert_array_equal(sample.views, source.views)
        assert sample.metadata == source.metadata
    assert reader.metadata_column_types["snr"] == "float64"
    assert reader.metadata_column_types["event_time"] == "int64"
    assert reader.metadata_column_types["ifo"] == "string"
    train = reader.split("train")
    assert {s.sample_type for s in train} == {"train"} and len(train) == 4
    assert sum(sum(c.values()) for c in reader.class_counts().values()) == len(samples)
    assert reader[-1].gravityspy_id == reader.ids[-1]


def test_v1d0_style_csv_and_no_csv(tmp_path, small_hdf5):
    h5_path, _, samples = small_hdf5
    csv_path = tmp_path / "v1d0.csv"
    csv_path.write_text(
        "gravityspy_id,label,sample_type\n"
        + "".join(f"{s.gravityspy_id},{s.label},{s.sample_type}\n" for s in samples)
    )
    sample = GravitySpyHDF5Reader(h5_path, csv_path)[0]
    assert sample.ifo is None and sample.metadata == {}
    sample = GravitySpyHDF5Reader(h5_path)[0]
    assert sample.ifo is None and sample.metadata == {}


def test_label_correction_can_be_disabled(tmp_path):
    path = tmp_path / "corr.h5"
    write_raw(path, valid_views_raw("Blip/train/VXw4KBWl5g"))
    assert GravitySpyHDF5Reader(path)[0].label == "Paired_Doves"
    assert GravitySpyHDF5Reader(path).label_of(0) == "Paired_Doves"
    assert GravitySpyHDF5Reader(path, apply_label_corrections=False)[0].label == "Blip"


def _read_first_pixel(args):
    reader, index = args
    return reader[index].views[0, 70, 85]


def test_reader_is_safe_in_worker_processes(small_hdf5):
    h5_path, _, _ = small_hdf5
    reader = GravitySpyHDF5Reader(h5_path)
    expected = [reader[i].views[0, 70, 85] for i in range(len(reader))]  # opens the handle in the parent
    assert pickle.loads(pickle.dumps(reader))._handle is None
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map(_read_first_pixel, [(reader, i) for i in range(len(reader))])
    assert got == expected
    assert reader[0].views[0, 70, 85] == expected[0]  # the parent's handle still works


@pytest.mark.parametrize(
    ("datasets", "sample", "field", "reason"),
    [
        (
            {k: v for k, v in valid_views_raw("Blip/train/aaaaaaaaaa").items() if not k.endswith("2.0.png")},
            "Blip/train/aaaaaaaaaa",
            "2.0.png",
            "missing view",
        ),
        (
            {
                **valid_views_raw("Blip/test/bbbbbbbbbb"),
                "Blip/test/bbbbbbbbbb/1.0.png": np.zeros((1, 140, 171), np.float32),
            },
            "Blip/test/bbbbbbbbbb",
            "1.0.png",
            "shape",
        ),
        (
            {
                **valid_views_raw("Blip/test/cccccccccc"),
                "Blip/test/cccccccccc/0.5.png": np.full((1, 140, 170), np.nan, np.float32),
            },
            "Blip/test/cccccccccc",
            "0.5.png",
            "NaN",
        ),
        (
            {
                **valid_views_raw("Blip/test/dddddddddd"),
                "Blip/test/dddddddddd/4.0.png": np.full((1, 140, 170), 255.0, np.float32),
            },
            "Blip/test/dddddddddd",
            "4.0.png",
            "[0, 1]",
        ),
        (
            valid_views_raw("Not_A_Class/train/eeeeeeeeee"),
            "Not_A_Class/train/eeeeeeeeee",
            "label",
            "unknown class",
        ),
        (
            valid_views_raw("Blip/holdout/ffffffffff"),
            "Blip/holdout/ffffffffff",
            "sample_type",
            "unknown sample_type",
        ),
    ],
    ids=["missing_view", "wrong_shape", "nan", "out_of_range", "unknown_class", "unknown_split"],
)
def test_bad_samples_name_file_sample_and_field(tmp_path, datasets, sample, field, reason):
    path = tmp_path / "bad.h5"
    write_raw(path, datasets)
    reader = GravitySpyHDF5Reader(path)  # indexing never reads views: bad samples fail on access
    with pytest.raises(GravitySpyDataError) as info:
        reader[0]
    message = str(info.value)
    assert str(path) in message and sample in message and field in message and reason in message
    assert info.value.field == field


@pytest.mark.parametrize(
    "datasets, field, expected",
    [
        ({"Blip": np.zeros(3)}, "Blip", "a class group at the top level"),
        ({"Blip/train": np.zeros(3)}, "Blip/train", "a sample_type group"),
    ],
)
def test_a_dataset_where_the_layout_has_a_group_is_named(tmp_path, datasets, field, expected):
    path = tmp_path / "flat.h5"
    write_raw(path, datasets)
    with pytest.raises(GravitySpyDataError, match=f"expected {expected}, found a dataset") as info:
        GravitySpyHDF5Reader(path)
    assert info.value.field == field and str(path) in str(info.value)


def test_truncated_file_gives_a_clear_error(tmp_path, small_hdf5):
    h5_path, _, _ = small_hdf5
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(h5_path.read_bytes()[: h5_path.stat().st_size // 3])
    with pytest.raises(GravitySpyDataError, match="truncated") as info:
        GravitySpyHDF5Reader(truncated)
    assert str(truncated) in str(info.value)
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("not an hdf5 file")
    with pytest.raises(GravitySpyDataError, match="cannot open"):
        GravitySpyHDF5Reader(not_hdf5)
    with pytest.raises(FileNotFoundError):
        GravitySpyHDF5Reader(tmp_path / "absent.h5")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"label": "Bleep"}, "label"),
        ({"sample_type": "dev"}, "sample_type"),
        ({"gravityspy_id": "a/b"}, "gravityspy_id"),
        ({"views": np.zeros((4, 140, 160), np.float32)}, "views"),
        ({"views": np.full((4, 140, 170), 1.5, np.float32)}, "0.5.png"),
    ],
)
def test_writer_rejects_bad_samples_and_leaves_existing_file(tmp_path, change, field):
    path = tmp_path / "out.h5"
    write_gravityspy_hdf5(path, [make_sample(1)])  # an earlier output, which a failed run must keep
    previous = path.read_bytes()
    sample = make_sample(0)
    for key, value in change.items():
        setattr(sample, key, value)
    with (
        pytest.raises(GravitySpyDataError) as info,
        GravitySpyHDF5Writer(path, metadata_csv=tmp_path / "m.csv") as writer,
    ):
        writer.write(sample)
    assert info.value.field == field
    assert path.read_bytes() == previous
    assert not (tmp_path / "m.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]  # no temporary files left behind


def test_writer_rejects_duplicate_ids_and_overwrite_false(tmp_path):
    with (
        pytest.raises(GravitySpyDataError, match="already written"),
        GravitySpyHDF5Writer(tmp_path / "d.h5") as writer,
    ):
        writer.write(make_sample(0))
        writer.write(make_sample(0, label="Blip"))
    (tmp_path / "e.h5").touch()
    with pytest.raises(FileExistsError):
        GravitySpyHDF5Writer(tmp_path / "e.h5", overwrite=False).__enter__()


def test_metadata_csv_columns_and_types(small_hdf5):
    _, csv_path, samples = small_hdf5
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header[:4] == ["gravityspy_id", "label", "sample_type", "ifo"]
    assert set(header[4:]) == {"snr", "peak_frequency", "duration", "event_time"}
    rows, types = read_metadata_csv(csv_path)
    assert rows[samples[3].gravityspy_id]["snr"] == samples[3].metadata["snr"]
    assert types["duration"] == "float64"


V1D1_COLUMNS = (
    "event_time,ifo,peak_time,peak_time_ns,start_time,start_time_ns,duration,search,process_id,event_id,"
    "peak_frequency,central_freq,bandwidth,channel,amplitude,snr,confidence,chisq,chisq_dof,param_one_name,"
    "param_one_value,gravityspy_id,label,sample_type,url1,url2,url3,url4"
)


def test_v1d1_metadata_csv_with_index_column(tmp_path, small_hdf5):
    h5_path, _, samples = small_hdf5
    lines = ["," + V1D1_COLUMNS]  # pandas' to_csv index column has an empty name
    for i, s in enumerate(samples):
        lines.append(
            f"{i},1126259462.39,{s.ifo},1126259462,390000000,1126259462,0,0.5,O1,1.0,{i},"
            f"187.5,1500.2,2900.1,{s.ifo}:GDS-CALIB_STRAIN,1.5e-21,{7.5 + i},0,0,0,phase,-0.4,"
            f"{s.gravityspy_id},{s.label},{s.sample_type},https://a/1.png,https://a/2.png,https://a/3.png,"
        )
    csv_path = tmp_path / "trainingset_v1d1_metadata.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    reader = GravitySpyHDF5Reader(h5_path, csv_path)
    types = reader.metadata_column_types
    assert "" not in types and len(types) == 28
    assert (
        types["event_time"] == "float64" and types["peak_time_ns"] == "int64" and types["channel"] == "string"
    )
    assert types["url4"] == "string"  # all empty
    sample = reader[0]
    assert sample.ifo in ("H1", "L1") and sample.metadata["amplitude"] == 1.5e-21
    assert sample.metadata["url4"] is None and "gravityspy_id" not in sample.metadata


def test_tiny_overshoot_is_clipped_not_refused():
    from gravityvit.data.hdf5 import validate_view

    view = np.full((140, 170), 0.5, np.float32)
    view[0, 0], view[0, 1] = 1.0 + 5e-6, -5e-6
    checked = validate_view(view)
    assert checked.max() == 1.0 and checked.min() == 0.0
    view[0, 0] = 1.001
    with pytest.raises(GravitySpyDataError, match=r"\[0, 1\]"):
        validate_view(view, sample="s", field="1.0.png")


def test_duplicate_ids_across_groups_are_kept_with_a_warning(tmp_path):
    path = tmp_path / "dup.h5"
    write_raw(path, {**valid_views_raw("Blip/train/aaaaaaaaaa"), **valid_views_raw("Tomte/test/aaaaaaaaaa")})
    with pytest.warns(UserWarning, match="Blip/train/aaaaaaaaaa, Tomte/test/aaaaaaaaaa"):
        reader = GravitySpyHDF5Reader(path)
    assert [s.label for s in reader] == ["Blip", "Tomte"]
