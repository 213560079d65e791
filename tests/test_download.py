"""Downloading from mirrors: checksums, fallback, deadlines, size limits, redirects and atomic writes."""

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import socket
import struct
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from fashion_mnist.download import _SafeRedirects, download_all, gzip_size_limit, transfer_deadline_seconds
from fashion_mnist.errors import DownloadError
from fashion_mnist.params import load_params
from fashion_mnist.paths import SOURCE_FILES
from tests.conftest import REPOSITORY, copy_project, run, set_sources
from tests.synthetic import FILE_NAMES, dataset_contents, write_dataset

LABELS = FILE_NAMES["train_labels"]
IMAGES = FILE_NAMES["train_images"]


def download(
    checksums: dict[str, str],
    mirrors: list[str],
    destination: Path,
    idle_timeout_seconds: float = 5,
    minimum_rate_kb_per_second: float = 1,
    deadline_floor_seconds: float = 5,
):
    """download_all with the real content sizes; return which mirror served each file, by the name it is kept under."""
    written = download_all(
        checksums,
        mirrors,
        destination,
        content_sizes=SOURCE_FILES,
        idle_timeout_seconds=idle_timeout_seconds,
        minimum_rate_kb_per_second=minimum_rate_kb_per_second,
        deadline_floor_seconds=deadline_floor_seconds,
    )
    assert all(path.parent == destination for path in written)
    return {path.name: mirror for path, mirror in written.items()}


def kept(name: str) -> str:
    """The name a downloaded file is kept under: its content, without .gz."""
    return name.removesuffix(".gz")


@pytest.fixture
def serve_folder() -> Iterator[Callable[[Path], str]]:
    """Serve folders over HTTP on loopback; /moved/<name> redirects to /<name>, /to-ftp/<name> to ftp://."""
    servers = []

    def serve(folder: Path) -> str:
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
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()


@pytest.fixture
def http_mirror(mirror, serve_folder) -> tuple[str, dict[str, str]]:
    """The synthetic mirror served over HTTP on loopback."""
    folder, checksums = mirror
    return serve_folder(folder), checksums


class ScriptedServer:
    """A loopback server that reads each request and lets `respond` answer it, on a thread per connection."""

    def __init__(self, respond: Callable[[socket.socket], None]):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.respond = respond
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket):
        with connection:
            request = b""
            while b"\r\n\r\n" not in request and (received := connection.recv(4096)):
                request += received
            # The client may give up and hang up mid-answer, as it should.
            with contextlib.suppress(OSError):
                self.respond(connection)


@pytest.fixture
def scripted_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Start ScriptedServers; return each one's base URL."""
    servers = []

    def start(respond: Callable[[socket.socket], None]) -> str:
        servers.append(ScriptedServer(respond))
        return servers[-1].url

    yield start
    for server in servers:
        server.listener.close()


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


def test_every_file_is_fetched_verified_and_kept_decompressed_from_a_folder(mirror, tmp_path: Path):
    folder, checksums = mirror
    sources = download(checksums, [folder.as_uri() + "/"], tmp_path / "raw")
    assert set(sources) == {kept(name) for name in checksums}
    for name, content in dataset_contents().items():
        assert (tmp_path / "raw" / kept(name)).read_bytes() == content
    assert sorted(path.name for path in (tmp_path / "raw").iterdir()) == sorted(sources), "no temporary file is left"


def test_mirrors_that_gzip_differently_give_the_download_stage_byte_identical_files(tmp_path: Path):
    # Debian re-gzips the official files: other compression level, other header time, same content.
    fast, best = tmp_path / "level-1", tmp_path / "level-9"
    checksums = write_dataset(fast, compresslevel=1, mtime=0)
    assert write_dataset(best, compresslevel=9, mtime=1_600_000_000) == checksums
    assert all((fast / name).read_bytes() != (best / name).read_bytes() for name in checksums)
    project = copy_project(tmp_path / "project")
    outputs = []
    for folder in (fast, best):
        set_sources(project, {"mirrors": [folder.as_uri() + "/"], "files": checksums})
        run([sys.executable, "-m", "stages.download"], project)
        raw = sorted((project / "data/raw").iterdir())
        outputs.append({path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in raw})
    assert outputs[0] == outputs[1] == {kept(name): checksum for name, checksum in checksums.items()}


