"""Clear errors before training (labels vs id2label, missing column, empty split) and the batch path."""

from __future__ import annotations

import numpy as np
import pytest

from gravityvit.gravity_spy import CLASS_NAMES, IMAGE_COLUMNS, view_to_image
from gravityvit.training.data import (
    GlitchCollator,
    GlitchDatasetError,
    GlitchViewsTransform,
    InMemoryGlitchViews,
    check_glitch_dataset,
    load_glitch_dataset,
)

ID2LABEL = dict(enumerate(CLASS_NAMES))


def _dataset_dict(names=CLASS_NAMES, sizes=None, drop_column=None):
    import datasets

    sizes = sizes or {"train": 3, "validation": 2, "test": 2}
    features = {"gravityspy_id": datasets.Value("string"), "label": datasets.ClassLabel(names=list(names))}
    features.update({column: datasets.Image() for column in IMAGE_COLUMNS})
    features = datasets.Features(features)
    rng = np.random.default_rng(0)
    splits = {}
    for split, size in sizes.items():
        rows = {
            "gravityspy_id": [f"{split}{i}" for i in range(size)],
            "label": [i % len(names) for i in range(size)],
        }
        for column in IMAGE_COLUMNS:
            rows[column] = [view_to_image(rng.uniform(0, 1, (140, 170))) for _ in range(size)]
        dataset = datasets.Dataset.from_dict(rows, features=features)
        splits[split] = dataset.remove_columns(drop_column) if drop_column else dataset
    return datasets.DatasetDict(splits)


def test_a_fitting_dataset_passes():
    check_glitch_dataset(_dataset_dict(), ID2LABEL, splits=("train", "validation", "test"))


def test_label_names_that_differ_from_id2label():
    names = list(CLASS_NAMES)
    names[3] = "Blipp"
    with pytest.raises(GlitchDatasetError, match=r"do not match the model's id2label.*Blipp"):
        check_glitch_dataset(_dataset_dict(names), ID2LABEL, source="my_data")
    swapped = list(CLASS_NAMES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(GlitchDatasetError, match="different order"):
        check_glitch_dataset(_dataset_dict(swapped), ID2LABEL)


def test_label_sets_that_differ_name_both_sets_and_the_remedies():
    from gravityvit.gravity_spy import O3_CLASS_NAMES

    with pytest.raises(
        GlitchDatasetError, match=r"has label set 'o3' \(23 classes\), the model label set 'v1'"
    ):
        check_glitch_dataset(_dataset_dict(O3_CLASS_NAMES), ID2LABEL, source="o3_data")
    custom = ["Blip", "Koi_Fish", "Whistle"]
    with pytest.raises(GlitchDatasetError) as caught:
        check_glitch_dataset(_dataset_dict(custom), dict(enumerate(O3_CLASS_NAMES)))
    message = str(caught.value)
    assert "the dataset has a custom label set of 3 classes, the model label set 'o3' (23 classes)" in message
    assert "`gravityvit convert --label-set o3`" in message and "--label_set with its class names" in message


def test_missing_column_is_named():
    with pytest.raises(
        GlitchDatasetError, match=r"split 'train': required column\(s\) \['image_2000ms'\] missing"
    ):
        check_glitch_dataset(_dataset_dict(drop_column="image_2000ms"), ID2LABEL)
    # A single-view model needs only its own column.
    check_glitch_dataset(_dataset_dict(drop_column="image_2000ms"), ID2LABEL, view_durations_s=[1.0])


def test_empty_and_missing_splits():
    with pytest.raises(GlitchDatasetError, match=r"split 'validation' is empty"):
        check_glitch_dataset(_dataset_dict(sizes={"train": 2, "validation": 0}), ID2LABEL)
    with pytest.raises(GlitchDatasetError, match=r"split 'test' is missing.*\['train', 'validation'\]"):
        check_glitch_dataset(
            _dataset_dict(sizes={"train": 2, "validation": 1}), ID2LABEL, splits=("train", "test")
        )


def test_label_column_must_be_a_class_label():
    dataset = _dataset_dict()
    dataset["train"] = dataset["train"].cast_column("label", __import__("datasets").Value("int64"))
    with pytest.raises(GlitchDatasetError, match="must be a ClassLabel"):
        check_glitch_dataset(dataset, ID2LABEL)


def test_load_errors(tmp_path):
    with pytest.raises(GlitchDatasetError, match="does not exist"):
        load_glitch_dataset(tmp_path / "nowhere")
    with pytest.raises(GlitchDatasetError, match="not a dataset saved with save_to_disk"):
        load_glitch_dataset(tmp_path)


def test_transform_and_collator_make_model_inputs():
    from gravityvit.image_processing_gravityvit import GravityViTImageProcessor

    dataset = _dataset_dict()["train"]
    processor = GravityViTImageProcessor(image_size=32)
    plain = dataset.with_transform(GlitchViewsTransform())
    rows = plain.__getitems__([0, 1, 2])
    assert rows[0]["views"].shape == (4, 140, 170) and rows[0]["view_mask"].all()
    batch = GlitchCollator(processor)(rows)
    assert tuple(batch["pixel_values"].shape) == (3, 4, 3, 32, 32)
    assert batch["view_mask"].dtype.is_floating_point is False and batch["view_mask"].all()
    assert batch["labels"].tolist() == [0, 1, 2]
    # Without augmentation decoding is exact (16-bit storage); one-view mode masks the others.
    only = dataset.with_transform(GlitchViewsTransform(only_view=2))[0]
    assert only["view_mask"].tolist() == [False, False, True, False]
    assert not only["views"][[0, 1, 3]].any()
    np.testing.assert_allclose(only["views"][2], rows[0]["views"][2])


def test_in_memory_split_serves_the_same_samples_as_the_arrow_path():
    from gravityvit.training.augmentation import SpectrogramAugmentation

    dataset = _dataset_dict(sizes={"train": 5})["train"]
    indices = [4, 0, 2]
    for options in ({}, {"only_view": 1}, {"augmentation": SpectrogramAugmentation(view_dropout=0.5)}):
        # Augmented batches draw the same random numbers from the same seed: identical samples.
        arrow = dataset.with_transform(GlitchViewsTransform(seed=3, **options)).__getitems__(indices)
        memory = InMemoryGlitchViews(dataset, GlitchViewsTransform(seed=3, **options), decode_batch_size=2)
        assert len(memory) == 5 and memory.views.dtype == np.uint16
        for expected, got in zip(arrow, memory.__getitems__(indices)):
            np.testing.assert_array_equal(got["views"], expected["views"])
            assert got["view_mask"].tolist() == expected["view_mask"].tolist()
            assert got["labels"] == expected["labels"]
