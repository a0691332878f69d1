"""``gravityvit predict --num-processes N``: jobs of whole batches in input order, and an output
identical to one process (rows in input order, bad files reported by the worker that met them)."""

from __future__ import annotations

import argparse
import itertools
import json

import pytest
import torch
from inference_helpers import random_views, save_tiny, write_png_sample

from gravityvit.commands import predict
from gravityvit.inference.parallel import batch_aligned_jobs, worker_device


def run_predict(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gravityvit")
    predict.register(parser.add_subparsers())
    args = parser.parse_args(["predict", *argv])
    return args.func(args)


@pytest.mark.parametrize(
    ("num_samples", "batch_size", "num_jobs"), [(10, 3, 2), (10, 3, 8), (1, 16, 4), (64, 16, 4), (65, 16, 3)]
)
def test_jobs_are_whole_batches_in_order(num_samples, batch_size, num_jobs):
    jobs = batch_aligned_jobs(num_samples, batch_size, num_jobs)
    assert jobs[0][0] == 0 and jobs[-1][1] == num_samples
    assert all(end == next_start for (_, end), (next_start, _) in itertools.pairwise(jobs))
    assert all(start % batch_size == 0 for start, _ in jobs)
    assert len(jobs) <= num_jobs
    sizes = [end - start for start, end in jobs]
    assert max(sizes) - min(sizes) <= batch_size + num_samples % batch_size


def test_worker_devices_without_cuda():
    assert worker_device("cpu", 3) == "cpu"
    if not torch.cuda.is_available():
        assert worker_device("auto", 1) in ("cpu", "mps")
    assert worker_device("cuda:1", 0) == "cuda:1"


@pytest.mark.slow
def test_two_processes_give_the_one_process_output(tmp_path, capsys):
    model_dir = save_tiny(tmp_path / "tiny", with_pipeline=False)
    folder = tmp_path / "inputs" / "Blip"
    for index in range(7):
        write_png_sample(folder, f"sample{index:04d}", seed=index)
    # A bad PNG in the middle: it falls to the second worker's jobs and is reported all the same.
    (folder / "H1_sample0004_spectrogram_2.0.png").write_bytes(b"\x89PNG truncated")
    from gravityvit.data.hdf5 import GravitySpySample, write_gravityspy_hdf5

    h5 = tmp_path / "more.h5"
    write_gravityspy_hdf5(
        h5, [GravitySpySample(f"h5s{i}", "Whistle", "test", random_views(i)) for i in range(3)]
    )
    common = (
        "--model",
        str(model_dir),
        str(folder.parent),
        str(h5),
        str(tmp_path / "missing.png"),
        "--batch-size",
        "2",
    )
    for suffix in ("csv", "json"):
        single, several = tmp_path / f"one.{suffix}", tmp_path / f"two.{suffix}"
        assert run_predict(*common, "--output", str(single)) == predict.EXIT_INPUT_FAILED
        one_process_log = capsys.readouterr().err
        assert (
            run_predict(*common, "--output", str(several), "--num-processes", "2")
            == predict.EXIT_INPUT_FAILED
        )
        log = capsys.readouterr().err
        assert several.read_text() == single.read_text()
        assert "on 2 process(es) (cpu)" in log
        failed = [line for line in log.splitlines() if line.startswith("gravityvit predict: failed:")]
        assert failed == [
            line for line in one_process_log.splitlines() if line.startswith("gravityvit predict: failed:")
        ]
        assert any("H1_sample0004" in line for line in failed) and any(
            "missing.png" in line for line in failed
        )
    document = json.loads((tmp_path / "two.json").read_text())
    ids = [p["sample_id"] for p in document["predictions"]]
    # Input order: the folder's samples, then the HDF5 file's (the missing PNG failed).
    assert ids == [f"sample{i:04d}" for i in range(7) if i != 4] + ["h5s0", "h5s1", "h5s2"]
    assert len(document["failures"]) == 2