def test_a_gzip_file_of_several_members_is_one_file(mirror, tmp_path: Path):
    _, checksums = mirror
    content = dataset_contents()[LABELS]
    folder = tmp_path / "members"
    (folder / LABELS).parent.mkdir()
    (folder / LABELS).write_bytes(gzip.compress(content[:100], mtime=0) + gzip.compress(content[100:], mtime=0))
    download({LABELS: checksums[LABELS]}, [folder.as_uri()], tmp_path / "raw")
    assert (tmp_path / "raw" / kept(LABELS)).read_bytes() == content


def test_files_are_fetched_over_http_following_a_redirect(http_mirror, tmp_path: Path):
    url, checksums = http_mirror
    sources = download(checksums, [url + "moved/"], tmp_path / "raw")
    assert set(sources.values()) == {url + "moved/"}


def test_a_redirect_to_another_scheme_is_refused(http_mirror, tmp_path: Path):
    url, checksums = http_mirror
    with pytest.raises(DownloadError, match=r"refused redirect from .* to ftp://127\.0\.0\.1/"):
        download({LABELS: checksums[LABELS]}, [url + "to-ftp/"], tmp_path / "raw")
    assert not (tmp_path / "raw" / kept(LABELS)).exists()


def test_a_checksum_mismatch_falls_back_to_the_next_mirror(mirror, tmp_path: Path):
    folder, checksums = mirror
    other = tmp_path / "other"
    write_dataset(other, seed=99)  # Same names, other content.
    sources = download(checksums, [other.as_uri(), folder.as_uri()], tmp_path / "raw")
    assert set(sources.values()) == {folder.as_uri()}
    assert (tmp_path / "raw" / kept(LABELS)).read_bytes() == dataset_contents()[LABELS]


def damaged_copies(content: bytes) -> dict[str, bytes]:
    """What a mirror may serve instead of a gzip file, with the reason the download gives for each."""
    good = gzip.compress(content, mtime=0)
    # The trailer's CRC-32 of the content, off by one.
    wrong_crc = good[:-8] + struct.pack("<I", (zlib.crc32(content) + 1) & 0xFFFFFFFF) + good[-4:]
    return {
        r"not a gzip file \(it starts with b'<html>404 Not Fo'\)": b"<html>404 Not Found</html>",
        r"truncated gzip data: the compressed stream stops unfinished after [0-9,]+ bytes": good[:-10],
        r"corrupt gzip data \(Error -3 while decompressing data: incorrect data check\)": wrong_crc,
        r"empty file, not a gzip file": b"",
    }


@pytest.mark.parametrize("reason", list(damaged_copies(b"")))
def test_a_damaged_gzip_file_falls_back_to_the_next_mirror_and_is_named(reason: str, mirror, tmp_path: Path):
    folder, checksums = mirror
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / LABELS).write_bytes(damaged_copies(dataset_contents()[LABELS])[reason])
    assert download({LABELS: checksums[LABELS]}, [damaged.as_uri(), folder.as_uri()], tmp_path / "raw") == {
        kept(LABELS): folder.as_uri()
    }
    with pytest.raises(DownloadError, match=rf"{damaged.as_uri()}/{LABELS}: {reason}"):
        download({LABELS: checksums[LABELS]}, [damaged.as_uri()], tmp_path / "raw")


