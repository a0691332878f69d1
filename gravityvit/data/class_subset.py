"""Leave classes out of a converted dataset: the rows of the kept classes, relabelled to those classes.

Open-set and add-class experiments train without some classes; the converted Arrow dataset is
simulated (or downloaded) once and subset here, rather than simulated again per left-out class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def keep_classes(dataset: Any, classes: Sequence[str], splits: Sequence[str] | None = None) -> Any:
    """Return ``dataset`` with only the rows of ``classes``, its ``label`` a ClassLabel of ``classes``.

    Parameters
    ----------
    dataset : datasets.DatasetDict or datasets.Dataset
        A converted dataset whose ``label`` column is a ClassLabel.
    classes : sequence of str
        The classes to keep, in the order of the new label ids.
    splits : sequence of str, optional
        For a DatasetDict, the splits to subset (default all); the others are returned unchanged.

    Raises
    ------
    ValueError
        For a class the dataset does not have, repeated classes, or a label column that is not a
        ClassLabel.
    """
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        chosen = set(dataset) if splits is None else set(splits)
        missing = sorted(chosen - set(dataset))
        if missing:
            raise ValueError(f"the dataset has no split {missing}; it has {sorted(dataset)}")
        return datasets.DatasetDict(
            {
                name: keep_classes(split, classes) if name in chosen else split
                for name, split in dataset.items()
            }
        )
    feature = dataset.features.get("label")
    if not isinstance(feature, datasets.ClassLabel):
        raise ValueError(f"the label column must be a ClassLabel; got {feature!r}")
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct and not empty; got {classes}")
    unknown = sorted(set(classes) - set(feature.names))
    if unknown:
        raise ValueError(f"the dataset has no class {unknown}; its classes are {feature.names}")
    new_id = {feature.names.index(name): index for index, name in enumerate(classes)}
    kept = dataset.filter(
        lambda labels: [label in new_id for label in labels], input_columns="label", batched=True
    )
    new_features = kept.features.copy()
    new_features["label"] = datasets.ClassLabel(names=classes)
    return kept.map(
        lambda labels: {"label": [new_id[label] for label in labels]},
        input_columns="label",
        batched=True,
        features=new_features,
    )


__all__ = ["keep_classes"]
