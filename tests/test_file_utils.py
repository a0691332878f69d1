import os
import subprocess
import sys
from pathlib import Path

import pytest

from gravityvit.file_utils import (
    MARKER_NAME,
    OutputError,
    OutputKind,
    atomic_path,
    check_output,
    directory_of_files,
    read_marker,
    remove_stale_temporaries,
    work_directory,
)

TEXT = OutputKind("text report", recognise=lambda path: path.read_text().startswith("report"))
FOLDER = OutputKind("test folder", directory=True)


def _write_folder(target: Path, files: dict[str, str]) -> None:
    with atomic_path(target, kind=FOLDER) as temporary:
        for name, text in files.items():
            (temporary / name).parent.mkdir(parents=True, exist_ok=True)
            (temporary / name).write_text(text)


def test_atomic_file_replaces_target_only_on_success(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("report: old")
    with pytest.raises(RuntimeError), atomic_path(target, kind=TEXT) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "report: old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

    with atomic_path(target, kind=TEXT) as temporary:
        temporary.write_text("report: new")
    assert target.read_text() == "report: new"


def test_atomic_directory_keeps_existing_on_failure(tmp_path: Path):
    target = tmp_path / "dataset"
    _write_folder(target, {"keep.txt": "old"})
    with pytest.raises(ValueError), atomic_path(target, kind=FOLDER) as temporary:
        (temporary / "part.arrow").write_text("partial")
        raise ValueError("bad sample")
    assert (target / "keep.txt").read_text() == "old"

    _write_folder(target, {"data.arrow": "full"})
    assert sorted(p.name for p in target.iterdir()) == [MARKER_NAME, "data.arrow"]
    assert read_marker(target) == {"format_version": 1, "kind": "test folder", "files": ["data.arrow"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_atomic_path_refuses_existing_without_overwrite(tmp_path: Path):
    target = tmp_path / "model"
    target.mkdir()
    with (
        pytest.raises(FileExistsError, match="already exists"),
        atomic_path(target, kind=FOLDER, overwrite=False),
    ):
        pass


def test_atomic_outputs_get_umask_permissions(tmp_path: Path):
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "file.txt", kind=TEXT) as temporary:
            temporary.write_text("x")
        with atomic_path(tmp_path / "folder", kind=FOLDER):
            pass
    finally:
        os.umask(umask)
    assert (tmp_path / "file.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755


# --- what may stand at an output path (issue: data loss through atomic_path) -------------------------


def _refused(target: Path, kind: OutputKind, match: str, **kwargs) -> None:
    """The block never runs, and nothing beside ``target`` changes."""
    before = sorted(p.name for p in target.parent.iterdir())
    with pytest.raises(OutputError, match=match), atomic_path(target, kind=kind, **kwargs):
        raise AssertionError("the work must not start")
    assert sorted(p.name for p in target.parent.iterdir()) == before


def test_a_foreign_file_is_never_replaced(tmp_path: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    _refused(notes, TEXT, r"notes.txt already exists and is not a text report written by gravityvit")
    _refused(notes, FOLDER, "is a file, not a test folder directory")
    assert notes.read_text() == "my notes"


def test_a_foreign_directory_is_never_replaced(tmp_path: Path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    _refused(project, FOLDER, f"has no {MARKER_NAME}")
    _refused(project, TEXT, "is a directory, not a text report file")
    assert (project / "notes.txt").read_text() == "mine"


def test_an_output_with_a_file_added_by_the_user_is_not_replaced(tmp_path: Path):
    target = tmp_path / "out"
    _write_folder(target, {"a.txt": "1", "sub/b.txt": "2"})
    (target / "sub" / "notes.txt").write_text("mine")
    _refused(target, FOLDER, r"holds files that were not written with the test folder: sub/notes.txt")


def test_files_that_tools_derive_inside_an_output_belong_to_it(tmp_path: Path):
    kind = OutputKind("dataset", directory=True, derived=("*/cache-*.arrow",))
    target = tmp_path / "arrow"
    with atomic_path(target, kind=kind) as temporary:
        (temporary / "train").mkdir()
        (temporary / "train" / "data.arrow").write_text("rows")
    (target / "train" / "cache-0123.arrow").write_text("mapped")  # e.g. datasets' map cache
    with atomic_path(target, kind=kind) as temporary:
        (temporary / "new.arrow").write_text("rows")
    assert sorted(p.name for p in target.iterdir()) == [MARKER_NAME, "new.arrow"]


def test_an_output_of_another_kind_is_not_replaced(tmp_path: Path):
    target = tmp_path / "out"
    _write_folder(target, {"a.txt": "1"})
    other = OutputKind("model directory", directory=True)
    _refused(target, other, "holds a 'test folder' output, not a model directory")


def test_an_unmarked_output_is_recognised_by_its_files(tmp_path: Path):
    kind = OutputKind("report", directory=True, recognise=directory_of_files("*.json", required=("m.json",)))
    target = tmp_path / "report"
    target.mkdir()
    (target / "m.json").write_text("{}")
    with atomic_path(target, kind=kind) as temporary:
        (temporary / "m.json").write_text("[]")
    assert (target / "m.json").read_text() == "[]"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "m.json").write_text("{}")
    (tmp_path / "old" / "notes.txt").write_text("mine")
    _refused(tmp_path / "old", kind, "has no")


def test_an_input_inside_the_output_is_refused(tmp_path: Path):
    target = tmp_path / "proj"
    _write_folder(target, {"sim.h5": "data"})
    _refused(target, FOLDER, "proj holds the input .*sim.h5", inputs=[target / "sim.h5"])
    _refused(target, FOLDER, "holds the input", inputs=[target])


def test_the_working_directory_and_roots_are_refused(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="is the working directory"):
        check_output(".", FOLDER)
    with pytest.raises(OutputError, match="working directory"):
        check_output("..", FOLDER)
    with pytest.raises(OutputError, match="file-system root"):
        check_output("/", FOLDER)
    assert list(tmp_path.iterdir()) == []  # no hidden "..tmp-*" left behind


def test_a_symbolic_link_is_not_replaced(tmp_path: Path):
    (tmp_path / "real.txt").write_text("report: mine")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    _refused(tmp_path / "link.txt", TEXT, "is a symbolic link")


def test_empty_outputs_may_be_replaced(tmp_path: Path):
    (tmp_path / "new").mkdir()
    _write_folder(tmp_path / "new", {"a.txt": "1"})
    (tmp_path / "empty.txt").touch()
    with atomic_path(tmp_path / "empty.txt", kind=TEXT) as temporary:
        temporary.write_text("report")
    assert (tmp_path / "empty.txt").read_text() == "report"


# --- leftovers of killed runs ------------------------------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path: Path):
    target = tmp_path / "arrow"
    dead = _dead_pid()
    stale = [tmp_path / f".arrow.tmp-{dead}-abc", tmp_path / f".arrow.work-{dead}-def"]
    for path in stale:
        path.mkdir()
        (path / "part").write_text("x")
    running = tmp_path / f".arrow.work-{os.getpid()}-ghi"  # a run in progress: kept
    running.mkdir()
    foreign = tmp_path / ".arrow.tmp-notes"  # not a name of ours: kept
    foreign.write_text("mine")
    with work_directory(target) as work:
        assert work.name.startswith(f".arrow.work-{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, foreign.name])


def test_a_stale_backup_is_restored_when_the_output_is_missing(tmp_path: Path):
    dead = _dead_pid()
    backup = tmp_path / f".arrow.old-{dead}-x"
    backup.mkdir()
    (backup / "data").write_text("earlier output")
    remove_stale_temporaries(tmp_path / "arrow")
    assert (tmp_path / "arrow" / "data").read_text() == "earlier output"
    assert not backup.exists()
