"""Sweeps in parallel: DVC's queue runs experiments two at a time, and none of them needs the test set."""

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import environment, run, run_project, stages_run
from tests.test_experiments import experiments

pytestmark = pytest.mark.slow

LEARNING_RATES = [0.0005, 0.002]
BATCH_SIZE = 16  # not the baseline's 32, so that each experiment trains
EPOCHS = 1


def remove_test_set(project: Path, mirror: Path) -> list[Path]:
    """Delete the test files from the workspace, the DVC cache and the mirror; return the files deleted."""
    workspace_files = [project / "data/prepared/test.npz", *(project / "data/raw").glob("t10k-*")]
    # DVC caches a file under the MD5 of its content.
    digests = [hashlib.md5(path.read_bytes()).hexdigest() for path in workspace_files]
    cached_files = [project / ".dvc/cache/files/md5" / digest[:2] / digest[2:] for digest in digests]
    deleted = [*workspace_files, *cached_files, *mirror.glob("t10k-*")]
    assert len(deleted) == 8, deleted  # the prepared split, the raw images and labels twice, their 2 gzip files
    for path in deleted:
        path.unlink()
    return deleted


def poll_queue(project: Path, timeout_seconds: float = 600) -> list[str]:
    """Every report of `dvc queue status`, polled until no experiment is queued or running."""
    deadline = time.monotonic() + timeout_seconds
    reports = []
    while True:
        reports.append(run(["dvc", "queue", "status"], project).stdout)
        if not re.search(r"\b(Queued|Running)\b", reports[-1]):
            return reports
        if time.monotonic() > deadline:
            raise AssertionError(f"the queue did not finish in {timeout_seconds} s:\n{reports[-1]}")
        time.sleep(1)


def processes_in(folder: Path) -> list[int]:
    """The ids of the processes whose working directory is in `folder`: the queue's workers and experiments."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            directory = Path(os.readlink(entry / "cwd"))
        except OSError:  # not a process, one that just ended, or a zombie
            continue
        if directory == folder or folder in directory.parents:
            found.append(int(entry.name))
    return found


def start_queue(project: Path, workers: int, log: Path) -> str:
    """Start `workers` queue workers and return what `dvc queue start` printed."""
    # The workers inherit the command's output: to a pipe, as `run` captures it, the command would not
    # return before they exit, that is before the queue is done.
    with log.open("w") as output:
        command = ["dvc", "queue", "start", "-j", str(workers)]
        subprocess.run(command, cwd=project, env=environment(), stdout=output, stderr=subprocess.STDOUT, check=True)
    return log.read_text()


def stop_queue(project: Path, timeout_seconds: float = 60) -> list[int]:
    """Stop the queue's workers; return the ids of processes left in the project after the timeout, killed."""
    run(["dvc", "queue", "stop", "--kill"], project, check=False)
    deadline = time.monotonic() + timeout_seconds
    while (left := processes_in(project.resolve())) and time.monotonic() < deadline:
        time.sleep(1)
    for process in left:
        os.kill(process, signal.SIGKILL)
    return left


def outputs(project: Path) -> dict[str, dict[str, str]]:
    """The hash of every output of each experiment that `dvc exp show --json` lists, by name."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    return {
        experiment["name"]: {path: out["hash"] for path, out in experiment["revs"][0]["data"]["outs"].items()}
        for baseline in shown
        for experiment in baseline.get("experiments") or []
    }


def locked_hash(project: Path, path: str) -> str:
    """The MD5 that dvc.lock or final/dvc.lock records for the output `path`."""
    stages = {}
    for lock in ["dvc.lock", "final/dvc.lock"]:
        stages |= yaml.safe_load((project / lock).read_text())["stages"]
    (digest,) = [out["md5"] for stage in stages.values() for out in stage.get("outs", []) if out["path"] == path]
    return digest


def test_two_workers_run_a_sweep_without_the_test_set(tmp_path: Path):
    project = run_project(tmp_path)
    final_model, trained_model = locked_hash(project, "models/final.keras"), locked_hash(project, "models/model.keras")
    final_metrics = json.loads((project / "reports/final/metrics.json").read_text())
    deleted = remove_test_set(project, tmp_path / "mirror")

    # --allow-missing lets DVC skip download and preprocess, whose outputs are now missing but
    # unchanged; without it they would rerun and fetch the test files again (the control below).
    rates = ",".join(str(rate) for rate in LEARNING_RATES)
    sweep = ["-S", f"train.learning_rate={rates}", "-S", f"train.batch_size={BATCH_SIZE}"]
    sweep += ["-S", f"train.epochs={EPOCHS}"]
    queued = run(["dvc", "exp", "run", "--queue", "--allow-missing", *sweep], project)
    assert queued.stdout.count("Queued experiment") == 2, queued.stdout
    started = time.monotonic()
    try:
        printed = start_queue(project, workers=2, log=tmp_path / "queue-start.log")
        assert "Started '2' new experiments task queue workers" in printed, printed
        reports = poll_queue(project)
        print(f"two experiments, two workers: both done {time.monotonic() - started:.1f} s after `dvc queue start`")
    finally:
        stopping = time.monotonic()
        left = stop_queue(project)
        print(f"the workers were gone {time.monotonic() - stopping:.1f} s after `dvc queue stop --kill`")
    assert not left, f"processes still running in the project after `dvc queue stop --kill`: {left}"
    assert reports[-1].count("Success") == 2, reports[-1]
    assert any(report.count("Running") == 2 for report in reports), reports

    found = experiments(project)
    hashes = outputs(project)
    assert sorted(experiment["params"]["train"]["learning_rate"] for experiment in found.values()) == LEARNING_RATES
    for name, experiment in found.items():
        assert experiment["params"]["train"]["batch_size"] == BATCH_SIZE, name
        train_metrics = experiment["metrics"]["reports/train/metrics.json"]
        assert train_metrics["epochs"] == EPOCHS, name
        assert 0 <= train_metrics["val_accuracy"] <= 1, name
        assert stages_run(run(["dvc", "queue", "logs", name], project).stdout) == ["train", "plot"], name
        # final/dvc.yaml did not run: the final metrics and model are the baseline's, carried along.
        assert experiment["metrics"]["reports/final/metrics.json"] == final_metrics, name
        assert hashes[name]["models/final.keras"] == final_model, name
        assert hashes[name]["models/model.keras"] != trained_model, name
    first, second = found.values()
    assert first["metrics"]["reports/train/metrics.json"] != second["metrics"]["reports/train/metrics.json"]
    # Neither experiment wrote the test split again: it is still in neither the workspace nor the cache.
    assert not any(path.exists() for path in deleted)

    # The control: a plain experiment sees the missing test files and reruns download, which now fails.
    control = run(["dvc", "exp", "run", "plot", "-S", "train.learning_rate=0.003"], project, check=False)
    assert control.returncode != 0
    assert stages_run(control.stdout) == ["download"], control.stdout
    assert "t10k-images-idx3-ubyte.gz" in control.stderr, control.stderr
