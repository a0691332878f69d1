"""The Gravity Spy contract's helpers: duration matching, view positions and the PNG file-name pattern."""

from __future__ import annotations

import pytest

from gravityvit import gravity_spy
from gravityvit.gravity_spy import PNG_NAME_PATTERN, VIEW_DURATIONS_S, match_duration, view_position


def test_durations_match_within_the_tolerance():
    assert match_duration(1, [0.5, 1.0, 2.0]) == 1
    assert match_duration("2.0", VIEW_DURATIONS_S) == 2
    assert match_duration(1.0 + 1e-7, VIEW_DURATIONS_S) == 1
    assert match_duration(1.01, VIEW_DURATIONS_S) is None
    assert match_duration(4.0, []) is None


def test_view_position_is_the_place_among_the_four_gravity_spy_views():
    assert [view_position(d) for d in VIEW_DURATIONS_S] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"unknown view duration 3\.0 s"):
        view_position(3.0)


def test_one_png_name_pattern():
    from gravityvit.data import png

    assert png.PNG_NAME_PATTERN is gravity_spy.PNG_NAME_PATTERN
    match = PNG_NAME_PATTERN.match("H1_zm_Id_puc_spectrogram_0.5.png")
    assert (match["ifo"], match["gravityspy_id"], match["duration"]) == ("H1", "zm_Id_puc", "0.5")
    assert PNG_NAME_PATTERN.match("zmIdpucyOG_1.0.png") is None


def test_the_pipeline_input_names_are_importable_from_the_pipelines_module():
    from gravityvit import pipeline_inputs, pipelines

    for name in pipeline_inputs.__all__:
        assert getattr(pipelines, name) is getattr(pipeline_inputs, name)
