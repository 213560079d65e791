"""Per-epoch metrics through DVCLive: the files it writes, read back, byte-identical, and resumed exactly."""

from pathlib import Path

import pandas as pd
import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.progress import epoch_logger, read_history
from tests.test_history import HISTORY

METRICS = ["accuracy", "loss", "val_accuracy", "val_loss"]


def log(folder: Path, rows: list[dict]) -> None:
    with epoch_logger(folder) as log_epoch:
        for row in rows:
            log_epoch(row)


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_each_metric_gets_a_tsv_file_whose_step_is_the_epoch(tmp_path: Path):
    log(tmp_path, HISTORY.to_dict("records"))
    assert sorted(files(tmp_path)) == ["metrics.json", *(f"plots/metrics/{name}.tsv" for name in METRICS)]
    accuracy = (tmp_path / "plots/metrics/accuracy.tsv").read_text().splitlines()
    assert accuracy == ["step\taccuracy", "1\t0.8", "2\t0.9", "3\t0.95", "4\t0.99"], "no timestamps"
    pd.testing.assert_frame_equal(read_history(tmp_path / "plots/metrics", METRICS), HISTORY, check_like=True)


def test_the_summary_holds_the_latest_epoch_while_training(tmp_path: Path):
    log(tmp_path, HISTORY.to_dict("records")[:2])
    summary = pd.read_json(tmp_path / "metrics.json", typ="series")
    assert summary["step"] == 2 and summary["val_accuracy"] == 0.92


def test_the_same_epochs_give_the_same_bytes(tmp_path: Path):
    log(tmp_path / "first", HISTORY.to_dict("records"))
    log(tmp_path / "second", HISTORY.to_dict("records"))
    assert files(tmp_path / "first") == files(tmp_path / "second")


def test_a_resumed_run_continues_the_step_count_to_the_bytes_of_a_run_that_never_stopped(tmp_path: Path):
    rows = HISTORY.to_dict("records")
    log(tmp_path / "whole", rows)
    # Killed after epoch 3 with epoch 2 checkpointed; the rerun logs the checkpoint's epochs again, then goes on.
    log(tmp_path / "resumed", rows[:3])
    log(tmp_path / "resumed", rows)
    assert files(tmp_path / "resumed") == files(tmp_path / "whole")


def test_a_missing_or_malformed_metric_file_is_named(tmp_path: Path):
    log(tmp_path, HISTORY.to_dict("records"))
    folder = tmp_path / "plots/metrics"
    with pytest.raises(DataError, match=r"top5\.tsv: file not found; run `dvc repro train` first"):
        read_history(folder, ["accuracy", "top5"])
    (folder / "loss.tsv").write_text("step\taccuracy\n1\t0.5\n")
    with pytest.raises(DataError, match=r"loss\.tsv: expected the columns step and loss"):
        read_history(folder, METRICS)
    (folder / "loss.tsv").write_text("")
    with pytest.raises(DataError, match=r"loss\.tsv: not a DVCLive metric file"):
        read_history(folder, METRICS)
