"""Download the Gravity Spy training set from Zenodo, with resume and md5 verification.

The file list and md5 checksums come from Zenodo's records API (``{endpoint}/api/records/{id}``),
so nothing about a file is hard-coded except its name. Each file is streamed into ``NAME.part``;
an interrupted download resumes from there with an HTTP ``Range`` request on the next call, and
the finished file is checked against its md5 before it is renamed to ``NAME``. A file already in
place with the right checksum is not downloaded again.

Records (see ``docs/gravity_spy.md``):

- v1d0: record 1476156, ``trainingsetv1d0.h5`` and ``trainingset_v1d0_metadata.csv``;
- v1d1: record 1476551, ``trainingsetv1d1.h5`` (when the record holds it) and
  ``trainingset_v1d1_metadata.csv``, and ``trainingsetv1d1.tar.gz``, the PNG archive.

With ``include_png=True`` the record's PNG archive (a ``.tar.gz`` / ``.tgz`` / ``.zip``) is fetched too;
when a record holds no HDF5 file its PNG archive is fetched in any case, since it is then the only
copy of the images. ``extract_archive`` unpacks an archive for ``gravityvit convert --png-dir``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import logging
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from gravityvit.file_utils import OutputKind, atomic_path

logger = logging.getLogger(__name__)

ZENODO_ENDPOINT = "https://zenodo.org"
# version -> (Zenodo record id, HDF5 file, metadata CSV)
GRAVITY_SPY_RECORDS: dict[str, tuple[int, str, str]] = {
    "v1d0": (1476156, "trainingsetv1d0.h5", "trainingset_v1d0_metadata.csv"),
    "v1d1": (1476551, "trainingsetv1d1.h5", "trainingset_v1d1_metadata.csv"),
}
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0
USER_AGENT = "gravityvit-download/0.1 (+https://github.com/gravityvit)"
# The folder an archive is unpacked into.
EXTRACTED_ARCHIVE = OutputKind("extracted PNG archive", directory=True)


class ZenodoUnreachableError(ConnectionError):
    """Zenodo (or the configured endpoint) cannot be reached: offline, DNS failure, refused, timeout."""


class ChecksumMismatchError(OSError):
    """A downloaded file does not have the md5 checksum that the Zenodo record lists."""


class DownloadInterruptedError(OSError):
    """The connection dropped during a download; the ``.part`` file is kept and the next call resumes."""


class UnsafeRecordError(RuntimeError):
    """A Zenodo record lists a file that must not be written: a name that is not a plain file name,
    or (unless verification is turned off) no md5 checksum to verify it against."""


def _check_file_name(key: str, record_id: int | None) -> None:
    """Refuse a file name that is not one plain path component (it would be written outside the output)."""
    if (
        key in (".", "..")
        or "/" in key
        or "\\" in key
        or key != key.strip()
        or os.path.isabs(key)
        or any(ord(character) < 32 for character in key)
    ):
        raise UnsafeRecordError(
            f"Zenodo record {'' if record_id is None else f'{record_id} '}lists a file named {key!r}, which is "
            "not a plain file name (it would be written outside the output folder); the record is refused"
        )


@dataclasses.dataclass(frozen=True)
class RecordFile:
    """One file of a Zenodo record: name, size in bytes, md5 (hex) and download URL."""

    key: str
    size: int | None
    md5: str | None
    url: str


def _open(url: str, *, headers: dict[str, str] | None = None, timeout_s: float = TIMEOUT_S):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(request, timeout=timeout_s)


def _unreachable(endpoint: str, error: BaseException) -> ZenodoUnreachableError:
    reason = getattr(error, "reason", error)
    return ZenodoUnreachableError(
        f"Zenodo cannot be reached at {endpoint} ({reason}). Check the network connection (or the proxy "
        f"settings), or download the files by hand from {endpoint}/records/ and place them in the output folder."
    )


def _parse_file(entry: dict[str, Any], endpoint: str, record_id: int) -> RecordFile:
    key = entry.get("key") or entry.get("filename")
    if not key:
        raise ValueError(f"a file entry of Zenodo record {record_id} has no name: {entry}")
    _check_file_name(str(key), record_id)
    checksum = entry.get("checksum")
    md5 = None
    if isinstance(checksum, str):
        algorithm, _, digest = checksum.rpartition(":")
        md5 = digest.lower() if algorithm in ("", "md5") else None
    links = entry.get("links") or {}
    url = links.get("content") or links.get("download") or links.get("self")
    if not url:
        url = f"{endpoint}/records/{record_id}/files/{urllib.parse.quote(key)}?download=1"
    elif (
        url.rstrip("/").endswith(f"/files/{urllib.parse.quote(key)}")
        and "/api/" in url
        and not links.get("content")
    ):
        # InvenioRDM's "self" link is the file's metadata; its bytes are at .../content.
        url = url.rstrip("/") + "/content"
    size = entry.get("size", entry.get("filesize"))
    return RecordFile(key=key, size=int(size) if size is not None else None, md5=md5, url=url)


def fetch_record_files(
    record_id: int, *, endpoint: str = ZENODO_ENDPOINT, timeout_s: float = TIMEOUT_S
) -> list[RecordFile]:
    """List the files of a Zenodo record (name, size, md5, URL) from the records API.

    Raises
    ------
    ZenodoUnreachableError
        When the endpoint cannot be reached (one attempt: no retry storm when offline).
    RuntimeError
        When Zenodo answers with an HTTP error or an unexpected document.
    """
    endpoint = endpoint.rstrip("/")
    url = f"{endpoint}/api/records/{record_id}"
    try:
        with _open(url, headers={"Accept": "application/json"}, timeout_s=timeout_s) as response:
            record = json.load(response)
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"Zenodo answered HTTP {error.code} for record {record_id} ({url})") from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise _unreachable(endpoint, error) from error
    except json.JSONDecodeError as error:
        raise RuntimeError(f"Zenodo's answer for record {record_id} ({url}) is not JSON: {error}") from error
    files = record.get("files")
    if isinstance(files, dict):  # InvenioRDM style: {"entries": {key: entry}} or {"entries": [...]}
        entries = files.get("entries", [])
        files = list(entries.values()) if isinstance(entries, dict) else entries
    if not isinstance(files, list):
        raise RuntimeError(f"Zenodo record {record_id} ({url}) lists no files")
    return [_parse_file(entry, endpoint, record_id) for entry in files]


def md5sum(path: str | os.PathLike, *, chunk_bytes: int = CHUNK_BYTES) -> str:
    """The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(total: int | None, initial: int, name: str):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name, leave=False
    )


