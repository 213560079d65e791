"""Figures of training and evaluation, returned as matplotlib Figures for the stages to save."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from fashion_mnist.dataset import CLASS_NAMES


def learning_curves(history: pd.DataFrame, best_epoch: int) -> Figure:
    """Accuracy and loss per epoch, training against validation, with the best validation epoch marked."""
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    for axes, metric in zip(figure.subplots(1, 2), ("accuracy", "loss"), strict=True):
        axes.plot(history["epoch"], history[metric], marker=".", label="training")
        axes.plot(history["epoch"], history[f"val_{metric}"], marker=".", label="validation")
        axes.axvline(best_epoch, color="grey", linestyle="--", label=f"best validation accuracy (epoch {best_epoch})")
        axes.set(title=metric.capitalize(), xlabel="epoch", ylabel=metric)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle("Learning curves")
    return figure


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
