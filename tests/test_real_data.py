"""The real Fashion-MNIST files, through the real download and preprocess stages."""

import json
from pathlib import Path

import pytest

from fashion_mnist.dataset import CLASS_NAMES, load_split
from tests.conftest import copy_project, run

DEBIAN_COPY = Path("/usr/share/datasets/fashion-mnist")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEBIAN_COPY.is_dir(), reason="needs Debian's dataset-fashion-mnist (apt-get install it)"),
]


def test_download_and_preprocess_give_60000_and_10000_balanced_images(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    # The shipped params.yaml: official mirrors first, then Debian's copy; checksums as published.
    run(["dvc", "repro", "preprocess"], project)

    counts = json.loads((project / "reports/data.json").read_text())
    assert counts == {"train": dict.fromkeys(CLASS_NAMES, 6000), "test": dict.fromkeys(CLASS_NAMES, 1000)}
    train_images, _ = load_split(project / "data/prepared/train.npz")
    test_images, _ = load_split(project / "data/prepared/test.npz")
    assert train_images.shape == (60_000, 28, 28, 1) and test_images.shape == (10_000, 28, 28, 1)
