"""Stage final-evaluate: retrain on 100% of the training set, then score once on the test set.

This is the only stage that reads the test set, and it refuses to run inside a DVC experiment.
"""

import time

from fashion_mnist import paths
from fashion_mnist.dataset import load_split
from fashion_mnist.evaluation import confusion_rows, test_metrics
from fashion_mnist.figures import confusion_matrix_figure
from fashion_mnist.files import save_figure, write_csv, write_json
from fashion_mnist.model import build_blog_model, save_model
from fashion_mnist.params import load_params
from fashion_mnist.stage import refuse_inside_experiment, run_stage
from fashion_mnist.training import clear_checkpoint, make_deterministic, train_model

CHECKPOINT_DIR = paths.CHECKPOINTS_DIR / "final-evaluate"


def main() -> None:
    """Retrain with the train stage's hyperparameters on every training image, then score the test set."""
    refuse_inside_experiment("final-evaluate")
    params = load_params(["base", "train", "final"])
    seed, train = params["base"]["seed"], params["train"]
    epochs = params["final"]["epochs"] or train["epochs"]
    make_deterministic(seed)
    x_train, y_train = load_split(paths.TRAIN_DATA)
    x_test, y_test = load_split(paths.TEST_DATA)
    print(f"retraining on all {len(y_train)} training images for {epochs} epochs")
    model = build_blog_model()

    started = time.perf_counter()
    history = train_model(
        model,
        images=x_train,
        labels=y_train,
        validation_data=None,  # The test set must not steer training; it is scored once, below.
        epochs=epochs,
        batch_size=train["batch_size"],
        learning_rate=train["learning_rate"],
        seed=seed,
        checkpoint_dir=CHECKPOINT_DIR,
    )
    seconds = time.perf_counter() - started

    metrics, predicted = test_metrics(model, images=x_test, labels=y_test, batch_size=train["batch_size"])
    save_model(model, paths.FINAL_MODEL)
    write_csv(paths.FINAL_HISTORY, history)
    write_json(paths.FINAL_METRICS, metrics)
    write_json(paths.FINAL_TIMING, {"train_seconds": round(seconds, 1)})
    write_csv(paths.CONFUSION, confusion_rows(y_test, predicted))
    save_figure(confusion_matrix_figure(y_test, predicted), paths.CONFUSION_MATRIX)
    clear_checkpoint(CHECKPOINT_DIR)
    print(
        f"test_accuracy {metrics['test_accuracy']:.4f}, test_loss {metrics['test_loss']:.4f} "
        f"on {len(y_test)} test images; {seconds:.0f} s"
    )


if __name__ == "__main__":
    run_stage(main)
