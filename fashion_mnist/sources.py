"""Read and check data/sources.yaml: the mirrors the download stage tries and the checksums it accepts."""

import re
import urllib.parse
from pathlib import Path
from typing import Any

from fashion_mnist.errors import DataError
from fashion_mnist.params import read_yaml
from fashion_mnist.paths import SOURCE_FILES, SOURCES_FILE

KEYS = ("mirrors", "files")
URL_SCHEMES = ("http", "https", "file")
SHA256 = re.compile(r"[0-9a-f]{64}")


def is_base_url(value: Any) -> bool:
    """True for an http(s) URL with a host, or a file URL with an absolute path, that file names can follow."""
    if not isinstance(value, str) or any(character.isspace() for character in value):
        return False
    # The download appends each file's name, which a query or a fragment would swallow.
    if "?" in value or "#" in value:
        return False
    try:
        parts = urllib.parse.urlsplit(value)
        # Reading the port checks it (a number from 1 to 65535): urlsplit leaves it unparsed until then.
        if parts.port == 0:
            return False
    except ValueError:
        return False
    if parts.scheme not in URL_SCHEMES:
        return False
    if parts.scheme == "file":
        return parts.netloc in ("", "localhost") and parts.path.startswith("/")
    return bool(parts.hostname)


def load_sources(path: Path = SOURCES_FILE) -> dict[str, Any]:
    """Return the sources file's `mirrors` (base URLs) and `files` (.gz name to SHA-256), each one checked."""
    path = Path(path)
    document = read_yaml(path, error=DataError, what="it lists the mirrors and checksums of the download stage")
    if not isinstance(document, dict):
        raise DataError(f"{path}: expected a mapping with keys {', '.join(KEYS)}, got {type(document).__name__}")
    for key in document:
        if key not in KEYS:
            raise DataError(f"{path}: unknown key {key!r}; expected {', '.join(KEYS)}")
    for key in KEYS:
        if key not in document:
            raise DataError(f"{path}: missing key {key}")
    return {"mirrors": _checked_mirrors(path, document["mirrors"]), "files": _checked_files(path, document["files"])}


def _checked_mirrors(path: Path, mirrors: Any) -> list[str]:
    if not isinstance(mirrors, list) or not mirrors:
        raise DataError(f"{path}: mirrors must be a non-empty list of base URLs, got {mirrors!r}")
    for index, mirror in enumerate(mirrors):
        if not is_base_url(mirror):
            raise DataError(
                f"{path}: mirrors[{index}] must be a base URL (http:// or https:// and a host, "
                f"or file:// and an absolute path, without ? or #), got {mirror!r}"
            )
    return list(mirrors)


def _checked_files(path: Path, files: Any) -> dict[str, str]:
    if not isinstance(files, dict) or not files:
        raise DataError(f"{path}: files must map each of the four files' names to its SHA-256, got {files!r}")
    for name, digest in files.items():
        if name not in SOURCE_FILES:
            raise DataError(f"{path}: files.{name} is not a Fashion-MNIST file; expected {', '.join(SOURCE_FILES)}")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise DataError(
                f"{path}: files.{name} must be the SHA-256 of the file's decompressed content "
                f"(64 lowercase hex digits), got {digest!r}"
            )
    # preprocess reads all four, and a file left out here is one that no rerun of the download could bring.
    for name in SOURCE_FILES:
        if name not in files:
            raise DataError(f"{path}: files lacks {name}; all four are needed: {', '.join(SOURCE_FILES)}")
    return dict(files)
