"""data/sources.yaml: the download stage's mirrors and checksums, each bad value named by file and key."""

import re
import sys
from pathlib import Path

import pytest
import yaml

from fashion_mnist.errors import DataError
from fashion_mnist.paths import SOURCE_FILES, SOURCES_FILE
from fashion_mnist.sources import load_sources
from tests.conftest import REPOSITORY, copy_project, run

IMAGES = "train-images-idx3-ubyte.gz"


def write_sources(tmp_path: Path, changes: dict) -> Path:
    """The project's data/sources.yaml with `changes` (key to value) applied."""
    sources = yaml.safe_load((REPOSITORY / SOURCES_FILE).read_text())
    sources.update(changes)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(sources))
    return path


def test_the_shipped_sources_are_valid_and_name_every_file():
    sources = load_sources(REPOSITORY / SOURCES_FILE)
    assert list(sources["files"]) == list(SOURCE_FILES)
    assert sources["mirrors"][-1] == "file:///usr/share/datasets/fashion-mnist/", "works offline"


def test_the_download_stage_and_only_it_depends_on_the_sources_file():
    stages = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["stages"]
    assert [name for name, stage in stages.items() if str(SOURCES_FILE) in stage["deps"]] == ["download"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mirrors", []),
        ("mirrors", "file:///somewhere/"),
        ("mirrors", None),
        ("files", {}),
        ("files", ["train-images-idx3-ubyte.gz"]),
    ],
)
def test_a_key_of_the_wrong_kind_is_named(tmp_path: Path, key: str, value):
    path = write_sources(tmp_path, {key: value})
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: {key} must .*, got {re.escape(repr(value))}"):
        load_sources(path)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/fashion/",
        "/usr/share/datasets/fashion-mnist/",
        "file://server/share/",
        "file:relative/folder/",
        "https://",
        "http:///fashion/",
        "http://example.com:port/",
        "http://example.com:0/",
        "http://example.com/fashion mnist/",
        "https://example.com/fashion/?token=",
        "https://example.com/fashion/#files",
        42,
    ],
)
def test_a_mirror_that_is_not_a_well_formed_base_url_is_named_by_its_place(tmp_path: Path, url):
    path = write_sources(tmp_path, {"mirrors": ["https://example.com/fashion/", url]})
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: mirrors\[1\] must be a base URL .*, got "):
        load_sources(path)


@pytest.mark.parametrize(
    "url",
    ["https://example.com/fashion/", "http://127.0.0.1:8080", "file:///srv/fashion-mnist/", "file://localhost/srv/"],
)
def test_well_formed_base_urls_are_accepted(tmp_path: Path, url: str):
    assert load_sources(write_sources(tmp_path, {"mirrors": [url]}))["mirrors"] == [url]


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ("not-a-checksum", "must be the SHA-256 of the file's decompressed content (64 lowercase hex digits)"),
        ("C" * 64, "must be the SHA-256"),
        ("c" * 63, "must be the SHA-256"),
        (None, "must be the SHA-256"),
    ],
)
def test_a_digest_that_is_not_a_sha256_is_named_by_its_file(tmp_path: Path, digest, message: str):
    files = yaml.safe_load((REPOSITORY / SOURCES_FILE).read_text())["files"] | {IMAGES: digest}
    path = write_sources(tmp_path, {"files": files})
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: files\.{IMAGES} {re.escape(message)}"):
        load_sources(path)


@pytest.mark.parametrize("missing", list(SOURCE_FILES))
def test_every_one_of_the_four_files_is_required_and_a_missing_one_is_named(tmp_path: Path, missing: str):
    # preprocess needs all four, and would only say to run the download stage, which could not help.
    files = yaml.safe_load((REPOSITORY / SOURCES_FILE).read_text())["files"]
    del files[missing]
    path = write_sources(tmp_path, {"files": files})
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: files lacks {re.escape(missing)}; all four"):
        load_sources(path)


def test_a_file_name_fashion_mnist_does_not_publish_is_named(tmp_path: Path):
    files = yaml.safe_load((REPOSITORY / SOURCES_FILE).read_text())["files"] | {"train-images.gz": "0" * 64}
    path = write_sources(tmp_path, {"files": files})
    with pytest.raises(DataError, match=r"files\.train-images\.gz is not a Fashion-MNIST file; expected train-images"):
        load_sources(path)


def test_an_unknown_or_missing_key_is_named(tmp_path: Path):
    path = write_sources(tmp_path, {"mirror": ["https://example.com/"]})
    with pytest.raises(DataError, match=r"sources\.yaml: unknown key 'mirror'; expected mirrors, files"):
        load_sources(path)
    sources = yaml.safe_load((REPOSITORY / SOURCES_FILE).read_text())
    del sources["files"]
    path.write_text(yaml.safe_dump(sources))
    with pytest.raises(DataError, match=r"sources\.yaml: missing key files"):
        load_sources(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, r"sources\.yaml: file not found; it lists the mirrors and checksums of the download stage"),
        ("mirrors: [https://example.com/\n", r"sources\.yaml: not valid YAML"),
        ("- https://example.com/\n", r"sources\.yaml: expected a mapping with keys mirrors, files, got list"),
    ],
)
def test_a_missing_or_malformed_file_is_named(tmp_path: Path, text: str | None, message: str):
    path = tmp_path / "sources.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_sources(path)


def test_a_bad_sources_file_stops_the_download_stage_with_one_line(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    sources = project / SOURCES_FILE
    sources.write_text(sources.read_text().replace("https://storage.googleapis.com", "ftp://storage.googleapis.com"))
    result = run([sys.executable, "-m", "stages.download"], project, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {SOURCES_FILE}: mirrors[0] must be a base URL (http:// or https:// and a host, "
        "or file:// and an absolute path, without ? or #), got 'ftp://storage.googleapis.com/tensorflow/tf-keras-datasets/'"
    ]
    assert not (project / "data/raw").exists()
