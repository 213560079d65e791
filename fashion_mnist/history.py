"""The train stage's summary of its history, which final-evaluate reads back for `final.epochs: auto`."""

import json
from pathlib import Path

import pandas as pd

from fashion_mnist.errors import DataError


def summarize_history(history: pd.DataFrame) -> dict:
    """The epochs run, and the best validation epoch (the earliest on a tie) with its scores: the model train keeps."""
    best = history.loc[history["val_accuracy"].idxmax()]
    return {
        "epochs": int(history["epoch"].iloc[-1]),
        "best_epoch": int(best["epoch"]),
        "val_accuracy": float(best["val_accuracy"]),
        "val_loss": float(best["val_loss"]),
    }


def read_best_epoch(path: Path) -> int:
    """The `best_epoch` that `summarize_history` wrote into the train stage's metrics file."""
    try:
        best = json.loads(Path(path).read_text()).get("best_epoch")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run `dvc repro train` first") from None
    except (ValueError, AttributeError) as error:
        raise DataError(f"{path}: not the train stage's metrics ({error})") from None
    if not isinstance(best, int) or isinstance(best, bool) or best < 1:
        raise DataError(f"{path}: expected best_epoch to be an integer >= 1, got {best!r}")
    return best
