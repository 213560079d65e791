"""The figures of the README and the docs pages are those of the committed reports, rendered by docs/render.py."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from docs import render

ROOT = Path(__file__).resolve().parent.parent
# What the renderer reads: the reports, the lock file of the run, params, the JAX pin and a captured table.
CITED = ["README.md", "docs", "reports", "dvc.lock", "params.yaml", "recipes.yaml", "requirements-jax.txt"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the documents and of the files their figures come from."""
    for name in CITED:
        source, destination = ROOT / name, tmp_path / name
        if source.is_dir():
            shutil.copytree(source, destination)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, destination)
    return tmp_path


def edit_json(path: Path, **changes) -> None:
    """Change some keys of a JSON file."""
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2) + "\n")


def test_the_committed_documents_are_the_rendering_of_the_committed_reports():
    texts = render.read_documents(ROOT)
    assert set(texts) >= {"README.md", "docs/index.md", "docs/photos.md"}
    rendered = render.render(texts, render.load_reports(ROOT))
    stale = [document for document in texts if rendered[document] != texts[document]]
    assert not stale, f"{stale} out of date: run `python docs/render.py`"


def test_the_captured_exp_show_has_the_committed_runs_metrics_in_its_main_row():
    # `dvc exp show` rounds to 5 significant digits: the capture's main row is the committed run's, or it is stale.
    train = json.loads((ROOT / "reports/train/metrics.json").read_text())
    final_train = json.loads((ROOT / "reports/final-train/metrics.json").read_text())
    header, main = (
        line.split()
        for line in (ROOT / "docs/exp_show.txt").read_text().splitlines()[:7]
        if line.split()[:1] in (["Experiment"], ["main"])
    )
    shown = dict(zip(header[2:], main[-7:], strict=True))
    committed = {**train, "accuracy": final_train["accuracy"], "loss": final_train["loss"]}
    assert {key: float(value) for key, value in shown.items()} == {
        key: float(f"{committed[key]:.5g}") for key in shown
    }, "docs/exp_show.txt is stale: capture it again beside the committed run"


def test_a_changed_number_in_a_report_changes_the_readme_and_the_check_fails(project: Path, capsys):
    edit_json(project / "reports/final/metrics.json", test_accuracy=0.5)
    assert render.main(["--check"], root=project) == 1
    printed = capsys.readouterr().out
    assert "+" in printed and "0.5000" in printed, "the difference shows the new figure"
    assert render.main([], root=project) == 0
    assert "**0.5000**" in (project / "README.md").read_text()
    assert "**0.5000**" in (project / "docs/index.md").read_text(), "the docs' copy of the results table too"
    assert render.main(["--check"], root=project) == 0, "once rewritten, the README is up to date"


def test_the_time_to_accuracy_is_rendered_from_the_recipe_benchmark(project: Path):
    report = json.loads((project / "reports/recipe.json").read_text())
    blog, default, fast = report["time_to_accuracy"]
    blog |= {"seconds_to_0.92": 240.0, "epoch_val_accuracy": [0.9] * 9 + [0.921]}
    fast |= {"seconds_to_0.92": 40.0}
    (project / "reports/recipe.json").write_text(json.dumps(report))
    text = render.fast_recipe(render.load_reports(project))
    assert "the blog's loop 4 min (epoch 10)" in text and "**6.0× sooner** than the blog's loop" in text
    blog["seconds_to_0.92"] = None
    (project / "reports/recipe.json").write_text(json.dumps(report))
    text = render.fast_recipe(render.load_reports(project))
    assert "**at least" in text and f"not got there after {blog['epochs_run']} epochs" in text


def test_the_learning_curves_are_described_from_trains_per_epoch_files(project: Path):
    epochs = project / "reports/train/plots/metrics"
    shutil.rmtree(epochs, ignore_errors=True)
    epochs.mkdir(parents=True)
    values = {
        "accuracy": [0.8, 0.85, 0.88, 0.9, 0.91, 0.95],
        "val_accuracy": [0.80, 0.84, 0.86, 0.88, 0.897, 0.893],
        "val_loss": [0.5, 0.4, 0.35, 0.31, 0.33, 0.41],
    }
    for name, column in values.items():
        rows = "".join(f"{step}\t{value}\n" for step, value in enumerate(column, start=1))
        (epochs / f"{name}.tsv").write_text(f"step\t{name}\n{rows}")
    text = render.blog_curves(render.load_reports(project))
    assert "0.897 at epoch 5 and stays between 0.893 and 0.897" in text
    assert "training accuracy climbs to 0.950" in text
    assert "rises from 0.310 at epoch 4 to 0.410 at epoch 6" in text


