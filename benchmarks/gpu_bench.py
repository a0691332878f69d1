"""GravityViT-B/16 multi-view training and inference on one accelerator: bf16, with and without torch.compile.

Usage (``benchmarks/gpu.sh`` wraps it)::

    python benchmarks/gpu_bench.py [--model gravityvit/multiview-b16] [--batch 64] [--output FILE]
    python benchmarks/gpu_bench.py --dry-run      # tiny model on CPU: checks the script in seconds

For each of ``compile = off, on`` it measures:

- training samples/s (forward + backward + AdamW, bf16 autocast, 4 views per sample) and inference
  samples/s (``inference_mode``, bf16 autocast);
- model FLOPs utilisation (MFU): achieved model FLOP/s over the device's peak dense bf16 FLOP/s.
  The FLOP count is measured with ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass
  (it counts 2 FLOPs per multiply-add; the analytic ViT formula is printed beside it as a check:
  ViT-B/16 at 224 is about 17.6 G multiply-adds = 35 GFLOP forward per view, 4 views per sample);
  a training step counts 3x the forward (backward = 2x forward); recomputation is not counted;
- the peak memory of a training step (``torch.cuda.max_memory_allocated``);
- the largest training batch that fits (doubling, then bisection, catching out-of-memory), without
  compile so that each size does not recompile.

Peak bf16 FLOP/s are looked up from the device name (``PEAK_BF16_TFLOPS``) or given with
``--peak-tflops``; without either (CPU), MFU is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # runs from a checkout without `pip install -e`
    sys.path.insert(0, str(REPO_ROOT))

NUM_VIEWS = 4
# Dense bf16 tensor-core peaks (no sparsity), TFLOP/s, from the vendors' data sheets; matched by substring.
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H200": 989.4,
    "H100 SXM": 989.4,
    "H100 80GB HBM3": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L4": 121.0,
    "A10G": 70.0,
}
# The smoke/dry-run model: one block of width 32 on 32x32 inputs.
TINY_OVERRIDES: dict[str, Any] = {
    "image_size": 32,
    "backbone_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8},
    "conv_stem_channels": None,  # a plain patch embedding, whatever the named configuration has
    "fusion_num_heads": 2,
    "fusion_num_queries": 1,
    "head_hidden_size": 32,
}


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """Peak dense bf16 TFLOP/s of ``device`` (from its name), ``override`` when given, else None."""
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


def analytic_vit_forward_flops(backbone) -> float:
    """Forward FLOPs of one image through a timm ViT (2 per multiply-add), from its dimensions.

    Patch embedding ``2 N (3 p^2) D``; per block ``2 T (4 D^2 + 2 D M)`` for the projections and MLP
    plus ``4 T^2 D`` for the attention products (T tokens incl. prefix, M the MLP width).
    """
    # A convolutional stem (HybridEmbed) is counted as the linear embedding of its token size.
    ratio = getattr(backbone.patch_embed, "feature_ratio", (1, 1))
    patch = [int(p) * int(r) for p, r in zip(backbone.patch_embed.patch_size, ratio)]
    patch_area = patch[0] * patch[1]
    num_patches = backbone.patch_embed.num_patches
    tokens = num_patches + getattr(backbone, "num_prefix_tokens", 1)
    width = backbone.embed_dim
    flops = 2.0 * num_patches * 3 * patch_area * width
    for block in backbone.blocks:
        mlp = block.mlp.fc1.out_features
        flops += 2.0 * tokens * (4 * width * width + 2 * width * mlp) + 4.0 * tokens * tokens * width
    return flops


def counted_forward_flops(model, pixel_values: torch.Tensor, view_mask: torch.Tensor) -> float:
    """FLOPs of one forward pass of ``model`` on these inputs, counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:  # not under no_grad: the module tracker of FlopCounterMode needs autograd
        model(pixel_values=pixel_values, view_mask=view_mask)
    return float(counter.get_total_flops())


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so that wall-clock times are those of the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, dtype: torch.dtype | None):
    """bf16 autocast on ``device``, or nothing for float32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_batch(model, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Random normalised pixel values (batch, 4, 3, H, W), all views present, and labels."""
    height, width = (
        model.config.image_size
        if isinstance(model.config.image_size, list)
        else [model.config.image_size] * 2
    )
    generator = torch.Generator().manual_seed(batch)
    return {
        "pixel_values": torch.randn(batch, NUM_VIEWS, 3, height, width, generator=generator).to(device),
        "view_mask": torch.ones(batch, NUM_VIEWS, dtype=torch.bool, device=device),
        "labels": torch.randint(0, model.config.num_labels, (batch,), generator=generator).to(device),
    }


