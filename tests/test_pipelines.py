"""The stock image-classification pipeline and the glitch-classification pipeline, on every input form.

Each result is checked against a direct processor + model call on the same views.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from inference_helpers import (
    direct_prediction,
    random_views,
    run_python,
    save_tiny,
    scores_of,
    write_png_sample,
)
from PIL import Image
from transformers import pipeline

import gravityvit.pipelines
from gravityvit.gravity_spy import VIEW_DURATIONS_S, merge_views, png_to_view, view_to_image
from gravityvit.pipelines import InputError, expand_inputs


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A shareable directory: weights, processor, card, model code and pipeline code."""
    return save_tiny(tmp_path_factory.mktemp("models") / "gravityvit")


@pytest.fixture(scope="module")
def cnn_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models") / "cnn", kind="cnn")


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory):
    """The same model saved as training saves it (no custom_pipelines): the registry's pipeline loads it."""
    return save_tiny(tmp_path_factory.mktemp("models") / "plain", with_pipeline=False)


@pytest.fixture(scope="module")
def glitch_pipe(plain_dir):
    pipe = pipeline("glitch-classification", model=str(plain_dir), device="auto")
    assert type(pipe) is gravityvit.pipelines.GlitchClassificationPipeline
    return pipe


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pngs") / "Blip"
    return {
        "aaaaaaaaaa": write_png_sample(folder, "aaaaaaaaaa", seed=1),
        "bbbbbbbbbb": write_png_sample(folder, "bbbbbbbbbb", seed=2, ifo="L1"),
    }


def _assert_same_ranking(a: list[dict], b: list[dict], atol: float = 1e-5) -> None:
    assert [e["label"] for e in a] == [e["label"] for e in b]
    np.testing.assert_allclose([e["score"] for e in a], [e["score"] for e in b], rtol=1e-4, atol=atol)


def _assert_matches(result, model, processor, sample, top_k=None):
    scores, weights = direct_prediction(model, processor, sample)
    ranked = scores_of(result["top_k"] if isinstance(result, dict) else result)
    for label, score in ranked.items():
        assert score == pytest.approx(float(scores[model.config.label2id[label]]), abs=1e-5)
    assert list(ranked) == [model.config.id2label[int(i)] for i in np.argsort(-scores)[: len(ranked)]]
    if top_k is not None:
        assert len(ranked) == top_k
    if isinstance(result, dict):
        assert list(result["view_weights"]) == ["0.5", "1.0", "2.0", "4.0"]
        np.testing.assert_allclose(list(result["view_weights"].values()), weights, atol=1e-5)


# -- stock image-classification ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_stock_pipeline_single_png_mosaic_and_batch(kind, model_dir, cnn_dir, pngs, tmp_path):
    directory = model_dir if kind == "gravityvit" else cnn_dir
    classify = pipeline("image-classification", model=str(directory))
    model, processor = classify.model, classify.image_processor
    png = pngs["aaaaaaaaaa"][1]  # the 1.0 s view: the processor's default duration for a lone view

    result = classify(str(png), top_k=3)
    # The stock pipeline hands the processor an RGB PIL image (no file name): a lone 1.0 s view.
    _assert_matches(result, model, processor, Image.open(png).convert("RGB"), top_k=3)
    assert set(result[0]) == {"label", "score"}
    assert classify(Image.open(png), top_k=3) == result

    # A 2x2 merged view: as an 8-bit gray PNG, and as a float array.
    views = np.stack([png_to_view(Image.open(p)) for p in pngs["aaaaaaaaaa"]])
    mosaic = merge_views(views)
    mosaic_png = tmp_path / "mosaic.png"
    Image.fromarray(np.rint(mosaic * 255).astype(np.uint8), mode="L").save(mosaic_png)
    result = classify(str(mosaic_png), top_k=22)
    _assert_matches(result, model, processor, Image.open(mosaic_png).convert("RGB"), top_k=22)
    assert sum(entry["score"] for entry in result) == pytest.approx(1.0, abs=1e-5)
    _assert_matches(classify(mosaic, top_k=2), model, processor, mosaic, top_k=2)

    # A batch: the same answers as one by one.
    batch = classify([str(png), str(mosaic_png)], top_k=2, batch_size=2)
    assert len(batch) == 2
    _assert_same_ranking(batch[0], classify(str(png), top_k=2))
    _assert_same_ranking(batch[1], classify(str(mosaic_png), top_k=2))


# -- glitch-classification --------------------------------------------------------------------------


