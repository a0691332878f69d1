"""``import gravityvit`` and the command line stay light; the Auto classes are registered when used.

Each check runs in a fresh interpreter, where ``sys.modules`` shows what an import really pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gravityvit

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ("torch", "transformers", "timm", "datasets", "numpy", "PIL")


def run_python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_and_argument_errors_import_no_heavy_module():
    result = run_python(
        f"""
        import contextlib, io, json, sys
        import gravityvit
        after_import = sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules)
        from gravityvit import cli
        codes = []
        for argv in (["--help"], ["predict", "--help"], ["predict"], ["convert", "--hdf5"]):
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                try:
                    cli.main(argv)
                except SystemExit as exit:
                    codes.append(exit.code)
        after_cli = sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules)
        print(json.dumps({{"after_import": after_import, "after_cli": after_cli, "codes": codes}}))
        """
    )
    assert result["after_import"] == []
    assert result["after_cli"] == []
    assert result["codes"] == [0, 0, 2, 2]


def test_help_through_the_module_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "gravityvit.cli", "--help"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr
    for command in ("download", "simulate", "scan", "convert", "predict"):
        assert command in done.stdout


def test_every_public_name_resolves_and_is_listed():
    assert set(gravityvit.__all__) == set(gravityvit._EXPORTS)
    for name in gravityvit.__all__:
        assert getattr(gravityvit, name) is not None, name
        assert name in dir(gravityvit)
    assert gravityvit.GravityViTConfig.__module__ == "gravityvit.configuration_gravityvit"


def test_unknown_name_raises_attribute_error():
    try:
        gravityvit.NotAName  # noqa: B018
    except AttributeError as error:
        assert "NotAName" in str(error)
    else:
        raise AssertionError("gravityvit.NotAName did not raise")


@pytest.mark.slow  # a fresh interpreter importing transformers' pipelines: about 11 s
def test_import_gravityvit_then_transformers_registers_the_auto_classes_and_the_task():
    result = run_python(
        """
        import json, sys
        import gravityvit
        light = "torch" not in sys.modules
        from transformers import AutoConfig, pipeline
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING
        from transformers.pipelines import PIPELINE_REGISTRY
        config = AutoConfig.for_model("gravityvit")
        print(json.dumps({
            "light": light,
            "config": type(config).__name__,
            "cnn": "gravityspy_cnn" in CONFIG_MAPPING,
            "model": MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING[type(config)].__name__,
            "task": "glitch-classification" in PIPELINE_REGISTRY.supported_tasks,
        }))
        """
    )
    assert result == {
        "light": True,
        "config": "GravityViTConfig",
        "cnn": True,
        "model": "GravityViTForGlitchClassification",
        "task": True,
    }


def test_export_table_maps_names_to_submodules_and_refuses_ambiguity():
    from gravityvit.lazy_exports import export_table

    table = """
    # a comment line
    hdf5: GravitySpyDataError read_metadata_csv  # a trailing comment
    hdf5: validate_views
    png: GravitySpyPNGReader
    """
    assert export_table(table) == {
        "GravitySpyDataError": "hdf5",
        "read_metadata_csv": "hdf5",
        "validate_views": "hdf5",
        "GravitySpyPNGReader": "png",
    }
    with pytest.raises(ValueError, match="read_png_view is listed under png and arrow"):
        export_table("png: read_png_view\narrow: read_png_view")
    with pytest.raises(ValueError, match="expected 'submodule: Name"):
        export_table("hdf5 GravitySpyDataError")
