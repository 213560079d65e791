"""The real Fashion-MNIST files, through the real download and preprocess stages."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.machine import machine
from fashion_mnist.dataset import CLASS_NAMES, load_split
from fashion_mnist.paths import SOURCE_FILES
from tests.conftest import commit, copy_project, run, set_params, set_sources

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


REFERENCE_RUN = Path(__file__).parent / "data/avx2-small-run"
REFERENCE_SHA256 = {
    "data/prepared/train.npz": "152a1227cea4734f137480766137cc2586987838397200ee48661a46c6f8acdc",
    "models/model.keras": "b465582254054c167e39a2414cd63765886ad7e73256a5300c9beabd36baaa00",
}


def cpu_name() -> str:
    """This machine's CPU model and its widest vector instructions, from the benchmarks' machine description."""
    described = machine()
    widest = next((flag for flag in ("avx512_bf16", "avx512f", "avx2") if described[flag]), "no AVX2")
    return f"{described['cpu']} ({widest})"


def test_the_default_cpu_isa_reproduces_the_bytes_of_a_run_made_on_an_avx2_only_cpu(tmp_path: Path):
    # The reference was made on a CPU without AVX-512: on one with it, this is the proof that the cap works; on
    # another AVX2-only CPU, a guard against any change that moves the float32 numbers.
    project = copy_project(tmp_path / "project")
    set_sources(project, {"mirrors": [DEBIAN_COPY.as_uri() + "/"]})
    set_params(project, {"preprocess": {"max_train_samples": 6000}, "train": {"epochs": 3}})
    commit(project, "project")
    run(["dvc", "repro", "train"], project)

    cpu = cpu_name()
    print(f"reproduced on {cpu}")
    digests = {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in REFERENCE_SHA256}
    assert digests == REFERENCE_SHA256, f"on {cpu}"
    produced = project / "reports/train"
    for reference in sorted(REFERENCE_RUN.glob("*.tsv")):
        assert (produced / "plots/metrics" / reference.name).read_text() == reference.read_text(), f"on {cpu}"
    assert (produced / "metrics.json").read_text() == (REFERENCE_RUN / "metrics.json").read_text(), f"on {cpu}"


def test_fashion_mnists_garments_are_narrower_than_the_widest_garment_grabcut_keeps():
    # photo.WIDEST_GARMENT narrows a garment laid flat with its sleeves spread to Fashion-MNIST's own shapes:
    # 95% of its pullovers, coats, dresses and trousers are at most that wide for their height, and of its
    # T-shirts and shirts, the widest, at most as wide as tall.
    from fashion_mnist.photo import WIDEST_GARMENT
    from fashion_mnist.photo_scores import GARMENTS
    from tests.photographs import read_real_split

    images, labels = read_real_split("train")
    lit = images[..., 0] >= 32
    height, width = lit.any(axis=2).sum(axis=1), lit.any(axis=1).sum(axis=1)
    aspect = width / height
    widest = {name: float(np.percentile(aspect[labels == CLASS_NAMES.index(name)], 95)) for name in GARMENTS}
    print({name: round(value, 2) for name, value in widest.items()})
    narrow = ("Pullover", "Coat", "Dress", "Trouser")
    assert all(widest[name] <= WIDEST_GARMENT for name in narrow), widest
    assert all(WIDEST_GARMENT < widest[name] <= 1.0 for name in ("T-shirt/top", "Shirt")), widest