def test_glitch_pipeline_dicts_of_arrays_images_and_paths(glitch_pipe, pngs):
    model, processor = glitch_pipe.model, glitch_pipe.image_processor
    views = random_views(0)
    by_duration = dict(zip(VIEW_DURATIONS_S, views))
    result = glitch_pipe(by_duration, top_k=3)
    _assert_matches(result, model, processor, by_duration, top_k=3)
    assert result["sample_id"] == "input-0" and result["label"] == result["top_k"][0]["label"]
    assert result["score"] == result["top_k"][0]["score"]

    images = {"image_500ms": view_to_image(views[0]), "1.0": view_to_image(views[1]), "sample_id": "x1"}
    result = glitch_pipe(images)
    _assert_matches(result, model, processor, {0.5: views[0], 1.0: views[1]})
    assert result["sample_id"] == "x1"
    assert result["view_weights"]["2.0"] == 0.0 and result["view_weights"]["4.0"] == 0.0

    paths = dict(zip(VIEW_DURATIONS_S, map(str, pngs["aaaaaaaaaa"])))
    _assert_matches(glitch_pipe(paths), model, processor, paths)

    # A generator streams: an iterator of results, in order, equal to the list call.
    streamed = glitch_pipe(item for item in (by_duration, paths))
    assert not isinstance(streamed, list)
    for got, expected in zip(list(streamed), glitch_pipe([by_duration, paths])):
        _assert_same_ranking(got["top_k"], expected["top_k"])


def test_glitch_pipeline_png_paths_folder_and_batches(glitch_pipe, pngs):
    model, processor = glitch_pipe.model, glitch_pipe.image_processor
    four = [str(p) for p in reversed(pngs["aaaaaaaaaa"])]  # any order: grouped by sample id and duration
    (result,) = glitch_pipe(four)
    assert result["sample_id"] == "aaaaaaaaaa"
    _assert_matches(result, model, processor, dict(zip(VIEW_DURATIONS_S, map(str, pngs["aaaaaaaaaa"]))))

    folder = pngs["aaaaaaaaaa"][0].parent
    one_by_one = glitch_pipe(str(folder), batch_size=1)
    batched = glitch_pipe(str(folder), batch_size=2)
    assert [r["sample_id"] for r in batched] == ["aaaaaaaaaa", "bbbbbbbbbb"]
    for a, b in zip(one_by_one, batched):
        _assert_same_ranking(a["top_k"], b["top_k"])
    _assert_same_ranking(batched[0]["top_k"], result["top_k"])
    samples = list(expand_inputs(str(folder)))
    assert [s.label for s in samples] == ["Blip", "Blip"] and samples[1].metadata["ifo"] == "L1"


def test_glitch_pipeline_hdf5_and_arrow(glitch_pipe, tmp_path):
    from gravityvit.data.arrow import convert_to_arrow
    from gravityvit.data.hdf5 import GravitySpySample, write_gravityspy_hdf5

    samples = [
        GravitySpySample(f"id{i:08d}", label, "test", random_views(10 + i), ifo="H1")
        for i, label in enumerate(["Blip", "Whistle", "Koi_Fish"])
    ]
    h5 = tmp_path / "small.h5"
    write_gravityspy_hdf5(h5, samples)
    results = glitch_pipe(str(h5), batch_size=2)
    by_id = {r["sample_id"]: r for r in results}
    assert set(by_id) == {s.gravityspy_id for s in samples}
    model, processor = glitch_pipe.model, glitch_pipe.image_processor
    for sample in samples:
        _assert_matches(
            by_id[sample.gravityspy_id], model, processor, dict(zip(VIEW_DURATIONS_S, sample.views))
        )

    arrow = tmp_path / "arrow"
    convert_to_arrow(h5, arrow)
    from_arrow = {r["sample_id"]: r for r in glitch_pipe(str(arrow))}
    for sample_id, result in by_id.items():  # 16-bit PNG storage: equal within its rounding
        _assert_same_ranking(from_arrow[sample_id]["top_k"], result["top_k"], atol=1e-4)
    labels = {s.sample_id: s.label for s in expand_inputs(str(arrow))}
    assert labels == {"id00000000": "Blip", "id00000001": "Whistle", "id00000002": "Koi_Fish"}


def test_glitch_pipeline_strain_and_gps(glitch_pipe):
    gwpy = pytest.importorskip("gwpy.timeseries")
    from gravityvit.data.omega import omega_scan_views

    rate, gps0 = 4096, 1_126_259_462.0
    noise = np.random.default_rng(0).normal(0, 1e-21, int(9 * rate))
    # 9 s of data: the 4 s view and 2 s of whitening padding on each side, no more (scan time).
    strain = gwpy.TimeSeries(noise, t0=gps0 - 4.5, sample_rate=rate, name="H1:TEST")
    result = glitch_pipe({"strain": strain, "gps": gps0, "ifo": "H1"})
    assert result["sample_id"] == f"H1_{gps0:.3f}"
    views = omega_scan_views(strain, gps0)
    _assert_matches(
        result, glitch_pipe.model, glitch_pipe.image_processor, dict(zip(VIEW_DURATIONS_S, views))
    )
    with pytest.raises(InputError, match="at GPS"):
        glitch_pipe({"strain": strain, "gps": gps0 + 4})  # too close to the end of the data


