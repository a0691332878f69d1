"""A tiny run killed with SIGKILL mid-training resumes from its last complete checkpoint and ends like an
uninterrupted run; no corrupt checkpoint is ever resumed from or left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gravityvit.training.arguments import parse_train_arguments
from gravityvit.training.checkpoints import checkpoint_problem, last_complete_checkpoint, list_checkpoints
from gravityvit.training.run import train

from .conftest import tiny_train_args

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.slow

EPOCHS = 6  # 44 train samples / batch 16 = 3 steps per epoch, 18 steps


def _final_eval(output_dir: Path) -> dict:
    state = json.loads((output_dir / "trainer_state.json").read_text())
    evals = [entry for entry in state["log_history"] if "eval_loss" in entry]
    return evals[-1]


def _wait_for_complete_checkpoint(
    output_dir: Path, step: int, process: subprocess.Popen, timeout_s: float = 240
):
    deadline = time.monotonic() + timeout_s
    target = output_dir / f"checkpoint-{step}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"training ended (code {process.returncode}) before checkpoint-{step} appeared"
            )
        if target.is_dir() and checkpoint_problem(target) is None:
            return
        time.sleep(0.05)
    raise AssertionError(f"checkpoint-{step} did not appear within {timeout_s} s")


def test_sigkill_then_resume_matches_uninterrupted_run(tiny_dataset, tmp_path):
    extra = ("--evaluate_test", "false", "--early_stopping_patience", "0")
    baseline_dir = tmp_path / "baseline"
    train(*parse_train_arguments(tiny_train_args(tiny_dataset, baseline_dir, *extra, epochs=EPOCHS)))

    killed_dir = tmp_path / "killed"
    args = tiny_train_args(tiny_dataset, killed_dir, *extra, epochs=EPOCHS)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES_DIR / "train.py"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_complete_checkpoint(killed_dir, 6, process)  # end of epoch 2 of 6
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed_dir / "model.safetensors").exists()  # it really stopped before the end

    # The killed run was the command line, examples/train.py; the resumed one is the library call.
    resumed = train(*parse_train_arguments([*args, "--resume_from_checkpoint", "last"]))
    state = json.loads((killed_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 3 * EPOCHS
    expected, got = _final_eval(baseline_dir), _final_eval(killed_dir)
    assert got["epoch"] == expected["epoch"] == EPOCHS
    # The RNG states are restored: within noise of (in practice equal to) the uninterrupted run.
    assert got["eval_loss"] == pytest.approx(expected["eval_loss"], abs=0.05)
    assert got["eval_accuracy"] == pytest.approx(expected["eval_accuracy"], abs=0.1)
    assert resumed.validation["macro_f1"] == pytest.approx(expected["eval_macro_f1"], abs=0.1)
    for checkpoint in list_checkpoints(killed_dir):
        assert checkpoint_problem(checkpoint) is None, checkpoint


def test_incomplete_checkpoints_are_never_resumed(tmp_path):
    import torch
    from safetensors.torch import save_file

    def checkpoint(step: int, state: bool = True, truncate: bool = False) -> Path:
        path = tmp_path / f"checkpoint-{step}"
        path.mkdir()
        save_file({"w": torch.zeros(1000)}, path / "model.safetensors")
        if truncate:
            data = (path / "model.safetensors").read_bytes()
            (path / "model.safetensors").write_bytes(data[: len(data) // 2])
        for name in ("optimizer.pt", "scheduler.pt"):
            (path / name).write_bytes(b"x")
        if state:
            (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        return path

    good = checkpoint(3)
    checkpoint(6, truncate=True)
    checkpoint(9, state=False)  # killed before trainer_state.json was written
    assert "truncated" in checkpoint_problem(tmp_path / "checkpoint-6")
    assert "trainer_state.json" in checkpoint_problem(tmp_path / "checkpoint-9")
    assert last_complete_checkpoint(tmp_path) == str(good)
    assert len(list_checkpoints(tmp_path)) == 3
    assert last_complete_checkpoint(tmp_path, remove_incomplete=True) == str(good)
    assert list_checkpoints(tmp_path) == [good]