def make_train_step(model, device: torch.device, dtype: torch.dtype | None, compiled: bool) -> Callable:
    """A training step function (bf16 autocast, AdamW) on ``model``, compiled or not."""
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
    forward = torch.compile(model) if compiled else model

    def step(batch: dict[str, torch.Tensor]) -> None:
        with autocast(device, dtype):
            loss = forward(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def make_inference_step(model, device: torch.device, dtype: torch.dtype | None, compiled: bool) -> Callable:
    """An inference call (inference_mode, bf16 autocast), compiled or not."""
    forward = torch.compile(model) if compiled else model

    def step(batch: dict[str, torch.Tensor]) -> None:
        with torch.inference_mode(), autocast(device, dtype):
            forward(pixel_values=batch["pixel_values"], view_mask=batch["view_mask"])

    return step


def time_steps(
    step: Callable, batch: dict, device: torch.device, warmup: int, steps: int
) -> tuple[float, float]:
    """(seconds per step after warm-up, seconds of the warm-up incl. compilation)."""
    start = time.perf_counter()
    for _ in range(warmup):
        step(batch)
    synchronize(device)
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step(batch)
    synchronize(device)
    return (time.perf_counter() - start) / steps, warmup_s


def peak_memory_mib(device: torch.device) -> float | None:
    """Peak allocated accelerator memory since the last reset, MiB (None on CPU)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return None


def reset_memory(device: torch.device) -> None:
    """Free cached blocks and reset the peak counter."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def is_out_of_memory(error: BaseException) -> bool:
    """True for an accelerator (or host) out-of-memory error."""
    return (
        isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in str(error).lower()
    )


def fits(build_model: Callable, batch: int, device: torch.device, dtype: torch.dtype | None) -> bool:
    """Whether two training steps at ``batch`` run without running out of memory (fresh model)."""
    model = step = data = None
    try:
        model = build_model().to(device).train()
        step = make_train_step(model, device, dtype, compiled=False)
        data = make_batch(model, batch, device)
        for _ in range(2):
            step(data)
        synchronize(device)
        return True
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        return False
    finally:
        del model, step, data
        reset_memory(device)


def largest_batch(
    build_model: Callable, device: torch.device, dtype: torch.dtype | None, start: int, cap: int
) -> tuple[int, bool]:
    """Largest training batch that fits: double from ``start`` until it fails or reaches ``cap``, then bisect.

    Returns (batch, capped): ``capped`` is True when ``cap`` itself fits (the true limit is higher).
    """
    low, high = 0, None
    batch = max(1, start)
    while batch <= cap:
        if fits(build_model, batch, device, dtype):
            low = batch
            if batch == cap:
                return cap, True
            batch = min(cap, batch * 2)
        else:
            high = batch
            break
    if high is None:
        return low, low == cap
    while high - low > 1:
        middle = (low + high) // 2
        if fits(build_model, middle, device, dtype):
            low = middle
        else:
            high = middle
    return low, False


def run(args: argparse.Namespace) -> dict[str, Any]:
    """All measurements; returns a JSON-able dict (see the module docstring)."""
    from gravityvit import GravityViTForGlitchClassification, get_named_config

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = None if args.dtype == "fp32" else torch.bfloat16
    overrides = json.loads(args.config_overrides) if args.config_overrides else {}
    if args.dry_run:
        overrides = {**TINY_OVERRIDES, **overrides}
    config = get_named_config(args.model, **overrides)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    def build_model() -> GravityViTForGlitchClassification:
        torch.manual_seed(0)
        return GravityViTForGlitchClassification(config)

    model = build_model().to(device)
    probe = make_batch(model, 1, device)
    forward_flops_per_sample = counted_forward_flops(model, probe["pixel_values"], probe["view_mask"])
    analytic_per_view = analytic_vit_forward_flops(model.gravityvit.backbone)
    peak = peak_tflops(device, args.peak_tflops)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "model": args.model,
        "config_overrides": overrides,
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "dtype": args.dtype,
        "batch": args.batch,
        "flops": {
            "forward_per_sample_counted": forward_flops_per_sample,
            "backbone_forward_per_view_analytic": analytic_per_view,
            "train_step_per_sample": 3 * forward_flops_per_sample,
            "note": "FlopCounterMode, 2 FLOPs per multiply-add; training = 3x forward",
        },
        "peak_tflops": peak,
        "runs": [],
        "torch": torch.__version__,
    }
    del model
    reset_memory(device)
    for compiled in args.compile_modes:
        model = build_model().to(device)
        batch = make_batch(model, args.batch, device)
        model.train()
        train_step = make_train_step(model, device, dtype, compiled)
        reset_memory(device)
        train_s, train_warmup_s = time_steps(train_step, batch, device, args.warmup, args.steps)
        train_peak = peak_memory_mib(device)
        model.eval()
        infer_step = make_inference_step(model, device, dtype, compiled)
        infer_s, infer_warmup_s = time_steps(infer_step, batch, device, args.warmup, args.steps)
        train_rate, infer_rate = args.batch / train_s, args.batch / infer_s
        run_result = {
            "compile": compiled,
            "train_samples_per_s": train_rate,
            "inference_samples_per_s": infer_rate,
            "train_warmup_s": train_warmup_s,
            "inference_warmup_s": infer_warmup_s,
            "train_peak_memory_mib": train_peak,
            "train_tflops": train_rate * 3 * forward_flops_per_sample / 1e12,
            "inference_tflops": infer_rate * forward_flops_per_sample / 1e12,
        }
        if peak:
            run_result["train_mfu"] = run_result["train_tflops"] / peak
            run_result["inference_mfu"] = run_result["inference_tflops"] / peak
        result["runs"].append(run_result)
        print(json.dumps(run_result), file=sys.stderr, flush=True)
        del model, batch, train_step, infer_step
        reset_memory(device)
    if args.max_batch > 0:
        best, capped = largest_batch(build_model, device, dtype, args.batch, args.max_batch)
        result["largest_train_batch"] = {"batch": best, "capped_at_max": capped, "compile": False}
    return result


