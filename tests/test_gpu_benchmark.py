"""The GPU benchmark's decisions: validation chooses among the candidates whose final training should fit the goal's
seconds, a close call gets more seeds, and the test set is read only once the choice is made."""

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks import gpu
from tests.conftest import REPOSITORY


def validated(seed: int, val_accuracy: float, epoch_ends: list[float], best_epoch: int | None = None) -> dict:
    """A validation run's record, as benchmarks.gpu.validate writes it."""
    return {
        "seed": seed,
        "best_epoch": best_epoch or len(epoch_ends),
        "val_accuracy": val_accuracy,
        "epochs": len(epoch_ends),
        "steps_per_epoch": 96,
        "train_seconds": epoch_ends[-1],
        "epoch_seconds": epoch_ends,
        "epoch_val_accuracy": [val_accuracy] * len(epoch_ends),
    }


def test_final_training_is_predicted_at_the_pace_after_the_compiling_first_epoch():
    # The first epoch compiles (10 s); the rest take 1, 1 and 2 s: the median pace is 1 s an epoch.
    assert gpu.predicted_final_seconds(validated(42, 0.95, [10.0, 11.0, 12.0, 14.0], best_epoch=3)) == 3.0
    assert gpu.predicted_final_seconds(validated(42, 0.95, [10.0])) == 10.0


def candidate(label: str, accuracies: list[float], predicted: float) -> dict:
    runs = [validated(42 + index, accuracy, [1.0, 2.0]) for index, accuracy in enumerate(accuracies)]
    entry = {"change": {}, "label": label, "predicted_final_seconds": predicted, "runs": runs}
    gpu.summarize(entry)
    return entry


def test_validation_chooses_among_the_candidates_that_fit_the_seconds():
    fast, slow = candidate("fast", [0.950], predicted=20), candidate("slow", [0.955], predicted=40)
    assert gpu.choose([fast, slow], seconds_limit=30) is fast
    assert gpu.choose([fast, slow], seconds_limit=60) is slow
    # None fits: the best of all, whose report then says the goal is missed.
    assert gpu.choose([fast, slow], seconds_limit=10) is slow


def test_a_candidate_is_judged_by_its_mean_over_seeds_with_its_spread():
    entry = candidate("seeds", [0.950, 0.954, 0.952], predicted=1)
    assert entry["mean_val_accuracy"] == 0.952 and entry["spread"] == 0.004


@pytest.fixture
def scripted(monkeypatch, tmp_path: Path):
    """benchmarks.gpu.run with its training replaced by a script of validation accuracies: (label, seed) -> accuracy.
    It records each training in `calls`, and when the test set was read."""
    calls = []
    accuracies = {}

    def validate(images, labels, params, seed):
        label = "label_smoothing" if params["train"]["label_smoothing"] == 0.2 else "recipe"
        calls.append(("validate", label, seed))
        return validated(seed, accuracies[label, seed], [5.0, 6.0, 7.0])

    def final_train_and_score(images, labels, test_images, test_labels, params, run):
        calls.append(("final", params["train"]["label_smoothing"], run["seed"]))
        return {
            "epochs": 3,
            "steps": 288,
            "train_seconds": 3.0,
            "epoch_seconds": [1.0, 2.0, 3.0],
            "test_accuracy": 0.951,
            "test_loss": 0.2,
        }

    def load_split(path):
        calls.append(("read", Path(path).name))
        return np.zeros((10, 28, 28, 1), np.uint8), np.zeros(10, np.int64)

    monkeypatch.chdir(REPOSITORY)
    monkeypatch.setattr(gpu, "validate", validate)
    monkeypatch.setattr(gpu, "final_train_and_score", final_train_and_score)
    monkeypatch.setattr(gpu, "load_split", load_split)
    monkeypatch.setattr(gpu, "machine", lambda: {"gpus": []})
    return calls, accuracies, tmp_path / "gpu.json"


def run(output: Path, seeds: list[int], budget: float = 1000) -> dict:
    return gpu.run("gpu", [{"train.label_smoothing": 0.2}], seeds, budget, quick=False, output=output)


