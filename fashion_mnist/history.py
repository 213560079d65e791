"""Per-epoch training history: its file, its summary, its best epoch."""

from pathlib import Path

import pandas as pd

from fashion_mnist.errors import DataError

HISTORY_COLUMNS = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]


def best_epoch(history: pd.DataFrame) -> int:
    """The (1-based) epoch with the highest validation accuracy; the earliest one on a tie."""
    return int(history.loc[history["val_accuracy"].idxmax(), "epoch"])


def summarize_history(history: pd.DataFrame) -> dict:
    """The last epoch's validation scores, the best epoch and its accuracy."""
    last = history.iloc[-1]
    best = best_epoch(history)
    return {
        "epochs": int(last["epoch"]),
        "val_accuracy": float(last["val_accuracy"]),
        "val_loss": float(last["val_loss"]),
        "best_epoch": best,
        "best_val_accuracy": float(history.loc[history["epoch"] == best, "val_accuracy"].iloc[0]),
    }


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
