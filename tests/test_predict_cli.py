"""``gravityvit predict``: the same predictions as the pipeline and a direct model call; bad inputs
reported by name while the others are classified; exit codes 0 / 1 / 2."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
from inference_helpers import direct_prediction, random_views, save_tiny, write_png_sample
from PIL import Image
from transformers import pipeline

import gravityvit.pipelines  # noqa: F401  (registers glitch-classification)
from gravityvit.commands import predict
from gravityvit.gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S


def run_predict(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gravityvit")
    predict.register(parser.add_subparsers())
    args = parser.parse_args(["predict", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models") / "tiny", with_pipeline=False)


@pytest.fixture(scope="module")
def glitch_pipe(model_dir):
    return pipeline("glitch-classification", model=str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    folder = root / "pngs" / "Blip"
    good = write_png_sample(folder, "aaaaaaaaaa", seed=1) + write_png_sample(folder, "bbbbbbbbbb", seed=2)
    truncated = folder / "H1_cccccccccc_spectrogram_1.0.png"
    truncated.write_bytes(good[0].read_bytes()[:4000])
    unreadable = folder / "readme.png"
    unreadable.write_text("not an image")
    wrong_size = root / "pngs" / "small.png"
    Image.new("RGB", (64, 48)).save(wrong_size)

    from gravityvit.data.hdf5 import GravitySpySample, write_gravityspy_hdf5

    h5 = root / "two.h5"
    write_gravityspy_hdf5(
        h5, [GravitySpySample(f"h5sample{i:02d}", "Whistle", "test", random_views(20 + i)) for i in range(2)]
    )
    return {"pngs": root / "pngs", "good": good, "bad": [truncated, unreadable, wrong_size], "h5": h5}


def test_csv_matches_pipeline_and_model_and_names_bad_files(model_dir, glitch_pipe, inputs, tmp_path, capsys):
    output = tmp_path / "predictions.csv"
    code = run_predict(
        "--model", str(model_dir), str(inputs["pngs"]), str(inputs["h5"]), "--output", str(output),
        "--batch-size", "3", "--top-k", "2", "--device", "cpu",
    )  # fmt: skip
    assert code == predict.EXIT_INPUT_FAILED
    stderr = capsys.readouterr().err
    for bad in inputs["bad"]:
        assert str(bad) in stderr
    assert "classified 4 sample(s)" in stderr and "3 input(s) failed" in stderr

    with output.open() as handle:
        rows = {row["sample_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"aaaaaaaaaa", "bbbbbbbbbb", "h5sample00", "h5sample01"}
    assert rows["aaaaaaaaaa"]["true_label"] == "Blip" and rows["h5sample00"]["true_label"] == "Whistle"
    assert {"label_1", "score_1", "label_2", "score_2", "view_weight_0.5s", "view_weight_4.0s"} <= set(
        rows["aaaaaaaaaa"]
    )

    by_pipeline = {r["sample_id"]: r for r in glitch_pipe(str(inputs["h5"]), top_k=2)}
    by_pipeline.update({r["sample_id"]: r for r in glitch_pipe([str(p) for p in inputs["good"]], top_k=2)})
    model, processor = glitch_pipe.model, glitch_pipe.image_processor
    for sample_id, row in rows.items():
        expected = by_pipeline[sample_id]
        assert [row["label_1"], row["label_2"]] == [e["label"] for e in expected["top_k"]]
        np.testing.assert_allclose(
            [float(row["score_1"]), float(row["score_2"])], [e["score"] for e in expected["top_k"]], atol=2e-6
        )
        np.testing.assert_allclose(
            [float(row[f"view_weight_{d}s"]) for d in ("0.5", "1.0", "2.0", "4.0")],
            list(expected["view_weights"].values()),
            atol=2e-6,
        )
    paths = [p for p in inputs["good"] if "aaaaaaaaaa" in p.name]
    scores, weights = direct_prediction(model, processor, dict(zip(VIEW_DURATIONS_S, map(str, paths))))
    assert float(rows["aaaaaaaaaa"]["score"]) == pytest.approx(float(scores.max()), abs=2e-6)
    assert float(rows["aaaaaaaaaa"]["view_weight_2.0s"]) == pytest.approx(float(weights[2]), abs=2e-6)
    assert rows["aaaaaaaaaa"]["label"] == model.config.id2label[int(scores.argmax())]


def test_json_output_and_exit_zero(model_dir, inputs, tmp_path):
    output = tmp_path / "out.json"
    code = run_predict(
        "--model", str(model_dir), *map(str, inputs["good"]), "--output", str(output), "--top-k", "1"
    )
    assert code == predict.EXIT_OK
    document = json.loads(output.read_text())
    assert document["failures"] == [] and document["model"] == str(model_dir)
    assert [p["sample_id"] for p in document["predictions"]] == ["aaaaaaaaaa", "bbbbbbbbbb"]
    assert len(document["predictions"][0]["top_k"]) == 1
    assert set(document["predictions"][0]["view_weights"]) == {"0.5", "1.0", "2.0", "4.0"}


def test_usage_and_model_errors_exit_two(model_dir, inputs, tmp_path, capsys):
    assert run_predict("--model", str(model_dir)) == predict.EXIT_USAGE
    assert run_predict("--model", str(model_dir), "x.png", "--output", "out.txt") == predict.EXIT_USAGE
    assert run_predict("--model", str(model_dir), "--gps", "1.0") == predict.EXIT_USAGE
    capsys.readouterr()
    # Tests run with HF_HUB_OFFLINE=1: an id that is not cached fails at once with a clear message.
    code = run_predict("--model", "gravityvit/multiview-b16", str(inputs["good"][0]))
    assert code == predict.EXIT_USAGE
    message = capsys.readouterr().err
    assert "gravityvit/multiview-b16 is not reachable (offline / HF_HUB_OFFLINE=1)" in message
    assert "get_named_config('gravityvit/multiview-b16')" in message
    assert run_predict("--model", str(tmp_path / "missing"), str(inputs["good"][0])) == predict.EXIT_USAGE
    assert not (tmp_path / "out.txt").exists()


def test_checkpoint_without_processor_file(model_dir, inputs, tmp_path):
    """A Trainer checkpoint saved without its processor: the processor is rebuilt from the config."""
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(model_dir, bare)
    (bare / "preprocessor_config.json").unlink()
    output = tmp_path / "bare.json"
    assert run_predict("--model", str(bare), *map(str, inputs["good"][:4]), "--output", str(output)) == 0
    reference = tmp_path / "ref.json"
    assert (
        run_predict("--model", str(model_dir), *map(str, inputs["good"][:4]), "--output", str(reference)) == 0
    )
    got, expected = (json.loads(p.read_text())["predictions"] for p in (output, reference))
    assert [p["top_k"] for p in got] == [p["top_k"] for p in expected]


def test_gravityvit_console_command(model_dir, inputs, tmp_path):
    """The same run through ``gravityvit.cli.main`` (the console script's entry point)."""
    from gravityvit import cli

    output = tmp_path / "cli.csv"
    assert (
        cli.main(["predict", "--model", str(model_dir), *map(str, inputs["good"]), "--output", str(output)])
        == 0
    )
    with output.open() as handle:
        assert [row["sample_id"] for row in csv.DictReader(handle)] == ["aaaaaaaaaa", "bbbbbbbbbb"]


def test_strain_and_gps(model_dir, tmp_path, capsys):
    """--strain FILE --gps: one good time is classified, one without enough data around it is reported."""
    gwpy = pytest.importorskip("gwpy.timeseries")
    rate, gps = 4096, 1_126_259_462.0
    noise = np.random.default_rng(1).normal(0, 1e-21, 9 * rate)
    strain = gwpy.TimeSeries(noise, t0=gps - 4.5, sample_rate=rate, name="H1:TEST")
    path = tmp_path / "H1_strain.hdf5"
    strain.write(str(path))
    output = tmp_path / "strain.json"
    code = run_predict(
        "--model", str(model_dir), "--strain", str(path), "--gps", str(gps), str(gps + 4),
        "--ifo", "H1", "--output", str(output),
    )  # fmt: skip
    assert code == predict.EXIT_INPUT_FAILED
    document = json.loads(output.read_text())
    assert [p["sample_id"] for p in document["predictions"]] == [f"H1_{gps:.3f}"]
    assert len(document["failures"]) == 1 and f"at GPS {gps + 4}" in document["failures"][0]["source"]
    assert "H1_strain.hdf5" in capsys.readouterr().err
    # (pipeline == direct model call on the Omega-scan views is checked in test_pipelines.py)
    assert document["predictions"][0]["label"] in CLASS_NAMES
    assert sum(document["predictions"][0]["view_weights"].values()) == pytest.approx(1.0, abs=1e-5)
