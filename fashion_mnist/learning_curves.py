"""The plot stage's figure: learning curves drawn from the train stage's history file, its best epoch marked."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from fashion_mnist.errors import DataError

HISTORY_COLUMNS = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]


def load_history(path: Path) -> pd.DataFrame:
    """Read a training history CSV, checking it has the columns the figures need."""
    try:
        history = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run `dvc repro train` first") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a CSV history ({error})") from None
    missing = [column for column in HISTORY_COLUMNS if column not in history.columns]
    if missing or history.empty:
        raise DataError(
            f"{path}: expected columns {', '.join(HISTORY_COLUMNS)} and at least one row, missing {missing or 'rows'}"
        )
    return history


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
