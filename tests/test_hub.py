"""The Hub: a round trip through a real Hub-compatible server (olah, offline mode, local git repos),
loading again from the cache with HF_HUB_OFFLINE=1, push_to_hub up to its commit, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import run_python, save_tiny, tiny_gravityvit
from safetensors.numpy import load as load_safetensors

from gravityvit.hub import HubUnavailableError, check_hub_access, push_model_to_hub, save_shareable_model

MODEL_ID = "gravityvit/multiview-b16"
DATASET_ID = "gravityvit/gravityspy"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _git_repo(directory: Path) -> None:
    """Commit everything in ``directory`` on branch main (olah serves local mirrors from git)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "upload"]):
        subprocess.run(["git", *command], cwd=directory, check=True, env=env, capture_output=True)


def _dataset_repo(directory: Path) -> None:
    """A tiny Gravity Spy dataset as Parquet with a README (olah needs a README for a dataset repo)."""
    from datasets import Dataset

    from gravityvit.data.arrow import gravityspy_features
    from gravityvit.gravity_spy import IMAGE_COLUMNS, view_to_image

    rng = np.random.default_rng(0)
    (directory / "data").mkdir(parents=True)
    for split, count in (("train", 3), ("test", 2)):
        rows = {
            "gravityspy_id": [f"{split}{i:06d}" for i in range(count)],
            "label": [3] * count,
            "ifo": ["H1"] * count,
        }
        for column in IMAGE_COLUMNS:
            rows[column] = [view_to_image(rng.random((140, 170), dtype=np.float32)) for _ in range(count)]
        Dataset.from_dict(rows, features=gravityspy_features()).to_parquet(
            directory / "data" / f"{split}-00000-of-00001.parquet"
        )
    (directory / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# Gravity Spy (tiny test copy)\n")


@pytest.fixture(scope="module")
def olah_server(tmp_path_factory):
    """Start olah on 127.0.0.1 (offline mode) serving a model and a dataset repo; yield its URL."""
    pytest.importorskip("olah")
    if shutil.which("git") is None:
        pytest.skip("git is needed to build the repositories olah serves")
    root = tmp_path_factory.mktemp("olah")
    model_repo = root / "mirrors" / "models" / MODEL_ID
    save_tiny(model_repo)
    # olah (0.5.4, offline) answers RepoNotFound, not EntryNotFound, for a file missing from a local
    # mirror, and transformers gives up on RepoNotFound; AutoImageProcessor probes processor_config.json
    # before preprocessor_config.json, so the test repo carries an empty one (the Hub answers 404).
    (model_repo / "processor_config.json").write_text("{}\n")
    _git_repo(model_repo)
    dataset_repo = root / "mirrors" / "datasets" / DATASET_ID
    _dataset_repo(dataset_repo)
    _git_repo(dataset_repo)

    port = _free_port()
    config = root / "olah.toml"
    config.write_text(
        textwrap.dedent(f"""
        [basic]
        host = "127.0.0.1"
        port = {port}
        repos-path = "{root / "cache"}"
        mirrors-path = ["{root / "mirrors"}"]
        mirror-netloc = "127.0.0.1:{port}"
        mirror-lfs-netloc = "127.0.0.1:{port}"
        [accessibility]
        offline = true
        """)
    )
    command = [sys.executable, "-c", "from olah.server import cli; cli()", "-c", str(config)]
    server = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"{url}/api/models/{MODEL_ID}/revision/main", timeout=2
                ) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"olah did not start (exit code {server.poll()})")
            time.sleep(0.3)
        yield {"url": url, "server": server, "hf_home": root / "hf_home"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


LOAD_EVERYTHING = f"""
import json, numpy as np, torch
import gravityvit, gravityvit.pipelines
from datasets import load_dataset
from transformers import AutoModelForImageClassification, pipeline
from gravityvit import GravityViTForGlitchClassification
from gravityvit.hub import HubUnavailableError, check_hub_access

source = check_hub_access({MODEL_ID!r})
model = GravityViTForGlitchClassification.from_pretrained({MODEL_ID!r}).eval()
auto = AutoModelForImageClassification.from_pretrained({MODEL_ID!r}).eval()
views = {{d: np.full((140, 170), 0.25 * (i + 1), np.float32) for i, d in enumerate((0.5, 1.0, 2.0, 4.0))}}
glitch = pipeline("glitch-classification", model={MODEL_ID!r}, trust_remote_code=True)
stock = pipeline("image-classification", model={MODEL_ID!r})
inputs = glitch.image_processor(views, return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
    assert torch.equal(logits, auto(**inputs).logits)
dataset = load_dataset({DATASET_ID!r})
try:
    check_hub_access("gravityvit/not-a-model")
    missing = None
except HubUnavailableError as error:
    missing = str(error)
print(json.dumps({{
    "source": source,
    "logits": logits[0].tolist(),
    "glitch": glitch(views, top_k=3),
    "stock": stock(np.concatenate([np.concatenate([views[0.5], views[1.0]], 1),
                                   np.concatenate([views[2.0], views[4.0]], 1)]), top_k=3),
    "splits": {{split: len(dataset[split]) for split in dataset}},
    "label": dataset["train"].features["label"].int2str(dataset["train"][0]["label"]),
    "image_shape": list(np.asarray(dataset["train"][0]["image_1000ms"]).shape),
    "missing": missing,
}}))
"""


@pytest.mark.slow
def test_round_trip_through_olah_then_offline_cache(olah_server):
    online = {
        "HF_ENDPOINT": olah_server["url"],
        "HF_HOME": str(olah_server["hf_home"]),
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
    }
    first = json.loads(run_python(LOAD_EVERYTHING, env=online).stdout.strip().splitlines()[-1])
    assert first["source"] == "hub"
    assert first["splits"] == {"train": 3, "test": 2} and first["label"] == "Blip"
    assert first["image_shape"] == [140, 170]
    assert "not found" in first["missing"] and "gravityvit/not-a-model" in first["missing"]
    assert len(first["glitch"]["top_k"]) == 3 and set(first["glitch"]["view_weights"]) == {
        "0.5",
        "1.0",
        "2.0",
        "4.0",
    }
    assert len(first["stock"]) == 3

    olah_server["server"].terminate()  # from here on, only the cache can answer
    olah_server["server"].wait(timeout=10)
    offline = {**online, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    second = json.loads(run_python(LOAD_EVERYTHING, env=offline).stdout.strip().splitlines()[-1])
    assert second["source"] == "cache"
    np.testing.assert_allclose(second["logits"], first["logits"], atol=1e-6)
    assert second["glitch"]["top_k"][0]["label"] == first["glitch"]["top_k"][0]["label"]
    assert second["splits"] == first["splits"]
    assert "not reachable (offline / HF_HUB_OFFLINE=1)" in second["missing"]


def test_unreachable_endpoint_fails_fast_with_a_clear_message(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    start = time.monotonic()
    with pytest.raises(HubUnavailableError) as error:
        check_hub_access(MODEL_ID)
    assert time.monotonic() - start < 10  # one short attempt, not a stack of retries
    message = str(error.value)
    assert f"{MODEL_ID} is not reachable at http://127.0.0.1:" in message
    assert "not in the local cache" in message and f"get_named_config({MODEL_ID!r})" in message


def test_offline_errors_and_local_paths(tmp_path):
    with pytest.raises(HubUnavailableError, match=r"not reachable \(offline / HF_HUB_OFFLINE=1\)"):
        check_hub_access(MODEL_ID)
    with pytest.raises(HubUnavailableError, match="local dataset directory"):
        check_hub_access(DATASET_ID, repo_type="dataset")
    assert check_hub_access(tmp_path) == "local"
    with pytest.raises(FileNotFoundError, match="not a directory"):
        check_hub_access(tmp_path / "missing")


def test_push_to_hub_commit_contents(monkeypatch):
    from huggingface_hub import HfApi

    captured: dict = {}

    def fake_create_repo(self, repo_id, **kwargs):
        captured["repo"] = repo_id

    def fake_create_commit(self, repo_id, operations, commit_message, **kwargs):
        captured["files"] = {}
        for operation in operations:
            with operation.as_file() as handle:
                captured["files"][operation.path_in_repo] = handle.read()
        captured["message"] = commit_message
        return "commit-info"

    monkeypatch.setattr(HfApi, "create_repo", fake_create_repo)
    monkeypatch.setattr(HfApi, "create_commit", fake_create_commit)
    model, processor = tiny_gravityvit()
    card = "---\nlibrary_name: transformers\n---\n# GravityViT test card\n"
    assert (
        push_model_to_hub(model, "someone/gravityvit-test", image_processor=processor, model_card=card)
        == "commit-info"
    )

    files = captured["files"]
    assert captured["repo"] == "someone/gravityvit-test"
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= set(files)
    assert {"modeling_gravityvit.py", "configuration_gravityvit.py", "image_processing_gravityvit.py"} <= set(
        files
    )
    assert {"gravity_spy.py", "pipelines.py"} <= set(files)
    config = json.loads(files["config.json"])
    assert config["model_type"] == "gravityvit"
    assert (
        config["auto_map"]["AutoModelForImageClassification"]
        == "modeling_gravityvit.GravityViTForGlitchClassification"
    )
    assert config["custom_pipelines"]["glitch-classification"]["pt"] == ["AutoModelForImageClassification"]
    assert json.loads(files["preprocessor_config.json"])["auto_map"]["AutoImageProcessor"].startswith(
        "image_processing_gravityvit."
    )
    assert files["README.md"].decode() == card
    weights = load_safetensors(files["model.safetensors"])
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    assert set(weights) == set(state)
    for name, value in state.items():
        np.testing.assert_array_equal(weights[name], value)
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in files)


def test_save_shareable_model_leaves_the_model_as_it_was(tmp_path):
    model, processor = tiny_gravityvit()
    model.train()
    directory = save_shareable_model(model, tmp_path / "out", image_processor=processor, model_card="# c\n")
    # still in training mode, on its device, and no custom_pipelines entry left in its config
    assert model.training and "custom_pipelines" not in model.config.to_dict()
    assert "custom_pipelines" in json.loads((directory / "config.json").read_text())
    with pytest.raises(FileExistsError):
        save_shareable_model(model, directory, image_processor=processor)
    assert (directory / "README.md").read_text() == "# c\n"
