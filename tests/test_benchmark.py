"""The benchmark: its epoch arithmetic in memory, and its quick mode, where every measurement runs on tiny
data and the report holds each figure, consistent with the others."""

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks import width
from benchmarks.outputs import QUICK_FOLDER, output_path
from benchmarks.pipeline import pipeline_stages
from benchmarks.throughput import EpochTimes, throughput_row
from fashion_mnist.recipes import load_recipes
from tests.conftest import REPOSITORY, copy_project, environment

# What the quick mode runs: epochs per loop, and at most these for vgg_bn.
QUICK_EPOCHS, QUICK_STRONG_EPOCHS = 3, 2
# The stages of dvc.yaml, then those of final/dvc.yaml, in the order `dvc repro --all-pipelines` runs them.
STAGES = ["download", "preprocess", "train", "plot", "final-train", "final-evaluate", "score-photos", "export"]


def epoch_times(variant: str, ended: list[float], val_accuracy: list[float]) -> EpochTimes:
    """A run that started at 0 s and whose epochs ended at `ended`."""
    return EpochTimes(variant, started=0.0, ended=ended, val_accuracy=val_accuracy)


def test_an_epoch_lasts_from_the_end_of_the_one_before_and_the_target_counts_from_the_start():
    run = epoch_times("run", ended=[5.0, 7.0, 8.5], val_accuracy=[0.90, 0.93, 0.95])
    assert run.seconds == [5.0, 2.0, 1.5]
    assert run.seconds_to(0.92) == 7.0 and run.seconds_to(0.95) == 8.5 and run.seconds_to(0.96) is None


def test_the_figures_leave_the_first_epoch_out_and_compare_medians_and_fastest_epochs():
    blog = epoch_times("blog", ended=[9.0, 13.0, 15.0, 21.0], val_accuracy=[0.8, 0.85, 0.9, 0.91])
    stage = epoch_times("stage", ended=[9.0, 10.0, 12.0, 13.0], val_accuracy=[0.8, 0.92, 0.9, 0.93])
    row = throughput_row(stage, blog=blog)
    # The blog's epochs after the first: 4, 2 and 6 s; the stage's: 1, 2 and 1 s.
    assert row["seconds_per_epoch"] == 1.0 and row["speedup_over_blog_loop"] == 4.0
    assert row["fastest_epoch_seconds"] == 1.0 and row["fastest_speedup_over_blog_loop"] == 2.0
    assert row["epochs_timed"] == 3 and row["epoch_seconds"] == [9.0, 1.0, 2.0, 1.0]
    assert row["seconds_to_0.92_val_accuracy"] == 10.0 and row["best_val_accuracy"] == 0.93
    assert throughput_row(blog, blog=blog)["speedup_over_blog_loop"] == 1.0


