"""The real Fashion-MNIST files, through the real download and preprocess stages."""

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fashion_mnist.dataset import CLASS_NAMES, load_split
from fashion_mnist.paths import SOURCE_FILES
from tests.conftest import copy_project, run, set_sources

DEBIAN_COPY = Path("/usr/share/datasets/fashion-mnist")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("real_data"),
]


def test_download_and_preprocess_give_60000_and_10000_balanced_images(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    # Debian's copy only, so the test never downloads; the checksums are the shipped ones, as published.
    set_sources(project, {"mirrors": [DEBIAN_COPY.as_uri() + "/"]})
    run(["dvc", "repro", "preprocess"], project)

    checksums = yaml.safe_load((project / "data/sources.yaml").read_text())["files"]
    raw = {path.name: path.read_bytes() for path in (project / "data/raw").iterdir()}
    assert {name: len(content) for name, content in raw.items()} == {
        name.removesuffix(".gz"): size for name, size in SOURCE_FILES.items()
    }
    assert {name: hashlib.sha256(content).hexdigest() for name, content in raw.items()} == {
        name.removesuffix(".gz"): checksum for name, checksum in checksums.items()
    }
    counts = pd.read_csv(project / "reports/data.csv").set_index("class")
    assert counts["train"].to_dict() == dict.fromkeys(CLASS_NAMES, 6000)
    assert counts["test"].to_dict() == dict.fromkeys(CLASS_NAMES, 1000)
    train_images, _ = load_split(project / "data/prepared/train.npz")
    test_images, _ = load_split(project / "data/prepared/test.npz")
    assert train_images.shape == (60_000, 28, 28, 1) and test_images.shape == (10_000, 28, 28, 1)
