"""Reliability: what a careless or hostile user can do to the command line, and what they get.

Each test reproduces one probe of docs/reliability.md: nothing the user owns is ever deleted,
broken models and files give one clear error naming them, and one bad input never stops a run.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from inference_helpers import REPO_ROOT, random_views, save_tiny, tiny_gravityvit, write_png_sample
from PIL import Image
from script_helpers import import_script

from gravityvit.cli import main as gravityvit
from gravityvit.data.hdf5 import (
    GravitySpyDataError,
    GravitySpyHDF5Reader,
    GravitySpyHDF5Writer,
    GravitySpySample,
)
from gravityvit.file_utils import MARKER_NAME
from gravityvit.gravity_spy import CLASS_NAMES, SPLITS


def _sample(index: int, *, label: str = "Blip", split: str | None = None, views=None) -> GravitySpySample:
    return GravitySpySample(
        gravityspy_id=f"id{index:08d}",
        label=label,
        sample_type=split or SPLITS[index % 3],
        views=random_views(index) if views is None else views,
        ifo="H1",
        metadata={"snr": 8.0 + index},
    )


def _write_h5(path: Path, samples, csv: Path | None = None) -> Path:
    with GravitySpyHDF5Writer(path, metadata_csv=csv) as writer:
        for sample in samples:
            writer.write(sample)
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("models") / "tiny", with_pipeline=False)


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pngs") / "Blip"
    write_png_sample(folder, "aaaaaaaaaa", seed=1)
    write_png_sample(folder, "bbbbbbbbbb", seed=2)
    return folder


# --- 1. data loss through the output path --------------------------------------------------------------


def test_convert_refuses_a_folder_holding_its_input(tmp_path, capsys):
    project = tmp_path / "proj"
    project.mkdir()
    h5 = _write_h5(project / "sim.h5", [_sample(i) for i in range(3)], csv=project / "sim_metadata.csv")
    (project / "notes.txt").write_text("my notes")
    before = {p: p.read_bytes() for p in project.iterdir()}
    assert gravityvit(["convert", "--hdf5", str(h5), "--output", str(project)]) == 2
    error = capsys.readouterr().err
    assert f"--output {project}" in error and "holds the input" in error
    assert {p: p.read_bytes() for p in project.iterdir()} == before
    assert _listing(tmp_path) == ["proj", "proj/notes.txt", "proj/sim.h5", "proj/sim_metadata.csv"]


def test_convert_refuses_a_file_and_a_foreign_folder(tmp_path, capsys):
    h5 = _write_h5(tmp_path / "sim.h5", [_sample(i) for i in range(3)])
    notes = tmp_path / "some_file.txt"
    notes.write_text("keep me")
    assert gravityvit(["convert", "--hdf5", str(h5), "--output", str(notes)]) == 2
    assert "is a file, not a Gravity Spy Arrow dataset directory" in capsys.readouterr().err
    assert notes.read_text() == "keep me"
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "table.csv").write_text("mine")
    assert gravityvit(["convert", "--hdf5", str(h5), "--output", str(folder)]) == 2
    assert f"{folder} already exists and is not a Gravity Spy Arrow dataset" in capsys.readouterr().err
    assert _listing(folder) == ["table.csv"]


def test_convert_output_dot_fails_clearly(tmp_path, monkeypatch, capsys):
    h5 = _write_h5(tmp_path / "data" / "sim.h5", [_sample(i) for i in range(3)])
    monkeypatch.chdir(tmp_path)
    assert gravityvit(["convert", "--hdf5", str(h5), "--output", "."]) == 2
    assert "is the working directory" in capsys.readouterr().err
    assert _listing(tmp_path) == ["data", "data/sim.h5"]  # no hidden ..tmp-* dataset left behind
    assert not [p for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.")]


def test_convert_replaces_only_its_own_earlier_output(tmp_path, capsys):
    h5 = _write_h5(tmp_path / "sim.h5", [_sample(i) for i in range(3)])
    output = tmp_path / "arrow"
    args = ["convert", "--hdf5", str(h5), "--output", str(output)]
    assert gravityvit(args) == 0
    assert gravityvit(args) == 0  # an earlier converted dataset is replaced (the documented default)
    assert gravityvit([*args, "--no-overwrite"]) == 2
    (output / "train" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert gravityvit(args) == 2
    assert "holds files that were not written with the Gravity Spy Arrow dataset: train/notes.txt" in (
        capsys.readouterr().err
    )
    assert (output / "train" / "notes.txt").read_text() == "mine"


def test_evaluate_refuses_to_replace_the_model(model_dir, tmp_path, capsys):
    evaluate = import_script(REPO_ROOT / "examples" / "evaluate.py")
    before = _listing(model_dir)
    with pytest.raises(SystemExit) as info:
        evaluate.main(["--model", str(model_dir), "--dataset", str(tmp_path), "--output", str(model_dir)])
    assert info.value.code == 2
    assert f"--output {model_dir}" in capsys.readouterr().err
    assert _listing(model_dir) == before


def test_demo_removes_only_its_own_earlier_model_folder(tmp_path):
    from gravityvit.file_utils import OutputError

    demo = import_script(REPO_ROOT / "examples" / "demo.py")
    earlier = tmp_path / "run" / "model"
    (earlier / "checkpoint-10").mkdir(parents=True)
    (earlier / "evaluation").mkdir()
    for name in ("config.json", "model.safetensors", "trainer_state.json", "test_results.json", "README.md"):
        (earlier / name).write_text("{}")
    demo.remove_earlier_training_run(earlier)  # an earlier demo run: removed for the fresh one
    assert not earlier.exists()
    demo.remove_earlier_training_run(earlier)  # nothing there: nothing to do

    mine = tmp_path / "mine" / "model"
    mine.mkdir(parents=True)
    (mine / "config.json").write_text("{}")
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="model"):
        demo.remove_earlier_training_run(mine)
    assert (mine / "notes.txt").read_text() == "mine" and (mine / "config.json").exists()


def test_simulate_never_replaces_a_foreign_hdf5_file(tmp_path, capsys):
    zenodo = tmp_path / "trainingsetv1d1.h5"
    with h5py.File(zenodo, "w") as handle:
        handle.create_group("Blip")
    before = zenodo.read_bytes()
    assert gravityvit(["simulate", "--output", str(zenodo), "--samples-per-class", "1", "--no-progress"]) == 1
    assert "is not a Gravity Spy HDF5 file written by gravityvit" in capsys.readouterr().err
    assert zenodo.read_bytes() == before and _listing(tmp_path) == ["trainingsetv1d1.h5"]


# --- 2. corrupt weights ---------------------------------------------------------------------------------


def test_corrupt_weights_are_an_error_at_load_time(model_dir, png_folder, tmp_path, capsys):
    import shutil

    corrupt = tmp_path / "corrupt"
    shutil.copytree(model_dir, corrupt)
    weights = corrupt / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5000:] = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    weights.write_bytes(bytes(data))
    assert gravityvit(["predict", str(png_folder), "--model", str(corrupt)]) == 2
    captured = capsys.readouterr()
    assert "nan" not in captured.out.lower()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("gravityvit predict")]
    assert len(error_lines) == 1 and str(weights) in error_lines[0] and "NaN or infinite" in error_lines[0]


def test_a_nan_output_is_never_printed_as_a_prediction(png_folder, tmp_path, capsys):
    from gravityvit.commands.predict import classify_samples
    from gravityvit.pipelines import GlitchClassificationPipeline, expand_inputs

    model, processor = tiny_gravityvit()
    with torch.no_grad():
        model.head.layers[-1].bias.fill_(float("nan"))
    pipe = GlitchClassificationPipeline(model=model, image_processor=processor, device="cpu")
    predictions, failures = classify_samples(
        pipe, list(expand_inputs(str(png_folder))), batch_size=2, top_k=3
    )
    assert predictions == []
    assert len(failures) == 2 and all("NaN or infinite scores" in message for _, message in failures)
    with pytest.raises(ValueError, match="NaN or infinite scores"):
        pipe(str(png_folder / "H1_aaaaaaaaaa_spectrogram_1.0.png"))


# --- 3. oversized images ---------------------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels (no pixel data): a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_one_oversized_png_is_one_failure(model_dir, png_folder, tmp_path, capsys):
    import shutil

    folder = tmp_path / "Blip"
    shutil.copytree(png_folder, folder)
    bomb = _png_header_only(folder / "H1_cccccccccc_spectrogram_1.0.png", 14000, 14000)
    big = _png_header_only(folder / "big.png", 9000, 9000)  # under Pillow's limit, over ours
    assert gravityvit(["predict", str(folder), "--model", str(model_dir)]) == 1
    captured = capsys.readouterr()
    assert "aaaaaaaaaa" in captured.out and "bbbbbbbbbb" in captured.out
    assert f"failed: {bomb}" in captured.err and f"failed: {big}" in captured.err
    assert "too large" in captured.err and "9000x9000 pixels" in captured.err

    from transformers import pipeline

    from gravityvit.pipelines import InputError  # importing it registers the task

    pipe = pipeline("glitch-classification", model=str(model_dir), device="cpu")
    with pytest.raises(InputError, match="too large"):
        pipe(str(bomb))


# --- 6. broken model files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "zeroed_header", "pickle_only"])
def test_broken_model_files_exit_two_with_one_line(model_dir, png_folder, tmp_path, capsys, damage):
    import shutil

    broken = tmp_path / damage
    shutil.copytree(model_dir, broken)
    weights = broken / "model.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "zeroed_header":
        weights.write_bytes(bytes(8) + weights.read_bytes()[8:])
    else:  # a whole pickled module, which a weights-only load refuses
        weights.unlink()
        weights = broken / "pytorch_model.bin"
        torch.save(tiny_gravityvit()[0], weights)
    assert gravityvit(["predict", str(png_folder), "--model", str(broken)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"gravityvit predict: cannot load model {broken}: {weights}"
    )


# --- 9. predict --output checked before the work -----------------------------------------------------------


def test_predict_output_is_checked_before_classifying(model_dir, png_folder, tmp_path, capsys):
    folder = tmp_path / "results.csv"
    folder.mkdir()
    assert gravityvit(["predict", str(png_folder), "--model", str(model_dir), "--output", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "is a directory, not a predictions CSV file" in captured.err and "classified" not in captured.err
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n")
    assert gravityvit(["predict", str(png_folder), "--model", str(model_dir), "--output", str(mine)]) == 2
    assert mine.read_text() == "a,b\n1,2\n"
    output = tmp_path / "predictions.csv"
    for _ in range(2):  # an earlier predictions file is replaced
        assert (
            gravityvit(["predict", str(png_folder), "--model", str(model_dir), "--output", str(output)]) == 0
        )


# --- 4. skip mode with a whole split bad --------------------------------------------------------------------


def test_skip_mode_with_every_test_sample_bad(tmp_path, capsys, caplog):
    h5 = tmp_path / "bad.h5"
    samples = [
        _sample(i, split=split) for i, split in enumerate(["train", "train", "validation", "test", "test"])
    ]
    _write_h5(h5, samples)
    with h5py.File(h5, "r+") as handle:
        for sample in samples[3:]:
            handle[f"Blip/test/{sample.gravityspy_id}/0.5.png"][0, 0, 0] = np.nan
    output = tmp_path / "arrow"
    with caplog.at_level("WARNING"):
        assert (
            gravityvit(["convert", "--hdf5", str(h5), "--output", str(output), "--on-bad-sample", "skip"])
            == 0
        )
    assert (
        "skipped 2 bad sample(s)" in caplog.text
        and "id00000003" in caplog.text
        and "id00000004" in caplog.text
    )
    assert "split test is empty: all of its 2 sample(s) were skipped" in caplog.text
    stats = json.loads((output / "gravityspy_stats.json").read_text())
    assert stats["num_samples"] == {"train": 2, "validation": 1, "test": 0} and stats["num_skipped"] == 2


# --- 5. metadata that does not match ------------------------------------------------------------------------


def test_metadata_csv_must_match_and_agree(tmp_path, capsys, caplog):
    h5 = _write_h5(tmp_path / "sim.h5", [_sample(i) for i in range(3)])
    other = tmp_path / "other.csv"
    other.write_text("gravityspy_id,label,sample_type\nzmIdpucyOG,Blip,train\n")
    output = tmp_path / "arrow"
    args = ["convert", "--hdf5", str(h5), "--output", str(output), "--metadata"]
    assert gravityvit([*args, str(other)]) == 1
    error = capsys.readouterr().err
    assert f"file {other}" in error and "none of the 3 sample ids" in error and "--on-bad-sample" not in error

    disagreeing = tmp_path / "disagreeing.csv"
    disagreeing.write_text(
        "gravityspy_id,label,sample_type\nid00000000,Blip,train\nid00000001,Whistle,validation\nid00000002,Blip,train\n"
    )
    assert gravityvit([*args, str(disagreeing)]) == 1
    error = capsys.readouterr().err
    assert (
        "id00000001: label 'Whistle' (source 'Blip')" in error and "id00000002: sample_type 'train'" in error
    )
    assert not output.exists()
    with caplog.at_level("INFO"):
        assert gravityvit([*args, str(disagreeing), "--metadata-conflict", "metadata"]) == 0
    assert "3 of 3 sample ids matched" in caplog.text
    from datasets import load_from_disk

    dataset = load_from_disk(str(output))
    labels = {
        row["gravityspy_id"]: dataset["validation"].features["label"].int2str(row["label"])
        for row in dataset["validation"]
    }
    assert labels == {"id00000001": "Whistle"} and len(dataset["train"]) == 2
    assert gravityvit([*args, str(disagreeing), "--metadata-conflict", "source"]) == 0


# --- 8. killed runs -------------------------------------------------------------------------------------------


# The conversion as `gravityvit convert --num-proc 2` runs it (the command line's entry point makes its
# workers die with it), slowed down so that it can be killed half-way.
_SLOW_CONVERSION = """
import sys, time
from gravityvit.data.arrow import convert_to_arrow
from gravityvit.data.hdf5 import GravitySpyHDF5Reader
from gravityvit.file_utils import workers_die_with_parent