def test_when_every_mirror_fails_the_error_lists_each_one_and_the_fix(mirror, silent_server, tmp_path: Path):
    folder, checksums = mirror
    wrong = tmp_path / "wrong"
    write_dataset(wrong, seed=99)
    closed = closed_port_url()
    mirrors = [closed, silent_server.url, wrong.as_uri(), (tmp_path / "empty").as_uri()]
    with pytest.raises(DownloadError) as raised:
        download({LABELS: checksums[LABELS]}, mirrors, tmp_path / "raw", idle_timeout_seconds=0.5)
    message = str(raised.value)
    assert f"no mirror delivered {LABELS}" in message
    assert f"{closed}{LABELS}: [Errno 111] Connection refused" in message
    assert f"{silent_server.url}{LABELS}: timed out" in message
    assert f"{wrong.as_uri()}/{LABELS}: decompressed SHA-256 is " in message
    assert f"{(tmp_path / 'empty').as_uri()}/{LABELS}: [Errno 2] No such file or directory" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert f"add a folder or server that holds the files to the mirrors in {Path('data/sources.yaml')}" in message
    assert not (tmp_path / "raw" / kept(LABELS)).exists(), "nothing unverified reaches the destination"


def test_an_unreachable_mirror_is_tried_once_not_once_per_file(mirror, silent_server, tmp_path: Path):
    folder, checksums = mirror
    sources = download(checksums, [silent_server.url, folder.as_uri()], tmp_path / "raw", idle_timeout_seconds=0.5)
    assert set(sources.values()) == {folder.as_uri()}
    assert len(silent_server.connections) == 1


def test_a_failed_download_keeps_the_earlier_good_file(mirror, tmp_path: Path):
    folder, checksums = mirror
    download(checksums, [folder.as_uri()], tmp_path / "raw")
    good = (tmp_path / "raw" / kept(LABELS)).read_bytes()
    wrong = tmp_path / "wrong"
    write_dataset(wrong, seed=99)
    with pytest.raises(DownloadError):
        download(checksums, [wrong.as_uri()], tmp_path / "raw")
    assert (tmp_path / "raw" / kept(LABELS)).read_bytes() == good


def test_a_mirror_that_does_not_speak_http_is_skipped(mirror, ssh_banner_server, tmp_path: Path):
    folder, checksums = mirror
    sources = download({LABELS: checksums[LABELS]}, [ssh_banner_server, folder.as_uri()], tmp_path / "raw")
    assert sources == {kept(LABELS): folder.as_uri()}
    with pytest.raises(DownloadError, match=rf"{ssh_banner_server}{LABELS}: not an HTTP answer \(BadStatusLine"):
        download({LABELS: checksums[LABELS]}, [ssh_banner_server], tmp_path / "raw")


def test_a_server_that_lacks_one_file_is_still_asked_for_the_others(mirror, http_mirror, tmp_path: Path):
    folder, _ = mirror
    url, checksums = http_mirror
    backup = tmp_path / "backup"
    write_dataset(backup)
    (folder / IMAGES).unlink()  # The HTTP server now answers 404 for it.
    sources = download(checksums, [url, backup.as_uri()], tmp_path / "raw")
    assert sources[kept(IMAGES)] == backup.as_uri()
    assert {sources[kept(name)] for name in checksums if name != IMAGES} == {url}


# Each file's deadline, scaled down: the labels' 60,008 bytes at 100 kB/s, plus 0.4 s, is 1.0 s.
ONE_SECOND_FOR_THE_LABELS = {"minimum_rate_kb_per_second": 100, "deadline_floor_seconds": 0.4}


def test_a_server_that_drips_is_abandoned_at_the_deadline(mirror, scripted_server, tmp_path: Path):
    folder, checksums = mirror
    body = (folder / LABELS).read_bytes()  # The genuine file, one byte every 0.1 s: it would take 15 s.

    def drip(connection: socket.socket):
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for byte in body:
            connection.sendall(bytes([byte]))
            time.sleep(0.1)

    assert len(body) > 100
    deadline = transfer_deadline_seconds(SOURCE_FILES[LABELS], *ONE_SECOND_FOR_THE_LABELS.values())
    assert deadline == pytest.approx(1, abs=0.01)
    url = scripted_server(drip)
    started = time.monotonic()
    # Never silent for the idle timeout: only the deadline can stop it.
    mirrors = [url, folder.as_uri()]
    sources = download({LABELS: checksums[LABELS]}, mirrors, tmp_path / "raw", **ONE_SECOND_FOR_THE_LABELS)
    assert sources == {kept(LABELS): folder.as_uri()}
    assert time.monotonic() - started < 2
    with pytest.raises(
        DownloadError, match=rf"{url}{LABELS}: gave up after 1\.0 s, this file's deadline, with \d+ bytes received"
    ):
        download({LABELS: checksums[LABELS]}, [url], tmp_path / "raw", **ONE_SECOND_FOR_THE_LABELS)


