"""Find a checkpoint that is safe to resume from after a run was killed.

The HF Trainer writes ``checkpoint-N`` file by file (weights, optimizer, scheduler, RNG states) and
``trainer_state.json`` last, and deletes old checkpoints with ``rmtree``. A run killed with SIGKILL
in the middle of either leaves a directory that ``get_last_checkpoint`` would happily pick and that
fails (or silently misleads) on resume. Here a checkpoint counts only when every file a resume reads
is present and readable; incomplete ones are reported and can be removed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
RESUME_FILES: tuple[str, ...] = ("optimizer.pt", "scheduler.pt")


def checkpoint_problem(path: str | os.PathLike, model_only: bool = False) -> str | None:
    """Why ``path`` cannot be resumed from, or None when it is complete.

    Checks that ``trainer_state.json`` parses, that a weights file exists and (for safetensors) that
    its header and size agree, and, unless ``model_only``, that the optimizer and scheduler states exist.
    """
    path = Path(path)
    state = path / "trainer_state.json"
    try:
        json.loads(state.read_text())
    except (OSError, ValueError) as error:
        return f"trainer_state.json missing or unreadable ({error.__class__.__name__})"
    weights = next((path / name for name in WEIGHT_FILES if (path / name).exists()), None)
    if weights is None:
        return f"no weights file (one of {WEIGHT_FILES})"
    if weights.name == "model.safetensors":
        problem = _safetensors_problem(weights)
        if problem:
            return problem
    if not model_only:
        missing = [name for name in RESUME_FILES if not (path / name).is_file()]
        if missing:
            return f"missing {missing}"
    return None


def _safetensors_problem(path: Path) -> str | None:
    """A truncated safetensors file: its header announces more bytes than the file holds."""
    try:
        with open(path, "rb") as handle:
            header_size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(header_size))
    except (OSError, ValueError) as error:
        return f"model.safetensors unreadable ({error})"
    end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"), default=0)
    if path.stat().st_size < 8 + header_size + end:
        return "model.safetensors is truncated"
    return None


def list_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """``checkpoint-N`` directories of ``output_dir``, by step."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))
    ]
    return [p for _, p in sorted(found)]


def last_complete_checkpoint(
    output_dir: str | os.PathLike, remove_incomplete: bool = False, model_only: bool = False
) -> str | None:
    """The newest complete checkpoint in ``output_dir`` (see ``checkpoint_problem``), or None.

    Parameters
    ----------
    output_dir : path
        The Trainer's output directory.
    remove_incomplete : bool
        Delete incomplete checkpoints (left by a killed save or rotation), so that the resumed run's
        rotation never counts them and nothing corrupt remains.
    model_only : bool
        The run saves only the model (``save_only_model``): optimizer and scheduler are not required.
    """
    chosen = None
    for path in reversed(list_checkpoints(output_dir)):
        problem = checkpoint_problem(path, model_only=model_only)
        if problem is None:
            chosen = chosen or str(path)
            continue
        logger.warning(
            "incomplete checkpoint %s (%s)%s", path, problem, "; removing it" if remove_incomplete else ""
        )
        if remove_incomplete:
            shutil.rmtree(path, ignore_errors=True)
    return chosen
