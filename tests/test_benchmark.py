"""The benchmark's quick mode: every measurement runs, on tiny data, and the report holds each figure."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY, environment

pytestmark = pytest.mark.slow


def test_the_quick_benchmark_measures_everything_and_prints_the_tables(tmp_path: Path):
    output = tmp_path / "benchmark.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "--quick", "--output", str(output)],
        cwd=REPOSITORY,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1 and report["machine"]["backend"] == "tensorflow"

    variants = [row["variant"] for row in report["epoch_throughput"]]
    assert variants[0].startswith("blog loop") and len(variants) == 3
    blog = report["epoch_throughput"][0]
    assert blog["speedup_over_blog_loop"] == 1.0 and blog["epochs_timed"] == 2
    for row in report["epoch_throughput"]:
        assert row["seconds_per_epoch"] > 0 and 0 <= row["best_val_accuracy"] <= 1
        # Both figures are rounded to hundredths of tiny times, hence the tolerance.
        assert row["speedup_over_blog_loop"] == pytest.approx(blog["seconds_per_epoch"] / row["seconds_per_epoch"], 0.1)
        assert row["fastest_epoch_seconds"] == pytest.approx(min(row["epoch_seconds"][1:]), abs=0.01)
        assert row["fastest_speedup_over_blog_loop"] == pytest.approx(
            blog["fastest_epoch_seconds"] / row["fastest_epoch_seconds"], 0.1
        )
    assert report["strong_model"]["epochs_run"] >= 1 and report["strong_model"]["seconds_per_epoch"] > 0

    pipeline = report["pipeline"]
    assert list(pipeline["stages"]) == ["download", "preprocess", "train", "plot", "final-evaluate", "export"]
    # The training stages hold TensorFlow; download does not: each stage's own peak, not the benchmark's.
    assert pipeline["stages"]["train"]["peak_memory_mb"] > 3 * pipeline["stages"]["download"]["peak_memory_mb"]
    assert pipeline["no_op_dvc_repro_seconds"] > 0 and pipeline["dvc_pull_models_seconds"] > 0
    assert pipeline["pull_speedup_over_training"] == pytest.approx(
        pipeline["training_seconds"] / pipeline["dvc_pull_models_seconds"], 0.05
    )
    assert [row["model"] for row in report["inference"]] == [
        "models/model.keras",
        "models/final.keras",
        "models/final_int8.tflite",
    ]
    assert all(row["images_per_second"] > 0 and row["single_image_milliseconds"] > 0 for row in report["inference"])
    assert "Inference with `models/final_int8.tflite`" in result.stdout

    assert "| blog loop (fit on NumPy, float32) |" in result.stdout
    assert "No-op `dvc repro`" in result.stdout and "dvc pull" in result.stdout
