"""Fetch the Fashion-MNIST files from a list of mirrors and keep their decompressed content, checksum verified."""

import hashlib
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from fashion_mnist.errors import DataError, DownloadError
from fashion_mnist.files import atomic_path
from fashion_mnist.paths import SOURCES_FILE

ALLOWED_REDIRECT_SCHEMES = ("http", "https")
CHUNK_SIZE = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), and never from https down to http."""

    def redirect_request(self, request, stream, code, message, headers, new_url):
        old_scheme = urllib.parse.urlsplit(request.full_url).scheme
        new_scheme = urllib.parse.urlsplit(new_url).scheme
        if new_scheme not in ALLOWED_REDIRECT_SCHEMES or (old_scheme == "https" and new_scheme != "https"):
            raise urllib.error.URLError(f"refused redirect from {request.full_url} to {new_url}")
        return super().redirect_request(request, stream, code, message, headers, new_url)


_OPENER = urllib.request.build_opener(_SafeRedirects)


def gzip_size_limit(content_size: int) -> int:
    """The most bytes a gzip file of `content_size` bytes of content may take: no mirror may send more."""
    # Deflate's worst case is content it cannot compress, kept in stored blocks that cost 5 bytes of header
    # each. zlib stores up to 64 KiB a block; allowing a block per KiB covers encoders that cut them smaller.
    # A gzip member adds a 10-byte header and an 8-byte trailer, and 1 KiB covers an optional file name or
    # comment in the header. So a genuine copy is at most about 0.5% larger than its content.
    stored_blocks = content_size // 1024 + 1
    return content_size + 5 * stored_blocks + 10 + 8 + 1024


def gunzip_chunks(chunks: Iterable[bytes], max_size: int) -> Iterator[bytes]:
    """Decompress a gzip stream that arrives in pieces, yielding its content in pieces of at most CHUNK_SIZE bytes.

    Data that is not gzip, is damaged or cut short, or decompresses to more than `max_size` bytes raises DataError
    as soon as it shows, so a gzip bomb costs neither memory nor disk.
    """
    decompressor = zlib.decompressobj(wbits=31)
    head = b""  # The first bytes, to show what a file that is not gzip holds.
    received = size = 0
    for chunk in chunks:
        received += len(chunk)
        if len(head) < 16:
            head = (head + chunk)[:16]
            if len(head) >= 2 and not head.startswith(GZIP_MAGIC):
                raise DataError(f"not a gzip file (it starts with {head!r})")
        pending = chunk
        while pending:
            if decompressor.eof:
                # RFC 1952: a gzip file may hold several members, one after the other.
                decompressor = zlib.decompressobj(wbits=31)
            try:
                # max_length bounds the output of each call, however much the input expands.
                content = decompressor.decompress(pending, CHUNK_SIZE)
            except zlib.error as error:
                raise DataError(f"corrupt gzip data ({error})") from None
            size += len(content)
            if size > max_size:
                raise DataError(f"decompresses to more than {max_size:,} bytes, the size of the genuine file")
            yield content
            pending = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
    # What the last call held back once its input was used up: at most one deflate match, a few hundred bytes.
    content = decompressor.flush()
    size += len(content)
    if size > max_size:
        raise DataError(f"decompresses to more than {max_size:,} bytes, the size of the genuine file")
    yield content
    if not head:
        raise DataError("empty file, not a gzip file")
    if not decompressor.eof:
        raise DataError(f"truncated gzip data: the compressed stream stops unfinished after {received:,} bytes")


def transfer_deadline_seconds(content_size: int, minimum_rate_kb_per_second: float, floor_seconds: float) -> float:
    """Seconds a file of `content_size` bytes of content may take at one mirror: the floor plus its size at the rate."""
    # The content's size bounds the gzip's (within 0.5%, which the floor covers), and is known before any byte arrives.
    return floor_seconds + content_size / (1000 * minimum_rate_kb_per_second)


def _received_chunks(
    response, content_size: int, deadline: float, deadline_seconds: float, progress: tqdm
) -> Iterator[bytes]:
    """Yield a response's body as it arrives, giving up at `deadline` and beyond what a gzip of the content can take."""
    size_limit = gzip_size_limit(content_size)
    received = 0
    # read1 returns what has arrived (read(n) waits for all n bytes), so a slow server is noticed between reads.
    while chunk := response.read1(CHUNK_SIZE):
        received += len(chunk)
        if received > size_limit:
            raise DataError(
                f"sent more than {size_limit:,} bytes, the most that a gzip of the {content_size:,}-byte file can take"
            )
        progress.update(len(chunk))
        yield chunk
        if time.monotonic() > deadline:
            raise DownloadError(
                f"gave up after {deadline_seconds:,.1f} s, this file's deadline, with {received:,} bytes received: "
                "too slow"
            )


