"""Bad input stops a stage with exit status 1 and one line naming the file or key; DVC restores what it removed."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import project_copy, run, set_params, set_sources

pytestmark = pytest.mark.slow


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Path:
    """A copy of a project on which `dvc repro` has run once, so every output exists."""
    return project_copy(built_project, tmp_path / "project")


def run_stage(project: Path, module: str):
    return run([sys.executable, "-m", f"stages.{module}"], project, check=False)


def assert_fails_cleanly(result, message: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def snapshot(project: Path, *paths: str) -> dict[str, bytes]:
    return {path: (project / path).read_bytes() for path in paths}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("epoch", 3, "params.yaml: unknown key train.epoch"),
        ("epochs", -1, "params.yaml: train.epochs must be an integer >= 1, got -1"),
        ("validation_split", 1.5, "params.yaml: train.validation_split must be a number strictly between 0 and 1"),
        ("batch_size", "big", "params.yaml: train.batch_size must be an integer >= 1, got 'big'"),
    ],
)
def test_bad_train_params_stop_train(project: Path, key, value, message):
    set_params(project, {"train": {key: value}})
    assert_fails_cleanly(run_stage(project, "train"), message)


def test_a_missing_params_file_is_named(project: Path):
    (project / "params.yaml").unlink()
    assert_fails_cleanly(run_stage(project, "preprocess"), "params.yaml: file not found")


def test_a_params_file_that_is_not_yaml_is_named(project: Path):
    (project / "params.yaml").write_text("base: {seed: 42\n")
    assert_fails_cleanly(run_stage(project, "final_evaluate"), "params.yaml: not valid YAML")


def test_a_truncated_raw_file_stops_preprocess(project: Path):
    raw = project / "data/raw/train-images-idx3-ubyte"
    content = raw.read_bytes()
    raw.unlink()  # DVC links cached files read-only; replace, do not write through.
    raw.write_bytes(content[: len(content) // 2])
    assert_fails_cleanly(
        run_stage(project, "preprocess"), f"{Path('data/raw/train-images-idx3-ubyte')}: header says 200 images"
    )


def test_no_reachable_mirror_stops_download(project: Path):
    set_sources(project, {"mirrors": ["http://127.0.0.1:9/", (project / "nowhere").as_uri() + "/"]})
    result = run_stage(project, "download")
    assert result.returncode == 1
    assert "error: no mirror delivered train-images-idx3-ubyte.gz" in result.stderr
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz: [Errno 111] Connection refused" in result.stderr
    assert "nowhere/train-images-idx3-ubyte.gz: [Errno 2] No such file or directory" in result.stderr


def test_a_corrupt_history_stops_plot(project: Path):
    loss = project / "reports/train/plots/metrics/loss.tsv"
    loss.unlink()  # An uncached output may be a link into DVC's cache; replace, do not write through.
    loss.write_text("step\taccuracy\n1\t0.5\n")
    assert_fails_cleanly(
        run_stage(project, "plot"), f"{Path('reports/train/plots/metrics/loss.tsv')}: expected the columns"
    )


def test_a_missing_prepared_split_says_what_to_run(project: Path):
    (project / "data/prepared/test.npz").unlink()
    assert_fails_cleanly(run_stage(project, "final_evaluate"), f"{Path('data/prepared/test.npz')}: file not found")


def test_after_a_failed_dvc_repro_dvc_restores_every_output_without_training(project: Path):
    before = snapshot(
        project, "models/model.keras", "reports/train/metrics.json", "reports/train/plots/metrics/val_accuracy.tsv"
    )
    set_params(project, {"train": {"learning_rate": -0.1}})
    result = run(["dvc", "repro"], project, check=False)
    assert result.returncode != 0
    assert "error: params.yaml: train.learning_rate must be a finite number > 0, got -0.1" in result.stderr
    set_params(project, {"train": {"learning_rate": 0.001}})
    # DVC removed the stage's outputs before running it: the cached model comes back with
    # `dvc checkout`, and the uncached reports from DVC's run-cache, without training again.
    run(["dvc", "checkout"], project)
    assert (project / "models/model.keras").read_bytes() == before["models/model.keras"]
    again = run(["dvc", "repro"], project)
    assert "Stage 'train' is cached - skipping run, checking out outputs" in again.stdout
    assert "Running stage 'train'" not in again.stdout
    assert snapshot(project, *before) == before


def test_max_train_samples_keeps_a_stratified_subset_and_leaves_the_test_set_whole(project: Path):
    set_params(project, {"preprocess": {"max_train_samples": 100}})
    run([sys.executable, "-m", "stages.preprocess"], project)
    counts = pd.read_csv(project / "reports/data.csv")
    assert set(counts["train"]) == {10} and set(counts["test"]) == {5}


def test_a_subset_that_cannot_be_stratified_names_the_key(project: Path):
    set_params(project, {"preprocess": {"max_train_samples": 195}})
    result = run_stage(project, "preprocess")
    assert_fails_cleanly(result, "preprocess.max_train_samples=195 splits 200 images into 195 and 5")


@pytest.mark.parametrize("stage", ["final-train", "final-evaluate", "score-photos", "export"])
def test_each_stage_after_the_decisions_refuses_to_run_inside_an_experiment_before_reading_data(
    project: Path, monkeypatch, stage: str
):
    # Had the stage read its data before refusing, its error would name a missing file instead.
    for split in ["train.npz", "test.npz"]:
        (project / "data/prepared" / split).unlink()
    monkeypatch.setenv("DVC_EXP_NAME", "curious-idea")
    result = run_stage(project, stage.replace("-", "_"))
    assert_fails_cleanly(result, f"{stage} comes after every decision, so it does not run in experiments")
    assert "'curious-idea'" in result.stderr and "dvc repro final/dvc.yaml" in result.stderr


def test_a_stage_run_on_another_backend_than_train_backend_is_stopped(project: Path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    result = run_stage(project, "final_evaluate")
    assert_fails_cleanly(result, "train.backend is 'tensorflow' but Keras runs on 'jax' (KERAS_BACKEND=jax)")