def test_the_test_suites_time_is_rendered_only_from_its_file(project: Path):
    (project / "reports/test_suite.json").unlink(missing_ok=True)
    assert render.test_times(render.load_reports(project)) == ""
    suite = {"date": "2026-01-02", "cores": 2, "make_test_seconds": 1500.0, "make_test_fast_seconds": 95.0}
    (project / "reports/test_suite.json").write_text(json.dumps(suite))
    assert render.test_times(render.load_reports(project)) == (
        "Measured 2026-01-02 on 2 CPU cores: `make test` took 25 min, `make test-fast` took 1 min 35 s."
    )
    (project / "reports/test_suite.json").write_text(json.dumps({**suite, "cpu": "AMD EPYC"}))
    assert render.test_times(render.load_reports(project)).startswith("Measured 2026-01-02 on AMD EPYC, 2 cores:")


def test_a_part_without_a_renderer_is_named():
    with pytest.raises(ValueError, match="no renderer for the part 'nonsense'"):
        render.render({"README.md": "<!-- rendered: nonsense -->\n<!-- end -->\n"}, {})


def test_a_part_the_readme_does_not_mark_is_named():
    texts = render.read_documents(ROOT)
    (holder,) = [document for document, text in texts.items() if "<!-- rendered: gpu -->" in text]
    texts[holder] = texts[holder].replace("<!-- rendered: gpu -->", "<!-- gpu -->")
    with pytest.raises(ValueError, match="no document marks the part 'gpu'"):
        render.render(texts, render.load_reports(ROOT))


def test_a_part_without_its_end_marker_is_refused():
    texts = render.read_documents(ROOT)
    texts["docs/scaling.md"] += "\n<!-- rendered: gpu -->\nno end\n"
    with pytest.raises(ValueError, match="docs/scaling.md: a `<!-- rendered: NAME -->` marker has no `<!-- end -->`"):
        render.render(texts, render.load_reports(ROOT))


def test_the_batch_size_sweep_is_rendered_from_its_report(project: Path):
    report = json.loads((project / "reports/batch_sizes.json").read_text())
    small, *_, large = report["runs"]
    small |= {"best_val_accuracy": 0.95, "best_epoch": 3}
    large |= {"best_val_accuracy": 0.80}
    (project / "reports/batch_sizes.json").write_text(json.dumps(report))
    text = render.batch_sizes(render.load_reports(project))
    assert f"| {small['batch_size']} | {small['learning_rate']:g} | 0.9500 (3) |" in text
    assert f"batch {small['batch_size']} is highest (0.9500 at epoch 3)" in text
    assert "and all 6 lie within 15.00 points" in text


def test_the_flip_comparison_is_rendered_seed_for_seed(project: Path):
    report = json.loads((project / "reports/recipe.json").read_text())
    report["flip_comparison"] = {
        "seeds": [42, 43, 44],
        "without_flip": [0.93, 0.92, 0.94],
        "with_flip": [0.94, 0.925, 0.935],
        "mean_without_flip": 0.93,
        "mean_with_flip": 0.9333,
        "spread_with_flip": 0.015,
    }
    (project / "reports/recipe.json").write_text(json.dumps(report))
    text = render.flip_averaging(render.load_reports(project))
    assert "without flip averaging 0.9300, 0.9200, 0.9400 (mean 0.9300)" in text
    assert "with it 0.9400, 0.9250, 0.9350 (mean 0.9333, spread 1.50 points)" in text
    assert "higher with 2 of the 3 seeds, by 0.33 points on average" in text
    report["flip_comparison"] = {
        "seeds": [42],
        "without_flip": [0.93],
        "with_flip": [0.86],
        "mean_without_flip": 0.93,
        "mean_with_flip": 0.86,
        "spread_with_flip": 0.0,
    }
    (project / "reports/recipe.json").write_text(json.dumps(report))
    text = render.flip_averaging(render.load_reports(project))
    assert "with seed 42" in text and "0.9300 without flip averaging, 0.8600 with it, 7.00 points lower" in text


