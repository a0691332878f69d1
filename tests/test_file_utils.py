from pathlib import Path

import pytest

from gravityvit.file_utils import atomic_path


def test_atomic_file_replaces_target_only_on_success(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

    with atomic_path(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new"


def test_atomic_directory_keeps_existing_on_failure(tmp_path: Path):
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(ValueError), atomic_path(target, directory=True) as temporary:
        (temporary / "part.arrow").write_text("partial")
        raise ValueError("bad sample")
    assert (target / "keep.txt").read_text() == "old"

    with atomic_path(target, directory=True) as temporary:
        (temporary / "data.arrow").write_text("full")
    assert sorted(p.name for p in target.iterdir()) == ["data.arrow"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_atomic_path_refuses_existing_without_overwrite(tmp_path: Path):
    target = tmp_path / "model"
    target.mkdir()
    with (
        pytest.raises(FileExistsError, match="already exists"),
        atomic_path(target, directory=True, overwrite=False),
    ):
        pass


def test_atomic_outputs_get_umask_permissions(tmp_path: Path):
    import os

    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "file.txt") as temporary:
            temporary.write_text("x")
        with atomic_path(tmp_path / "folder", directory=True):
            pass
    finally:
        os.umask(umask)
    assert (tmp_path / "file.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
