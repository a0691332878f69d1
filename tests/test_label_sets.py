"""Label sets: Gravity Spy's v1 and O3 class sets, custom lists, and the configs that carry them."""

from __future__ import annotations

import json

import pytest

from gravityvit import (
    CLASS_NAMES,
    LABEL_SETS,
    O3_CLASS_NAMES,
    GravitySpyCNNConfig,
    GravityViTConfig,
    get_named_config,
    list_named_configs,
    resolve_label_set,
)
from gravityvit.gravity_spy import KNOWN_CLASS_NAMES, describe_label_set, label_set_name


def test_the_o3_set_is_v1_plus_two_classes_minus_none_of_the_above():
    assert LABEL_SETS["v1"] == CLASS_NAMES and len(CLASS_NAMES) == 22
    assert LABEL_SETS["o3"] == O3_CLASS_NAMES and len(O3_CLASS_NAMES) == 23
    assert set(O3_CLASS_NAMES) - set(CLASS_NAMES) == {"Blip_Low_Frequency", "Fast_Scattering"}
    assert set(CLASS_NAMES) - set(O3_CLASS_NAMES) == {"None_of_the_Above"}
    # Both sets are in alphabetical order, as the configs number them.
    assert list(O3_CLASS_NAMES) == sorted(O3_CLASS_NAMES)
    assert O3_CLASS_NAMES.index("Blip_Low_Frequency") == 4 and O3_CLASS_NAMES.index("Fast_Scattering") == 7
    assert set(KNOWN_CLASS_NAMES) == set(CLASS_NAMES) | set(O3_CLASS_NAMES)


def test_resolution_of_names_lists_and_the_default():
    assert resolve_label_set(None) == CLASS_NAMES
    assert resolve_label_set("v1") == CLASS_NAMES
    assert resolve_label_set("o3") == O3_CLASS_NAMES
    assert resolve_label_set(["Koi_Fish", "Blip"]) == ("Koi_Fish", "Blip")  # the order given is kept
    assert resolve_label_set(" Blip, Koi_Fish ") == ("Blip", "Koi_Fish")  # command-line form
    assert label_set_name(O3_CLASS_NAMES) == "o3" and label_set_name(["Blip", "Koi_Fish"]) is None
    assert describe_label_set(O3_CLASS_NAMES) == "label set 'o3' (23 classes)"
    assert describe_label_set(["Blip", "Koi_Fish"]) == "a custom label set of 2 classes"


@pytest.mark.parametrize(
    "label_set, message",
    [
        ("o4", r"unknown label set 'o4': expected one of \['o3', 'v1'\]"),
        ("Blip,Koi_Fish,Blip", r"distinct; \['Blip'\] given more than once"),
        (["Blip"], "at least 2 classes"),
        (["Blip", "Koi Fish"], r"letters, digits, _ or -; got \['Koi Fish'\]"),
        ("Blip,,Koi_Fish", r"got \[''\]"),
    ],
)
def test_bad_label_sets_are_refused_with_the_reason(label_set, message):
    with pytest.raises(ValueError, match=message):
        resolve_label_set(label_set)


@pytest.mark.parametrize("config_class", [GravityViTConfig, GravitySpyCNNConfig])
def test_a_config_takes_a_label_set_and_round_trips(config_class, tmp_path):
    config = config_class(label_set="o3")
    assert config.num_labels == 23 and config.label_set == "o3"
    assert config.id2label[7] == "Fast_Scattering" and config.label2id["Blip_Low_Frequency"] == 4
    config.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["label_set"] == "o3" and len(stored["id2label"]) == 23
    loaded = config_class.from_pretrained(tmp_path)
    assert loaded.label_set == "o3" and loaded.id2label == config.id2label
    assert loaded.label2id == config.label2id

    # The default is v1, and it is written too, so a config.json says which classes it has.
    default = config_class()
    assert default.label_set == "v1" and default.num_labels == 22
    assert default.to_diff_dict()["label_set"] == "v1"


def test_an_explicit_id2label_or_list_of_names_is_a_label_set():
    custom = GravityViTConfig(label_set=["Blip", "Koi_Fish", "Whistle"])
    assert custom.id2label == {0: "Blip", 1: "Koi_Fish", 2: "Whistle"}
    assert custom.label_set == ["Blip", "Koi_Fish", "Whistle"]
    assert GravityViTConfig.from_dict(custom.to_dict()).id2label == custom.id2label
    # An id2label equal to a named set is that set; JSON-style string keys are read in index order.
    by_ids = GravityViTConfig(id2label={str(i): name for i, name in enumerate(O3_CLASS_NAMES)})
    assert by_ids.label_set == "o3"
    # Both given: they must agree.
    assert GravityViTConfig(label_set="o3", id2label=dict(enumerate(O3_CLASS_NAMES))).num_labels == 23
    with pytest.raises(ValueError, match="label_set 'o3' and id2label name different classes"):
        GravityViTConfig(label_set="o3", id2label=dict(enumerate(CLASS_NAMES)))
    with pytest.raises(ValueError, match="unknown label set 'o2'"):
        GravityViTConfig(label_set="o2")


def test_the_label_set_follows_id2label_after_construction(tmp_path):
    config = GravityViTConfig()
    # Assigning the label set (from_pretrained(..., label_set=...) assigns) replaces the classes.
    config.label_set = "o3"
    assert config.num_labels == 23 and config.label2id["Fast_Scattering"] == 7
    # Assigning id2label (a class added to a trained model) makes the set a custom one.
    config.id2label = {**config.id2label, 23: "New_Class"}
    assert config.label_set == [*O3_CLASS_NAMES, "New_Class"]
    config.save_pretrained(tmp_path)
    assert GravityViTConfig.from_pretrained(tmp_path).num_labels == 24
    assert GravityViTConfig.from_pretrained(tmp_path, label_set="v1").id2label == dict(enumerate(CLASS_NAMES))


@pytest.mark.parametrize("name", list_named_configs())
def test_every_named_configuration_takes_a_label_set(name):
    assert get_named_config(name).label_set == "v1"
    config = get_named_config(name, label_set="o3")
    assert config.num_labels == 23 and config.id2label[22] == "Whistle"


def test_a_class_folder_of_either_set_gives_the_true_label_of_its_pngs(tmp_path):
    from PIL import Image

    from gravityvit.pipeline_inputs import expand_inputs

    for folder in ("Fast_Scattering", "None_of_the_Above", "Not_A_Class"):
        for duration in ("0.5", "1.0", "2.0", "4.0"):
            path = tmp_path / folder / f"L1_{folder[:4]}000001_spectrogram_{duration}.png"
            path.parent.mkdir(exist_ok=True)
            Image.new("RGB", (800, 600)).save(path)
    labels = {sample.sample_id: sample.label for sample in expand_inputs(str(tmp_path))}
    assert labels == {"Fast000001": "Fast_Scattering", "None000001": "None_of_the_Above", "Not_000001": None}
