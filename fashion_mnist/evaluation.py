"""final-evaluate's scores and figures of a trained classifier on labelled images."""

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix, precision_recall_fscore_support

from fashion_mnist.dataset import CLASS_NAMES

# Images per predict call: the scores do not depend on it, and it is no training param.
BATCH_SIZE = 1000


def evaluate_model(model: keras.Model, *, images: np.ndarray, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """Score `model` once on the test set: accuracy and cross-entropy loss, and its class probabilities."""
    probabilities = model.predict(images, batch_size=BATCH_SIZE, verbose=0)
    # Keras's cross-entropy clips probabilities the same way, so that a confident mistake costs a finite loss.
    correct = np.clip(probabilities[np.arange(len(labels)), labels], keras.config.epsilon(), 1.0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    loss = float(-np.mean(np.log(correct.astype(np.float64))))
    return {"test_accuracy": accuracy, "test_loss": loss}, probabilities


def per_class_scores(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class, one row per class name."""
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(len(CLASS_NAMES)), zero_division=0
    )
    return pd.DataFrame({"class": CLASS_NAMES, "precision": precision, "recall": recall, "f1": f1, "support": support})


def confusion_rows(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """One `actual,predicted` row per image, by class name, for DVC's confusion-matrix template."""
    names = np.array(CLASS_NAMES)
    return pd.DataFrame({"actual": names[labels], "predicted": names[predicted]})


def confusion_matrix_figure(labels: np.ndarray, predicted: np.ndarray) -> Figure:
    """Confusion matrix of test predictions with class names on both axes."""
    figure = Figure(figsize=(9, 8), layout="constrained")
    axes = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        labels,
        predicted,
        labels=range(len(CLASS_NAMES)),
        display_labels=CLASS_NAMES,
        ax=axes,
        colorbar=False,
        xticks_rotation=45,
    )
    axes.set_title("Confusion matrix on the test set")
    return figure


def normalized_confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The confusion matrix with each row divided by its class's images: row i is where class i's images went.
    A class with no images gets a row of zeros."""
    return confusion_matrix(labels, predicted, labels=range(len(CLASS_NAMES)), normalize="true")


def normalized_confusion_matrix_figure(labels: np.ndarray, predicted: np.ndarray) -> Figure:
    """The normalized confusion matrix with its fractions written in and class names on both axes."""
    figure = Figure(figsize=(10, 8.5), layout="constrained")
    axes = figure.subplots()
    display = ConfusionMatrixDisplay(normalized_confusion_matrix(labels, predicted), display_labels=CLASS_NAMES)
    display.plot(ax=axes, values_format=".2f", colorbar=False, xticks_rotation=45)
    axes.set_title("Where each class's test images went (each row sums to 1)")
    return figure


def most_confused_pairs(labels: np.ndarray, predicted: np.ndarray, count: int = 3) -> list[dict]:
    """The `count` most frequent mistakes as ordered pairs, true class -> predicted class, most frequent first.
    Shirt -> T-shirt/top and T-shirt/top -> Shirt are different mistakes; ties go to the lower true class, then
    the lower predicted class. Pairs that never happen are left out, so fewer may come back."""
    mistakes = confusion_matrix(labels, predicted, labels=range(len(CLASS_NAMES)))
    np.fill_diagonal(mistakes, 0)
    # A stable sort keeps row-major order among equal counts: true class first, then predicted class.
    order = np.argsort(-mistakes, axis=None, kind="stable")[:count]
    pairs = []
    for true_class, predicted_class in zip(*np.unravel_index(order, mistakes.shape), strict=True):
        if mistakes[true_class, predicted_class] > 0:
            pairs.append(
                {
                    "true": CLASS_NAMES[true_class],
                    "predicted": CLASS_NAMES[predicted_class],
                    "count": int(mistakes[true_class, predicted_class]),
                }
            )
    return pairs


def most_confused_metrics(pairs: list[dict]) -> dict[str, str]:
    """The pairs as flat metrics keys, `most_confused_1: "Shirt -> T-shirt/top (123)"`."""
    # DVC's metrics show, metrics diff and exp show silently drop list values; strings under flat keys show.
    return {
        f"most_confused_{rank}": f"{pair['true']} -> {pair['predicted']} ({pair['count']})"
        for rank, pair in enumerate(pairs, start=1)
    }


def misclassified_figure(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, rows: int = 5, columns: int = 8
) -> Figure:
    """The first rows x columns misclassified images in the given order, each with its true and predicted class
    and the probability the model gave its (wrong) prediction."""
    predicted = np.argmax(probabilities, axis=1)
    wrong = np.flatnonzero(predicted != labels)
    shown = wrong[: rows * columns]
    figure = Figure(figsize=(2.0 * columns, 2.3 * rows + 0.6), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, index in zip(grid.flat, shown, strict=False):
        axes.imshow(images[index, :, :, 0], cmap="gray", vmin=0, vmax=255)
        axes.set_title(
            f"true: {CLASS_NAMES[labels[index]]}\npredicted: {CLASS_NAMES[predicted[index]]}\n"
            f"with probability {probabilities[index, predicted[index]]:.2f}",
            fontsize=9,
        )
    figure.suptitle(
        f"The first {len(shown)} of {len(wrong)} misclassified test images, in test-set order",
        fontsize=13,
    )
    return figure
