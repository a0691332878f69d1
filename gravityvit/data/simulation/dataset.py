"""Simulated data sets: the plan (class counts, stratified splits, per-sample seeds) and the writer.

:func:`simulate_dataset` simulates the planned samples, in one or more processes with the same
result, into the Zenodo HDF5 layout with a metadata CSV.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gravityvit import gravity_spy
from gravityvit.data.simulation.constants import IFO_PROBABILITIES
from gravityvit.data.simulation.noise import noise_reference
from gravityvit.data.simulation.sample import simulate_sample

SPLIT_FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
ID_ALPHABET = string.ascii_letters + string.digits


def make_gravityspy_id(rng: np.random.Generator) -> str:
    """A 10-character [A-Za-z0-9] id like Gravity Spy's (e.g. ``zmIdpucyOG``)."""
    return "".join(rng.choice(list(ID_ALPHABET), size=10))


@dataclass(frozen=True)
class SampleJob:
    """One sample to simulate: its class, split and the entropy its randomness derives from."""

    label: str
    sample_type: str
    entropy: tuple[int, ...]


def class_counts(
    samples_per_class: int | None = None,
    *,
    like_v1d1: bool = False,
    scale: float = 1.0,
    classes: Sequence[str] | None = None,
    label_set: str = "v1",
) -> dict[str, int]:
    """Samples per class: ``samples_per_class`` each, or the v1d1 counts times ``scale``.

    With ``like_v1d1`` each count is ``round(count * scale)`` (half to even), at least 1, so every
    class is present at any scale. ``classes`` keeps only those classes (default: all of the label
    set, ``"v1"``'s 22 or ``"o3"``'s 23; v1d1 counts exist for ``"v1"`` only).
    """
    names = simulated_label_set(label_set)
    if classes is not None:
        unknown = sorted(set(classes) - set(names))
        if unknown:
            raise ValueError(f"unknown Gravity Spy classes {unknown}; expected names from {names}")
        counts = class_counts(samples_per_class, like_v1d1=like_v1d1, scale=scale, label_set=label_set)
        return {name: count for name, count in counts.items() if name in set(classes)}
    if like_v1d1 == (samples_per_class is not None):
        raise ValueError("give either samples_per_class or like_v1d1=True (with an optional scale)")
    if like_v1d1:
        if names != gravity_spy.CLASS_NAMES:
            raise ValueError(
                "like_v1d1 gives the v1d1 counts of the v1 classes; use samples_per_class for o3"
            )
        if not scale > 0:
            raise ValueError(f"scale must be positive; got {scale!r}")
        return {name: max(1, round(count * scale)) for name, count in gravity_spy.V1D1_CLASS_COUNTS.items()}
    if int(samples_per_class) < 1:
        raise ValueError(f"samples_per_class must be at least 1; got {samples_per_class!r}")
    return dict.fromkeys(names, int(samples_per_class))


def simulated_label_set(label_set: str) -> tuple[str, ...]:
    """The classes of a named label set that the simulator draws: ``"v1"`` or ``"o3"``."""
    if label_set not in gravity_spy.LABEL_SETS:
        raise ValueError(
            f"the simulator draws the label sets {sorted(gravity_spy.LABEL_SETS)}; got {label_set!r}"
        )
    return gravity_spy.LABEL_SETS[label_set]


def split_sizes(count: int) -> dict[str, int]:
    """Stratified 70/15/15 sizes of one class: validation and test round to nearest, train takes the rest."""
    validation = int(np.floor(count * SPLIT_FRACTIONS["validation"] + 0.5))
    test = int(np.floor(count * SPLIT_FRACTIONS["test"] + 0.5))
    if validation + test >= count:  # tiny classes keep at least one training sample
        validation, test = (0, 0) if count < 3 else (1, 1)
    return {"train": count - validation - test, "validation": validation, "test": test}


def plan_dataset(counts: dict[str, int], seed: int, label_set: str = "v1") -> list[SampleJob]:
    """The samples of a data set in writing order (class order, then index), with their splits.

    Each sample's entropy is ``(seed, class index in the label set, index in class)``, so a sample
    does not depend on the number of samples of other classes, nor on how many processes simulate them.
    """
    jobs = []
    for class_index, label in enumerate(simulated_label_set(label_set)):
        count = counts.get(label, 0)
        if count <= 0:
            continue
        sizes = split_sizes(count)
        types = np.array(
            ["train"] * sizes["train"] + ["validation"] * sizes["validation"] + ["test"] * sizes["test"]
        )
        types = types[np.random.default_rng([seed, class_index, 2**31 - 1]).permutation(count)]
        jobs.extend(SampleJob(label, str(types[j]), (int(seed), class_index, j)) for j in range(count))
    return jobs


