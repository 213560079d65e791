"""final-evaluate's scores and figure of a trained classifier on labelled images."""

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_fscore_support

from fashion_mnist.dataset import CLASS_NAMES


def predict_classes(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Return the most probable class of each image."""
    return np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=1)


def test_metrics(
    model: keras.Model, *, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> tuple[dict, np.ndarray]:
    """Score `model` once on the test set: loss and accuracy, and its predictions."""
    loss, accuracy = model.evaluate(images, labels, batch_size=batch_size, verbose=0)
    predicted = predict_classes(model, images, batch_size=batch_size)
    return {"test_accuracy": float(accuracy), "test_loss": float(loss)}, predicted


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
