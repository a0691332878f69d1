"""Safe outputs: nothing the user owns is ever deleted, and a failed run leaves nothing half written.

Everything the package writes (HDF5 files, Arrow datasets, model directories, reports, predictions)
goes through :func:`atomic_path`: the output is built in a temporary sibling and renamed into place
only when complete (a rename within one directory is atomic on POSIX file systems). What may stand
at the output path before is restricted by :func:`check_output`, which runs before any work:

- nothing, an empty directory or an empty file;
- or an earlier output of the same :class:`OutputKind`, and only when overwriting is allowed. A
  directory output carries a marker (``.gravityvit-output.json``) that names its kind and lists the
  files written with it: a directory that holds any other file (notes, an input, a model) is
  refused. A file output is recognised by its content (``OutputKind.recognise``).

Anything else raises :class:`OutputError` naming the path. An input may never lie inside the
output that would replace it, and the working directory is never replaced.

Runs killed with SIGKILL leave their temporary siblings behind (``.NAME.tmp-PID-*``,
``.NAME.work-PID-*``); the next run for the same output removes those whose process is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

# Written inside every directory output: its kind and the files written with it.
MARKER_NAME = ".gravityvit-output.json"
MARKER_FORMAT_VERSION = 1
# The temporary siblings of an output: ``.NAME.<tag>-<pid>-<random>``.
_TEMPORARY_TAGS = ("tmp", "work", "old")
# Files named in refusal messages, at most.
_LISTED_FILES = 5


class OutputError(FileExistsError):
    """An output path holds something that the run must not replace; the message names it and says why."""


@dataclasses.dataclass(frozen=True)
class OutputKind:
    """What an output is, so that an existing path is replaced only by a newer output of the same kind.

    Attributes
    ----------
    name : str
        Human name used in messages and in the directory marker, e.g. ``"Arrow dataset"``.
    directory : bool
        Whether the output is a directory (else a file).
    recognise : callable, optional
        ``recognise(path) -> bool``: whether an existing ``path`` is an earlier output of this kind,
        judged by its content. Required to replace a file output; for a directory it recognises
        outputs written before markers existed, and must then make sure the directory holds only
        files of this kind.
    derived : tuple of str
        Patterns (``PurePath.match``) of files that other tools create inside a directory output and
        that belong to it, e.g. the ``cache-*.arrow`` files ``datasets`` writes beside a split.
    """

    name: str
    directory: bool = False
    recognise: Callable[[Path], bool] | None = dataclasses.field(default=None, compare=False)
    derived: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------
# Recognisers shared by several kinds
# ---------------------------------------------------------------------------------------------------


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a file, or ``b""`` when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def json_with_keys(*keys: str) -> Callable[[Path], bool]:
    """A recogniser: a JSON object (of at most 64 MiB) holding every key of ``keys``."""

    def recognise(path: Path) -> bool:
        try:
            if path.stat().st_size > 64 << 20:
                return False
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(document, dict) and all(key in document for key in keys)

    return recognise


def is_json_document(path: Path) -> bool:
    """A recogniser: any JSON document (of at most 64 MiB), e.g. a results file."""
    try:
        if path.stat().st_size > 64 << 20:
            return False
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def csv_with_header(*columns: str) -> Callable[[Path], bool]:
    """A recogniser: a CSV file whose header line starts with ``columns``."""
    prefix = ",".join(columns)

    def recognise(path: Path) -> bool:
        first_line = read_head(path).split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        return first_line == prefix or first_line.startswith(prefix + ",")

    return recognise


def is_png_file(path: Path) -> bool:
    """A recogniser: a PNG image (by its signature)."""
    return read_head(path, 8) == b"\x89PNG\r\n\x1a\n"


def directory_of_files(*patterns: str, required: Sequence[str] = ()) -> Callable[[Path], bool]:
    """A recogniser: a directory holding ``required`` and nothing but files matching ``patterns``.

    Patterns are matched against paths relative to the directory with ``PurePath.match``.
    """

    def recognise(path: Path) -> bool:
        if not all((path / name).exists() for name in required):
            return False
        return all(any(relative.match(pattern) for pattern in patterns) for relative in _relative_files(path))

    return recognise


# ---------------------------------------------------------------------------------------------------
# Checking an output before any work
# ---------------------------------------------------------------------------------------------------


def _absolute(path: str | os.PathLike) -> Path:
    # abspath normalises "." and ".." without following symbolic links (a link is judged as a link).
    return Path(os.path.abspath(os.fspath(path)))


def _relative_files(directory: Path) -> Iterator[Path]:
    """Every file, link and empty folder below ``directory``, relative to it (the marker excluded)."""
    for root, folders, files in os.walk(directory):
        root_path = Path(root)
        for name in files:
            relative = (root_path / name).relative_to(directory)
            if relative.as_posix() != MARKER_NAME:
                yield relative
        for name in folders:
            folder = root_path / name
            if folder.is_symlink() or not any(folder.iterdir()):
                yield folder.relative_to(directory)


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def read_marker(directory: str | os.PathLike) -> dict | None:
    """The marker of a directory output (``{"kind", "files", ...}``), or None when it has none."""
    try:
        marker = json.loads((Path(directory) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or not isinstance(marker.get("files"), list):
        return None
    return marker


def write_marker(directory: Path, kind: OutputKind) -> None:
    """Write the marker of a finished directory output: its kind and every file written with it."""
    files = sorted(relative.as_posix() for relative in _relative_files(directory))
    marker = {"format_version": MARKER_FORMAT_VERSION, "kind": kind.name, "files": files}
    (directory / MARKER_NAME).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


def _listing(paths: Iterable[str]) -> str:
    paths = sorted(paths)
    shown = ", ".join(paths[:_LISTED_FILES])
    return shown + (f" and {len(paths) - _LISTED_FILES} more" if len(paths) > _LISTED_FILES else "")


def _why_not_replaceable(target: Path, kind: OutputKind) -> str | None:
    """None when ``target`` is an earlier output of ``kind``; else why it is not."""
    if target.is_symlink():
        return "is a symbolic link"
    if kind.directory:
        if not target.is_dir():
            return f"is a file, not a {kind.name} directory"
        marker = read_marker(target)
        if marker is not None:
            if marker.get("kind") != kind.name:
                return f"holds a {marker.get('kind')!r} output, not a {kind.name}"
            written = set(marker["files"])
            foreign = {
                p.as_posix()
                for p in _relative_files(target)
                if p.as_posix() not in written and not any(p.match(pattern) for pattern in kind.derived)
            }
            if foreign:
                return f"holds files that were not written with the {kind.name}: {_listing(foreign)}"
            return None
        if kind.recognise is not None and kind.recognise(target):
            return None
        return f"is not a {kind.name} written by gravityvit (it has no {MARKER_NAME})"
    if target.is_dir():
        return f"is a directory, not a {kind.name} file"
    if kind.recognise is not None and kind.recognise(target):
        return None
    return f"is not a {kind.name} written by gravityvit"


def _is_empty(target: Path, kind: OutputKind) -> bool:
    if target.is_symlink():
        return False
    if kind.directory:
        return target.is_dir() and not any(target.iterdir())
    return target.is_file() and target.stat().st_size == 0


def check_output(
    target: str | os.PathLike,
    kind: OutputKind,
    *,
    overwrite: bool = True,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Make sure that writing ``target`` can lose nothing; call it before any work. Returns the absolute path.

    ``target`` may be absent, an empty directory or file, or (when ``overwrite``) an earlier output
    of ``kind``. No path of ``inputs`` may lie inside it, and it may not be (or hold) the working
    directory or a file-system root.

    Raises
    ------
    OutputError
        Naming ``target`` and why it cannot be replaced.
    """
    path = _absolute(target)
    if path.parent == path:
        raise OutputError(f"{target}: a file-system root cannot be an output; name a new file or folder")
    if _is_inside(_absolute(os.getcwd()), path):
        raise OutputError(
            f"{target} is the working directory (or holds it) and cannot be replaced; "
            f"name a new folder, e.g. {Path(target) / 'output'}"
        )
    for source in inputs:
        if source is not None and _is_inside(_absolute(source), path):
            raise OutputError(
                f"{target} holds the input {source} (an input lies inside the output that would replace "
                "it); choose another output"
            )
    if not (path.exists() or path.is_symlink()):
        return path
    reason = None if _is_empty(path, kind) else _why_not_replaceable(path, kind)
    if reason is not None:
        raise OutputError(
            f"{target} already exists and {reason}; it is left untouched. Choose another output, or "
            "remove it yourself if it is not needed"
        )
    if not overwrite:
        raise OutputError(f"{target} already exists; choose another output or allow overwriting")
    return path