def test_bad_inputs_are_named(glitch_pipe, pngs, tmp_path):
    good = pngs["aaaaaaaaaa"]
    truncated = tmp_path / "H1_cccccccccc_spectrogram_1.0.png"
    truncated.write_bytes(good[1].read_bytes()[:5000])
    unreadable = tmp_path / "notes.png"
    unreadable.write_text("not an image")
    small = tmp_path / "small.png"
    Image.new("RGB", (100, 80)).save(small)
    for bad, reason in [(truncated, "truncated"), (unreadable, "cannot identify"), (small, "100x80")]:
        with pytest.raises(InputError, match=reason) as error:
            glitch_pipe(str(bad))
        assert str(bad) in str(error.value)
    with pytest.raises(InputError, match="no view"):
        glitch_pipe({"label": "Blip"})
    with pytest.raises(InputError, match="unknown input type"):
        glitch_pipe(str(tmp_path / "x.csv"))
    outcome = list(expand_inputs([str(unreadable), str(tmp_path / "x.csv"), str(good[0])], errors="yield"))
    assert [type(o).__name__ for o in outcome] == ["InputError", "GlitchSample", "GlitchSample"]


@pytest.mark.slow
def test_remote_code_without_gravityvit(model_dir, cnn_dir, pngs, tmp_path):
    """Both pipelines load the saved directories where gravityvit cannot be imported."""
    png = str(pngs["aaaaaaaaaa"][1])
    four = [str(p) for p in pngs["aaaaaaaaaa"]]
    folder = str(pngs["aaaaaaaaaa"][0].parent)
    h5 = tmp_path / "any.h5"
    h5.write_bytes(b"not read: the import fails first")
    code = f"""
import sys, json
sys.modules["gravityvit"] = None  # gravityvit is not installed here
from transformers import pipeline
out = {{}}
for name, directory in (("vit", {str(model_dir)!r}), ("cnn", {str(cnn_dir)!r})):
    classify = pipeline("image-classification", model=directory, trust_remote_code=True)
    glitch = pipeline("glitch-classification", model=directory, trust_remote_code=True)
    assert type(classify.model).__module__.startswith("transformers_modules"), type(classify.model)
    out[name] = {{"stock": classify({png!r}, top_k=2), "glitch": glitch(tuple({four!r}), top_k=2),
                 "folder": [r["sample_id"] for r in glitch({folder!r})]}}
try:
    glitch({str(h5)!r})
except ImportError as error:
    out["hdf5_error"] = str(error)
print(json.dumps(out))
"""
    remote = json.loads(run_python(code).stdout.strip().splitlines()[-1])
    assert "HDF5 input needs the gravityvit package" in remote["hdf5_error"]
    for name, directory in (("vit", model_dir), ("cnn", cnn_dir)):
        classify = pipeline("image-classification", model=str(directory))
        local = classify(png, top_k=2)
        _assert_same_ranking(remote[name]["stock"], local)
        glitch = pipeline("glitch-classification", model=str(directory), trust_remote_code=True)
        expected = glitch(tuple(four), top_k=2)
        _assert_same_ranking(remote[name]["glitch"]["top_k"], expected["top_k"])
        assert remote[name]["glitch"]["view_weights"] == pytest.approx(expected["view_weights"])
        assert remote[name]["folder"] == ["aaaaaaaaaa", "bbbbbbbbbb"]


def test_saved_directory_is_complete(model_dir):
    files = {p.name for p in model_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "README.md",
        "pipelines.py",
    } <= files
    assert {"modeling_gravityvit.py", "configuration_gravityvit.py", "gravity_spy.py"} <= files
    config = json.loads((model_dir / "config.json").read_text())
    assert config["auto_map"]["AutoModelForImageClassification"].startswith("modeling_gravityvit.")
    assert (
        config["custom_pipelines"]["glitch-classification"]["impl"]
        == "pipelines.GlitchClassificationPipeline"
    )
    assert torch.load is not None  # weights are safetensors only
    assert not any(name.endswith((".bin", ".pt")) for name in files)


def test_real_gravity_spy_pngs(glitch_pipe, real_samples_dir):
    """The real Blip folder: every sample grouped from its four PNGs, its class taken from the folder."""
    folder = real_samples_dir / "Blip"
    samples = list(expand_inputs(str(folder)))
    assert len(samples) == len(list(folder.glob("*_spectrogram_1.0.png")))
    assert {s.label for s in samples} == {"Blip"} and all(s.metadata["ifo"] == "H1" for s in samples)
    results = glitch_pipe(str(folder), batch_size=4, top_k=2)
    assert [r["sample_id"] for r in results] == [s.sample_id for s in samples]
    first = samples[0].load()
    assert sorted(first) == list(VIEW_DURATIONS_S)
    _assert_matches(results[0], glitch_pipe.model, glitch_pipe.image_processor, first)
    stock = pipeline(
        "image-classification", model=glitch_pipe.model, image_processor=glitch_pipe.image_processor
    )
    _assert_matches(
        stock(str(first[1.0]), top_k=2), stock.model, stock.image_processor, {1.0: str(first[1.0])}
    )
