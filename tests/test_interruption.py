"""Killed stages: training resumes where it stopped, and no output is ever left half-written."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fashion_mnist.dataset import load_split
from fashion_mnist.loading import load_model
from tests.conftest import REPRODUCE_ALL, environment, make_project, run, set_params
from tests.synthetic import write_dataset

pytestmark = pytest.mark.slow

EPOCHS = 4
# Enough steps per epoch that the test can see a checkpoint appear and kill the stage before the end.
SLOW_EPOCHS = {"train": {"epochs": EPOCHS, "batch_size": 4}, "final": {"epochs": EPOCHS}}
# Each training stage: its module, the name `dvc repro` knows it by, its reports and its model.
STAGES = {
    "train": ("stages.train", "train", "reports/train", "models/model.keras"),
    "final-train": ("stages.final_train", "final/dvc.yaml:final-train", "reports/final-train", "models/final.keras"),
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A project whose data is downloaded and prepared, nothing trained yet."""
    root = tmp_path_factory.mktemp("prepared")
    checksums = write_dataset(root / "mirror", train_per_class=40)
    project = make_project(root / "project", root / "mirror", checksums)
    set_params(project, SLOW_EPOCHS)
    run(["dvc", "repro", "preprocess"], project)
    return project


def copy_of(project: Path, destination: Path) -> Path:
    shutil.copytree(project, destination, symlinks=True)
    return destination


def kill_after_checkpoint(project: Path, module: str, stage: str) -> int:
    """Start a stage, SIGKILL it once an epoch is checkpointed; return the epochs it had saved."""
    state = project / ".checkpoints" / stage / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", module], cwd=project, env=environment(), stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the stage ended before it could be killed"
    return json.loads(state.read_text())["epoch"]


@pytest.mark.parametrize(("stage", "backend"), [*((stage, "tensorflow") for stage in STAGES), ("train", "jax")])
def test_a_killed_stage_resumes_at_the_next_epoch_and_ends_as_if_never_stopped(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, backend: str
):
    # train.backend for DVC, whose command sets KERAS_BACKEND from it; the environment for the stage run directly.
    monkeypatch.setenv("KERAS_BACKEND", backend)
    prepared = copy_of(prepared, tmp_path / "prepared")
    set_params(prepared, {"train": {"backend": backend}})
    module, target, reports, model = STAGES[stage]
    if stage == "final-train":
        # It runs after train, whose metrics it depends on.
        prepared = copy_of(prepared, tmp_path / "trained")
        run(["dvc", "repro", "train"], prepared)
    uninterrupted = copy_of(prepared, tmp_path / "uninterrupted")
    run([sys.executable, "-m", module], uninterrupted)

    interrupted = copy_of(prepared, tmp_path / "interrupted")
    saved = kill_after_checkpoint(interrupted, module, stage)
    assert 1 <= saved < EPOCHS
    result = run(["dvc", "repro", target], interrupted)
    assert f"{saved} epochs already done" in result.stdout
    assert f"Epoch {saved + 1}/{EPOCHS}" in result.stdout and f"Epoch {saved}/{EPOCHS}" not in result.stdout

    # DVCLive's per-epoch files continue the step count: the same bytes as a run that never stopped.
    history = (interrupted / reports / "plots/metrics/loss.tsv").read_text()
    assert [line.split("\t")[0] for line in history.splitlines()[1:]] == ["1", "2", "3", "4"]
    for metric in (uninterrupted / reports / "plots/metrics").iterdir():
        assert (interrupted / reports / "plots/metrics" / metric.name).read_bytes() == metric.read_bytes(), metric
    if stage == "train":
        assert (interrupted / reports / "metrics.json").read_bytes() == (
            uninterrupted / reports / "metrics.json"
        ).read_bytes()
    assert not (interrupted / ".checkpoints" / stage).exists(), "a finished run clears its resume state"
    for project in (interrupted, uninterrupted):
        assert json.loads((project / reports / "environment.json").read_text())["backend"] == backend
    resumed_model, uninterrupted_model = load_model(interrupted / model), load_model(uninterrupted / model)
    for resumed, whole in zip(resumed_model.get_weights(), uninterrupted_model.get_weights(), strict=True):
        np.testing.assert_array_equal(resumed, whole)
    assert (interrupted / model).read_bytes() == (uninterrupted / model).read_bytes()


