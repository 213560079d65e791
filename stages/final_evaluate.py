"""Stage final-evaluate: retrain on 100% of the training set, then score once on the test set.

This is the only stage that reads the test set.
"""

import time

from fashion_mnist import paths
from fashion_mnist.dataset import load_split
from fashion_mnist.evaluation import confusion_rows, per_class_scores, predict_classes
from fashion_mnist.figures import confusion_matrix_figure
from fashion_mnist.files import save_figure, write_csv, write_json
from fashion_mnist.model import build_blog_model, save_model
from fashion_mnist.params import load_params
from fashion_mnist.stage import run_stage
from fashion_mnist.training import clear_checkpoint, make_deterministic, train_model

CHECKPOINT_DIR = paths.CHECKPOINTS_DIR / "final-evaluate"


def main() -> None:
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
        x_train,
        y_train,
        validation_data=None,  # The test set must not steer training; it is scored once, below.
        epochs=epochs,
        batch_size=train["batch_size"],
        learning_rate=train["learning_rate"],
        seed=seed,
        checkpoint_dir=CHECKPOINT_DIR,
    )
    seconds = time.perf_counter() - started

    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=train["batch_size"], verbose=0)
    predicted = predict_classes(model, x_test, batch_size=train["batch_size"])
    metrics = {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "per_class": per_class_scores(y_test, predicted),
    }
    save_model(model, paths.FINAL_MODEL)
    write_csv(paths.FINAL_HISTORY, history)
    write_json(paths.FINAL_METRICS, metrics)
    write_json(paths.FINAL_TIMING, {"train_seconds": round(seconds, 1)})
    write_csv(paths.CONFUSION, confusion_rows(y_test, predicted))
    save_figure(confusion_matrix_figure(y_test, predicted), paths.CONFUSION_MATRIX)
    clear_checkpoint(CHECKPOINT_DIR)
    print(f"test_accuracy {test_accuracy:.4f}, test_loss {test_loss:.4f} on {len(y_test)} test images; {seconds:.0f} s")


if __name__ == "__main__":
    run_stage(main)