def test_the_accurate_recipe_is_measured_against_the_cpu_goal(project: Path):
    runs = project / "reports/recipes/accurate"
    edit_json(runs / "final/metrics.json", test_accuracy=0.9512)
    edit_json(runs / "final-train/timing.json", train_seconds=840.0)
    text = render.accurate_recipe(render.load_reports(project))
    assert "in **14 min**, within the goal of 15 min" in text and "**0.9512**, 0.12 points above the goal" in text
    edit_json(runs / "final/metrics.json", test_accuracy=0.9475)
    edit_json(runs / "final-train/timing.json", train_seconds=960.0)
    text = render.accurate_recipe(render.load_reports(project))
    assert "in **16 min**, over the goal of 15 min" in text and "**0.9475**, 0.25 points short of the goal" in text
    edit_json(runs / "flip.json", val_accuracy_flip_averaged=0.95, val_accuracy_without_averaging=0.9475)
    text = render.accurate_recipe(render.load_reports(project))
    assert "validation accuracy 0.9500 with it, 0.9475 without, +0.25 points" in text
    (runs / "flip.json").unlink()
    text = render.accurate_recipe(render.load_reports(project))
    assert text == "No committed run of the `accurate` recipe yet."


def test_the_gpu_goal_is_reached_only_with_the_accuracy_within_30_seconds_of_retraining(project: Path):
    path = project / "reports/benchmark_gpu.json"
    report = json.loads(path.read_text())
    preset = max(report["runs"], key=lambda run: run["val_accuracy"])
    for seconds, accuracy, verdict in [
        (29.5, 0.9501, "reached"),
        (30.5, 0.9501, "not reached"),
        (29.5, 0.9499, "not reached"),
    ]:
        preset |= {"final_train_seconds": seconds, "test_accuracy": accuracy}
        path.write_text(json.dumps(report))
        text = render.gpu(render.load_reports(project))
        assert f"**the goal of 0.95 within 30 s of training is {verdict}.**" in text


def test_the_gpu_recipes_goal_is_reached_only_with_the_accuracy_within_30_seconds_of_final_training(project: Path):
    path = project / "reports/recipes/gpu/gpu.json"
    report = json.loads(path.read_text())
    for seconds, accuracy, verdict in [
        (29.5, 0.9501, "is reached**"),
        (30.5, 0.9501, "is not reached**, 0.5 s over"),
        (29.5, 0.9499, "is not reached**, 0.01 points short"),
        (31.0, 0.9480, "is not reached**, 0.20 points short, 1.0 s over"),
    ]:
        report["final"] |= {"train_seconds": seconds, "test_accuracy": accuracy}
        path.write_text(json.dumps(report))
        reports = render.load_reports(project)
        assert f"**the goal of 0.95 within 30 s {verdict}." in render.gpu_recipe(reports)
        assert f"| **{accuracy:.4f}** | train " in render.results(reports)
    path.unlink()
    reports = render.load_reports(project)
    assert render.gpu_recipe(reports) == "No committed GPU run of the `gpu` recipe yet."
    assert "the `gpu` recipe" not in render.results(reports)


def test_a_close_call_between_the_gpu_candidates_is_said_to_be_within_their_spreads(project: Path):
    path = project / "reports/recipes/gpu/gpu.json"
    report = json.loads(path.read_text())
    assert "less than either spread: the seeds cannot tell them apart" in render.gpu_recipe(
        render.load_reports(project)
    )
    ranked = sorted(report["candidates"], key=lambda candidate: -candidate["mean_val_accuracy"])
    ranked[0]["mean_val_accuracy"] = ranked[1]["mean_val_accuracy"] + 0.01
    path.write_text(json.dumps(report))
    assert "cannot tell them apart" not in render.gpu_recipe(render.load_reports(project))