def test_a_checkpoint_of_other_code_is_not_resumed_and_the_message_says_why(prepared: Path, tmp_path: Path):
    project = copy_of(prepared, tmp_path / "project")
    kill_after_checkpoint(project, "stages.train", "train")
    # A fix in a module the training imports, between the kill and the rerun.
    with open(project / "fashion_mnist/training.py", "a") as source:
        source.write("\n# A bug fix.\n")
    result = run(["dvc", "repro", "train"], project)
    assert "it was made with other code (fashion_mnist/training.py)" in result.stdout
    assert "Starting from epoch 1" in result.stdout and f"Epoch 1/{EPOCHS}" in result.stdout
    assert "epochs already done" not in result.stdout


def test_changed_params_start_fresh_instead_of_resuming(prepared: Path, tmp_path: Path):
    project = copy_of(prepared, tmp_path / "project")
    kill_after_checkpoint(project, "stages.train", "train")
    set_params(project, {"train": {"learning_rate": 0.002}})
    result = run([sys.executable, "-m", "stages.train"], project)
    assert "it was made with other params or data" in result.stdout
    assert f"Epoch 1/{EPOCHS}" in result.stdout


def die_while_writing(project: Path, patch: str, module: str) -> None:
    """Run a stage whose writer, patched, writes half its file and then SIGKILLs its own process."""
    script = (
        textwrap.dedent(
            """
        import io, os, signal, runpy

        def die_halfway(temporary, data: bytes):
            with open(temporary, "wb") as output:
                output.write(data[: len(data) // 2])
                output.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        """
        )
        + textwrap.dedent(patch)
        + f"\nrunpy.run_module({module!r}, run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=project, env=environment(), capture_output=True)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()


WRITERS = {
    "data/prepared/train.npz": (
        "stages.preprocess",
        """
        import numpy as np
        savez = np.savez_compressed
        def savez_then_die(file, **arrays):
            buffer = io.BytesIO()
            savez(buffer, **arrays)
            die_halfway(file, buffer.getvalue())
        np.savez_compressed = savez_then_die
        """,
    ),
    "models/model.keras": (
        "stages.train",
        """
        import keras, tempfile
        save = keras.Model.save
        def save_then_die(model, path, *args, **kwargs):
            whole = os.path.join(tempfile.mkdtemp(), "whole.keras")
            save(model, whole)
            with open(whole, "rb") as saved:
                die_halfway(path, saved.read())
        keras.Model.save = save_then_die
        """,
    ),
}


def readable(path: Path) -> bool:
    try:
        if path.suffix == ".npz":
            load_split(path)
        else:
            load_model(path)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("output", WRITERS)
@pytest.mark.parametrize("existed", [True, False], ids=["over-an-old-file", "no-old-file"])
def test_a_stage_killed_mid_write_leaves_the_old_file_or_none(
    prepared: Path, tmp_path: Path, output: str, existed: bool
):
    module, patch = WRITERS[output]
    project = copy_of(prepared, tmp_path / "project")
    set_params(project, {"train": {"epochs": 1, "batch_size": 64}})
    run([sys.executable, "-m", module], project)
    old = (project / output).read_bytes()
    if not existed:
        (project / output).unlink()

    die_while_writing(project, patch, module)

    if existed:
        assert (project / output).read_bytes() == old
        assert readable(project / output)
    else:
        assert not (project / output).exists()


def test_two_runs_with_the_same_params_give_byte_identical_outputs(prepared: Path, tmp_path: Path):
    first = copy_of(prepared, tmp_path / "first")
    second = copy_of(prepared, tmp_path / "second")
    set_params(first, {"train": {"epochs": 2}, "final": {"epochs": 2}})
    set_params(second, {"train": {"epochs": 2}, "final": {"epochs": 2}})
    run(REPRODUCE_ALL, first)
    run(REPRODUCE_ALL, second)
    for output in [
        "reports/data.csv",
        "reports/train/metrics.json",
        "reports/train/plots/metrics/val_loss.tsv",
        "reports/final/metrics.json",
        "reports/final-train/plots/metrics/loss.tsv",
        "reports/final-train/metrics.json",
        "reports/final/per_class.csv",
        "reports/final/confusion.csv",
        # Identical weights make identical model files, so a rerun leaves their hashes in dvc.lock alone.
        "models/model.keras",
        "models/final.keras",
        "models/final_int8.tflite",
        "reports/export/metrics.json",
    ]:
        assert (first / output).read_bytes() == (second / output).read_bytes(), output
    first_model, second_model = load_model(first / "models/final.keras"), load_model(second / "models/final.keras")
    for one, other in zip(first_model.get_weights(), second_model.get_weights(), strict=True):
        np.testing.assert_array_equal(one, other)
