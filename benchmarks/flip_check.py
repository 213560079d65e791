"""Validation accuracy of a trained flip-averaging model, with the averaging and without it.

    python -m benchmarks.flip_check models/model.keras --output reports/recipes/accurate/flip.json

It scores the same weights twice on the train stage's validation part, as params.yaml draws it: once as
the model is saved (`model.test_time_augmentation: flip`, the mean of the image's and its mirror's
probabilities) and once through the classifier inside it alone, the image as it comes. It never reads the
test set. The weights are those of the epoch that validation with averaging chose, which favours the
first score a little; the report says so.
"""

import argparse
from pathlib import Path

import numpy as np

from fashion_mnist import paths
from fashion_mnist.backend import make_deterministic, set_precision
from fashion_mnist.dataset import load_split, validation_split
from fashion_mnist.errors import DataError
from fashion_mnist.evaluation import evaluate_model
from fashion_mnist.files import write_json
from fashion_mnist.loading import load_model
from fashion_mnist.model import FlipAveraged
from fashion_mnist.params import load_params


def flip_check(model_path: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """The validation accuracy of the flip-averaging model at `model_path` and of its classifier alone."""
    model = load_model(model_path)
    if not isinstance(model, FlipAveraged):
        raise DataError(f"{model_path}: expected a model saved with model.test_time_augmentation: flip")
    averaged, _ = evaluate_model(model, images=images, labels=labels)
    alone, _ = evaluate_model(model.classifier, images=images, labels=labels)
    return {
        "model": str(model_path),
        "validation_images": len(labels),
        "val_accuracy_flip_averaged": round(averaged["test_accuracy"], 4),
        "val_accuracy_without_averaging": round(alone["test_accuracy"], 4),
        "note": "the same weights, those of the epoch that validation with flip averaging chose",
    }


def main() -> None:
    """Score the model both ways on the validation part and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a .keras model saved with model.test_time_augmentation: flip")
    parser.add_argument("--output", type=Path, required=True, help="the JSON report to write")
    arguments = parser.parse_args()
    params = load_params(["base", "train"])
    seed, train = params["base"]["seed"], params["train"]
    make_deterministic(seed)
    set_precision(train["precision"])
    images, labels = load_split(paths.TRAIN_DATA)
    _, (x_validation, y_validation) = validation_split(images, labels, fraction=train["validation_split"], seed=seed)
    report = flip_check(arguments.model, x_validation, y_validation)
    write_json(arguments.output, report)
    print(report)


if __name__ == "__main__":
    main()
