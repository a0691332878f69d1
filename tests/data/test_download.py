"""The Zenodo downloader against a local HTTP server: record JSON, resume with Range, md5, offline."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import tarfile
import threading

import pytest

from gravityvit.data.download import (
    ChecksumMismatchError,
    DownloadInterruptedError,
    UnsafeRecordError,
    ZenodoUnreachableError,
    download_gravityspy,
    extract_archive,
    fetch_record_files,
)

RECORD_ID = 1476156
PAYLOAD = bytes(range(256)) * 400  # 100 kB "HDF5 file"
CSV = b"gravityspy_id,label,sample_type\nzmIdpucyOG,Blip,train\n"


class FakeZenodo(http.server.BaseHTTPRequestHandler):
    """Serves a record JSON and its files; can drop a transfer midway or lie about a checksum."""

    server_version = "FakeZenodo"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        state = self.server.state
        state["requests"].append((self.path, self.headers.get("Range")))
        if self.path == f"/api/records/{RECORD_ID}":
            return self._send(200, json.dumps(state["record"]).encode(), "application/json")
        for key, content in state["files"].items():
            if self.path == f"/api/records/{RECORD_ID}/files/{key}/content":
                return self._send_file(content)
        self._send(404, b"not found", "text/plain")

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_file(self, content):
        state = self.server.state
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        body = content[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state["cut_after"] is not None:
            # Announce the whole body but close the connection after part of it.
            self.wfile.write(body[: state["cut_after"]])
            state["cut_after"] = None
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def zenodo():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeZenodo)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    files = {"trainingsetv1d0.h5": PAYLOAD, "trainingset_v1d0_metadata.csv": CSV}
    server.state = {
        "requests": [],
        "cut_after": None,
        "files": files,
        "record": {
            "id": RECORD_ID,
            "files": [
                {
                    "key": key,
                    "size": len(content),
                    "checksum": f"md5:{hashlib.md5(content).hexdigest()}",
                    "links": {"self": f"{endpoint}/api/records/{RECORD_ID}/files/{key}/content"},
                }
                for key, content in files.items()
            ],
        },
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield endpoint, server.state
    server.shutdown()
    server.server_close()


def test_record_files_are_resolved(zenodo):
    endpoint, _ = zenodo
    files = {f.key: f for f in fetch_record_files(RECORD_ID, endpoint=endpoint)}
    assert files["trainingsetv1d0.h5"].size == len(PAYLOAD)
    assert files["trainingsetv1d0.h5"].md5 == hashlib.md5(PAYLOAD).hexdigest()


def test_download_verifies_and_skips_done_files(zenodo, tmp_path):
    endpoint, state = zenodo
    paths = download_gravityspy("v1d0", tmp_path, endpoint=endpoint)
    assert paths["trainingsetv1d0.h5"].read_bytes() == PAYLOAD
    assert paths["trainingset_v1d0_metadata.csv"].read_bytes() == CSV
    assert not list(tmp_path.glob("*.part"))
    state["requests"].clear()
    download_gravityspy("v1d0", tmp_path, endpoint=endpoint)
    assert [path for path, _ in state["requests"]] == [f"/api/records/{RECORD_ID}"]  # nothing fetched again


def test_interrupted_download_resumes_with_range(zenodo, tmp_path):
    endpoint, state = zenodo
    state["cut_after"] = 30_000
    with pytest.raises(DownloadInterruptedError, match="run again to resume"):
        download_gravityspy("v1d0", tmp_path, endpoint=endpoint, resume_attempts=0)
    part = tmp_path / "trainingsetv1d0.h5.part"
    assert part.stat().st_size == 30_000 and not (tmp_path / "trainingsetv1d0.h5").exists()
    state["requests"].clear()
    paths = download_gravityspy("v1d0", tmp_path, endpoint=endpoint)
    assert paths["trainingsetv1d0.h5"].read_bytes() == PAYLOAD
    assert (f"/api/records/{RECORD_ID}/files/trainingsetv1d0.h5/content", "bytes=30000-") in state["requests"]
    assert not part.exists()


def test_resume_within_one_call(zenodo, tmp_path):
    endpoint, state = zenodo
    state["cut_after"] = 10_000
    paths = download_gravityspy("v1d0", tmp_path, endpoint=endpoint, resume_attempts=1)
    assert paths["trainingsetv1d0.h5"].read_bytes() == PAYLOAD
    assert any(r == "bytes=10000-" for _, r in state["requests"])


def test_checksum_mismatch_deletes_the_file(zenodo, tmp_path):
    endpoint, state = zenodo
    state["record"]["files"][0]["checksum"] = "md5:" + "0" * 32
    with pytest.raises(ChecksumMismatchError, match=r"trainingsetv1d0\.h5: md5"):
        download_gravityspy("v1d0", tmp_path, endpoint=endpoint)
    assert not (tmp_path / "trainingsetv1d0.h5").exists()
    assert not (tmp_path / "trainingsetv1d0.h5.part").exists()


def test_offline_gives_one_clear_error(tmp_path):
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ZenodoUnreachableError, match="Zenodo cannot be reached"):
        download_gravityspy("v1d0", tmp_path, endpoint=f"http://127.0.0.1:{port}", timeout_s=5)
    with pytest.raises(ValueError, match="unknown Gravity Spy version"):
        download_gravityspy("v2", tmp_path)


def test_png_archive_is_fetched_and_extracted(zenodo, tmp_path):
    endpoint, state = zenodo
    source = tmp_path / "src" / "TrainingSet" / "Blip"
    source.mkdir(parents=True)
    (source / "H1_zmIdpucyOG_spectrogram_0.5.png").write_bytes(b"png")
    archive = tmp_path / "png.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(tmp_path / "src" / "TrainingSet", arcname="TrainingSet")
    content = archive.read_bytes()
    state["files"]["trainingsetv1d0.tar.gz"] = content
    state["record"]["files"].append(
        {
            "key": "trainingsetv1d0.tar.gz",
            "size": len(content),
            "checksum": f"md5:{hashlib.md5(content).hexdigest()}",
            "links": {"self": f"{endpoint}/api/records/{RECORD_ID}/files/trainingsetv1d0.tar.gz/content"},
        }
    )
    assert "trainingsetv1d0.tar.gz" not in download_gravityspy("v1d0", tmp_path / "out", endpoint=endpoint)
    paths = download_gravityspy("v1d0", tmp_path / "out", endpoint=endpoint, include_png=True)
    extracted = extract_archive(paths["trainingsetv1d0.tar.gz"], tmp_path / "png")
    assert (extracted / "TrainingSet" / "Blip" / "H1_zmIdpucyOG_spectrogram_0.5.png").read_bytes() == b"png"


def test_download_command(zenodo, tmp_path, capsys):
    import argparse

    from gravityvit.commands import download

    endpoint, _ = zenodo
    parser = argparse.ArgumentParser(prog="gravityvit")
    download.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["download", "--version", "v1d0", "--output", str(tmp_path), "--endpoint", endpoint]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "gravityvit convert --hdf5" in out
    args = parser.parse_args(["download", "--output", str(tmp_path), "--endpoint", "http://127.0.0.1:9"])
    assert args.func(args) == 1
    assert "Zenodo cannot be reached" in capsys.readouterr().err


def test_a_file_name_with_a_path_is_refused(zenodo, tmp_path):
    endpoint, state = zenodo
    content = b"archive"
    state["files"]["../x.tar.gz"] = content
    state["record"]["files"].append(
        {
            "key": "../x.tar.gz",
            "size": len(content),
            "checksum": f"md5:{hashlib.md5(content).hexdigest()}",
            "links": {"self": f"{endpoint}/api/records/{RECORD_ID}/files/../x.tar.gz/content"},
        }
    )
    output = tmp_path / "out"
    with pytest.raises(UnsafeRecordError, match=r"lists a file named '\.\./x\.tar\.gz'"):
        download_gravityspy("v1d0", output, endpoint=endpoint, include_png=True)
    assert not (tmp_path / "x.tar.gz").exists() and not output.exists()


def test_a_file_without_checksum_needs_no_verify(zenodo, tmp_path, caplog):
    endpoint, state = zenodo
    del state["record"]["files"][1]["checksum"]
    with pytest.raises(UnsafeRecordError, match="lists no md5 checksum"):
        download_gravityspy("v1d0", tmp_path, endpoint=endpoint)
    assert list(tmp_path.iterdir()) == []  # refused before any byte is fetched
    with caplog.at_level("WARNING"):
        paths = download_gravityspy("v1d0", tmp_path, endpoint=endpoint, verify=False)
    assert paths["trainingset_v1d0_metadata.csv"].read_bytes() == CSV
    assert "not verified" in caplog.text
