"""GravityViTImageProcessor: every input form, the vectorised path, real PNGs and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gravityvit import GravityViTConfig, GravityViTImageProcessor, get_named_config
from gravityvit.gravity_spy import HDF5_VIEW_KEYS, merge_views, png_to_view, view_to_image

SIZE = 32


@pytest.fixture
def processor() -> GravityViTImageProcessor:
    return GravityViTImageProcessor(image_size=SIZE, image_mean=[0.5, 0.4, 0.3], image_std=[0.5, 0.25, 0.2])


@pytest.fixture
def views() -> np.ndarray:
    return np.random.default_rng(0).random((3, 4, 140, 170), dtype=np.float32)


def expected_pixels(processor: GravityViTImageProcessor, view: np.ndarray) -> torch.Tensor:
    """Reference for one view: antialiased bilinear resize, gray -> 3 channels, normalise."""
    resized = F.interpolate(
        torch.from_numpy(view)[None, None], size=processor.image_size_hw, mode="bilinear", antialias=True
    )[0]
    mean = torch.tensor(processor.image_mean)[:, None, None]
    std = torch.tensor(processor.image_std)[:, None, None]
    return (resized.expand(3, -1, -1) - mean) / std


def test_batch_array_matches_the_reference(processor, views):
    batch = processor(views)
    assert (
        batch["pixel_values"].shape == (3, 4, 3, SIZE, SIZE) and batch["pixel_values"].dtype == torch.float32
    )
    assert batch["view_mask"].dtype == torch.bool and bool(batch["view_mask"].all())
    torch.testing.assert_close(batch["pixel_values"][1, 2], expected_pixels(processor, views[1, 2]))
    # numpy and torch (and the (B, V, 1, H, W) HDF5 form) give the same result
    from_torch = processor.preprocess_views(torch.from_numpy(views[:, :, None]))
    torch.testing.assert_close(from_torch["pixel_values"], batch["pixel_values"])
    as_numpy = processor.preprocess_views(views, return_tensors="np")
    assert isinstance(as_numpy["pixel_values"], np.ndarray)


def test_view_mask_zeroes_absent_views_and_skips_their_checks(processor, views):
    mask = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=bool)
    bad = views.copy()
    bad[0, 1] = np.nan  # absent: not checked
    batch = processor.preprocess_views(bad, mask)
    assert batch["view_mask"].tolist() == mask.tolist()
    assert bool((batch["pixel_values"][0, 1] == 0).all())
    torch.testing.assert_close(batch["pixel_values"][0, 0], expected_pixels(processor, views[0, 0]))


def test_dicts_tuples_and_merged_views(processor, views):
    samples = [
        {"image_500ms": views[0, 0], "image_2000ms": views[0, 2]},  # Arrow column names
        {HDF5_VIEW_KEYS[1]: views[0, 1][None], 4.0: views[0, 3], "2.0": None},  # HDF5 keys, floats
        tuple(views[1]),
        (views[1, 0], None, view_to_image(views[1, 2]), views[1, 3]),
        merge_views(views[2]),
        Image.fromarray((merge_views(views[2]) * 65535).round().astype(np.uint16)),
        views[2],
    ]
    batch = processor(samples)
    assert batch["view_mask"].tolist() == [
        [True, False, True, False],
        [False, True, False, True],
        [True, True, True, True],
        [True, False, True, True],
        [True, True, True, True],
        [True, True, True, True],
        [True, True, True, True],
    ]
    pixels = batch["pixel_values"]
    torch.testing.assert_close(pixels[0, 2], expected_pixels(processor, views[0, 2]))
    torch.testing.assert_close(pixels[1, 1], expected_pixels(processor, views[0, 1]))
    torch.testing.assert_close(pixels[2, 3], expected_pixels(processor, views[1, 3]))
    torch.testing.assert_close(pixels[4], pixels[6])  # the merged view splits back into the views
    torch.testing.assert_close(pixels[5], pixels[6], atol=1e-4, rtol=0)  # 16-bit image rounding
    torch.testing.assert_close(pixels[3, 2], pixels[2, 2], atol=1e-4, rtol=0)


def test_lone_views_take_the_given_or_default_duration(processor, views):
    batch = processor([views[0, 0], views[0, 1]], view_duration_s=[0.5, None])
    assert batch["view_mask"].tolist() == [[True, False, False, False], [False, True, False, False]]
    assert processor(views[0, 3], view_duration_s=4.0)["view_mask"].tolist() == [[False, False, False, True]]
    other_default = GravityViTImageProcessor(image_size=SIZE, default_view_duration_s=2.0)
    assert other_default(view_to_image(views[0, 0]))["view_mask"].tolist() == [[False, False, True, False]]


def test_real_gravity_spy_pngs(processor, real_samples_dir):
    paths = sorted((real_samples_dir / "Blip").glob("*_spectrogram_*.png"))[:4]
    assert [p.name.rsplit("_", 1)[-1] for p in paths] == ["0.5.png", "1.0.png", "2.0.png", "4.0.png"]
    # a list of paths is a batch: each PNG fills the slot named by its file name
    batch = processor(paths)
    assert batch["view_mask"].tolist() == np.eye(4, dtype=bool).tolist()
    view = png_to_view(Image.open(paths[2]))
    torch.testing.assert_close(batch["pixel_values"][2, 2], expected_pixels(processor, view))
    # one sample of four PNGs: a dict or a tuple of paths
    together = processor({0.5: paths[0], 1.0: paths[1], 2.0: paths[2], 4.0: paths[3]})
    assert bool(together["view_mask"].all())
    torch.testing.assert_close(together["pixel_values"][0], processor(tuple(paths))["pixel_values"][0])
    torch.testing.assert_close(together["pixel_values"][0, 2], batch["pixel_values"][2, 2])
    # a bare PIL image has no file name: the default duration (1 s) unless one is given
    with Image.open(paths[3]) as image:
        assert processor(image)["view_mask"].tolist() == [[False, True, False, False]]
        assert processor(image, view_duration_s=4.0)["view_mask"].tolist() == [[False, False, False, True]]


def test_single_view_processor_selects_its_duration(views):
    config = get_named_config(
        "gravityvit/singleview-b16",
        image_size=32,
        backbone="vit_tiny_patch16_224",
        backbone_kwargs={"patch_size": 8, "depth": 1},
    )
    processor = GravityViTImageProcessor.from_config(config)
    batch = processor.preprocess_views(views)  # the four Gravity Spy views: the 1 s one is kept
    assert batch["pixel_values"].shape == (3, 1, 3, 32, 32)
    torch.testing.assert_close(batch["pixel_values"][0, 0], expected_pixels(processor, views[0, 1]))
    assert processor({"image_1000ms": views[0, 1], "image_500ms": views[0, 0]})["pixel_values"].shape == (
        1,
        1,
        3,
        32,
        32,
    )
    with pytest.raises(ValueError, match=r"duration 0.5 s is not one of the model's views \[1.0\]"):
        processor(views[0, 0], view_duration_s=0.5)


def test_from_config_and_save_load(tmp_path):
    config = GravityViTConfig(
        backbone="vit_tiny_patch16_224", image_size=[32, 48], backbone_kwargs={"patch_size": 16, "depth": 1}
    )
    processor = GravityViTImageProcessor.from_config(config, default_view_duration_s=0.5)
    assert processor.image_size_hw == (32, 48) and processor.image_mean == config.image_mean
    processor.save_pretrained(tmp_path)
    loaded = GravityViTImageProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    assert loaded.default_view_duration_s == 0.5


def with_value(views: np.ndarray, value: float) -> np.ndarray:
    changed = views.copy()
    changed[1, 2, 5, 5] = value
    return changed


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda v: with_value(v, np.nan), r"sample 1, view 2.0 s: values must be finite and lie in \[0, 1\]"),
        (lambda v: with_value(v, 1.5), r"sample 1, view 2.0 s: .*max 1.5"),
        (lambda v: with_value(v, -0.1), r"sample 1, view 2.0 s: .*min -0.1"),
        (lambda v: v[:, :, :100], r"views must have shape \(batch, 4, 140, 170\)"),
        (lambda v: v[:, :3], r"views must have shape"),
        (lambda v: [v[0, 0], v[0, 1] * 255], r"sample 1, view 1.0 s: view values must lie in \[0, 1\]"),
        (lambda v: [v[0, 0], v[0, :, :100]], r"sample 1: an array must be one view"),
        (lambda v: [np.stack([v[0, 0]] * 3)], r"sample 0: expected 4 views .* got 3"),
        (
            lambda v: [{0.5: np.stack([v[0, 0]] * 3)}],
            r"sample 0, view 0.5 s: a view must have shape .* \(3 channels",
        ),
        (lambda v: [{"image_9ms": v[0, 0]}], r"sample 0: unknown view key 'image_9ms'"),
        (lambda v: [{8.0: v[0, 0]}], r"sample 0, view 8.0 s: duration 8.0 s is not one of the model's views"),
        (lambda v: [{"bogus": v[0, 0]}], r"sample 0: unknown view key 'bogus'"),
        (lambda v: [(None, None, None, None)], r"sample 0: every view is None"),
        (
            lambda v: [v[0, 0], Image.new("RGB", (640, 480))],
            r"sample 1: an image must be a rendered Gravity Spy PNG .* got 640x480",
        ),
        (lambda v: ["/nonexistent/H1_x_spectrogram_1.0.png"], r"sample 0: file not found"),
        (lambda v: [3.0], r"sample 0: expected a dict of views"),
        (lambda v: [], r"empty list"),
    ],
)
def test_bad_inputs_raise(processor, views, make_input, message):
    with pytest.raises(ValueError, match=message):
        processor(make_input(views))


def test_bad_view_duration_and_png_size_errors_name_the_file(processor, tmp_path, views):
    path = tmp_path / "H1_abc_spectrogram_8.0.png"
    Image.new("RGB", (800, 600)).save(path)
    with pytest.raises(
        ValueError, match=r"sample 0 \(.*H1_abc_spectrogram_8.0.png\), view 8.0 s: duration 8.0 s is not one"
    ):
        processor([path])
    small = tmp_path / "H1_abc_spectrogram_1.0.png"
    Image.new("RGB", (400, 300)).save(small)
    with pytest.raises(
        ValueError, match=r"sample 0 \(.*spectrogram_1.0.png\): an image must be .* got 400x300"
    ):
        processor([small])
    with pytest.raises(ValueError, match="view_duration_s has 1 entries for 2 samples"):
        processor([views[0, 0], views[0, 1]], view_duration_s=[0.5])


def test_to_views_is_the_per_sample_half_of_preprocess(processor, views):
    samples = [{0.5: views[0, 0], "2.0": views[0, 2]}, tuple(views[1]), views[2, 3]]
    decoded, mask = processor.to_views(samples, view_duration_s=[None, None, 4.0])
    assert decoded.dtype == np.float32 and decoded.shape == (3, 4, 140, 170)
    assert mask.tolist() == [[True, False, True, False], [True] * 4, [False, False, False, True]]
    np.testing.assert_array_equal(decoded[0, 2], views[0, 2])
    assert not decoded[0, 1].any()  # absent views are zeros
    whole = processor(samples, view_duration_s=[None, None, 4.0])
    halves = processor.preprocess_views(decoded, mask, validate=False)
    torch.testing.assert_close(halves["pixel_values"], whole["pixel_values"], atol=0, rtol=0)
    assert halves["view_mask"].tolist() == whole["view_mask"].tolist()
    with pytest.raises(ValueError, match="sample 1"):
        processor.to_views([views[0, 0], views[1, :3]])


def test_validate_false_skips_only_the_value_check(processor, views):
    mask = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=bool)
    checked = processor.preprocess_views(views, mask)
    trusted = processor.preprocess_views(views, mask, validate=False)
    torch.testing.assert_close(trusted["pixel_values"], checked["pixel_values"], atol=0, rtol=0)
    out_of_range = views.copy()
    out_of_range[2, 3, 0, 0] = 1.5
    with pytest.raises(ValueError, match=r"sample 2, view 4\.0 s"):
        processor.preprocess_views(out_of_range, mask)
    processor.preprocess_views(out_of_range, mask, validate=False)  # trusted: no pass over the values