def simulate_job(job: SampleJob) -> Any:
    """Simulate one planned sample into a ``GravitySpySample`` (id, views, ifo, metadata)."""
    from gravityvit.data.hdf5 import GravitySpySample

    id_sequence, sample_sequence = np.random.SeedSequence(list(job.entropy)).spawn(2)
    gravityspy_id = make_gravityspy_id(np.random.default_rng(id_sequence))
    views, metadata = simulate_sample(job.label, np.random.default_rng(sample_sequence))
    ifo = metadata.pop("ifo")
    return GravitySpySample(gravityspy_id, job.label, job.sample_type, views, ifo, metadata)


def _simulated(jobs: Sequence[SampleJob], num_proc: int) -> Iterator[Any]:
    if num_proc <= 1:
        yield from map(simulate_job, jobs)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    if method == "fork":
        # Import the front end and calibrate the noise once here; forked workers inherit both.
        import gravityvit.data.omega  # noqa: F401

        for ifo in IFO_PROBABILITIES:
            noise_reference(ifo)
    with concurrent.futures.ProcessPoolExecutor(
        num_proc, mp_context=multiprocessing.get_context(method)
    ) as pool:
        # map keeps the order of jobs, so the file is the same for any number of processes.
        yield from pool.map(simulate_job, jobs, chunksize=4)


def default_metadata_csv(output_h5: str | os.PathLike) -> Path:
    """``sim.h5`` -> ``sim_metadata.csv`` beside it (as ``trainingset_v1d1_metadata.csv``)."""
    output_h5 = Path(output_h5)
    return output_h5.with_name(f"{output_h5.stem}_metadata.csv")


def simulate_dataset(
    output_h5: str | os.PathLike,
    *,
    samples_per_class: int | None = None,
    like_v1d1: bool = False,
    scale: float = 1.0,
    seed: int = 0,
    num_proc: int = 1,
    metadata_csv: str | os.PathLike | None = None,
    progress: bool = True,
    classes: Sequence[str] | None = None,
    label_set: str = "v1",
) -> Path:
    """Simulate a Gravity Spy training set and write it in the Zenodo HDF5 layout with a metadata CSV.

    Parameters
    ----------
    output_h5 : path
        HDF5 file to write (atomically: it appears only when complete).
    samples_per_class : int, optional
        Samples of each of the 22 classes.
    like_v1d1 : bool
        Instead, the v1d1 class counts times ``scale`` (each at least 1).
    scale : float
        Multiplier of the v1d1 counts.
    seed : int
        Seed of everything; the same seed gives the same file contents for any ``num_proc``.
    num_proc : int
        Worker processes.
    metadata_csv : path, optional
        The CSV to write; default ``<output stem>_metadata.csv`` beside the HDF5 file.
    progress : bool
        Show a progress bar.
    classes : sequence of str, optional
        Simulate only these classes (default: all of the label set).
    label_set : {"v1", "o3"}
        The classes: v1's 22 (default) or the 23 of Gravity Spy's O3 model (v1's without
        None_of_the_Above, with Blip_Low_Frequency and Fast_Scattering).

    Returns
    -------
    Path
        ``output_h5``.
    """
    from tqdm.auto import tqdm

    from gravityvit.data.hdf5 import GravitySpyHDF5Writer

    counts = class_counts(
        samples_per_class, like_v1d1=like_v1d1, scale=scale, classes=classes, label_set=label_set
    )
    jobs = plan_dataset(counts, int(seed), label_set)
    metadata_csv = Path(metadata_csv) if metadata_csv is not None else default_metadata_csv(output_h5)
    seen: set[str] = set()
    with GravitySpyHDF5Writer(output_h5, metadata_csv=metadata_csv) as writer:
        samples = _simulated(jobs, max(1, int(num_proc)))
        for sample in tqdm(samples, total=len(jobs), desc="simulate", unit="sample", disable=not progress):
            while sample.gravityspy_id in seen:  # 62^10 ids: a clash is a curiosity, but stay deterministic
                sample.gravityspy_id = make_gravityspy_id(
                    np.random.default_rng(list(map(ord, sample.gravityspy_id)))
                )
            seen.add(sample.gravityspy_id)
            writer.write(sample)
    return Path(output_h5)
