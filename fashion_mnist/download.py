"""Fetch the Fashion-MNIST files from a list of mirrors, accepting only content with the known checksum."""

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from fashion_mnist.errors import DataError, DownloadError
from fashion_mnist.files import atomic_path
from fashion_mnist.idx import read_gzip

ALLOWED_REDIRECT_SCHEMES = ("http", "https")


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), and never from https down to http."""

    def redirect_request(self, request, stream, code, message, headers, new_url):
        old_scheme = urllib.parse.urlsplit(request.full_url).scheme
        new_scheme = urllib.parse.urlsplit(new_url).scheme
        if new_scheme not in ALLOWED_REDIRECT_SCHEMES or (old_scheme == "https" and new_scheme != "https"):
            raise urllib.error.URLError(f"refused redirect from {request.full_url} to {new_url}")
        return super().redirect_request(request, stream, code, message, headers, new_url)


_OPENER = urllib.request.build_opener(_SafeRedirects)


def content_sha256(path: Path) -> str:
    """SHA-256 of a gzip file's decompressed content: the one checksum every mirror agrees on."""
    return hashlib.sha256(read_gzip(path)).hexdigest()


def fetch_url(url: str, destination: Path, timeout_seconds: float) -> None:
    """Copy `url` to `destination` with a progress bar; `timeout_seconds` bounds connecting and each read."""
    with _OPENER.open(url, timeout=timeout_seconds) as response, open(destination, "wb") as output:
        size = response.headers.get("Content-Length")
        # disable=None: a live bar in a terminal, nothing in a log file.
        with tqdm(
            total=int(size) if size else None,
            unit="B",
            unit_scale=True,
            desc=url.rsplit("/", 1)[-1],
            leave=False,
            disable=None,
        ) as progress:
            while chunk := response.read(1 << 16):
                output.write(chunk)
                progress.update(len(chunk))


def download_file(
    name: str,
    sha256: str,
    mirrors: list[str],
    destination_dir: Path,
    timeout_seconds: float,
    unreachable: dict[str, str],
) -> str:
    """Download `name` from the first mirror whose copy has the expected content; return that mirror.

    Mirrors that could not be reached are recorded in `unreachable` and skipped for later files,
    so a machine without network fails over once, not once per file.
    """
    destination = Path(destination_dir) / name
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        if mirror in unreachable:
            failures.append(f"  {url}: skipped, unreachable earlier ({unreachable[mirror]})")
            continue
        try:
            # The file reaches `destination` only after its checksum matched.
            with atomic_path(destination) as temporary:
                fetch_url(url, temporary, timeout_seconds)
                actual = content_sha256(temporary)
                if actual != sha256:
                    raise DataError(f"decompressed SHA-256 is {actual}, expected {sha256}")
            return mirror
        except urllib.error.URLError as error:
            # A server that answered (HTTPError) or a local folder is worth asking for the next file.
            if not isinstance(error, urllib.error.HTTPError) and not url.startswith("file:"):
                unreachable[mirror] = str(error.reason)
            failures.append(f"  {url}: {error.reason}")
        except TimeoutError as error:
            unreachable[mirror] = f"timed out after {timeout_seconds} s"
            failures.append(f"  {url}: {unreachable[mirror]} ({error})")
        except http.client.HTTPException as error:
            failures.append(f"  {url}: not an HTTP answer ({type(error).__name__}: {error})")
        except (OSError, DataError, ValueError) as error:
            failures.append(f"  {url}: {error}")
    raise DownloadError(
        f"no mirror delivered {name}:\n" + "\n".join(failures) + "\n"
        "Fix: connect to the internet, or install the offline copy with `apt-get install dataset-fashion-mnist` "
        "(download.mirrors lists it as file:///usr/share/datasets/fashion-mnist/), "
        "or point download.mirrors in params.yaml at a folder or server that holds the files."
    )


def download_all(
    files: dict[str, str], mirrors: list[str], destination_dir: Path, timeout_seconds: float
) -> dict[str, str]:
    """Download every file of `files` (name to SHA-256) into `destination_dir`; return which mirror served each."""
    unreachable: dict[str, str] = {}
    return {
        name: download_file(name, sha256, mirrors, destination_dir, timeout_seconds, unreachable)
        for name, sha256 in files.items()
    }
