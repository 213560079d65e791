"""Stage final-evaluate: score the final model once on the test set, and show where it fails.

It reads the test set after every decision has been made, and refuses to run inside a DVC experiment.
"""

from fashion_mnist import paths
from fashion_mnist.backend import cap_instruction_set
from fashion_mnist.dataset import load_split
from fashion_mnist.evaluation import (
    confusion_matrix_figure,
    confusion_rows,
    evaluate_model,
    misclassified_figure,
    most_confused_metrics,
    most_confused_pairs,
    normalized_confusion_matrix_figure,
    per_class_scores,
)
from fashion_mnist.files import save_figure, write_csv, write_json
from fashion_mnist.loading import load_model
from fashion_mnist.params import load_params
from fashion_mnist.stage import check_backend, refuse_inside_experiment, run_stage


def main() -> None:
    """Score models/final.keras on the test set; write the metrics, per-class scores and figures."""
    refuse_inside_experiment("final-evaluate")
    train = load_params(["train"])["train"]
    check_backend(train["backend"])
    print(f"instruction set: {cap_instruction_set(train['cpu_isa'])}")
    model = load_model(paths.FINAL_MODEL)
    x_test, y_test = load_split(paths.TEST_DATA)

    metrics, probabilities = evaluate_model(model, images=x_test, labels=y_test)
    predicted = probabilities.argmax(axis=1)
    confused = most_confused_metrics(most_confused_pairs(y_test, predicted, count=3))
    write_json(paths.FINAL_METRICS, {**metrics, **confused})
    write_csv(paths.PER_CLASS, per_class_scores(y_test, predicted))
    write_csv(paths.CONFUSION, confusion_rows(y_test, predicted))
    save_figure(confusion_matrix_figure(y_test, predicted), paths.CONFUSION_MATRIX)
    save_figure(normalized_confusion_matrix_figure(y_test, predicted), paths.CONFUSION_MATRIX_NORMALIZED)
    save_figure(misclassified_figure(x_test, y_test, probabilities, rows=5, columns=8), paths.MISCLASSIFIED)
    print(
        f"test_accuracy {metrics['test_accuracy']:.4f}, test_loss {metrics['test_loss']:.4f} "
        f"on {len(y_test)} test images"
    )
    print("most confused (true -> predicted):", "; ".join(confused.values()) or "none")


if __name__ == "__main__":
    run_stage(main)