def download_file(
    record_file: RecordFile,
    output_dir: str | os.PathLike,
    *,
    endpoint: str = ZENODO_ENDPOINT,
    resume_attempts: int = 2,
    timeout_s: float = TIMEOUT_S,
    verify: bool = True,
) -> Path:
    """Download one record file into ``output_dir`` with resume and md5 verification.

    Bytes go to ``output_dir/KEY.part``; a ``.part`` left by an earlier call is continued with a
    ``Range`` request (restarted when the server ignores it). When the transfer drops, it resumes up
    to ``resume_attempts`` times in this call, then raises ``DownloadInterruptedError`` keeping the
    ``.part`` for the next call. A complete file is checked against the record's md5 and renamed to
    ``KEY``; on a mismatch the bad bytes are deleted and ``ChecksumMismatchError`` is raised. A file
    the record lists without an md5 is refused (``UnsafeRecordError``) unless ``verify`` is False.

    Returns
    -------
    Path
        The verified file.
    """
    _check_file_name(record_file.key, None)
    if record_file.md5 is None and verify:
        raise UnsafeRecordError(
            f"{record_file.key}: Zenodo lists no md5 checksum for it, so it cannot be verified; refused "
            "(download --no-verify accepts unverified files)"
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / record_file.key
    if target.exists() and (record_file.md5 is None or md5sum(target) == record_file.md5):
        logger.info("%s is already downloaded and verified", target)
        return target
    part = output_dir / f"{record_file.key}.part"
    attempts_left = resume_attempts
    while True:
        try:
            _transfer(record_file, part, endpoint=endpoint, timeout_s=timeout_s)
            break
        except DownloadInterruptedError:
            if attempts_left <= 0:
                raise
            attempts_left -= 1
            logger.warning(
                "download of %s interrupted; resuming (%d attempt(s) left)", record_file.key, attempts_left
            )
    if record_file.md5 is not None:
        got = md5sum(part)
        if got != record_file.md5:
            part.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"{record_file.key}: md5 {got} does not match {record_file.md5} listed by Zenodo; the corrupt "
                f"download was deleted, run the download again"
            )
    else:
        logger.warning("Zenodo lists no md5 for %s: not verified", record_file.key)
    os.replace(part, target)
    return target


