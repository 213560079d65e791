"""The batch-size sweep: its learning rates and flags, and its report read from experiment commits as `dvc exp` stores
them, and drawn."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.batch_sizes import (
    collect,
    draw,
    experiment_flags,
    experiment_name,
    experiment_ref,
    read_experiment,
    scaled_learning_rate,
)
from fashion_mnist.progress import epoch_logger

REPOSITORY = Path(__file__).resolve().parent.parent


def test_the_learning_rate_scales_with_the_square_root_of_the_batch_size():
    assert scaled_learning_rate(128, 128, 0.001) == 0.001
    assert scaled_learning_rate(512, 128, 0.001) == 0.002
    assert scaled_learning_rate(32, 128, 0.001) == 0.0005
    assert scaled_learning_rate(256, 128, 0.001) == pytest.approx(0.001414, abs=1e-6)


def test_each_run_sets_the_batch_size_learning_rate_epochs_and_precision():
    assert experiment_flags(64, 0.000707, 30, "mixed_bfloat16") == [
        "-S",
        "train.batch_size=64",
        "-S",
        "train.learning_rate=0.000707",
        "-S",
        "train.epochs=30",
        "-S",
        "train.precision=mixed_bfloat16",
        "-S",
        "train.monitor=val_accuracy",
        "-S",
        "train.early_stopping_patience=null",
        "-S",
        "train.cpu_isa=native",
    ]
    assert experiment_flags(64, 0.000707, 30, "float32")[-2:] == ["-S", "train.cpu_isa=avx2"]
    assert experiment_name(64) == "batch-64"


def git(repository: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=repository, check=True, capture_output=True, text=True).stdout


def commit_experiment(repository: Path, batch_size: int, val_accuracy: list[float], best_epoch: int) -> None:
    """The sweep's experiment for `batch_size`."""
    params = f"train:\n  batch_size: {batch_size}\n  learning_rate: 0.002\n  precision: mixed_bfloat16\n"
    commit_run(repository, experiment_name(batch_size), params, val_accuracy, best_epoch)


def commit_run(repository: Path, name: str, params: str, val_accuracy: list[float], best_epoch: int) -> None:
    """An experiment commit on top of HEAD, with `params` as params.yaml and the files the train stage writes, under
    the ref `dvc exp` gives experiment `name`."""
    baseline = git(repository, "rev-parse", "HEAD").strip()
    git(repository, "checkout", "--quiet", "--detach")
    (repository / "params.yaml").write_text(params)
    reports = repository / "reports/train"
    with epoch_logger(reports) as log:
        for epoch, accuracy in enumerate(val_accuracy, start=1):
            log({"epoch": epoch, "accuracy": accuracy + 0.01, "val_accuracy": accuracy, "val_loss": 1 - accuracy})
    best = {"val_accuracy": val_accuracy[best_epoch - 1], "best_epoch": best_epoch, "epochs": len(val_accuracy)}
    (reports / "metrics.json").write_text(json.dumps(best))
    seconds = [10.0 * epoch for epoch in range(1, len(val_accuracy) + 1)]
    (reports / "timing.json").write_text(json.dumps({"train_seconds": seconds[-1] + 1, "epoch_seconds": seconds}))
    git(repository, "add", "-A")
    git(repository, "commit", "--quiet", "-m", name)
    experiment = git(repository, "rev-parse", "HEAD").strip()
    git(repository, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}", experiment)
    git(repository, "checkout", "--quiet", baseline)


@pytest.fixture
def sweep(tmp_path: Path, monkeypatch) -> Path:
    """A repository with two experiments of the sweep on its HEAD; the working directory."""
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "test")
    shutil.copyfile(REPOSITORY / "params.yaml", tmp_path / "params.yaml")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "baseline")
    commit_experiment(tmp_path, 32, [0.85, 0.9, 0.89], best_epoch=2)
    commit_experiment(tmp_path, 512, [0.8, 0.86, 0.91], best_epoch=3)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_run_is_read_from_its_experiment_commit(sweep: Path):
    run = read_experiment(experiment_ref("batch-32"))
    assert run == {
        "batch_size": 32,
        "learning_rate": 0.002,
        "precision": "mixed_bfloat16",
        "best_epoch": 2,
        "best_val_accuracy": 0.9,
        "epochs_run": 3,
        "train_seconds": 31.0,
        "epoch_seconds": [10.0, 20.0, 30.0],
        "epoch_accuracy": [0.86, 0.91, 0.9],
        "epoch_val_accuracy": [0.85, 0.9, 0.89],
        "epoch_val_loss": [0.15, 0.1, 0.11],
    }


def test_a_batch_size_without_an_experiment_on_this_commit_is_named(sweep: Path):
    message = r"no experiment 'batch-64' on commit [0-9a-f]{7}: run it first \(`dvc exp show` lists them\)$"
    with pytest.raises(SystemExit, match=message):
        experiment_ref("batch-64")


def test_the_report_holds_every_run_and_draws(sweep: Path):
    report = collect([32, 512], epochs=3)
    assert [run["batch_size"] for run in report["runs"]] == [32, 512]
    assert report["seed"] == 42 and report["base_batch_size"] == 128 and report["base_learning_rate"] == 0.001
    assert report["commit"] == git(sweep, "rev-parse", "HEAD").strip()
    draw(report).savefig(sweep / "figure.png")
    assert (sweep / "figure.png").read_bytes().startswith(b"\x89PNG")
