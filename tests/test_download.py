"""Downloading from mirrors: checksums, fallback, timeouts, redirects and atomic writes."""

import functools
import http.server
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fashion_mnist.download import _SafeRedirects, download_all
from fashion_mnist.errors import DownloadError
from tests.synthetic import FILE_NAMES, write_dataset

LABELS = FILE_NAMES["train_labels"]


@pytest.fixture
def http_mirror(mirror) -> Iterator[tuple[str, dict[str, str]]]:
    """The synthetic mirror served over HTTP on loopback; /moved/<name> redirects to /<name>."""
    folder, checksums = mirror

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/moved/"):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/moved"))
                self.end_headers()
            elif self.path.startswith("/to-ftp/"):
                self.send_response(302)
                self.send_header("Location", "ftp://127.0.0.1" + self.path.removeprefix("/to-ftp"))
                self.end_headers()
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", checksums
    server.shutdown()


class SilentServer:
    """A loopback server that accepts connections, counts them and never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.connections.append(self.listener.accept()[0])
            except OSError:
                return


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.listener.close()


@pytest.fixture
def ssh_banner_server() -> Iterator[str]:
    """A loopback server that answers every connection with an SSH banner, not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    listener.close()


def closed_port_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_every_file_is_fetched_and_verified_from_a_folder(mirror, tmp_path: Path):
    folder, checksums = mirror
    sources = download_all(checksums, [folder.as_uri() + "/"], tmp_path / "raw", timeout_seconds=5)
    assert set(sources) == set(checksums)
    for name in checksums:
        assert (tmp_path / "raw" / name).read_bytes() == (folder / name).read_bytes()
    assert sorted(path.name for path in (tmp_path / "raw").iterdir()) == sorted(checksums), "no temporary file is left"


def test_files_are_fetched_over_http_following_a_redirect(http_mirror, tmp_path: Path):
    url, checksums = http_mirror
    sources = download_all(checksums, [url + "moved/"], tmp_path / "raw", timeout_seconds=5)
    assert set(sources.values()) == {url + "moved/"}


def test_a_redirect_to_another_scheme_is_refused(http_mirror, tmp_path: Path):
    url, checksums = http_mirror
    with pytest.raises(DownloadError, match=r"refused redirect from .* to ftp://127\.0\.0\.1/"):
        download_all({LABELS: checksums[LABELS]}, [url + "to-ftp/"], tmp_path / "raw", timeout_seconds=5)
    assert not (tmp_path / "raw" / LABELS).exists()


def test_a_checksum_mismatch_falls_back_to_the_next_mirror(mirror, tmp_path: Path):
    folder, checksums = mirror
    other = tmp_path / "other"
    write_dataset(other, seed=99)  # Same names, other content.
    sources = download_all(checksums, [other.as_uri(), folder.as_uri()], tmp_path / "raw", timeout_seconds=5)
    assert set(sources.values()) == {folder.as_uri()}
    assert (tmp_path / "raw" / LABELS).read_bytes() == (folder / LABELS).read_bytes()


def test_when_every_mirror_fails_the_error_lists_each_one_and_the_fix(mirror, silent_server, tmp_path: Path):
    folder, checksums = mirror
    wrong = tmp_path / "wrong"
    write_dataset(wrong, seed=99)
    closed = closed_port_url()
    mirrors = [closed, silent_server.url, wrong.as_uri(), (tmp_path / "empty").as_uri()]
    with pytest.raises(DownloadError) as raised:
        download_all({LABELS: checksums[LABELS]}, mirrors, tmp_path / "raw", timeout_seconds=0.5)
    message = str(raised.value)
    assert f"no mirror delivered {LABELS}" in message
    assert f"{closed}{LABELS}: [Errno 111] Connection refused" in message
    assert f"{silent_server.url}{LABELS}: timed out" in message
    assert f"{wrong.as_uri()}/{LABELS}: decompressed SHA-256 is " in message
    assert f"{(tmp_path / 'empty').as_uri()}/{LABELS}: [Errno 2] No such file or directory" in message
    assert "apt-get install dataset-fashion-mnist" in message and "download.mirrors" in message
    assert not (tmp_path / "raw" / LABELS).exists(), "nothing unverified reaches the destination"


def test_an_unreachable_mirror_is_tried_once_not_once_per_file(mirror, silent_server, tmp_path: Path):
    folder, checksums = mirror
    sources = download_all(checksums, [silent_server.url, folder.as_uri()], tmp_path / "raw", timeout_seconds=0.5)
    assert set(sources.values()) == {folder.as_uri()}
    assert len(silent_server.connections) == 1


def test_a_failed_download_keeps_the_earlier_good_file(mirror, tmp_path: Path):
    folder, checksums = mirror
    download_all(checksums, [folder.as_uri()], tmp_path / "raw", timeout_seconds=5)
    good = (tmp_path / "raw" / LABELS).read_bytes()
    wrong = tmp_path / "wrong"
    write_dataset(wrong, seed=99)
    with pytest.raises(DownloadError):
        download_all(checksums, [wrong.as_uri()], tmp_path / "raw", timeout_seconds=5)
    assert (tmp_path / "raw" / LABELS).read_bytes() == good


def test_a_mirror_that_does_not_speak_http_is_skipped(mirror, ssh_banner_server, tmp_path: Path):
    folder, checksums = mirror
    sources = download_all({LABELS: checksums[LABELS]}, [ssh_banner_server, folder.as_uri()], tmp_path / "raw", 5)
    assert sources == {LABELS: folder.as_uri()}
    with pytest.raises(DownloadError, match=rf"{ssh_banner_server}{LABELS}: not an HTTP answer \(BadStatusLine"):
        download_all({LABELS: checksums[LABELS]}, [ssh_banner_server], tmp_path / "raw", 5)


def test_a_server_that_lacks_one_file_is_still_asked_for_the_others(mirror, http_mirror, tmp_path: Path):
    folder, _ = mirror
    url, checksums = http_mirror
    backup = tmp_path / "backup"
    write_dataset(backup)
    (folder / FILE_NAMES["train_images"]).unlink()  # The HTTP server now answers 404 for it.
    sources = download_all(checksums, [url, backup.as_uri()], tmp_path / "raw", timeout_seconds=5)
    assert sources[FILE_NAMES["train_images"]] == backup.as_uri()
    assert {sources[name] for name in checksums if name != FILE_NAMES["train_images"]} == {url}


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("https://mirror.example/a.gz", "https://other.example/a.gz", True),
        ("http://mirror.example/a.gz", "https://mirror.example/a.gz", True),
        ("https://mirror.example/a.gz", "http://mirror.example/a.gz", False),
        ("http://mirror.example/a.gz", "file:///etc/passwd", False),
        ("http://mirror.example/a.gz", "ftp://mirror.example/a.gz", False),
    ],
)
def test_redirects_go_only_to_http_and_never_down_from_https(old: str, new: str, allowed: bool):
    request = urllib.request.Request(old)
    if allowed:
        assert _SafeRedirects().redirect_request(request, None, 302, "Found", {}, new).full_url == new
    else:
        with pytest.raises(urllib.error.URLError, match="refused redirect"):
            _SafeRedirects().redirect_request(request, None, 302, "Found", {}, new)
