"""Atomic output: a failed run leaves nothing half written and never touches what was there before.

Everything the package writes (HDF5 files, Arrow datasets, model directories, reports) goes to a
temporary sibling first and is renamed into place only when complete. A rename within one
directory is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _temporary_sibling(target: Path, *, directory: bool) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.tmp-"
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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike, *, directory: bool = False, overwrite: bool = True
) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it to ``target``, on error delete it.

    Parameters
    ----------
    target : path
        Final location of the file or directory.
    directory : bool
        Yield an empty temporary directory instead of an empty temporary file.
    overwrite : bool
        Replace an existing ``target`` on success. With ``False`` an existing target raises
        ``FileExistsError`` before any work is done.

    Raises
    ------
    FileExistsError
        When ``target`` exists and ``overwrite`` is false.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; choose another output or allow overwriting")
    temporary = _temporary_sibling(target, directory=directory)
    try:
        yield temporary
    except BaseException:
        _remove(temporary)
        raise
    _apply_umask(temporary, directory=directory)
    if directory:
        # Directories cannot be replaced in one rename: move the old one aside, then swap.
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
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
    else:
        os.replace(temporary, target)
