"""Which epoch validation chooses, defined once: the train stage keeps it, final-train retrains for it,
plot marks it, and early stopping counts from it.

`monitor` names the validation score that decides (train.monitor): val_loss, lowest first, as Keras's
EarlyStopping and ModelCheckpoint watch by default, or val_accuracy, highest first. On the blog model's plateau
val_accuracy moves by a few images of 12,000 from epoch to epoch, so its highest value falls on any of twenty
epochs; val_loss has one clear valley before it climbs, and its lowest epoch stays put.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_mnist.errors import DataError

# Whether each monitored score is better high or low.
HIGHER_IS_BETTER = {"val_accuracy": True, "val_loss": False}


def best_epoch_index(history: list[dict], monitor: str) -> int | None:
    """The position in `history` of the first epoch with the best `monitor` score; None without validation."""
    if monitor not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown monitor {monitor!r}; expected one of {', '.join(HIGHER_IS_BETTER)}")
    scores = [row[monitor] for row in history if monitor in row]
    if not scores or len(scores) != len(history):
        return None
    return int(np.argmax(scores) if HIGHER_IS_BETTER[monitor] else np.argmin(scores))


def patience_ran_out(history: list[dict], patience: int | None, monitor: str) -> bool:
    """Whether `patience` epochs have passed since the best `monitor` score: early stopping's rule."""
    best = best_epoch_index(history, monitor)
    return patience is not None and best is not None and len(history) - 1 - best >= patience


def summarize_history(history: pd.DataFrame, monitor: str) -> dict:
    """The best validation epoch's scores by `monitor`, which epoch it was, and the epochs run: the model train keeps.

    Validation accuracy comes first, as it leads the columns of `dvc exp show`.
    """
    best = history.iloc[best_epoch_index(history.to_dict("records"), monitor)]
    return {
        "val_accuracy": float(best["val_accuracy"]),
        "val_loss": float(best["val_loss"]),
        "best_epoch": int(best["epoch"]),
        "epochs": int(history["epoch"].iloc[-1]),
    }


def read_best_epoch(path: Path) -> int:
    """The `best_epoch` that the train stage wrote into `path` (its metrics, or the file of the validated steps)."""
    return _read_counts(path, ("best_epoch",))["best_epoch"]


def read_validated_steps(path: Path) -> dict[str, int]:
    """What final-train repeats of the run that validation chose, from the train stage's `path`: the best epoch,
    the steps of each of its epochs, and the epochs its learning-rate schedule spanned."""
    return _read_counts(path, ("best_epoch", "steps_per_epoch", "schedule_epochs"))


def _read_counts(path: Path, keys: tuple[str, ...]) -> dict[str, int]:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run `dvc repro train` first") from None
    except ValueError as error:
        raise DataError(f"{path}: not the train stage's metrics ({error})") from None
    if not isinstance(document, dict):
        raise DataError(f"{path}: not the train stage's metrics (expected a mapping, got {type(document).__name__})")
    counts = {}
    for key in keys:
        value = document.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DataError(f"{path}: expected {key} to be an integer >= 1, got {value!r}; run `dvc repro train`")
        counts[key] = value
    return counts