def fetch_url(
    url: str, destination: Path, content_size: int, idle_timeout_seconds: float, deadline_seconds: float
) -> str:
    """Write the decompressed content of the gzip file at `url` to `destination`; return the content's SHA-256.

    Connecting, and each wait for data, may take `idle_timeout_seconds`; the whole transfer gives up once
    `deadline_seconds` have passed since the request, checked whenever data arrives. Content of more than
    `content_size` bytes, or a gzip file larger than such content can take, is refused.
    """
    deadline = time.monotonic() + deadline_seconds
    size_limit = gzip_size_limit(content_size)
    digest = hashlib.sha256()
    # The socket's timeout bounds each wait, not the transfer: a slow link that keeps sending is not cut off.
    with _OPENER.open(url, timeout=idle_timeout_seconds) as response, open(destination, "wb") as output:
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > size_limit:
            raise DataError(
                f"announced {int(announced):,} bytes (Content-Length), "
                f"more than the {size_limit:,} that a gzip of the {content_size:,}-byte file can take"
            )
        # disable=None: a live bar in a terminal, nothing in a log file.
        with tqdm(
            total=int(announced) if announced.isdigit() else None,
            unit="B",
            unit_scale=True,
            desc=url.rsplit("/", 1)[-1],
            leave=False,
            disable=None,
        ) as progress:
            chunks = _received_chunks(response, content_size, deadline, deadline_seconds, progress)
            for content in gunzip_chunks(chunks, max_size=content_size):
                output.write(content)
                digest.update(content)
    return digest.hexdigest()


def download_file(
    name: str,
    sha256: str,
    content_size: int,
    mirrors: list[str],
    destination: Path,
    idle_timeout_seconds: float,
    deadline_seconds: float,
    unreachable: dict[str, str],
) -> str:
    """Keep the content of `name` from the first mirror whose copy has the expected content; return that mirror.

    Mirrors that could not be reached are recorded in `unreachable` and skipped for later files,
    so a machine without network fails over once, not once per file.
    """
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        if mirror in unreachable:
            failures.append(f"  {url}: skipped, unreachable earlier ({unreachable[mirror]})")
            continue
        try:
            # The content reaches `destination` only after its checksum matched.
            with atomic_path(destination) as temporary:
                actual = fetch_url(url, temporary, content_size, idle_timeout_seconds, deadline_seconds)
                if actual != sha256:
                    raise DataError(f"decompressed SHA-256 is {actual}, expected {sha256}")
            return mirror
        except urllib.error.URLError as error:
            # A server that answered (HTTPError) or a local folder is worth asking for the next file.
            if not isinstance(error, urllib.error.HTTPError) and not url.startswith("file:"):
                unreachable[mirror] = str(error.reason)
            failures.append(f"  {url}: {error.reason}")
        except TimeoutError as error:
            unreachable[mirror] = f"timed out after {idle_timeout_seconds} s without data"
            failures.append(f"  {url}: {unreachable[mirror]} ({error})")
        except http.client.HTTPException as error:
            failures.append(f"  {url}: not an HTTP answer ({type(error).__name__}: {error})")
        except (OSError, ValueError, DownloadError) as error:
            # Too slow or too big is this file's problem at this mirror: a smaller file may still come from it.
            failures.append(f"  {url}: {error}")
    raise DownloadError(
        f"no mirror delivered {name}:\n" + "\n".join(failures) + "\n"
        "Fix: connect to the internet, or install the offline copy with `apt-get install dataset-fashion-mnist` "
        f"(the mirrors in {SOURCES_FILE} include it as file:///usr/share/datasets/fashion-mnist/), "
        f"or add a folder or server that holds the files to the mirrors in {SOURCES_FILE}."
    )


def download_all(
    files: dict[str, str],
    mirrors: list[str],
    destination_dir: Path,
    content_sizes: dict[str, int],
    idle_timeout_seconds: float,
    minimum_rate_kb_per_second: float,
    deadline_floor_seconds: float,
) -> dict[Path, str]:
    """Keep every file of `files` (.gz name to SHA-256 of its content) decompressed in `destination_dir`.

    Returns each file written, named without `.gz`, with the mirror that served it. `content_sizes`
    gives each file's content size, which bounds what a mirror may send and how long it may take:
    `deadline_floor_seconds` plus that size at `minimum_rate_kb_per_second`.
    """
    for name in files:
        if name not in content_sizes:
            raise DownloadError(
                f"no content size is known for {name}, so its download cannot be bounded; "
                f"the known files are {', '.join(content_sizes)}"
            )
    unreachable: dict[str, str] = {}
    written = {}
    for name, sha256 in files.items():
        destination = Path(destination_dir) / name.removesuffix(".gz")
        deadline_seconds = transfer_deadline_seconds(
            content_sizes[name], minimum_rate_kb_per_second, deadline_floor_seconds
        )
        written[destination] = download_file(
            name, sha256, content_sizes[name], mirrors, destination, idle_timeout_seconds, deadline_seconds, unreachable
        )
    return written