# ---------------------------------------------------------------------------------------------------
# Temporary siblings, and what killed runs leave behind
# ---------------------------------------------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _temporary_prefix(target: Path, tag: str) -> str:
    return f".{target.name}.{tag}-"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary siblings of ``target`` left by runs that were killed; return them.

    Only names of the form ``.NAME.tmp-PID-*`` / ``.NAME.work-PID-*`` / ``.NAME.old-PID-*`` whose
    process PID no longer runs (on this host) are touched. A stale ``.old`` copy is an earlier
    output moved aside just before a replacement: when ``target`` is missing it is put back instead.
    """
    target = _absolute(target)
    removed: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for tag in _TEMPORARY_TAGS:
        prefix = _temporary_prefix(target, tag)
        for name in names:
            if not name.startswith(prefix):
                continue
            pid_text = name[len(prefix) :].split("-", 1)[0]
            if not pid_text.isdigit() or _process_alive(int(pid_text)):
                continue
            path = target.parent / name
            if tag == "old" and not (target.exists() or target.is_symlink()):
                os.replace(path, target)
                continue
            _remove(path)
            removed.append(path)
    return removed


def _temporary_sibling(target: Path, tag: str, *, directory: bool) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{_temporary_prefix(target, tag)}{os.getpid()}-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=target.suffix, dir=target.parent)
    os.close(handle)
    return Path(name)


def _apply_umask(path: Path, *, directory: bool) -> None:
    # mkstemp/mkdtemp create owner-only entries; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if directory else 0o666) & ~umask)


def _generic_kind(directory: bool | None) -> OutputKind:
    return OutputKind(
        "gravityvit output directory" if directory else "gravityvit output file", bool(directory)
    )


@contextlib.contextmanager
def work_directory(target: str | os.PathLike) -> Iterator[Path]:
    """A scratch directory beside ``target`` (``.NAME.work-PID-*``), removed when the block ends.

    Stale work directories of ``target`` left by killed runs are removed first.
    """
    target = _absolute(target)
    remove_stale_temporaries(target)
    directory = _temporary_sibling(target, "work", directory=True)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike,
    *,
    kind: OutputKind | None = None,
    overwrite: bool = True,
    inputs: Iterable[str | os.PathLike | None] = (),
    directory: bool | None = None,
) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it to ``target``, on error delete it.

    Parameters
    ----------
    target : path
        Final location of the file or directory.
    kind : OutputKind
        What the output is: an existing ``target`` is replaced only when it is an earlier output of
        this kind (see :func:`check_output`). Directory outputs get a marker listing their files.
        Default: a generic gravityvit file or directory (``directory``), which replaces only a
        directory marked as such.
    overwrite : bool
        Replace an earlier output of ``kind``; with ``False`` any existing ``target`` is refused.
    inputs : paths
        The run's inputs; none may lie inside ``target``.
    directory : bool, optional
        Only without ``kind``: yield a directory instead of a file.

    Raises
    ------
    OutputError
        Before the block runs, when ``target`` may not be replaced; also if that changed by the time
        the output is complete (the new output is then discarded and ``target`` left untouched).
    """
    kind = kind if kind is not None else _generic_kind(directory)
    if directory is not None and directory != kind.directory:
        raise ValueError(f"directory={directory} contradicts the kind {kind.name!r}")
    inputs = list(inputs)
    target = check_output(target, kind, overwrite=overwrite, inputs=inputs)
    remove_stale_temporaries(target)
    temporary = _temporary_sibling(target, "tmp", directory=kind.directory)
    try:
        yield temporary
        if kind.directory:
            write_marker(temporary, kind)
        _apply_umask(temporary, directory=kind.directory)
        # Something may have appeared at the target while the output was built: check again.
        check_output(target, kind, overwrite=overwrite, inputs=inputs)
    except BaseException:
        _remove(temporary)
        raise
    if not kind.directory:
        os.replace(temporary, target)
        return
    # Directories cannot be replaced in one rename: move the old one aside, then swap.
    backup = _temporary_sibling(target, "old", directory=True)
    backup.rmdir()
    if target.exists():
        os.replace(target, backup)
    try:
        os.replace(temporary, target)
    except BaseException:
        if backup.exists():
            os.replace(backup, target)
        _remove(temporary)
        raise
    _remove(backup)


# ---------------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_fork_state: dict[str, int] = {}


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _before_fork() -> None:
    _fork_state["parent"] = os.getpid()


def _after_fork_in_child() -> None:
    die_with_parent()
    if os.getppid() != _fork_state.get("parent", os.getppid()):
        os._exit(1)  # the parent died between the fork and prctl: nobody waits for this worker


def workers_die_with_parent() -> None:
    """Make every process forked from now on (worker pools) die with its parent, even on SIGKILL.

    For command-line entry points: a killed ``--num-proc N`` run then leaves no workers running.
    Linux only (``prctl(PR_SET_PDEATHSIG)``); idempotent.
    """
    if _fork_state.get("registered") or not hasattr(os, "register_at_fork"):
        return
    _fork_state["registered"] = 1
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