def markdown(result: dict[str, Any]) -> str:
    """The results as a markdown table."""
    flops = result["flops"]
    lines = [
        f"Device: {result['device']}; model {result['model']} ({result['parameters_m']:.1f} M parameters), "
        f"{result['dtype']}, batch {result['batch']} samples x 4 views; torch {result['torch']}.",
        f"FLOPs: forward {flops['forward_per_sample_counted'] / 1e9:.1f} GFLOP per sample (counted), "
        f"backbone {flops['backbone_forward_per_view_analytic'] / 1e9:.1f} GFLOP per view (analytic); "
        f"training step = 3x forward; peak {result['peak_tflops'] or 'unknown'} TFLOP/s.",
        "",
        "| compile | train samples/s | train TFLOP/s | train MFU | inference samples/s | inference MFU "
        "| peak train memory (MiB) | warm-up train / inference (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]

    def fmt(value: Any, pattern: str = "{:.2f}") -> str:
        return "-" if value is None else pattern.format(value)

    for run_result in result["runs"]:
        lines.append(
            f"| {'on' if run_result['compile'] else 'off'} | {run_result['train_samples_per_s']:.1f} | "
            f"{run_result['train_tflops']:.2f} | {fmt(run_result.get('train_mfu'), '{:.1%}')} | "
            f"{run_result['inference_samples_per_s']:.1f} | {fmt(run_result.get('inference_mfu'), '{:.1%}')} | "
            f"{fmt(run_result['train_peak_memory_mib'], '{:.0f}')} | "
            f"{run_result['train_warmup_s']:.1f} / {run_result['inference_warmup_s']:.1f} |"
        )
    if "largest_train_batch" in result:
        largest = result["largest_train_batch"]
        lines.append("")
        lines.append(
            f"Largest training batch that fits (no compile): {largest['batch']}"
            + (" (the search cap; more may fit)" if largest["capped_at_max"] else "")
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gravityvit/multiview-b16", help="Named configuration.")
    parser.add_argument("--config_overrides", help="JSON dict of config overrides.")
    parser.add_argument("--batch", type=int, default=64, help="Samples (x4 views) per step.")
    parser.add_argument("--steps", type=int, default=20, help="Timed steps per measurement.")
    parser.add_argument("--warmup", type=int, default=5, help="Untimed steps first (and compilation).")
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--compile", choices=("both", "on", "off"), default="both")
    parser.add_argument(
        "--max-batch", type=int, default=1024, help="Cap of the largest-batch search (0: skip)."
    )
    parser.add_argument("--peak-tflops", type=float, help="Peak dense bf16 TFLOP/s for MFU.")
    parser.add_argument("--device", help="Device (default: cuda when available, else cpu).")
    parser.add_argument("--output", type=Path, help="Write the results JSON here.")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Tiny model, batch 2, 2 steps, no compile, cap 8: checks the script.",
    )
    args = parser.parse_args(argv)
    if args.dry_run:
        args.batch, args.steps, args.warmup = min(args.batch, 2), min(args.steps, 2), min(args.warmup, 1)
        args.max_batch = min(args.max_batch, 8)
        if args.compile == "both":  # compiling needs a C++ toolchain and minutes on a CPU
            args.compile = "off"
    args.compile_modes = {"both": [False, True], "on": [True], "off": [False]}[args.compile]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(markdown(result))
    if args.output:
        from gravityvit.file_utils import OutputKind, atomic_path, is_json_document

        # Replaces only an earlier JSON results file.
        with atomic_path(args.output, kind=OutputKind("results JSON", recognise=is_json_document)) as path:
            Path(path).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
