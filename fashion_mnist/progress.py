"""Each epoch's metrics through DVCLive, as training runs: `dvc exp show`, `dvc plots` and editors follow them.

DVCLive writes one TSV per metric under `<folder>/plots/metrics/` and the latest values to
`<folder>/metrics.json`. Its step is the epoch, counted from 1 like the best epoch, and no timestamps
are written, so the same run gives the same bytes.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from dvclive import Live

from fashion_mnist.errors import DataError


@contextmanager
def epoch_logger(folder: Path) -> Iterator[Callable[[dict], None]]:
    """A function that logs one history row (`epoch` and its metrics) to DVCLive in `folder`.

    The folder's earlier logs are cleared first: a resumed run logs its finished epochs again, from
    the checkpoint, and so continues the step count exactly where the interrupted run left it.
    """
    # dvcyaml=False: dvc.yaml is written by hand; save_dvc_exp=False: the pipeline, not DVCLive, makes experiments.
    with Live(dir=str(folder), dvcyaml=False, save_dvc_exp=False) as live:

        def log(row: dict) -> None:
            live.step = row["epoch"]
            for name, value in row.items():
                if name != "epoch":
                    live.log_metric(name, value)
            live.make_summary()

        yield log


def read_history(folder: Path, metrics: list[str]) -> pd.DataFrame:
    """The per-epoch `metrics` whose DVCLive TSV files are in `folder`, one row per epoch, with an `epoch` column."""
    history = None
    for name in metrics:
        path = Path(folder) / f"{name}.tsv"
        try:
            column = pd.read_csv(path, sep="\t")
        except FileNotFoundError:
            raise DataError(f"{path}: file not found; run `dvc repro train` first") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a DVCLive metric file ({error})") from None
        if list(column.columns) != ["step", name] or column.empty:
            raise DataError(f"{path}: expected the columns step and {name}, and at least one row")
        column = column.rename(columns={"step": "epoch"})
        history = column if history is None else history.merge(column, on="epoch", how="outer", validate="1:1")
    return history