def test_the_benchmark_runs_each_stage_of_both_pipeline_files_with_its_own_command(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    stages = pipeline_stages(project)
    assert [name for name, _, _ in stages] == STAGES
    commands = {name: command for name, command, _ in stages}
    assert commands["final-train"] == "KERAS_BACKEND=tensorflow python -m stages.final_train"
    assert commands["export"] == "KERAS_BACKEND=tensorflow python -m stages.export"
    assert all(folder == project for _, _, folder in stages)


def test_a_stage_name_in_both_pipeline_files_is_refused(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    final = yaml.safe_load((project / "final/dvc.yaml").read_text())
    final["stages"]["plot"] = {"wdir": "..", "cmd": "echo plot", "deps": ["models/final.keras"]}
    (project / "final/dvc.yaml").write_text(yaml.safe_dump(final, sort_keys=False))
    with pytest.raises(ValueError, match="two stages are named 'plot'"):
        pipeline_stages(project)


def after_first(row: dict) -> list[float]:
    """The epochs that the figures count: all but the first, which includes tracing."""
    return row["epoch_seconds"][1:]


@pytest.mark.slow
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
    assert list(report) == ["date", "quick", "machine", "epoch_throughput", "strong_model", "pipeline", "inference"]
    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1 and report["machine"]["backend"] == "tensorflow"

    # The blog's loop first, then the train stage's path in both precisions, each for every epoch.
    variants = [row["variant"] for row in report["epoch_throughput"]]
    assert variants == ["blog loop (fit on NumPy, float32)", "train stage, float32", "train stage, mixed_bfloat16"]
    blog = report["epoch_throughput"][0]
    for row in report["epoch_throughput"]:
        assert len(row["epoch_seconds"]) == len(row["epoch_val_accuracy"]) == QUICK_EPOCHS
        assert row["epochs_timed"] == QUICK_EPOCHS - 1 and all(seconds > 0 for seconds in row["epoch_seconds"])
        assert row["seconds_per_epoch"] == pytest.approx(statistics.median(after_first(row)), abs=0.01)
        assert row["fastest_epoch_seconds"] == pytest.approx(min(after_first(row)), abs=0.01)
        assert row["speedup_over_blog_loop"] == pytest.approx(
            statistics.median(after_first(blog)) / statistics.median(after_first(row)), rel=0.02
        )
        assert row["fastest_speedup_over_blog_loop"] == pytest.approx(
            min(after_first(blog)) / min(after_first(row)), rel=0.02
        )
        assert row["best_val_accuracy"] == max(row["epoch_val_accuracy"]) and 0 <= row["best_val_accuracy"] <= 1
        # The time to 0.92 runs from the start of training to the end of the first epoch that reached it.
        reached = [index for index, accuracy in enumerate(row["epoch_val_accuracy"]) if accuracy >= 0.92]
        if reached:
            expected = sum(row["epoch_seconds"][: reached[0] + 1])
            assert row["seconds_to_0.92_val_accuracy"] == pytest.approx(expected, abs=0.1)
        else:
            assert row["seconds_to_0.92_val_accuracy"] is None
    assert blog["speedup_over_blog_loop"] == 1.0 and blog["fastest_speedup_over_blog_loop"] == 1.0

    # vgg_bn stops at the first epoch that reaches the target, or runs out of epochs.
    strong = report["strong_model"]
    target = strong["target_val_accuracy"]
    reached = [index for index, accuracy in enumerate(strong["epoch_val_accuracy"]) if accuracy >= target]
    assert strong["max_epochs"] == QUICK_STRONG_EPOCHS
    assert strong["epochs_run"] == (reached[0] + 1 if reached else QUICK_STRONG_EPOCHS) == len(strong["epoch_seconds"])
    assert (strong["seconds_to_target"] is None) == (not reached)
    assert strong["seconds_per_epoch"] > 0 and strong["best_val_accuracy"] == max(strong["epoch_val_accuracy"])

    # Every stage of both pipeline files, in the order DVC runs them.
    pipeline = report["pipeline"]
    stages = pipeline["stages"]
    assert list(stages) == STAGES
    assert all(stage["seconds"] > 0 and stage["peak_memory_mb"] > 0 for stage in stages.values())
    # The training stages hold TensorFlow; download does not: each stage's own peak, not the benchmark's.
    for name in ("train", "final-train"):
        assert stages[name]["peak_memory_mb"] > 3 * stages["download"]["peak_memory_mb"]
    assert pipeline["training_seconds"] == pytest.approx(
        stages["train"]["seconds"] + stages["final-train"]["seconds"], abs=0.1
    )
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

    # The tables hold every loop, every stage and every model.
    for variant in variants:
        assert f"| {variant} |" in result.stdout
    for name in stages:
        assert f"| {name} |" in result.stdout
    for row in report["inference"]:
        assert f"Inference with `{row['model']}`" in result.stdout
    assert "No-op `dvc repro --all-pipelines`" in result.stdout and "`dvc pull` of both models" in result.stdout


def user_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder with the project's params and recipes, where a benchmark runs as from the repository root, without
    --output: what it writes there is what it would write in a user's clone. Its environment imports the code."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in ("params.yaml", "recipes.yaml"):
        shutil.copy(REPOSITORY / name, folder / name)
    return folder, {**environment(), "PYTHONPATH": str(REPOSITORY)}


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["recipe", "optimizers"])
def test_the_recipe_and_optimizer_benchmarks_run_in_quick_mode_and_redraw_from_their_report(
    tmp_path: Path, benchmark: str
):
    folder, variables = user_folder(tmp_path)
    command = [sys.executable, "-m", f"benchmarks.{benchmark}", "--quick"]
    if benchmark == "recipe":
        refused = subprocess.run([*command, "--seeds", "7"], cwd=folder, env=variables, capture_output=True, text=True)
        assert refused.returncode != 0
        assert "recipe.json: no report to add to: run the benchmark without --seeds and --flip first" in refused.stderr
    subprocess.run(command, cwd=folder, env=variables, check=True, capture_output=True)
    quick = folder / "reports/quick"
    written = {path.parent for path in folder.rglob("*") if path.is_file() and path.parent != folder}
    assert written == {quick}, "a quick run writes under reports/quick/ alone"
    output = quick / f"{benchmark}.json"
    report = json.loads(output.read_text())
    assert report["quick"] is True
    drawn = sorted(quick.glob("*.png"))
    assert drawn, "the figures are drawn"
    for path in drawn:
        path.unlink()
    subprocess.run([*command, "--draw"], cwd=folder, env=variables, check=True, capture_output=True)
    assert sorted(quick.glob("*.png")) == drawn, "--draw redraws them from the report alone"
    if benchmark == "recipe":
        assert [run["variant"] for run in report["time_to_accuracy"]][2].startswith("fast recipe")
        assert report["ladder"][-1]["best_val_accuracy"] == report["time_to_accuracy"][2]["best_val_accuracy"]
        subprocess.run([*command, "--seeds", "7"], cwd=folder, env=variables, check=True)
        compared = json.loads(output.read_text())["seed_comparison"]
        assert [row["variant"] for row in compared] == [run["variant"] for run in report["ladder"][-2:]]
        assert all(row["seeds"] == [42, 7] and len(row["best_val_accuracy"]) == 2 for row in compared)
        subprocess.run([*command, "--flip", "7"], cwd=folder, env=variables, check=True)
        flip = json.loads(output.read_text())["flip_comparison"]
        assert flip["seeds"] == [42, 7] and flip["without_flip"] == compared[-1]["best_val_accuracy"]
        assert len(flip["with_flip"]) == 2
    else:
        assert [run["optimizer"] for run in report["runs"]] == ["sgd", "momentum", "adam"]
        assert all(len(run["loss"]) == run["epochs"] == 2 for run in report["runs"])


@pytest.mark.slow
def test_the_precision_benchmark_times_the_recipes_model_and_vgg_bn_in_both_precisions(tmp_path: Path):
    folder, variables = user_folder(tmp_path)
    command = [sys.executable, "-m", "benchmarks.precision", "accurate", "--quick"]
    subprocess.run(command, cwd=folder, env=variables, check=True, capture_output=True)
    assert not (folder / "reports/recipes").exists(), "a quick run leaves the committed report alone"
    report = json.loads((folder / "reports/quick/precision.json").read_text())
    assert report["quick"] is True and report["recipe"] == "accurate"
    assert [(row["model"], row["precision"]) for row in report["steps"]] == [
        ("vgg_fast", "float32"),
        ("vgg_fast", "mixed_bfloat16"),
        ("vgg_bn", "float32"),
        ("vgg_bn", "mixed_bfloat16"),
    ]
    recipe = load_recipes(REPOSITORY / "recipes.yaml")["accurate"]
    # The train stage's steps: its 48,000 images of the 60,000 in the recipe's batches, for each of its epochs.
    steps = recipe["train.epochs"] * -(-48_000 // recipe["train.batch_size"])
    assert report["schedule_steps"] == steps
    for row in report["steps"]:
        assert row["seconds_per_step"] > 0 and len(row["rounds_seconds_per_step"]) == report["rounds"] == 1
        assert row["estimated_final_train_seconds"] == pytest.approx(row["seconds_per_step"] * steps, abs=0.5)


def test_the_width_benchmark_trains_the_wider_model_and_times_both_steps(tmp_path: Path):
    folder, variables = user_folder(tmp_path)
    command = [sys.executable, "-m", "benchmarks.width", "accurate", "--quick", "--filters", "8/16/24/32"]
    refused = subprocess.run(command, cwd=folder, env=variables, capture_output=True, text=True)
    assert refused.returncode != 0
    missing = "reports/recipes/accurate/train/metrics.json: no committed run of the recipe to compare with"
    assert missing in refused.stderr
    for report in ("train/metrics.json", "final-train/timing.json"):
        (folder / "reports/recipes/accurate" / report).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPOSITORY / "reports/recipes/accurate" / report, folder / "reports/recipes/accurate" / report)
    subprocess.run(command, cwd=folder, env=variables, check=True, capture_output=True)
    assert not (folder / "reports/recipes/accurate/width.json").exists(), "a quick run leaves the committed one alone"
    report = json.loads((folder / "reports/quick/width.json").read_text())
    committed = json.loads((REPOSITORY / "reports/recipes/accurate/train/metrics.json").read_text())
    assert report["quick"] is True and report["filters"] == {"recipe": [32, 64, 128, 256], "wider": [8, 16, 24, 32]}
    run = report["wider_run"]
    assert len(run["epoch_val_accuracy"]) == len(run["epoch_seconds"]) == 2
    assert run["best_val_accuracy"] == max(run["epoch_val_accuracy"])
    assert run["parameters"] < committed["parameters"], "these filters are fewer than the recipe's"
    assert report["recipe_run"]["val_accuracy"] == committed["val_accuracy"]
    expected = round((run["best_val_accuracy"] - committed["val_accuracy"]) * 100, 2)
    assert report["difference_points"] == pytest.approx(expected, abs=0.011)
    steps = report["seconds_per_step"]
    assert steps["recipe"]["fastest"] == min(steps["recipe"]["rounds"]) > 0
    assert report["step_ratio"] == pytest.approx(steps["wider"]["fastest"] / steps["recipe"]["fastest"], abs=0.001)
    final_seconds = json.loads((REPOSITORY / "reports/recipes/accurate/final-train/timing.json").read_text())
    assert report["wider_final_train_seconds_estimated"] == pytest.approx(
        final_seconds["train_seconds"] * report["step_ratio"], rel=0.01
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["accurate", "--filters", "32/64/160"], "--filters '32/64/160': expected four positive whole numbers"),
        (["accurate", "--filters", "32/64/0/384"], "--filters '32/64/0/384': expected four positive whole numbers"),
        (["fast"], "recipe 'fast' trains blog_cnn; this benchmark widens vgg_fast"),
        (["fastest"], "no recipe 'fastest' in recipes.yaml"),
    ],
)
def test_the_width_benchmark_refuses_what_it_cannot_widen(monkeypatch, arguments: list[str], message: str):
    monkeypatch.chdir(REPOSITORY)
    with pytest.raises(SystemExit, match=f"benchmarks.width: {message}"):
        width.main(arguments)


def test_a_quick_run_writes_under_reports_quick_unless_told_where():
    committed = Path("reports/benchmark.json")
    assert output_path(None, committed, quick=False) == committed
    assert output_path(None, committed, quick=True) == QUICK_FOLDER / "benchmark.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(QUICK_FOLDER / "benchmark.json")], cwd=REPOSITORY)
    assert ignored.returncode == 0, "git ignores the quick runs' files"
    assert output_path(Path("elsewhere.json"), committed, quick=True) == Path("elsewhere.json")


def test_the_machine_description_names_the_cpu_its_bfloat16_and_the_libraries(tmp_path: Path):
    output = tmp_path / "machine.json"
    command = [sys.executable, "-m", "benchmarks.machine", "--output", str(output)]
    subprocess.run(command, cwd=REPOSITORY, env=environment(), check=True, capture_output=True)
    described = json.loads(output.read_text())
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert described["cpu"] and described["cpu"] in cpuinfo
    assert described["cores"] >= 1 and described["avx512_bf16"] == ("avx512_bf16" in cpuinfo.split())
    assert isinstance(described["native_bfloat16"], bool) and described["tensorflow-cpu"] != "not installed"
    assert described["date"].count("-") == 2
