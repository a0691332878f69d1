"""Classifiers for ``gravityvit predict`` (torch or ONNX Runtime), and bulk inference over several processes.

``build_pipeline`` makes the glitch-classification pipeline of a ``PredictorSpec``: the torch model,
or its ONNX export run by ONNX Runtime (``backend="onnx"``). ``classify_in_processes`` splits the
samples of a run over ``N`` worker processes (one GPU each, round robin, where CUDA is present;
otherwise the CPU cores shared out) and merges what they return into what one process gives.

The samples are split into jobs of whole batches, in input order: every batch holds the same
samples as in a one-process run, so each sample gets the same scores, and concatenating the jobs'
predictions and failures in job order gives the one-process output exactly, rows in input order.
Samples load lazily from closures that cannot be pickled, so each worker expands the inputs itself
(the expansion is deterministic: sorted folder listings, HDF5 and Arrow order) and classifies the
index ranges of its jobs. Workers start with the ``spawn`` method: no state of the parent (CUDA,
thread pools) is inherited.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

BACKENDS: tuple[str, ...] = ("torch", "onnx")
# Jobs per worker process: more than one so that a slow job (strain to scan, large PNGs) does not
# leave the other processes idle at the end, few enough that each job fills several batches.
JOBS_PER_PROCESS = 4


@dataclasses.dataclass(frozen=True)
class PredictorSpec:
    """What a process needs to build the classifier: the model and how to run it."""

    model: str
    backend: str = "torch"
    onnx_file: str | None = None
    device: str = "auto"
    trust_remote_code: bool = False


def available_cpus() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def build_pipeline(spec: PredictorSpec, *, device: str | None = None, num_threads: int | None = None) -> Any:
    """The glitch-classification pipeline of ``spec`` (its device unless ``device`` is given).

    Raises what the loaders raise: ``HubUnavailableError`` / ``OSError`` / ``ValueError`` for the torch
    model, ``OnnxModelError`` (an ``OSError``) or ``ImportError`` for the ONNX backend.
    """
    from gravityvit.pipelines import GlitchClassificationPipeline, resolve_device

    device = spec.device if device is None else device
    if spec.backend == "onnx":
        from gravityvit.inference.onnx_runtime import OnnxGlitchClassifier

        model, processor = OnnxGlitchClassifier.from_pretrained(
            spec.model,
            spec.onnx_file,
            device=device,
            num_threads=num_threads,
            trust_remote_code=spec.trust_remote_code,
        )
        # Views are prepared on the CPU; ONNX Runtime moves them to its provider's device itself.
        return GlitchClassificationPipeline(model=model, image_processor=processor, device="cpu")
    if spec.backend != "torch":
        raise ValueError(f"unknown backend {spec.backend!r}; expected one of {list(BACKENDS)}")
    from gravityvit.hub import load_model_and_processor

    model, processor = load_model_and_processor(spec.model, trust_remote_code=spec.trust_remote_code)
    return GlitchClassificationPipeline(model=model, image_processor=processor, device=resolve_device(device))


def describe_device(pipe: Any) -> str:
    """Where a pipeline runs, for the summary line: the torch device, or ONNX Runtime's providers."""
    providers = getattr(pipe.model, "providers", None)
    if providers:
        return f"ONNX Runtime ({providers[0]})"
    return str(pipe.device)


def worker_device(device: str, rank: int) -> str:
    """The device of worker ``rank``: CUDA devices round robin for ``auto`` / ``cuda``, else ``device``."""
    import torch

    from gravityvit.pipelines import resolve_device

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{rank % torch.cuda.device_count()}"
    return str(resolve_device(device))