workers_die_with_parent()

class SlowReader(GravitySpyHDF5Reader):
    def __getitem__(self, index):
        time.sleep(1.0)
        return super().__getitem__(index)

convert_to_arrow(SlowReader(sys.argv[1]), sys.argv[2], num_proc=2)
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux-only")
def test_killed_conversion_leaves_no_workers_and_its_leftovers_are_cleaned(tmp_path):
    h5 = _write_h5(tmp_path / "sim.h5", [_sample(i, split="train") for i in range(60)])
    output = tmp_path / "arrow"
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CONVERSION, str(h5), str(output)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300  # importing datasets can take minutes on a busy machine
    while len(_children(process.pid)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = _children(process.pid)
    assert len(workers) >= 2, "the conversion never started its workers"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".arrow.")]
    assert leftovers, "SIGKILL should leave the work directory behind"
    assert gravityvit(["convert", "--hdf5", str(h5), "--output", str(output)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrow", "sim.h5"]


_FORKING_PARENT = """
import os, sys, time
from gravityvit.file_utils import workers_die_with_parent
workers_die_with_parent()
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux-only")
def test_forked_workers_of_a_command_die_with_it():
    process = subprocess.Popen(
        [sys.executable, "-c", _FORKING_PARENT],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


# --- 10. unclear messages -------------------------------------------------------------------------------------


def test_wrong_model_type_is_named(model_dir, png_folder, tmp_path, capsys):
    import shutil

    bert = tmp_path / "bert"
    shutil.copytree(model_dir, bert)
    config = json.loads((bert / "config.json").read_text())
    (bert / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    assert gravityvit(["predict", str(png_folder), "--model", str(bert)]) == 2
    error = capsys.readouterr().err
    assert "model_type 'bert' is not a glitch classifier" in error and "trust_remote_code" not in error


def test_a_16_bit_rendering_gets_a_clear_message(model_dir, tmp_path, capsys):
    path = tmp_path / "H1_dddddddddd_spectrogram_1.0.png"
    Image.fromarray(np.zeros((600, 800), dtype="<u2")).save(path)
    assert gravityvit(["predict", str(path), "--model", str(model_dir)]) == 1
    assert "16-bit gray" in capsys.readouterr().err


def test_empty_batch_and_all_false_mask_are_clear_errors():
    model, processor = tiny_gravityvit()
    with pytest.raises(ValueError, match="views holds no sample"):
        processor.preprocess_views(np.zeros((0, 4, 140, 170), np.float32))
    with pytest.raises(ValueError, match=r"samples \[1\] have none"):
        processor.preprocess_views(
            np.zeros((2, 4, 140, 170), np.float32), np.array([[1, 0, 0, 0], [0, 0, 0, 0]], bool)
        )
    with pytest.raises(ValueError, match="holds no sample"):
        model(pixel_values=torch.zeros(0, 4, 3, 32, 32))
    with pytest.raises(ValueError, match="have none"):
        model(pixel_values=torch.zeros(1, 4, 3, 32, 32), view_mask=torch.zeros(1, 4, dtype=torch.bool))


def test_rows_that_cannot_train_are_named_before_training():
    from datasets import ClassLabel, Dataset, DatasetDict, Features
    from datasets import Image as ImageFeature

    from gravityvit.training.data import GlitchDatasetError, check_glitch_dataset

    columns = ["image_500ms", "image_1000ms", "image_2000ms", "image_4000ms"]
    features = Features(
        {"label": ClassLabel(names=list(CLASS_NAMES)), **{c: ImageFeature() for c in columns}}
    )
    image = Image.fromarray(np.zeros((140, 170), np.uint8))
    rows = {"label": [3, 3, 3], **{c: [image, None, image] for c in columns}}
    id2label = dict(enumerate(CLASS_NAMES))
    dataset = DatasetDict({"train": Dataset.from_dict(rows, features=features)})
    with pytest.raises(GlitchDatasetError, match=r"split 'train': 1 row\(s\) have no image .*rows 1\)"):
        check_glitch_dataset(dataset, id2label, splits=("train",), source="data")
    rows = {"label": [3, -1, 3], **{c: [image] * 3 for c in columns}}
    dataset = DatasetDict({"train": Dataset.from_dict(rows, features=features)})
    with pytest.raises(GlitchDatasetError, match=r"1 row\(s\) have a label outside 0..21 \(row 1: -1\)"):
        check_glitch_dataset(dataset, id2label, splits=("train",), source="data")


def test_a_truncated_hdf5_file_gets_no_skip_hint(tmp_path, capsys):
    h5 = _write_h5(tmp_path / "sim.h5", [_sample(i) for i in range(3)])
    h5.write_bytes(h5.read_bytes()[:2000])
    assert (
        gravityvit(
            ["convert", "--hdf5", str(h5), "--output", str(tmp_path / "arrow"), "--on-bad-sample", "skip"]
        )
        == 1
    )
    error = capsys.readouterr().err
    assert f"file {h5}" in error and "truncated" in error and "--on-bad-sample" not in error


# --- 11. one id rule for readers and writers ------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["..", "a b", "café"])
def test_readers_refuse_the_ids_the_writer_refuses(tmp_path, bad_id):
    sample = _sample(0)
    with pytest.raises(GravitySpyDataError, match="gravityspy_id must be"):
        _write_h5(tmp_path / "w.h5", [GravitySpySample(bad_id, "Blip", "train", sample.views)])
    h5 = tmp_path / "r.h5"
    with h5py.File(h5, "w") as handle:
        group = handle.create_group(f"Blip/train/{bad_id}")
        for key, view in zip(["0.5.png", "1.0.png", "2.0.png", "4.0.png"], sample.views):
            group.create_dataset(key, data=view[None])
    with pytest.raises(GravitySpyDataError, match="gravityspy_id must be") as info:
        GravitySpyHDF5Reader(h5)[0]
    assert info.value.field == "gravityspy_id"

    from gravityvit.data.png import GravitySpyPNGReader

    write_png_sample(tmp_path / "pngs" / "Blip", bad_id.replace("..", "x..y"), seed=3)
    with pytest.raises(GravitySpyDataError, match="gravityspy_id must be"):
        GravitySpyPNGReader(tmp_path / "pngs")[0]


# --- 12. the raw model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pixel_values", "view_mask", "message"),
    [
        (torch.zeros(1, 4, 3, 32, 32), torch.ones(1, 4), "view_mask must be a torch.bool tensor"),
        (torch.zeros(1, 4, 3, 32, 32, dtype=torch.int64), None, "pixel_values must be floating point"),
        (torch.full((1, 4, 3, 32, 32), float("nan")), None, "finite normalised values"),
        (torch.full((1, 4, 3, 32, 32), 1e30), None, "finite normalised values"),
    ],
)
def test_the_raw_model_rejects_bad_inputs(pixel_values, view_mask, message):
    model, _ = tiny_gravityvit()
    with pytest.raises(ValueError, match=message):
        model(pixel_values=pixel_values, view_mask=view_mask)


# --- scan and the conversion scripts ------------------------------------------------------------------------------


def test_scan_output_is_checked_before_the_strain_is_read(tmp_path, monkeypatch, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    strain = tmp_path / "missing-strain.hdf5"  # never read: every probe fails on --output first
    base = ["scan", "--strain", str(strain), "--gps", "1126259462.4", "--output"]
    assert gravityvit([*base, str(notes)]) == 2
    assert "is a file, not a scan output directory" in capsys.readouterr().err
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    assert gravityvit([*base, str(folder)]) == 2
    inside = tmp_path / "data"
    inside.mkdir()
    (inside / "strain.hdf5").write_text("")
    assert (
        gravityvit(["scan", "--strain", str(inside / "strain.hdf5"), "--gps", "1", "--output", str(inside)])
        == 2
    )
    assert "holds the input" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert gravityvit([*base, "."]) == 2
    assert "working directory" in capsys.readouterr().err
    assert notes.read_text() == "mine" and (folder / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "folder", "notes.txt"]


def test_conversion_scripts_never_replace_their_input(model_dir, tmp_path, capsys):
    import shutil

    arrow_script = import_script(REPO_ROOT / "conversion_scripts" / "convert_gravityspy_to_arrow.py")
    h5 = _write_h5(tmp_path / "sim.h5", [_sample(i) for i in range(3)])
    before = h5.read_bytes()
    assert arrow_script.main(["--hdf5", str(h5), "--output", str(h5)]) == 2
    assert "holds the input" in capsys.readouterr().err
    assert h5.read_bytes() == before

    checkpoint_script = import_script(REPO_ROOT / "conversion_scripts" / "convert_trainer_checkpoint.py")
    run = tmp_path / "run"
    shutil.copytree(model_dir, run / "checkpoint-10")
    before = _listing(run)
    code = checkpoint_script.main(
        ["--checkpoint", str(run / "checkpoint-10"), "--output", str(run), "--overwrite"]
    )
    assert code != 0 and "holds the input" in capsys.readouterr().err
    assert _listing(run) == before

    timm_script = import_script(REPO_ROOT / "conversion_scripts" / "convert_timm_to_gravityvit.py")
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    weights = weights_dir / "vit.safetensors"
    weights.write_bytes(b"")
    assert (
        timm_script.main(
            [
                "--backbone-weights",
                str(weights),
                "--config",
                "gravityvit/multiview-demo",
                "--output",
                str(weights_dir),
                "--overwrite",
            ]
        )
        == 2
    )
    assert weights.exists() and "holds the input" in capsys.readouterr().err
    assert MARKER_NAME not in os.listdir(weights_dir)
