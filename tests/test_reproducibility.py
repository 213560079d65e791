"""The evidence behind train.cpu_isa and train.monitor: the cap's cost benchmark and the epoch-rule report."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import epoch_rule
from tests.conftest import run
from tests.test_benchmark import user_folder

LOSS = "lowest val_loss"
ACCURACY = "highest val_accuracy"
WITHIN = "earliest within 0.2 points of the highest"


def test_each_rule_keeps_its_own_epoch_on_a_plateau():
    # Validation loss has one valley at epoch 2; accuracy reaches 0.9200 there, then 0.9215 at epoch 5.
    kept = epoch_rule.kept_epochs([0.40, 0.25, 0.26, 0.30, 0.35], [0.85, 0.9200, 0.9190, 0.9100, 0.9215])
    assert kept == {LOSS: 2, ACCURACY: 5, WITHIN: 2}
    # 0.9190 is 0.25 points below 0.9215: outside the tolerance, so the earliest within it is the highest itself.
    assert epoch_rule.kept_epochs([0.3, 0.2, 0.4], [0.90, 0.9190, 0.9215])[WITHIN] == 3


def test_a_run_must_be_named_label_equals_revision():
    assert epoch_rule.parse_run("seed 42, AVX2=HEAD~1") == ("seed 42, AVX2", "HEAD~1")
    with pytest.raises(argparse.ArgumentTypeError, match="expected LABEL=REVISION, got 'HEAD'"):
        epoch_rule.parse_run("HEAD")


def test_the_report_reads_each_revisions_curves_and_the_spread_of_each_rule(tmp_path: Path, monkeypatch):
    folder = tmp_path / "project"
    metrics = folder / "reports/train/plots/metrics"
    metrics.mkdir(parents=True)
    run(["git", "init", "-q", "-b", "main"], folder)
    curves = {"first": ([0.4, 0.3, 0.35], [0.80, 0.85, 0.86]), "second": ([0.4, 0.3, 0.2, 0.3], [0.8, 0.8, 0.9, 0.9])}
    for name, (loss, accuracy) in curves.items():
        for metric, values in [("val_loss", loss), ("val_accuracy", accuracy)]:
            rows = "".join(f"{step}\t{value}\n" for step, value in enumerate(values, 1))
            (metrics / f"{metric}.tsv").write_text(f"step\t{metric}\n{rows}")
        run(["git", "add", "-A"], folder)
        run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", name], folder)
    monkeypatch.chdir(folder)
    report = epoch_rule.collect([("one", "HEAD~1"), ("two", "HEAD")])
    assert [run["label"] for run in report["runs"]] == ["one", "two"]
    assert report["runs"][0]["val_loss"] == [0.4, 0.3, 0.35] and report["runs"][1]["epochs_run"] == 4
    assert [run["kept"][LOSS] for run in report["runs"]] == [2, 3]
    assert [run["kept"][ACCURACY] for run in report["runs"]] == [3, 3]
    assert report["spread"] == {LOSS: 1, ACCURACY: 0, WITHIN: 0}
    with pytest.raises(subprocess.CalledProcessError):
        epoch_rule.collect([("missing", "no-such-revision")])


@pytest.mark.slow
def test_the_cap_benchmark_times_each_setting_in_a_process_of_its_own(tmp_path: Path):
    folder, variables = user_folder(tmp_path)
    command = [sys.executable, "-m", "benchmarks.cpu_isa", "--quick"]
    subprocess.run(command, cwd=folder, env=variables, check=True, capture_output=True)
    assert not (folder / "reports/cpu_isa.json").exists(), "a quick run leaves the committed report alone"
    report = json.loads((folder / "reports/quick/cpu_isa.json").read_text())
    assert report["quick"] is True and report["epoch_steps"] == 375
    assert [row["cpu_isa"] for row in report["settings"]] == ["avx2", "native"]
    for row in report["settings"]:
        assert row["seconds_per_step"] > 0 and len(row["rounds_seconds_per_step"]) == report["rounds"] == 1
        assert row["epoch_training_seconds"] == pytest.approx(row["seconds_per_step"] * 375, abs=0.1)
    seconds = {row["cpu_isa"]: row["seconds_per_step"] for row in report["settings"]}
    assert report["avx2_over_native"] == pytest.approx(seconds["avx2"] / seconds["native"], abs=0.01)
