"""Scores of a trained classifier on labelled images."""

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from fashion_mnist.dataset import CLASS_NAMES


def predict_classes(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Return the most probable class of each image."""
    return np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=1)


def test_metrics(
    model: keras.Model, *, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> tuple[dict, np.ndarray]:
    """Score `model` once on the test set: loss, accuracy and per-class scores, and its predictions."""
    loss, accuracy = model.evaluate(images, labels, batch_size=batch_size, verbose=0)
    predicted = predict_classes(model, images, batch_size=batch_size)
    metrics = {
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "per_class": per_class_scores(labels, predicted),
    }
    return metrics, predicted


def per_class_scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class, by class name."""
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(len(CLASS_NAMES)), zero_division=0
    )
    return {
        name: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
        }
        for index, name in enumerate(CLASS_NAMES)
    }


def confusion_rows(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """One `actual,predicted` row per image, by class name, for DVC's confusion-matrix template."""
    names = np.array(CLASS_NAMES)
    return pd.DataFrame({"actual": names[labels], "predicted": names[predicted]})