def batch_aligned_jobs(num_samples: int, batch_size: int, num_jobs: int) -> list[tuple[int, int]]:
    """Split ``range(num_samples)`` into at most ``num_jobs`` contiguous (start, end) ranges of whole batches."""
    num_batches = -(-num_samples // batch_size)
    num_jobs = max(1, min(num_jobs, num_batches))
    jobs = []
    for job in range(num_jobs):
        first, last = job * num_batches // num_jobs, (job + 1) * num_batches // num_jobs
        if last > first:
            jobs.append((first * batch_size, min(last * batch_size, num_samples)))
    return jobs


# ---------------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------------

# State of a worker process, set once by ``_start_worker``.
_worker: dict[str, Any] = {}


def _expand_samples(inputs: Sequence[Any]) -> list[Any]:
    """The samples of ``inputs`` as ``gravityvit predict`` expands them (inputs that fail are skipped)."""
    from gravityvit.pipelines import InputError, expand_inputs

    return [item for item in expand_inputs(list(inputs), errors="yield") if not isinstance(item, InputError)]


def _start_worker(
    spec: PredictorSpec, inputs: Sequence[Any], num_samples: int, ranks: Any, num_threads: int
) -> None:
    """Initialise a worker: its rank and device, the thread count, the pipeline and the samples."""
    from gravityvit.file_utils import die_with_parent

    die_with_parent()  # a killed run leaves no worker behind
    import torch

    rank = ranks.get()
    device = worker_device(spec.device, rank)
    if not device.startswith("cuda"):
        # The CPU cores are shared out: N processes with all cores each would oversubscribe them.
        torch.set_num_threads(num_threads)
    samples = _expand_samples(inputs)
    if len(samples) != num_samples:
        raise RuntimeError(
            f"the inputs changed while they were classified: {len(samples)} sample(s) now, {num_samples} before"
        )
    _worker.update(
        pipe=build_pipeline(
            spec, device=device, num_threads=None if device.startswith("cuda") else num_threads
        ),
        samples=samples,
        rank=rank,
    )


def _run_job(job: tuple[int, int], batch_size: int, top_k: int) -> tuple[list[dict], list[tuple[str, str]]]:
    from gravityvit.commands.predict import classify_samples

    start, end = job
    return classify_samples(
        _worker["pipe"], _worker["samples"][start:end], batch_size=batch_size, top_k=top_k
    )


def classify_in_processes(
    inputs: Sequence[Any],
    spec: PredictorSpec,
    num_samples: int,
    *,
    num_processes: int,
    batch_size: int,
    top_k: int,
    on_job_done: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], list[str]]:
    """Classify the ``num_samples`` samples of ``inputs`` in ``num_processes`` spawned worker processes.

    Parameters
    ----------
    inputs : list
        What ``gravityvit predict`` passes to ``expand_inputs`` (paths as strings, strain specs): the
        workers expand them again.
    spec : PredictorSpec
        The classifier each worker builds.
    num_samples : int
        How many samples the parent's expansion found; a worker that finds another count fails.
    on_job_done : callable, optional
        Called with the number of samples of each finished job (a progress bar).

    Returns
    -------
    predictions, failures
        As ``gravityvit.commands.predict.classify_samples`` returns them for all samples at once.
    devices : list of str
        The device of each worker.

    A worker process that dies (killed, out of memory) fails the samples of its unfinished jobs, each
    reported by source with the reason; other errors of a worker (the model cannot be built) are raised.
    """
    jobs = batch_aligned_jobs(num_samples, batch_size, num_processes * JOBS_PER_PROCESS)
    num_processes = max(1, min(num_processes, len(jobs)))
    context = multiprocessing.get_context("spawn")
    ranks = context.Queue()
    for rank in range(num_processes):
        ranks.put(rank)
    num_threads = max(1, available_cpus() // num_processes)
    predictions: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=num_processes,
        mp_context=context,
        initializer=_start_worker,
        initargs=(spec, list(inputs), num_samples, ranks, num_threads),
    ) as pool:
        futures = [pool.submit(_run_job, job, batch_size, top_k) for job in jobs]
        for job, future in zip(jobs, futures):
            try:
                job_predictions, job_failures = future.result()
            except concurrent.futures.process.BrokenProcessPool as error:
                job_predictions, job_failures = [], _lost_job(inputs, job, error)
            predictions.extend(job_predictions)
            failures.extend(job_failures)
            if on_job_done is not None:
                on_job_done(job[1] - job[0])
    devices = [worker_device(spec.device, rank) for rank in range(num_processes)]
    return predictions, failures, devices


def _lost_job(inputs: Sequence[Any], job: tuple[int, int], error: BaseException) -> list[tuple[str, str]]:
    """Failures for the samples of a job whose worker process died."""
    samples = _expand_samples(inputs)[job[0] : job[1]]
    reason = f"the worker process classifying it died ({error or type(error).__name__}); no prediction"
    return [(sample.source, reason) for sample in samples]


__all__ = [
    "BACKENDS",
    "PredictorSpec",
    "batch_aligned_jobs",
    "build_pipeline",
    "classify_in_processes",
    "describe_device",
    "worker_device",
]
