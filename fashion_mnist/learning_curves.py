"""The plot stage's figure: learning curves drawn from the train stage's per-epoch metrics, its best epoch marked."""

import pandas as pd
from matplotlib.figure import Figure

# The per-epoch metrics the figure draws, as the train stage logs them.
METRICS = ["accuracy", "loss", "val_accuracy", "val_loss"]


def learning_curves(history: pd.DataFrame, best_epoch: int, monitor: str) -> Figure:
    """Accuracy and loss per epoch, training against validation, with the epoch kept by `monitor` marked."""
    kept = f"epoch kept: {'lowest' if monitor == 'val_loss' else 'highest'} {monitor} ({best_epoch})"
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    for axes, metric in zip(figure.subplots(1, 2), ("accuracy", "loss"), strict=True):
        axes.plot(history["epoch"], history[metric], marker=".", label="training")
        axes.plot(history["epoch"], history[f"val_{metric}"], marker=".", label="validation")
        axes.axvline(best_epoch, color="grey", linestyle="--", label=kept)
        axes.set(title=metric.capitalize(), xlabel="epoch", ylabel=metric)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle("Learning curves")
    return figure
