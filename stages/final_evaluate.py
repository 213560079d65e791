"""Stage final-evaluate: retrain on 100% of the training set, then score once on the test set.

It reads the test set after every decision has been made, and refuses to run inside a DVC experiment.
"""

import time

from fashion_mnist import paths
from fashion_mnist.backend import make_deterministic, set_precision
from fashion_mnist.dataset import load_split
from fashion_mnist.evaluation import (
    confusion_matrix_figure,
    confusion_rows,
    misclassified_figure,
    most_confused_metrics,
    most_confused_pairs,
    normalized_confusion_matrix_figure,
    per_class_scores,
    test_metrics,
)
from fashion_mnist.files import save_figure, write_csv, write_json
from fashion_mnist.history import read_best_epoch
from fashion_mnist.model import build_model
from fashion_mnist.params import load_params
from fashion_mnist.saving import save_model
from fashion_mnist.stage import peak_memory_mb, refuse_inside_experiment, run_stage
from fashion_mnist.training import clear_checkpoint, library_versions, train_model

CHECKPOINT_DIR = paths.CHECKPOINTS_DIR / "final-evaluate"


def main() -> None:
    """Retrain with the train stage's hyperparameters on every training image, then score the test set."""
    refuse_inside_experiment("final-evaluate")
    params = load_params(["base", "model", "train", "final"])
    seed, train = params["base"]["seed"], params["train"]
    epochs = params["final"]["epochs"]
    if epochs == "auto":
        epochs = read_best_epoch(paths.TRAIN_METRICS)
        print(f"final.epochs is auto: {epochs} epochs, the best validation epoch of train")
    make_deterministic(seed)
    policy = set_precision(train["precision"])
    x_train, y_train = load_split(paths.TRAIN_DATA)
    x_test, y_test = load_split(paths.TEST_DATA)
    print(f"retraining on all {len(y_train)} training images for {epochs} epochs, in {policy}")
    model = build_model(params["model"]["name"])

    started = time.perf_counter()
    history = train_model(
        model,
        images=x_train,
        labels=y_train,
        validation_data=None,  # The test set must not steer training; it is scored once, below.
        epochs=epochs,
        batch_size=train["batch_size"],
        learning_rate=train["learning_rate"],
        schedule=train["schedule"],
        weight_decay=train["weight_decay"] or None,
        augment=train["augment"],
        seed=seed,
        checkpoint_dir=CHECKPOINT_DIR,
    )
    seconds = time.perf_counter() - started

    metrics, probabilities = test_metrics(model, images=x_test, labels=y_test, batch_size=train["batch_size"])
    predicted = probabilities.argmax(axis=1)
    confused = most_confused_pairs(y_test, predicted, count=3)
    save_model(model, paths.FINAL_MODEL)
    write_json(paths.FINAL_ENVIRONMENT, {"precision": policy, **library_versions()})
    write_csv(paths.FINAL_HISTORY, history)
    write_json(paths.FINAL_METRICS, {**metrics, "epochs": epochs, **most_confused_metrics(confused)})
    write_json(paths.FINAL_TIMING, {"train_seconds": round(seconds, 1), "peak_memory_mb": peak_memory_mb()})
    write_csv(paths.PER_CLASS, per_class_scores(y_test, predicted))
    write_csv(paths.CONFUSION, confusion_rows(y_test, predicted))
    save_figure(confusion_matrix_figure(y_test, predicted), paths.CONFUSION_MATRIX)
    save_figure(normalized_confusion_matrix_figure(y_test, predicted), paths.CONFUSION_MATRIX_NORMALIZED)
    save_figure(misclassified_figure(x_test, y_test, probabilities, rows=5, columns=8), paths.MISCLASSIFIED)
    clear_checkpoint(CHECKPOINT_DIR)
    print(
        f"test_accuracy {metrics['test_accuracy']:.4f}, test_loss {metrics['test_loss']:.4f} "
        f"on {len(y_test)} test images; {seconds:.0f} s"
    )
    print("most confused (true -> predicted):", "; ".join(most_confused_metrics(confused).values()) or "none")


if __name__ == "__main__":
    run_stage(main)
