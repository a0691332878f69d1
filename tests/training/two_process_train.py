"""Run a training (as examples/train.py does) under `accelerate launch` and write each rank's weight
fingerprint at the end.

Used by test_two_processes.py: ``accelerate launch --num_processes 2 --cpu two_process_train.py ARGS``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback


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
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.run import train

    torch.set_num_threads(1)
    train(*parse_train_arguments(sys.argv[1:]), callbacks=[WeightFingerprint()])
