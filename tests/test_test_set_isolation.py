"""Tuning never needs the test set: train and plot run with every test file deleted."""

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import run

pytestmark = pytest.mark.slow

TRAIN_OUTPUTS = [
    "models/model.keras",
    "reports/train/model_summary.txt",
    "reports/train/metrics.json",
    "reports/train/timing.json",
    "reports/train/plots/metrics/val_accuracy.tsv",
]


def test_train_and_plot_run_without_the_test_set(project: Path):
    run(["dvc", "repro", "preprocess"], project)
    test_files = [project / "data/prepared/test.npz", *(project / "data/raw").glob("t10k-*")]
    assert len(test_files) == 3, test_files  # the prepared split, and the raw images and labels
    for path in test_files:
        path.unlink()
    run([sys.executable, "-m", "stages.train"], project)
    run([sys.executable, "-m", "stages.plot"], project)

    for output in TRAIN_OUTPUTS:
        assert (project / output).stat().st_size > 0, output
    # The convolution figure's images come from the validation part of train.npz.
    for figure in ["learning_curves.png", "convolution.png"]:
        assert (project / "reports/train" / figure).read_bytes().startswith(b"\x89PNG"), figure
    # The control: final-evaluate, which does read the test set, can no longer run, given a model to score.
    shutil.copyfile(project / "models/model.keras", project / "models/final.keras")
    evaluated = run([sys.executable, "-m", "stages.final_evaluate"], project, check=False)
    assert evaluated.returncode == 1 and "test.npz: file not found" in evaluated.stderr, evaluated.stderr
    assert not any(path.exists() for path in test_files)
