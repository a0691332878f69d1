"""Two CPU processes (`accelerate launch --num_processes 2 --cpu`, gloo) train a few steps and end with
identical weights on both ranks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import tiny_train_args

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_processes_end_with_identical_weights(tiny_dataset, tmp_path):
    output_dir = tmp_path / "ddp"
    script = Path(__file__).with_name("two_process_train.py")
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        # --multi_gpu makes accelerate start the processes with torchrun; train.py's --use_cpu and
        # --ddp_backend gloo make them CPU processes (accelerate's --cpu flag alone starts just one).
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        str(script),
        *tiny_train_args(
            tiny_dataset, output_dir, "--evaluate_test", "false", "--ddp_backend", "gloo", epochs=2
        ),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    fingerprints = [(output_dir / f"weights_rank{rank}.sha256").read_text().split() for rank in (0, 1)]
    digest0, steps0, world0 = fingerprints[0]
    digest1, steps1, world1 = fingerprints[1]
    assert world0 == world1 == "2"
    # 44 samples, 16 per process and step -> 2 steps per epoch, 2 epochs.
    assert steps0 == steps1 == "4"
    assert digest0 == digest1
    assert (output_dir / "model.safetensors").is_file()