def test_a_close_call_is_decided_over_more_seeds_and_the_test_set_is_read_last(scripted):
    calls, accuracies, output = scripted
    accuracies.update({("recipe", 42): 0.9530, ("label_smoothing", 42): 0.9540})
    accuracies.update({("recipe", 43): 0.9560, ("recipe", 44): 0.9550})
    accuracies.update({("label_smoothing", 43): 0.9500, ("label_smoothing", 44): 0.9510})
    report = run(output, seeds=[43, 44])
    assert calls[0] == ("read", "train.npz")
    assert [call for call in calls if call[0] == "validate"] == [
        ("validate", "recipe", 42),
        ("validate", "label_smoothing", 42),
        ("validate", "label_smoothing", 43),
        ("validate", "label_smoothing", 44),
        ("validate", "recipe", 43),
        ("validate", "recipe", 44),
    ]
    # Seed 42 alone favoured the smoothing; the means favour the recipe, which final training then repeats with seed 42.
    assert report["chosen"] == "the recipe"
    assert calls[-2:] == [("read", "test.npz"), ("final", 0.1, 42)]
    assert report["final"]["test_accuracy"] == 0.951 and report["validation_minus_test_points"] == 0.2
    assert report["goal_met"] is True
    assert output.exists()


def test_a_clear_call_needs_no_more_seeds(scripted):
    calls, accuracies, output = scripted
    accuracies.update({("recipe", 42): 0.9500, ("label_smoothing", 42): 0.9540})
    report = run(output, seeds=[43, 44])
    assert len([call for call in calls if call[0] == "validate"]) == 2
    assert report["chosen"] == "train.label_smoothing=0.2" and "seeds_skipped" not in report


def test_extra_seeds_that_would_overrun_the_budget_are_skipped_and_said(scripted):
    calls, accuracies, output = scripted
    accuracies.update({("recipe", 42): 0.9530, ("label_smoothing", 42): 0.9540})
    report = run(output, seeds=[43, 44], budget=10)
    assert len([call for call in calls if call[0] == "validate"]) == 2
    assert report["seeds_skipped"] == "the extra seeds would have taken about 28 s, past the budget"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nonexistent"], "benchmarks.gpu: no recipe 'nonexistent' in recipes.yaml; it has fast, accurate, gpu"),
        (["gpu", "--try", "train.epochs"], "benchmarks.gpu: change 'train.epochs': expected section.key=value"),
        (["gpu", "--try", "train.epochs=0"], "benchmarks.gpu: change 'train.epochs=0' sets train.epochs to 0"),
        (
            ["gpu", "--try", "train.ema_momentum=0.999 train.augment_on=gpu"],
            "benchmarks.gpu: change 'train.augment_on=gpu' sets train.augment_on to 'gpu'",
        ),
        (
            ["gpu", "--try", "train.epochs=26 train.epochs=28"],
            "change 'train.epochs=26 train.epochs=28' sets train.epochs",
        ),
        (["gpu", "--try", " "], "benchmarks.gpu: an empty change"),
    ],
)
def test_a_bad_recipe_or_change_stops_with_its_name(monkeypatch, arguments: list[str], message: str):
    monkeypatch.chdir(REPOSITORY)
    with pytest.raises(SystemExit, match=re.escape(message)):
        gpu.main(arguments)


def test_missing_prepared_data_stops_with_the_files_name(monkeypatch, tmp_path: Path):
    for name in ("params.yaml", "recipes.yaml"):
        (tmp_path / name).write_text((REPOSITORY / name).read_text())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"benchmarks.gpu: data/prepared/train.npz: file not found"):
        gpu.main(["gpu", "--output", str(tmp_path / "gpu.json")])


def test_the_close_call_that_gets_seeds_is_among_the_candidates_that_fit(scripted, monkeypatch):
    calls, accuracies, output = scripted
    # Erasing validates best but should take too long; the recipe alone fits, so no close call needs seeds.
    accuracies.update({("recipe", 42): 0.9530, ("label_smoothing", 42): 0.9540})
    monkeypatch.setattr(gpu, "predicted_final_seconds", lambda run: 40.0 if run["val_accuracy"] == 0.9540 else 20.0)
    report = run(output, seeds=[43, 44])
    assert len([call for call in calls if call[0] == "validate"]) == 2
    assert report["chosen"] == "the recipe"


def test_the_figure_is_redrawn_from_the_committed_report_and_a_missing_report_is_named(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(REPOSITORY)
    figure = tmp_path / "gpu_recipe.png"
    gpu.main(["gpu", "--draw", "--figure", str(figure)])
    assert figure.read_bytes().startswith(b"\x89PNG")
    missing = tmp_path / "missing.json"
    with pytest.raises(SystemExit, match=re.escape(f"benchmarks.gpu: {missing}: no report to draw")):
        gpu.main(["gpu", "--draw", "--output", str(missing), "--figure", str(figure)])
