"""Run examples/train.py under `accelerate launch` and write each rank's weight fingerprint at the end.

Used by test_two_processes.py: ``accelerate launch --num_processes 2 --cpu two_process_train.py ARGS``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


class WeightFingerprint(TrainerCallback):
    """At the end of training, write sha256 of all parameters to OUTPUT_DIR/weights_rank{R}.sha256."""

    def on_train_end(self, args, state, control, model=None, **kwargs):
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
        Path(args.output_dir, f"weights_rank{args.process_index}.sha256").write_text(
            f"{digest.hexdigest()} {state.global_step} {args.world_size}\n"
        )


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    spec = importlib.util.spec_from_file_location("gravityvit_examples_train", EXAMPLES_DIR / "train.py")
    train = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = train
    spec.loader.exec_module(train)
    torch.set_num_threads(1)
    train.main(sys.argv[1:], callbacks=[WeightFingerprint()])
