"""Tuning with DVC experiments: `dvc exp run` runs dvc.yaml, which ends at plot: tuning never sees the test set."""

import json
import re
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import FINAL_TRAIN, QUICK_PARAMS, project_copy, run, stages_run

pytestmark = pytest.mark.slow

FINAL_OUTPUTS = ["reports/final/metrics.json", "models/final.keras"]


def wait_for_queue(project: Path, timeout_seconds: float = 600) -> str:
    """Poll `dvc queue status` until no experiment is queued or running; return its last report."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = run(["dvc", "queue", "status"], project).stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"the queue did not finish in {timeout_seconds} s:\n{status}")
        time.sleep(2)


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Path:
    """The baseline: a project whose whole pipeline has run and is committed, final metrics included."""
    return project_copy(built_project, tmp_path / "project")


def experiments(project: Path) -> dict[str, dict]:
    """Each experiment that `dvc exp show --json` lists, by name: its params and metrics files."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            (latest, *_) = experiment["revs"]
            metrics = latest["data"]["metrics"]
            found[experiment["name"]] = {
                "params": latest["data"]["params"]["params.yaml"]["data"],
                # A metrics file the experiment never wrote comes with an "error" instead of "data".
                "metrics": {path: entry["data"] for path, entry in metrics.items() if "data" in entry},
            }
    return found


def test_a_plain_dvc_exp_run_runs_train_and_plot_only(project: Path):
    final_before = {path: (project / path).read_bytes() for path in FINAL_OUTPUTS}

    result = run(["dvc", "exp", "run", "-S", "train.epochs=2"], project)

    # Nothing after the decisions ran: final-train, final-evaluate and export live in final/dvc.yaml.
    assert stages_run(result.stdout) == ["train", "plot"]
    assert yaml.safe_load((project / "params.yaml").read_text())["train"]["epochs"] == 2
    assert {path: (project / path).read_bytes() for path in FINAL_OUTPUTS} == final_before
    # DVC knows the final model is now out of date: promoting this experiment means running final/dvc.yaml.
    assert FINAL_TRAIN in json.loads(run(["dvc", "status", "final/dvc.yaml", "--json"], project).stdout)
    (name,) = re.findall(r"Ran experiment\(s\): (\S+)", result.stdout)
    assert experiments(project)[name]["params"]["train"]["epochs"] == 2


def test_queued_sweep_runs_each_value_and_lists_its_params_and_metrics(project: Path):
    final_metrics = json.loads((project / "reports/final/metrics.json").read_text())
    # Neither value is the baseline's 32, so each experiment trains.
    queued = run(["dvc", "exp", "run", "--queue", "-S", "train.batch_size=16,64"], project)
    assert queued.stdout.count("Queued experiment") == 2
    try:
        run(["dvc", "queue", "start"], project)
        status = wait_for_queue(project)
    finally:
        run(["dvc", "queue", "stop", "--kill"], project, check=False)
    assert status.count("Success") == 2, status

    found = experiments(project)
    assert sorted(experiment["params"]["train"]["batch_size"] for experiment in found.values()) == [16, 64]
    for name, experiment in found.items():
        metrics = experiment["metrics"]
        assert metrics["reports/train/metrics.json"]["epochs"] == QUICK_PARAMS["train"]["epochs"]
        assert 0 <= metrics["reports/train/metrics.json"]["val_accuracy"] <= 1
        # The final metrics are the baseline's, carried along untouched: final/dvc.yaml, which would
        # have retrained with the new batch size and scored the test set again, did not run.
        assert metrics["reports/final/metrics.json"] == final_metrics, name
        assert stages_run(run(["dvc", "queue", "logs", name], project).stdout) == ["train", "plot"], name


def test_an_experiment_of_the_final_pipeline_is_refused_before_it_trains(project: Path):
    final_before = {path: (project / path).read_bytes() for path in FINAL_OUTPUTS}

    result = run(["dvc", "exp", "run", "final/dvc.yaml", "-S", "train.batch_size=64"], project, check=False)

    assert result.returncode != 0
    assert "final-train comes after every decision, so it does not run in experiments" in result.stderr
    assert stages_run(result.stdout) == ["train", FINAL_TRAIN]
    # DVC removed final-train's outputs before starting it; git and the DVC cache still hold them.
    run(["dvc", "checkout", "final/dvc.yaml"], project)
    assert {path: (project / path).read_bytes() for path in FINAL_OUTPUTS} == final_before


def test_dvc_exp_show_leads_with_validation_accuracy_then_the_params_experiments_change(project: Path):
    run(["dvc", "exp", "run", "-S", "train.epochs=2"], project)
    header, *rows = run(["dvc", "exp", "show", "--csv"], project).stdout.splitlines()
    columns = header.split(",")
    assert columns[:5] == ["Experiment", "rev", "typ", "Created", "parent"]
    # The metrics come first, the validation scores of train leading, under their short names; a run's
    # seconds and memory are no metric.
    first_param = columns.index("model.name")
    metrics = columns[5:first_param]
    assert metrics[:5] == ["val_accuracy", "val_loss", "best_epoch", "epochs", "parameters"]
    assert not any("seconds" in column or "memory" in column for column in metrics)
    # Then the params, in params.yaml's order: the model and train sections first.
    params = yaml.safe_load((project / "params.yaml").read_text())
    leading = [f"{section}.{key}" for section in ("model", "train") for key in params[section]]
    assert columns[first_param : first_param + len(leading)] == leading
    # No mirror list or checksum among them: those are the download's data, not a setting to tune.
    assert not any(column.startswith(("download.mirrors", "download.files")) for column in columns)
    assert len(rows) == 3, "the workspace, the baseline and the experiment"
    # The documented table, `--only-changed`: the metrics that differ, train's validation scores leading, then the
    # one param the experiment changed, then the outputs it changed.
    changed = run(["dvc", "exp", "show", "--only-changed", "--csv"], project).stdout.splitlines()[0].split(",")
    assert changed[: changed.index("train.epochs") + 1] == [
        *["Experiment", "rev", "typ", "Created"],
        *["val_accuracy", "val_loss", "best_epoch", "epochs"],
        "train.epochs",
    ]
    assert "models/model.keras" in changed[changed.index("train.epochs") :]
