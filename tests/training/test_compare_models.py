"""The comparison table of examples/compare_models.py: mean ± std over seeds of the scores that matter."""

from __future__ import annotations

from gravityvit.training import comparison as compare


def test_markdown_table_mean_and_spread():
    rare = {name: {"f1": 0.5} for name in compare.RARE_CLASSES}
    runs = {
        "GravityViT multi-view": [
            {"seed": 0, "accuracy": 0.9, "macro_f1": 0.8, "per_class": rare},
            {"seed": 1, "accuracy": 1.0, "macro_f1": 1.0, "per_class": rare},
        ],
        "Gravity Spy CNN (merged view)": [{"seed": 0, "accuracy": 0.7, "macro_f1": 0.6, "per_class": rare}],
    }
    table = compare.markdown_table(runs, "data/x", [0, 1])
    lines = table.strip().splitlines()
    assert lines[2].startswith("| model | accuracy | macro-F1 | F1 Paired_Doves |")
    assert "| GravityViT multi-view | 0.950 ± 0.071 | 0.900 ± 0.141 | 0.500 ± 0.000 |" in table
    assert "| Gravity Spy CNN (merged view) | 0.700 ± 0.000 | 0.600 ± 0.000 |" in table
    assert set(compare.PRESETS) == {"cpu", "paper"}
    for named, _ in compare.PRESETS["paper"].values():
        assert named in __import__("gravityvit").list_named_configs()