def test_a_slow_steady_server_delivers_though_the_file_takes_longer_than_the_idle_timeout(
    mirror, scripted_server, tmp_path: Path
):
    folder, checksums = mirror
    body = (folder / LABELS).read_bytes()
    pieces = [body[start : start + len(body) // 10 + 1] for start in range(0, len(body), len(body) // 10 + 1)]

    def steady(connection: socket.socket):
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for piece in pieces:
            time.sleep(0.15)
            connection.sendall(piece)

    url = scripted_server(steady)
    started = time.monotonic()
    # A deadline of 0.5 s plus 60,008 bytes at 20 kB/s, 3.5 s in all, against the 1.5 s the file takes.
    sources = download(
        {LABELS: checksums[LABELS]},
        [url],
        tmp_path / "raw",
        idle_timeout_seconds=0.5,
        minimum_rate_kb_per_second=20,
        deadline_floor_seconds=0.5,
    )
    # A single limit of 0.5 s on the whole file, or even of 1 s, would have given up on this healthy server.
    assert time.monotonic() - started > 1.2
    assert sources == {kept(LABELS): url}
    assert (tmp_path / "raw" / kept(LABELS)).read_bytes() == dataset_contents()[LABELS]


def test_the_shipped_deadlines_let_the_largest_genuine_copy_through_at_the_minimum_rate():
    params = load_params(["download"], path=REPOSITORY / "params.yaml")["download"]
    rate, floor = params["minimum_rate_kb_per_second"], params["deadline_floor_seconds"]
    assert rate <= 20, "far below any real link: 20 kB/s is a 160 kbit/s line"
    for name, size in SOURCE_FILES.items():
        # A stored (uncompressed) gzip, the largest a mirror may send, at exactly the minimum rate.
        assert gzip_size_limit(size) / (1000 * rate) < transfer_deadline_seconds(size, rate, floor), name


def test_a_mirror_too_slow_for_one_file_is_still_asked_for_the_next(mirror, scripted_server, tmp_path: Path):
    folder, checksums = mirror
    connections = []

    def drip(connection: socket.socket):
        connections.append(connection)
        # A valid gzip header whose comment never ends.
        connection.sendall(b"HTTP/1.0 200 OK\r\n\r\n\x1f\x8b\x08\x10\x00\x00\x00\x00\x00\xff")
        for _ in range(30):
            time.sleep(0.1)
            connection.sendall(b"x")

    files = {name: checksums[name] for name in (LABELS, FILE_NAMES["test_labels"])}
    started = time.monotonic()
    # Deadlines of about 0.3 s for either file.
    sources = download(
        files,
        [scripted_server(drip), folder.as_uri()],
        tmp_path / "raw",
        minimum_rate_kb_per_second=10_000,
        deadline_floor_seconds=0.3,
    )
    assert set(sources.values()) == {folder.as_uri()}
    assert time.monotonic() - started < 1.5
    assert len(connections) == 2, "unlike an unreachable one, a slow mirror may be quick enough for a smaller file"


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MB of zeros gzipped into about 200 KB: four times the largest Fashion-MNIST file."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(200)) + compressor.flush()


def test_a_gzip_bomb_is_refused_once_it_outgrows_the_file_without_filling_memory(
    gzip_bomb, mirror, serve_folder, tmp_path: Path
):
    folder, checksums = mirror
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    (bombs / IMAGES).write_bytes(gzip_bomb)
    assert len(gzip_bomb) < gzip_size_limit(SOURCE_FILES[IMAGES]), "it passes the size limit on the gzip file"
    url = serve_folder(bombs)
    tracemalloc.start()
    try:
        sources = download({IMAGES: checksums[IMAGES]}, [url, folder.as_uri()], tmp_path / "raw")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sources == {kept(IMAGES): folder.as_uri()}
    assert peak < 10_000_000, f"{peak:,} bytes at the peak: the content is not streamed"
    with pytest.raises(
        DownloadError, match=rf"{url}{IMAGES}: decompresses to more than 47,040,016 bytes, the size of the genuine file"
    ):
        download({IMAGES: checksums[IMAGES]}, [url], tmp_path / "raw")
    assert list((tmp_path / "raw").iterdir()) == [tmp_path / "raw" / kept(IMAGES)], "no temporary file is left"


def gzip_with_comment(content: bytes, comment_size: int) -> bytes:
    """A valid gzip file of `content` whose header carries a comment of `comment_size` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    header = b"\x1f\x8b\x08\x10" + struct.pack("<I", 0) + b"\x00\xff" + b"x" * comment_size + b"\x00"
    trailer = struct.pack("<II", zlib.crc32(content), len(content))
    return header + compressor.compress(content) + compressor.flush() + trailer


def test_a_response_longer_than_any_gzip_of_the_file_is_refused(mirror, scripted_server, tmp_path: Path):
    folder, checksums = mirror
    # Right content, but a 1 MB header comment, sent without Content-Length: only counting can stop it.
    body = gzip_with_comment(dataset_contents()[LABELS], comment_size=1_000_000)
    assert gzip.decompress(body) == dataset_contents()[LABELS]
    url = scripted_server(lambda connection: connection.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + body))
    assert download({LABELS: checksums[LABELS]}, [url, folder.as_uri()], tmp_path / "raw") == {
        kept(LABELS): folder.as_uri()
    }
    limit = gzip_size_limit(SOURCE_FILES[LABELS])
    with pytest.raises(
        DownloadError,
        match=rf"{url}{LABELS}: sent more than {limit:,} bytes, the most that a gzip of the 60,008-byte file can take",
    ):
        download({LABELS: checksums[LABELS]}, [url], tmp_path / "raw")


def test_a_content_length_beyond_the_limit_is_refused_before_any_body(mirror, scripted_server, tmp_path: Path):
    folder, checksums = mirror

    def announce_and_wait(connection: socket.socket):
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        connection.recv(1)  # Send nothing more until the client hangs up.

    url = scripted_server(announce_and_wait)
    started = time.monotonic()
    limit = gzip_size_limit(SOURCE_FILES[LABELS])
    with pytest.raises(
        DownloadError,
        match=rf"{url}{LABELS}: announced 1,000,000,000 bytes \(Content-Length\), more than the {limit:,} that a gzip",
    ):
        download({LABELS: checksums[LABELS]}, [url], tmp_path / "raw", idle_timeout_seconds=5)
    assert time.monotonic() - started < 1, "it does not wait for the body"


@pytest.mark.parametrize("name", sorted(SOURCE_FILES))
def test_the_size_limit_holds_a_stored_gzip_of_incompressible_content_and_little_more(name: str):
    content = np.random.default_rng(0).bytes(SOURCE_FILES[name])
    buffer = io.BytesIO()
    # Level 0 is zlib's worst case: stored blocks. The file name in the header is what `gzip` writes.
    with gzip.GzipFile(filename=kept(name), mode="wb", fileobj=buffer, compresslevel=0, mtime=0) as stream:
        stream.write(content)
    assert len(content) < len(buffer.getvalue()) <= gzip_size_limit(len(content)) <= len(content) * 1.01 + 2048


def test_a_file_of_unknown_size_is_refused_before_any_download(mirror, tmp_path: Path):
    folder, checksums = mirror
    with pytest.raises(DownloadError, match=r"no content size is known for mnist\.gz, so its download cannot"):
        download({"mnist.gz": checksums[LABELS]}, [folder.as_uri()], tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


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