def test_the_accurate_recipe_in_float32_is_rendered_once_its_run_is_committed(project: Path):
    runs = project / "reports/recipes/accurate"
    float32 = runs / "float32"
    shutil.rmtree(float32, ignore_errors=True)
    for name in ("train/metrics.json", "train/timing.json", "final-train/timing.json", "final/metrics.json"):
        (float32 / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(runs / name, float32 / name)
    edit_json(float32 / "train/metrics.json", best_epoch=21, val_accuracy=0.9498)
    edit_json(float32 / "final-train/timing.json", train_seconds=3000.0)
    edit_json(float32 / "train/timing.json", train_seconds=400.0, epoch_seconds=[100.0, 190.0, 400.0])
    bfloat16_test = json.loads((runs / "final/metrics.json").read_text())["test_accuracy"]
    edit_json(float32 / "final/metrics.json", test_accuracy=bfloat16_test + 0.0012)
    # Without the machine's description, neither the row nor the paragraph: the one says where the other ran.
    reports = render.load_reports(project)
    text = render.accurate_recipe(reports)
    assert text.endswith("No float32 run of the recipe is committed, so its accuracy in float32 is not measured.")
    assert "in `float32`" not in render.results(reports)
    machine = {"date": "2026-12-03", "cpu": "Other CPU", "cores": 4, "native_bfloat16": False}
    (float32 / "machine.json").write_text(json.dumps(machine))
    reports = render.load_reports(project)
    text = render.accurate_recipe(reports)
    assert (
        "On 4 cores of an Other CPU, 2026-12-03: train ran 24 epochs in 6 min 40 s (an epoch took 90 to 210 s, " in text
    )
    assert "100 s the median: a shared machine's readings) and kept epoch 21" in text
    assert "kept epoch 21 (validation accuracy 0.9498); `final-train` took **50 min** against the bfloat16" in text
    assert f"test accuracy **{bfloat16_test + 0.0012:.4f}**, +0.12 points against the bfloat16 run's" in text
    assert "not measured" not in text
    (row,) = [line for line in render.results(reports).splitlines() if "in `float32`" in line]
    assert "its run on 4 CPU cores | `float32` | train 24, best 21; final 21 × 188 steps | 0.9498 |" in row
    assert "final 50 min |" in row


def test_a_change_tried_on_the_accurate_recipe_is_reported_with_what_the_recipe_did(project: Path):
    trials = project / "reports/recipes/accurate/trials"
    shutil.rmtree(trials, ignore_errors=True)
    machine = json.loads((project / "reports/recipes/accurate/precision.json").read_text())["machine"]
    trial = {
        "date": "2026-12-03",
        "machine": machine,
        "change": {"train.ema_momentum": 0.99},
        "run": {"best_val_accuracy": 0.9511, "best_epoch": 23, "epochs_run": 24},
        "recipe_run": {"best_epoch": 22, "val_accuracy": 0.9505, "epochs": 24},
        "difference_points": 0.06,
    }
    trials.mkdir(parents=True)
    (trials / "ema_momentum-0.99.json").write_text(json.dumps(trial))
    text = render.accurate_recipe(render.load_reports(project))
    assert (
        "`train.ema_momentum: 0.99` tried on top of the recipe, train only (`python -m benchmarks.trial accurate "
        "train.ema_momentum=0.99`, [`ema_momentum-0.99.json`]"
        "(reports/recipes/accurate/trials/ema_momentum-0.99.json)"
    ) in text
    assert "best validation accuracy 0.9511 at epoch 23 of 24, against the recipe's 0.9505 at epoch 22, +0.06" in text
    assert "less than 0.2 points, which one seed cannot tell apart" in text and "the machine's" not in text
    (trials / "ema_momentum-0.99.json").write_text(
        json.dumps({**trial, "difference_points": -0.5, "machine": {**machine, "cpu": "Other CPU"}})
    )
    text = render.accurate_recipe(render.load_reports(project))
    assert "-0.50 points. The recipe leaves it out. The recipe's run was made on an " in text
    assert "part of the difference may be the machine's" in text
    recipes = yaml.safe_load((project / "recipes.yaml").read_text())
    recipes["accurate"]["params"]["train.ema_momentum"] = 0.99
    (project / "recipes.yaml").write_text(yaml.safe_dump(recipes))
    assert "-0.50 points. The recipe includes it." in render.accurate_recipe(render.load_reports(project))
    same_machine = {"experiment": "accurate-here", "best_val_accuracy": 0.9485, "best_epoch": 21}
    (trials / "ema_momentum-0.99.json").write_text(
        json.dumps(
            {
                **trial,
                "machine": {**machine, "cpu": "Other CPU"},
                "baseline": same_machine,
                "baseline_difference_points": 0.26,
            }
        )
    )
    recipes["accurate"]["params"].pop("train.ema_momentum")
    (project / "recipes.yaml").write_text(yaml.safe_dump(recipes))
    text = render.accurate_recipe(render.load_reports(project))
    assert (
        "+0.06 points; the recipe alone on the same machine (`accurate-here`) reached 0.9485 at epoch 21, so the "
        "change is +0.26 points there. The recipe leaves it out." in text
    )
    assert "the machine's" not in text
    together = {"train.optimizer": "momentum", "train.learning_rate": 0.1, "train.weight_decay": 0.005}
    (trials / "ema_momentum-0.99.json").unlink()
    (trials / "optimizer-momentum_learning_rate-0.1_weight_decay-0.005.json").write_text(
        json.dumps({**trial, "change": together, "difference_points": -0.13})
    )
    text = render.accurate_recipe(render.load_reports(project))
    assert (
        "`train.optimizer: momentum`, `train.learning_rate: 0.1` and `train.weight_decay: 0.005` tried together on top "
        'of the recipe, train only (`python -m benchmarks.trial accurate "train.optimizer=momentum '
        'train.learning_rate=0.1 train.weight_decay=0.005"`' in text
    )
    assert "-0.13 points. That is less than 0.2 points" in text


def test_the_wider_filters_are_rendered_against_the_recipe_and_the_goals_minutes(project: Path):
    path = project / "reports/recipes/accurate/width.json"
    machine = json.loads((project / "reports/recipes/accurate/precision.json").read_text())["machine"]
    report = {
        "date": "2026-12-04",
        "machine": machine,
        "recipe": "accurate",
        "filters": {"recipe": [32, 64, 128, 256], "wider": [32, 64, 160, 384]},
        "wider_run": {
            "parameters": 900_000,
            "best_val_accuracy": 0.9492,
            "best_epoch": 24,
            "epoch_val_accuracy": [0.9] * 24,
        },
        "recipe_run": {"best_epoch": 22, "val_accuracy": 0.9505, "epochs": 24, "parameters": 576_938},
        "difference_points": -0.13,
        "rounds": 3,
        "step_ratio": 1.15,
        "wider_final_train_seconds_estimated": 720.0,
    }
    path.write_text(json.dumps(report))
    text = render.accurate_recipe(render.load_reports(project))
    assert "`vgg_fast` with 32/64/160/384 filters instead of 32/64/128/256 (900,000 parameters against 576,938)" in text
    assert "0.9492 at epoch 24 of 24, against the recipe's 0.9505 at epoch 22, -0.13 points" in text
    assert "takes 1.15× the recipe's" in text and "would take about 12 min, within the goal's 15 min" in text
    assert "one seed cannot tell apart, so the recipe keeps its filters until three seeds decide" in text
    path.write_text(json.dumps(report | {"difference_points": 0.3, "wider_final_train_seconds_estimated": 960.0}))
    text = render.accurate_recipe(render.load_reports(project))
    assert "about 16 min, over the goal's 15 min" in text and "the recipe's next full run should try them" in text
    path.write_text(json.dumps(report | {"difference_points": -0.3}))
    assert "-0.30 points. Its training step" in render.accurate_recipe(render.load_reports(project))
    assert "The recipe keeps its filters." in render.accurate_recipe(render.load_reports(project))
    path.unlink()
    assert "Wider layers" not in render.accurate_recipe(render.load_reports(project))


def test_the_changes_tried_are_summed_up_against_the_validation_accuracy_the_cpu_goal_needs(project: Path):
    reports = render.load_reports(project)
    reports["accurate_trials"] = [
        {"difference_points": -0.05, "run": {"best_val_accuracy": 0.95}},
        {"difference_points": -0.28, "run": {"best_val_accuracy": 0.9477}},
    ]
    reports["accurate_width"] = {"difference_points": 0.1, "wider_run": {"best_val_accuracy": 0.9515}}
    text = "\n".join(render.accurate_standing(reports, recipe_accuracy=0.9505, test=0.9435))
    assert (
        "The 3 changes tried above validated from -0.28 to +0.10 points against the recipe's 0.9505, 1 of them" in text
    )
    assert (
        "gap between validation and test, 0.70 points, the goal's 0.95 on the test set would need a validation" in text
    )
    assert "accuracy near 0.9570, 0.55 points above the best of them (0.9515)." in text
    reports["accurate_width"] = None
    assert "The 2 changes tried above" in render.accurate_standing(reports, 0.9505, 0.9435)[0]
    assert "none of them higher" in render.accurate_standing(reports, 0.9505, 0.9435)[0]
    reports["accurate_trials"] = []
    assert render.accurate_standing(reports, 0.9505, 0.9435) == []


def test_links_are_adapted_to_the_document_that_holds_them():
    anchors = {"results": ["README.md", "docs/index.md"], "a-gpu": ["docs/scaling.md"]}
    text = "[r](reports/x.json), ![f](docs/f.png), [t](#results), [g](#a-gpu), [w](https://dvc.org)"
    assert render.adapt_links(text, "README.md", anchors) == (
        "[r](reports/x.json), ![f](docs/f.png), [t](#results), [g](docs/scaling.md#a-gpu), [w](https://dvc.org)"
    )
    assert render.adapt_links(text, "docs/accuracy.md", anchors) == (
        "[r](/reports/x.json), ![f](f.png), [t](index.md#results), [g](scaling.md#a-gpu), [w](https://dvc.org)"
    )
    with pytest.raises(ValueError, match="docs/accuracy.md: no heading has the anchor '#nowhere'"):
        render.adapt_links("[n](#nowhere)", "docs/accuracy.md", anchors)
