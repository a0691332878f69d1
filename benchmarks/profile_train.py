"""Profile a few training steps of the default (demo) run through the training data path.

Usage::

    python benchmarks/profile_train.py [--dataset ARROW_DIR] [--steps 6] [--batch 32] [--trace trace.json]

It builds what ``examples/train.py`` builds (named configuration ``gravityvit/multiview-demo``, the
Arrow split with ``GlitchViewsTransform`` + ``SpectrogramAugmentation``, ``GlitchCollator``, AdamW,
gradient clipping at 1.0) and runs the steps in a plain loop under ``torch.profiler``, each phase
inside a ``record_function`` region: ``data`` (Arrow read, PNG decode, augmentation, collation),
``forward``, ``backward``, ``optimizer`` (clipping + AdamW). It prints the wall time of each phase
(share of the step) and the operators with the most self CPU time, and writes a Chrome trace with
``--trace``. Without ``--dataset`` it simulates 22 samples, tiles them into a train split and converts
it (as ``benchmarks/run.py`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

PHASES: tuple[str, ...] = ("data", "forward", "backward", "optimizer")


def make_dataset(directory: Path, train_samples: int) -> Path:
    """A small Arrow dataset: 22 simulated samples (one per class) tiled into ``train_samples``."""
    from gravityvit.data.arrow import convert_to_arrow

    templates, _, _ = bench.simulate_templates(22)
    h5_path = directory / "profile.h5"
    bench.write_tiled_hdf5(h5_path, templates, train_samples)
    convert_to_arrow(h5_path, directory / "arrow", num_proc=1)
    return directory / "arrow"


def profile_training(
    dataset_dir: Path,
    model_name: str = "gravityvit/multiview-demo",
    overrides: dict[str, Any] | None = None,
    steps: int = 6,
    warmup: int = 1,
    batch: int = 32,
    num_workers: int = 0,
    trace: Path | None = None,
    row_limit: int = 15,
) -> dict[str, Any]:
    """Run ``warmup + steps`` training steps, profiling the last ``steps``; return the phase times and op table.

    Returns
    -------
    dict
        ``phase_s`` (median seconds per step of each phase), ``phase_share`` (fraction of the step),
        ``step_s``, ``samples_per_s``, ``top_ops`` (name, self CPU ms, calls), ``table`` (profiler text).
    """
    from torch.profiler import ProfilerActivity, profile, record_function
    from torch.utils.data import DataLoader

    from gravityvit import GravityViTForGlitchClassification, GravityViTImageProcessor, get_named_config
    from gravityvit.training.augmentation import SpectrogramAugmentation
    from gravityvit.training.data import GlitchCollator, load_glitch_dataset, prepare_split

    config = get_named_config(model_name, **(overrides or {}))
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(config).train()
    processor = GravityViTImageProcessor.from_config(config)
    durations = tuple(config.view_durations_s)
    split = load_glitch_dataset(dataset_dir)["train"]
    prepared = prepare_split(
        split, durations, augmentation=SpectrogramAugmentation(view_durations_s=durations)
    )
    loader = DataLoader(
        prepared,
        batch_size=batch,
        shuffle=True,
        num_workers=num_workers,
        collate_fn=GlitchCollator(processor),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.05)
    needed = warmup + steps
    if len(loader) < needed:
        raise ValueError(
            f"{dataset_dir}: {len(split)} train samples give {len(loader)} batches; need {needed}"
        )
    times: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, function):
        with record_function(name):
            start = time.perf_counter()
            value = function()
            times[name].append(time.perf_counter() - start)
        return value

    iterator = iter(loader)

    def one_step() -> None:
        batch_inputs = timed("data", lambda: next(iterator))
        loss = timed("forward", lambda: model(**batch_inputs).loss)
        timed("backward", loss.backward)

        def update() -> None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        timed("optimizer", update)

    for _ in range(warmup):
        one_step()
    times.clear()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as profiler:
        for _ in range(steps):
            one_step()
    if trace:
        profiler.export_chrome_trace(str(trace))
    phase_s = {name: float(torch.tensor(times[name]).median()) for name in PHASES}
    step_s = sum(phase_s.values())
    averages = profiler.key_averages()
    total_self_us = sum(a.self_cpu_time_total for a in averages if a.key not in PHASES) or 1.0
    ops = sorted(
        (a for a in averages if a.key not in PHASES), key=lambda a: a.self_cpu_time_total, reverse=True
    )
    return {
        "model": model_name,
        "batch": batch,
        "steps": steps,
        "num_workers": num_workers,
        "phase_s": phase_s,
        "phase_share": {name: value / step_s for name, value in phase_s.items()},
        "step_s": step_s,
        "samples_per_s": batch / step_s,
        "top_ops": [
            {
                "op": a.key,
                "self_cpu_share": a.self_cpu_time_total / total_self_us,
                "calls_per_step": a.count / steps,
            }
            for a in ops[:row_limit]
        ],
        "table": averages.table(sort_by="self_cpu_time_total", row_limit=row_limit),
    }


def report(result: dict[str, Any]) -> str:
    """The phase breakdown and the top operators as markdown."""
    lines = [
        f"Model {result['model']}, batch {result['batch']}, {result['steps']} profiled steps, "
        f"num_workers {result['num_workers']}: {result['step_s']:.2f} s per step "
        f"({result['samples_per_s']:.1f} samples/s).",
        "",
        "| phase | s per step (median) | share |",
        "|---|---:|---:|",
    ]
    for name in PHASES:
        lines.append(
            f"| {name} | {result['phase_s'][name]:.3f} | {100 * result['phase_share'][name]:.0f} % |"
        )
    lines += ["", "| operator | share of profiled self CPU time | calls per step |", "|---|---:|---:|"]
    for op in result["top_ops"]:
        lines.append(f"| `{op['op']}` | {100 * op['self_cpu_share']:.1f} % | {op['calls_per_step']:.0f} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", type=Path, help="Arrow dataset directory (default: simulate a small one)."
    )
    parser.add_argument("--model", default="gravityvit/multiview-demo", help="Named configuration.")
    parser.add_argument("--config_overrides", help="JSON dict of config overrides.")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32, help="The demo's per-device batch.")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers (the demo uses 0).")
    parser.add_argument("--trace", type=Path, help="Write a Chrome trace (chrome://tracing, Perfetto).")
    parser.add_argument("--output", type=Path, help="Write the result JSON here.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = json.loads(args.config_overrides) if args.config_overrides else None
    with tempfile.TemporaryDirectory(prefix="gravityvit_profile_") as scratch:
        dataset = args.dataset or make_dataset(Path(scratch), args.batch * (args.steps + args.warmup))
        result = profile_training(
            dataset, args.model, overrides, args.steps, args.warmup, args.batch, args.num_workers, args.trace
        )
    print(report(result))
    print()
    print(result["table"])
    if args.output:
        from gravityvit.file_utils import OutputKind, atomic_path, is_json_document

        # Replaces only an earlier JSON results file.
        with atomic_path(args.output, kind=OutputKind("results JSON", recognise=is_json_document)) as path:
            Path(path).write_text(
                json.dumps({k: v for k, v in result.items() if k != "table"}, indent=2) + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