def _transfer(record_file: RecordFile, part: Path, *, endpoint: str, timeout_s: float) -> None:
    """Append the missing bytes of ``record_file`` to ``part`` (one HTTP request)."""
    have = part.stat().st_size if part.exists() else 0
    if record_file.size is not None and have > record_file.size:
        part.unlink()
        have = 0
    if record_file.size is not None and have == record_file.size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = _open(record_file.url, headers=headers, timeout_s=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416:  # range not satisfiable: the .part is already whole (size unknown)
            return
        raise RuntimeError(f"{record_file.url} answered HTTP {error.code} for {record_file.key}") from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        if have:
            raise DownloadInterruptedError(
                f"{record_file.key}: the connection failed at {have} bytes ({error}); run again to resume"
            ) from error
        raise _unreachable(endpoint, error) from error
    with response:
        if have and response.status != 206:
            logger.info(
                "%s: the server ignored the Range request; downloading from the start", record_file.key
            )
            have = 0
        total = record_file.size
        if total is None and response.headers.get("Content-Length"):
            total = have + int(response.headers["Content-Length"])
        done = have
        with open(part, "ab" if have else "wb") as handle, _progress(total, have, record_file.key) as bar:
            try:
                while chunk := response.read(CHUNK_BYTES):
                    handle.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                raise DownloadInterruptedError(
                    f"{record_file.key}: the transfer stopped at {done} of {total} bytes ({error}); "
                    f"the partial file {part} is kept, run again to resume"
                ) from error
    if total is not None and done < total:
        raise DownloadInterruptedError(
            f"{record_file.key}: the server closed the connection at {done} of {total} bytes; "
            f"the partial file {part} is kept, run again to resume"
        )


def _select_files(
    version: str, files: list[RecordFile], include_png: bool, record_id: int
) -> list[RecordFile]:
    _, hdf5_name, csv_name = GRAVITY_SPY_RECORDS[version]
    by_key = {f.key: f for f in files}
    archives = [f for f in files if f.key.endswith(ARCHIVE_SUFFIXES)]
    wanted: list[RecordFile] = []
    if hdf5_name in by_key:
        wanted.append(by_key[hdf5_name])
    if csv_name in by_key:
        wanted.append(by_key[csv_name])
    if include_png or hdf5_name not in by_key:
        wanted.extend(archives)
    if not any(f.key.endswith((".h5", ".hdf5")) for f in wanted) and not archives:
        raise RuntimeError(
            f"Zenodo record {record_id} ({version}) holds neither {hdf5_name} nor an image archive; "
            f"its files are {sorted(by_key)}"
        )
    if csv_name not in by_key:
        logger.warning("Zenodo record %s lists no %s; files: %s", record_id, csv_name, sorted(by_key))
    return wanted


def download_gravityspy(
    version: str = "v1d1",
    output_dir: str | os.PathLike = "data/gravityspy",
    *,
    include_png: bool = False,
    endpoint: str = ZENODO_ENDPOINT,
    record_id: int | None = None,
    resume_attempts: int = 2,
    timeout_s: float = TIMEOUT_S,
    verify: bool = True,
) -> dict[str, Path]:
    """Download a Gravity Spy training set version from Zenodo into ``output_dir``.

    Parameters
    ----------
    version : {"v1d0", "v1d1"}
        Training-set version (record 1476156 or 1476551).
    output_dir : path
        Destination folder; files keep their Zenodo names.
    include_png : bool
        Also fetch the record's PNG archive (800x600 PNGs, one per duration).
    endpoint : str
        Zenodo base URL (tests point it at a local server).
    record_id : int, optional
        Override the record id of ``version``.
    resume_attempts : int
        Resumes within this call after a dropped connection (a later call resumes as well).
    timeout_s : float
        Socket timeout of each request, in seconds.
    verify : bool
        Refuse files the record lists without an md5 checksum (default); ``False`` keeps them unverified.

    Returns
    -------
    dict
        ``{file name: path}`` of the verified files.

    Raises
    ------
    ZenodoUnreachableError
        Offline or the endpoint does not answer (raised once, without retries).
    ChecksumMismatchError
        A download does not match its md5 (the bad file is deleted).
    DownloadInterruptedError
        The transfer dropped more often than ``resume_attempts``; run again to resume.
    UnsafeRecordError
        The record lists a file name that is not a plain name, or a file without md5 (with ``verify``).
    """
    if version not in GRAVITY_SPY_RECORDS:
        raise ValueError(
            f"unknown Gravity Spy version {version!r}; expected one of {sorted(GRAVITY_SPY_RECORDS)}"
        )
    record_id = record_id if record_id is not None else GRAVITY_SPY_RECORDS[version][0]
    endpoint = endpoint.rstrip("/")
    files = _select_files(
        version, fetch_record_files(record_id, endpoint=endpoint, timeout_s=timeout_s), include_png, record_id
    )
    unverifiable = [f.key for f in files if f.md5 is None]
    if unverifiable and verify:  # refused before any byte is fetched
        raise UnsafeRecordError(
            f"Zenodo record {record_id} lists no md5 checksum for {unverifiable}, so they cannot be verified; "
            "refused (download --no-verify accepts unverified files)"
        )
    logger.info("downloading %s from Zenodo record %s: %s", version, record_id, [f.key for f in files])
    return {
        f.key: download_file(
            f,
            output_dir,
            endpoint=endpoint,
            resume_attempts=resume_attempts,
            timeout_s=timeout_s,
            verify=verify,
        )
        for f in files
    }


def extract_archive(
    archive: str | os.PathLike, output_dir: str | os.PathLike, *, overwrite: bool = True
) -> Path:
    """Unpack a PNG archive (.tar.gz / .tgz / .tar / .zip) into ``output_dir`` atomically.

    Members that would land outside ``output_dir`` (absolute paths, ``..``, links) are refused
    (tarfile's "data" filter). Returns ``output_dir``.
    """
    archive, output_dir = Path(archive), Path(output_dir)
    with atomic_path(output_dir, kind=EXTRACTED_ARCHIVE, overwrite=overwrite, inputs=(archive,)) as temporary:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    resolved = (temporary / member).resolve()
                    if not resolved.is_relative_to(temporary.resolve()):
                        raise ValueError(
                            f"{archive}: member {member!r} would be written outside {output_dir}"
                        )
                bundle.extractall(temporary)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(temporary, filter="data")
    return output_dir
